//! Handler tests through the public factory, with requests built as the core builds them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use engine_sdk::testing::ManualClock;
use engine_sdk::{
    BackendConfig, EngineError, LogicalBackend, MountInfo, Op, Operation, PathRouter, Request,
    Response, RouteMatch, Storage, StorageError, View,
};
use serde_json::{Map, Value, json};

use crate::store::{LAYOUT_KEY, V1_PREFIX};

/// The plaintext side over the in-memory backend (no barrier in unit tests).
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

fn view() -> View {
    View::new(Arc::new(Plain(storage::InMem::new())), "logical/uuid-1/")
}

fn mount(version: Option<&str>) -> MountInfo {
    let mut options = BTreeMap::new();
    if let Some(v) = version {
        options.insert("version".to_owned(), v.to_owned());
    }
    MountInfo {
        path: "secret/".into(),
        kind: "kv".into(),
        uuid: "uuid-1".into(),
        accessor: "kv_1234".into(),
        options,
        default_lease_ttl: Duration::from_secs(768 * 3600),
        max_lease_ttl: Duration::from_secs(768 * 3600),
    }
}

async fn build(view: &View, version: Option<&str>) -> Result<Arc<dyn LogicalBackend>, EngineError> {
    (crate::factory())(BackendConfig {
        mount: mount(version),
        storage: view.clone(),
    })
    .await
}

/// One mounted backend plus what the core would hand it.
struct H {
    backend: Arc<dyn LogicalBackend>,
    router: PathRouter,
    view: View,
    clock: ManualClock,
    mount: MountInfo,
}

impl H {
    async fn new(version: Option<&str>) -> H {
        H::over(view(), version).await.unwrap()
    }

    async fn over(view: View, version: Option<&str>) -> Result<H, EngineError> {
        let backend = build(&view, version).await?;
        let router = PathRouter::new(backend.paths())?;
        Ok(H {
            backend,
            router,
            view,
            clock: ManualClock::at(UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789)),
            mount: mount(version),
        })
    }

    fn request<'a>(
        &'a self,
        op: Operation,
        path: &'a str,
        route: &'a RouteMatch,
        data: &'a Map<String, Value>,
    ) -> Request<'a> {
        Request {
            id: "req-1",
            operation: op,
            path,
            route,
            data,
            storage: &self.view,
            clock: &self.clock,
            mount: &self.mount,
            caller: None,
            remote_addr: None,
            system: &engine_sdk::testing::NoSystem,
        }
    }

    /// Routes like the core: 404 for unknown paths, 405 for unserved operations, and Create/Update chosen by
    /// the existence check.
    async fn call(&self, op: Operation, path: &str, body: Value) -> Result<Response, EngineError> {
        let route = self
            .router
            .route(path)
            .ok_or_else(|| EngineError::UnsupportedPath(path.to_owned()))?;
        let spec = self.backend.paths()[route.index];
        if !spec.ops.contains(&op) {
            return Err(EngineError::UnsupportedOperation);
        }
        let data = body.as_object().cloned().unwrap_or_default();
        let mut op = op;
        if op == Operation::Update && spec.existence_check {
            let exists = self
                .backend
                .exists(self.request(op, path, &route, &data))
                .await?;
            if !exists {
                op = Operation::Create;
            }
        }
        self.backend
            .handle(self.request(op, path, &route, &data))
            .await
    }

    async fn ok(&self, op: Operation, path: &str, body: Value) -> Value {
        let resp = self.call(op, path, body).await.unwrap();
        assert_eq!(resp.status, None, "{op:?} {path}: {resp:?}");
        data(&resp)
    }

    async fn read(&self, path: &str) -> Result<Response, EngineError> {
        self.call(Operation::Read, path, json!({})).await
    }

    async fn write(&self, path: &str, body: Value) -> Result<Response, EngineError> {
        self.call(Operation::Update, path, body).await
    }

    async fn all_keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut folders = vec![String::new()];
        while let Some(f) = folders.pop() {
            for c in self.view.list(&f).await.unwrap() {
                let full = format!("{f}{c}");
                if c.ends_with('/') {
                    folders.push(full);
                } else {
                    out.push(full);
                }
            }
        }
        out.sort();
        out
    }
}

fn data(resp: &Response) -> Value {
    Value::Object(resp.data.clone().unwrap_or_default())
}

fn invalid(r: Result<Response, EngineError>) -> String {
    match r {
        Err(EngineError::InvalidRequest(m)) => m,
        other => panic!("expected a 400, got {other:?}"),
    }
}

fn not_found(r: Result<Response, EngineError>) {
    assert!(
        matches!(r, Err(EngineError::NotFound)),
        "expected a plain 404, got {r:?}"
    );
}

/// A 404 that carries data (deleted or destroyed version).
fn gone(r: Result<Response, EngineError>) -> Value {
    let resp = r.unwrap();
    assert_eq!(resp.status, Some(404), "{resp:?}");
    data(&resp)
}

use Operation::{Delete, List, Patch, Read, Update};

// ---------------------------------------------------------------------------------------------------------
// conformance and factory

#[tokio::test]
async fn path_tables_pass_the_sdk_conformance_suite() {
    for v in [None, Some("1"), Some("2")] {
        let b = build(&view(), v).await.unwrap();
        engine_sdk::testing::exercise_engine(b.as_ref());
    }
}

#[tokio::test]
async fn unknown_version_is_refused() {
    let err = build(&view(), Some("3")).await.err().unwrap();
    assert!(err.to_string().contains("unsupported KV version"), "{err}");
}

// ---------------------------------------------------------------------------------------------------------
// version 1

#[tokio::test]
async fn v1_write_read_list_delete() {
    let h = H::new(None).await;
    assert!(
        h.write("app/db", json!({"user": "u", "pass": "p"}))
            .await
            .unwrap()
            .is_empty()
    );
    h.write("app/api/key", json!({"k": "v"})).await.unwrap();
    h.write("top", json!({"x": 1})).await.unwrap();

    let resp = h.read("app/db").await.unwrap();
    assert_eq!(data(&resp), json!({"user": "u", "pass": "p"}));
    let secret = resp.secret.unwrap();
    assert_eq!(secret.kind, "kv");
    assert!(!secret.renewable);
    assert_eq!(secret.ttl, Duration::from_secs(768 * 3600), "mount default");

    assert_eq!(
        h.ok(List, "", json!({})).await,
        json!({"keys": ["app/", "top"]})
    );
    assert_eq!(
        h.ok(List, "app/", json!({})).await,
        json!({"keys": ["api/", "db"]})
    );
    assert_eq!(
        h.ok(List, "app", json!({})).await,
        json!({"keys": ["api/", "db"]})
    );
    not_found(h.call(List, "nothing/", json!({})).await);

    // Overwrite replaces the whole object.
    h.write("app/db", json!({"only": "this"})).await.unwrap();
    assert_eq!(
        data(&h.read("app/db").await.unwrap()),
        json!({"only": "this"})
    );

    assert!(
        h.call(Delete, "app/db", json!({}))
            .await
            .unwrap()
            .is_empty()
    );
    not_found(h.read("app/db").await);
    // Deleting again is fine.
    h.call(Delete, "app/db", json!({})).await.unwrap();
    not_found(h.read("missing").await);
}

#[tokio::test]
async fn v1_ttl_sets_the_advisory_lease_duration() {
    let h = H::new(Some("1")).await;
    h.write("a", json!({"v": 1, "ttl": "1h"})).await.unwrap();
    h.write("b", json!({"v": 1, "ttl": 90})).await.unwrap();
    h.write("c", json!({"v": 1, "lease": "30m"})).await.unwrap();
    h.write("d", json!({"v": 1, "ttl": "garbage"}))
        .await
        .unwrap();
    let ttl = |r: Response| r.secret.unwrap().ttl;
    assert_eq!(ttl(h.read("a").await.unwrap()), Duration::from_secs(3600));
    assert_eq!(ttl(h.read("b").await.unwrap()), Duration::from_secs(90));
    assert_eq!(ttl(h.read("c").await.unwrap()), Duration::from_secs(1800));
    assert_eq!(
        ttl(h.read("d").await.unwrap()),
        Duration::from_secs(768 * 3600)
    );
    // The ttl stays part of the data.
    assert_eq!(
        data(&h.read("a").await.unwrap()),
        json!({"v": 1, "ttl": "1h"})
    );
}

#[tokio::test]
async fn v1_rejects_empty_writes_and_bad_paths() {
    let h = H::new(None).await;
    assert_eq!(
        invalid(h.write("a", json!({})).await),
        "missing data fields"
    );
    assert!(invalid(h.write("a/../b", json!({"x": 1})).await).contains("invalid path"));
    assert!(invalid(h.write("folder/", json!({"x": 1})).await).contains("invalid path"));
    assert!(matches!(
        h.call(Patch, "a", json!({"x": 1})).await,
        Err(EngineError::UnsupportedOperation)
    ));
}

#[tokio::test]
async fn v1_existence_check_tells_create_from_update() {
    let h = H::new(None).await;
    let route = h.router.route("a").unwrap();
    let empty = Map::new();
    assert!(
        !h.backend
            .exists(h.request(Update, "a", &route, &empty))
            .await
            .unwrap()
    );
    h.write("a", json!({"x": 1})).await.unwrap();
    assert!(
        h.backend
            .exists(h.request(Update, "a", &route, &empty))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn v1_keeps_data_under_its_prefix() {
    let h = H::new(None).await;
    h.write("layout", json!({"x": "not the marker"}))
        .await
        .unwrap();
    assert_eq!(h.all_keys().await, vec![format!("{V1_PREFIX}layout")]);
    // A user secret named like the marker does not confuse a later build.
    H::over(h.view.clone(), None).await.unwrap();
}

// ---------------------------------------------------------------------------------------------------------
// version 2: data

#[tokio::test]
async fn v2_write_and_read_shapes() {
    let h = H::new(Some("2")).await;
    let meta = h
        .ok(Update, "data/app/db", json!({"data": {"user": "u"}}))
        .await;
    assert_eq!(
        meta,
        json!({
            "created_time": "2023-11-14T22:13:20.123456789Z",
            "custom_metadata": null,
            "deletion_time": "",
            "destroyed": false,
            "version": 1,
        })
    );
    h.clock.advance(Duration::from_secs(1));
    let meta2 = h
        .ok(Update, "data/app/db", json!({"data": {"user": "v"}}))
        .await;
    assert_eq!(meta2["version"], 2);
    assert_eq!(meta2["created_time"], "2023-11-14T22:13:21.123456789Z");

    let body = h.ok(Read, "data/app/db", json!({})).await;
    assert_eq!(body["data"], json!({"user": "v"}));
    assert_eq!(body["metadata"]["version"], 2);
    assert_eq!(body["metadata"]["custom_metadata"], Value::Null);
    // Query parameters arrive as strings.
    let v1 = h.ok(Read, "data/app/db", json!({"version": "1"})).await;
    assert_eq!(v1["data"], json!({"user": "u"}));
    assert_eq!(v1["metadata"]["version"], 1);
    assert_eq!(
        h.ok(Read, "data/app/db", json!({"version": 0})).await["metadata"]["version"],
        2
    );

    not_found(h.call(Read, "data/app/db", json!({"version": 9})).await);
    not_found(h.read("data/missing").await);
    assert_eq!(
        invalid(h.write("data/x", json!({"options": {}})).await),
        "no data provided"
    );
    assert!(invalid(h.write("data/x", json!({"data": "str"})).await).contains("must be an object"));
    assert!(
        invalid(
            h.write("data/x", json!({"data": {"a": 1}, "options": {"cas": "x"}}))
                .await
        )
        .contains("error parsing check-and-set parameter")
    );
}

#[tokio::test]
async fn v2_existence_check_uses_metadata() {
    let h = H::new(Some("2")).await;
    let empty = Map::new();
    for path in ["data/k", "metadata/k"] {
        let route = h.router.route(path).unwrap();
        assert!(
            !h.backend
                .exists(h.request(Update, path, &route, &empty))
                .await
                .unwrap()
        );
    }
    h.write("data/k", json!({"data": {"a": 1}})).await.unwrap();
    for path in ["data/k", "metadata/k"] {
        let route = h.router.route(path).unwrap();
        assert!(
            h.backend
                .exists(h.request(Update, path, &route, &empty))
                .await
                .unwrap()
        );
    }
}

#[tokio::test]
async fn v2_check_and_set() {
    let h = H::new(Some("2")).await;
    // cas 0: only when the key does not exist.
    h.write("data/k", json!({"data": {"a": 1}, "options": {"cas": 0}}))
        .await
        .unwrap();
    assert_eq!(
        invalid(
            h.write("data/k", json!({"data": {"a": 2}, "options": {"cas": 0}}))
                .await
        ),
        "check-and-set parameter did not match the current version"
    );
    assert_eq!(
        invalid(
            h.write("data/k", json!({"data": {"a": 2}, "options": {"cas": 5}}))
                .await
        ),
        "check-and-set parameter did not match the current version"
    );
    let m = h
        .ok(
            Update,
            "data/k",
            json!({"data": {"a": 2}, "options": {"cas": 1}}),
        )
        .await;
    assert_eq!(m["version"], 2);

    // Required by the engine config.
    h.write("config", json!({"cas_required": true}))
        .await
        .unwrap();
    assert_eq!(
        invalid(h.write("data/k", json!({"data": {"a": 3}})).await),
        "check-and-set parameter required for this call"
    );
    h.write("data/k", json!({"data": {"a": 3}, "options": {"cas": "2"}}))
        .await
        .unwrap();
    h.write("config", json!({"cas_required": false}))
        .await
        .unwrap();

    // Required by the key's metadata.
    h.write("metadata/k", json!({"cas_required": true}))
        .await
        .unwrap();
    assert_eq!(
        invalid(h.write("data/k", json!({"data": {"a": 4}})).await),
        "check-and-set parameter required for this call"
    );
    h.write("data/other", json!({"data": {"a": 1}}))
        .await
        .unwrap();

    // A soft-deleted key still has a current version that cas must match.
    h.call(Delete, "data/other", json!({})).await.unwrap();
    invalid(
        h.write(
            "data/other",
            json!({"data": {"a": 2}, "options": {"cas": 0}}),
        )
        .await,
    );
    h.write(
        "data/other",
        json!({"data": {"a": 2}, "options": {"cas": 1}}),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn v2_rollback_as_the_cli_does_it() {
    let h = H::new(Some("2")).await;
    h.write("data/k", json!({"data": {"x": 1}})).await.unwrap();
    h.write("data/k", json!({"data": {"x": 2}})).await.unwrap();
    let old = h.ok(Read, "data/k", json!({"version": 1})).await;
    let current = h.ok(Read, "metadata/k", json!({})).await["current_version"].clone();
    let m = h
        .ok(
            Update,
            "data/k",
            json!({"data": old["data"], "options": {"cas": current}}),
        )
        .await;
    assert_eq!(m["version"], 3);
    assert_eq!(
        h.ok(Read, "data/k", json!({})).await["data"],
        json!({"x": 1})
    );
}

#[tokio::test]
async fn v2_patch_merges_into_the_current_version() {
    let h = H::new(Some("2")).await;
    not_found(h.call(Patch, "data/k", json!({"data": {"a": 1}})).await);
    h.write(
        "data/k",
        json!({"data": {"a": 1, "b": {"c": 2, "keep": true}, "gone": "x"}}),
    )
    .await
    .unwrap();
    let m = h
        .ok(
            Patch,
            "data/k",
            json!({"data": {"b": {"c": null, "d": 3}, "gone": null, "e": 4}}),
        )
        .await;
    assert_eq!(m["version"], 2);
    assert_eq!(
        h.ok(Read, "data/k", json!({})).await["data"],
        json!({"a": 1, "b": {"keep": true, "d": 3}, "e": 4})
    );
    // The original version is untouched.
    assert_eq!(
        h.ok(Read, "data/k", json!({"version": 1})).await["data"]["gone"],
        "x"
    );

    assert_eq!(
        invalid(h.call(Patch, "data/k", json!({})).await),
        "no data provided"
    );
    assert_eq!(
        invalid(
            h.call(
                Patch,
                "data/k",
                json!({"data": {"a": 2}, "options": {"cas": 1}})
            )
            .await
        ),
        "check-and-set parameter did not match the current version"
    );
    h.ok(
        Patch,
        "data/k",
        json!({"data": {"a": 2}, "options": {"cas": 2}}),
    )
    .await;

    // A deleted current version: 404 with its metadata (flat, as OpenBao answers a patch).
    h.call(Delete, "data/k", json!({})).await.unwrap();
    let body = gone(h.call(Patch, "data/k", json!({"data": {"a": 3}})).await);
    assert_eq!(body["version"], 3);
    assert_ne!(body["deletion_time"], "");

    // Metadata without any version: plain 404.
    h.write("metadata/only-meta", json!({"max_versions": 2}))
        .await
        .unwrap();
    not_found(
        h.call(Patch, "data/only-meta", json!({"data": {"a": 1}}))
            .await,
    );
}

#[tokio::test]
async fn v2_soft_delete_undelete_destroy() {
    let h = H::new(Some("2")).await;
    h.write("data/k", json!({"data": {"v": 1}})).await.unwrap();
    h.write("data/k", json!({"data": {"v": 2}})).await.unwrap();

    // DELETE data/ soft-deletes the latest version.
    assert!(
        h.call(Delete, "data/k", json!({}))
            .await
            .unwrap()
            .is_empty()
    );
    let body = gone(h.read("data/k").await);
    assert_eq!(body["data"], Value::Null);
    assert_eq!(body["metadata"]["version"], 2);
    assert_eq!(
        body["metadata"]["deletion_time"],
        "2023-11-14T22:13:20.123456789Z"
    );
    assert_eq!(body["metadata"]["destroyed"], false);
    // Deleting again keeps the first deletion time.
    h.clock.advance(Duration::from_secs(5));
    h.call(Delete, "data/k", json!({})).await.unwrap();
    assert_eq!(
        gone(h.read("data/k").await)["metadata"]["deletion_time"],
        "2023-11-14T22:13:20.123456789Z"
    );
    // Older versions stay readable.
    assert_eq!(
        h.ok(Read, "data/k", json!({"version": 1})).await["data"],
        json!({"v": 1})
    );

    // undelete/ brings it back.
    assert_eq!(
        invalid(h.write("undelete/k", json!({})).await),
        "No version number provided"
    );
    h.write("undelete/k", json!({"versions": [2]}))
        .await
        .unwrap();
    let body = h.ok(Read, "data/k", json!({})).await;
    assert_eq!(body["data"], json!({"v": 2}));
    assert_eq!(body["metadata"]["deletion_time"], "");

    // delete/ with explicit versions (a comma string, as the CLI may send).
    assert_eq!(
        invalid(h.write("delete/k", json!({"versions": []})).await),
        "No version number provided"
    );
    h.write("delete/k", json!({"versions": "1,2,99"}))
        .await
        .unwrap();
    gone(h.call(Read, "data/k", json!({"version": 1})).await);
    gone(h.read("data/k").await);
    h.write("undelete/k", json!({"versions": [1, 2]}))
        .await
        .unwrap();
    h.ok(Read, "data/k", json!({"version": 1})).await;

    // destroy/ removes data for good; undelete cannot bring it back.
    assert_eq!(
        invalid(h.write("destroy/k", json!({})).await),
        "no version number provided"
    );
    h.write("destroy/k", json!({"versions": [1]}))
        .await
        .unwrap();
    let body = gone(h.call(Read, "data/k", json!({"version": 1})).await);
    assert_eq!(body["metadata"]["destroyed"], true);
    assert_eq!(body["data"], Value::Null);
    h.write("undelete/k", json!({"versions": [1]}))
        .await
        .unwrap();
    gone(h.call(Read, "data/k", json!({"version": 1})).await);
    assert!(
        !h.all_keys().await.iter().any(|k| k.ends_with("/k/1")),
        "destroyed data is gone"
    );
    let meta = h.ok(Read, "metadata/k", json!({})).await;
    assert_eq!(meta["versions"]["1"]["destroyed"], true);
    assert_eq!(meta["versions"]["2"]["destroyed"], false);

    // Deleting a destroyed version is a no-op; acting on a missing key is a 204.
    h.write("delete/k", json!({"versions": [1]})).await.unwrap();
    assert_eq!(
        h.ok(Read, "metadata/k", json!({})).await["versions"]["1"]["deletion_time"],
        ""
    );
    for p in ["delete/nope", "undelete/nope", "destroy/nope"] {
        assert!(
            h.write(p, json!({"versions": [1]}))
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert!(
        h.call(Delete, "data/nope", json!({}))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn v2_max_versions_prunes_oldest() {
    let h = H::new(Some("2")).await;
    h.write("config", json!({"max_versions": 3})).await.unwrap();
    for i in 1..=5 {
        h.write("data/k", json!({"data": {"i": i}})).await.unwrap();
    }
    let meta = h.ok(Read, "metadata/k", json!({})).await;
    assert_eq!(meta["current_version"], 5);
    assert_eq!(meta["oldest_version"], 3);
    let kept: Vec<&String> = meta["versions"].as_object().unwrap().keys().collect();
    assert_eq!(kept, ["3", "4", "5"]);
    not_found(h.call(Read, "data/k", json!({"version": 2})).await);
    assert_eq!(
        h.ok(Read, "data/k", json!({"version": 3})).await["data"],
        json!({"i": 3})
    );
    let stored: Vec<String> = h
        .all_keys()
        .await
        .into_iter()
        .filter(|k| k.starts_with("v2/versions/"))
        .collect();
    assert_eq!(
        stored,
        ["v2/versions/k/3", "v2/versions/k/4", "v2/versions/k/5"]
    );

    // Without any limit configured, 10 versions are kept.
    let h = H::new(Some("2")).await;
    for i in 1..=12 {
        h.write("data/d", json!({"data": {"i": i}})).await.unwrap();
    }
    let meta = h.ok(Read, "metadata/d", json!({})).await;
    assert_eq!(meta["versions"].as_object().unwrap().len(), 10);
    assert_eq!(meta["oldest_version"], 3);

    // A key's own limit applies on its next write.
    h.write("metadata/d", json!({"max_versions": 2}))
        .await
        .unwrap();
    h.write("data/d", json!({"data": {"i": 13}})).await.unwrap();
    let meta = h.ok(Read, "metadata/d", json!({})).await;
    let kept: Vec<&String> = meta["versions"].as_object().unwrap().keys().collect();
    assert_eq!(kept, ["12", "13"]);
}

#[tokio::test]
async fn v2_delete_version_after() {
    let h = H::new(Some("2")).await;
    h.write("config", json!({"delete_version_after": "1h"}))
        .await
        .unwrap();
    assert_eq!(
        h.ok(Read, "config", json!({})).await["delete_version_after"],
        "1h0m0s"
    );
    let m = h.ok(Update, "data/k", json!({"data": {"a": 1}})).await;
    assert_eq!(m["deletion_time"], "2023-11-14T23:13:20.123456789Z");
    // Not yet past: readable.
    h.ok(Read, "data/k", json!({})).await;
    h.clock.advance(Duration::from_secs(3601));
    let body = gone(h.read("data/k").await);
    assert_eq!(
        body["metadata"]["deletion_time"],
        "2023-11-14T23:13:20.123456789Z"
    );

    // Undelete restarts the timer from now.
    h.write("undelete/k", json!({"versions": [1]}))
        .await
        .unwrap();
    h.ok(Read, "data/k", json!({})).await;
    assert_eq!(
        h.ok(Read, "metadata/k", json!({})).await["versions"]["1"]["deletion_time"],
        "2023-11-15T00:13:21.123456789Z"
    );

    // The shorter of key and config wins.
    h.write("metadata/short", json!({"delete_version_after": "30m"}))
        .await
        .unwrap();
    let m = h.ok(Update, "data/short", json!({"data": {"a": 1}})).await;
    assert_eq!(m["deletion_time"], "2023-11-14T23:43:21.123456789Z");
    assert_eq!(
        h.ok(Read, "metadata/short", json!({})).await["delete_version_after"],
        "30m0s"
    );

    // A negative config value disables it for every key.
    h.write("config", json!({"delete_version_after": "-1s"}))
        .await
        .unwrap();
    assert_eq!(
        h.ok(Read, "config", json!({})).await["delete_version_after"],
        "-1s"
    );
    let m = h.ok(Update, "data/short", json!({"data": {"a": 2}})).await;
    assert_eq!(m["deletion_time"], "");
    // Zero clears it.
    h.write("config", json!({"delete_version_after": 0}))
        .await
        .unwrap();
    assert_eq!(
        h.ok(Read, "config", json!({})).await["delete_version_after"],
        "0s"
    );
}

#[tokio::test]
async fn v2_config_defaults_and_updates() {
    let h = H::new(Some("2")).await;
    assert_eq!(
        h.ok(Read, "config", json!({})).await,
        json!({"max_versions": 0, "cas_required": false, "metadata_cas_required": false, "delete_version_after": "0s"})
    );
    // Nothing given: nothing changes.
    assert!(h.write("config", json!({})).await.unwrap().is_empty());
    h.write(
        "config",
        json!({"max_versions": "5", "cas_required": "true", "delete_version_after": 3600}),
    )
    .await
    .unwrap();
    assert_eq!(
        h.ok(Read, "config", json!({})).await,
        json!({"max_versions": 5, "cas_required": true, "metadata_cas_required": false, "delete_version_after": "1h0m0s"})
    );
    // Fields not given keep their value.
    h.write("config", json!({"max_versions": 7})).await.unwrap();
    assert_eq!(h.ok(Read, "config", json!({})).await["cas_required"], true);
    invalid(h.write("config", json!({"max_versions": -1})).await);
    invalid(
        h.write("config", json!({"delete_version_after": "soon"}))
            .await,
    );
}

// ---------------------------------------------------------------------------------------------------------
// version 2: metadata, listing, subkeys

#[tokio::test]
async fn v2_metadata_read_write_patch_delete() {
    let h = H::new(Some("2")).await;
    not_found(h.read("metadata/k").await);
    h.write("data/k", json!({"data": {"a": 1}})).await.unwrap();
    let meta = h.ok(Read, "metadata/k", json!({})).await;
    assert_eq!(
        meta,
        json!({
            "cas_required": false,
            "created_time": "2023-11-14T22:13:20.123456789Z",
            "current_metadata_version": 0,
            "current_version": 1,
            "custom_metadata": null,
            "delete_version_after": "0s",
            "max_versions": 0,
            "metadata_cas_required": false,
            "oldest_version": 0,
            "updated_time": "2023-11-14T22:13:20.123456789Z",
            "versions": {"1": {"created_time": "2023-11-14T22:13:20.123456789Z", "deletion_time": "", "destroyed": false}},
        })
    );

    h.clock.advance(Duration::from_secs(2));
    let resp = h
        .write(
            "metadata/k",
            json!({"max_versions": 4, "cas_required": true, "delete_version_after": "3h25m19s",
                   "custom_metadata": {"owner": "jdoe", "n": 5}}),
        )
        .await
        .unwrap();
    assert!(resp.is_empty());
    let meta = h.ok(Read, "metadata/k", json!({})).await;
    assert_eq!(meta["max_versions"], 4);
    assert_eq!(meta["cas_required"], true);
    assert_eq!(meta["delete_version_after"], "3h25m19s");
    assert_eq!(meta["custom_metadata"], json!({"owner": "jdoe", "n": "5"}));
    assert_eq!(meta["current_metadata_version"], 1);
    assert_eq!(meta["updated_time"], "2023-11-14T22:13:22.123456789Z");
    // Custom metadata shows on data reads too.
    assert_eq!(
        h.ok(Read, "data/k", json!({})).await["metadata"]["custom_metadata"],
        json!({"owner": "jdoe", "n": "5"})
    );

    // POST replaces custom metadata; PATCH merges it.
    h.write(
        "metadata/k",
        json!({"custom_metadata": {"a": "1", "b": "2"}}),
    )
    .await
    .unwrap();
    h.call(
        Patch,
        "metadata/k",
        json!({"custom_metadata": {"a": null, "c": "3"}, "max_versions": 6}),
    )
    .await
    .unwrap();
    let meta = h.ok(Read, "metadata/k", json!({})).await;
    assert_eq!(meta["custom_metadata"], json!({"b": "2", "c": "3"}));
    assert_eq!(meta["max_versions"], 6);
    assert_eq!(meta["cas_required"], true, "untouched by the patch");
    assert_eq!(meta["current_metadata_version"], 3);
    h.call(Patch, "metadata/k", json!({"custom_metadata": null}))
        .await
        .unwrap();
    assert_eq!(
        h.ok(Read, "metadata/k", json!({})).await["custom_metadata"],
        Value::Null
    );
    not_found(
        h.call(Patch, "metadata/missing", json!({"max_versions": 1}))
            .await,
    );
    // A patch with nothing to change does nothing, even on a missing key.
    assert!(
        h.call(Patch, "metadata/missing", json!({"other": 1}))
            .await
            .unwrap()
            .is_empty()
    );

    // Validation.
    let msg = invalid(
        h.write("metadata/k", json!({"custom_metadata": {"k": ""}}))
            .await,
    );
    assert!(
        msg.contains("custom_metadata validation failed: length of value for key \"k\" is 0"),
        "{msg}"
    );
    invalid(
        h.write("metadata/k", json!({"custom_metadata": {"k": ["x"]}}))
            .await,
    );
    invalid(
        h.call(
            Patch,
            "metadata/k",
            json!({"custom_metadata": {"k": "\u{1}"}}),
        )
        .await,
    );

    // A write with no settings creates nothing.
    assert!(
        h.write("metadata/empty", json!({}))
            .await
            .unwrap()
            .is_empty()
    );
    not_found(h.read("metadata/empty").await);
    // Metadata-only keys exist without versions.
    h.write("metadata/pre", json!({"max_versions": 3}))
        .await
        .unwrap();
    let meta = h.ok(Read, "metadata/pre", json!({})).await;
    assert_eq!(meta["current_version"], 0);
    assert_eq!(meta["versions"], json!({}));
    not_found(h.read("data/pre").await);

    // DELETE removes every version and the metadata.
    h.write("data/k", json!({"data": {"a": 2}, "options": {"cas": 1}}))
        .await
        .unwrap();
    assert!(
        h.call(Delete, "metadata/k", json!({}))
            .await
            .unwrap()
            .is_empty()
    );
    not_found(h.read("metadata/k").await);
    not_found(h.read("data/k").await);
    assert!(
        !h.all_keys().await.iter().any(|k| k.contains("/k")),
        "{:?}",
        h.all_keys().await
    );
    assert!(
        h.call(Delete, "metadata/k", json!({}))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn v2_metadata_cas_and_warnings() {
    let h = H::new(Some("2")).await;
    assert_eq!(
        invalid(
            h.write("metadata/k", json!({"max_versions": 1, "metadata_cas": 3}))
                .await
        ),
        "metadata_cas must be 0 when creating new metadata"
    );
    h.write(
        "metadata/k",
        json!({"max_versions": 1, "metadata_cas": 0, "metadata_cas_required": true}),
    )
    .await
    .unwrap();
    assert_eq!(
        invalid(h.write("metadata/k", json!({"max_versions": 2})).await),
        "metadata check-and-set parameter required for this call"
    );
    assert_eq!(
        invalid(
            h.write("metadata/k", json!({"max_versions": 2, "metadata_cas": 7}))
                .await
        ),
        "metadata check-and-set parameter does not match the current version"
    );
    h.write("metadata/k", json!({"max_versions": 2, "metadata_cas": 1}))
        .await
        .unwrap();
    assert_eq!(
        invalid(
            h.call(Patch, "metadata/k", json!({"max_versions": 3}))
                .await
        ),
        "metadata check-and-set parameter required for this call"
    );
    h.call(
        Patch,
        "metadata/k",
        json!({"max_versions": 3, "metadata_cas": 2}),
    )
    .await
    .unwrap();
    assert_eq!(
        h.ok(Read, "metadata/k", json!({})).await["current_metadata_version"],
        3
    );

    h.write("config", json!({"cas_required": true}))
        .await
        .unwrap();
    let resp = h
        .write("metadata/w", json!({"cas_required": false}))
        .await
        .unwrap();
    assert_eq!(
        resp.warnings,
        [
            "\"cas_required\" set to false, but is mandated by backend config. This value will be ignored."
        ]
    );
}

#[tokio::test]
async fn v2_list_metadata() {
    let h = H::new(Some("2")).await;
    not_found(h.call(List, "metadata/", json!({})).await);
    for p in ["foo", "foo/bar", "foo/baz/qux", "zed"] {
        h.write(&format!("data/{p}"), json!({"data": {"a": 1}}))
            .await
            .unwrap();
    }
    assert_eq!(
        h.ok(List, "metadata/", json!({})).await,
        json!({"keys": ["foo", "foo/", "zed"]})
    );
    assert_eq!(
        h.ok(List, "metadata/foo/", json!({})).await,
        json!({"keys": ["bar", "baz/"]})
    );
    assert_eq!(
        h.ok(List, "metadata/foo", json!({})).await,
        json!({"keys": ["bar", "baz/"]})
    );
    not_found(h.call(List, "metadata/nothing/", json!({})).await);
    assert_eq!(
        h.ok(List, "metadata/", json!({"after": "foo", "limit": "1"}))
            .await,
        json!({"keys": ["foo/"]})
    );
    // Soft-deleted keys are still listed; metadata-deleted ones are not.
    h.call(Delete, "data/zed", json!({})).await.unwrap();
    assert_eq!(
        h.ok(List, "metadata/", json!({})).await["keys"],
        json!(["foo", "foo/", "zed"])
    );
    h.call(Delete, "metadata/zed", json!({})).await.unwrap();
    assert_eq!(
        h.ok(List, "metadata/", json!({})).await["keys"],
        json!(["foo", "foo/"])
    );

    let detailed = h.ok(List, "detailed-metadata/foo/", json!({})).await;
    assert_eq!(detailed["keys"], json!(["bar", "baz/"]));
    assert_eq!(detailed["key_info"]["bar"]["current_version"], 1);
    assert_eq!(detailed["key_info"]["baz/"], json!({}));
    assert_eq!(
        h.ok(List, "detailed-metadata/", json!({})).await["key_info"]["foo"]["current_version"],
        1
    );

    // Paths outside the v2 layout are not routed (the core answers 404).
    assert!(matches!(
        h.read("foo").await,
        Err(EngineError::UnsupportedPath(_))
    ));
    assert!(matches!(
        h.call(Read, "metadata/", json!({})).await,
        Err(EngineError::UnsupportedOperation)
    ));
}

#[tokio::test]
async fn v2_subkeys() {
    let h = H::new(Some("2")).await;
    not_found(h.read("subkeys/k").await);
    h.write(
        "data/k",
        json!({"data": {"foo": "abc", "bar": {"baz": "def", "deep": {"x": 1}}, "quux": {}}}),
    )
    .await
    .unwrap();
    h.write("data/k", json!({"data": {"only": 1}}))
        .await
        .unwrap();
    let body = h.ok(Read, "subkeys/k", json!({"version": 1})).await;
    assert_eq!(
        body["subkeys"],
        json!({"foo": null, "bar": {"baz": null, "deep": {"x": null}}, "quux": null})
    );
    assert_eq!(body["metadata"]["version"], 1);
    let body = h
        .ok(Read, "subkeys/k", json!({"version": 1, "depth": "2"}))
        .await;
    assert_eq!(
        body["subkeys"],
        json!({"foo": null, "bar": {"baz": null, "deep": null}, "quux": null})
    );
    assert_eq!(
        h.ok(Read, "subkeys/k", json!({})).await["subkeys"],
        json!({"only": null})
    );
    h.call(Delete, "data/k", json!({})).await.unwrap();
    let body = gone(h.read("subkeys/k").await);
    assert_eq!(body["subkeys"], Value::Null);
    assert_eq!(body["metadata"]["version"], 2);
    not_found(h.call(Read, "subkeys/k", json!({"version": 7})).await);
}

#[tokio::test]
async fn v2_storage_keys_hold_paths_never_values() {
    let h = H::new(Some("2")).await;
    h.write(
        "data/app/db",
        json!({"data": {"password": "hunter2-secret"}}),
    )
    .await
    .unwrap();
    h.write(
        "metadata/app/db",
        json!({"custom_metadata": {"owner": "ops"}}),
    )
    .await
    .unwrap();
    let keys = h.all_keys().await;
    assert_eq!(keys, [LAYOUT_KEY, "v2/meta/app/db", "v2/versions/app/db/1"]);
    assert!(keys.iter().all(|k| !k.contains("hunter2")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_concurrent_writes_get_distinct_versions() {
    let h = Arc::new(H::new(Some("2")).await);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..16 {
        let h = h.clone();
        set.spawn(async move {
            h.ok(Update, "data/k", json!({"data": {"i": i}})).await["version"].clone()
        });
    }
    let mut versions = Vec::new();
    while let Some(v) = set.join_next().await {
        versions.push(v.unwrap().as_u64().unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=16).collect::<Vec<_>>());
    // And concurrent cas=0 creates: exactly one wins.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..8 {
        let h = h.clone();
        set.spawn(async move {
            h.write(
                "data/once",
                json!({"data": {"i": i}, "options": {"cas": 0}}),
            )
            .await
            .is_ok()
        });
    }
    let mut wins = 0;
    while let Some(ok) = set.join_next().await {
        wins += usize::from(ok.unwrap());
    }
    assert_eq!(wins, 1);
}

// ---------------------------------------------------------------------------------------------------------
// upgrade

#[tokio::test]
async fn v1_data_is_upgraded_when_the_mount_becomes_v2() {
    let v1 = H::new(None).await;
    v1.write("a", json!({"x": 1, "ttl": "1h"})).await.unwrap();
    v1.write("dir/b", json!({"y": 2})).await.unwrap();
    v1.write("dir/deeper/c", json!({"z": 3})).await.unwrap();

    let v2 = H::over(v1.view.clone(), Some("2")).await.unwrap();
    assert_eq!(
        v2.ok(Read, "data/a", json!({})).await["data"],
        json!({"x": 1, "ttl": "1h"})
    );
    assert_eq!(
        v2.ok(Read, "data/dir/b", json!({})).await["data"],
        json!({"y": 2})
    );
    let c = v2.ok(Read, "data/dir/deeper/c", json!({})).await;
    assert_eq!(c["data"], json!({"z": 3}));
    assert_eq!(c["metadata"]["version"], 1);
    assert_eq!(
        v2.ok(List, "metadata/dir/", json!({})).await["keys"],
        json!(["b", "deeper/"])
    );
    assert!(
        !v2.all_keys().await.iter().any(|k| k.starts_with(V1_PREFIX)),
        "v1 entries moved"
    );
    assert!(v2.all_keys().await.contains(&LAYOUT_KEY.to_owned()));

    // Writes continue the version history.
    let m = v2
        .ok(
            Update,
            "data/a",
            json!({"data": {"x": 2}, "options": {"cas": 1}}),
        )
        .await;
    assert_eq!(m["version"], 2);

    // Building v2 again (a restart) does not touch the data.
    let again = H::over(v1.view.clone(), Some("2")).await.unwrap();
    assert_eq!(
        again.ok(Read, "data/a", json!({})).await["data"],
        json!({"x": 2})
    );

    // Going back to version 1 is refused.
    let err = H::over(v1.view.clone(), Some("1")).await.err().unwrap();
    assert!(err.to_string().contains("cannot downgrade"), "{err}");
}

#[tokio::test]
async fn upgrade_resumes_after_an_interruption() {
    let view = view();
    // An interrupted upgrade: one secret already moved, one still in v1 layout, no marker yet.
    let v1 = H::over(view.clone(), None).await.unwrap();
    v1.write("left", json!({"a": 1})).await.unwrap();
    v1.write("moved", json!({"b": 2})).await.unwrap();
    crate::upgrade::ensure_v2(&view, 1).await.unwrap();
    view.delete(LAYOUT_KEY).await.unwrap();
    view.put(&format!("{V1_PREFIX}late"), br#"{"c":3}"#)
        .await
        .unwrap();

    let v2 = H::over(view.clone(), Some("2")).await.unwrap();
    assert_eq!(
        v2.ok(Read, "data/left", json!({})).await["data"],
        json!({"a": 1})
    );
    assert_eq!(
        v2.ok(Read, "data/late", json!({})).await["data"],
        json!({"c": 3})
    );
    assert_eq!(
        v2.ok(Read, "metadata/moved", json!({})).await["current_version"],
        1
    );
}

#[tokio::test]
async fn fresh_v2_mount_records_its_layout() {
    let h = H::new(Some("2")).await;
    assert_eq!(h.all_keys().await, [LAYOUT_KEY]);
    let marker: Value =
        serde_json::from_slice(&h.view.get(LAYOUT_KEY).await.unwrap().unwrap()).unwrap();
    assert_eq!(marker, json!({"version": 2}));
}
