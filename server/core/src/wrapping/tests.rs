use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use super::*;
use engine_sdk::testing::ManualClock;

use crate::{CoreOptions, Standalone, Token};

/// A dev core (root token `root`) on `clock`.
async fn dev_core(clock: Arc<ManualClock>) -> Arc<Core> {
    let core = Core::new(
        Arc::new(storage::InMem::new()),
        Arc::new(Standalone::default()),
        CoreOptions {
            clock,
            ..CoreOptions::default()
        },
    )
    .await
    .unwrap();
    core.dev_init(Some("root")).await.unwrap();
    core
}

async fn core() -> Arc<Core> {
    dev_core(Arc::new(ManualClock::now_real())).await
}

fn req(op: Operation, path: &str, token: Option<&str>, data: Value) -> Request {
    let data = match data {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    Request {
        id: format!("req-{path}"),
        operation: op,
        path: path.into(),
        data,
        token: token.map(|t| Token(t.into())),
        remote_addr: None,
        wrap_ttl: None,
        headers: Default::default(),
    }
}

fn wrapped(mut r: Request, ttl: Duration) -> Request {
    r.wrap_ttl = Some(ttl);
    r
}

/// Wraps `data` through `sys/wrapping/wrap` as root.
async fn wrap_data(core: &Core, data: Value, ttl: Duration) -> WrapInfo {
    let resp = core
        .handle(wrapped(
            req(Operation::Update, "sys/wrapping/wrap", Some("root"), data),
            ttl,
        ))
        .await
        .unwrap();
    assert!(resp.data.is_none() && resp.auth.is_none(), "{resp:?}");
    resp.wrap_info.expect("wrap_info")
}

/// The unwrapped response as JSON.
fn unwrapped(resp: &Response) -> Value {
    let raw = resp.raw_json.as_ref().expect("raw response");
    serde_json::from_str(&raw.0).unwrap()
}

fn body_token(token: &str) -> Value {
    json!({ "token": token })
}

fn assert_invalid(result: Result<Response, CoreError>) {
    match result {
        Err(CoreError::InvalidRequest(m)) => assert_eq!(m, INVALID_TOKEN),
        other => panic!("expected an invalid wrapping token, got {other:?}"),
    }
}

fn assert_denied_with(result: Result<Response, CoreError>, message: &str) {
    match result {
        Err(CoreError::PermissionDeniedWith(m)) => assert_eq!(m, message),
        other => panic!("expected 403 {message:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn wraps_a_response_and_unwraps_it_once() {
    let core = core().await;
    core.handle(req(
        Operation::Update,
        "cubbyhole/x",
        Some("root"),
        json!({"a": "b"}),
    ))
    .await
    .unwrap();
    let plain = core
        .handle(req(Operation::Read, "cubbyhole/x", Some("root"), json!({})))
        .await
        .unwrap();
    assert!(plain.wrap_info.is_none(), "no wrapping unless asked");

    let resp = core
        .handle(wrapped(
            req(Operation::Read, "cubbyhole/x", Some("root"), json!({})),
            Duration::from_secs(300),
        ))
        .await
        .unwrap();
    assert!(resp.data.is_none() && resp.warnings.is_empty());
    let info = resp.wrap_info.clone().unwrap();
    assert!(info.token.starts_with("s."), "a service token");
    assert!(!info.accessor.is_empty());
    assert_eq!(info.ttl, 300);
    assert_eq!(info.creation_path, "cubbyhole/x");
    assert_eq!(info.wrapped_accessor, "");
    time::OffsetDateTime::parse(
        &info.creation_time,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    // The envelope is OpenBao's: only wrap_info, and an empty request id.
    let env = serde_json::to_value(resp.into_envelope("id".into())).unwrap();
    assert_eq!(env["request_id"], "");
    assert_eq!(env["data"], Value::Null);
    assert_eq!(env["wrap_info"]["ttl"], 300);

    // The wrapping token: one use, no renewal, no parent, the response-wrapping policy in effect.
    let u = core.unsealed().unwrap();
    let entry = u.tokens.lookup(&info.token).await.unwrap().unwrap();
    assert_eq!(
        (entry.num_uses, entry.renewable, entry.orphan(), entry.ttl),
        (1, false, true, 300)
    );
    assert_eq!(entry.explicit_max_ttl, 300);
    assert_eq!(entry.path, "cubbyhole/x");

    // Unwrapping with the wrapping token itself needs no other token and gives the response as it was.
    let out = core
        .handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            Some(&info.token),
            json!({}),
        ))
        .await
        .unwrap();
    let body = unwrapped(&out);
    assert_eq!(body["data"], json!({"a": "b"}));
    assert_eq!(body["request_id"], "req-cubbyhole/x");
    assert_eq!(body["wrap_info"], Value::Null);
    assert_eq!(body["lease_id"], "");

    // Single use.
    assert_invalid(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            Some(&info.token),
            json!({}),
        ))
        .await,
    );
    assert_invalid(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            Some("root"),
            body_token(&info.token),
        ))
        .await,
    );
    assert!(u.tokens.lookup(&info.token).await.unwrap().is_none());
}

#[tokio::test]
async fn lookup_and_third_party_unwrap() {
    let core = core().await;
    let info = wrap_data(
        &core,
        json!({"foo": "bar", "n": 1}),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(info.creation_path, "sys/wrapping/wrap");

    // Lookup needs no client token, and spends nothing.
    for r in [
        req(
            Operation::Update,
            "sys/wrapping/lookup",
            None,
            body_token(&info.token),
        ),
        req(
            Operation::Read,
            "sys/wrapping/lookup",
            Some(&info.token),
            json!({}),
        ),
        req(
            Operation::Read,
            "sys/wrapping/lookup",
            None,
            json!({"token": info.token}),
        ),
    ] {
        let data = core.handle(r).await.unwrap().data.unwrap();
        assert_eq!(
            Value::Object(data),
            json!({
                "creation_ttl": 60,
                "creation_time": info.creation_time,
                "creation_path": "sys/wrapping/wrap",
            })
        );
    }

    // Wrap TTLs are not capped by the token store's limits (OpenBao does not cap them either).
    let long = wrap_data(&core, json!({"a": 1}), Duration::from_secs(36_000_000)).await;
    assert_eq!(long.ttl, 36_000_000);
    let u = core.unsealed().unwrap();
    let entry = u.tokens.lookup(&long.token).await.unwrap().unwrap();
    assert_eq!(entry.ttl, 36_000_000);

    // Another token unwraps it by naming it in the body.
    let out = core
        .handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            Some("root"),
            body_token(&info.token),
        ))
        .await
        .unwrap();
    assert_eq!(unwrapped(&out)["data"], json!({"foo": "bar", "n": 1}));
    assert_invalid(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/lookup",
            None,
            body_token(&info.token),
        ))
        .await,
    );
}

#[tokio::test]
async fn wrap_endpoint_requires_wrapping() {
    let core = core().await;
    let err = core
        .handle(req(
            Operation::Update,
            "sys/wrapping/wrap",
            Some("root"),
            json!({"a": 1}),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::InvalidRequest(m) if m == "endpoint requires response wrapping to be used"),
        "{err:?}"
    );
    let zero = wrapped(
        req(
            Operation::Update,
            "sys/wrapping/wrap",
            Some("root"),
            json!({"a": 1}),
        ),
        Duration::ZERO,
    );
    assert!(matches!(
        core.handle(zero).await,
        Err(CoreError::InvalidRequest(_))
    ));
    assert!(matches!(
        core.handle(req(
            Operation::Read,
            "sys/wrapping/wrap",
            Some("root"),
            json!({})
        ))
        .await,
        Err(CoreError::UnsupportedOperation)
    ));
}

#[tokio::test]
async fn rewrap_replaces_the_token() {
    let core = core().await;
    let first = wrap_data(&core, json!({"k": "v"}), Duration::from_secs(120)).await;
    let resp = core
        .handle(req(
            Operation::Update,
            "sys/wrapping/rewrap",
            Some("root"),
            body_token(&first.token),
        ))
        .await
        .unwrap();
    let second = resp.wrap_info.unwrap();
    assert_ne!(second.token, first.token);
    assert_eq!(second.ttl, 120, "the original TTL");
    assert_eq!(
        second.creation_path, "sys/wrapping/wrap",
        "the original path"
    );
    assert_invalid(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/lookup",
            None,
            body_token(&first.token),
        ))
        .await,
    );
    let u = core.unsealed().unwrap();
    let entry = u.tokens.lookup(&second.token).await.unwrap().unwrap();
    assert_eq!(entry.path, "sys/wrapping/rewrap");

    // A shorter requested TTL wins; a longer one does not.
    let third = core
        .handle(wrapped(
            req(
                Operation::Update,
                "sys/wrapping/rewrap",
                Some("root"),
                body_token(&second.token),
            ),
            Duration::from_secs(30),
        ))
        .await
        .unwrap()
        .wrap_info
        .unwrap();
    assert_eq!(third.ttl, 30);
    let fourth = core
        .handle(wrapped(
            req(
                Operation::Update,
                "sys/wrapping/rewrap",
                Some("root"),
                body_token(&third.token),
            ),
            Duration::from_secs(300),
        ))
        .await
        .unwrap()
        .wrap_info
        .unwrap();
    assert_eq!(fourth.ttl, 30);
    let lookup = core
        .handle(req(
            Operation::Update,
            "sys/wrapping/lookup",
            None,
            body_token(&fourth.token),
        ))
        .await
        .unwrap()
        .data
        .unwrap();
    assert_eq!(lookup["creation_ttl"], 30);
    assert_eq!(lookup["creation_path"], "sys/wrapping/wrap");

    let out = core
        .handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            Some(&fourth.token),
            json!({}),
        ))
        .await
        .unwrap();
    let body = unwrapped(&out);
    assert_eq!(body["data"], json!({"k": "v"}));
    assert_eq!(
        body["request_id"], "req-sys/wrapping/wrap",
        "the stored response is kept as it was"
    );
}

#[tokio::test]
async fn wrapping_tokens_act_with_the_response_wrapping_policy() {
    let core = core().await;
    // Reading its cubbyhole directly works (with OpenBao's deprecation warning) and spends the token.
    let info = wrap_data(&core, json!({"x": 1}), Duration::from_secs(60)).await;
    let resp = core
        .handle(req(
            Operation::Read,
            "cubbyhole/response",
            Some(&info.token),
            json!({}),
        ))
        .await
        .unwrap();
    assert_eq!(resp.warnings, vec![CUBBYHOLE_READ_WARNING.to_owned()]);
    let stored: Value =
        serde_json::from_str(resp.data.unwrap()["response"].as_str().unwrap()).unwrap();
    assert_eq!(stored["data"], json!({"x": 1}));
    assert_invalid(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            Some(&info.token),
            json!({}),
        ))
        .await,
    );

    // Anything else is denied, and the attempt spends the token too.
    for (op, path) in [
        (Operation::Update, "sys/wrapping/rewrap"),
        (Operation::Read, "auth/token/lookup-self"),
        (Operation::Update, "cubbyhole/wrapinfo"),
    ] {
        let info = wrap_data(&core, json!({"x": 1}), Duration::from_secs(60)).await;
        let mut data = json!({});
        if path == "cubbyhole/wrapinfo" {
            data = json!({"creation_ttl": 1});
        }
        assert!(
            matches!(
                core.handle(req(op, path, Some(&info.token), data)).await,
                Err(CoreError::PermissionDenied)
            ),
            "{path}"
        );
        assert_invalid(
            core.handle(req(
                Operation::Update,
                "sys/wrapping/lookup",
                None,
                body_token(&info.token),
            ))
            .await,
        );
    }

    // A token without policies is not a wrapping token.
    let created = core
        .handle(req(
            Operation::Update,
            "auth/token/create",
            Some("root"),
            json!({"no_default_policy": true, "policies": []}),
        ))
        .await
        .unwrap();
    let bare = created.auth.unwrap()["client_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_invalid(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/lookup",
            None,
            body_token(&bare),
        ))
        .await,
    );
    assert!(matches!(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            Some(&bare),
            json!({}),
        ))
        .await,
        Err(CoreError::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn wrapping_token_validation() {
    let core = core().await;
    assert_denied_with(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/lookup",
            None,
            json!({}),
        ))
        .await,
        "error validating wrapping token: token is empty",
    );
    assert_denied_with(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            Some("root"),
            json!({"token": ""}),
        ))
        .await,
        "error validating wrapping token: empty token in request body",
    );
    assert_denied_with(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            Some("root"),
            json!({"token": 5}),
        ))
        .await,
        "error validating wrapping token: could not decode token in request body",
    );
    // Root is not a wrapping token; neither is garbage.
    assert_invalid(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            Some("root"),
            json!({}),
        ))
        .await,
    );
    assert_invalid(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/rewrap",
            Some("root"),
            body_token("s.garbage"),
        ))
        .await,
    );

    // Unwrapping on behalf of someone else needs a client token of one's own.
    let info = wrap_data(&core, json!({"x": 1}), Duration::from_secs(60)).await;
    assert!(matches!(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            None,
            body_token(&info.token),
        ))
        .await,
        Err(CoreError::PermissionDenied)
    ));
    // The token as client token and in the body: the pipeline spends it, the handler finds it spent (OpenBao
    // answers 500 too).
    assert!(matches!(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            Some(&info.token),
            body_token(&info.token),
        ))
        .await,
        Err(CoreError::Internal(_))
    ));
    assert_invalid(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/lookup",
            None,
            body_token(&info.token),
        ))
        .await,
    );
}

#[tokio::test]
async fn expired_wrapping_tokens_are_invalid() {
    let clock = Arc::new(ManualClock::now_real());
    let core = dev_core(clock.clone()).await;
    let info = wrap_data(&core, json!({"x": 1}), Duration::from_secs(10)).await;
    clock.advance(Duration::from_secs(9));
    core.handle(req(
        Operation::Update,
        "sys/wrapping/lookup",
        None,
        body_token(&info.token),
    ))
    .await
    .unwrap();
    clock.advance(Duration::from_secs(2));
    assert_invalid(
        core.handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            Some(&info.token),
            json!({}),
        ))
        .await,
    );
}

#[tokio::test]
async fn policies_bound_the_wrap_ttl() {
    let core = core().await;
    core.handle(req(
        Operation::Update,
        "sys/policies/acl/wrapmax",
        Some("root"),
        json!({"policy": r#"
            path "cubbyhole/*" {
                capabilities = ["create", "read", "update"]
                min_wrapping_ttl = "10s"
                max_wrapping_ttl = "90s"
            }"#}),
    ))
    .await
    .unwrap();
    let created = core
        .handle(req(
            Operation::Update,
            "auth/token/create",
            Some("root"),
            json!({"policies": ["wrapmax"]}),
        ))
        .await
        .unwrap();
    let token = created.auth.unwrap()["client_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The bounds apply to every operation the rule covers, writes included.
    let mut write = req(
        Operation::Update,
        "cubbyhole/x",
        Some(&token),
        json!({"a": "b"}),
    );
    write.wrap_ttl = Some(Duration::from_secs(60));
    assert!(core.handle(write).await.unwrap().is_empty());
    let read = |ttl: Option<u64>| {
        let mut r = req(Operation::Read, "cubbyhole/x", Some(&token), json!({}));
        r.wrap_ttl = ttl.map(Duration::from_secs);
        r
    };
    for ttl in [None, Some(0), Some(5), Some(300)] {
        assert!(
            matches!(
                core.handle(read(ttl)).await,
                Err(CoreError::PermissionDenied)
            ),
            "{ttl:?}"
        );
    }
    let info = core
        .handle(read(Some(60)))
        .await
        .unwrap()
        .wrap_info
        .unwrap();
    assert_eq!(info.ttl, 60);
}

#[tokio::test]
async fn wrapped_token_creation_names_the_wrapped_accessor() {
    let core = core().await;
    let resp = core
        .handle(wrapped(
            req(
                Operation::Update,
                "auth/token/create",
                Some("root"),
                json!({"policies": ["default"]}),
            ),
            Duration::from_secs(60),
        ))
        .await
        .unwrap();
    let info = resp.wrap_info.unwrap();
    assert!(!info.wrapped_accessor.is_empty());
    let out = core
        .handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            Some(&info.token),
            json!({}),
        ))
        .await
        .unwrap();
    let body = unwrapped(&out);
    assert_eq!(body["auth"]["accessor"], info.wrapped_accessor.as_str());
    let inner = body["auth"]["client_token"].as_str().unwrap();
    core.handle(req(
        Operation::Read,
        "auth/token/lookup-self",
        Some(inner),
        json!({}),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn empty_answers_and_listings() {
    let core = core().await;
    // A write answers 204: nothing to wrap.
    let resp = core
        .handle(wrapped(
            req(
                Operation::Update,
                "cubbyhole/a",
                Some("root"),
                json!({"v": 1}),
            ),
            Duration::from_secs(60),
        ))
        .await
        .unwrap();
    assert!(resp.is_empty() && resp.wrap_info.is_none());
    // A listing with keys is wrapped, and unwraps to the same listing.
    let resp = core
        .handle(wrapped(
            req(Operation::List, "cubbyhole/", Some("root"), json!({})),
            Duration::from_secs(60),
        ))
        .await
        .unwrap();
    let info = resp.wrap_info.unwrap();
    let out = core
        .handle(req(
            Operation::Update,
            "sys/wrapping/unwrap",
            Some("root"),
            body_token(&info.token),
        ))
        .await
        .unwrap();
    assert_eq!(unwrapped(&out)["data"]["keys"], json!(["a"]));

    let with = |data: Value, warnings: &[&str]| Response {
        data: data.as_object().cloned(),
        warnings: warnings.iter().map(|w| (*w).to_owned()).collect(),
        ..Response::default()
    };
    assert!(listing_has_content(&with(json!({"keys": ["a"]}), &[])));
    assert!(!listing_has_content(&with(json!({"keys": []}), &[])));
    assert!(!listing_has_content(&with(json!({"keys": "a"}), &[])));
    assert!(!listing_has_content(&with(json!({}), &[])));
    assert!(!listing_has_content(&Response::default()));
    assert!(listing_has_content(&with(json!({"other": 1}), &[])));
    assert!(listing_has_content(&with(json!({}), &["w"])));
}

#[tokio::test]
async fn response_wrapping_policy_is_built_in_and_fixed() {
    let core = core().await;
    let list = core
        .handle(req(
            Operation::List,
            "sys/policies/acl/",
            Some("root"),
            json!({}),
        ))
        .await
        .unwrap();
    assert_eq!(list.data.unwrap()["keys"], json!(["default", "root"]));
    let read = core
        .handle(req(
            Operation::Read,
            "sys/policies/acl/response-wrapping",
            Some("root"),
            json!({}),
        ))
        .await
        .unwrap();
    assert_eq!(
        read.data.unwrap()["policy"],
        policy::RESPONSE_WRAPPING_POLICY
    );
    let put = core
        .handle(req(
            Operation::Update,
            "sys/policies/acl/response-wrapping",
            Some("root"),
            json!({"policy": r#"path "x" { capabilities = ["read"] }"#}),
        ))
        .await;
    assert!(
        matches!(&put, Err(CoreError::InvalidRequest(m)) if m == "cannot update \"response-wrapping\" policy"),
        "{put:?}"
    );
    let delete = core
        .handle(req(
            Operation::Delete,
            "sys/policies/acl/response-wrapping",
            Some("root"),
            json!({}),
        ))
        .await;
    assert!(
        matches!(&delete, Err(CoreError::InvalidRequest(m)) if m == "cannot delete \"response-wrapping\" policy"),
        "{delete:?}"
    );
}

#[test]
fn helpers() {
    assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
    assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
    assert_eq!(whole_seconds(Duration::from_secs(300)), 300);
    assert_eq!(whole_seconds(Duration::ZERO), 1);
    let t = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 756_002_534);
    assert_eq!(crate::clock::rfc3339(t), "2023-11-14T22:13:20.756002534Z");
    let t = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 500_000_000);
    assert_eq!(crate::clock::rfc3339(t), "2023-11-14T22:13:20.5Z");
    assert_eq!(
        token_endpoint("sys/wrapping/unwrap"),
        Some(TokenEndpoint::Unwrap)
    );
    assert_eq!(
        token_endpoint("sys/wrapping/lookup/"),
        Some(TokenEndpoint::Lookup)
    );
    assert_eq!(token_endpoint("sys/wrapping/wrap"), None);
    assert_eq!(token_endpoint("secret/wrapping/unwrap"), None);
}
