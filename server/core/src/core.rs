//! The core: seal state machine (uninitialized → sealed ⇄ unsealed) and the entry point of the request pipeline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use api_spec::sys::{InitRequest, InitResponse, SealStatus};
use arc_swap::ArcSwap;
use auth_token::TokenStore;
use barrier::{Barrier, RootKey, ShamirSeal};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use storage::{Backend, Storage, View};
use zeroize::Zeroizing;

use crate::mounts::{Catalog, Mounts};
use crate::policy_store::PolicyStore;
use crate::seal_config::SealConfig;
use crate::unseal::{Progress, decode_share};
use crate::{Clock, Cluster, CoreError, Request, Response, SystemClock, paths};

/// Settings the node passes to the core.
pub struct CoreOptions {
    /// Overrides the generated cluster name.
    pub cluster_name: Option<String>,
    /// This node's API address, advertised as the leader address.
    pub api_addr: Option<String>,
    /// This node's cluster address.
    pub cluster_addr: Option<String>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Backend factories by type name.
    pub catalog: Arc<Catalog>,
    /// System default lease TTL.
    pub default_lease_ttl: Duration,
    /// System maximum lease TTL.
    pub max_lease_ttl: Duration,
    /// Where the pipeline records requests and responses (normally `audit_devices`).
    pub audit: Arc<dyn crate::AuditBroker>,
    /// The audit devices, managed through `sys/audit` and restored at unseal.
    pub audit_devices: Arc<server_audit::Broker>,
    /// Allow `sys/audit` to enable devices (OpenBao's `unsafe_allow_api_audit_creation`); changed later by
    /// [`Core::reload_config`].
    pub allow_api_audit_creation: bool,
    /// Devices declared in the config file (`audit "<type>" "<path>" {}`), reconciled with the device table at
    /// unseal; changed later by [`Core::reload_config`].
    pub declared_audit: Vec<DeclaredAudit>,
    /// Allow audit devices with a `prefix` option (the config file's `allow_audit_log_prefixing`).
    pub allow_audit_log_prefixing: bool,
    /// The node's metrics, served by `sys/metrics`; other components register their series here.
    pub metrics: Arc<crate::Metrics>,
    /// The lease manager's revocation pool.
    pub expiration: crate::ExpirationConfig,
}

/// OpenBao's system default and maximum lease TTL: 768h.
const SYSTEM_TTL: Duration = Duration::from_secs(768 * 3600);

/// An audit device declared in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredAudit {
    /// Device type.
    pub kind: String,
    /// Device path.
    pub path: String,
    /// Description.
    pub description: String,
    /// Not replicated.
    pub local: bool,
    /// Device options.
    pub options: std::collections::BTreeMap<String, String>,
}

/// The settings a running server re-reads from its config file on SIGHUP (OpenBao reloads these too).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadableConfig {
    /// The config file's `audit` stanzas, in file order.
    pub declared_audit: Vec<DeclaredAudit>,
    /// `unsafe_allow_api_audit_creation`.
    pub allow_api_audit_creation: bool,
    /// `allow_audit_log_prefixing`.
    pub allow_audit_log_prefixing: bool,
}

impl Default for CoreOptions {
    fn default() -> Self {
        let audit_devices = server_audit::Broker::new(false);
        Self {
            cluster_name: None,
            api_addr: None,
            cluster_addr: None,
            clock: Arc::new(SystemClock),
            catalog: Arc::new(Catalog::new()),
            default_lease_ttl: SYSTEM_TTL,
            max_lease_ttl: SYSTEM_TTL,
            audit: audit_devices.clone(),
            audit_devices,
            allow_api_audit_creation: false,
            declared_audit: Vec::new(),
            allow_audit_log_prefixing: false,
            metrics: crate::Metrics::new(),
            expiration: crate::ExpirationConfig::default(),
        }
    }
}

/// The seal state. A type rather than nil-able fields: an unsealed core always has its token store.
enum State {
    Uninitialized,
    Sealed(SealConfig),
    Unsealed(Arc<Unsealed>),
}

/// What exists only while unsealed.
pub(crate) struct Unsealed {
    pub(crate) seal: SealConfig,
    pub(crate) tokens: TokenStore,
    pub(crate) mounts: Mounts,
    pub(crate) policies: PolicyStore,
    pub(crate) identity: crate::identity::IdentityStore,
    /// The lease manager.
    pub(crate) expiration: Arc<crate::expiration::Expiration>,
    /// What engines may ask of the core.
    pub(crate) system: crate::system::CoreSystem,
    pub(crate) cluster: ClusterInfo,
    pub(crate) active_since: SystemTime,
    /// Background keyring auto-rotation; aborted when this is dropped (on seal).
    _rotation: AbortOnDrop,
    /// The lease expiry worker and the engines' periodic work; aborted when this is dropped (on seal).
    background: std::sync::OnceLock<[AbortOnDrop; 2]>,
}

impl Unsealed {
    /// Starts the tasks that hold a `Weak` to this state. Only once the `Arc` exists: a task started while it
    /// was being built (`Arc::new_cyclic`) could find the `Weak` dead, take the core for sealed and stop for
    /// good, leaving leases to never expire.
    fn start_background(self: &Arc<Self>, clock: Arc<dyn crate::Clock>, cluster: Arc<dyn Cluster>) {
        let weak = Arc::downgrade(self);
        let _ = self.background.set([
            AbortOnDrop(Some(tokio::spawn(
                self.expiration.clone().run(weak.clone(), cluster.clone()),
            ))),
            AbortOnDrop(Some(tokio::spawn(crate::periodic::run(
                weak, clock, cluster,
            )))),
        ]);
    }

    /// Whether the background tasks are running (none has stopped).
    #[cfg(test)]
    pub(crate) fn background_running(&self) -> bool {
        self.background.get().is_some_and(|tasks| {
            tasks
                .iter()
                .all(|t| t.0.as_ref().is_some_and(|h| !h.is_finished()))
        })
    }
}

/// What unsealing builds.
struct Setup {
    tokens: TokenStore,
    cluster: ClusterInfo,
    mounts: Mounts,
    policies: PolicyStore,
    identity: crate::identity::IdentityStore,
    expiration: Arc<crate::expiration::Expiration>,
}

/// Name and id of the cluster, generated at init and stored through the barrier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ClusterInfo {
    pub(crate) v: u32,
    pub(crate) name: String,
    pub(crate) id: String,
}

struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

/// The server core. Shared as `Arc<Core>` by every listener.
pub struct Core {
    physical: Arc<dyn Backend>,
    barrier: Arc<Barrier>,
    cluster: Arc<dyn Cluster>,
    opts: CoreOptions,
    /// Read on every request without locking; replaced on init/unseal/seal.
    state: ArcSwap<State>,
    /// Serializes state transitions (init, unseal, seal).
    transition: tokio::sync::Mutex<()>,
    /// Shares entered so far; a std mutex, never held across an await.
    progress: Mutex<Progress>,
    /// The request headers audit entries carry; loaded at unseal.
    audited_headers: crate::audit::AuditedHeaders,
    /// Requests and responses no audit device recorded.
    audit_failures: crate::audit::FailureCounters,
    /// `unsafe_allow_api_audit_creation`, as last loaded (read by `sys/audit` on every enable).
    allow_api_audit_creation: AtomicBool,
    /// The config file's `audit` stanzas, as last loaded.
    declared_audit: ArcSwap<Vec<DeclaredAudit>>,
}

/// How often the keyring auto-rotation check runs.
const ROTATION_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl Core {
    /// Builds the core over `physical` and reads whether it is initialized. The core starts sealed.
    pub async fn new(
        physical: Arc<dyn Backend>,
        cluster: Arc<dyn Cluster>,
        opts: CoreOptions,
    ) -> Result<Arc<Self>, CoreError> {
        let barrier = Arc::new(Barrier::new(physical.clone()));
        let state = match (
            barrier.is_initialized().await?,
            SealConfig::load(physical.as_ref()).await?,
        ) {
            (true, Some(cfg)) => State::Sealed(cfg),
            (true, None) => {
                return Err(CoreError::Internal(
                    "storage has a keyring but no seal configuration".into(),
                ));
            }
            (false, _) => State::Uninitialized,
        };
        opts.audit_devices
            .set_allow_prefixing(opts.allow_audit_log_prefixing);
        let audit_failures =
            crate::audit::FailureCounters::register(&opts.metrics, &opts.audit_devices);
        Ok(Arc::new(Self {
            physical,
            barrier,
            cluster,
            audited_headers: crate::audit::AuditedHeaders::default(),
            audit_failures,
            allow_api_audit_creation: AtomicBool::new(opts.allow_api_audit_creation),
            declared_audit: ArcSwap::from_pointee(opts.declared_audit.clone()),
            opts,
            state: ArcSwap::from_pointee(state),
            transition: tokio::sync::Mutex::new(()),
            progress: Mutex::new(Progress::default()),
        }))
    }

    pub(crate) fn barrier(&self) -> &Barrier {
        &self.barrier
    }

    pub(crate) fn cluster(&self) -> &dyn Cluster {
        self.cluster.as_ref()
    }

    pub(crate) fn audit(&self) -> &Arc<dyn crate::AuditBroker> {
        &self.opts.audit
    }

    /// The plaintext storage above the barrier.
    pub(crate) fn plain_storage(&self) -> &dyn Storage {
        self.barrier.as_ref()
    }

    /// The audit devices (for `sys/audit`).
    pub(crate) fn audit_devices(&self) -> &Arc<server_audit::Broker> {
        &self.opts.audit_devices
    }

    /// Whether `sys/audit` may enable devices.
    pub(crate) fn allow_api_audit_creation(&self) -> bool {
        self.allow_api_audit_creation.load(Ordering::Relaxed)
    }

    /// The declared device path (with a trailing slash) that `path` would overlap, if any: such paths belong to
    /// the config file, so `sys/audit` cannot enable a device there, even when the declared one is not enabled.
    pub(crate) fn declared_audit_overlapping(&self, path: &str) -> Option<String> {
        let path = crate::audit::declared_path(path);
        self.declared_audit
            .load()
            .iter()
            .map(|d| crate::audit::declared_path(&d.path))
            .find(|d| crate::audit::paths_overlap(d, &path))
    }

    /// Applies the audit settings re-read from the config file (SIGHUP): the two flags take effect at once;
    /// when unsealed, the declared devices are reconciled with the device table (see
    /// [`crate::AuditReconcile`]); when sealed, the next unseal does it. Problems are logged and reported,
    /// never fatal: the server keeps running with what could be applied.
    pub async fn reload_config(&self, config: ReloadableConfig) -> crate::AuditReconcile {
        self.allow_api_audit_creation
            .store(config.allow_api_audit_creation, Ordering::Relaxed);
        self.opts
            .audit_devices
            .set_allow_prefixing(config.allow_audit_log_prefixing);
        self.declared_audit.store(Arc::new(config.declared_audit));
        // Not concurrently with an unseal (which reconciles too) or a seal (which drops the devices).
        let _t = self.transition.lock().await;
        if self.is_sealed() {
            return crate::AuditReconcile::default();
        }
        self.reconcile_declared_audit().await
    }

    async fn reconcile_declared_audit(&self) -> crate::AuditReconcile {
        let declared = self.declared_audit.load_full();
        crate::audit::reconcile_declared(&self.opts.audit_devices, self.barrier.as_ref(), &declared)
            .await
    }

    /// The request headers audit entries carry (`sys/config/auditing/request-headers`).
    pub(crate) fn audited_headers(&self) -> &crate::audit::AuditedHeaders {
        &self.audited_headers
    }

    /// The audit failure counters.
    pub(crate) fn audit_failures(&self) -> &crate::audit::FailureCounters {
        &self.audit_failures
    }

    /// The node's metrics registry (`sys/metrics`): register counters and gauges or collectors here.
    pub fn metrics(&self) -> &Arc<crate::Metrics> {
        &self.opts.metrics
    }

    /// Reopens audit files (SIGHUP, after logrotate moved them).
    pub fn reopen_audit_files(&self) {
        self.opts.audit_devices.reopen();
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.opts.clock.as_ref()
    }

    /// Whether `sys/init` has run.
    pub fn is_initialized(&self) -> bool {
        !matches!(**self.state.load(), State::Uninitialized)
    }

    /// Whether the barrier is sealed (true when uninitialized too).
    pub fn is_sealed(&self) -> bool {
        !matches!(**self.state.load(), State::Unsealed(_))
    }

    pub(crate) fn unsealed(&self) -> Result<Arc<Unsealed>, CoreError> {
        match &**self.state.load() {
            State::Unsealed(u) => Ok(u.clone()),
            _ => Err(CoreError::Sealed),
        }
    }

    /// The cluster this core serves, as `sys/health` and `sys/leader` report it.
    pub fn cluster_status(&self) -> crate::ClusterStatus {
        self.cluster.status()
    }

    /// Whether storage is replicated (raft).
    pub fn ha_enabled(&self) -> bool {
        self.cluster.ha_enabled()
    }

    /// When this node last became active, if unsealed.
    pub fn active_since(&self) -> Option<SystemTime> {
        self.unsealed().ok().map(|u| u.active_since)
    }

    /// Cluster name and id, if unsealed.
    pub fn cluster_identity(&self) -> Option<(String, String)> {
        self.unsealed()
            .ok()
            .map(|u| (u.cluster.name.clone(), u.cluster.id.clone()))
    }

    /// The current time, from the injected clock.
    pub fn now(&self) -> SystemTime {
        self.opts.clock.now()
    }

    /// `GET sys/seal-status`.
    pub fn seal_status(&self) -> SealStatus {
        let state = self.state.load();
        let (initialized, sealed, cfg) = match &**state {
            State::Uninitialized => (false, true, None),
            State::Sealed(c) => (true, true, Some(c)),
            State::Unsealed(u) => (true, false, Some(&u.seal)),
        };
        let (progress, nonce) = match self.progress.lock() {
            Ok(p) => (p.count() as u64, p.nonce().to_owned()),
            Err(_) => (0, String::new()),
        };
        let unsealed = match &**state {
            State::Unsealed(u) => Some(u.clone()),
            _ => None,
        };
        SealStatus {
            seal_type: cfg
                .map(|c| c.seal_type.clone())
                .unwrap_or_else(|| "shamir".into()),
            initialized,
            sealed,
            t: cfg.map(|c| u64::from(c.secret_threshold)).unwrap_or(0),
            n: cfg.map(|c| u64::from(c.secret_shares)).unwrap_or(0),
            progress,
            nonce,
            version: api_spec::VERSION.into(),
            build_date: String::new(),
            commit_date: String::new(),
            migration: false,
            recovery_seal: false,
            storage_type: self.cluster.storage_type().into(),
            cluster_name: unsealed.as_ref().map(|u| u.cluster.name.clone()),
            cluster_id: unsealed.as_ref().map(|u| u.cluster.id.clone()),
        }
    }

    /// `POST sys/init`: creates the root key, the keyring and the root token, and leaves the server sealed.
    pub async fn initialize(&self, req: InitRequest) -> Result<InitResponse, CoreError> {
        let _t = self.transition.lock().await;
        if self.is_initialized() || self.barrier.is_initialized().await? {
            return Err(CoreError::AlreadyInitialized);
        }
        if req.pgp_keys.as_ref().is_some_and(|k| !k.is_empty())
            || req
                .root_token_pgp_key
                .as_ref()
                .is_some_and(|k| !k.is_empty())
        {
            return Err(CoreError::InvalidRequest(
                "PGP-encrypted key shares are not supported".into(),
            ));
        }
        // The CLI always sends the recovery fields, as zeros when unused.
        let recovery = req.recovery_shares.unwrap_or(0) > 0
            || req.recovery_threshold.unwrap_or(0) > 0
            || req
                .recovery_pgp_keys
                .as_ref()
                .is_some_and(|k| !k.is_empty());
        if recovery {
            return Err(CoreError::InvalidRequest(
                "parameters recovery_shares not applicable to seal type shamir".into(),
            ));
        }
        let cfg = SealConfig::shamir(req.secret_shares, req.secret_threshold)?;

        let root = RootKey::generate()?;
        let kek = ShamirSeal::generate_kek()?;
        // With one share the share is the key itself, as in OpenBao.
        let shares = if cfg.secret_shares == 1 {
            vec![kek.clone()]
        } else {
            barrier::shamir::split(&kek, cfg.secret_shares, cfg.secret_threshold)?
        };
        // Order matters for crash safety: `is_initialized` looks at the keyring, so it is written last; a crash
        // before that leaves an uninitialized server that can be initialized again.
        cfg.store(self.physical.as_ref()).await?;
        barrier::store_root_key(self.physical.as_ref(), &ShamirSeal::new(kek)?, &root).await?;
        self.barrier.initialize(&root).await?;

        self.barrier.unseal(&root).await?;
        let setup = self.post_unseal_setup(true).await;
        let root_token = match setup {
            Ok(setup) => setup
                .tokens
                .create_root(None, self.clock().unix())
                .await
                .map(|(t, _)| t),
            Err(e) => Err(auth_token::TokenError::InvalidRequest(e.to_string())),
        };
        self.barrier.seal();
        let root_token = root_token?;
        self.state.store(Arc::new(State::Sealed(cfg)));
        tracing::info!("core initialized");

        let b64 = base64::engine::general_purpose::STANDARD;
        Ok(InitResponse {
            keys: shares.iter().map(hex::encode).collect(),
            keys_base64: shares.iter().map(|s| b64.encode(s.as_slice())).collect(),
            recovery_keys: Vec::new(),
            recovery_keys_base64: Vec::new(),
            root_token: root_token.to_string(),
        })
    }

    /// `POST sys/unseal`: adds one share (or resets), and unseals once the threshold is reached.
    pub async fn unseal(&self, key: Option<&str>, reset: bool) -> Result<SealStatus, CoreError> {
        let _t = self.transition.lock().await;
        let cfg = match &**self.state.load() {
            State::Uninitialized => {
                return Err(CoreError::InvalidRequest("Vault is not initialized".into()));
            }
            State::Unsealed(_) => return Ok(self.seal_status()),
            State::Sealed(cfg) => cfg.clone(),
        };
        if reset {
            self.lock_progress()?.reset();
            return Ok(self.seal_status());
        }
        let share = decode_share(key.unwrap_or_default())?;
        let shares = {
            let mut p = self.lock_progress()?;
            p.add(share);
            if p.count() < usize::from(cfg.secret_threshold) {
                None
            } else {
                Some(p.take())
            }
        };
        let Some(shares) = shares else {
            return Ok(self.seal_status());
        };

        let kek = if shares.len() == 1 {
            shares.into_iter().next().unwrap_or_default()
        } else {
            barrier::shamir::combine(&shares)
                .map_err(|e| CoreError::InvalidRequest(format!("failed to unseal: {e}")))?
        };
        let seal = ShamirSeal::new(kek)
            .map_err(|_| CoreError::InvalidRequest("failed to unseal: invalid key".into()))?;
        let root = match barrier::load_root_key(self.physical.as_ref(), &seal).await {
            Ok(root) => root,
            Err(barrier::BarrierError::InvalidKey) => {
                tracing::warn!("unseal attempt with an invalid key; progress reset");
                return Err(CoreError::InvalidRequest(
                    "failed to unseal: the key shares do not open the root key (wrong or mismatched shares); unseal progress was reset".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        self.barrier.unseal(&root).await?;
        match self.post_unseal_setup(false).await {
            Ok(Setup {
                tokens,
                cluster,
                mounts,
                policies,
                identity,
                expiration,
            }) => {
                let rotation = self.spawn_rotation_check();
                let unsealed = Arc::new(Unsealed {
                    expiration,
                    seal: cfg,
                    tokens,
                    mounts,
                    policies,
                    identity,
                    system: crate::system::CoreSystem {
                        storage: self.barrier.clone(),
                        metrics: self.opts.metrics.clone(),
                    },
                    cluster,
                    active_since: self.now(),
                    _rotation: rotation,
                    background: std::sync::OnceLock::new(),
                });
                unsealed.start_background(self.opts.clock.clone(), self.cluster.clone());
                self.state.store(Arc::new(State::Unsealed(unsealed)));
                tracing::info!("core unsealed");
                Ok(self.seal_status())
            }
            Err(e) => {
                self.barrier.seal();
                Err(e)
            }
        }
    }

    /// `-dev` mode: initializes with a single share, unseals, and gives the root token the chosen id.
    /// Returns the unseal key (base64) and the root token.
    pub async fn dev_init(
        &self,
        root_token_id: Option<&str>,
    ) -> Result<(String, Zeroizing<String>), CoreError> {
        let init = self
            .initialize(InitRequest {
                secret_shares: Some(1),
                secret_threshold: Some(1),
                ..Default::default()
            })
            .await?;
        let key = init.keys_base64.first().cloned().unwrap_or_default();
        self.unseal(Some(&key), false).await?;
        let unsealed = self.unsealed()?;
        if self.opts.catalog.contains_key("kv") {
            let req = crate::mounts::MountRequest {
                kind: "kv-v2".into(),
                description: "key/value secret storage".into(),
                config: Default::default(),
                options: Default::default(),
                local: false,
                seal_wrap: false,
            };
            unsealed
                .mounts
                .mount(crate::mount_table::Table::Secrets, "secret/", req)
                .await?;
        }
        let Some(id) = root_token_id else {
            return Ok((key, Zeroizing::new(init.root_token.clone())));
        };
        unsealed.tokens.revoke(&init.root_token).await?;
        let (token, _) = unsealed
            .tokens
            .create_root(Some(id), self.clock().unix())
            .await?;
        Ok((key, token))
    }

    /// `POST sys/seal`: drops the keys from memory.
    pub async fn seal(&self) -> Result<(), CoreError> {
        let _t = self.transition.lock().await;
        let cfg = match &**self.state.load() {
            State::Unsealed(u) => u.seal.clone(),
            State::Sealed(_) => return Ok(()),
            State::Uninitialized => {
                return Err(CoreError::InvalidRequest("Vault is not initialized".into()));
            }
        };
        self.barrier.seal();
        self.state.store(Arc::new(State::Sealed(cfg)));
        self.opts.audit_devices.seal();
        self.audited_headers.clear();
        self.lock_progress()?.reset();
        tracing::info!("core sealed");
        Ok(())
    }

    /// The logical request pipeline (see `pipeline.rs`).
    pub async fn handle(&self, req: Request) -> Result<Response, CoreError> {
        let unsealed = self.unsealed()?;
        crate::pipeline::handle(self, &unsealed, req).await
    }

    fn lock_progress(&self) -> Result<std::sync::MutexGuard<'_, Progress>, CoreError> {
        self.progress
            .lock()
            .map_err(|_| CoreError::Internal("unseal progress lock poisoned".into()))
    }

    /// Builds what an unsealed core needs; on the first unseal after init, creates the cluster identity.
    async fn post_unseal_setup(&self, first: bool) -> Result<Setup, CoreError> {
        let plain: Arc<dyn Storage> = self.barrier.clone();
        let tokens = TokenStore::new(View::new(plain.clone(), paths::TOKEN_VIEW));
        let cluster = match self.barrier.get(paths::CLUSTER_INFO).await? {
            Some(bytes) => serde_json::from_slice::<ClusterInfo>(&bytes)
                .map_err(|e| CoreError::Internal(format!("cluster info is corrupt: {e}")))?,
            None if first => {
                let id = uuid::Uuid::new_v4().to_string();
                let suffix = id.get(..8).unwrap_or("00000000").to_owned();
                let info = ClusterInfo {
                    v: 1,
                    name: format!("vault-cluster-{suffix}"),
                    id,
                };
                let bytes =
                    serde_json::to_vec(&info).map_err(|e| CoreError::Internal(e.to_string()))?;
                self.barrier.put(paths::CLUSTER_INFO, &bytes).await?;
                info
            }
            None => return Err(CoreError::Internal("cluster info missing".into())),
        };
        let cluster = match &self.opts.cluster_name {
            Some(name) => ClusterInfo {
                name: name.clone(),
                ..cluster
            },
            None => cluster,
        };
        let policies = PolicyStore::load(plain.clone()).await?;
        let mut builtins: std::collections::BTreeMap<
            &'static str,
            Arc<dyn engine_sdk::LogicalBackend>,
        > = std::collections::BTreeMap::new();
        builtins.insert("cubbyhole", Arc::new(crate::cubbyhole::Cubbyhole));
        builtins.insert("identity", Arc::new(crate::identity::IdentityBackend));
        builtins.insert("token", Arc::new(auth_token::Backend::new(tokens.clone())));
        let plain_for_leases = plain.clone();
        let mounts = Mounts::setup(
            plain,
            self.opts.catalog.clone(),
            builtins,
            (self.opts.default_lease_ttl, self.opts.max_lease_ttl),
        )
        .await?;
        let expiration = crate::expiration::Expiration::new(
            plain_for_leases,
            self.opts.clock.clone(),
            self.opts.expiration,
            &self.opts.metrics,
        );
        // A revoked token's leases and cubbyhole go with it.
        tokens.set_revoke_hook(Arc::new(crate::cubbyhole::TokenRevoked {
            cubbyhole: mounts
                .router()
                .routes()
                .iter()
                .find(|r| r.entry.kind == "cubbyhole")
                .map(|r| r.view.clone()),
            expiration: expiration.clone(),
        }));
        self.restore_audit().await?;
        let identity = mounts
            .router()
            .routes()
            .iter()
            .find(|r| r.entry.kind == "identity")
            .map(|r| crate::identity::IdentityStore::new(r.view.clone()))
            .ok_or_else(|| CoreError::Internal("the identity mount is missing".into()))?;
        Ok(Setup {
            tokens,
            cluster,
            mounts,
            policies,
            identity,
            expiration,
        })
    }

    /// Reopens the persisted audit devices and reconciles the declared ones (as a SIGHUP does, so a restart
    /// and a reload agree), before any request is served (with devices enabled, nothing may go unaudited). A
    /// declared device that cannot be enabled is logged, not fatal: the unseal goes on with the others.
    async fn restore_audit(&self) -> Result<(), CoreError> {
        self.audited_headers.load(self.barrier.as_ref()).await?;
        self.opts
            .audit_devices
            .restore(self.barrier.as_ref())
            .await
            .map_err(crate::audit::core_error)?;
        self.reconcile_declared_audit().await;
        Ok(())
    }

    fn spawn_rotation_check(&self) -> AbortOnDrop {
        let barrier = self.barrier.clone();
        let clock = self.opts.clock.clone();
        AbortOnDrop(Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(ROTATION_CHECK_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match barrier.rotate_if_needed_at(clock.now()).await {
                    Ok(Some(status)) => {
                        tracing::info!(term = status.term, "keyring rotated automatically")
                    }
                    Ok(None) => {}
                    Err(barrier::BarrierError::Sealed) => return,
                    Err(e) => tracing::warn!(error = %e, "keyring auto-rotation check failed"),
                }
            }
        })))
    }
}

#[cfg(test)]
mod tests;
