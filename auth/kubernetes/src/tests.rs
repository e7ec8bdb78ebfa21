//! Handler tests with a scripted reviewer, for the answers a well-behaved API server never gives (another
//! identity, other audiences, garbage), and for what a refusal writes to the log. The HTTPS path is covered by
//! tests/it against the fake API server.

use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use engine_sdk::{
    EngineError, LogicalBackend, MountInfo, Op, Operation, PathRouter, Request, Response, Storage,
    StorageError, SystemClock, View,
};
use serde_json::{Map, Value, json};
use storage::{Backend as _, InMem};

use crate::review::{ReviewError, ReviewRequest, ReviewStatus, TokenReviewer};
use crate::{BackendOptions, new_backend};

/// A plaintext `Storage` straight over the in-memory backend.
struct Plain(InMem);

#[async_trait]
impl Storage for Plain {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.get(key).await
    }
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.0.put(key, value.to_vec()).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.0.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.0.list(prefix).await
    }
    async fn batch(&self, ops: Vec<Op>) -> Result<(), StorageError> {
        self.0.batch(ops).await
    }
}

/// Answers every review with the scripted result.
#[derive(Debug)]
struct Scripted(Mutex<Result<ReviewStatus, ReviewError>>);

#[async_trait]
impl TokenReviewer for Scripted {
    async fn review(&self, _request: &ReviewRequest) -> Result<ReviewStatus, ReviewError> {
        self.0.lock().unwrap().clone()
    }
}

struct Harness {
    backend: Arc<dyn LogicalBackend>,
    reviewer: Arc<Scripted>,
    router: PathRouter,
    view: View,
    mount: MountInfo,
}

impl Harness {
    async fn new() -> Self {
        let reviewer = Arc::new(Scripted(Mutex::new(Ok(good_status()))));
        let backend = new_backend(BackendOptions {
            local_dir: "/nonexistent-coffer-test-dir".into(),
            reviewer: Some(reviewer.clone()),
        });
        let router = PathRouter::new(backend.paths()).unwrap();
        let h = Self {
            backend,
            reviewer,
            router,
            view: View::new(Arc::new(Plain(InMem::new())), "auth/u/"),
            mount: MountInfo {
                path: "auth/kubernetes/".into(),
                ..MountInfo::default()
            },
        };
        h.call(
            "config",
            json!({"kubernetes_host": "https://127.0.0.1:1", "token_reviewer_jwt": jwt("kube-system", "reviewer", "r-uid")}),
        )
        .await
        .unwrap();
        h.call(
            "role/web",
            json!({"bound_service_account_names": "app", "bound_service_account_namespaces": "prod", "token_policies": "dev"}),
        )
        .await
        .unwrap();
        h
    }

    async fn call(&self, path: &str, data: Value) -> Result<Response, EngineError> {
        let route = self.router.route(path).unwrap();
        let data: Map<String, Value> = data.as_object().cloned().unwrap();
        let op = if path == "login" || path == "config" {
            Operation::Update
        } else {
            Operation::Create
        };
        self.backend
            .handle(Request {
                id: "req-42",
                operation: op,
                path,
                route: &route,
                data: &data,
                storage: &self.view,
                clock: &SystemClock,
                mount: &self.mount,
                caller: None,
                remote_addr: None,
                system: &engine_sdk::testing::NoSystem,
            })
            .await
    }

    fn answer(&self, a: Result<ReviewStatus, ReviewError>) {
        *self.reviewer.0.lock().unwrap() = a;
    }

    async fn login(&self) -> Result<Response, EngineError> {
        self.call(
            "login",
            json!({"role": "web", "jwt": jwt("prod", "app", "uid-1")}),
        )
        .await
    }
}

/// An (unsigned, as no pem_keys are set) projected token.
fn jwt(namespace: &str, name: &str, uid: &str) -> String {
    let claims = json!({
        "aud": ["https://kubernetes.default.svc"],
        "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
    });
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(b"not-checked-without-pem-keys")
    )
}

fn good_status() -> ReviewStatus {
    ReviewStatus {
        authenticated: true,
        username: "system:serviceaccount:prod:app".into(),
        uid: "uid-1".into(),
        audiences: vec!["https://kubernetes.default.svc".into()],
        error: String::new(),
    }
}

fn reason(r: Result<Response, EngineError>) -> String {
    match r {
        Err(EngineError::Denied { reason }) => reason,
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[tokio::test]
async fn answers_a_real_api_server_never_gives() {
    let h = Harness::new().await;
    let auth = h.login().await.unwrap().auth.unwrap();
    assert_eq!(auth.policies, vec!["dev"]);

    let mut other_uid = good_status();
    other_uid.uid = "uid-2".into();
    h.answer(Ok(other_uid));
    assert_eq!(reason(h.login().await), "review_identity_mismatch");

    let mut other_aud = good_status();
    other_aud.audiences = vec!["elsewhere".into()];
    h.answer(Ok(other_aud));
    assert_eq!(reason(h.login().await), "review_audience_mismatch");

    h.answer(Err(ReviewError::BadResponse("not JSON".into())));
    assert_eq!(reason(h.login().await), "review_bad_response");
    h.answer(Err(ReviewError::Dns("no such host".into())));
    assert_eq!(reason(h.login().await), "review_dns");
}

/// Collects what the fmt subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_refusal_is_logged_with_request_id_and_reason_but_no_token() {
    let h = Harness::new().await;
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    h.answer(Err(ReviewError::Unauthorized("Unauthorized".into())));
    assert_eq!(reason(h.login().await), "reviewer_unauthorized");
    let log = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("req-42"), "{log}");
    assert!(log.contains("reviewer_unauthorized"), "{log}");
    assert!(log.contains("401"), "{log}");
    let token = jwt("prod", "app", "uid-1");
    let payload = token.split('.').nth(1).unwrap();
    assert!(
        !log.contains(payload),
        "the JWT must never be logged: {log}"
    );
}
