//! The kubernetes auth method against a real HTTPS TokenReview server (testkit's `FakeApiServer`): requests are
//! routed through the path table into the backend's `handle`, as the core would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use auth_kubernetes::{BackendOptions, new_backend};
use engine_sdk::{
    Auth, EngineError, LeaseRequest, LogicalBackend, MountInfo, Op, Operation, PathRouter, Request,
    Response, Storage, StorageError, SystemClock, View,
};
use serde_json::{Map, Value, json};
use storage::{Backend as _, InMem};
use testkit::k8s::{FakeApiServer, MintOpts, Mode};

/// A plaintext `Storage` straight over the in-memory backend (no barrier here).
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

const UID: &str = "6e1c2c2a-0d7b-4d35-9a66-3d4b2c1e0f9a";

struct Harness {
    backend: Arc<dyn LogicalBackend>,
    router: PathRouter,
    view: View,
    mount: MountInfo,
    remote: Option<SocketAddr>,
    _local: tempfile::TempDir,
}

impl Harness {
    /// A backend outside any pod (its local service-account directory is empty).
    fn new() -> Self {
        let local = tempfile::tempdir().unwrap();
        Self::with_local(local)
    }

    /// A backend whose pod-local service-account directory is `local`.
    fn with_local(local: tempfile::TempDir) -> Self {
        let backend = new_backend(BackendOptions {
            local_dir: local.path().to_path_buf(),
            reviewer: None,
        });
        let router = PathRouter::new(backend.paths()).unwrap();
        Self {
            backend,
            router,
            view: View::new(Arc::new(Plain(InMem::new())), "auth/uuid-k8s/"),
            mount: MountInfo {
                path: "auth/kubernetes/".into(),
                kind: "kubernetes".into(),
                max_lease_ttl: Duration::from_secs(32 * 24 * 3600),
                default_lease_ttl: Duration::from_secs(32 * 24 * 3600),
                ..MountInfo::default()
            },
            remote: Some("10.1.2.3:40000".parse().unwrap()),
            _local: local,
        }
    }

    async fn call(&self, op: Operation, path: &str, data: Value) -> Result<Response, EngineError> {
        let route = self
            .router
            .route(path)
            .ok_or_else(|| EngineError::UnsupportedPath(path.into()))?;
        let data: Map<String, Value> = data.as_object().cloned().unwrap_or_default();
        let spec = self.backend.paths()[route.index];
        let req = |op| Request {
            id: "req-k8s-1",
            operation: op,
            path,
            route: &route,
            data: &data,
            storage: &self.view,
            clock: &SystemClock,
            mount: &self.mount,
            caller: None,
            remote_addr: self.remote,
            system: &engine_sdk::testing::NoSystem,
        };
        let mut op = op;
        if op == Operation::Update && spec.existence_check && !self.backend.exists(req(op)).await? {
            op = Operation::Create;
        }
        if !spec.ops.contains(&op) {
            return Err(EngineError::UnsupportedOperation);
        }
        self.backend.handle(req(op)).await
    }

    async fn write(&self, path: &str, data: Value) -> Result<Response, EngineError> {
        self.call(Operation::Update, path, data).await
    }

    async fn read(&self, path: &str) -> Result<Map<String, Value>, EngineError> {
        Ok(self
            .call(Operation::Read, path, json!({}))
            .await?
            .data
            .unwrap())
    }

    /// Configures the mount for `api` with its CA and reviewer JWT, plus `extra` fields.
    async fn configure(&self, api: &FakeApiServer, extra: Value) {
        let mut data = json!({
            "kubernetes_host": api.url(),
            "kubernetes_ca_cert": api.ca_pem(),
            "token_reviewer_jwt": api.reviewer_jwt(),
        });
        for (k, v) in extra.as_object().unwrap() {
            data[k] = v.clone();
        }
        self.write("config", data).await.unwrap();
    }

    /// The usual role: `app*` in `prod`, audience `vault`, policies `dev, ops`.
    async fn role(&self, name: &str, extra: Value) {
        let mut data = json!({
            "bound_service_account_names": "app*",
            "bound_service_account_namespaces": "prod",
            "audience": "vault",
            "token_policies": "dev,ops",
            "token_ttl": "1h",
        });
        for (k, v) in extra.as_object().unwrap() {
            data[k] = v.clone();
        }
        self.write(&format!("role/{name}"), data).await.unwrap();
    }

    async fn login(&self, role: &str, jwt: &str) -> Result<Auth, EngineError> {
        let resp = self
            .write("login", json!({"role": role, "jwt": jwt}))
            .await?;
        assert!(resp.data.is_none(), "login answers with auth only");
        Ok(resp.auth.unwrap())
    }

    async fn renew(&self, internal: &Map<String, Value>) -> Result<Response, EngineError> {
        self.backend
            .renew(LeaseRequest {
                lease_id: "auth/kubernetes/login/h123",
                kind: "",
                internal,
                increment: None,
                issue_time: SystemTime::now(),
                storage: &self.view,
                clock: &SystemClock,
                mount: &self.mount,
                system: &engine_sdk::testing::NoSystem,
            })
            .await
    }
}

/// The reason code of a refused login.
fn denied(r: Result<Auth, EngineError>) -> String {
    match r {
        Err(EngineError::Denied { reason }) => reason,
        other => panic!("expected a denied login, got {other:?}"),
    }
}

fn invalid(r: Result<Response, EngineError>) -> String {
    match r {
        Err(EngineError::InvalidRequest(m)) => m,
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

fn invalid_login(r: Result<Auth, EngineError>) -> String {
    match r {
        Err(EngineError::InvalidRequest(m)) => m,
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

fn app_token(api: &FakeApiServer) -> String {
    api.mint(
        "prod",
        "app",
        UID,
        MintOpts::projected()
            .audience("vault")
            .pod("app-7d9f", "pod-uid-1"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_token_logs_in_with_role_policies_metadata_and_alias() {
    let api = FakeApiServer::start();
    let h = Harness::new();
    h.configure(&api, json!({})).await;
    h.role("web", json!({})).await;
    let jwt = app_token(&api);

    let auth = h.login("web", &jwt).await.unwrap();
    assert_eq!(auth.policies, vec!["dev", "ops"]);
    assert_eq!(auth.ttl, Duration::from_secs(3600));
    assert!(auth.renewable);
    assert_eq!(auth.display_name, "prod-app");
    let meta: Vec<(&str, &str)> = auth
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        meta,
        vec![
            ("role", "web"),
            ("service_account_name", "app"),
            ("service_account_namespace", "prod"),
            ("service_account_secret_name", ""),
            ("service_account_uid", UID),
        ]
    );
    let alias = auth.alias.as_ref().unwrap();
    assert_eq!(alias.name, UID);
    let mut alias_meta = auth.metadata.clone();
    alias_meta.remove("role");
    assert_eq!(alias.metadata, alias_meta);
    assert_eq!(auth.internal["role"], json!("web"));

    // Exactly one review: the reviewer JWT as bearer, the client's token, the role's audience.
    let reviews = api.reviews();
    assert_eq!(reviews.len(), 1);
    assert_eq!(
        reviews[0].bearer.as_deref(),
        Some(api.reviewer_jwt().as_str())
    );
    assert_eq!(reviews[0].token, jwt);
    assert_eq!(reviews[0].audiences, vec!["vault"]);
    assert_eq!(reviews[0].status, 201);

    // ES256 tokens, other names matching the glob, and role names in any case work too.
    let es = api.mint(
        "prod",
        "app-worker",
        "uid-2",
        MintOpts::projected().audience("vault").es256(),
    );
    let auth = h.login("WEB", &es).await.unwrap();
    assert_eq!(auth.display_name, "prod-app-worker");
    assert_eq!(auth.metadata["role"], "WEB", "the role name as sent");
    assert_eq!(auth.internal["role"], json!("web"));
    // The keep-alive client is reused for every login.
    assert_eq!(api.reviews().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn bindings_and_local_checks_refuse_before_any_review() {
    let api = FakeApiServer::start();
    let h = Harness::new();
    h.configure(&api, json!({})).await;
    h.role("web", json!({})).await;

    let cases = [
        (
            api.mint(
                "staging",
                "app",
                UID,
                MintOpts::projected().audience("vault"),
            ),
            "namespace_not_authorized",
        ),
        (
            api.mint("prod", "db", UID, MintOpts::projected().audience("vault")),
            "service_account_name_not_authorized",
        ),
        (
            api.mint("prod", "app", UID, MintOpts::projected().audience("other")),
            "audience_mismatch",
        ),
        (
            api.mint(
                "prod",
                "app",
                UID,
                MintOpts::projected().audience("vault").expired(),
            ),
            "jwt_expired",
        ),
        ("not.a.jwt".to_owned(), "jwt_malformed"),
    ];
    for (jwt, reason) in cases {
        assert_eq!(denied(h.login("web", &jwt).await), reason);
    }
    assert!(
        api.reviews().is_empty(),
        "no review for a locally refused token"
    );

    // Source address outside the role's bound CIDRs.
    h.role("cidr", json!({"token_bound_cidrs": "192.168.0.0/16"}))
        .await;
    assert_eq!(
        denied(h.login("cidr", &app_token(&api)).await),
        "source_address_not_allowed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pem_keys_verify_signatures_locally() {
    let api = FakeApiServer::start();
    let other = FakeApiServer::start();
    let h = Harness::new();
    h.configure(
        &api,
        json!({"pem_keys": [api.public_key_pem(), api.ec_public_key_pem()]}),
    )
    .await;
    h.role("web", json!({})).await;

    h.login("web", &app_token(&api)).await.unwrap();
    let es = api.mint(
        "prod",
        "app",
        UID,
        MintOpts::projected().audience("vault").es256(),
    );
    h.login("web", &es).await.unwrap();

    // Another cluster's token: refused locally, never sent to the API server.
    let foreign = other.mint("prod", "app", UID, MintOpts::projected().audience("vault"));
    let before = api.reviews().len();
    assert_eq!(denied(h.login("web", &foreign).await), "jwt_bad_signature");
    assert_eq!(api.reviews().len(), before);
    // A forged payload with a valid signature segment is refused too.
    let good = app_token(&api);
    let mut parts: Vec<&str> = good.split('.').collect();
    let forged_payload = other
        .mint("prod", "app", UID, MintOpts::projected().audience("vault"))
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    parts[1] = &forged_payload;
    assert_eq!(
        denied(h.login("web", &parts.join(".")).await),
        "jwt_bad_signature"
    );

    // A rotated key is unknown until pem_keys lists it; a certificate works as a pem_keys entry.
    api.rotate_key();
    let rotated = app_token(&api);
    assert_eq!(denied(h.login("web", &rotated).await), "jwt_bad_signature");
    h.configure(&api, json!({"pem_keys": [api.signing_cert_pem()]}))
        .await;
    h.login("web", &rotated).await.unwrap();
    h.configure(&api, json!({"pem_keys": api.public_keys_pem()}))
        .await;
    h.login("web", &rotated).await.unwrap();
    h.login("web", &es).await.unwrap();

    // Without pem_keys the signature is left to the API server, which refuses the foreign token.
    h.configure(&api, json!({})).await;
    assert_eq!(denied(h.login("web", &foreign).await), "not_authenticated");
}

#[tokio::test(flavor = "multi_thread")]
async fn review_refusals_have_precise_reasons() {
    let api = FakeApiServer::start();
    let h = Harness::new();
    h.configure(&api, json!({})).await;
    h.role("web", json!({})).await;
    let jwt = app_token(&api);

    // The service account was deleted: the review says not authenticated.
    api.delete_service_account("prod", "app");
    assert_eq!(denied(h.login("web", &jwt).await), "not_authenticated");
    let other_sa = api.mint(
        "prod",
        "app2",
        "uid-3",
        MintOpts::projected().audience("vault"),
    );
    h.login("web", &other_sa).await.unwrap();

    for (mode, reason) in [
        (Mode::Unauthorized401, "reviewer_unauthorized"),
        (Mode::Forbidden403, "reviewer_forbidden"),
        (Mode::Error500, "review_http_status"),
    ] {
        api.set_mode(mode);
        assert_eq!(denied(h.login("web", &other_sa).await), reason, "{mode:?}");
    }
    api.set_mode(Mode::Normal);
    h.login("web", &other_sa).await.unwrap();

    // A real 401: the configured reviewer JWT belongs to another cluster.
    let other = FakeApiServer::start();
    h.configure(&api, json!({"token_reviewer_jwt": other.reviewer_jwt()}))
        .await;
    assert_eq!(
        denied(h.login("web", &other_sa).await),
        "reviewer_unauthorized"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn client_jwt_is_the_bearer_without_a_reviewer() {
    let api = FakeApiServer::start();
    let h = Harness::new();
    h.write(
        "config",
        json!({"kubernetes_host": api.url(), "kubernetes_ca_cert": api.ca_pem()}),
    )
    .await
    .unwrap();
    h.role("web", json!({})).await;
    let jwt = app_token(&api);

    // The client's own service account lacks the tokenreviews grant: a real 403.
    assert_eq!(denied(h.login("web", &jwt).await), "reviewer_forbidden");
    api.grant_review("prod", "app");
    h.login("web", &jwt).await.unwrap();
    let last = api.reviews().pop().unwrap();
    assert_eq!(last.bearer.as_deref(), Some(jwt.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn api_server_down_is_review_connect() {
    let mut api = FakeApiServer::start();
    let h = Harness::new();
    h.configure(&api, json!({})).await;
    h.role("web", json!({})).await;
    let jwt = app_token(&api);
    h.login("web", &jwt).await.unwrap();

    api.stop();
    let started = Instant::now();
    assert_eq!(denied(h.login("web", &jwt).await), "review_connect");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hanging_api_server_costs_at_most_the_review_timeout() {
    let api = FakeApiServer::start();
    let h = Harness::new();
    h.configure(&api, json!({"review_timeout": "1s"})).await;
    h.role("web", json!({})).await;
    let jwt = app_token(&api);
    h.login("web", &jwt).await.unwrap();

    api.set_mode(Mode::Hang);
    let started = Instant::now();
    assert_eq!(denied(h.login("web", &jwt).await), "review_timeout");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(h.read("config").await.unwrap()["review_timeout"], json!(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn config_verify_reports_the_precise_failure() {
    let mut api = FakeApiServer::start();
    let other = FakeApiServer::start();
    let h = Harness::new();
    let base = json!({
        "kubernetes_host": api.url(),
        "kubernetes_ca_cert": api.ca_pem(),
        "token_reviewer_jwt": api.reviewer_jwt(),
        "verify": true,
    });
    let with = |k: &str, v: Value| {
        let mut d = base.clone();
        d[k] = v;
        d
    };

    // Wrong CA: a TLS failure, and nothing saved.
    let msg = invalid(
        h.write("config", with("kubernetes_ca_cert", json!(other.ca_pem())))
            .await,
    );
    assert!(msg.contains("(review_tls)"), "{msg}");
    assert!(matches!(h.read("config").await, Err(EngineError::NotFound)));

    // A reviewer JWT of another cluster: 401.
    let msg = invalid(
        h.write(
            "config",
            with("token_reviewer_jwt", json!(other.reviewer_jwt())),
        )
        .await,
    );
    assert!(msg.contains("(reviewer_unauthorized)"), "{msg}");

    // A reviewer without the tokenreviews grant: 403, with the API server's RBAC message.
    let plain = api.mint("prod", "app", UID, MintOpts::projected());
    let msg = invalid(
        h.write("config", with("token_reviewer_jwt", json!(plain)))
            .await,
    );
    assert!(
        msg.contains("(reviewer_forbidden)") && msg.contains("cannot create resource"),
        "{msg}"
    );

    // A host that does not resolve.
    let msg = invalid(
        h.write(
            "config",
            with(
                "kubernetes_host",
                json!("https://coffer-fake-apiserver.invalid:6443"),
            ),
        )
        .await,
    );
    assert!(msg.contains("(review_dns)"), "{msg}");

    // Good credentials: saved.
    h.write("config", base.clone()).await.unwrap();
    assert_eq!(
        h.read("config").await.unwrap()["kubernetes_host"],
        json!(api.url())
    );

    // Without any reviewer JWT only reachability and TLS are checked, with a warning.
    let resp = h
        .write(
            "config",
            json!({"kubernetes_host": api.url(), "kubernetes_ca_cert": api.ca_pem(), "verify": true}),
        )
        .await
        .unwrap();
    assert_eq!(resp.warnings.len(), 1, "{:?}", resp.warnings);

    // The server gone: connect failure.
    api.stop();
    let msg = invalid(h.write("config", base).await);
    assert!(msg.contains("(review_connect)"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_reviewer_jwt_is_never_read_back() {
    let api = FakeApiServer::start();
    let h = Harness::new();
    h.configure(&api, json!({"pem_keys": api.public_key_pem()}))
        .await;
    let d = h.read("config").await.unwrap();
    assert!(!d.contains_key("token_reviewer_jwt"));
    assert_eq!(d["token_reviewer_jwt_set"], json!(true));
    assert_eq!(d["kubernetes_host"], json!(api.url()));
    assert_eq!(d["kubernetes_ca_cert"], json!(api.ca_pem()));
    assert_eq!(d["pem_keys"].as_array().unwrap().len(), 1);
    assert_eq!(d["disable_iss_validation"], json!(true));
    assert_eq!(d["disable_local_ca_jwt"], json!(false));
    assert_eq!(d["issuer"], json!(""));
    assert_eq!(d["review_timeout"], json!(10));
    let text = serde_json::to_string(&d).unwrap();
    assert!(!text.contains(&api.reviewer_jwt()));

    // A write replaces the whole config (OpenBao): without the field the reviewer JWT is gone.
    h.write(
        "config",
        json!({"kubernetes_host": api.url(), "kubernetes_ca_cert": api.ca_pem()}),
    )
    .await
    .unwrap();
    assert_eq!(
        h.read("config").await.unwrap()["token_reviewer_jwt_set"],
        json!(false)
    );

    assert_eq!(
        invalid(h.write("config", json!({})).await),
        "no host provided"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_claims_token_works() {
    let api = FakeApiServer::start();
    let h = Harness::new();
    h.configure(&api, json!({"disable_iss_validation": false}))
        .await;
    h.role(
        "legacy",
        json!({"audience": "", "bound_service_account_names": "app"}),
    )
    .await;
    let mut opts = MintOpts::legacy();
    opts.secret_name = Some("app-token-pd21c".into());
    let jwt = api.mint("prod", "app", UID, opts);

    let auth = h.login("legacy", &jwt).await.unwrap();
    assert_eq!(
        auth.metadata["service_account_secret_name"],
        "app-token-pd21c"
    );
    assert_eq!(auth.metadata["service_account_uid"], UID);
    // No audience asked: the API server used its own.
    assert!(api.reviews()[0].audiences.is_empty());

    // Issuer validation is on: a projected token's issuer is not `kubernetes/serviceaccount`.
    let projected = api.mint("prod", "app", UID, MintOpts::projected());
    assert_eq!(
        denied(h.login("legacy", &projected).await),
        "jwt_issuer_mismatch"
    );
    h.configure(
        &api,
        json!({"disable_iss_validation": false, "issuer": api.issuer()}),
    )
    .await;
    h.login("legacy", &projected).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn renew_rereads_the_role() {
    let api = FakeApiServer::start();
    let h = Harness::new();
    h.configure(&api, json!({})).await;
    h.role("web", json!({})).await;
    let auth = h.login("web", &app_token(&api)).await.unwrap();
    let reviews = api.reviews().len();

    h.write(
        "role/web",
        json!({"token_policies": "ops", "token_ttl": "2h", "token_max_ttl": "4h"}),
    )
    .await
    .unwrap();
    let renewed = h.renew(&auth.internal).await.unwrap().auth.unwrap();
    assert_eq!(renewed.policies, vec!["ops"]);
    assert_eq!(renewed.ttl, Duration::from_secs(7200));
    assert_eq!(renewed.max_ttl, Duration::from_secs(4 * 3600));
    assert!(renewed.renewable);
    assert_eq!(api.reviews().len(), reviews, "renewal makes no TokenReview");

    h.call(Operation::Delete, "role/web", json!({}))
        .await
        .unwrap();
    let msg = match h.renew(&auth.internal).await {
        Err(EngineError::InvalidRequest(m)) => m,
        other => panic!("{other:?}"),
    };
    assert_eq!(msg, "role \"web\" does not exist during renewal");
    assert!(matches!(
        h.renew(&Map::new()).await,
        Err(EngineError::NotRenewable)
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn alias_from_name_and_audience_defaults() {
    let api = FakeApiServer::start();
    let h = Harness::new();
    h.configure(&api, json!({})).await;
    h.role(
        "byname",
        json!({"audience": "", "alias_name_source": "serviceaccount_name", "bound_service_account_namespaces": "*"}),
    )
    .await;
    // No role audience: the token's own audiences go into the review.
    let jwt = api.mint(
        "team-a",
        "app",
        UID,
        MintOpts::projected().audiences(&["x", "y"]),
    );
    let auth = h.login("byname", &jwt).await.unwrap();
    assert_eq!(auth.alias.unwrap().name, "team-a/app");
    assert_eq!(api.reviews()[0].audiences, vec!["x", "y"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn in_pod_defaults_use_the_local_ca_and_token() {
    let api = FakeApiServer::start();
    let local = tempfile::tempdir().unwrap();
    write_file(local.path(), "ca.crt", api.ca_pem());
    write_file(local.path(), "token", &api.reviewer_jwt());
    let h = Harness::with_local(local);
    h.write("config", json!({"kubernetes_host": api.url()}))
        .await
        .unwrap();
    assert_eq!(
        h.read("config").await.unwrap()["token_reviewer_jwt_set"],
        json!(false)
    );
    h.role("web", json!({})).await;
    h.login("web", &app_token(&api)).await.unwrap();
    assert_eq!(
        api.reviews()[0].bearer.as_deref(),
        Some(api.reviewer_jwt().as_str()),
        "the pod's token is the reviewer"
    );
    // verify=true uses the local credentials too.
    h.write(
        "config",
        json!({"kubernetes_host": api.url(), "verify": true}),
    )
    .await
    .unwrap();

    // disable_local_ca_jwt needs an explicit CA, and then the client's JWT is the bearer.
    assert!(
        invalid(
            h.write(
                "config",
                json!({"kubernetes_host": api.url(), "disable_local_ca_jwt": true})
            )
            .await
        )
        .contains("kubernetes_ca_cert must be given")
    );
    h.write(
        "config",
        json!({"kubernetes_host": api.url(), "kubernetes_ca_cert": api.ca_pem(), "disable_local_ca_jwt": true}),
    )
    .await
    .unwrap();
    assert_eq!(
        denied(h.login("web", &app_token(&api)).await),
        "reviewer_forbidden"
    );
}

fn write_file(dir: &Path, name: &str, content: &str) {
    std::fs::write(dir.join(name), content).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_crud_list_and_login_input_errors() {
    let h = Harness::new();
    assert!(matches!(
        h.call(Operation::List, "role/", json!({})).await,
        Err(EngineError::NotFound)
    ));
    h.role(
        "b-role",
        json!({"policies": "legacy", "ttl": 60, "period": "2m"}),
    )
    .await;
    h.role("a-role", json!({})).await;
    let keys = h
        .call(Operation::List, "role/", json!({}))
        .await
        .unwrap()
        .data
        .unwrap();
    assert_eq!(keys["keys"], json!(["a-role", "b-role"]));
    let keys = h
        .call(
            Operation::List,
            "role/",
            json!({"after": "a-role", "limit": 5}),
        )
        .await
        .unwrap()
        .data
        .unwrap();
    assert_eq!(keys["keys"], json!(["b-role"]));

    let d = h.read("role/b-role").await.unwrap();
    assert_eq!(d["bound_service_account_names"], json!(["app*"]));
    assert_eq!(d["bound_service_account_namespaces"], json!(["prod"]));
    assert_eq!(d["audience"], json!("vault"));
    assert_eq!(d["alias_name_source"], json!("serviceaccount_uid"));
    // Both names sent: the new one wins and the old one echoes it (OpenBao's upgrade rule).
    assert_eq!(d["token_policies"], json!(["dev", "ops"]));
    assert_eq!(d["policies"], json!(["dev", "ops"]));
    assert_eq!(
        (d["ttl"].clone(), d["token_ttl"].clone()),
        (json!(3600), json!(3600))
    );
    assert_eq!(d["period"], json!(120));
    assert_eq!(d["token_period"], json!(120));

    // Updates keep what they do not send.
    h.write("role/a-role", json!({"token_ttl": 30}))
        .await
        .unwrap();
    let d = h.read("role/a-role").await.unwrap();
    assert_eq!(d["token_ttl"], json!(30));
    assert_eq!(d["bound_service_account_names"], json!(["app*"]));

    let msg = invalid(
        h.write("role/c", json!({"bound_service_account_namespaces": "x"}))
            .await,
    );
    assert_eq!(msg, "\"bound_service_account_names\" can not be empty");
    assert!(matches!(h.read("role/c").await, Err(EngineError::NotFound)));

    h.call(Operation::Delete, "role/a-role", json!({}))
        .await
        .unwrap();
    assert!(matches!(
        h.read("role/a-role").await,
        Err(EngineError::NotFound)
    ));

    assert_eq!(invalid_login(h.login("", "x").await), "missing role");
    assert_eq!(invalid_login(h.login("b-role", "").await), "missing jwt");
    assert_eq!(
        invalid_login(h.login("ghost", "x.y.z").await),
        "invalid role name \"ghost\""
    );
    // A role but no config yet.
    assert_eq!(denied(h.login("b-role", "x.y.z").await), "not_configured");

    assert_eq!(h.backend.special_paths().unauthenticated, &["login"]);
    engine_sdk::testing::exercise_engine(h.backend.as_ref());
}

#[tokio::test(flavor = "multi_thread")]
async fn factory_builds_a_backend() {
    let config = engine_sdk::BackendConfig {
        mount: MountInfo::default(),
        storage: View::new(Arc::new(Plain(InMem::new())), "auth/x/"),
    };
    let backend = (auth_kubernetes::factory())(config).await.unwrap();
    engine_sdk::testing::exercise_engine(backend.as_ref());
}
