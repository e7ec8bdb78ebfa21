//! AppRole handler tests: requests built by hand and routed through the path table over in-memory storage, with
//! a clock the tests move.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use engine_sdk::testing::ManualClock;
use engine_sdk::{
    Auth, BackendConfig, Clock, EngineError, LeaseRequest, LogicalBackend, MountInfo, Op,
    Operation, PathRouter, PeriodicRequest, Request, Response, Storage, StorageError, View,
};
use serde_json::{Map, Value, json};
use storage::testing::PlainMem;

/// Storage that yields to the scheduler before every operation, so concurrent requests really interleave.
struct Yielding(Arc<dyn Storage>);

#[async_trait::async_trait]
impl Storage for Yielding {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        tokio::task::yield_now().await;
        self.0.get(key).await
    }
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        tokio::task::yield_now().await;
        self.0.put(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        tokio::task::yield_now().await;
        self.0.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        tokio::task::yield_now().await;
        self.0.list(prefix).await
    }
    async fn batch(&self, ops: Vec<Op>) -> Result<(), StorageError> {
        tokio::task::yield_now().await;
        self.0.batch(ops).await
    }
}

struct Harness {
    backend: Arc<dyn LogicalBackend>,
    router: PathRouter,
    view: View,
    mount: MountInfo,
    clock: ManualClock,
    remote: Mutex<Option<SocketAddr>>,
}

impl Harness {
    async fn new() -> Self {
        Self::with_mount(MountInfo {
            path: "auth/approle/".into(),
            kind: "approle".into(),
            ..MountInfo::default()
        })
        .await
    }

    async fn with_mount(mount: MountInfo) -> Self {
        Self::with_storage(mount, PlainMem::shared()).await
    }

    async fn with_storage(mount: MountInfo, storage: Arc<dyn Storage>) -> Self {
        let view = View::new(storage, "auth/uuid-1/");
        let backend = (auth_approle::factory())(BackendConfig {
            mount: mount.clone(),
            storage: view.clone(),
        })
        .await
        .unwrap();
        let router = PathRouter::new(backend.paths()).unwrap();
        Self {
            backend,
            router,
            view,
            mount,
            clock: ManualClock::at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            remote: Mutex::new(Some("127.0.0.1:50000".parse().unwrap())),
        }
    }

    fn from(&self, addr: &str) {
        *self.remote.lock().unwrap() = Some(format!("{addr}:40000").parse().unwrap());
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
        let remote = *self.remote.lock().unwrap();
        let req = |op| Request {
            id: "req-1",
            operation: op,
            path,
            route: &route,
            data: &data,
            storage: &self.view,
            clock: &self.clock,
            mount: &self.mount,
            caller: None,
            remote_addr: remote,
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

    async fn data(&self, path: &str, body: Value) -> Map<String, Value> {
        self.write(path, body).await.unwrap().data.unwrap()
    }

    async fn list(&self, path: &str) -> Result<Vec<String>, EngineError> {
        let resp = self.call(Operation::List, path, json!({})).await?;
        Ok(serde_json::from_value(resp.data.unwrap()["keys"].clone()).unwrap())
    }

    async fn role_id(&self, role: &str) -> String {
        self.read(&format!("role/{role}/role-id")).await.unwrap()["role_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A new secret id for `role`: (secret_id, accessor).
    async fn secret(&self, role: &str, body: Value) -> (String, String) {
        let d = self.data(&format!("role/{role}/secret-id"), body).await;
        (
            d["secret_id"].as_str().unwrap().to_owned(),
            d["secret_id_accessor"].as_str().unwrap().to_owned(),
        )
    }

    async fn login(&self, role_id: &str, secret_id: &str) -> Result<Auth, EngineError> {
        let resp = self
            .write(
                "login",
                json!({ "role_id": role_id, "secret_id": secret_id }),
            )
            .await?;
        assert!(resp.data.is_none(), "login answers with auth only");
        Ok(resp.auth.unwrap())
    }

    async fn renew(&self, internal: &Map<String, Value>) -> Result<Response, EngineError> {
        self.backend
            .renew(LeaseRequest {
                lease_id: "auth/approle/login/h123",
                kind: "",
                internal,
                increment: None,
                issue_time: self.clock.now(),
                storage: &self.view,
                clock: &self.clock,
                mount: &self.mount,
                system: &engine_sdk::testing::NoSystem,
            })
            .await
    }

    /// Every stored key (relative to the mount) with its value.
    async fn dump(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut dirs = vec![String::new()];
        while let Some(dir) = dirs.pop() {
            for k in self.view.list(&dir).await.unwrap() {
                let full = format!("{dir}{k}");
                if full.ends_with('/') {
                    dirs.push(full);
                } else {
                    let v = self.view.get(&full).await.unwrap().unwrap();
                    out.push((full, v));
                }
            }
        }
        out
    }
}

fn invalid_msg(r: Result<impl std::fmt::Debug, EngineError>) -> String {
    match r {
        Err(EngineError::InvalidRequest(m)) => m,
        other => panic!("expected a 400, got {other:?}"),
    }
}

const BAD_CREDS: &str = "invalid role or secret ID";

#[tokio::test]
async fn login_issues_auth_with_role_and_secret_metadata() {
    let h = Harness::new().await;
    h.write(
        "role/MyApp",
        json!({"token_policies": "dev,ops", "token_ttl": "10m", "token_max_ttl": "1h"}),
    )
    .await
    .unwrap();
    let role_id = h.role_id("myapp").await;
    assert_eq!(role_id.len(), 36, "a UUID by default");
    let (secret, _) = h
        .secret("myapp", json!({"metadata": "{\"tag1\": \"production\"}"}))
        .await;

    let auth = h.login(&role_id, &secret).await.unwrap();
    assert_eq!(auth.policies, vec!["dev", "ops"]);
    assert_eq!(auth.ttl, Duration::from_secs(600));
    assert_eq!(auth.max_ttl, Duration::from_secs(3600));
    assert!(auth.renewable);
    assert_eq!(auth.metadata["role_name"], "myapp");
    assert_eq!(auth.metadata["tag1"], "production");
    let alias = auth.alias.clone().unwrap();
    assert_eq!(alias.name, role_id);
    assert_eq!(alias.metadata, auth.metadata);
    assert_eq!(auth.internal["role_name"], json!("myapp"));

    // Whitespace around the credentials is ignored, as in OpenBao.
    h.login(&format!(" {role_id} "), &format!("{secret}\n"))
        .await
        .unwrap();
}

#[tokio::test]
async fn every_credential_mismatch_looks_the_same() {
    let h = Harness::new().await;
    h.write("role/a", json!({})).await.unwrap();
    h.write("role/b", json!({})).await.unwrap();
    let (rid_a, rid_b) = (h.role_id("a").await, h.role_id("b").await);
    let (sec_a, _) = h.secret("a", json!({})).await;
    let (sec_b, _) = h.secret("b", json!({})).await;

    let cases = [
        (rid_a.clone(), "not-a-secret".to_owned()),
        ("not-a-role".to_owned(), sec_a.clone()),
        (rid_a.clone(), sec_b.clone()),
        (rid_b.clone(), sec_a.clone()),
        (rid_a.clone(), "x".repeat(5000)),
        ("y".repeat(5000), sec_a.clone()),
    ];
    for (rid, sec) in cases {
        assert_eq!(invalid_msg(h.login(&rid, &sec).await), BAD_CREDS);
    }
    h.write("role/a/secret-id/destroy", json!({ "secret_id": sec_a }))
        .await
        .unwrap();
    assert_eq!(invalid_msg(h.login(&rid_a, &sec_a).await), BAD_CREDS);
    h.login(&rid_b, &sec_b).await.unwrap();

    assert_eq!(
        invalid_msg(h.write("login", json!({"secret_id": sec_b})).await),
        "missing role_id"
    );
    assert_eq!(
        invalid_msg(h.write("login", json!({ "role_id": rid_b })).await),
        "missing secret_id"
    );
}

#[tokio::test]
async fn secret_id_uses_run_out() {
    let h = Harness::new().await;
    h.write("role/ci", json!({"secret_id_num_uses": 2}))
        .await
        .unwrap();
    let rid = h.role_id("ci").await;
    let (sec, acc) = h.secret("ci", json!({})).await;
    h.login(&rid, &sec).await.unwrap();
    let d = h
        .data(
            "role/ci/secret-id-accessor/lookup",
            json!({"secret_id_accessor": acc}),
        )
        .await;
    assert_eq!(d["secret_id_num_uses"], json!(1));
    h.login(&rid, &sec).await.unwrap();
    assert_eq!(invalid_msg(h.login(&rid, &sec).await), BAD_CREDS);
    // The last use deleted it, accessor included.
    assert!(matches!(
        h.list("role/ci/secret-id/").await,
        Err(EngineError::NotFound)
    ));
    assert!(matches!(
        h.write(
            "role/ci/secret-id-accessor/lookup",
            json!({"secret_id_accessor": acc})
        )
        .await,
        Err(EngineError::NotFound)
    ));

    // A secret id may narrow the role's limit, never lift it.
    let (one, _) = h.secret("ci", json!({"num_uses": 1})).await;
    h.login(&rid, &one).await.unwrap();
    assert_eq!(invalid_msg(h.login(&rid, &one).await), BAD_CREDS);
    for n in [0, 3] {
        assert_eq!(
            invalid_msg(h.write("role/ci/secret-id", json!({ "num_uses": n })).await),
            "num_uses cannot be higher than the role's secret_id_num_uses"
        );
    }
    assert_eq!(
        invalid_msg(h.write("role/ci/secret-id", json!({"num_uses": -1})).await),
        "num_uses cannot be negative"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_never_exceed_the_use_limit() {
    let storage: Arc<dyn Storage> = Arc::new(Yielding(PlainMem::shared()));
    let h = Arc::new(Harness::with_storage(MountInfo::default(), storage).await);
    h.write("role/ci", json!({"secret_id_num_uses": 3}))
        .await
        .unwrap();
    let rid = h.role_id("ci").await;
    let (sec, _) = h.secret("ci", json!({})).await;
    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let (h, rid, sec) = (h.clone(), rid.clone(), sec.clone());
            tokio::spawn(async move { h.login(&rid, &sec).await.is_ok() })
        })
        .collect();
    let mut ok = 0;
    for a in attempts {
        if a.await.unwrap() {
            ok += 1;
        }
    }
    assert_eq!(ok, 3);
}

#[tokio::test]
async fn expired_secret_ids_are_refused_and_removed() {
    let h = Harness::new().await;
    h.write("role/svc", json!({"secret_id_ttl": "1m"}))
        .await
        .unwrap();
    let rid = h.role_id("svc").await;
    let (sec, acc) = h.secret("svc", json!({})).await;
    let d = h
        .data("role/svc/secret-id/lookup", json!({ "secret_id": sec }))
        .await;
    assert_eq!(d["secret_id_ttl"], json!(60));
    assert_eq!(d["secret_id_accessor"], json!(acc));
    assert_ne!(d["expiration_time"], json!("0001-01-01T00:00:00Z"));

    h.clock.advance(Duration::from_secs(59));
    h.login(&rid, &sec).await.unwrap();
    h.clock.advance(Duration::from_secs(2));
    assert_eq!(invalid_msg(h.login(&rid, &sec).await), BAD_CREDS);
    // Refused and gone.
    assert!(matches!(
        h.list("role/svc/secret-id/").await,
        Err(EngineError::NotFound)
    ));
    assert!(
        h.write("role/svc/secret-id/lookup", json!({ "secret_id": sec }))
            .await
            .unwrap()
            .is_empty()
    );

    // A shorter ttl per secret id is fine, a longer or unlimited one is not.
    let d = h.data("role/svc/secret-id", json!({"ttl": 30})).await;
    assert_eq!(d["secret_id_ttl"], json!(30));
    for ttl in [json!(0), json!("2m")] {
        assert_eq!(
            invalid_msg(h.write("role/svc/secret-id", json!({ "ttl": ttl })).await),
            "ttl cannot be longer than the role's secret_id_ttl"
        );
    }
}

#[tokio::test]
async fn mount_max_lease_ttl_caps_secret_id_ttl() {
    let h = Harness::with_mount(MountInfo {
        max_lease_ttl: Duration::from_secs(3600),
        ..MountInfo::default()
    })
    .await;
    h.write("role/svc", json!({"secret_id_ttl": "2h"}))
        .await
        .unwrap();
    let d = h.data("role/svc/secret-id", json!({})).await;
    assert_eq!(d["secret_id_ttl"], json!(3600));
    assert!(
        invalid_msg(h.write("role/svc", json!({"token_period": "2h"})).await)
            .contains("greater than the backend's maximum lease TTL")
    );
    let resp = h
        .write("role/svc", json!({"token_max_ttl": "2h"}))
        .await
        .unwrap();
    assert_eq!(resp.warnings.len(), 1, "{:?}", resp.warnings);
}

#[tokio::test]
async fn cidr_bindings_on_role_and_secret_id() {
    let h = Harness::new().await;
    h.write(
        "role/net",
        json!({"secret_id_bound_cidrs": "10.0.0.0/8", "token_bound_cidrs": ["10.0.0.0/8"],
               "secret_id_num_uses": 5}),
    )
    .await
    .unwrap();
    let rid = h.role_id("net").await;
    let (sec, acc) = h
        .secret(
            "net",
            json!({"cidr_list": "10.1.0.0/16", "token_bound_cidrs": "10.1.2.0/24"}),
        )
        .await;

    h.from("127.0.0.1");
    assert_eq!(
        invalid_msg(h.login(&rid, &sec).await),
        "source address \"127.0.0.1\" unauthorized by CIDR restrictions on the secret ID"
    );
    h.from("10.2.0.1");
    assert!(invalid_msg(h.login(&rid, &sec).await).contains("on the secret ID"));
    // Refused logins spent no use.
    let d = h
        .data(
            "role/net/secret-id-accessor/lookup",
            json!({"secret_id_accessor": acc}),
        )
        .await;
    assert_eq!(d["secret_id_num_uses"], json!(5));
    assert_eq!(d["cidr_list"], json!(["10.1.0.0/16"]));

    h.from("10.1.9.9");
    let auth = h.login(&rid, &sec).await.unwrap();
    assert_eq!(
        auth.bound_cidrs,
        vec!["10.1.2.0/24"],
        "the secret id's token blocks win"
    );

    // A secret id without its own blocks: the role's apply, and its tokens get the role's blocks.
    let (plain, _) = h.secret("net", json!({})).await;
    h.from("192.0.2.1");
    assert_eq!(
        invalid_msg(h.login(&rid, &plain).await),
        "source address \"192.0.2.1\" unauthorized by CIDR restrictions on the role"
    );
    h.from("10.200.0.1");
    assert_eq!(
        h.login(&rid, &plain).await.unwrap().bound_cidrs,
        vec!["10.0.0.0/8"]
    );
    *h.remote.lock().unwrap() = None;
    assert_eq!(
        invalid_msg(h.login(&rid, &plain).await),
        "failed to get connection information"
    );

    // Blocks outside the role's are refused at issue time.
    for body in [
        json!({"cidr_list": "192.168.0.0/16"}),
        json!({"cidr_list": "0.0.0.0/0"}),
        json!({"token_bound_cidrs": "11.0.0.1"}),
    ] {
        assert!(
            invalid_msg(h.write("role/net/secret-id", body).await)
                .starts_with("failed to verify subset relationship"),
        );
    }
    assert!(
        invalid_msg(
            h.write("role/net/secret-id", json!({"cidr_list": "10.0.0.0/99"}))
                .await
        )
        .starts_with("failed to validate CIDR blocks")
    );
}

#[tokio::test]
async fn secret_id_lookup_list_and_destroy() {
    let h = Harness::new().await;
    h.write("role/app", json!({})).await.unwrap();
    let rid = h.role_id("app").await;
    let (s1, a1) = h
        .secret("app", json!({"metadata": "{\"env\":\"prod\"}"}))
        .await;
    let (s2, a2) = h.secret("app", json!({})).await;

    let by_id = h
        .data("role/app/secret-id/lookup", json!({ "secret_id": s1 }))
        .await;
    let by_acc = h
        .data(
            "role/app/secret-id-accessor/lookup",
            json!({ "secret_id_accessor": a1 }),
        )
        .await;
    assert_eq!(by_id, by_acc);
    assert_eq!(by_id["metadata"], json!({"env": "prod"}));
    assert_eq!(by_id["secret_id_num_uses"], json!(0));
    assert_eq!(by_id["expiration_time"], json!("0001-01-01T00:00:00Z"));
    assert_eq!(by_id["creation_time"], json!("2023-11-14T22:13:20Z"));
    for key in ["cidr_list", "token_bound_cidrs", "last_updated_time"] {
        assert!(by_id.contains_key(key), "{key}");
    }
    assert!(!by_id.contains_key("secret_id"));

    let mut want = vec![a1.clone(), a2.clone()];
    want.sort();
    assert_eq!(h.list("role/app/secret-id/").await.unwrap(), want);

    // Unknown secret id: 204; unknown accessor: 404; an accessor of another role is unknown here.
    assert!(
        h.write("role/app/secret-id/lookup", json!({"secret_id": "nope"}))
            .await
            .unwrap()
            .is_empty()
    );
    h.write("role/other", json!({})).await.unwrap();
    assert!(matches!(
        h.write(
            "role/other/secret-id-accessor/lookup",
            json!({ "secret_id_accessor": a1 })
        )
        .await,
        Err(EngineError::NotFound)
    ));
    assert!(
        invalid_msg(
            h.write(
                "role/other/secret-id-accessor/destroy",
                json!({ "secret_id_accessor": a1 })
            )
            .await
        )
        .starts_with("failed to find accessor entry")
    );
    assert_eq!(
        invalid_msg(
            h.write("role/ghost/secret-id/lookup", json!({ "secret_id": s1 }))
                .await
        ),
        "role \"ghost\" does not exist"
    );
    assert_eq!(
        invalid_msg(h.write("role/app/secret-id/lookup", json!({})).await),
        "missing secret_id"
    );

    h.write(
        "role/app/secret-id-accessor/destroy",
        json!({ "secret_id_accessor": a1 }),
    )
    .await
    .unwrap();
    assert_eq!(invalid_msg(h.login(&rid, &s1).await), BAD_CREDS);
    h.login(&rid, &s2).await.unwrap();
    h.call(
        Operation::Delete,
        "role/app/secret-id/destroy",
        json!({ "secret_id": s2 }),
    )
    .await
    .unwrap();
    assert_eq!(invalid_msg(h.login(&rid, &s2).await), BAD_CREDS);
    assert!(matches!(
        h.list("role/app/secret-id/").await,
        Err(EngineError::NotFound)
    ));
}

#[tokio::test]
async fn tidy_removes_expired_and_dangling_entries() {
    let h = Harness::new().await;
    h.write("role/t", json!({"secret_id_ttl": 60}))
        .await
        .unwrap();
    h.write("role/keep", json!({})).await.unwrap();
    let rid = h.role_id("keep").await;
    h.secret("t", json!({})).await;
    h.secret("t", json!({})).await;
    let (kept, _) = h.secret("keep", json!({})).await;

    assert_eq!(
        h.view.list("secret_id/").await.unwrap().len(),
        2,
        "one folder per role"
    );
    h.clock.advance(Duration::from_secs(61));

    let resp = h.write("tidy/secret-id", json!({})).await.unwrap();
    assert_eq!(resp.status, Some(202));
    assert!(resp.warnings[0].starts_with("Tidy operation successfully started"));
    assert!(matches!(
        h.list("role/t/secret-id/").await,
        Err(EngineError::NotFound)
    ));
    assert_eq!(h.view.list("accessor/").await.unwrap().len(), 1);
    h.login(&rid, &kept).await.unwrap();

    // Dangling accessor (entry deleted underneath): the next tidy removes it.
    let dir = h.view.list("secret_id/").await.unwrap();
    let folder = format!("secret_id/{}", dir[0]);
    let entries = h.view.list(&folder).await.unwrap();
    h.view
        .delete(&format!("{folder}{}", entries[0]))
        .await
        .unwrap();
    h.backend
        .periodic(PeriodicRequest {
            storage: &h.view,
            clock: &h.clock,
            mount: &h.mount,
            system: &engine_sdk::testing::NoSystem,
        })
        .await
        .unwrap();
    assert!(h.view.list("accessor/").await.unwrap().is_empty());
    assert_eq!(h.backend.periodic_interval(), Some(Duration::from_secs(60)));
}

#[tokio::test]
async fn custom_secret_ids() {
    let h = Harness::new().await;
    h.write("role/push", json!({})).await.unwrap();
    let rid = h.role_id("push").await;
    let d = h
        .data(
            "role/push/custom-secret-id",
            json!({"secret_id": "my-chosen-secret", "num_uses": 2, "ttl": "10m"}),
        )
        .await;
    assert_eq!(d["secret_id"], json!("my-chosen-secret"));
    assert_eq!(d["secret_id_num_uses"], json!(2));
    assert_eq!(d["secret_id_ttl"], json!(600));
    assert!(d["secret_id_accessor"].is_string());
    h.login(&rid, "my-chosen-secret").await.unwrap();

    assert_eq!(
        invalid_msg(
            h.write(
                "role/push/custom-secret-id",
                json!({"secret_id": "my-chosen-secret"})
            )
            .await
        ),
        "SecretID is already registered"
    );
    assert_eq!(
        invalid_msg(h.write("role/push/custom-secret-id", json!({})).await),
        "missing secret_id"
    );
    // The same custom value on another role is a different secret id.
    h.write("role/push2", json!({})).await.unwrap();
    h.write(
        "role/push2/custom-secret-id",
        json!({"secret_id": "my-chosen-secret"}),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn role_without_secret_id_needs_bound_cidrs() {
    let h = Harness::new().await;
    assert_eq!(
        invalid_msg(h.write("role/open", json!({"bind_secret_id": false})).await),
        "at least one constraint should be enabled on the role"
    );
    h.write(
        "role/open",
        json!({"bind_secret_id": false, "secret_id_bound_cidrs": ["127.0.0.0/8"]}),
    )
    .await
    .unwrap();
    let rid = h.role_id("open").await;
    let auth = h
        .write("login", json!({ "role_id": rid }))
        .await
        .unwrap()
        .auth
        .unwrap();
    assert_eq!(auth.metadata.len(), 1);
    assert_eq!(auth.metadata["role_name"], "open");
    h.from("192.0.2.1");
    assert!(
        invalid_msg(h.write("login", json!({ "role_id": rid })).await)
            .contains("unauthorized by CIDR restrictions on the role")
    );
    assert_eq!(
        invalid_msg(h.write("role/open/secret-id", json!({})).await),
        "bind_secret_id is not set on the role"
    );
    // Removing the last constraint is refused.
    assert!(
        invalid_msg(
            h.call(
                Operation::Delete,
                "role/open/secret-id-bound-cidrs",
                json!({})
            )
            .await
        )
        .contains("at least one constraint")
    );
}

#[tokio::test]
async fn role_crud_list_and_role_id() {
    let h = Harness::new().await;
    assert!(matches!(h.list("role/").await, Err(EngineError::NotFound)));
    h.write(
        "role/b",
        json!({"role_id": "custom-b", "policies": "legacy", "period": 60}),
    )
    .await
    .unwrap();
    h.write("role/a", json!({"token_type": "batch"}))
        .await
        .unwrap();
    assert_eq!(h.list("role/").await.unwrap(), vec!["a", "b"]);

    let d = h.read("role/b").await.unwrap();
    assert_eq!(d["bind_secret_id"], json!(true));
    assert_eq!(d["secret_id_num_uses"], json!(0));
    assert_eq!(d["secret_id_ttl"], json!(0));
    assert_eq!(d["local_secret_ids"], json!(false));
    assert_eq!(d["secret_id_bound_cidrs"], json!([]));
    assert_eq!(d["token_policies"], json!(["legacy"]));
    assert_eq!(d["policies"], json!(["legacy"]));
    assert_eq!(d["period"], json!(60));
    assert_eq!(d["token_period"], json!(60));
    assert!(!d.contains_key("role_id"));
    assert_eq!(h.role_id("b").await, "custom-b");
    assert_eq!(
        h.read("role/a").await.unwrap()["token_type"],
        json!("batch")
    );

    // Role ids are unique across roles.
    assert_eq!(
        invalid_msg(
            h.write("role/a/role-id", json!({"role_id": "custom-b"}))
                .await
        ),
        "role_id already in use"
    );
    assert_eq!(
        invalid_msg(h.write("role/c", json!({"role_id": "custom-b"})).await),
        "role_id already in use"
    );
    assert!(matches!(h.read("role/c").await, Err(EngineError::NotFound)));

    // A new role id replaces the old one at once.
    let (sec, _) = h.secret("b", json!({})).await;
    h.write("role/b/role-id", json!({"role_id": "renamed-b"}))
        .await
        .unwrap();
    assert_eq!(invalid_msg(h.login("custom-b", &sec).await), BAD_CREDS);
    h.login("renamed-b", &sec).await.unwrap();
    assert_eq!(
        invalid_msg(h.write("role/b/role-id", json!({})).await),
        "missing role_id"
    );

    // local_secret_ids only at creation.
    h.write("role/loc", json!({"local_secret_ids": true}))
        .await
        .unwrap();
    assert_eq!(
        h.read("role/loc/local-secret-ids").await.unwrap()["local_secret_ids"],
        json!(true)
    );
    assert!(
        invalid_msg(
            h.write("role/loc", json!({"local_secret_ids": false}))
                .await
        )
        .contains("only be modified during role creation")
    );

    // Deleting a role takes its secret ids and role id with it; a re-created role does not inherit them.
    h.call(Operation::Delete, "role/b", json!({}))
        .await
        .unwrap();
    assert!(matches!(h.read("role/b").await, Err(EngineError::NotFound)));
    h.write("role/b", json!({"role_id": "renamed-b"}))
        .await
        .unwrap();
    assert_eq!(invalid_msg(h.login("renamed-b", &sec).await), BAD_CREDS);
    assert!(matches!(
        h.list("role/b/secret-id/").await,
        Err(EngineError::NotFound)
    ));

    // Invalid names match no route; other operations are 405.
    assert!(matches!(
        h.write("role/-bad", json!({})).await,
        Err(EngineError::UnsupportedPath(_))
    ));
    assert!(matches!(
        h.call(Operation::Patch, "role/a", json!({})).await,
        Err(EngineError::UnsupportedOperation)
    ));
}

#[tokio::test]
async fn per_field_paths() {
    let h = Harness::new().await;
    h.write("role/f", json!({})).await.unwrap();
    let cases: &[(&str, Value, &str, Value)] = &[
        (
            "policies",
            json!({"token_policies": "b,a"}),
            "token_policies",
            json!(["a", "b"]),
        ),
        (
            "secret-id-num-uses",
            json!({"secret_id_num_uses": 7}),
            "secret_id_num_uses",
            json!(7),
        ),
        (
            "secret-id-ttl",
            json!({"secret_id_ttl": "5m"}),
            "secret_id_ttl",
            json!(300),
        ),
        (
            "token-ttl",
            json!({"token_ttl": 60}),
            "token_ttl",
            json!(60),
        ),
        (
            "token-max-ttl",
            json!({"token_max_ttl": "2m"}),
            "token_max_ttl",
            json!(120),
        ),
        (
            "token-num-uses",
            json!({"token_num_uses": 4}),
            "token_num_uses",
            json!(4),
        ),
        (
            "secret-id-bound-cidrs",
            json!({"secret_id_bound_cidrs": "10.0.0.0/8"}),
            "secret_id_bound_cidrs",
            json!(["10.0.0.0/8"]),
        ),
        (
            "token-bound-cidrs",
            json!({"token_bound_cidrs": "10.1.0.0/16"}),
            "token_bound_cidrs",
            json!(["10.1.0.0/16"]),
        ),
        ("period", json!({"period": 90}), "token_period", json!(90)),
        (
            "bind-secret-id",
            json!({"bind_secret_id": false}),
            "bind_secret_id",
            json!(false),
        ),
    ];
    for (path, body, key, want) in cases {
        let p = format!("role/f/{path}");
        h.write(&p, body.clone()).await.unwrap();
        assert_eq!(&h.read(&p).await.unwrap()[*key], want, "{path}");
        assert_eq!(
            &h.read("role/f").await.unwrap()[*key],
            want,
            "{path} on the role"
        );
    }
    // Only the path's own field is taken.
    h.write(
        "role/f/token-ttl",
        json!({"token_ttl": 30, "token_num_uses": 99}),
    )
    .await
    .unwrap();
    assert_eq!(h.read("role/f").await.unwrap()["token_num_uses"], json!(4));
    assert_eq!(
        invalid_msg(h.write("role/f/token-ttl", json!({})).await),
        "missing token_ttl"
    );
    assert_eq!(
        invalid_msg(h.write("role/f/policies", json!({})).await),
        "missing token_policies"
    );
    assert!(
        invalid_msg(h.write("role/f/token-ttl", json!({"token_ttl": 500})).await)
            .contains("greater than")
    );
    let resp = h
        .call(Operation::Read, "role/f/bound-cidr-list", json!({}))
        .await
        .unwrap();
    assert_eq!(resp.data.unwrap()["bound_cidr_list"], json!(["10.0.0.0/8"]));
    assert_eq!(resp.warnings.len(), 1);

    // Delete resets to the default.
    h.call(Operation::Delete, "role/f/bind-secret-id", json!({}))
        .await
        .unwrap();
    h.call(Operation::Delete, "role/f/token-max-ttl", json!({}))
        .await
        .unwrap();
    h.call(Operation::Delete, "role/f/policies", json!({}))
        .await
        .unwrap();
    let d = h.read("role/f").await.unwrap();
    assert_eq!(d["bind_secret_id"], json!(true));
    assert_eq!(d["token_max_ttl"], json!(0));
    assert_eq!(d["token_policies"], json!([]));

    // Unknown roles: 404 on read, no route on update, nothing to do on delete.
    assert!(matches!(
        h.read("role/ghost/token-ttl").await,
        Err(EngineError::NotFound)
    ));
    assert!(matches!(
        h.write("role/ghost/token-ttl", json!({"token_ttl": 1}))
            .await,
        Err(EngineError::UnsupportedPath(_))
    ));
    assert!(
        h.call(Operation::Delete, "role/ghost/token-ttl", json!({}))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        h.write("role/f/local-secret-ids", json!({})).await,
        Err(EngineError::UnsupportedOperation)
    ));
}

#[tokio::test]
async fn renew_rereads_the_role() {
    let h = Harness::new().await;
    h.write("role/r", json!({"token_ttl": 60, "token_policies": "p1"}))
        .await
        .unwrap();
    let rid = h.role_id("r").await;
    let (sec, _) = h.secret("r", json!({})).await;
    let auth = h.login(&rid, &sec).await.unwrap();
    h.write(
        "role/r",
        json!({"token_ttl": 120, "token_max_ttl": 600, "token_period": 30}),
    )
    .await
    .unwrap();
    let renewed = h.renew(&auth.internal).await.unwrap().auth.unwrap();
    assert_eq!(renewed.ttl, Duration::from_secs(120));
    assert_eq!(renewed.max_ttl, Duration::from_secs(600));
    assert_eq!(renewed.period, Duration::from_secs(30));
    assert_eq!(renewed.policies, vec!["p1"]);
    assert!(renewed.renewable);

    h.call(Operation::Delete, "role/r", json!({}))
        .await
        .unwrap();
    assert_eq!(
        invalid_msg(h.renew(&auth.internal).await),
        "role \"r\" does not exist during renewal"
    );
    assert!(matches!(
        h.renew(&Map::new()).await,
        Err(EngineError::NotRenewable)
    ));
}

#[tokio::test]
async fn storage_never_holds_secret_ids_and_keys_never_hold_role_ids() {
    let h = Harness::new().await;
    h.write("role/s", json!({"role_id": "role-id-plain-text"}))
        .await
        .unwrap();
    let (sec, acc) = h.secret("s", json!({})).await;
    h.write(
        "role/s/custom-secret-id",
        json!({"secret_id": "custom-plain-secret"}),
    )
    .await
    .unwrap();
    h.login("role-id-plain-text", &sec).await.unwrap();
    let dump = h.dump().await;
    assert!(dump.iter().any(|(k, _)| k == "salt"));
    for (key, value) in &dump {
        let text = String::from_utf8_lossy(value);
        for secret in [sec.as_str(), "custom-plain-secret"] {
            assert!(!key.contains(secret) && !text.contains(secret), "{key}");
        }
        assert!(!key.contains("role-id-plain-text"), "{key}");
        assert!(!key.contains(&acc), "{key}");
    }
}

#[tokio::test]
async fn path_table_and_special_paths() {
    let h = Harness::new().await;
    engine_sdk::testing::exercise_engine(h.backend.as_ref());
    assert_eq!(h.backend.special_paths().unauthenticated, &["login"]);
    assert!(matches!(
        h.call(Operation::Read, "nope", json!({})).await,
        Err(EngineError::UnsupportedPath(_))
    ));
    assert!(matches!(
        h.call(Operation::Read, "login", json!({})).await,
        Err(EngineError::UnsupportedOperation)
    ));
}
