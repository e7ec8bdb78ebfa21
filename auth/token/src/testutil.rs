//! Test harness: a store over InMem, a settable clock, and hand-built engine requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use engine_sdk::{
    Caller, Clock, EngineError, LogicalBackend, MountInfo, Operation, PathRouter, Request, Response,
};
use serde_json::{Map, Value};
use storage::{Op, Storage, View};

use crate::{Backend, TokenEntry, TokenStore};

/// A plaintext Storage over InMem (the barrier is not a dependency of this crate).
pub(crate) struct Plain(pub(crate) storage::InMem);

#[async_trait::async_trait]
impl Storage for Plain {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, storage::StorageError> {
        storage::Backend::get(&self.0, key).await
    }
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), storage::StorageError> {
        storage::Backend::put(&self.0, key, value.to_vec()).await
    }
    async fn delete(&self, key: &str) -> Result<(), storage::StorageError> {
        storage::Backend::delete(&self.0, key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, storage::StorageError> {
        storage::Backend::list(&self.0, prefix).await
    }
    async fn batch(&self, ops: Vec<Op>) -> Result<(), storage::StorageError> {
        storage::Backend::batch(&self.0, ops).await
    }
}

/// A clock tests move by hand.
#[derive(Default)]
pub(crate) struct TestClock(AtomicU64);

impl TestClock {
    pub(crate) fn at(secs: u64) -> Self {
        Self(AtomicU64::new(secs))
    }
    pub(crate) fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

/// Unix seconds as a SystemTime.
pub(crate) fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A store and the raw storage under it (to inspect keys).
pub(crate) fn store() -> (TokenStore, Arc<Plain>) {
    let plain = Arc::new(Plain(storage::InMem::new()));
    (
        TokenStore::new(View::new(plain.clone(), "sys/token/")),
        plain,
    )
}

/// Every key in the raw storage.
pub(crate) async fn all_keys(plain: &Plain) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(prefix) = stack.pop() {
        for child in storage::Backend::list(&plain.0, &prefix).await.unwrap() {
            let full = format!("{prefix}{child}");
            if child.ends_with('/') {
                stack.push(full);
            } else {
                out.push(full);
            }
        }
    }
    out
}

/// The backend under test with its store, clock and the mount it is served at.
pub(crate) struct Harness {
    pub(crate) store: TokenStore,
    pub(crate) backend: Backend,
    pub(crate) clock: TestClock,
    pub(crate) mount: MountInfo,
    router: PathRouter,
    mount_view: View,
}

impl Harness {
    pub(crate) fn new() -> Self {
        let (store, plain) = store();
        let backend = Backend::new(store.clone());
        let router = PathRouter::new(backend.paths()).unwrap();
        let mount_view = View::new(plain.clone(), "logical/token-mount/");
        Self {
            store,
            backend,
            clock: TestClock::at(1_000_000),
            mount: MountInfo {
                path: "auth/token/".into(),
                kind: "token".into(),
                default_lease_ttl: Duration::from_secs(3600),
                max_lease_ttl: Duration::from_secs(4 * 3600),
                ..MountInfo::default()
            },
            router,
            mount_view,
        }
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// A root token and the caller it stands for.
    pub(crate) async fn root(&self) -> (String, Caller) {
        let (token, _) = self
            .store
            .create_root(None, crate::unix(self.now()))
            .await
            .unwrap();
        let caller = self.caller_of(&token).await;
        (token.to_string(), caller)
    }

    /// The Caller the core would build for `token`.
    pub(crate) async fn caller_of(&self, token: &str) -> Caller {
        let entry: TokenEntry = self
            .store
            .lookup_tainted(token, self.now())
            .await
            .unwrap()
            .unwrap()
            .1;
        Caller {
            accessor: entry.accessor.clone(),
            display_name: entry.display_name.clone(),
            policies: entry.policies.clone(),
            entity_id: entry.entity_id.clone(),
            root: entry.is_root(),
            token_key: self.store.key_of(token).await.unwrap(),
        }
    }

    /// Sends one request to the backend (the core's routing and existence check included).
    pub(crate) async fn call(
        &self,
        op: Operation,
        path: &str,
        data: Value,
        caller: Option<&Caller>,
    ) -> Result<Response, EngineError> {
        let data: Map<String, Value> = data.as_object().cloned().unwrap_or_default();
        let route = self
            .router
            .route(path)
            .ok_or_else(|| EngineError::UnsupportedPath(path.to_owned()))?;
        let mk = |op| Request {
            id: "req",
            operation: op,
            path,
            route: &route,
            data: &data,
            storage: &self.mount_view,
            clock: &self.clock,
            mount: &self.mount,
            caller,
            remote_addr: None,
            system: &engine_sdk::testing::NoSystem,
        };
        let spec = self.backend.paths()[route.index];
        let op = if op == Operation::Update && spec.existence_check {
            if self.backend.exists(mk(Operation::Update)).await? {
                Operation::Update
            } else {
                Operation::Create
            }
        } else {
            op
        };
        self.backend.handle(mk(op)).await
    }

    /// POST shorthand.
    pub(crate) async fn post(
        &self,
        path: &str,
        data: Value,
        caller: &Caller,
    ) -> Result<Response, EngineError> {
        self.call(Operation::Update, path, data, Some(caller)).await
    }
}

/// The error text of a failed call.
pub(crate) fn err_text(r: Result<Response, EngineError>) -> String {
    match r {
        Ok(resp) => panic!("expected an error, got {resp:?}"),
        Err(e) => e.to_string(),
    }
}
