//! Mount tables: secrets engines (sys/mounts) and auth methods (sys/auth): enable, list, read, tune, move,
//! disable, conflicts, reserved paths, unmounted paths, and sys/internal/ui/mounts. Every expectation here was
//! first checked against `bao server -dev` (`COFFER_E2E_TARGET=openbao`).

use std::time::Duration;

use serde_json::{Value, json};
use testkit::wait_until;

use crate::support::{
    assert_cli_error, assert_error, assert_has_keys, create_token, keys_at, mounts_of, put_policy,
    server, set, str_at,
};

/// The keys of one mount in sys/mounts and sys/auth listings.
const MOUNT_KEYS: [&str; 8] = [
    "accessor",
    "config",
    "description",
    "external_entropy_access",
    "local",
    "options",
    "seal_wrap",
    "type",
];

#[tokio::test(flavor = "multi_thread")]
async fn secrets_engines_enable_list_tune_move_disable() {
    let server = server().await;
    let bao = server.bao();
    let api = server.api();

    // The dev server's default mounts.
    let (status, body) = api.get("sys/mounts").await;
    assert_eq!(status, 200, "{body}");
    for m in &mounts_of(&["cubbyhole/", "identity/", "secret/", "sys/"]) {
        assert!(
            body["data"].get(m.as_str()).is_some(),
            "dev mounts include {m}: {body}"
        );
    }
    assert_eq!(body["data"]["secret/"]["type"], "kv", "{body}");
    assert_eq!(
        body["data"]["secret/"]["options"],
        json!({"version": "2"}),
        "{body}"
    );
    assert_eq!(body["data"]["cubbyhole/"]["type"], "cubbyhole", "{body}");
    assert_eq!(body["data"]["sys/"]["type"], "system", "{body}");

    let out = bao
        .run(&[
            "secrets",
            "enable",
            "-path=team/kv",
            "-version=2",
            "-description=team secrets",
            "kv",
        ])
        .await;
    out.expect_code(0, "secrets enable -path=team/kv");
    assert!(out.stdout.contains("team/kv/"), "{}", out.stdout);
    let listed = bao.json(&["secrets", "list", "-format=json"]).await;
    let m = &listed["team/kv/"];
    assert_has_keys("secrets list entry", &listed, "/team~1kv~1", &MOUNT_KEYS);
    assert_eq!(m["type"], "kv", "{listed}");
    assert_eq!(m["description"], "team secrets", "{listed}");
    assert_eq!(m["options"], json!({"version": "2"}), "{listed}");
    assert_eq!(m["local"], false, "{listed}");
    assert_eq!(m["seal_wrap"], false, "{listed}");
    assert_eq!(m["config"]["default_lease_ttl"], 0, "{listed}");
    assert_eq!(m["config"]["max_lease_ttl"], 0, "{listed}");
    let accessor = str_at(m, "/accessor");
    assert!(accessor.starts_with("kv_"), "accessor {accessor}");

    // sys/mounts repeats every mount at the top level (legacy clients read it there).
    let (status, body) = api.get("sys/mounts").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["team/kv/"], body["data"]["team/kv/"], "{body}");
    assert_eq!(body["secret/"], body["data"]["secret/"], "{body}");
    // One mount.
    let (status, body) = api.get("sys/mounts/team/kv").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["type"], "kv", "{body}");
    assert_eq!(body["data"]["accessor"], accessor.as_str(), "{body}");
    assert_eq!(body["data"]["description"], "team secrets", "{body}");

    // Conflicts: the same path, a parent and a child of a mount (OpenBao answers 400, not 409).
    for path in ["team/kv", "team", "team/kv/sub"] {
        let out = bao
            .run(&["secrets", "enable", &format!("-path={path}"), "kv"])
            .await;
        assert_cli_error(
            &out,
            &format!("enable at {path}"),
            "path is already in use at team/kv/",
        );
        let (status, body) = api
            .post(&format!("sys/mounts/{path}"), json!({"type": "kv"}))
            .await;
        assert_error(
            &format!("POST sys/mounts/{path}"),
            status,
            400,
            &body,
            "path is already in use at team/kv/",
        );
    }
    // Reserved and unknown.
    for (path, msg) in [
        ("sys/foo", "cannot mount \"sys/foo/\""),
        ("auth/foo", "cannot mount \"auth/foo/\""),
    ] {
        let (status, body) = api
            .post(&format!("sys/mounts/{path}"), json!({"type": "kv"}))
            .await;
        assert_error(&format!("mount at {path}"), status, 400, &body, msg);
    }
    let (status, body) = api.post("sys/mounts/zz", json!({"type": "nosuch"})).await;
    assert_error(
        "unknown engine type",
        status,
        400,
        &body,
        "plugin not found in the catalog: nosuch",
    );

    // Tune.
    let (status, body) = api.get("sys/mounts/team/kv/tune").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["default_lease_ttl"], 2_764_800,
        "tune shows effective TTLs: {body}"
    );
    assert_eq!(body["data"]["max_lease_ttl"], 2_764_800, "{body}");
    assert_eq!(body["data"]["description"], "team secrets", "{body}");
    assert_eq!(body["data"]["force_no_cache"], false, "{body}");
    bao.run(&[
        "secrets",
        "tune",
        "-default-lease-ttl=30m",
        "-max-lease-ttl=2h",
        "-description=tuned",
        "team/kv",
    ])
    .await
    .expect_code(0, "secrets tune");
    let (status, body) = api.get("sys/mounts/team/kv/tune").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["default_lease_ttl"], 1800, "{body}");
    assert_eq!(body["data"]["max_lease_ttl"], 7200, "{body}");
    assert_eq!(body["data"]["description"], "tuned", "{body}");
    let (status, body) = api.get("sys/mounts").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["team/kv/"]["config"]["default_lease_ttl"], 1800,
        "{body}"
    );
    assert_eq!(
        body["data"]["team/kv/"]["config"]["max_lease_ttl"], 7200,
        "{body}"
    );
    assert_eq!(body["data"]["team/kv/"]["description"], "tuned", "{body}");
    // A default above the max is refused.
    let (status, body) = api
        .post(
            "sys/mounts/team/kv/tune",
            json!({"default_lease_ttl": "3h"}),
        )
        .await;
    assert_eq!(status, 400, "default above max: {body}");

    // Move: data follows the mount, the old path is gone.
    let (status, body) = api
        .post("team/kv/data/one", json!({"data": {"v": "1"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let out = bao.run(&["secrets", "move", "team/kv", "moved/kv"]).await;
    out.expect_code(0, "secrets move");
    let got = bao
        .json(&["kv", "get", "-format=json", "moved/kv/one"])
        .await;
    assert_eq!(got["data"]["data"], json!({"v": "1"}), "{got}");
    let (status, body) = api.get("team/kv/data/one").await;
    assert_error(
        "old path after the move",
        status,
        404,
        &body,
        "no handler for route \"team/kv/data/one\"",
    );
    let (status, body) = api.get("sys/mounts/moved/kv").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["accessor"],
        accessor.as_str(),
        "a move keeps the accessor: {body}"
    );
    assert_eq!(body["data"]["description"], "tuned", "{body}");

    // sys/remount: async with a status endpoint; conflicts and unknown sources are 400.
    let (status, body) = api
        .post("sys/remount", json!({"from": "moved/kv", "to": "secret"}))
        .await;
    assert_error(
        "remount onto secret/",
        status,
        400,
        &body,
        "path already in use at \"secret/\"",
    );
    let (status, body) = api
        .post("sys/remount", json!({"from": "nope", "to": "x2"}))
        .await;
    assert_error(
        "remount of nothing",
        status,
        400,
        &body,
        "no matching mount at \"nope/\"",
    );
    let (status, body) = api
        .post("sys/remount", json!({"from": "moved/kv", "to": "sys/x"}))
        .await;
    assert_error(
        "remount into sys/",
        status,
        400,
        &body,
        "cannot remount to destination sys/x/",
    );
    let (status, body) = api
        .post("sys/remount", json!({"from": "moved/kv", "to": "m2"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let id = str_at(&body, "/data/migration_id");
    let api2 = api.clone();
    let info = wait_until(Duration::from_secs(30), "the remount to finish", || {
        let api = api2.clone();
        let id = id.clone();
        async move {
            let (status, body) = api.get(&format!("sys/remount/status/{id}")).await;
            let done = status == 200 && body["data"]["migration_info"]["status"] == "success";
            done.then_some(body)
        }
    })
    .await;
    assert_eq!(
        info["data"]["migration_info"]["source_mount"], "moved/kv/",
        "{info}"
    );
    assert_eq!(
        info["data"]["migration_info"]["target_mount"], "m2/",
        "{info}"
    );
    let (status, body) = api.get("m2/data/one").await;
    assert_eq!(status, 200, "{body}");

    // Disable: the mount and its data are gone; a re-enabled mount starts empty.
    bao.run(&["secrets", "disable", "m2"])
        .await
        .expect_code(0, "secrets disable");
    let (status, body) = api.get("m2/data/one").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = api.get("sys/mounts").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"].get("m2/").is_none(), "{body}");
    bao.run(&["secrets", "enable", "-path=m2", "-version=2", "kv"])
        .await
        .expect_code(0, "re-enable m2");
    let (status, body) = api.get("m2/data/one").await;
    assert_eq!(status, 404, "a re-enabled mount starts empty: {body}");
    // Disabling what is not mounted succeeds.
    let (status, body) = api.delete("sys/mounts/never").await;
    assert_eq!(status, 204, "{body}");
    // Built-ins cannot be disabled.
    for (path, msg) in [
        ("sys", "cannot unmount \"sys/\""),
        ("cubbyhole", "cannot unmount \"cubbyhole/\""),
    ] {
        let out = bao.run(&["secrets", "disable", path]).await;
        assert_cli_error(&out, &format!("secrets disable {path}"), msg);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_methods_enable_list_tune_disable() {
    let server = server().await;
    let bao = server.bao();
    let api = server.api();

    let listed = bao.json(&["auth", "list", "-format=json"]).await;
    assert_eq!(keys_at(&listed, ""), set(&["token/"]), "{listed}");
    assert_eq!(listed["token/"]["type"], "token", "{listed}");
    assert_eq!(
        listed["token/"]["description"], "token based credentials",
        "{listed}"
    );

    bao.run(&["auth", "enable", "userpass"])
        .await
        .expect_code(0, "auth enable userpass");
    let again = bao.run(&["auth", "enable", "userpass"]).await;
    assert_cli_error(
        &again,
        "auth enable userpass twice",
        "path is already in use at userpass/",
    );
    let (status, body) = api
        .post("sys/auth/userpass", json!({"type": "userpass"}))
        .await;
    assert_error(
        "POST sys/auth/userpass twice",
        status,
        400,
        &body,
        "path is already in use at userpass/",
    );
    bao.run(&[
        "auth",
        "enable",
        "-path=up2",
        "-description=second",
        "userpass",
    ])
    .await
    .expect_code(0, "auth enable -path=up2");
    let listed = bao.json(&["auth", "list", "-format=json"]).await;
    assert_eq!(
        keys_at(&listed, ""),
        set(&["token/", "up2/", "userpass/"]),
        "{listed}"
    );
    assert_has_keys("auth list entry", &listed, "/up2~1", &MOUNT_KEYS);
    assert_eq!(listed["up2/"]["type"], "userpass", "{listed}");
    assert_eq!(listed["up2/"]["description"], "second", "{listed}");
    assert_eq!(
        listed["up2/"]["config"]["token_type"], "default-service",
        "{listed}"
    );
    assert!(
        listed["up2/"]["accessor"]
            .as_str()
            .is_some_and(|a| a.starts_with("auth_userpass_")),
        "{listed}"
    );
    let (status, body) = api.get("sys/auth").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["up2/"], body["data"]["up2/"], "top-level copy: {body}");
    let (status, body) = api.get("sys/auth/up2").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["type"], "userpass", "{body}");
    assert_eq!(body["data"]["description"], "second", "{body}");

    let (status, body) = api.get("sys/auth/up2/tune").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["default_lease_ttl"], 2_764_800, "{body}");
    assert_eq!(body["data"]["max_lease_ttl"], 2_764_800, "{body}");
    assert_eq!(body["data"]["token_type"], "default-service", "{body}");
    bao.run(&[
        "auth",
        "tune",
        "-default-lease-ttl=1h",
        "-max-lease-ttl=4h",
        "-description=tuned",
        "up2/",
    ])
    .await
    .expect_code(0, "auth tune");
    let (status, body) = api.get("sys/auth/up2/tune").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["default_lease_ttl"], 3600, "{body}");
    assert_eq!(body["data"]["max_lease_ttl"], 14400, "{body}");
    assert_eq!(body["data"]["description"], "tuned", "{body}");
    // The same tune through sys/mounts/auth/<path>/tune.
    let (status, body) = api.get("sys/mounts/auth/up2/tune").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["default_lease_ttl"], 3600, "{body}");

    // Moving an auth method goes through sys/remount with the auth/ prefix.
    let out = bao.run(&["auth", "move", "auth/up2", "auth/up3"]).await;
    out.expect_code(0, "auth move");
    let listed = bao.json(&["auth", "list", "-format=json"]).await;
    assert_eq!(
        keys_at(&listed, ""),
        set(&["token/", "up3/", "userpass/"]),
        "{listed}"
    );
    assert_eq!(listed["up3/"]["description"], "tuned", "{listed}");

    bao.run(&["auth", "disable", "up3"])
        .await
        .expect_code(0, "auth disable");
    let listed = bao.json(&["auth", "list", "-format=json"]).await;
    assert_eq!(
        keys_at(&listed, ""),
        set(&["token/", "userpass/"]),
        "{listed}"
    );
    let (status, body) = api
        .post("auth/up3/login/alice", json!({"password": "x"}))
        .await;
    assert_eq!(status, 404, "a disabled auth path is unrouted: {body}");
    let out = bao.run(&["auth", "disable", "token"]).await;
    assert_cli_error(
        &out,
        "auth disable token",
        "token credential backend cannot be disabled",
    );
    let (status, body) = api.post("sys/auth/bad", json!({"type": "nosuch"})).await;
    assert_error(
        "unknown auth type",
        status,
        400,
        &body,
        "plugin not found in the catalog: nosuch",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unmounted_paths_are_404() {
    let server = server().await;
    let bao = server.bao();
    let api = server.api();
    for method in ["GET", "POST", "PUT", "DELETE", "LIST"] {
        let body = matches!(method, "POST" | "PUT").then(|| json!({"data": {"a": "b"}}));
        let (status, resp) = api.call(method, "nomount/x", body).await;
        // A LIST is routed with a trailing slash.
        let route = if method == "LIST" {
            "nomount/x/"
        } else {
            "nomount/x"
        };
        assert_error(
            &format!("{method} nomount/x"),
            status,
            404,
            &resp,
            &format!("no handler for route \"{route}\". route entry not found."),
        );
    }
    let out = bao.run(&["write", "nomount/x", "a=b"]).await;
    assert_cli_error(
        &out,
        "bao write nomount/x",
        "no handler for route \"nomount/x\"",
    );
    let out = bao.run(&["read", "nomount/x"]).await;
    out.expect_code(2, "bao read nomount/x");
    // The kv CLI asks sys/internal/ui/mounts first, which refuses an unmounted path.
    let out = bao.run(&["kv", "put", "nomount/x", "a=b"]).await;
    assert_cli_error(
        &out,
        "bao kv put nomount/x",
        "preflight capability check returned 403",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_ui_mounts() {
    let server = server().await;
    let api = server.api();
    let (status, body) = api.post("sys/mounts/kv1", json!({"type": "kv"})).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = api
        .post("sys/auth/userpass", json!({"type": "userpass"}))
        .await;
    assert_eq!(status, 204, "{body}");

    let (status, body) = api.get("sys/internal/ui/mounts").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        keys_at(&body, "/data/secret"),
        mounts_of(&["cubbyhole/", "identity/", "kv1/", "secret/", "sys/"]),
        "{body}"
    );
    assert_eq!(
        keys_at(&body, "/data/auth"),
        set(&["token/", "userpass/"]),
        "{body}"
    );
    assert_eq!(
        body["data"]["secret"]["secret/"]["options"],
        json!({"version": "2"}),
        "{body}"
    );

    // Without a token: only mounts marked listing_visibility=unauth, i.e. none.
    let (status, body) = server.anon().get("sys/internal/ui/mounts").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"auth": {}, "secret": {}}), "{body}");

    // A limited token sees the mounts its policies touch (the default policy covers cubbyhole/, identity/,
    // sys/ and token/).
    put_policy(
        &api,
        "kvonly",
        r#"path "kv1/shared/*" { capabilities = ["read"] }"#,
    )
    .await;
    let t = create_token(&api, json!({"policies": ["kvonly"]})).await;
    let user = api.with_token(Some(&t.token));
    let (status, body) = user.get("sys/internal/ui/mounts").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        keys_at(&body, "/data/secret"),
        mounts_of(&["cubbyhole/", "identity/", "kv1/", "sys/"]),
        "{body}"
    );
    assert_eq!(keys_at(&body, "/data/auth"), set(&["token/"]), "{body}");

    // One mount by a path inside it (what the kv CLI uses to find the version).
    let (status, body) = api.get("sys/internal/ui/mounts/secret/foo/bar").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["path"], "secret/", "{body}");
    assert_eq!(body["data"]["type"], "kv", "{body}");
    assert_eq!(body["data"]["options"], json!({"version": "2"}), "{body}");
    let (status, body) = user.get("sys/internal/ui/mounts/kv1/shared/x").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["path"], "kv1/", "{body}");
    // No `version` option: the kv CLI treats the mount as KV v1.
    assert_eq!(body["data"]["options"]["version"], Value::Null, "{body}");
    let (status, body) = user.get("sys/internal/ui/mounts/secret/x").await;
    assert_error(
        "ui mount the token has no grant on",
        status,
        403,
        &body,
        "preflight capability check returned 403, please ensure client's policies grant access to path \"secret/x/\"",
    );
    let (status, body) = api.get("sys/internal/ui/mounts/nomount/x").await;
    assert_error(
        "ui mount of an unmounted path",
        status,
        403,
        &body,
        "preflight capability check returned 403, please ensure client's policies grant access to path \"nomount/x/\"",
    );
}
