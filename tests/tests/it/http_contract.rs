//! The HTTP contract, checked with raw requests: status codes and `{"errors": [...]}` bodies as OpenBao sends
//! them.

use serde_json::{Value, json};
use testkit::{Api, TestServer};

use crate::{errors, key_term, single_error};

const SEALED: &str = "Vault is sealed";
const DENIED: &str = "permission denied";

fn no_route(path: &str) -> Value {
    errors(&[&format!(
        "no handler for route \"{path}\". route entry not found."
    )])
}

/// `GET sys/health?query` → (status, body); `HEAD` → status, with an empty body asserted.
async fn health(api: &Api, query: &str) -> (u16, Value) {
    let path = if query.is_empty() {
        "sys/health".to_owned()
    } else {
        format!("sys/health?{query}")
    };
    let get = api.send("GET", &path, None, &[]).await;
    let head = api.send("HEAD", &path, None, &[]).await;
    assert_eq!(head.status, get.status, "HEAD and GET {path} disagree");
    assert!(
        head.body.is_empty(),
        "HEAD {path} must have no body, got {:?}",
        head.text()
    );
    (get.status, get.json)
}

#[tokio::test(flavor = "multi_thread")]
async fn health_codes_overrides_and_head_through_the_lifecycle() {
    let mut server = TestServer::durable().await;
    let anon = server.anon();

    // Uninitialized: 501 by default, overridable; a non-integer code is a 400 with an empty error list.
    let (status, body) = health(&anon, "").await;
    assert_eq!(status, 501, "{body}");
    assert_eq!(
        (body["initialized"].clone(), body["sealed"].clone()),
        (json!(false), json!(true)),
        "{body}"
    );
    assert_eq!(health(&anon, "uninitcode=200").await.0, 200);
    assert_eq!(health(&anon, "uninitcode=204").await.0, 204);
    let (status, body) = anon.get("sys/init").await;
    assert_eq!((status, body), (200, json!({"initialized": false})));

    // Initialized and sealed: 503 (sealed wins over the active code), overridable.
    let init = server.init(3, 2).await;
    let (status, body) = health(&anon, "").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        (body["initialized"].clone(), body["sealed"].clone()),
        (json!(true), json!(true)),
        "{body}"
    );
    assert_eq!(health(&anon, "sealedcode=200").await.0, 200);
    assert_eq!(
        health(&anon, "activecode=202").await.0,
        503,
        "activecode must not apply while sealed"
    );
    assert_eq!(
        health(&anon, "uninitcode=200").await.0,
        503,
        "uninitcode must not apply once initialized"
    );

    // Sealed: every authenticated path (known or not) is 503 "Vault is sealed".
    let api = server.api();
    for (method, path) in [
        ("GET", "sys/key-status"),
        ("PUT", "sys/rotate"),
        ("GET", "no/such/path"),
    ] {
        let (status, body) = api.call(method, path, None).await;
        assert_eq!(
            (status, body),
            (503, errors(&[SEALED])),
            "{method} {path} while sealed"
        );
    }

    // Unsealed and active: 200, overridable; standby overrides do not apply to the active node.
    server.unseal_with(&init.keys[..2]).await;
    let (status, body) = health(&anon, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["initialized"].clone(),
            body["sealed"].clone(),
            body["standby"].clone()
        ),
        (json!(true), json!(false), json!(false)),
        "{body}"
    );
    assert!(
        body["version"].is_string() && body["server_time_utc"].is_i64(),
        "{body}"
    );
    assert!(
        body["cluster_name"].is_string() && body["cluster_id"].is_string(),
        "{body}"
    );
    assert_eq!(health(&anon, "activecode=202").await.0, 202);
    assert_eq!(
        health(&anon, "standbycode=299&standbyok=false").await.0,
        200
    );
    assert_eq!(health(&anon, "sealedcode=299&uninitcode=299").await.0, 200);

    // sys/leader on the single raft node.
    let (status, leader) = anon.get("sys/leader").await;
    assert_eq!(status, 200, "{leader}");
    assert_eq!(
        (leader["ha_enabled"].clone(), leader["is_self"].clone()),
        (json!(true), json!(true)),
        "{leader}"
    );

    // Sealing needs a token; then health is 503 again.
    let (status, body) = anon.put("sys/seal", json!({})).await;
    assert_eq!((status, body), (403, errors(&[DENIED])));
    let r = api.send("PUT", "sys/seal", None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    assert_eq!(health(&anon, "").await.0, 503);
    let (status, body) = api.get("sys/key-status").await;
    assert_eq!((status, body), (503, errors(&[SEALED])));
    server.stop().await;
}

/// Every code parameter is parsed, whatever the state: a non-integer one is a 400 with an empty error list
/// (OpenBao's `respondError(w, 400, nil)`), on GET and HEAD.
async fn assert_bad_codes_rejected(anon: &Api, state: &str) {
    for bad in [
        "uninitcode=abc",
        "sealedcode=1.5",
        "standbycode=x",
        "activecode=",
        "activecode=200&sealedcode=oops",
    ] {
        let r = anon
            .send("GET", &format!("sys/health?{bad}"), None, &[])
            .await;
        // OpenBao answers 400 with an empty error list; Coffer names the parameter (a clear error for bad input).
        assert_eq!(r.status, 400, "{state}: GET sys/health?{bad}");
        let errors = r.json["errors"].as_array().cloned().unwrap_or_default();
        let param = bad.rsplit('&').next().unwrap().split('=').next().unwrap();
        assert!(
            errors.len() == 1 && errors[0].as_str().unwrap().contains(param),
            "{state}: GET sys/health?{bad}: {}",
            r.json
        );
        let h = anon
            .send("HEAD", &format!("sys/health?{bad}"), None, &[])
            .await;
        assert_eq!(h.status, 400, "{state}: HEAD sys/health?{bad}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn health_rejects_non_integer_codes_in_every_state() {
    let mut server = TestServer::durable().await;
    let anon = server.anon();
    assert_bad_codes_rejected(&anon, "uninitialized").await;
    let init = server.init(1, 1).await;
    assert_bad_codes_rejected(&anon, "sealed").await;
    server.unseal_with(&init.keys).await;
    assert_bad_codes_rejected(&anon, "active").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn init_rejects_bad_parameters_and_a_second_init() {
    let mut server = TestServer::durable().await;
    let anon = server.anon();

    let (status, body) = anon
        .post(
            "sys/init",
            json!({"secret_shares": 3, "secret_threshold": 5}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        errors(&["invalid seal configuration: threshold cannot be larger than shares"])
    );

    let (status, body) = anon
        .post(
            "sys/init",
            json!({"secret_shares": 0, "secret_threshold": 0}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        errors(&["invalid seal configuration: shares must be at least one"])
    );

    // A rejected init leaves the server uninitialized.
    assert_eq!(
        anon.get("sys/init").await,
        (200, json!({"initialized": false}))
    );

    let init = server.init(1, 1).await;
    assert_eq!(init.keys.len(), 1);
    assert_eq!(init.keys_base64.len(), 1);
    let (status, body) = anon
        .post(
            "sys/init",
            json!({"secret_shares": 1, "secret_threshold": 1}),
        )
        .await;
    assert_eq!(
        (status, body),
        (400, errors(&["Vault is already initialized"]))
    );
    assert_eq!(
        anon.get("sys/init").await,
        (200, json!({"initialized": true}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unseal_rejects_malformed_and_missing_keys() {
    let mut server = TestServer::durable().await;
    let init = server.init(3, 2).await;
    let anon = server.anon();

    let (status, body) = anon
        .post("sys/unseal", json!({"key": "this is not hex nor base64!"}))
        .await;
    assert_eq!(
        (status, body),
        (400, errors(&["'key' must be a valid hex or base64 string"]))
    );
    let (status, body) = anon.post("sys/unseal", json!({})).await;
    assert_eq!(
        (status, body),
        (
            400,
            errors(&["'key' must be specified in request body as JSON, or 'reset' set to true"])
        )
    );
    // Rejected input does not count towards the threshold.
    let (_, st) = anon.get("sys/seal-status").await;
    assert_eq!(
        (st["sealed"].clone(), st["progress"].clone()),
        (json!(true), json!(0)),
        "{st}"
    );

    // The seal-status shape on the way.
    let (status, st) = anon
        .post("sys/unseal", json!({"key": init.keys_base64[0]}))
        .await;
    assert_eq!(status, 200, "{st}");
    for field in [
        "type",
        "initialized",
        "sealed",
        "t",
        "n",
        "progress",
        "nonce",
        "version",
        "build_date",
        "commit_date",
        "storage_type",
    ] {
        assert!(st.get(field).is_some(), "seal status lacks {field}: {st}");
    }
    assert_eq!(
        (st["t"].clone(), st["n"].clone(), st["progress"].clone()),
        (json!(2), json!(3), json!(1)),
        "{st}"
    );
    assert_eq!(st["storage_type"], "raft", "{st}");
    assert!(
        st["nonce"].as_str().is_some_and(|n| !n.is_empty()),
        "an unseal in progress has a nonce: {st}"
    );

    // reset:true wins and clears the progress.
    let (status, st) = anon
        .post("sys/unseal", json!({"reset": true, "key": init.keys[1]}))
        .await;
    assert_eq!(status, 200, "{st}");
    assert_eq!(
        (st["sealed"].clone(), st["progress"].clone()),
        (json!(true), json!(0)),
        "{st}"
    );

    let st = server.unseal_with(&init.keys[1..]).await;
    assert_eq!(st["sealed"], false, "{st}");
    assert!(
        st["cluster_name"].is_string() && st["cluster_id"].is_string(),
        "unsealed status names the cluster: {st}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_via_header_or_bearer_and_denials() {
    let server = TestServer::dev().await;
    let api = server.api();
    let anon = server.anon();

    let (status, body) = anon.get("sys/key-status").await;
    assert_eq!((status, body), (403, errors(&[DENIED])), "no token");
    let (status, body) = api
        .with_token(Some("not-a-token"))
        .get("sys/key-status")
        .await;
    assert_eq!((status, body), (403, errors(&[DENIED])), "unknown token");

    let ok = anon
        .send(
            "GET",
            "sys/key-status",
            None,
            &[("Authorization", "Bearer root")],
        )
        .await;
    assert_eq!(ok.status, 200, "Bearer token: {}", ok.text());
    assert_eq!(ok.json["data"]["term"], 1, "{}", ok.text());
    let bad = anon
        .send(
            "GET",
            "sys/key-status",
            None,
            &[("Authorization", "Bearer nope")],
        )
        .await;
    assert_eq!(
        (bad.status, bad.json),
        (403, errors(&[DENIED])),
        "bad Bearer token"
    );
    // X-Vault-Token wins over Authorization when both are sent.
    let both = anon
        .send(
            "GET",
            "sys/key-status",
            None,
            &[("X-Vault-Token", "root"), ("Authorization", "Bearer nope")],
        )
        .await;
    assert_eq!(both.status, 200, "{}", both.text());
    let both = anon
        .send(
            "GET",
            "sys/key-status",
            None,
            &[("X-Vault-Token", "nope"), ("Authorization", "Bearer root")],
        )
        .await;
    assert_eq!((both.status, both.json), (403, errors(&[DENIED])));

    // Unknown paths: 404 for a valid token, 403 without one.
    assert_eq!(api.get("nope/thing").await, (404, no_route("nope/thing")));
    assert_eq!(
        api.delete("nope/thing").await,
        (404, no_route("nope/thing"))
    );
    assert_eq!(
        api.post("nope/thing", json!({"a": 1})).await,
        (404, no_route("nope/thing"))
    );
    assert_eq!(anon.get("nope/thing").await, (403, errors(&[DENIED])));
    assert_eq!(anon.list("nope/thing").await, (403, errors(&[DENIED])));
    assert_eq!(
        anon.get("nope/thing?list=true").await,
        (403, errors(&[DENIED]))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_on_an_unknown_path_is_404_naming_the_listed_route() {
    let server = TestServer::dev().await;
    let api = server.api();
    // OpenBao turns a list of `x` into a list of `x/` before routing, and the 404 names that path.
    assert_eq!(
        api.list("nope/thing").await,
        (404, no_route("nope/thing/")),
        "LIST verb"
    );
    assert_eq!(
        api.get("nope/thing?list=true").await,
        (404, no_route("nope/thing/")),
        "GET ?list=true"
    );
    assert_eq!(
        api.list("nope/thing/").await,
        (404, no_route("nope/thing/")),
        "LIST with a trailing slash"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keyring_endpoints() {
    let server = TestServer::dev().await;
    let api = server.api();

    let (status, ks) = api.get("sys/key-status").await;
    assert_eq!(status, 200, "{ks}");
    assert_eq!(ks["data"]["term"], 1, "{ks}");
    for field in ["term", "install_time", "encryptions"] {
        assert!(
            ks["data"].get(field).is_some(),
            "data.{field} missing: {ks}"
        );
        assert_eq!(
            ks.get(field),
            ks["data"].get(field),
            "{field} must also be copied to the top level: {ks}"
        );
    }

    for path in ["sys/rotate", "sys/rotate/keyring"] {
        let r = api.send("PUT", path, None, &[]).await;
        assert_eq!(r.status, 204, "PUT {path}: {}", r.text());
        assert!(r.body.is_empty(), "PUT {path} answers 204 with no body");
    }
    assert_eq!(key_term(&api).await, 3);
    let (status, body) = server.anon().put("sys/rotate", json!({})).await;
    assert_eq!((status, body), (403, errors(&[DENIED])));
    assert_eq!(key_term(&api).await, 3);

    let (status, cfg) = api.get("sys/rotate/keyring/config").await;
    assert_eq!(status, 200, "{cfg}");
    assert_eq!(
        cfg["data"]["max_operations"], 3_865_470_566_u64,
        "OpenBao's default: {cfg}"
    );
    assert_eq!(cfg["data"]["enabled"], true, "{cfg}");
    let r = api
        .send(
            "POST",
            "sys/rotate/keyring/config",
            Some(br#"{"max_operations": 2000000}"#.to_vec()),
            &[],
        )
        .await;
    assert!(
        r.status == 204 || r.status == 200,
        "POST sys/rotate/keyring/config: {} {}",
        r.status,
        r.text()
    );
    let (_, cfg) = api.get("sys/rotate/keyring/config").await;
    assert_eq!(cfg["data"]["max_operations"], 2_000_000, "{cfg}");

    // Malformed JSON on a logical path: 400 with one message.
    let r = api
        .send(
            "POST",
            "sys/rotate/keyring/config",
            Some(b"{\"max_operations\": ".to_vec()),
            &[],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    single_error(&r.json);

    // Step-down on a single node: 204, and the node becomes active again.
    let r = api.send("PUT", "sys/step-down", None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text());
    server.wait_active().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_400() {
    let mut server = TestServer::durable().await;
    let anon = server.anon();
    for (path, body) in [
        ("sys/init", "{\"secret_shares\": 1,"),
        ("sys/init", "[1, 2"),
        ("sys/unseal", "{key: 1}"),
    ] {
        let r = anon
            .send("POST", path, Some(body.as_bytes().to_vec()), &[])
            .await;
        assert_eq!(r.status, 400, "POST {path} {body:?}: {}", r.text());
        single_error(&r.json);
    }
    assert_eq!(
        anon.get("sys/init").await,
        (200, json!({"initialized": false}))
    );
    let init = server.init(1, 1).await;
    let r = anon
        .send("POST", "sys/unseal", Some(b"{\"key\": ".to_vec()), &[])
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    single_error(&r.json);
    server.unseal_with(&init.keys).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn body_over_max_request_size_is_413() {
    const LIMIT: usize = 2048;
    let mut server = TestServer::builder_durable()
        .listener_hcl(&format!("  max_request_size = {LIMIT}"))
        .start()
        .await
        .expect("server with a small max_request_size");
    let anon = server.anon();

    let padded = |n: usize| -> Vec<u8> {
        format!(
            "{{\"secret_shares\": 1, \"secret_threshold\": 1, \"pad\": \"{}\"}}",
            "x".repeat(n)
        )
        .into_bytes()
    };
    let big = padded(LIMIT * 2);
    assert!(big.len() > LIMIT);
    for path in ["sys/init", "sys/unseal"] {
        let r = anon.send("POST", path, Some(big.clone()), &[]).await;
        assert_eq!(
            r.status,
            413,
            "POST {path} with {} bytes: {}",
            big.len(),
            r.text()
        );
        single_error(&r.json);
    }
    // The oversized init was not processed; one under the limit is.
    assert_eq!(
        anon.get("sys/init").await,
        (200, json!({"initialized": false}))
    );
    let small = padded(100);
    assert!(small.len() < LIMIT);
    let r = anon.send("POST", "sys/init", Some(small), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let key = r.json["keys"][0].as_str().expect("key").to_owned();
    let root = r.json["root_token"].as_str().expect("root").to_owned();
    server.set_root_token(&root);
    server.unseal_with(&[key]).await;

    // Logical paths are limited too.
    let api = server.api();
    let mut big_cfg = b"{\"max_operations\": 2000000, \"pad\": \"".to_vec();
    big_cfg.extend(std::iter::repeat_n(b'y', LIMIT * 2));
    big_cfg.extend(b"\"}");
    let r = api
        .send("POST", "sys/rotate/keyring/config", Some(big_cfg), &[])
        .await;
    assert_eq!(r.status, 413, "{}", r.text());
    single_error(&r.json);
    let (_, cfg) = api.get("sys/rotate/keyring/config").await;
    assert_ne!(
        cfg["data"]["max_operations"], 2_000_000,
        "an oversized request must not be applied: {cfg}"
    );
}
