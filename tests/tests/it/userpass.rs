//! The userpass auth method: users with token policies, `bao login -method=userpass`, the issued token carrying
//! exactly those policies, wrong passwords, password and policy changes, and hvac's login. Every expectation here
//! was first checked against `bao server -dev` (`COFFER_E2E_TARGET=openbao`).

use serde_json::json;
use testkit::Api;

use crate::support::{
    assert_cli_error, assert_denied, assert_error, put_policy, server, set, set_at, str_at,
};

/// Seeds the policies and secrets the logged-in tokens are checked against, and enables userpass.
async fn setup(root: &Api) {
    seed(root).await;
    let (status, body) = root
        .post("sys/auth/userpass", json!({"type": "userpass"}))
        .await;
    assert_eq!(status, 204, "enabling userpass: {body}");
}

/// Seeds the policies `reader` and `writer` and two secrets.
async fn seed(root: &Api) {
    put_policy(
        root,
        "reader",
        r#"path "secret/data/shared/*" { capabilities = ["read"] }"#,
    )
    .await;
    put_policy(
        root,
        "writer",
        r#"path "secret/data/team/*" { capabilities = ["create", "update", "read"] }"#,
    )
    .await;
    for path in ["secret/data/shared/a", "secret/data/private/a"] {
        let (status, body) = root.post(path, json!({"data": {"v": "1"}})).await;
        assert_eq!(status, 200, "seeding {path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn userpass_login_with_bao() {
    let server = server().await;
    let root = server.api();
    let bao = server.bao();
    seed(&root).await;

    let out = bao.run(&["auth", "enable", "userpass"]).await;
    out.expect_code(0, "bao auth enable userpass");
    assert!(out.stdout.contains("userpass/"), "{}", out.stdout);
    bao.run(&[
        "write",
        "auth/userpass/users/alice",
        "password=wonderland",
        "token_policies=reader,writer",
        "token_ttl=1h",
    ])
    .await
    .expect_code(0, "write the user");
    let user = bao
        .json(&["read", "-format=json", "auth/userpass/users/alice"])
        .await;
    assert_eq!(
        user["data"]["token_policies"],
        json!(["reader", "writer"]),
        "{user}"
    );
    assert_eq!(user["data"]["token_ttl"], 3600, "{user}");
    assert_eq!(user["data"]["token_max_ttl"], 0, "{user}");
    assert_eq!(user["data"]["token_type"], "default", "{user}");
    assert!(
        user["data"].get("password").is_none(),
        "the password is never returned: {user}"
    );
    let listed = bao
        .json(&["list", "-format=json", "auth/userpass/users"])
        .await;
    assert_eq!(listed, json!(["alice"]), "{listed}");

    // Log in with no token in the environment; the CLI stores the token in $HOME/.vault-token.
    let anon = bao.clone().token(None);
    let login = anon
        .json(&[
            "login",
            "-format=json",
            "-method=userpass",
            "username=alice",
            "password=wonderland",
        ])
        .await;
    let auth = &login["auth"];
    assert_eq!(
        set_at(auth, "/policies"),
        set(&["default", "reader", "writer"]),
        "{login}"
    );
    assert_eq!(
        set_at(auth, "/token_policies"),
        set(&["default", "reader", "writer"]),
        "{login}"
    );
    assert_eq!(auth["metadata"], json!({"username": "alice"}), "{login}");
    assert_eq!(auth["lease_duration"], 3600, "{login}");
    assert_eq!(auth["renewable"], true, "{login}");
    assert_eq!(auth["orphan"], true, "{login}");
    let token = str_at(auth, "/client_token");
    let stored = std::fs::read_to_string(anon.home().join(".vault-token"))
        .unwrap_or_else(|e| panic!("bao login stores the token: {e}"));
    assert_eq!(stored.trim(), token);

    // The token has exactly those policies.
    let lookup = anon.json(&["token", "lookup", "-format=json"]).await;
    assert_eq!(
        lookup["data"]["path"], "auth/userpass/login/alice",
        "{lookup}"
    );
    assert_eq!(lookup["data"]["display_name"], "userpass-alice", "{lookup}");
    assert_eq!(
        lookup["data"]["meta"],
        json!({"username": "alice"}),
        "{lookup}"
    );
    assert_eq!(
        set_at(&lookup, "/data/policies"),
        set(&["default", "reader", "writer"]),
        "{lookup}"
    );
    let api = root.with_token(Some(&token));
    let (status, body) = api.get("secret/data/shared/a").await;
    assert_eq!(status, 200, "reader grant: {body}");
    let (status, body) = api
        .post("secret/data/team/x", json!({"data": {"k": "v"}}))
        .await;
    assert_eq!(status, 200, "writer grant: {body}");
    let (status, body) = api.get("secret/data/private/a").await;
    assert_denied("no grant on secret/data/private", status, &body);
    let (status, body) = api
        .post("secret/data/shared/a", json!({"data": {"k": "v"}}))
        .await;
    assert_denied("reader cannot write", status, &body);
    let (status, body) = api.get("sys/mounts").await;
    assert_denied("no sys grant", status, &body);

    // Wrong password, unknown user: 400 with the same message (no user enumeration).
    let out = anon
        .run(&[
            "login",
            "-method=userpass",
            "username=alice",
            "password=wrong",
        ])
        .await;
    assert_cli_error(
        &out,
        "login with a wrong password",
        "invalid username or password",
    );
    let (status, body) = server
        .anon()
        .post("auth/userpass/login/alice", json!({"password": "wrong"}))
        .await;
    assert_eq!(
        (status, &body),
        (400, &json!({"errors": ["invalid username or password"]})),
        "wrong password"
    );
    let (status, body) = server
        .anon()
        .post("auth/userpass/login/nobody", json!({"password": "x"}))
        .await;
    assert_eq!(
        (status, &body),
        (400, &json!({"errors": ["invalid username or password"]})),
        "unknown user"
    );
    // A missing password is an error too (OpenBao answers 500 here).
    let (status, body) = server
        .anon()
        .post("auth/userpass/login/alice", json!({}))
        .await;
    assert!(status >= 400, "missing password: {status} {body}");
    assert!(
        crate::support::first_error(&body).contains("missing password"),
        "{status} {body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn userpass_password_and_policy_changes() {
    let server = server().await;
    let root = server.api();
    setup(&root).await;
    let (status, body) = root
        .post(
            "auth/userpass/users/bob",
            json!({"password": "first", "token_policies": ["reader"]}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let anon = server.anon();
    let login = |password: &'static str| {
        let anon = anon.clone();
        async move {
            anon.post("auth/userpass/login/bob", json!({"password": password}))
                .await
        }
    };
    let (status, body) = login("first").await;
    assert_eq!(status, 200, "{body}");
    let first_token = str_at(&body, "/auth/client_token");
    assert_eq!(
        set_at(&body, "/auth/policies"),
        set(&["default", "reader"]),
        "{body}"
    );
    // Default TTL: the mount's (768h on a dev server).
    assert_eq!(body["auth"]["lease_duration"], 2_764_800, "{body}");

    let (status, body) = root
        .post(
            "auth/userpass/users/bob/password",
            json!({"password": "second"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = login("first").await;
    assert_error(
        "old password",
        status,
        400,
        &body,
        "invalid username or password",
    );
    let (status, body) = login("second").await;
    assert_eq!(status, 200, "new password: {body}");

    let (status, body) = root
        .post(
            "auth/userpass/users/bob/policies",
            json!({"token_policies": ["writer"]}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = login("second").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        set_at(&body, "/auth/policies"),
        set(&["default", "writer"]),
        "{body}"
    );
    // Tokens issued earlier keep their policies.
    let (status, body) = root
        .with_token(Some(&first_token))
        .get("secret/data/shared/a")
        .await;
    assert_eq!(status, 200, "{body}");

    // Updating other fields keeps the password.
    let (status, body) = root
        .post("auth/userpass/users/bob", json!({"token_ttl": "10m"}))
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = login("second").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["auth"]["lease_duration"], 600, "{body}");

    // A deleted user cannot log in.
    let (status, body) = root.delete("auth/userpass/users/bob").await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = login("second").await;
    assert_error(
        "deleted user",
        status,
        400,
        &body,
        "invalid username or password",
    );
    let (status, body) = root.get("auth/userpass/users/bob").await;
    assert_eq!(status, 404, "{body}");
    // A user needs a password when created.
    let (status, body) = root
        .post(
            "auth/userpass/users/carol",
            json!({"token_policies": ["reader"]}),
        )
        .await;
    assert_error(
        "user without a password",
        status,
        400,
        &body,
        "must provide either password or password_hash",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn userpass_login_with_hvac() {
    let server = server().await;
    let root = server.api();
    setup(&root).await;
    let (status, body) = root
        .post(
            "auth/userpass/users/dave",
            json!({"password": "pw-dave", "token_policies": "reader"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");

    let out = server
        .hvac()
        .token(None)
        .run(
            r#"
import hvac.exceptions as E
r = {}
resp = client.auth.userpass.login(username="dave", password="pw-dave")
r["policies"] = sorted(resp["auth"]["policies"])
r["metadata"] = resp["auth"]["metadata"]
r["is_authenticated"] = client.is_authenticated()
r["token_is_set"] = client.token == resp["auth"]["client_token"]
r["read"] = client.secrets.kv.v2.read_secret_version(path="shared/a", raise_on_deleted_version=True)["data"]["data"]
try:
    client.secrets.kv.v2.read_secret_version(path="private/a", raise_on_deleted_version=True)
    r["forbidden"] = None
except E.Forbidden:
    r["forbidden"] = "Forbidden"
try:
    client.auth.userpass.login(username="dave", password="nope")
    r["wrong"] = None
except E.InvalidRequest as e:
    r["wrong"] = str(e)
out(r)
"#,
        )
        .await;
    assert_eq!(out["policies"], json!(["default", "reader"]), "{out}");
    assert_eq!(out["metadata"], json!({"username": "dave"}), "{out}");
    assert_eq!(out["is_authenticated"], true, "{out}");
    assert_eq!(out["token_is_set"], true, "{out}");
    assert_eq!(out["read"], json!({"v": "1"}), "{out}");
    assert_eq!(out["forbidden"], "Forbidden", "{out}");
    assert!(
        out["wrong"]
            .as_str()
            .is_some_and(|m| m.contains("invalid username or password")),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn disabling_userpass_revokes_the_tokens_it_issued() {
    let server = server().await;
    let root = server.api();
    setup(&root).await;
    let (status, body) = root
        .post(
            "auth/userpass/users/carol",
            json!({"password": "pw", "token_policies": "reader"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = server
        .anon()
        .post("auth/userpass/login/carol", json!({"password": "pw"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let token = str_at(&body, "/auth/client_token");
    let carol = server.api().with_token(Some(&token));
    let (status, body) = carol.get("auth/token/lookup-self").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = root.delete("sys/auth/userpass").await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = carol.get("auth/token/lookup-self").await;
    assert_denied("a token of a disabled auth method", status, &body);
}
