//! ACL policies: glob `*`, `+` segments and `deny` decide 200 vs 403 exactly where OpenBao does; capabilities
//! endpoints; policy validation; names; the built-in `root` and `default` policies. Every expectation here was
//! first checked against `bao server -dev` (`COFFER_E2E_TARGET=openbao`).

use serde_json::json;
use testkit::Api;

use crate::support::{
    assert_cli_error, assert_denied, assert_empty_404, assert_error, create_token, put_policy,
    server, set, set_at, str_at,
};

const APP_POLICY: &str = r#"
path "secret/data/app/*" {
  capabilities = ["create", "read", "update", "list"]
}
path "secret/metadata/app/*" {
  capabilities = ["list", "read"]
}
path "secret/data/app/private" {
  capabilities = ["deny"]
}
path "secret/data/team/+/config" {
  capabilities = ["read"]
}
path "kv1/shared/*" {
  capabilities = ["read", "list", "create", "update", "delete"]
}
"#;

/// Seeds the secrets the ACL checks read (as root).
async fn seed(root: &Api) {
    for path in [
        "secret/data/app/one",
        "secret/data/app/private",
        "secret/data/team/red/config",
        "secret/data/team/red/other",
        "secret/data/team/red/x/config",
        "secret/data/other",
    ] {
        let (status, body) = root.post(path, json!({"data": {"v": "1"}})).await;
        assert_eq!(status, 200, "seeding {path}: {body}");
    }
    let (status, body) = root.post("sys/mounts/kv1", json!({"type": "kv"})).await;
    assert_eq!(status, 204, "mounting kv1: {body}");
    for path in ["kv1/shared/a", "kv1/private/a"] {
        let (status, body) = root.post(path, json!({"v": "1"})).await;
        assert_eq!(status, 204, "seeding {path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn glob_plus_and_deny_decide_access() {
    let server = server().await;
    let bao = server.bao();
    let root = server.api();
    seed(&root).await;

    let out = bao
        .run_with_stdin(&["policy", "write", "app", "-"], Some(APP_POLICY))
        .await;
    out.expect_code(0, "bao policy write app -");
    assert!(
        out.stdout.contains("Uploaded policy: app"),
        "{}",
        out.stdout
    );
    let created = bao
        .json(&["token", "create", "-policy=app", "-format=json"])
        .await;
    assert_eq!(
        set_at(&created, "/auth/policies"),
        set(&["app", "default"]),
        "{created}"
    );
    let token = str_at(&created, "/auth/client_token");
    let user = root.with_token(Some(&token));

    // Reads: `*` matches any suffix, `+` exactly one segment, `deny` wins over a broader grant, and a path
    // that only a glob's prefix equals is not covered.
    for (path, expected) in [
        ("secret/data/app/one", 200),
        ("secret/data/app/private", 403),
        ("secret/data/team/red/config", 200),
        ("secret/data/team/red/other", 403),
        ("secret/data/team/red/x/config", 403),
        ("secret/data/other", 403),
        ("secret/data/app", 403),
        ("kv1/shared/a", 200),
        ("kv1/private/a", 403),
        ("sys/mounts", 403),
        ("sys/policies/acl/app", 403),
    ] {
        let (status, body) = user.get(path).await;
        if expected == 403 {
            assert_denied(&format!("GET {path}"), status, &body);
        } else {
            assert_eq!(status, expected, "GET {path}: {body}");
        }
    }
    let (status, body) = user.get("secret/data/app/one").await;
    assert_eq!(body["data"]["data"], json!({"v": "1"}), "{status} {body}");
    let (status, body) = user.get("secret/data/app/missing").await;
    assert_empty_404("GET of an allowed but missing path", status, &body);

    for (path, expected) in [
        ("secret/metadata/app/", 200),
        ("secret/metadata/", 403),
        ("secret/metadata/team/", 403),
        ("kv1/shared/", 200),
        ("kv1/", 403),
    ] {
        let (status, body) = user.list(path).await;
        if expected == 403 {
            assert_denied(&format!("LIST {path}"), status, &body);
        } else {
            assert_eq!(status, expected, "LIST {path}: {body}");
        }
    }

    for (path, expected) in [
        ("secret/data/app/new", 200),
        ("secret/data/app/private", 403),
        ("secret/data/other", 403),
        ("secret/data/team/red/config", 403),
    ] {
        let (status, body) = user.post(path, json!({"data": {"a": "b"}})).await;
        if expected == 403 {
            assert_denied(&format!("POST {path}"), status, &body);
        } else {
            assert_eq!(status, expected, "POST {path}: {body}");
        }
    }
    let (status, body) = user.post("kv1/shared/b", json!({"v": "2"})).await;
    assert_eq!(status, 204, "POST kv1/shared/b: {body}");
    let (status, body) = user.post("kv1/private/b", json!({"v": "2"})).await;
    assert_denied("POST kv1/private/b", status, &body);

    // The app policy has no delete on secret/data/app/*; kv1/shared/* has it.
    for path in ["secret/data/app/one", "secret/metadata/app/one"] {
        let (status, body) = user.delete(path).await;
        assert_denied(&format!("DELETE {path}"), status, &body);
    }
    let (status, body) = user.delete("kv1/shared/a").await;
    assert_eq!(status, 204, "DELETE kv1/shared/a: {body}");
    let (status, body) = user.delete("kv1/private/a").await;
    assert_denied("DELETE kv1/private/a", status, &body);

    // The CLI shows the same denial.
    let cli = bao.clone().token(Some(&token));
    let denied = cli.run(&["kv", "get", "secret/other"]).await;
    assert_cli_error(&denied, "bao kv get secret/other", "permission denied");
    let allowed = cli
        .json(&["kv", "get", "-format=json", "secret/app/one"])
        .await;
    assert_eq!(allowed["data"]["data"], json!({"v": "1"}), "{allowed}");

    // Updating the policy takes effect for the existing token at once.
    put_policy(
        &root,
        "app",
        r#"path "secret/data/other" { capabilities = ["read"] }"#,
    )
    .await;
    let (status, body) = user.get("secret/data/other").await;
    assert_eq!(status, 200, "after the policy update: {body}");
    let (status, body) = user.get("secret/data/app/one").await;
    assert_denied(
        "GET secret/data/app/one after the policy update",
        status,
        &body,
    );
    // Deleting the policy takes its grants away.
    let (status, body) = root.delete("sys/policies/acl/app").await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = user.get("secret/data/other").await;
    assert_denied("GET after the policy was deleted", status, &body);
}

#[tokio::test(flavor = "multi_thread")]
async fn capabilities_endpoints() {
    let server = server().await;
    let bao = server.bao();
    let root = server.api();
    put_policy(&root, "app", APP_POLICY).await;
    let token = create_token(&root, json!({"policies": ["app"]}))
        .await
        .token;

    for (path, expected) in [
        ("secret/data/app/one", "create, list, read, update"),
        ("secret/data/app/private", "deny"),
        ("secret/data/team/blue/config", "read"),
        ("secret/data/nope", "deny"),
        ("kv1/shared/x", "create, delete, list, read, update"),
    ] {
        let out = bao.run(&["token", "capabilities", &token, path]).await;
        out.expect_code(0, &format!("bao token capabilities TOKEN {path}"));
        assert_eq!(out.stdout.trim(), expected, "capabilities of {path}");
    }
    let json_caps = bao
        .json(&[
            "token",
            "capabilities",
            "-format=json",
            &token,
            "secret/data/app/one",
        ])
        .await;
    assert_eq!(json_caps, json!(["create", "list", "read", "update"]));
    // Without a token argument: the caller's own capabilities.
    let own = bao
        .clone()
        .token(Some(&token))
        .run(&["token", "capabilities", "secret/data/app/one"])
        .await;
    own.expect_code(0, "token capabilities (self)");
    assert_eq!(own.stdout.trim(), "create, list, read, update");
    let root_caps = bao
        .run(&["token", "capabilities", "secret/data/app/one"])
        .await;
    root_caps.expect_code(0, "root capabilities");
    assert_eq!(root_caps.stdout.trim(), "root");
    // The default policy's grants show too.
    let out = bao
        .run(&["token", "capabilities", &token, "auth/token/lookup-self"])
        .await;
    out.expect_code(0, "capabilities of lookup-self");
    assert_eq!(out.stdout.trim(), "read");

    // sys/capabilities: one key per path, in `data` and (legacy) at the top level.
    let (status, body) = root
        .post(
            "sys/capabilities",
            json!({"token": token, "paths": ["secret/data/app/one", "secret/data/nope"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let expected = json!({
        "secret/data/app/one": ["create", "list", "read", "update"],
        "secret/data/nope": ["deny"],
    });
    assert_eq!(body["data"], expected, "{body}");
    assert_eq!(
        body["secret/data/app/one"], expected["secret/data/app/one"],
        "{body}"
    );
    let user = root.with_token(Some(&token));
    let (status, body) = user
        .post(
            "sys/capabilities-self",
            json!({"paths": ["secret/data/app/one", "secret/data/nope"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], expected, "{body}");
    // A single `path` also gets a `capabilities` key.
    let (status, body) = user
        .post(
            "sys/capabilities-self",
            json!({"path": "secret/data/team/x/config"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"capabilities": ["read"], "secret/data/team/x/config": ["read"]}),
        "{body}"
    );
    // sys/capabilities needs a grant the app policy does not have (the default policy grants
    // capabilities-self only).
    let (status, body) = user
        .post(
            "sys/capabilities",
            json!({"token": "root", "paths": ["secret/data/x"]}),
        )
        .await;
    assert_denied("sys/capabilities as a non-root token", status, &body);
    let (status, body) = root
        .post(
            "sys/capabilities-accessor",
            json!({
                "accessor": create_token(&root, json!({"policies": ["app"]})).await.accessor,
                "paths": ["secret/data/app/one"],
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["secret/data/app/one"],
        json!(["create", "list", "read", "update"]),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_policies_are_rejected() {
    let server = server().await;
    let bao = server.bao();
    let root = server.api();

    // A syntax error: 400 naming line 6 (the missing comma).
    let bad = "path \"secret/*\" {\n  capabilities = [\"read\"]\n}\n\npath \"x\" {\n  capabilities = [\"read\" \"list\"]\n}\n";
    let (status, body) = root
        .put("sys/policies/acl/bad", json!({ "policy": bad }))
        .await;
    assert_error("syntax error", status, 400, &body, "failed to parse policy");
    // The error names the line. OpenBao's HCL parser says `At 6:26: ...`; the position format itself is not a
    // contract, the line number is.
    let msg = crate::support::first_error(&body);
    assert!(
        msg.contains("At 6:") || msg.contains("line 6"),
        "the error names line 6: {body}"
    );
    let out = bao
        .run_with_stdin(&["policy", "write", "bad", "-"], Some(bad))
        .await;
    assert_cli_error(
        &out,
        "bao policy write (syntax error)",
        "failed to parse policy",
    );

    // An unknown key names its line too.
    let bad_key = "path \"secret/*\" {\n  capabilities = [\"read\"]\n  bogus_key = 1\n}\n";
    let (status, body) = root
        .put("sys/policies/acl/bad", json!({ "policy": bad_key }))
        .await;
    assert_error(
        "unknown key",
        status,
        400,
        &body,
        "invalid key \"bogus_key\" on line 3",
    );

    // An unknown capability.
    let (status, body) = root
        .put(
            "sys/policies/acl/bad",
            json!({"policy": "path \"secret/*\" {\n  capabilities = [\"read\", \"fly\"]\n}\n"}),
        )
        .await;
    assert_error(
        "unknown capability",
        status,
        400,
        &body,
        "invalid capability \"fly\"",
    );

    // Nothing was stored.
    let (status, body) = root.get("sys/policies/acl/bad").await;
    assert_empty_404("GET of a rejected policy", status, &body);
    // A missing policy body.
    let (status, body) = root.put("sys/policies/acl/empty", json!({})).await;
    assert_eq!(status, 400, "no policy text: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_names_and_builtin_policies() {
    let server = server().await;
    let bao = server.bao();
    let root = server.api();
    let rule = "path \"a\" {\n  capabilities = [\"read\"]\n}";

    // A name with `/`: OpenBao accepts it; Coffer refuses it with a 400, as its issue asks (a `/` would nest the
    // policy's storage key and make names ambiguous in listings).
    let slash_ok = server.target() == testkit::Target::OpenBao;
    let (status, body) = root
        .put("sys/policies/acl/team/ops", json!({ "policy": rule }))
        .await;
    if slash_ok {
        assert_eq!(status, 204, "policy name with a slash: {body}");
        let (status, body) = root.get("sys/policies/acl/team/ops").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["name"], "team/ops", "{body}");
        assert_eq!(body["data"]["policy"], rule, "{body}");
    } else {
        assert_eq!(status, 400, "policy name with a slash: {body}");
        assert!(
            body["errors"][0].as_str().is_some_and(|m| m.contains('/')),
            "{body}"
        );
    }
    let with_slash = |names: &[&'static str]| -> Vec<&'static str> {
        names
            .iter()
            .copied()
            .filter(|n| slash_ok || *n != "team/ops")
            .collect()
    };
    // Names are lower-cased.
    let (status, body) = root
        .put("sys/policies/acl/Upper", json!({ "policy": rule }))
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = root.get("sys/policies/acl/upper").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["name"], "upper", "{body}");
    // The legacy endpoint takes `policy`, and `rules` with a deprecation warning (so 200, not 204).
    let (status, body) = root
        .put("sys/policy/legacy", json!({ "policy": rule }))
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = root
        .put("sys/policy/legacy", json!({ "rules": rule }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["warnings"],
        json!(["'rules' is deprecated, please use 'policy' instead"]),
        "{body}"
    );
    let (status, body) = root.get("sys/policy/legacy").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["rules"], rule, "{body}");
    assert_eq!(body["data"]["name"], "legacy", "{body}");

    let (status, body) = root.list("sys/policies/acl").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        set_at(&body, "/data/keys"),
        set(&with_slash(&[
            "default", "legacy", "root", "team/ops", "upper"
        ])),
        "{body}"
    );
    let (status, body) = root.get("sys/policy").await;
    assert_eq!(status, 200, "{body}");
    let expected = set(&with_slash(&[
        "default", "legacy", "root", "team/ops", "upper",
    ]));
    assert_eq!(set_at(&body, "/data/keys"), expected, "{body}");
    assert_eq!(set_at(&body, "/data/policies"), expected, "{body}");
    let listed = bao.run(&["policy", "list"]).await;
    listed.expect_code(0, "bao policy list");
    let names: Vec<&str> = listed.stdout.lines().map(str::trim).collect();
    for name in with_slash(&["default", "root", "team/ops", "upper", "legacy"]) {
        assert!(names.contains(&name), "{name} in {names:?}");
    }

    // root is built in and immutable.
    let (status, body) = root
        .put("sys/policies/acl/root", json!({ "policy": rule }))
        .await;
    assert_error(
        "updating root",
        status,
        400,
        &body,
        "cannot update \"root\" policy",
    );
    let (status, body) = root.delete("sys/policies/acl/root").await;
    assert_error(
        "deleting root",
        status,
        400,
        &body,
        "cannot delete \"root\" policy",
    );
    let out = bao.run(&["policy", "delete", "root"]).await;
    assert_cli_error(
        &out,
        "bao policy delete root",
        "cannot delete \"root\" policy",
    );
    let (status, body) = root.get("sys/policies/acl/root").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["name"], "root", "{body}");
    assert_eq!(body["data"]["policy"], "", "{body}");

    // default is present, readable, updatable, not deletable.
    let out = bao.run(&["policy", "read", "default"]).await;
    out.expect_code(0, "bao policy read default");
    for grant in [
        "auth/token/lookup-self",
        "auth/token/renew-self",
        "auth/token/revoke-self",
        "sys/capabilities-self",
        "cubbyhole/*",
    ] {
        assert!(
            out.stdout.contains(&format!("path \"{grant}\"")),
            "default policy grants {grant}:\n{}",
            out.stdout
        );
    }
    let (status, body) = root.delete("sys/policies/acl/default").await;
    assert_error(
        "deleting default",
        status,
        400,
        &body,
        "cannot delete default policy",
    );
    // Every token gets `default` unless it asks not to.
    let created = create_token(&root, json!({"policies": ["upper"]})).await;
    assert_eq!(
        set_at(&created.auth, "/policies"),
        set(&["default", "upper"]),
        "{:?}",
        created.auth
    );
    let created = create_token(
        &root,
        json!({"policies": ["upper"], "no_default_policy": true}),
    )
    .await;
    assert_eq!(set_at(&created.auth, "/policies"), set(&["upper"]));
    let user = root.with_token(Some(&created.token));
    let (status, body) = user.get("auth/token/lookup-self").await;
    assert_denied("lookup-self without the default policy", status, &body);

    let (status, body) = root.get("sys/policies/acl/nope").await;
    assert_empty_404("GET of a missing policy", status, &body);
    let (status, body) = root.delete("sys/policies/acl/nope").await;
    assert_eq!(status, 204, "deleting a missing policy: {body}");
}

/// Regression: `sys/rotate/` (trailing slash) or `sys//rotate` must not dodge the sudo requirement of
/// `sys/rotate`, and `..` must not reach a path the ACL did not see.
#[tokio::test(flavor = "multi_thread")]
async fn sudo_paths_cannot_be_dodged_by_path_spelling() {
    let server = server().await;
    let root = server.api();
    put_policy(
        &root,
        "sysupdate",
        r#"path "sys/*" { capabilities = ["update", "read"] }"#,
    )
    .await;
    let t = create_token(&root, json!({ "policies": ["sysupdate"] })).await;
    let user = root.with_token(Some(&t.token));
    for path in ["sys/rotate", "sys/rotate/", "sys//rotate"] {
        let (status, body) = user.put(path, json!({})).await;
        // OpenBao refuses writes to a trailing-slash path with 400; either way the rotation must not happen.
        assert!(
            status == 403 || status == 400,
            "{path} needs sudo: {status} {body}"
        );
    }
    let (status, body) = user.put("secret/../sys/rotate", json!({})).await;
    assert!(
        status == 400 || status == 403 || status == 404,
        "dot segments refused: {status} {body}"
    );
}
