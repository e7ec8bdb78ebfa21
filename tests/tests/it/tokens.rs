//! The token store (auth/token/*): parent/child trees and revocation, orphans, use limits, lookups, renewal, TTL
//! caps, policy subsets, and what a dead token gets everywhere. Every expectation here was first checked against
//! `bao server -dev` (`COFFER_E2E_TARGET=openbao`).

use std::time::Duration;

use serde_json::{Value, json};
use testkit::{Api, wait_until, wait_until_true};

use crate::support::{
    assert_bad_token, assert_cli_error, assert_error, create_token, put_policy, server, set,
    set_at, str_at,
};

/// Lets a token create children and read secrets.
const MAKER: &str = r#"
path "auth/token/create" { capabilities = ["update"] }
path "secret/data/*" { capabilities = ["read"] }
"#;
const READER: &str = r#"path "secret/data/*" { capabilities = ["read"] }"#;

/// The keys of a token lookup's `data`.
const LOOKUP_KEYS: [&str; 17] = [
    "accessor",
    "creation_time",
    "creation_ttl",
    "display_name",
    "entity_id",
    "expire_time",
    "explicit_max_ttl",
    "id",
    "issue_time",
    "meta",
    "num_uses",
    "orphan",
    "path",
    "policies",
    "renewable",
    "ttl",
    "type",
];

async fn setup(root: &Api) {
    put_policy(root, "maker", MAKER).await;
    put_policy(root, "reader", READER).await;
    let (status, body) = root
        .post("secret/data/shared", json!({"data": {"v": "1"}}))
        .await;
    assert_eq!(status, 200, "seeding secret/shared: {body}");
}

/// `GET auth/token/lookup-self` status with `token`.
async fn alive(api: &Api, token: &str) -> u16 {
    api.with_token(Some(token))
        .get("auth/token/lookup-self")
        .await
        .0
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_a_parent_revokes_its_children_but_not_orphans() {
    let server = server().await;
    let root = server.api();
    let bao = server.bao();
    setup(&root).await;

    let parent = create_token(&root, json!({"policies": ["maker", "reader"]})).await;
    let p_api = root.with_token(Some(&parent.token));
    let child = create_token(&p_api, json!({"policies": ["maker", "reader"]})).await;
    assert_eq!(child.auth["orphan"], false, "{:?}", child.auth);
    let grandchild = create_token(
        &root.with_token(Some(&child.token)),
        json!({"policies": ["reader"]}),
    )
    .await;
    let orphan = bao
        .json(&[
            "token",
            "create",
            "-orphan",
            "-policy=reader",
            "-format=json",
        ])
        .await;
    assert_eq!(orphan["auth"]["orphan"], true, "{orphan}");
    let orphan = str_at(&orphan, "/auth/client_token");
    // An orphan made through auth/token/create-orphan by a token with that grant.
    put_policy(
        &root,
        "orphaner",
        r#"path "auth/token/create-orphan" { capabilities = ["update"] }"#,
    )
    .await;
    let orphaner = create_token(&root, json!({"policies": ["orphaner", "reader"]})).await;
    let o_api = root.with_token(Some(&orphaner.token));
    let (status, body) = o_api
        .post("auth/token/create-orphan", json!({"policies": ["reader"]}))
        .await;
    assert_eq!(status, 200, "create-orphan: {body}");
    assert_eq!(body["auth"]["orphan"], true, "{body}");
    let orphan2 = str_at(&body, "/auth/client_token");

    for t in [
        &parent.token,
        &child.token,
        &grandchild.token,
        &orphan,
        &orphan2,
    ] {
        let (status, body) = root.with_token(Some(t)).get("secret/data/shared").await;
        assert_eq!(status, 200, "before revocation: {body}");
    }

    bao.run(&["token", "revoke", &parent.token])
        .await
        .expect_code(0, "bao token revoke PARENT");
    for (name, t) in [
        ("parent", &parent.token),
        ("child", &child.token),
        ("grandchild", &grandchild.token),
    ] {
        let api = root.with_token(Some(t));
        let (status, body) = api.get("secret/data/shared").await;
        assert_bad_token(
            &format!("{name} after the parent's revocation"),
            status,
            &body,
        );
        let (status, body) = api.get("auth/token/lookup-self").await;
        assert_bad_token(&format!("{name} lookup-self"), status, &body);
    }
    // The orphans were nobody's children (orphaner is alive; orphan2 is not its child either).
    for t in [&orphan, &orphan2] {
        let (status, body) = root.with_token(Some(t)).get("secret/data/shared").await;
        assert_eq!(status, 200, "an orphan survives: {body}");
    }
    let (status, body) = o_api.post("auth/token/revoke-self", json!({})).await;
    assert_eq!(status, 204, "revoke-self: {body}");
    assert_eq!(alive(&root, &orphaner.token).await, 403);
    assert_eq!(
        alive(&root, &orphan2).await,
        200,
        "create-orphan made a real orphan"
    );

    // revoke -mode=orphan: the children survive as orphans.
    let parent = create_token(&root, json!({"policies": ["maker", "reader"]})).await;
    let child = create_token(
        &root.with_token(Some(&parent.token)),
        json!({"policies": ["reader"]}),
    )
    .await;
    bao.run(&["token", "revoke", "-mode=orphan", &parent.token])
        .await
        .expect_code(0, "bao token revoke -mode=orphan");
    assert_eq!(alive(&root, &parent.token).await, 403);
    let (status, body) = root
        .with_token(Some(&child.token))
        .get("auth/token/lookup-self")
        .await;
    assert_eq!(status, 200, "the child survives revoke-orphan: {body}");
    assert_eq!(body["data"]["orphan"], true, "{body}");

    // Revocation by accessor, and the accessor is gone afterwards.
    let victim = create_token(&root, json!({"policies": ["reader"]})).await;
    bao.run(&["token", "revoke", "-accessor", &victim.accessor])
        .await
        .expect_code(0, "bao token revoke -accessor");
    assert_eq!(alive(&root, &victim.token).await, 403);
    let (status, body) = root
        .post(
            "auth/token/lookup-accessor",
            json!({"accessor": victim.accessor}),
        )
        .await;
    assert_error(
        "lookup of a revoked accessor",
        status,
        400,
        &body,
        "invalid accessor",
    );
    // Revoking what is already gone succeeds.
    let (status, body) = root
        .post("auth/token/revoke", json!({"token": victim.token}))
        .await;
    assert_eq!(status, 204, "second revoke: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn use_limit_is_enforced() {
    let server = server().await;
    let root = server.api();
    let bao = server.bao();
    setup(&root).await;

    let created = bao
        .json(&[
            "token",
            "create",
            "-policy=reader",
            "-use-limit=2",
            "-format=json",
        ])
        .await;
    let token = str_at(&created, "/auth/client_token");
    let (status, body) = root
        .post("auth/token/lookup", json!({"token": token}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["num_uses"], 2,
        "a root lookup costs no use: {body}"
    );
    let user = root.with_token(Some(&token));
    for n in 1..=2 {
        let (status, body) = user.get("secret/data/shared").await;
        assert_eq!(status, 200, "use {n}: {body}");
    }
    for path in ["secret/data/shared", "auth/token/lookup-self"] {
        let (status, body) = user.get(path).await;
        assert_bad_token(&format!("{path} after the uses ran out"), status, &body);
    }
    // OpenBao revokes a used-up token in the background (a lookup may briefly show num_uses -1), so wait for it.
    let body = wait_until(
        Duration::from_secs(30),
        "the used-up token to be revoked",
        || {
            let root = root.clone();
            let token = token.clone();
            async move {
                let (status, body) = root
                    .post("auth/token/lookup", json!({"token": token}))
                    .await;
                (status != 200).then_some((status, body))
            }
        },
    )
    .await;
    assert_error(
        "lookup of a used-up token",
        body.0,
        403,
        &body.1,
        "bad token",
    );

    // lookup-self counts as a use and reports what is left.
    let token = create_token(&root, json!({"policies": ["reader"], "num_uses": 3}))
        .await
        .token;
    let (status, body) = root
        .with_token(Some(&token))
        .get("auth/token/lookup-self")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["num_uses"], 2, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn lookup_shapes() {
    let server = server().await;
    let root = server.api();
    let bao = server.bao();
    setup(&root).await;

    let created = bao
        .json(&[
            "token",
            "create",
            "-policy=reader",
            "-ttl=1h",
            "-explicit-max-ttl=2h",
            "-metadata=team=blue",
            "-display-name=ci-bot",
            "-format=json",
        ])
        .await;
    let auth = &created["auth"];
    assert_eq!(
        set_at(auth, "/policies"),
        set(&["default", "reader"]),
        "{created}"
    );
    assert_eq!(set_at(auth, "/token_policies"), set(&["default", "reader"]));
    assert_eq!(auth["metadata"], json!({"team": "blue"}), "{created}");
    assert_eq!(auth["lease_duration"], 3600, "{created}");
    assert_eq!(auth["renewable"], true, "{created}");
    assert_eq!(auth["orphan"], false, "{created}");
    assert_eq!(created["data"], Value::Null, "{created}");
    let token = str_at(auth, "/client_token");
    let accessor = str_at(auth, "/accessor");
    assert!(
        token.starts_with("s."),
        "service tokens start with s.: {token}"
    );

    let by_token = bao.json(&["token", "lookup", "-format=json", &token]).await;
    let self_lookup = bao
        .clone()
        .token(Some(&token))
        .json(&["token", "lookup", "-format=json"])
        .await;
    let by_accessor = bao
        .json(&["token", "lookup", "-format=json", "-accessor", &accessor])
        .await;
    for (what, v) in [
        ("lookup", &by_token),
        ("lookup-self", &self_lookup),
        ("lookup-accessor", &by_accessor),
    ] {
        let d = &v["data"];
        let keys: std::collections::BTreeSet<String> = d
            .as_object()
            .unwrap_or_else(|| panic!("{what}: no data object: {v}"))
            .keys()
            .cloned()
            .collect();
        for k in LOOKUP_KEYS {
            assert!(keys.contains(k), "{what}: data lacks {k}: {v}");
        }
        assert_eq!(d["accessor"], accessor, "{what}: {v}");
        assert_eq!(
            set_at(d, "/policies"),
            set(&["default", "reader"]),
            "{what}: {v}"
        );
        assert_eq!(d["path"], "auth/token/create", "{what}: {v}");
        assert_eq!(d["display_name"], "token-ci-bot", "{what}: {v}");
        assert_eq!(d["meta"], json!({"team": "blue"}), "{what}: {v}");
        assert_eq!(d["creation_ttl"], 3600, "{what}: {v}");
        assert_eq!(d["explicit_max_ttl"], 7200, "{what}: {v}");
        assert_eq!(d["num_uses"], 0, "{what}: {v}");
        assert_eq!(d["orphan"], false, "{what}: {v}");
        assert_eq!(d["renewable"], true, "{what}: {v}");
        assert_eq!(d["type"], "service", "{what}: {v}");
        assert_eq!(d["entity_id"], "", "{what}: {v}");
        let ttl = d["ttl"].as_i64().unwrap_or(-1);
        assert!((3500..=3600).contains(&ttl), "{what}: ttl {ttl}: {v}");
        assert!(d["expire_time"].is_string(), "{what}: {v}");
        assert!(d["issue_time"].is_string(), "{what}: {v}");
        assert!(d["creation_time"].is_i64(), "{what}: {v}");
    }
    assert_eq!(by_token["data"]["id"], token, "lookup shows the id");
    assert_eq!(self_lookup["data"]["id"], token, "lookup-self shows the id");
    assert_eq!(
        by_accessor["data"]["id"], "",
        "lookup-accessor hides the id"
    );

    // The root token.
    let (status, body) = root.get("auth/token/lookup-self").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["policies"], json!(["root"]), "{body}");
    assert_eq!(body["data"]["ttl"], 0, "{body}");
    assert_eq!(body["data"]["expire_time"], Value::Null, "{body}");
    assert_eq!(body["data"]["id"], "root", "{body}");
    assert_eq!(body["data"]["orphan"], true, "{body}");

    // Lookups of things that do not exist.
    let (status, body) = root
        .post("auth/token/lookup", json!({"token": "s.doesnotexist"}))
        .await;
    assert_error(
        "lookup of an unknown token",
        status,
        403,
        &body,
        "bad token",
    );
    let (status, body) = root
        .post("auth/token/lookup-accessor", json!({"accessor": "nope"}))
        .await;
    assert_error(
        "lookup of an unknown accessor",
        status,
        400,
        &body,
        "invalid accessor",
    );
    let out = bao.run(&["token", "lookup", "s.doesnotexist"]).await;
    assert_cli_error(&out, "bao token lookup of an unknown token", "bad token");
}

#[tokio::test(flavor = "multi_thread")]
async fn renewal_and_ttl_caps() {
    let server = server().await;
    let root = server.api();
    let bao = server.bao();
    setup(&root).await;

    // Creation caps: explicit_max_ttl, then the mount's max (768h on a dev server).
    let capped = bao
        .json(&[
            "token",
            "create",
            "-policy=reader",
            "-ttl=5h",
            "-explicit-max-ttl=2h",
            "-format=json",
        ])
        .await;
    assert_eq!(capped["auth"]["lease_duration"], 7200, "{capped}");
    assert_eq!(
        capped["warnings"],
        json!([
            "TTL of \"5h\" exceeded the effective max_ttl of \"2h\"; TTL value is capped accordingly"
        ]),
        "{capped}"
    );
    let capped = bao
        .json(&[
            "token",
            "create",
            "-policy=reader",
            "-ttl=1000h",
            "-format=json",
        ])
        .await;
    assert_eq!(capped["auth"]["lease_duration"], 2_764_800, "{capped}");
    assert_eq!(
        capped["warnings"],
        json!([
            "TTL of \"1000h\" exceeded the effective max_ttl of \"768h\"; TTL value is capped accordingly"
        ]),
        "{capped}"
    );
    let default_ttl = create_token(&root, json!({"policies": ["reader"]})).await;
    assert_eq!(
        default_ttl.auth["lease_duration"], 2_764_800,
        "{:?}",
        default_ttl.auth
    );
    let periodic = create_token(&root, json!({"policies": ["reader"], "period": "1h"})).await;
    assert_eq!(periodic.auth["lease_duration"], 3600, "{:?}", periodic.auth);

    let t = create_token(
        &root,
        json!({"policies": ["reader"], "ttl": "1h", "explicit_max_ttl": "2h"}),
    )
    .await;
    let renewed = bao
        .json(&["token", "renew", "-increment=30m", "-format=json", &t.token])
        .await;
    assert_eq!(renewed["auth"]["lease_duration"], 1800, "{renewed}");
    assert_eq!(renewed["auth"]["client_token"], t.token, "{renewed}");
    // Renewal beyond explicit_max_ttl is capped, with a warning.
    let renewed = bao
        .json(&["token", "renew", "-increment=5h", "-format=json", &t.token])
        .await;
    let lease = renewed["auth"]["lease_duration"].as_i64().unwrap_or(-1);
    assert!((7000..=7200).contains(&lease), "capped at ~2h: {renewed}");
    let warning = renewed["warnings"][0].as_str().unwrap_or_default();
    // The effective max is what is left of the 2h, so its exact text depends on the elapsed time.
    assert!(
        warning.starts_with("TTL of \"5h\" exceeded the effective max_ttl of \"")
            && warning.ends_with("\"; TTL value is capped accordingly"),
        "{renewed}"
    );
    // renew-self.
    let (status, body) = root
        .with_token(Some(&t.token))
        .post("auth/token/renew-self", json!({"increment": "10m"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["auth"]["lease_duration"], 600, "{body}");
    // By accessor.
    let (status, body) = root
        .post(
            "auth/token/renew-accessor",
            json!({"accessor": t.accessor, "increment": "20m"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["auth"]["lease_duration"], 1200, "{body}");
    assert_eq!(
        body["auth"]["client_token"], "",
        "renew-accessor hides the token: {body}"
    );
    let (status, body) = root
        .post("auth/token/lookup", json!({"token": t.token}))
        .await;
    assert_eq!(status, 200, "{body}");
    let ttl = body["data"]["ttl"].as_i64().unwrap_or(-1);
    assert!(
        (1100..=1200).contains(&ttl),
        "lookup sees the renewal: {body}"
    );

    // A non-renewable token.
    let fixed = create_token(&root, json!({"policies": ["reader"], "renewable": false})).await;
    assert_eq!(fixed.auth["renewable"], false, "{:?}", fixed.auth);
    let out = bao.run(&["token", "renew", &fixed.token]).await;
    assert_cli_error(
        &out,
        "renew of a non-renewable token",
        "lease is not renewable",
    );
    // The root token has no TTL to renew.
    let (status, body) = root.post("auth/token/renew-self", json!({})).await;
    assert_error(
        "renew of the root token",
        status,
        400,
        &body,
        "lease is not renewable",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn children_are_limited_to_their_parents_policies() {
    let server = server().await;
    let root = server.api();
    let bao = server.bao();
    setup(&root).await;
    put_policy(&root, "other", READER).await;
    let parent = create_token(&root, json!({"policies": ["maker", "reader"]})).await;
    let p_cli = bao.clone().token(Some(&parent.token));
    let p_api = root.with_token(Some(&parent.token));

    let out = p_cli.run(&["token", "create", "-policy=other"]).await;
    assert_cli_error(
        &out,
        "child asking for a policy its parent lacks",
        "child policies must be subset of parent",
    );
    let (status, body) = p_api
        .post(
            "auth/token/create",
            json!({"policies": ["reader", "other"]}),
        )
        .await;
    assert_error(
        "child asking for a superset",
        status,
        400,
        &body,
        "child policies must be subset of parent",
    );
    let (status, body) = p_api
        .post("auth/token/create", json!({"policies": ["root"]}))
        .await;
    assert_eq!(status, 400, "a non-root parent cannot mint root: {body}");

    // A subset, or no list at all (inherits the parent's), is fine.
    let child = create_token(&p_api, json!({"policies": ["reader"]})).await;
    assert_eq!(
        set_at(&child.auth, "/policies"),
        set(&["default", "reader"])
    );
    let inherit = create_token(&p_api, json!({})).await;
    assert_eq!(
        set_at(&inherit.auth, "/policies"),
        set(&["default", "maker", "reader"])
    );
    // Orphans need root or sudo on auth/token/create.
    let out = p_cli
        .run(&["token", "create", "-orphan", "-policy=reader"])
        .await;
    assert_cli_error(
        &out,
        "non-root -orphan",
        "root or sudo privileges required to create orphan token",
    );
    // The parent cannot create children when it lacks auth/token/create.
    let reader = create_token(&root, json!({"policies": ["reader"]})).await;
    let (status, body) = root
        .with_token(Some(&reader.token))
        .post("auth/token/create", json!({"policies": ["reader"]}))
        .await;
    crate::support::assert_denied("create without the grant", status, &body);
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_and_expired_tokens_are_denied_everywhere() {
    let server = server().await;
    let root = server.api();
    let bao = server.bao();
    setup(&root).await;

    let revoked = create_token(&root, json!({"policies": ["maker", "reader"]})).await;
    let (status, body) = root
        .post("auth/token/revoke", json!({"token": revoked.token}))
        .await;
    assert_eq!(status, 204, "{body}");
    let expired = create_token(&root, json!({"policies": ["maker", "reader"], "ttl": "2s"})).await;
    assert_eq!(expired.auth["lease_duration"], 2, "{:?}", expired.auth);
    let api = root.with_token(Some(&expired.token));
    let (status, body) = api.get("secret/data/shared").await;
    assert_eq!(status, 200, "alive before expiry: {body}");
    wait_until_true(Duration::from_secs(30), "the 2s token to expire", || {
        let api = api.clone();
        async move { api.get("auth/token/lookup-self").await.0 == 403 }
    })
    .await;

    for (name, token) in [
        ("revoked", &revoked.token),
        ("expired", &expired.token),
        ("unknown", &"s.nosuchtoken000000000000".to_owned()),
    ] {
        let api = root.with_token(Some(token));
        for (method, path, body) in [
            ("GET", "secret/data/shared", None),
            (
                "POST",
                "secret/data/shared",
                Some(json!({"data": {"v": "2"}})),
            ),
            ("LIST", "secret/metadata/", None),
            ("DELETE", "secret/data/shared", None),
            ("GET", "auth/token/lookup-self", None),
            ("POST", "auth/token/renew-self", Some(json!({}))),
            ("POST", "auth/token/revoke-self", Some(json!({}))),
            ("POST", "auth/token/create", Some(json!({}))),
            ("GET", "cubbyhole/x", None),
            ("POST", "cubbyhole/x", Some(json!({"a": "b"}))),
            ("GET", "sys/mounts", None),
            (
                "POST",
                "sys/capabilities-self",
                Some(json!({"paths": ["secret/data/x"]})),
            ),
            ("GET", "sys/policies/acl", None),
            ("GET", "sys/internal/ui/mounts/secret", None),
            ("GET", "nomount/x", None),
        ] {
            let (status, resp) = api.call(method, path, body).await;
            assert_bad_token(&format!("{name} token: {method} {path}"), status, &resp);
        }
        let out = bao
            .clone()
            .token(Some(token))
            .run(&["kv", "get", "secret/shared"])
            .await;
        assert_cli_error(
            &out,
            &format!("bao kv get with a {name} token"),
            "permission denied",
        );
    }
    // No token at all.
    let (status, body) = server.anon().get("secret/data/shared").await;
    assert_bad_token("no token", status, &body);
    // The shared secret is unchanged (nothing above got through).
    let (status, body) = root.get("secret/data/shared").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["data"], json!({"v": "1"}), "{body}");
    assert_eq!(body["data"]["metadata"]["version"], 1, "{body}");
}
