//! Drives the backend the way the core does: requests routed through the path table over in-memory storage,
//! leases renewed and revoked with the secret's internal data.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use engine_sdk::testing::ManualClock;
use engine_sdk::{
    BackendConfig, Caller, Clock, EngineError, LeaseRequest, LogicalBackend, MountInfo, Op,
    Operation, PathRouter, PeriodicRequest, Request, Response, Secret, Storage, StorageError,
    SystemView, View,
};
use serde_json::{Map, Value, json};

/// The plaintext side over the in-memory backend (no barrier here).
struct Plain(storage::InMem);

#[async_trait]
impl Storage for Plain {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        storage::Backend::get(&self.0, key).await
    }
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        storage::Backend::put(&self.0, key, value.to_vec()).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        storage::Backend::delete(&self.0, key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        storage::Backend::list(&self.0, prefix).await
    }
    async fn batch(&self, ops: Vec<Op>) -> Result<(), StorageError> {
        storage::Backend::batch(&self.0, ops).await
    }
}

/// The default password policy's shape: 20 characters of letters, digits and `-`, each class present.
pub struct TestSystem;

#[async_trait]
impl SystemView for TestSystem {
    async fn generate_password(&self, policy: &str) -> Result<String, EngineError> {
        if !policy.is_empty() {
            return Err(EngineError::InvalidRequest(format!(
                "unknown password policy {policy:?}"
            )));
        }
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
        loop {
            let bytes: Vec<u8> = (0..2)
                .flat_map(|_| *uuid::Uuid::new_v4().as_bytes())
                .collect();
            let pw: String = bytes
                .iter()
                .take(20)
                .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
                .collect();
            let classes = [
                pw.chars().any(|c| c.is_ascii_lowercase()),
                pw.chars().any(|c| c.is_ascii_uppercase()),
                pw.chars().any(|c| c.is_ascii_digit()),
                pw.contains('-'),
            ];
            if classes.iter().all(|c| *c) {
                return Ok(pw);
            }
        }
    }
}

/// One mounted database engine.
pub struct Harness {
    pub backend: Arc<dyn LogicalBackend>,
    router: PathRouter,
    pub view: View,
    pub mount: MountInfo,
    pub clock: ManualClock,
    caller: Caller,
}

impl Harness {
    pub async fn new() -> Self {
        let view = View::new(Arc::new(Plain(storage::InMem::new())), "logical/db-uuid/");
        let mount = MountInfo {
            path: "database/".into(),
            kind: "database".into(),
            uuid: "db-uuid".into(),
            accessor: "database_1234".into(),
            default_lease_ttl: Duration::from_secs(3600),
            max_lease_ttl: Duration::from_secs(24 * 3600),
            ..MountInfo::default()
        };
        let backend = (engine_database::factory())(BackendConfig {
            mount: mount.clone(),
            storage: view.clone(),
        })
        .await
        .unwrap();
        engine_sdk::testing::exercise_engine(backend.as_ref());
        let router = PathRouter::new(backend.paths()).unwrap();
        Self {
            backend,
            router,
            view,
            mount,
            clock: ManualClock::now_real(),
            caller: Caller {
                display_name: "token".into(),
                ..Caller::default()
            },
        }
    }

    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }

    /// Routes like the core: 404 for no route, Create when the existence check says the target is new, 405
    /// for an operation the spec does not serve.
    pub async fn call(
        &self,
        op: Operation,
        path: &str,
        data: Value,
    ) -> Result<Response, EngineError> {
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
            clock: &self.clock,
            mount: &self.mount,
            caller: Some(&self.caller),
            remote_addr: None,
            system: &TestSystem,
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

    pub async fn write(&self, path: &str, data: Value) -> Result<Response, EngineError> {
        self.call(Operation::Update, path, data).await
    }

    pub async fn read(&self, path: &str) -> Result<Map<String, Value>, EngineError> {
        let resp = self.call(Operation::Read, path, json!({})).await?;
        Ok(resp.data.unwrap_or_default())
    }

    pub async fn delete(&self, path: &str) -> Result<Response, EngineError> {
        self.call(Operation::Delete, path, json!({})).await
    }

    /// `creds/<role>` with its lease committed as the core does it (the pending record deleted): the user name,
    /// the password and the lease's secret.
    pub async fn creds(&self, role: &str) -> Result<Creds, EngineError> {
        let c = self.creds_unleased(role).await?;
        let key = c
            .secret
            .pending_key
            .as_deref()
            .expect("creds/ names a pending record");
        self.view.delete(key).await.unwrap();
        Ok(c)
    }

    /// `creds/<role>` as if the server crashed before committing the lease.
    pub async fn creds_unleased(&self, role: &str) -> Result<Creds, EngineError> {
        let resp = self
            .call(Operation::Read, &format!("creds/{role}"), json!({}))
            .await?;
        let data = resp.data.unwrap();
        let secret = resp.secret.unwrap();
        assert_eq!(secret.kind, "creds");
        assert!(secret.renewable);
        Ok(Creds {
            username: data["username"].as_str().unwrap().to_owned(),
            password: data["password"].as_str().unwrap().to_owned(),
            secret,
        })
    }

    fn lease<'a>(
        &'a self,
        secret: &'a Secret,
        increment: Option<Duration>,
        issued: SystemTime,
    ) -> LeaseRequest<'a> {
        LeaseRequest {
            lease_id: "database/creds/role/abc",
            kind: &secret.kind,
            internal: &secret.internal,
            increment,
            issue_time: issued,
            storage: &self.view,
            clock: &self.clock,
            mount: &self.mount,
            system: &TestSystem,
        }
    }

    pub async fn renew(
        &self,
        secret: &Secret,
        increment: Option<Duration>,
    ) -> Result<Response, EngineError> {
        let issued = self.clock.now();
        self.backend
            .renew(self.lease(secret, increment, issued))
            .await
    }

    pub async fn revoke(&self, secret: &Secret) -> Result<(), EngineError> {
        let issued = self.clock.now();
        self.backend.revoke(self.lease(secret, None, issued)).await
    }

    pub async fn periodic(&self) -> Result<(), EngineError> {
        self.backend
            .periodic(PeriodicRequest {
                storage: &self.view,
                clock: &self.clock,
                mount: &self.mount,
                system: &TestSystem,
            })
            .await
    }
}

/// Issued dynamic credentials (Debug for assertion messages; test passwords only).
#[derive(Debug)]
pub struct Creds {
    pub username: String,
    pub password: String,
    pub secret: Secret,
}

/// The message of a 400, failing the test on anything else.
pub fn invalid_msg<T: std::fmt::Debug>(r: Result<T, EngineError>) -> String {
    match r {
        Err(EngineError::InvalidRequest(m)) => m,
        other => panic!("expected a 400, got {other:?}"),
    }
}

/// `(message, retryable)` of an upstream (database) error, failing the test on anything else.
pub fn upstream<T: std::fmt::Debug>(r: Result<T, EngineError>) -> (String, bool) {
    match r {
        Err(EngineError::Upstream { message, retryable }) => (message, retryable),
        other => panic!("expected an upstream error, got {other:?}"),
    }
}
