use std::sync::Arc;

use api_spec::sys::InitRequest;
use serde_json::Map;

use crate::{Core, CoreError, CoreOptions, Operation, Request, Standalone, Token};

async fn core() -> Arc<Core> {
    Core::new(
        Arc::new(storage::InMem::new()),
        Arc::new(Standalone::default()),
        CoreOptions::default(),
    )
    .await
    .unwrap()
}

fn init_req(shares: u64, threshold: u64) -> InitRequest {
    InitRequest {
        secret_shares: Some(shares),
        secret_threshold: Some(threshold),
        ..Default::default()
    }
}

fn req(op: Operation, path: &str, token: &str) -> Request {
    Request {
        id: "r".into(),
        operation: op,
        path: path.into(),
        data: Map::new(),
        token: Some(Token(token.into())),
        remote_addr: None,
        wrap_ttl: None,
        headers: Default::default(),
    }
}

#[tokio::test]
async fn init_unseal_seal_cycle() {
    let core = core().await;
    assert!(!core.is_initialized());
    assert!(matches!(
        core.handle(req(Operation::Read, "sys/key-status", "x"))
            .await,
        Err(CoreError::Sealed)
    ));

    let init = core.initialize(init_req(5, 3)).await.unwrap();
    assert_eq!((init.keys.len(), init.keys_base64.len()), (5, 5));
    assert!(init.root_token.starts_with("s."));
    assert!(
        core.is_initialized() && core.is_sealed(),
        "init leaves the server sealed"
    );
    assert!(matches!(
        core.initialize(init_req(5, 3)).await,
        Err(CoreError::AlreadyInitialized)
    ));

    // Hex and base64 forms both count; progress and nonce track the attempt.
    let s = core.unseal(Some(&init.keys[0]), false).await.unwrap();
    assert_eq!((s.sealed, s.progress, s.t, s.n), (true, 1, 3, 5));
    assert!(!s.nonce.is_empty());
    let s = core
        .unseal(Some(&init.keys_base64[1]), false)
        .await
        .unwrap();
    assert_eq!(s.progress, 2);
    let s = core.unseal(Some(&init.keys[2]), false).await.unwrap();
    assert!(!s.sealed && s.progress == 0 && s.nonce.is_empty());
    assert!(s.cluster_name.unwrap().starts_with("vault-cluster-"));

    let root = init.root_token.as_str();
    let ks = core
        .handle(req(Operation::Read, "sys/key-status", root))
        .await
        .unwrap();
    assert_eq!(ks.data.unwrap()["term"], 1);
    assert!(
        core.handle(req(Operation::Update, "sys/rotate", root))
            .await
            .unwrap()
            .is_empty()
    );
    let ks = core
        .handle(req(Operation::Read, "sys/key-status", root))
        .await
        .unwrap();
    assert_eq!(ks.data.unwrap()["term"], 2);

    core.handle(req(Operation::Update, "sys/seal", root))
        .await
        .unwrap();
    assert!(core.is_sealed());
    assert!(matches!(
        core.handle(req(Operation::Read, "sys/key-status", root))
            .await,
        Err(CoreError::Sealed)
    ));
}

/// Regression: the expiry and periodic tasks were spawned while the unsealed state was still being built, so on
/// a multi-threaded runtime one could start, find its `Weak` dead, and stop for good (leases never expired).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_tasks_survive_every_unseal() {
    let core = core().await;
    let init = core.initialize(init_req(1, 1)).await.unwrap();
    for round in 0..40 {
        core.unseal(Some(&init.keys[0]), false).await.unwrap();
        // Give the tasks their first tick (an immediate one), where a dead `Weak` made them return.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        assert!(
            core.unsealed().unwrap().background_running(),
            "a background task stopped after unseal {round}"
        );
        core.seal().await.unwrap();
    }
}

#[tokio::test]
async fn wrong_shares_reset_progress_and_stay_sealed() {
    let core = core().await;
    let a = core.initialize(init_req(3, 2)).await.unwrap();
    // Shares from another initialization of the same shape.
    let other = core_with_other_keys().await;
    core.unseal(Some(&a.keys[0]), false).await.unwrap();
    let err = core.unseal(Some(&other[1]), false).await.unwrap_err();
    assert!(
        matches!(err, CoreError::InvalidRequest(ref m) if m.contains("failed to unseal")),
        "{err:?}"
    );
    let s = core.seal_status();
    assert!(s.sealed);
    assert_eq!(s.progress, 0, "progress resets after a failed attempt");
    // The right shares still work afterwards.
    core.unseal(Some(&a.keys[1]), false).await.unwrap();
    assert!(!core.unseal(Some(&a.keys[2]), false).await.unwrap().sealed);
}

async fn core_with_other_keys() -> Vec<String> {
    core().await.initialize(init_req(3, 2)).await.unwrap().keys
}

#[tokio::test]
async fn reset_and_bad_input() {
    let core = core().await;
    assert!(
        matches!(
            core.unseal(Some("00"), false).await,
            Err(CoreError::InvalidRequest(_))
        ),
        "uninitialized"
    );
    let init = core.initialize(init_req(3, 2)).await.unwrap();
    assert_eq!(
        core.unseal(Some(&init.keys[0]), false)
            .await
            .unwrap()
            .progress,
        1
    );
    assert_eq!(core.unseal(None, true).await.unwrap().progress, 0);
    assert!(matches!(
        core.unseal(Some("zz not a key"), false).await,
        Err(CoreError::InvalidRequest(_))
    ));
    for (s, t) in [(0, 0), (2, 3), (256, 2)] {
        assert!(matches!(
            core.initialize(init_req(s, t)).await,
            Err(CoreError::AlreadyInitialized | CoreError::InvalidRequest(_))
        ));
    }
    let fresh = self::core().await;
    assert!(matches!(
        fresh.initialize(init_req(2, 3)).await,
        Err(CoreError::InvalidRequest(_))
    ));
    assert!(!fresh.is_initialized(), "a rejected init writes nothing");
}

#[tokio::test]
async fn pipeline_denies_and_routes() {
    let core = core().await;
    let (_, root) = core.dev_init(Some("root")).await.unwrap();
    assert_eq!(root.as_str(), "root");
    let mut no_token = req(Operation::Read, "sys/key-status", "");
    no_token.token = None;
    assert!(matches!(
        core.handle(no_token).await,
        Err(CoreError::PermissionDenied)
    ));
    assert!(matches!(
        core.handle(req(Operation::Read, "sys/key-status", "wrong"))
            .await,
        Err(CoreError::PermissionDenied)
    ));
    assert!(
        matches!(core.handle(req(Operation::Read, "secret/foo", "root")).await, Err(CoreError::UnsupportedPath(p)) if p == "secret/foo")
    );
    assert!(matches!(
        core.handle(req(Operation::Delete, "sys/key-status", "root"))
            .await,
        Err(CoreError::UnsupportedOperation)
    ));

    let mut cfg = req(Operation::Update, "sys/rotate/keyring/config", "root");
    cfg.data
        .insert("max_operations".into(), serde_json::json!("2000000"));
    cfg.data.insert("interval".into(), serde_json::json!("48h"));
    core.handle(cfg).await.unwrap();
    let read = core
        .handle(req(Operation::Read, "sys/rotate/config", "root"))
        .await
        .unwrap();
    let data = read.data.unwrap();
    assert_eq!(
        (data["max_operations"].as_u64(), data["interval"].as_u64()),
        (Some(2_000_000), Some(48 * 3600))
    );
    let mut bad = req(Operation::Update, "sys/rotate/keyring/config", "root");
    bad.data
        .insert("max_operations".into(), serde_json::json!(5));
    assert!(matches!(
        core.handle(bad).await,
        Err(CoreError::InvalidRequest(_))
    ));
}

/// One recorded audit call: kind, path, the ACL verdict, the error.
type Recorded = (String, String, Option<bool>, Option<String>);

/// A request entry's audited headers and its mount's clear request and response keys.
type Shaping = (crate::AuditHeaders, Vec<String>, Vec<String>);

/// Records what the pipeline hands the audit broker; fails on demand.
#[derive(Default)]
struct Recorder {
    entries: std::sync::Mutex<Vec<Recorded>>,
    /// The last request entry's shaping.
    last: std::sync::Mutex<Option<Shaping>>,
    fail: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl crate::AuditBroker for Recorder {
    fn active(&self) -> bool {
        true
    }
    async fn log_request(&self, e: &crate::AuditEntry<'_>) -> Result<(), crate::AuditError> {
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(crate::AuditError("device down".into()));
        }
        *self.last.lock().unwrap() = Some((
            e.headers.clone(),
            e.mount
                .map(|m| m.non_hmac_request_keys.clone())
                .unwrap_or_default(),
            e.mount
                .map(|m| m.non_hmac_response_keys.clone())
                .unwrap_or_default(),
        ));
        self.entries.lock().unwrap().push((
            "request".into(),
            e.request.path.clone(),
            e.auth.and_then(|a| a.allowed),
            e.error.clone(),
        ));
        Ok(())
    }
    async fn log_response(
        &self,
        e: &crate::AuditEntry<'_>,
        _r: Option<&crate::Response>,
    ) -> Result<(), crate::AuditError> {
        self.entries.lock().unwrap().push((
            "response".into(),
            e.request.path.clone(),
            e.auth.and_then(|a| a.allowed),
            e.error.clone(),
        ));
        Ok(())
    }
}

#[tokio::test]
async fn every_request_is_audited_denied_ones_too_and_a_failed_device_fails_closed() {
    let recorder = Arc::new(Recorder::default());
    let core = Core::new(
        Arc::new(storage::InMem::new()),
        Arc::new(Standalone::default()),
        CoreOptions {
            audit: recorder.clone(),
            ..CoreOptions::default()
        },
    )
    .await
    .unwrap();
    let (_, root) = core.dev_init(None).await.unwrap();
    let root = root.as_str();

    core.handle(req(Operation::Read, "sys/policies/acl/default", root))
        .await
        .unwrap();
    let denied = core
        .handle(req(Operation::Read, "sys/policies/acl/default", "s.bogus"))
        .await;
    assert!(matches!(denied, Err(CoreError::PermissionDenied)));
    let entries = recorder.entries.lock().unwrap().clone();
    assert_eq!(
        entries,
        [
            (
                "request".into(),
                "sys/policies/acl/default".into(),
                Some(true),
                None
            ),
            (
                "response".into(),
                "sys/policies/acl/default".into(),
                Some(true),
                None
            ),
            (
                "request".into(),
                "sys/policies/acl/default".into(),
                None,
                Some("permission denied".into())
            ),
            (
                "response".into(),
                "sys/policies/acl/default".into(),
                None,
                Some("permission denied".into())
            ),
        ]
    );

    // No device records the request: it is not routed (the policy is not written) and the client gets 503.
    recorder
        .fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let mut write = req(Operation::Update, "sys/policies/acl/p1", root);
    write.data.insert(
        "policy".into(),
        serde_json::json!(r#"path "x" { capabilities = ["read"] }"#),
    );
    assert!(matches!(
        core.handle(write).await,
        Err(CoreError::AuditUnavailable)
    ));
    recorder
        .fail
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(
        core.handle(req(Operation::Read, "sys/policies/acl/p1", root))
            .await,
        Err(CoreError::NotFound)
    ));
}

#[tokio::test]
async fn audit_entries_carry_the_mounts_clear_keys_and_configured_headers_and_failures_are_counted()
{
    let recorder = Arc::new(Recorder::default());
    let core = Core::new(
        Arc::new(storage::InMem::new()),
        Arc::new(Standalone::default()),
        CoreOptions {
            audit: recorder.clone(),
            ..CoreOptions::default()
        },
    )
    .await
    .unwrap();
    let (key, root) = core.dev_init(None).await.unwrap();
    let root = root.as_str();
    let with = |mut r: Request, data: serde_json::Value| {
        r.data = data.as_object().cloned().unwrap();
        r
    };
    core.handle(with(
        req(Operation::Update, "sys/mounts/cubbyhole/tune", root),
        serde_json::json!({"audit_non_hmac_request_keys": ["visible"], "audit_non_hmac_response_keys": ["shown"]}),
    ))
    .await
    .unwrap();
    core.handle(with(
        req(
            Operation::Update,
            "sys/config/auditing/request-headers/X-Secret",
            root,
        ),
        serde_json::json!({"hmac": true}),
    ))
    .await
    .unwrap();
    let forced = core
        .handle(with(
            req(
                Operation::Update,
                "sys/config/auditing/request-headers/Authorization",
                root,
            ),
            serde_json::json!({"hmac": false}),
        ))
        .await
        .unwrap();
    assert_eq!(forced.warnings.len(), 1, "{forced:?}");
    let all = core
        .handle(req(
            Operation::Read,
            "sys/config/auditing/request-headers",
            root,
        ))
        .await
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(all.data.unwrap()),
        serde_json::json!({"headers": {"x-secret": {"hmac": true}, "authorization": {"hmac": true}}})
    );
    let one = core
        .handle(req(
            Operation::Read,
            "sys/config/auditing/request-headers/x-SECRET",
            root,
        ))
        .await
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(one.data.unwrap()),
        serde_json::json!({"x-SECRET": {"hmac": true}})
    );
    assert!(matches!(
        core.handle(req(
            Operation::Read,
            "sys/config/auditing/request-headers/nope",
            root
        ))
        .await,
        Err(CoreError::InvalidRequest(m)) if m == "Could not find header in config"
    ));

    let mut write = with(
        req(Operation::Update, "cubbyhole/app", root),
        serde_json::json!({"visible": "v"}),
    );
    write.headers = crate::Headers(vec![
        ("x-secret".into(), "s1".into()),
        ("x-other".into(), "o".into()),
    ]);
    core.handle(write).await.unwrap();
    let (headers, req_keys, resp_keys) = recorder.last.lock().unwrap().clone().unwrap();
    assert_eq!(req_keys, vec!["visible".to_owned()]);
    assert_eq!(resp_keys, vec!["shown".to_owned()]);
    assert_eq!(
        headers.values,
        [("x-secret".to_owned(), vec!["s1".to_owned()])].into()
    );
    assert_eq!(headers.hmac, vec!["x-secret".to_owned()]);

    // The configuration lives behind the barrier: it survives a seal and unseal.
    core.seal().await.unwrap();
    core.unseal(Some(&key), false).await.unwrap();
    assert_eq!(core.audited_headers().all().len(), 2);

    // A request no device records counts as a failure in sys/metrics.
    recorder
        .fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(
        core.handle(req(Operation::Read, "cubbyhole/app", root))
            .await,
        Err(CoreError::AuditUnavailable)
    ));
    recorder
        .fail
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let mut prom = req(Operation::Read, "sys/metrics", root);
    prom.data
        .insert("format".into(), serde_json::json!("prometheus"));
    let resp = core.handle(prom).await.unwrap();
    let raw = resp.raw_body.unwrap();
    assert_eq!(raw.content_type, crate::PROMETHEUS_CONTENT_TYPE);
    let text = String::from_utf8(raw.body).unwrap();
    assert!(
        text.contains("\nvault_audit_log_request_failure 1\n"),
        "{text}"
    );
    let json = core
        .handle(req(Operation::Read, "sys/metrics", root))
        .await
        .unwrap()
        .raw_body
        .unwrap();
    assert_eq!(json.content_type, "application/json");
    let v: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert!(
        v["Counters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["Name"] == "vault.audit.log_request_failure" && c["Count"] == 1),
        "{v}"
    );
    let mut bad = req(Operation::Read, "sys/metrics", root);
    bad.data.insert("format".into(), serde_json::json!("xml"));
    let bad = core.handle(bad).await.unwrap();
    assert_eq!(bad.status, Some(400));
    assert_eq!(
        bad.raw_body.unwrap().body,
        b"metric response format \"xml\" unknown".to_vec()
    );
}

#[tokio::test]
async fn a_corrupt_lease_is_parked_listed_and_only_forgotten_by_force() {
    use storage::Storage as _;
    let core = core().await;
    core.dev_init(Some("root")).await.unwrap();
    let u = core.unsealed().unwrap();
    let id = "secret/creds/ro/broken";
    let (index, target) = u.expiration.plant_corrupt_for_test(id).await;

    u.expiration.expire(&u, &index, &target).await.unwrap();
    assert_eq!(
        core.barrier.get(&index).await.unwrap(),
        None,
        "out of the index"
    );
    let listed = u.expiration.irrevocable().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["lease_id"], id);
    assert!(
        listed[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("lease entry is corrupt")
    );
    assert!(u.expiration.corrupt_entries() >= 1);

    // A plain revoke refuses and says how; revoke-force forgets it.
    assert!(matches!(
        u.expiration.revoke(&u, id, true).await,
        Err(CoreError::InvalidRequest(m)) if m.contains("revoke-force")
    ));
    u.expiration
        .revoke_prefix(&u, "secret/creds/", true, true)
        .await
        .unwrap();
    assert!(u.expiration.irrevocable().await.unwrap().is_empty());
    assert!(u.expiration.ids_under("secret/").await.unwrap().is_empty());
}

/// A cluster whose leadership the test flips; it counts how often the background tasks asked who leads.
#[derive(Default)]
struct FlipCluster(
    std::sync::atomic::AtomicBool,
    std::sync::atomic::AtomicUsize,
);

#[async_trait::async_trait]
impl crate::Cluster for FlipCluster {
    fn storage_type(&self) -> &'static str {
        "inmem"
    }
    fn ha_enabled(&self) -> bool {
        true
    }
    fn status(&self) -> crate::ClusterStatus {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        crate::ClusterStatus {
            is_leader: self.0.load(std::sync::atomic::Ordering::SeqCst),
            ..crate::ClusterStatus::default()
        }
    }
    async fn step_down(&self) -> Result<(), CoreError> {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn expiry_runs_only_on_the_leader() {
    use std::sync::atomic::Ordering;
    let cluster = Arc::new(FlipCluster::default());
    let clock = Arc::new(engine_sdk::testing::ManualClock::now_real());
    let core = Core::new(
        Arc::new(storage::InMem::new()),
        cluster.clone(),
        CoreOptions {
            clock: clock.clone(),
            ..CoreOptions::default()
        },
    )
    .await
    .unwrap();
    core.dev_init(Some("root")).await.unwrap();
    let mut create = req(Operation::Update, "auth/token/create", "root");
    create.data.insert("ttl".into(), serde_json::json!("1s"));
    let created = core.handle(create).await.unwrap();
    let token = created.auth.unwrap()["client_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let u = core.unsealed().unwrap();
    let key = u.tokens.key_of(&token).await.unwrap();

    // The token is past its TTL; a follower's background tasks tick (each asks who leads) and leave it alone.
    clock.advance(std::time::Duration::from_secs(120));
    let asked = cluster.1.load(Ordering::SeqCst);
    poll_until("the follower's tasks to tick twice each", || {
        cluster.1.load(Ordering::SeqCst) >= asked + 4
    })
    .await;
    assert!(u.tokens.lookup_by_key(&key).await.unwrap().is_some());

    // On taking the lead the worker restores the index and revokes it.
    cluster.0.store(true, Ordering::SeqCst);
    let mut gone = false;
    for _ in 0..100 {
        if u.tokens.lookup_by_key(&key).await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "the new leader revoked the expired token");
}

/// Waits (at most 10 s, checking every 20 ms) for `done`.
async fn poll_until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Issues a leased secret whose "created, not leased yet" record the core must delete with the lease.
struct PendingIssuer;

const PENDING_PATHS: &[engine_sdk::PathSpec] = &[engine_sdk::PathSpec {
    pattern: "{kind}",
    ops: &[Operation::Read],
    existence_check: false,
    fields: &[],
    help: "creds issues; pending reports whether the record is still there.",
}];

#[async_trait::async_trait]
impl engine_sdk::LogicalBackend for PendingIssuer {
    fn paths(&self) -> &'static [engine_sdk::PathSpec] {
        PENDING_PATHS
    }
    async fn handle(
        &self,
        req: engine_sdk::Request<'_>,
    ) -> Result<engine_sdk::Response, engine_sdk::EngineError> {
        use storage::Storage as _;
        if req.param("kind") == Some("pending") {
            let there = req.storage.get("pending/one").await?.is_some();
            return Ok(engine_sdk::Response::json(
                serde_json::json!({ "there": there }),
            ));
        }
        req.storage.put("pending/one", b"{}").await?;
        let mut resp = engine_sdk::Response::json(serde_json::json!({ "user": "u" }));
        resp.secret = Some(engine_sdk::Secret {
            kind: "creds".into(),
            ttl: std::time::Duration::from_secs(60),
            renewable: true,
            pending_key: Some("pending/one".into()),
            ..engine_sdk::Secret::default()
        });
        Ok(resp)
    }
}

#[tokio::test]
async fn registering_a_lease_deletes_the_engines_pending_record_in_the_same_write() {
    let mut catalog = crate::Catalog::new();
    catalog.insert("pending", |_cfg| {
        Box::pin(async { Ok(Arc::new(PendingIssuer) as Arc<dyn engine_sdk::LogicalBackend>) })
    });
    let core = Core::new(
        Arc::new(storage::InMem::new()),
        Arc::new(Standalone::default()),
        CoreOptions {
            catalog: Arc::new(catalog),
            ..CoreOptions::default()
        },
    )
    .await
    .unwrap();
    core.dev_init(Some("root")).await.unwrap();
    let mut mount = req(Operation::Update, "sys/mounts/p", "root");
    mount
        .data
        .insert("type".into(), serde_json::json!("pending"));
    core.handle(mount).await.unwrap();

    let issued = core
        .handle(req(Operation::Read, "p/creds", "root"))
        .await
        .unwrap();
    assert!(issued.lease.unwrap().id.starts_with("p/creds/"));
    let check = core
        .handle(req(Operation::Read, "p/pending", "root"))
        .await
        .unwrap();
    assert_eq!(check.data.unwrap()["there"], false);
}
