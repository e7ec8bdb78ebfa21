//! The `auth/token/` endpoints, driven like the core drives them.

use engine_sdk::{Auth, Caller, EngineError, LogicalBackend, Operation, Response};
use serde_json::{Value, json};

use crate::testutil::{Harness, err_text};

fn auth(r: &Response) -> &Auth {
    r.auth.as_ref().expect("auth in response")
}

fn data(r: &Response) -> &serde_json::Map<String, Value> {
    r.data.as_ref().expect("data in response")
}

/// A non-root token with `policies`, created by root, and its caller.
async fn user(h: &Harness, root: &Caller, policies: &[&str]) -> (String, Caller) {
    let r = h
        .post("create", json!({ "policies": policies }), root)
        .await
        .unwrap();
    let token = auth(&r).client_token.clone();
    let caller = h.caller_of(&token).await;
    (token, caller)
}

#[test]
fn engine_conformance() {
    let h = Harness::new();
    engine_sdk::testing::exercise_engine(&h.backend);
    let special = h.backend.special_paths();
    assert!(special.root.contains(&"accessors/"));
    assert!(special.root.contains(&"revoke-orphan*"));
}

#[tokio::test]
async fn create_and_lookup() {
    let h = Harness::new();
    let (root_token, root) = h.root().await;
    let r = h
        .post(
            "create",
            json!({"policies": ["web", "stage"], "meta": {"user": "armon"}, "ttl": "1h", "display_name": "my app"}),
            &root,
        )
        .await
        .unwrap();
    let a = auth(&r);
    assert!(a.client_token.starts_with("s.") && a.client_token.len() == 26);
    assert_eq!(a.accessor.len(), 24);
    assert_eq!(a.policies, vec!["default", "stage", "web"]);
    assert_eq!(a.metadata.get("user").map(String::as_str), Some("armon"));
    assert_eq!(a.ttl.as_secs(), 3600);
    assert!(a.renewable && !a.orphan);
    assert_eq!((a.token_type.as_str(), a.num_uses), ("service", 0));

    let token = a.client_token.clone();
    h.clock.advance(100);
    let r = h
        .post("lookup", json!({ "token": token }), &root)
        .await
        .unwrap();
    let d = data(&r);
    assert_eq!(d["id"], json!(token));
    assert_eq!(d["accessor"], json!(a.accessor));
    assert_eq!(d["display_name"], json!("token-my-app"));
    assert_eq!(d["creation_ttl"], json!(3600));
    assert_eq!(d["ttl"], json!(3500));
    assert_eq!(d["path"], json!("auth/token/create"));
    assert_eq!(d["policies"], json!(["default", "stage", "web"]));
    assert_eq!(d["meta"], json!({"user": "armon"}));
    assert_eq!(d["orphan"], json!(false));
    assert_eq!(d["renewable"], json!(true));
    assert_eq!(d["type"], json!("service"));
    assert_eq!(d["num_uses"], json!(0));
    assert_eq!(d["explicit_max_ttl"], json!(0));
    assert_eq!(d["entity_id"], json!(""));
    assert_eq!(d["creation_time"], json!(1_000_000));
    assert_eq!(d["issue_time"], json!("1970-01-12T13:46:40Z"));
    assert_eq!(d["expire_time"], json!("1970-01-12T14:46:40Z"));

    // lookup-self: id only when the caller's own token comes along.
    let me = h.caller_of(&token).await;
    let r = h
        .call(Operation::Read, "lookup-self", json!({}), Some(&me))
        .await
        .unwrap();
    assert_eq!(data(&r)["id"], json!(""));
    assert_eq!(data(&r)["accessor"], json!(a.accessor));
    let r = h
        .call(
            Operation::Read,
            "lookup-self",
            json!({ "token": token }),
            Some(&me),
        )
        .await
        .unwrap();
    assert_eq!(data(&r)["id"], json!(token));
    // Someone else's token in the body is not echoed back as "self".
    let r = h
        .call(
            Operation::Read,
            "lookup-self",
            json!({ "token": root_token }),
            Some(&me),
        )
        .await
        .unwrap();
    assert_eq!(data(&r)["id"], json!(""));
    assert_eq!(data(&r)["accessor"], json!(a.accessor));
    // lookup without a token is lookup-self.
    let r = h.post("lookup", json!({}), &me).await.unwrap();
    assert_eq!(data(&r)["accessor"], json!(a.accessor));

    // Accessor lookup never reveals the token.
    let r = h
        .post("lookup-accessor", json!({ "accessor": a.accessor }), &root)
        .await
        .unwrap();
    assert_eq!(data(&r)["id"], json!(""));
    assert_eq!(data(&r)["display_name"], json!("token-my-app"));
    assert_eq!(
        err_text(h.post("lookup-accessor", json!({}), &root).await),
        "missing accessor"
    );
    assert_eq!(
        err_text(
            h.post("lookup-accessor", json!({"accessor": "nope"}), &root)
                .await
        ),
        "invalid accessor"
    );
    assert!(matches!(
        h.post("lookup", json!({ "token": "s.unknown" }), &root)
            .await,
        Err(EngineError::Forbidden(m)) if m == "bad token"
    ));
    // Root tokens: no expiry.
    let r = h
        .call(Operation::Read, "lookup-self", json!({}), Some(&root))
        .await
        .unwrap();
    let d = data(&r);
    assert_eq!(
        (d["expire_time"].clone(), d["ttl"].clone()),
        (Value::Null, json!(0))
    );
    assert_eq!(
        (d["renewable"].clone(), d["policies"].clone()),
        (json!(false), json!(["root"]))
    );
    assert_eq!(d["path"], json!("auth/token/root"));
}

#[tokio::test]
async fn policy_subset_rule_and_sudo_only_options() {
    let h = Harness::new();
    let (_, root) = h.root().await;
    let (_, web) = user(&h, &root, &["web", "db"]).await;
    assert_eq!(
        err_text(h.post("create", json!({"policies": ["admin"]}), &web).await),
        "child policies must be subset of parent"
    );
    let r = h
        .post("create", json!({"policies": ["web"]}), &web)
        .await
        .unwrap();
    assert_eq!(auth(&r).policies, vec!["default", "web"]);
    let r = h
        .post(
            "create",
            json!({"policies": "web", "no_default_policy": true}),
            &web,
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).policies, vec!["web"]);
    // No policies: the parent's.
    let r = h.post("create", json!({}), &web).await.unwrap();
    assert_eq!(auth(&r).policies, vec!["db", "default", "web"]);
    assert!(!auth(&r).orphan);

    for (body, msg) in [
        (
            json!({"id": "mine"}),
            "root or sudo privileges required to specify token id",
        ),
        (
            json!({"no_parent": true}),
            "root or sudo privileges required to create orphan token",
        ),
        (
            json!({"period": "1h"}),
            "root or sudo privileges required to create periodic token",
        ),
        (json!({"num_uses": -1}), "number of uses cannot be negative"),
        (json!({"type": "weird"}), "invalid 'token_type' value"),
        (
            json!({"type": "batch", "num_uses": 2}),
            "batch tokens cannot have \"num_uses\" set",
        ),
        (
            json!({"type": "batch", "period": "1h"}),
            "batch tokens cannot have \"period\" set",
        ),
        (
            json!({"type": "batch", "explicit_max_ttl": 60}),
            "batch tokens cannot have \"explicit_max_ttl\" set",
        ),
        (
            json!({"entity_alias": "x"}),
            "'entity_alias' is only allowed in combination with token role",
        ),
    ] {
        assert_eq!(
            err_text(h.post("create", body.clone(), &web).await),
            msg,
            "{body}"
        );
    }
    // create-orphan needs no sudo.
    let r = h.post("create-orphan", json!({}), &web).await.unwrap();
    assert!(auth(&r).orphan);
    // Root may do all of it.
    let r = h
        .post(
            "create",
            json!({"id": "chosen", "no_parent": true, "period": "30m", "policies": ["anything"]}),
            &root,
        )
        .await
        .unwrap();
    let a = auth(&r);
    assert_eq!(a.client_token, "chosen");
    assert!(a.orphan);
    assert_eq!((a.period.as_secs(), a.ttl.as_secs()), (1800, 1800));
    assert_eq!(a.policies, vec!["anything", "default"]);
    assert_eq!(
        err_text(h.post("create", json!({"id": "s.x"}), &root).await),
        "custom token ID cannot have the 's.' prefix"
    );
}

#[tokio::test]
async fn ttl_cap_warning_and_renewals() {
    let h = Harness::new();
    let (_, root) = h.root().await;
    let r = h
        .post("create", json!({"ttl": "12h"}), &root)
        .await
        .unwrap();
    assert_eq!(auth(&r).ttl.as_secs(), 4 * 3600);
    assert_eq!(
        r.warnings,
        vec![
            "TTL of \"12h\" exceeded the effective max_ttl of \"4h\"; TTL value is capped accordingly"
        ]
    );
    let r = h.post("create", json!({"ttl": 600}), &root).await.unwrap();
    let token = auth(&r).client_token.clone();
    let accessor = auth(&r).accessor.clone();
    h.clock.advance(300);
    let r = h
        .post("renew", json!({"token": token, "increment": "20m"}), &root)
        .await
        .unwrap();
    assert_eq!(
        (auth(&r).ttl.as_secs(), auth(&r).client_token.as_str()),
        (1200, token.as_str())
    );
    let r = h
        .post(
            "renew-accessor",
            json!({"accessor": accessor, "increment": 60}),
            &root,
        )
        .await
        .unwrap();
    assert_eq!(
        (auth(&r).ttl.as_secs(), auth(&r).client_token.as_str()),
        (60, "")
    );
    let me = h.caller_of(&token).await;
    let r = h
        .post("renew-self", json!({"increment": "8h"}), &me)
        .await
        .unwrap();
    assert_eq!(auth(&r).ttl.as_secs(), 4 * 3600 - 300);
    assert_eq!(r.warnings.len(), 1);
    let r = h
        .post("lookup", json!({"token": token}), &root)
        .await
        .unwrap();
    assert_eq!(data(&r)["last_renewal_time"], json!(1_000_300));
    assert_eq!(data(&r)["creation_ttl"], json!(600));

    assert_eq!(
        err_text(h.post("renew", json!({}), &root).await),
        "missing token ID"
    );
    assert_eq!(
        err_text(h.post("renew", json!({"token": "s.nope"}), &root).await),
        "token not found"
    );
    assert_eq!(
        err_text(h.post("renew-self", json!({}), &root).await),
        "lease is not renewable"
    );
    let r = h
        .post("create", json!({"renewable": false}), &root)
        .await
        .unwrap();
    let fixed = auth(&r).client_token.clone();
    assert_eq!(
        err_text(h.post("renew", json!({"token": fixed}), &root).await),
        "lease is not renewable"
    );
    h.clock.advance(5 * 3600);
    assert_eq!(
        err_text(h.post("renew", json!({"token": token}), &root).await),
        "lease expired"
    );
}

#[tokio::test]
async fn revocation_endpoints() {
    let h = Harness::new();
    let (_, root) = h.root().await;
    let (parent, parent_caller) = user(&h, &root, &["web"]).await;
    let r = h.post("create", json!({}), &parent_caller).await.unwrap();
    let child = auth(&r).client_token.clone();
    let child_accessor = auth(&r).accessor.clone();
    let (_, web2) = user(&h, &root, &["web"]).await;

    // revoke-orphan is root-only; the child survives it.
    assert_eq!(
        err_text(
            h.post("revoke-orphan", json!({"token": parent}), &web2)
                .await
        ),
        "root or sudo privileges required to revoke and orphan"
    );
    assert_eq!(
        err_text(
            h.post("revoke-orphan", json!({"token": "s.nope"}), &root)
                .await
        ),
        "token to revoke not found"
    );
    assert!(
        h.post("revoke-orphan", json!({"token": parent}), &root)
            .await
            .unwrap()
            .is_empty()
    );
    let r = h
        .post("lookup", json!({"token": child}), &root)
        .await
        .unwrap();
    assert_eq!(data(&r)["orphan"], json!(true));
    assert!(
        h.store
            .lookup_tainted(&parent, h.now())
            .await
            .unwrap()
            .is_none()
    );

    // revoke-accessor, including an unknown one (a warning, as OpenBao).
    let r = h
        .post(
            "revoke-accessor",
            json!({"accessor": child_accessor}),
            &root,
        )
        .await
        .unwrap();
    assert!(r.is_empty());
    let r = h
        .post(
            "revoke-accessor",
            json!({"accessor": child_accessor}),
            &root,
        )
        .await
        .unwrap();
    assert_eq!(r.warnings, vec!["No token found with this accessor"]);
    assert_eq!(
        err_text(h.post("revoke-accessor", json!({}), &root).await),
        "missing accessor"
    );

    // revoke takes the children along.
    let (p2, p2_caller) = user(&h, &root, &["web"]).await;
    let r = h.post("create", json!({}), &p2_caller).await.unwrap();
    let c2 = auth(&r).client_token.clone();
    assert!(
        h.post("revoke", json!({"token": p2}), &root)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        h.store
            .lookup_tainted(&c2, h.now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        h.post("revoke", json!({"token": "s.unknown"}), &root)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        err_text(h.post("revoke", json!({}), &root).await),
        "missing token ID"
    );

    // revoke-self.
    assert!(
        h.post("revoke-self", json!({}), &web2)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        h.store
            .lookup_by_key(&web2.token_key)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn num_uses_and_restricted_children() {
    let h = Harness::new();
    let (_, root) = h.root().await;
    let r = h
        .post("create", json!({"num_uses": 2}), &root)
        .await
        .unwrap();
    assert_eq!(auth(&r).num_uses, 2);
    let token = auth(&r).client_token.clone();
    let me = h.caller_of(&token).await;
    assert_eq!(
        err_text(h.post("create", json!({}), &me).await),
        "restricted use token cannot generate child tokens"
    );
    // The core spends uses through check(); the last one shows as -1 until revoked.
    h.store.check(&token, h.now(), None).await.unwrap().unwrap();
    h.store.check(&token, h.now(), None).await.unwrap().unwrap();
    let r = h
        .post("lookup", json!({"token": token}), &root)
        .await
        .unwrap();
    assert_eq!(data(&r)["num_uses"], json!(-1));
    assert!(
        h.store
            .check(&token, h.now(), None)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn batch_tokens_through_the_api() {
    let h = Harness::new();
    let (_, root) = h.root().await;
    let r = h
        .post(
            "create",
            json!({"type": "batch", "policies": ["web"], "ttl": "10m"}),
            &root,
        )
        .await
        .unwrap();
    let a = auth(&r);
    assert!(a.client_token.starts_with("b."));
    assert!(a.accessor.is_empty() && !a.renewable);
    assert_eq!((a.token_type.as_str(), a.ttl.as_secs()), ("batch", 600));
    let token = a.client_token.clone();
    let r = h
        .post("lookup", json!({"token": token}), &root)
        .await
        .unwrap();
    let d = data(&r);
    assert_eq!(
        (d["type"].clone(), d["accessor"].clone()),
        (json!("batch"), json!(""))
    );
    assert_eq!(
        (d["renewable"].clone(), d["ttl"].clone()),
        (json!(false), json!(600))
    );
    assert_eq!(d["id"], json!(token));

    assert_eq!(
        err_text(h.post("renew", json!({"token": token}), &root).await),
        "batch tokens cannot be renewed"
    );
    assert_eq!(
        err_text(h.post("revoke", json!({"token": token}), &root).await),
        "batch tokens cannot be revoked"
    );
    assert_eq!(
        err_text(
            h.post("revoke-orphan", json!({"token": token}), &root)
                .await
        ),
        "batch tokens cannot be revoked"
    );
    // As the caller: no children, no renew/revoke; lookup-self works when the token comes along.
    let batch_caller = Caller {
        accessor: String::new(),
        policies: vec!["default".into(), "web".into()],
        token_key: h.store.key_of(&token).await.unwrap(),
        ..Caller::default()
    };
    assert_eq!(
        err_text(h.post("create", json!({}), &batch_caller).await),
        "batch tokens cannot create more tokens"
    );
    assert_eq!(
        err_text(h.post("renew-self", json!({}), &batch_caller).await),
        "batch tokens cannot be renewed"
    );
    assert_eq!(
        err_text(h.post("revoke-self", json!({}), &batch_caller).await),
        "batch tokens cannot be revoked"
    );
    assert_eq!(
        err_text(
            h.post("renew-self", json!({"token": token}), &batch_caller)
                .await
        ),
        "batch tokens cannot be renewed"
    );
    let r = h
        .call(
            Operation::Read,
            "lookup-self",
            json!({"token": token}),
            Some(&batch_caller),
        )
        .await
        .unwrap();
    assert_eq!(data(&r)["id"], json!(token));
    assert_eq!(data(&r)["policies"], json!(["default", "web"]));
}

#[tokio::test]
async fn accessors_list_and_tidy() {
    let h = Harness::new();
    let (_, root) = h.root().await;
    let (_, web) = user(&h, &root, &["web"]).await;
    let r = h
        .call(Operation::List, "accessors/", json!({}), Some(&root))
        .await
        .unwrap();
    let keys = data(&r)["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.contains(&json!(web.accessor)));
    let r = h.post("tidy", json!({}), &root).await.unwrap();
    assert_eq!(r.status, Some(202));
    assert!(r.warnings[0].starts_with("Tidy operation successfully started"));
}

#[tokio::test]
async fn roles() {
    let h = Harness::new();
    let (_, root) = h.root().await;
    assert!(matches!(
        h.call(Operation::List, "roles/", json!({}), Some(&root))
            .await,
        Err(EngineError::NotFound)
    ));
    assert!(matches!(
        h.call(Operation::Read, "roles/ops", json!({}), Some(&root))
            .await,
        Err(EngineError::NotFound)
    ));
    let r = h
        .post(
            "roles/ops",
            json!({"allowed_policies": "ops,Deploy", "orphan": true, "token_period": "1h", "path_suffix": "v1-0", "token_num_uses": 0}),
            &root,
        )
        .await
        .unwrap();
    assert!(r.is_empty());
    let r = h
        .call(Operation::Read, "roles/ops", json!({}), Some(&root))
        .await
        .unwrap();
    let d = data(&r);
    assert_eq!(d["allowed_policies"], json!(["deploy", "ops"]));
    assert_eq!(
        (d["orphan"].clone(), d["renewable"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(
        (d["token_period"].clone(), d["period"].clone()),
        (json!(3600), json!(0))
    );
    assert_eq!(d["token_type"], json!("default-service"));
    assert_eq!(d["path_suffix"], json!("v1-0"));
    assert_eq!(d["name"], json!("ops"));
    // Update keeps what is not given.
    h.post("roles/ops", json!({"renewable": false}), &root)
        .await
        .unwrap();
    let r = h
        .call(Operation::Read, "roles/ops", json!({}), Some(&root))
        .await
        .unwrap();
    assert_eq!(
        (data(&r)["renewable"].clone(), data(&r)["orphan"].clone()),
        (json!(false), json!(true))
    );
    h.post("roles/ops", json!({"renewable": true}), &root)
        .await
        .unwrap();

    // A non-root caller gets the role's policies, a period and an orphan token through the role.
    let (_, web) = user(&h, &root, &["web"]).await;
    let r = h.post("create/ops", json!({}), &web).await.unwrap();
    let a = auth(&r);
    assert_eq!(a.policies, vec!["default", "deploy", "ops"]);
    assert!(a.orphan);
    assert_eq!((a.period.as_secs(), a.ttl.as_secs()), (3600, 3600));
    let token = a.client_token.clone();
    let r = h
        .post("lookup", json!({"token": token}), &root)
        .await
        .unwrap();
    assert_eq!(data(&r)["path"], json!("auth/token/create/ops/v1-0"));
    assert_eq!(data(&r)["role"], json!("ops"));
    // Role tokens renew with the role's current period.
    h.clock.advance(1000);
    let r = h
        .post("renew", json!({"token": token}), &root)
        .await
        .unwrap();
    assert_eq!(auth(&r).ttl.as_secs(), 3600);
    assert_eq!(
        err_text(
            h.post("create/ops", json!({"policies": ["web"]}), &web)
                .await
        ),
        "token policies ([\"default\" \"web\"]) must be subset of the role's allowed policies ([\"default\" \"deploy\" \"ops\"]) or glob policies ([])"
    );
    let r = h
        .post("create/ops", json!({"policies": ["ops"]}), &web)
        .await
        .unwrap();
    assert_eq!(auth(&r).policies, vec!["default", "ops"]);

    // Disallowed policies.
    h.post("roles/nodb", json!({"disallowed_policies": ["db"]}), &root)
        .await
        .unwrap();
    assert_eq!(
        err_text(
            h.post("create/nodb", json!({"policies": ["db"]}), &root)
                .await
        ),
        "token policy \"db\" is disallowed by this role"
    );
    assert_eq!(
        err_text(h.post("create/none", json!({}), &root).await),
        "unknown role none"
    );

    // Batch roles must be orphan, non-renewable, non-periodic.
    assert_eq!(
        err_text(
            h.post("roles/b", json!({"token_type": "batch"}), &root)
                .await
        ),
        "'token_type' cannot be 'batch' when role is set to generate non-orphan tokens"
    );
    assert_eq!(
        err_text(
            h.post(
                "roles/b",
                json!({"token_type": "batch", "orphan": true}),
                &root
            )
            .await
        ),
        "'token_type' cannot be 'batch' when role is set to generate renewable tokens"
    );
    h.post(
        "roles/b",
        json!({"token_type": "batch", "orphan": true, "renewable": false}),
        &root,
    )
    .await
    .unwrap();
    // A root caller would hand its root policy down, and batch tokens cannot be root.
    assert_eq!(
        err_text(h.post("create/b", json!({}), &root).await),
        "batch tokens cannot be root tokens"
    );
    let r = h
        .post("create/b", json!({"type": "service"}), &web)
        .await
        .unwrap();
    assert!(auth(&r).client_token.starts_with("b."));
    assert!(auth(&r).orphan);
    assert_eq!(
        err_text(h.post("roles/b", json!({"token_type": "odd"}), &root).await),
        "invalid 'token_type' value \"odd\""
    );

    let r = h
        .call(Operation::List, "roles/", json!({}), Some(&root))
        .await
        .unwrap();
    assert_eq!(data(&r)["keys"], json!(["b", "nodb", "ops"]));
    assert!(
        h.call(Operation::Delete, "roles/ops", json!({}), Some(&root))
            .await
            .unwrap()
            .is_empty()
    );
    // Without the role, its tokens cannot be renewed.
    assert_eq!(
        err_text(h.post("renew", json!({"token": token}), &root).await),
        "original token role \"ops\" could not be found, not renewing"
    );
    assert_eq!(
        err_text(h.post("roles/-bad", json!({}), &root).await),
        "role name cannot be empty"
    );
    assert!(
        h.store
            .lookup_tainted(&token, h.now())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn requests_without_a_caller_are_denied() {
    let h = Harness::new();
    for path in ["create", "lookup-self", "renew-self", "revoke-self"] {
        assert!(matches!(
            h.call(Operation::Update, path, json!({}), None).await,
            Err(EngineError::PermissionDenied)
        ));
    }
}
