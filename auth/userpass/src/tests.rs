//! Handler tests: requests built by hand, routed through the path table over in-memory storage.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use engine_sdk::{
    BackendConfig, EngineError, LeaseRequest, LogicalBackend, MountInfo, Op, Operation, PathRouter,
    Request, Response, Storage, StorageError, SystemClock, View,
};
use serde_json::{Map, Value, json};
use storage::{Backend as _, InMem};

use crate::backend::UserpassBackend;
use crate::password::Kdf;

/// A plaintext `Storage` straight over the in-memory backend (no barrier in unit tests).
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

struct Harness {
    backend: UserpassBackend,
    router: PathRouter,
    view: View,
    mount: MountInfo,
    remote: Option<SocketAddr>,
}

impl Harness {
    /// A backend with a cheap KDF, so tests do not spend seconds per hash.
    fn new() -> Self {
        Self::with_kdf(
            Kdf::with_iterations(1_000),
            View::new(Arc::new(Plain(InMem::new())), "auth/uuid-1/"),
        )
    }

    fn with_kdf(kdf: Kdf, view: View) -> Self {
        let backend = UserpassBackend {
            kdf,
            write_lock: Default::default(),
        };
        let router = PathRouter::new(backend.paths()).unwrap();
        Self {
            backend,
            router,
            view,
            mount: MountInfo {
                path: "auth/userpass/".into(),
                kind: "userpass".into(),
                ..MountInfo::default()
            },
            remote: Some("127.0.0.1:50000".parse().unwrap()),
        }
    }

    /// Routes like the core: 404 for no route, Create when the existence check says the target is new, 405 for
    /// an operation the spec does not serve.
    async fn call(&self, op: Operation, path: &str, data: Value) -> Result<Response, EngineError> {
        let route = self
            .router
            .route(path)
            .ok_or_else(|| EngineError::UnsupportedPath(path.into()))?;
        let data: Map<String, Value> = data.as_object().cloned().unwrap_or_default();
        let spec = self.backend.paths()[route.index];
        let req = |op| Request {
            id: "req-1",
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
        let resp = self.call(Operation::Read, path, json!({})).await?;
        Ok(resp.data.unwrap())
    }

    async fn list(&self, query: Value) -> Result<Vec<String>, EngineError> {
        let resp = self.call(Operation::List, "users/", query).await?;
        let keys = resp.data.unwrap()["keys"].clone();
        Ok(serde_json::from_value(keys).unwrap())
    }

    async fn login(&self, user: &str, password: &str) -> Result<engine_sdk::Auth, EngineError> {
        let resp = self
            .write(&format!("login/{user}"), json!({ "password": password }))
            .await?;
        assert!(resp.data.is_none(), "login answers with auth only");
        Ok(resp.auth.unwrap())
    }

    async fn renew(&self, internal: Map<String, Value>) -> Result<Response, EngineError> {
        self.backend
            .renew(LeaseRequest {
                lease_id: "auth/userpass/login/alice/h123",
                kind: "",
                internal: &internal,
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

fn invalid_msg(r: Result<impl std::fmt::Debug, EngineError>) -> String {
    match r {
        Err(EngineError::InvalidRequest(m)) => m,
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[tokio::test]
async fn create_read_list_delete() {
    let h = Harness::new();
    let created = h
        .write(
            "users/alice",
            json!({"password": "s3cret", "token_policies": "dev,ops", "token_ttl": "1h",
                   "token_max_ttl": "2h", "token_bound_cidrs": ["127.0.0.1/32", "10.0.0.0/8"]}),
        )
        .await
        .unwrap();
    assert!(created.is_empty(), "a write answers 204");
    h.write("users/bob", json!({"password": "pw"}))
        .await
        .unwrap();

    let alice = h.read("users/alice").await.unwrap();
    assert_eq!(
        Value::Object(alice.clone()),
        json!({
            "token_bound_cidrs": ["127.0.0.1", "10.0.0.0/8"],
            "token_explicit_max_ttl": 0,
            "token_max_ttl": 7200,
            "token_no_default_policy": false,
            "token_num_uses": 0,
            "token_period": 0,
            "token_policies": ["dev", "ops"],
            "token_strictly_bind_ip": false,
            "token_ttl": 3600,
            "token_type": "default",
        })
    );
    let shown = serde_json::to_string(&alice).unwrap();
    assert!(!shown.contains("password") && !shown.contains("s3cret") && !shown.contains("salt"));

    assert_eq!(h.list(json!({})).await.unwrap(), vec!["alice", "bob"]);

    assert!(
        h.call(Operation::Delete, "users/bob", json!({}))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        h.read("users/bob").await,
        Err(EngineError::NotFound)
    ));
    assert_eq!(h.list(json!({})).await.unwrap(), vec!["alice"]);
    // Deleting again is not an error.
    h.call(Operation::Delete, "users/bob", json!({}))
        .await
        .unwrap();

    h.call(Operation::Delete, "users/alice", json!({}))
        .await
        .unwrap();
    assert!(matches!(
        h.list(json!({})).await,
        Err(EngineError::NotFound)
    ));
}

#[tokio::test]
async fn list_pages_with_after_and_limit() {
    let h = Harness::new();
    for u in ["a", "b", "c", "d"] {
        h.write(&format!("users/{u}"), json!({"password": "pw"}))
            .await
            .unwrap();
    }
    assert_eq!(h.list(json!({"after": "b"})).await.unwrap(), vec!["c", "d"]);
    assert_eq!(h.list(json!({"limit": "2"})).await.unwrap(), vec!["a", "b"]);
    assert_eq!(
        h.list(json!({"after": "a", "limit": "1"})).await.unwrap(),
        vec!["b"]
    );
    assert_eq!(h.list(json!({"limit": "-1"})).await.unwrap().len(), 4);
    assert!(h.list(json!({"limit": "x"})).await.is_err());
}

#[tokio::test]
async fn updates_keep_unsent_fields_and_password() {
    let h = Harness::new();
    h.write(
        "users/alice",
        json!({"password": "pw", "token_policies": "dev", "token_ttl": 60}),
    )
    .await
    .unwrap();
    h.write("users/alice", json!({"token_num_uses": 5}))
        .await
        .unwrap();
    let d = h.read("users/alice").await.unwrap();
    assert_eq!(d["token_policies"], json!(["dev"]));
    assert_eq!(d["token_ttl"], json!(60));
    assert_eq!(d["token_num_uses"], json!(5));
    h.login("alice", "pw").await.unwrap();
}

#[tokio::test]
async fn usernames_are_lower_cased_and_validated() {
    let h = Harness::new();
    h.write("users/Mary", json!({"password": "pw"}))
        .await
        .unwrap();
    h.read("users/mary").await.unwrap();
    h.read("users/MARY").await.unwrap();
    assert_eq!(h.list(json!({})).await.unwrap(), vec!["mary"]);
    let auth = h.login("MaRy", "pw").await.unwrap();
    assert_eq!(auth.display_name, "mary");
    // A name outside the allowed characters matches no route, as in OpenBao.
    for bad in ["users/-x", "users/x.", "users/a*b"] {
        assert!(
            matches!(
                h.write(bad, json!({"password": "pw"})).await,
                Err(EngineError::UnsupportedPath(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        h.login("-x", "pw").await,
        Err(EngineError::UnsupportedPath(_))
    ));
}

#[tokio::test]
async fn create_needs_a_password() {
    let h = Harness::new();
    let msg = invalid_msg(h.write("users/alice", json!({"token_ttl": 60})).await);
    assert_eq!(msg, "must provide either password or password_hash");
    assert!(matches!(
        h.read("users/alice").await,
        Err(EngineError::NotFound)
    ));
    let msg = invalid_msg(
        h.write("users/alice", json!({"password_hash": "$2a$10$abc"}))
            .await,
    );
    assert!(msg.contains("password_hash is not supported"), "{msg}");
    let msg = invalid_msg(
        h.write(
            "users/alice",
            json!({"password": "pw", "password_hash": "$2a$10$abc"}),
        )
        .await,
    );
    assert_eq!(msg, "only one of password or password_hash may be provided");
}

#[tokio::test]
async fn login_returns_auth_from_token_fields() {
    let h = Harness::new();
    h.write(
        "users/alice",
        json!({"password": "pw", "token_policies": ["dev", "ops"], "token_ttl": "1h",
               "token_max_ttl": "4h", "token_period": 0, "token_explicit_max_ttl": "8h",
               "token_num_uses": 3, "token_no_default_policy": true, "token_type": "service",
               "token_bound_cidrs": "127.0.0.0/8"}),
    )
    .await
    .unwrap();
    let auth = h.login("alice", "pw").await.unwrap();
    assert_eq!(auth.display_name, "alice");
    assert_eq!(auth.policies, vec!["dev", "ops"]);
    assert_eq!(
        auth.metadata.get("username").map(String::as_str),
        Some("alice")
    );
    assert_eq!(auth.ttl, Duration::from_secs(3600));
    assert_eq!(auth.max_ttl, Duration::from_secs(4 * 3600));
    assert_eq!(auth.explicit_max_ttl, Duration::from_secs(8 * 3600));
    assert_eq!(auth.period, Duration::ZERO);
    assert_eq!(auth.num_uses, 3);
    assert!(auth.no_default_policy);
    assert!(auth.renewable);
    assert_eq!(auth.token_type, "service");
    assert_eq!(auth.bound_cidrs, vec!["127.0.0.0/8"]);
    assert_eq!(auth.alias.as_ref().map(|a| a.name.as_str()), Some("alice"));
    assert_eq!(auth.internal.get("username"), Some(&json!("alice")));

    // Defaults: the mount's token type, no CIDRs, unlimited uses.
    h.write("users/bob", json!({"password": "pw"}))
        .await
        .unwrap();
    let auth = h.login("bob", "pw").await.unwrap();
    assert_eq!(auth.token_type, "");
    assert!(auth.policies.is_empty() && auth.bound_cidrs.is_empty());
    assert_eq!((auth.ttl, auth.num_uses), (Duration::ZERO, 0));
}

#[tokio::test]
async fn bad_login_is_the_same_400_for_unknown_user_and_wrong_password() {
    let h = Harness::new();
    h.write("users/alice", json!({"password": "right"}))
        .await
        .unwrap();
    let wrong = invalid_msg(h.login("alice", "wrong").await);
    let unknown = invalid_msg(h.login("nobody", "right").await);
    assert_eq!(wrong, "invalid username or password");
    assert_eq!(wrong, unknown);
    assert_eq!(invalid_msg(h.login("alice", "").await), "missing password");
    assert_eq!(
        invalid_msg(h.write("login/alice", json!({})).await),
        "missing password"
    );
    // Login is a write only.
    assert!(matches!(
        h.call(Operation::Read, "login/alice", json!({})).await,
        Err(EngineError::UnsupportedOperation)
    ));
}

#[tokio::test]
async fn bound_cidrs_restrict_login() {
    let mut h = Harness::new();
    h.write(
        "users/alice",
        json!({"password": "pw", "token_bound_cidrs": "10.0.0.0/8"}),
    )
    .await
    .unwrap();
    assert!(matches!(
        h.login("alice", "pw").await,
        Err(EngineError::PermissionDenied)
    ));
    h.remote = Some("10.1.2.3:4000".parse().unwrap());
    h.login("alice", "pw").await.unwrap();
    h.remote = None;
    assert!(matches!(
        h.login("alice", "pw").await,
        Err(EngineError::PermissionDenied)
    ));

    h.remote = Some("192.0.2.7:4000".parse().unwrap());
    h.write(
        "users/bob",
        json!({"password": "pw", "token_strictly_bind_ip": true}),
    )
    .await
    .unwrap();
    assert_eq!(
        h.login("bob", "pw").await.unwrap().bound_cidrs,
        vec!["192.0.2.7"]
    );
}

#[tokio::test]
async fn password_change() {
    let h = Harness::new();
    h.write(
        "users/alice",
        json!({"password": "old", "token_policies": "dev"}),
    )
    .await
    .unwrap();
    h.write("users/alice/password", json!({"password": "new"}))
        .await
        .unwrap();
    assert!(h.login("alice", "old").await.is_err());
    assert_eq!(h.login("alice", "new").await.unwrap().policies, vec!["dev"]);
    // Via the main endpoint too.
    h.write("users/alice", json!({"password": "newer"}))
        .await
        .unwrap();
    h.login("alice", "newer").await.unwrap();

    assert_eq!(
        invalid_msg(h.write("users/alice/password", json!({})).await),
        "must provide either password or password_hash"
    );
    assert_eq!(
        invalid_msg(
            h.write("users/ghost/password", json!({"password": "x"}))
                .await
        ),
        "username does not exist"
    );
}

#[tokio::test]
async fn policies_endpoint() {
    let h = Harness::new();
    h.write(
        "users/alice",
        json!({"password": "pw", "token_policies": "dev"}),
    )
    .await
    .unwrap();
    h.write(
        "users/alice/policies",
        json!({"token_policies": "Ops, admin,ops"}),
    )
    .await
    .unwrap();
    assert_eq!(
        h.login("alice", "pw").await.unwrap().policies,
        vec!["admin", "ops"]
    );
    let d = h.read("users/alice").await.unwrap();
    assert!(!d.contains_key("policies"));

    // The deprecated name still works and is echoed back while used.
    h.write("users/alice/policies", json!({"policies": ["legacy"]}))
        .await
        .unwrap();
    let d = h.read("users/alice").await.unwrap();
    assert_eq!(d["token_policies"], json!(["legacy"]));
    assert_eq!(d["policies"], json!(["legacy"]));

    assert_eq!(
        invalid_msg(
            h.write("users/ghost/policies", json!({"token_policies": "x"}))
                .await
        ),
        "username does not exist"
    );
}

#[tokio::test]
async fn field_validation() {
    let h = Harness::new();
    let cases = [
        (
            json!({"password": "pw", "token_ttl": "forever"}),
            "token_ttl",
        ),
        (json!({"password": "pw", "ttl": "nope"}), "ttl"),
        (
            json!({"password": "pw", "token_ttl": -1}),
            "'token_ttl' cannot be negative",
        ),
        (
            json!({"password": "pw", "token_ttl": 100, "token_max_ttl": 10}),
            "greater than",
        ),
        (
            json!({"password": "pw", "token_type": "weird"}),
            "invalid 'token_type'",
        ),
        (
            json!({"password": "pw", "token_bound_cidrs": "300.0.0.1"}),
            "invalid address",
        ),
        (
            json!({"password": "pw", "token_num_uses": "many"}),
            "token_num_uses",
        ),
        (
            json!({"password": "pw", "token_type": "batch", "token_period": 60}),
            "periodic",
        ),
    ];
    for (data, want) in cases {
        let msg = invalid_msg(h.write("users/alice", data.clone()).await);
        assert!(msg.contains(want), "{data}: {msg}");
        assert!(
            matches!(h.read("users/alice").await, Err(EngineError::NotFound)),
            "{data}"
        );
    }
    // A bad update leaves the stored user untouched.
    h.write("users/alice", json!({"password": "pw", "token_ttl": 60}))
        .await
        .unwrap();
    invalid_msg(h.write("users/alice", json!({"token_ttl": "bad"})).await);
    invalid_msg(h.write("users/alice", json!({"token_max_ttl": 30})).await);
    assert_eq!(h.read("users/alice").await.unwrap()["token_ttl"], json!(60));
}

#[tokio::test]
async fn stored_record_is_versioned_and_holds_no_plaintext() {
    let h = Harness::new();
    h.write("users/alice", json!({"password": "plain-text-pw"}))
        .await
        .unwrap();
    let raw = h.view.get("user/alice").await.unwrap().unwrap();
    let text = String::from_utf8(raw).unwrap();
    assert!(!text.contains("plain-text-pw"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], json!(1));
    assert_eq!(v["password"]["version"], json!(1));
    assert_eq!(v["password"]["algorithm"], json!("pbkdf2-hmac-sha256"));
    assert_eq!(v["password"]["iterations"], json!(1_000));
    assert!(v["password"]["salt"].is_string() && v["password"]["hash"].is_string());
}

#[tokio::test]
async fn login_upgrades_a_weak_hash() {
    let storage: Arc<dyn Storage> = Arc::new(Plain(InMem::new()));
    let view = View::new(storage, "auth/uuid-1/");
    let weak = Harness::with_kdf(Kdf::with_iterations(1_000), view.clone());
    weak.write("users/alice", json!({"password": "pw"}))
        .await
        .unwrap();

    // The production work factor.
    let strong = Harness::with_kdf(Kdf::default(), view.clone());
    strong.login("alice", "pw").await.unwrap();
    let raw = view.get("user/alice").await.unwrap().unwrap();
    let v: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        v["password"]["iterations"],
        json!(crate::password::DEFAULT_ITERATIONS)
    );
}

#[tokio::test]
async fn renew_uses_current_settings() {
    let h = Harness::new();
    h.write(
        "users/alice",
        json!({"password": "pw", "token_ttl": 60, "token_policies": "dev"}),
    )
    .await
    .unwrap();
    let auth = h.login("alice", "pw").await.unwrap();
    h.write("users/alice", json!({"token_ttl": 120}))
        .await
        .unwrap();
    let renewed = h.renew(auth.internal.clone()).await.unwrap().auth.unwrap();
    assert_eq!(renewed.ttl, Duration::from_secs(120));
    assert_eq!(renewed.policies, vec!["dev"]);
    assert!(renewed.renewable);

    h.call(Operation::Delete, "users/alice", json!({}))
        .await
        .unwrap();
    assert_eq!(
        invalid_msg(h.renew(auth.internal).await),
        "user no longer exists, not renewing"
    );
    assert!(matches!(
        h.renew(Map::new()).await,
        Err(EngineError::NotRenewable)
    ));
}

#[tokio::test]
async fn factory_paths_and_special_paths() {
    let config = BackendConfig {
        mount: MountInfo::default(),
        storage: View::new(Arc::new(Plain(InMem::new())), "auth/x/"),
    };
    let backend = (crate::factory())(config).await.unwrap();
    engine_sdk::testing::exercise_engine(backend.as_ref());
    assert_eq!(backend.special_paths().unauthenticated, &["login/*"]);

    let h = Harness::new();
    engine_sdk::testing::exercise_engine(&h.backend);
    assert!(matches!(
        h.call(Operation::Patch, "users/alice", json!({})).await,
        Err(EngineError::UnsupportedOperation)
    ));
    assert!(matches!(
        h.call(Operation::Read, "nope", json!({})).await,
        Err(EngineError::UnsupportedPath(_))
    ));
}
