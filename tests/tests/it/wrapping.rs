//! Response wrapping: `X-Vault-Wrap-TTL` on any request, `sys/wrapping/{wrap,unwrap,lookup,rewrap}`, single-use
//! wrapping tokens and policies' wrapping TTL bounds, through the real `bao` CLI, hvac and raw HTTP. Every
//! expectation here was first checked against `bao server -dev` (`COFFER_E2E_TARGET=openbao`).

use serde_json::{Value, json};
use testkit::Api;

use crate::support::{
    assert_cli_error, assert_denied, assert_error, create_token, put_policy, server, str_at,
};

const INVALID: &str = "wrapping token is not valid or does not exist";

/// `send` with extra headers, as (status, json).
async fn send(
    api: &Api,
    method: &str,
    path: &str,
    body: Value,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    // GETs carry no body.
    let body = (!body.is_null()).then(|| serde_json::to_vec(&body).expect("JSON body"));
    let r = api.send(method, path, body, headers).await;
    (r.status, r.json)
}

/// A wrapped answer: 200, only `wrap_info` (with an empty request id, as OpenBao writes it); returns the
/// wrap_info.
fn wrap_info(what: &str, status: u16, body: &Value) -> Value {
    assert_eq!(status, 200, "{what}: {body}");
    assert_eq!(body["request_id"], "", "{what}: {body}");
    assert_eq!(body["data"], Value::Null, "{what}: {body}");
    assert_eq!(body["auth"], Value::Null, "{what}: {body}");
    let info = body["wrap_info"].clone();
    assert!(
        str_at(&info, "/token").starts_with("s."),
        "{what}: not a service token: {body}"
    );
    assert!(!str_at(&info, "/accessor").is_empty(), "{what}: {body}");
    info
}

/// `POST sys/wrapping/wrap` of `data` as `api`, wrapped for `ttl`.
async fn wrap(api: &Api, data: Value, ttl: &str) -> Value {
    let (status, body) = send(
        api,
        "POST",
        "sys/wrapping/wrap",
        data,
        &[("X-Vault-Wrap-TTL", ttl)],
    )
    .await;
    wrap_info("sys/wrapping/wrap", status, &body)
}

async fn lookup(api: &Api, token: &str) -> (u16, Value) {
    api.post("sys/wrapping/lookup", json!({ "token": token }))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_get_wrapped_and_unwrapped_with_bao() {
    let server = server().await;
    let bao = server.bao();
    bao.run(&["kv", "put", "secret/x", "a=b"])
        .await
        .expect_code(0, "bao kv put");

    let wrapped = bao
        .json(&["kv", "get", "-wrap-ttl=5m", "-format=json", "secret/x"])
        .await;
    let info = &wrapped["wrap_info"];
    assert_eq!(info["ttl"], 300, "{wrapped}");
    assert_eq!(info["creation_path"], "secret/data/x", "{wrapped}");
    assert_eq!(wrapped["data"], Value::Null, "{wrapped}");
    let token = str_at(info, "/token");

    // With a client token of its own, the CLI names the wrapping token in the body.
    let unwrapped = bao.json(&["unwrap", "-format=json", &token]).await;
    assert_eq!(unwrapped["data"]["data"], json!({"a": "b"}), "{unwrapped}");
    assert_eq!(unwrapped["data"]["metadata"]["version"], 1, "{unwrapped}");
    let again = bao.run(&["unwrap", &token]).await;
    assert_cli_error(&again, "second unwrap", INVALID);

    // Without one, the wrapping token is the client token.
    let wrapped = bao
        .json(&["kv", "get", "-wrap-ttl=1m", "-format=json", "secret/x"])
        .await;
    let token = str_at(&wrapped, "/wrap_info/token");
    let anon = bao.clone().token(None);
    let unwrapped = anon.json(&["unwrap", "-format=json", &token]).await;
    assert_eq!(unwrapped["data"]["data"], json!({"a": "b"}), "{unwrapped}");
    let again = anon.run(&["unwrap", &token]).await;
    assert_cli_error(&again, "second unwrap as the client token", INVALID);
}

#[tokio::test(flavor = "multi_thread")]
async fn unwrap_with_hvac() {
    let server = server().await;
    let (status, body) = server
        .api()
        .post("secret/data/h", json!({"data": {"k": "v"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let out = server
        .hvac()
        .run(
            r#"
import hvac.exceptions as E
r = {}
w = client.read("secret/data/h", wrap_ttl="5m")
r["info"] = w["wrap_info"]
r["unwrapped"] = client.sys.unwrap(w["wrap_info"]["token"])
try:
    client.sys.unwrap(w["wrap_info"]["token"])
    r["again"] = None
except E.InvalidRequest as e:
    r["again"] = str(e)
w = client.sys.wrap(payload={"p": "q", "n": 2}, ttl=60)
r["wrap_ttl"] = w["wrap_info"]["ttl"]
r["wrapped"] = client.sys.unwrap(w["wrap_info"]["token"])["data"]
out(r)
"#,
        )
        .await;
    assert_eq!(out["info"]["ttl"], 300, "{out}");
    assert_eq!(out["info"]["creation_path"], "secret/data/h", "{out}");
    assert_eq!(out["unwrapped"]["data"]["data"], json!({"k": "v"}), "{out}");
    let again = out["again"].as_str().unwrap_or_default();
    assert!(again.contains(INVALID), "{out}");
    assert_eq!(out["wrap_ttl"], 60, "{out}");
    assert_eq!(out["wrapped"], json!({"p": "q", "n": 2}), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrap_ttl_header_and_wrap_endpoint() {
    let server = server().await;
    let root = server.api();
    for (value, why) in [
        ("-1", "requested wrap ttl cannot be negative"),
        ("abc", "time: invalid duration \"abc\""),
    ] {
        let (status, body) = send(
            &root,
            "GET",
            "secret/data/x",
            json!(null),
            &[("X-Vault-Wrap-TTL", value)],
        )
        .await;
        assert_eq!(
            (status, body.clone()),
            (
                400,
                json!({"errors": [format!("error parsing X-Vault-Wrap-TTL header: {why}")]})
            ),
            "X-Vault-Wrap-TTL: {value}"
        );
    }
    // `0` asks for nothing.
    let (status, body) = root
        .post("secret/data/x", json!({"data": {"a": "b"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(
        &root,
        "GET",
        "secret/data/x",
        json!(null),
        &[("X-Vault-Wrap-TTL", "0")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["data"], json!({"a": "b"}), "{body}");
    assert_eq!(body["wrap_info"], Value::Null, "{body}");

    let (status, body) = root.post("sys/wrapping/wrap", json!({"a": 1})).await;
    assert_error(
        "wrap without a wrap TTL",
        status,
        400,
        &body,
        "endpoint requires response wrapping to be used",
    );
    let info = wrap(&root, json!({"a": 1}), "90").await;
    assert_eq!(info["ttl"], 90, "{info}");
    assert_eq!(info["creation_path"], "sys/wrapping/wrap", "{info}");
    assert!(
        info.get("wrapped_accessor").is_none(),
        "empty wrapped_accessor is omitted: {info}"
    );

    // Nothing to wrap in a 204.
    let (status, body) = send(
        &root,
        "POST",
        "cubbyhole/w",
        json!({"v": 1}),
        &[("X-Vault-Wrap-TTL", "60")],
    )
    .await;
    assert_eq!(status, 204, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn lookup_rewrap_unwrap_over_http() {
    let server = server().await;
    let root = server.api();
    let anon = server.anon();
    let info = wrap(&root, json!({"foo": "bar"}), "120").await;
    let token = str_at(&info, "/token");

    // Lookup needs no client token and spends nothing.
    for _ in 0..2 {
        let (status, body) = lookup(&anon, &token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["data"],
            json!({
                "creation_ttl": 120,
                "creation_time": info["creation_time"],
                "creation_path": "sys/wrapping/wrap",
            }),
            "{body}"
        );
    }
    let (status, body) = anon
        .get(&format!("sys/wrapping/lookup?token={token}"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["creation_ttl"], 120, "{body}");
    let (status, body) = anon.post("sys/wrapping/lookup", json!({})).await;
    assert_eq!(
        (status, body.clone()),
        (
            403,
            json!({"errors": ["error validating wrapping token: token is empty"]})
        ),
        "{body}"
    );
    let (status, body) = lookup(&anon, "s.nonexistent").await;
    assert_eq!((status, body), (400, json!({"errors": [INVALID]})));

    // Rewrap: a new token for the same response, same creation path; the old one is gone.
    let (status, body) = root
        .post("sys/wrapping/rewrap", json!({"token": token}))
        .await;
    let second = wrap_info("rewrap", status, &body);
    assert_eq!(second["ttl"], 120, "{body}");
    assert_eq!(second["creation_path"], "sys/wrapping/wrap", "{body}");
    assert_ne!(second["token"], info["token"], "{body}");
    let (status, body) = lookup(&anon, &token).await;
    assert_eq!((status, body), (400, json!({"errors": [INVALID]})));
    // A shorter requested TTL wins.
    let (status, body) = send(
        &root,
        "POST",
        "sys/wrapping/rewrap",
        json!({"token": second["token"]}),
        &[("X-Vault-Wrap-TTL", "30")],
    )
    .await;
    let third = wrap_info("rewrap with a TTL", status, &body);
    assert_eq!(third["ttl"], 30, "{body}");
    let token = str_at(&third, "/token");

    // Unwrap with the wrapping token as the client token: the response as it was, then never again.
    let holder = anon.with_token(Some(&token));
    let (status, body) = holder.post("sys/wrapping/unwrap", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"foo": "bar"}), "{body}");
    assert_eq!(body["wrap_info"], Value::Null, "{body}");
    assert!(!str_at(&body, "/request_id").is_empty(), "{body}");
    let (status, body) = holder.post("sys/wrapping/unwrap", json!({})).await;
    assert_eq!((status, body), (400, json!({"errors": [INVALID]})));
    let (status, body) = root
        .post("sys/wrapping/unwrap", json!({"token": token}))
        .await;
    assert_eq!((status, body), (400, json!({"errors": [INVALID]})));

    // Naming the wrapping token in the body needs a client token of one's own.
    let info = wrap(&root, json!({"x": 1}), "60").await;
    let (status, body) = anon
        .post("sys/wrapping/unwrap", json!({"token": info["token"]}))
        .await;
    assert_denied("unwrap without a client token", status, &body);
    let (status, body) = root.post("sys/wrapping/unwrap", json!({"token": ""})).await;
    assert_eq!(
        (status, body.clone()),
        (
            403,
            json!({"errors": ["error validating wrapping token: empty token in request body"]})
        ),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrapping_tokens_are_confined() {
    let server = server().await;
    let root = server.api();
    let anon = server.anon();

    // A wrapping token may read its cubbyhole (deprecated, with a warning); that spends it.
    let info = wrap(&root, json!({"x": 1}), "60").await;
    let token = str_at(&info, "/token");
    let holder = anon.with_token(Some(&token));
    let (status, body) = holder.get("cubbyhole/response").await;
    assert_eq!(status, 200, "{body}");
    let stored: Value =
        serde_json::from_str(&str_at(&body, "/data/response")).expect("stored response is JSON");
    assert_eq!(stored["data"], json!({"x": 1}), "{body}");
    let warning = str_at(&body, "/warnings/0");
    assert!(
        warning.contains("Reading from 'cubbyhole/response' is deprecated"),
        "{body}"
    );
    let (status, body) = lookup(&anon, &token).await;
    assert_eq!((status, body), (400, json!({"errors": [INVALID]})));

    // Nothing else: rewrapping itself is denied, and the attempt spends it too.
    let info = wrap(&root, json!({"x": 1}), "60").await;
    let token = str_at(&info, "/token");
    let holder = anon.with_token(Some(&token));
    let (status, body) = holder.post("sys/wrapping/rewrap", json!({})).await;
    assert_denied("rewrap with the wrapping token", status, &body);
    let (status, body) = lookup(&anon, &token).await;
    assert_eq!((status, body), (400, json!({"errors": [INVALID]})));

    // A wrapped token creation names the new token's accessor; the unwrapped token works.
    let (status, body) = send(
        &root,
        "POST",
        "auth/token/create",
        json!({"policies": ["default"]}),
        &[("X-Vault-Wrap-TTL", "60")],
    )
    .await;
    let info = wrap_info("wrapped token create", status, &body);
    assert_eq!(info["creation_path"], "auth/token/create", "{body}");
    let (status, body) = root
        .post("sys/wrapping/unwrap", json!({"token": info["token"]}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["auth"]["accessor"], info["wrapped_accessor"], "{body}");
    let inner = str_at(&body, "/auth/client_token");
    let (status, body) = anon
        .with_token(Some(&inner))
        .get("auth/token/lookup-self")
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn policies_bound_the_wrap_ttl() {
    let server = server().await;
    let root = server.api();
    let (status, body) = root
        .post("secret/data/x", json!({"data": {"a": "b"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    put_policy(
        &root,
        "wrapbounds",
        r#"
path "secret/data/*" {
  capabilities     = ["read"]
  min_wrapping_ttl = "10s"
  max_wrapping_ttl = "90s"
}
"#,
    )
    .await;
    let user = create_token(&root, json!({"policies": ["wrapbounds"]})).await;
    let api = server.anon().with_token(Some(&user.token));
    let (status, body) = api.get("secret/data/x").await;
    assert_denied("read without wrapping", status, &body);
    for ttl in ["0", "5s", "5m"] {
        let (status, body) = send(
            &api,
            "GET",
            "secret/data/x",
            json!(null),
            &[("X-Vault-Wrap-TTL", ttl)],
        )
        .await;
        assert_denied(&format!("read wrapped for {ttl}"), status, &body);
    }
    let (status, body) = send(
        &api,
        "GET",
        "secret/data/x",
        json!(null),
        &[("X-Vault-Wrap-TTL", "60")],
    )
    .await;
    let info = wrap_info("read wrapped within the bounds", status, &body);
    assert_eq!(info["ttl"], 60, "{body}");

    // The CLI, likewise.
    let bao = server.bao().token(Some(&user.token));
    let out = bao.run(&["kv", "get", "secret/x"]).await;
    assert_cli_error(&out, "bao kv get without wrapping", "permission denied");
    let wrapped = bao
        .json(&["kv", "get", "-wrap-ttl=1m", "-format=json", "secret/x"])
        .await;
    let token = str_at(&wrapped, "/wrap_info/token");
    let unwrapped = server
        .bao()
        .token(None)
        .json(&["unwrap", "-format=json", &token])
        .await;
    assert_eq!(unwrapped["data"]["data"], json!({"a": "b"}), "{unwrapped}");
}

#[tokio::test(flavor = "multi_thread")]
async fn response_wrapping_policy_is_fixed() {
    let server = server().await;
    let root = server.api();
    let (status, body) = root.list("sys/policies/acl").await;
    assert_eq!(status, 200, "{body}");
    let keys = body["data"]["keys"].as_array().cloned().unwrap_or_default();
    assert!(
        !keys.contains(&json!("response-wrapping")),
        "not listed: {body}"
    );
    let (status, body) = root.get("sys/policies/acl/response-wrapping").await;
    assert_eq!(status, 200, "{body}");
    let text = str_at(&body, "/data/policy");
    assert!(
        text.contains("cubbyhole/response") && text.contains("sys/wrapping/unwrap"),
        "{body}"
    );
    let (status, body) = root
        .put(
            "sys/policies/acl/response-wrapping",
            json!({"policy": r#"path "x" { capabilities = ["read"] }"#}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"errors": ["cannot update \"response-wrapping\" policy"]})
        )
    );
    let (status, body) = root.delete("sys/policies/acl/response-wrapping").await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"errors": ["cannot delete \"response-wrapping\" policy"]})
        )
    );
}
