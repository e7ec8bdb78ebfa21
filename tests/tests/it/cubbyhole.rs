//! Cubbyhole: per-token private storage. What one token writes no other token (root included) sees, and it
//! goes away with the token. Every expectation here was first checked against `bao server -dev`
//! (`COFFER_E2E_TARGET=openbao`).

use serde_json::json;

use crate::support::{
    assert_bad_token, assert_cli_error, assert_empty_404, assert_error, create_token, server,
};

#[tokio::test(flavor = "multi_thread")]
async fn cubbyhole_is_private_to_its_token() {
    let server = server().await;
    let root = server.api();
    let bao = server.bao();
    // Tokens with only the default policy: it grants cubbyhole/*.
    let a = create_token(&root, json!({})).await;
    let b = create_token(&root, json!({})).await;
    let a_cli = bao.clone().token(Some(&a.token));
    let b_cli = bao.clone().token(Some(&b.token));

    a_cli
        .run(&["write", "cubbyhole/note", "msg=hello"])
        .await
        .expect_code(0, "bao write cubbyhole/note (a)");
    let got = a_cli
        .json(&["read", "-format=json", "cubbyhole/note"])
        .await;
    assert_eq!(got["data"], json!({"msg": "hello"}), "{got}");
    // Cubbyhole reads carry no lease.
    assert_eq!(got["lease_duration"], 0, "{got}");
    let listed = a_cli.json(&["list", "-format=json", "cubbyhole/"]).await;
    assert_eq!(listed, json!(["note"]), "{listed}");

    // Another token, and root, see nothing there.
    let out = b_cli.run(&["read", "cubbyhole/note"]).await;
    assert_cli_error(&out, "b reads a's note", "No value found at cubbyhole/note");
    let b_api = root.with_token(Some(&b.token));
    let (status, body) = b_api.get("cubbyhole/note").await;
    assert_empty_404("b GET cubbyhole/note", status, &body);
    let (status, body) = b_api.list("cubbyhole/").await;
    assert_empty_404("b LIST cubbyhole/", status, &body);
    let (status, body) = root.get("cubbyhole/note").await;
    assert_empty_404("root GET cubbyhole/note", status, &body);

    // Same key, separate values.
    b_cli
        .run(&["write", "cubbyhole/note", "msg=other"])
        .await
        .expect_code(0, "bao write cubbyhole/note (b)");
    let (status, body) = b_api.get("cubbyhole/note").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"msg": "other"}), "{body}");
    let a_api = root.with_token(Some(&a.token));
    let (status, body) = a_api.get("cubbyhole/note").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"msg": "hello"}),
        "a's note is untouched: {body}"
    );

    // Writes replace the entry; nested keys list as folders.
    let (status, body) = a_api
        .post("cubbyhole/note", json!({"msg": "v2", "n": 2}))
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = a_api.get("cubbyhole/note").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"msg": "v2", "n": 2}), "{body}");
    let (status, body) = a_api.post("cubbyhole/dir/inner", json!({"x": "y"})).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = a_api.list("cubbyhole/").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["keys"], json!(["dir/", "note"]), "{body}");

    // Invalid writes.
    let (status, body) = a_api.post("cubbyhole/", json!({"a": "b"})).await;
    assert_error(
        "write to cubbyhole/",
        status,
        400,
        &body,
        "cannot write to a path ending in '/'",
    );

    // Delete.
    let (status, body) = a_api.delete("cubbyhole/dir/inner").await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = a_api.get("cubbyhole/dir/inner").await;
    assert_empty_404("deleted entry", status, &body);
}

#[tokio::test(flavor = "multi_thread")]
async fn cubbyhole_goes_away_with_its_token() {
    let server = server().await;
    let root = server.api();
    let bao = server.bao();
    let a = create_token(&root, json!({})).await;
    let b = create_token(&root, json!({})).await;
    let a_api = root.with_token(Some(&a.token));
    let (status, body) = a_api.post("cubbyhole/note", json!({"msg": "hello"})).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = a_api.get("cubbyhole/note").await;
    assert_eq!(status, 200, "{body}");

    bao.run(&["token", "revoke", &a.token])
        .await
        .expect_code(0, "bao token revoke a");
    let (status, body) = a_api.get("cubbyhole/note").await;
    assert_bad_token("revoked token reads its cubbyhole", status, &body);
    let (status, body) = a_api.list("cubbyhole/").await;
    assert_bad_token("revoked token lists its cubbyhole", status, &body);
    let b_api = root.with_token(Some(&b.token));
    let (status, body) = b_api.get("cubbyhole/note").await;
    assert_empty_404("another token after the revocation", status, &body);
    let (status, body) = root.get("cubbyhole/note").await;
    assert_empty_404("root after the revocation", status, &body);

    // A child token has its own cubbyhole, distinct from its parent's, and it goes when the parent goes.
    let (status, body) = root
        .post(
            "sys/policies/acl/maker",
            json!({"policy": r#"path "auth/token/create" { capabilities = ["update"] }"#}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let parent = create_token(&root, json!({"policies": ["maker"]})).await;
    let p_api = root.with_token(Some(&parent.token));
    let child = create_token(&p_api, json!({})).await;
    let c_api = root.with_token(Some(&child.token));
    let (status, body) = c_api.post("cubbyhole/c", json!({"v": "child"})).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = p_api.get("cubbyhole/c").await;
    assert_empty_404(
        "the parent does not see the child's cubbyhole",
        status,
        &body,
    );
    let (status, body) = root
        .post("auth/token/revoke", json!({"token": parent.token}))
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = c_api.get("cubbyhole/c").await;
    assert_bad_token("child after the parent's revocation", status, &body);
}
