//! The lease manager (DESIGN.md §5): registers the leases of secrets and the expiry of service tokens, renews
//! and revokes them, and expires them from an index ordered by time that lives in storage. Nothing is loaded
//! per lease at unseal: the worker finds due records by listing only the minute buckets that are due.
//!
//! Revocation of expired leases runs on a bounded pool with per-mount fairness and a rate limit; a failure is
//! retried with exponential backoff and jitter, and after the last retry the lease is marked irrevocable with
//! its reason, listed, and retried in the background.

mod entry;
mod queue;
mod quota;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use engine_sdk::{LeaseRequest, Op, Secret};
use serde_json::{Value, json};
use storage::Storage;

use crate::core::Unsealed;
use crate::request::Lease;
use crate::router::Route;
use crate::{Clock, Cluster, CoreError, Response};
pub(crate) use entry::LeaseEntry;
use entry::{
    ID_PREFIX, TIME_PREFIX, TOKEN_PREFIX, TOKEN_TARGET, at, bucket, bucket_prefix, due_of, id_key,
    secs, time_key,
};
use queue::RevocationQueue;
pub(crate) use quota::{QuotaConfig, Quotas};

/// Irrevocable leases: `sys/expire/irrevocable/<digest>` → lease id (so listing them needs no scan).
const IRREVOCABLE_PREFIX: &str = "sys/expire/irrevocable/";
/// Corrupt lease entries parked by the worker: `sys/expire/corrupt/<digest>` → lease id (listed with the
/// irrevocable ones; only `revoke-force` removes them).
const CORRUPT_PREFIX: &str = "sys/expire/corrupt/";
/// How often the worker looks for due records.
const TICK: Duration = Duration::from_secs(1);
/// Backoff cap between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often an irrevocable lease is tried again in the background.
const IRREVOCABLE_RETRY: Duration = Duration::from_secs(600);
/// Records the worker takes from the index per tick at most (the rest wait for the next tick).
const MAX_IN_FLIGHT: usize = 4096;
/// Concurrent revocations of a `revoke-prefix` or a mount's teardown.
const PREFIX_CONCURRENCY: usize = 16;
/// Lock stripes serializing renew, revoke and expiry of one lease (load → engine → write).
const LOCK_STRIPES: usize = 64;

/// Tunables of the revocation pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpirationConfig {
    /// Concurrent revocations of expired leases.
    pub workers: usize,
    /// Revocations of expired leases per second, at most.
    pub rate_per_sec: u32,
    /// Revocation attempts (with backoff between them) before a lease is marked irrevocable.
    pub max_attempts: u32,
}

impl Default for ExpirationConfig {
    fn default() -> Self {
        Self {
            workers: 8,
            rate_per_sec: 500,
            max_attempts: 8,
        }
    }
}

/// The lease manager of an unsealed core.
pub(crate) struct Expiration {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    /// Minute buckets of the expiry index that may hold records (loaded once at start, then kept current).
    buckets: Mutex<BTreeSet<u64>>,
    queue: RevocationQueue,
    config: ExpirationConfig,
    quotas: Quotas,
    /// Lease entries that could not be decoded (logged, skipped, counted; never a reason to fail).
    corrupt: crate::metrics::Counter,
    locks: Vec<tokio::sync::Mutex<()>>,
    gauges: LeaseMetrics,
}

/// The lease manager's series in `sys/metrics` (OpenBao's names where it has one).
struct LeaseMetrics {
    /// `vault.expire.num_irrevocable_leases`.
    irrevocable: crate::metrics::Gauge,
    /// `vault.expire.revoked`: leases revoked through their engine.
    revoked: crate::metrics::Counter,
    /// `vault.expire.revoke_failure`: failed revocation attempts (each retry counts).
    revoke_failures: crate::metrics::Counter,
    /// `vault.expire.job_manager.queue_length`: due records waiting for a worker.
    queue: crate::metrics::Gauge,
}

impl Expiration {
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
        config: ExpirationConfig,
        metrics: &crate::Metrics,
    ) -> Arc<Self> {
        // Same names → same handles: a re-unsealed core keeps counting where it left off; gauges are set anew.
        let gauges = LeaseMetrics {
            irrevocable: metrics.gauge("vault.expire.num_irrevocable_leases", &[]),
            revoked: metrics.counter("vault.expire.revoked", &[]),
            revoke_failures: metrics.counter("vault.expire.revoke_failure", &[]),
            queue: metrics.gauge("vault.expire.job_manager.queue_length", &[]),
        };
        Arc::new(Self {
            quotas: Quotas::new(storage.clone()),
            corrupt: metrics.counter("vault.expire.corrupt_entries", &[]),
            gauges,
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            storage,
            clock,
            buckets: Mutex::new(BTreeSet::new()),
            queue: RevocationQueue::new(),
            config,
        })
    }

    /// Serializes work on one lease (held across the engine call: renew, revoke and expiry must not interleave).
    async fn lock(&self, lease_id: &str) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        let h = lease_id.bytes().fold(0usize, |a, b| {
            a.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        match self.locks.get(h % LOCK_STRIPES) {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }

    /// The lease-count quotas.
    pub(crate) fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    fn now(&self) -> u64 {
        secs(self.clock.now())
    }

    fn note_bucket(&self, due: u64) {
        if let Ok(mut b) = self.buckets.lock() {
            b.insert(bucket(due));
        }
    }

    /// Registers the lease of a secret an engine just issued; returns what the envelope shows.
    pub(crate) async fn register(
        &self,
        u: &Unsealed,
        route: &Route,
        request_path: &str,
        secret: &Secret,
        token_key: &str,
    ) -> Result<Lease, CoreError> {
        let now = self.now();
        let mount_max = route.info.max_lease_ttl;
        let max = if secret.max_ttl.is_zero() {
            mount_max
        } else {
            secret.max_ttl.min(mount_max)
        };
        let ttl = if secret.ttl.is_zero() {
            route.info.default_lease_ttl
        } else {
            secret.ttl
        }
        .min(max);
        let lease_id = format!(
            "{}/{}",
            request_path.trim_end_matches('/'),
            crate::random::base62(24)?
        );
        let entry = LeaseEntry {
            v: 1,
            lease_id: lease_id.clone(),
            mount_accessor: route.info.accessor.clone(),
            kind: secret.kind.clone(),
            internal: secret.internal.clone(),
            token_key: token_key.to_owned(),
            issue_time: now,
            expire_time: now + ttl.as_secs(),
            last_renewal: None,
            max_expire_time: now + max.as_secs(),
            renewable: secret.renewable,
            revoke_attempts: 0,
            retry_at: None,
            irrevocable: None,
        };
        let mut ops = vec![
            put_json(id_key(&lease_id), &entry)?,
            Op::Put {
                key: time_key(entry.due(), &lease_id),
                value: lease_id.clone().into_bytes(),
            },
        ];
        if !token_key.is_empty() {
            ops.push(Op::Put {
                key: entry::token_key(token_key, &lease_id),
                value: lease_id.clone().into_bytes(),
            });
        }
        // The engine's "created, not leased yet" record goes in the same write as the lease.
        let pending = match &secret.pending_key {
            Some(k) => storage::validate_key(k).map_err(CoreError::from).map(|()| {
                ops.push(Op::Delete {
                    key: format!("{}{k}", route.view.prefix()),
                });
            }),
            None => Ok(()),
        };
        let stored = match pending.and_then(|()| self.quotas.reserve(&lease_id)) {
            Ok(()) => self.storage.batch(ops).await.map_err(|e| {
                self.quotas.release(&lease_id);
                CoreError::from(e)
            }),
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            // The credential exists but nothing would ever revoke it: take it back now.
            tracing::error!(lease_id = %lease_id, error = %e, "lease not persisted; revoking the secret");
            if let Err(re) = revoke_backend(u, self.clock.as_ref(), route, &entry).await {
                tracing::error!(lease_id = %lease_id, error = %re, "revoking an unpersisted secret failed");
            }
            return Err(e);
        }
        self.note_bucket(entry.due());
        Ok(Lease {
            id: lease_id,
            duration: ttl.as_secs(),
            renewable: secret.renewable,
        })
    }

    /// Indexes a service token's expiry so it is revoked (with its children and leases) when it expires.
    /// A renewal needs no index update: when the record comes due the token's current expiry is checked.
    pub(crate) async fn register_token(
        &self,
        token_key: &str,
        expire_time: u64,
    ) -> Result<(), CoreError> {
        if token_key.is_empty() || expire_time == 0 {
            return Ok(());
        }
        let target = format!("{TOKEN_TARGET}{token_key}");
        self.storage
            .put(&time_key(expire_time, &target), target.as_bytes())
            .await?;
        self.note_bucket(expire_time);
        Ok(())
    }

    async fn load(&self, lease_id: &str) -> Result<Option<LeaseEntry>, CoreError> {
        Ok(match self.load_checked(lease_id).await? {
            Loaded::Found(e) => Some(e),
            Loaded::Missing | Loaded::Corrupt(_) => None,
        })
    }

    async fn load_checked(&self, lease_id: &str) -> Result<Loaded, CoreError> {
        if lease_id.is_empty() || lease_id.split('/').any(|s| s == ".." || s == ".") {
            return Ok(Loaded::Missing);
        }
        match self.storage.get(&id_key(lease_id)).await? {
            Some(bytes) => match serde_json::from_slice(&bytes) {
                Ok(e) => Ok(Loaded::Found(e)),
                Err(e) => {
                    // A corrupt entry is reported and skipped, never a reason to fail the manager.
                    tracing::error!(lease_id = %lease_id, error = %e, "lease entry is corrupt");
                    self.corrupt.inc();
                    Ok(Loaded::Corrupt(e.to_string()))
                }
            },
            None => Ok(Loaded::Missing),
        }
    }

    /// `revoke-force` of a corrupt entry: nothing can be revoked without it, so only its records go.
    async fn forget_corrupt(&self, lease_id: &str) -> Result<(), CoreError> {
        tracing::warn!(lease_id = %lease_id, "corrupt lease entry forgotten (force); its secret was not revoked");
        self.storage
            .batch(vec![
                Op::Delete {
                    key: id_key(lease_id),
                },
                Op::Delete {
                    key: corrupt_key(lease_id),
                },
            ])
            .await?;
        Ok(())
    }

    /// `sys/leases/lookup`.
    pub(crate) async fn lookup(&self, lease_id: &str) -> Result<Response, CoreError> {
        let entry = self
            .load(lease_id)
            .await?
            .ok_or_else(|| CoreError::InvalidRequest("invalid lease".into()))?;
        let now = self.now();
        Ok(Response::json(json!({
            "id": entry.lease_id,
            "issue_time": crate::clock::rfc3339(at(entry.issue_time)),
            "expire_time": crate::clock::rfc3339(at(entry.expire_time)),
            "last_renewal": entry.last_renewal.map(|t| crate::clock::rfc3339(at(t))),
            "path": entry.lease_id.rsplit_once('/').map(|(p, _)| p).unwrap_or_default(),
            "renewable": entry.renewable && entry.irrevocable.is_none(),
            "ttl": entry.expire_time.saturating_sub(now),
        })))
    }

    /// `LIST sys/leases/lookup/<prefix>`.
    pub(crate) async fn list(&self, prefix: &str) -> Result<Vec<String>, CoreError> {
        let prefix = prefix.trim_start_matches('/');
        let prefix = if prefix.is_empty() || prefix.ends_with('/') {
            prefix.to_owned()
        } else {
            format!("{prefix}/")
        };
        Ok(self.storage.list(&format!("{ID_PREFIX}{prefix}")).await?)
    }

    /// `sys/leases/renew`.
    pub(crate) async fn renew(
        &self,
        u: &Unsealed,
        lease_id: &str,
        increment: Option<Duration>,
    ) -> Result<Response, CoreError> {
        let _guard = self.lock(lease_id).await;
        let now = self.now();
        let mut entry = self
            .load(lease_id)
            .await?
            .filter(|e| e.expire_time > now && e.irrevocable.is_none())
            .ok_or_else(|| CoreError::InvalidRequest("lease not found".into()))?;
        if !entry.renewable {
            return Err(CoreError::InvalidRequest("lease is not renewable".into()));
        }
        let route = route_of(u, &entry.mount_accessor).ok_or_else(|| {
            CoreError::InvalidRequest("the mount that issued this lease no longer exists".into())
        })?;
        let internal = entry.internal.clone();
        let resp = route
            .backend
            .renew(LeaseRequest {
                lease_id,
                kind: &entry.kind,
                internal: &internal,
                increment,
                issue_time: at(entry.issue_time),
                storage: &route.view,
                clock: self.clock.as_ref(),
                mount: &route.info,
                system: &u.system,
            })
            .await?;
        let secret = resp.secret.unwrap_or_default();
        let mut max_expire = entry
            .max_expire_time
            .min(entry.issue_time + route.info.max_lease_ttl.as_secs());
        if !secret.max_ttl.is_zero() {
            max_expire = max_expire.min(entry.issue_time + secret.max_ttl.as_secs());
        }
        let requested = increment
            .filter(|d| !d.is_zero())
            .or(Some(secret.ttl).filter(|d| !d.is_zero()))
            .unwrap_or(route.info.default_lease_ttl);
        let mut warnings = resp.warnings;
        let mut expire = now.saturating_add(requested.as_secs());
        if expire > max_expire {
            expire = max_expire;
            warnings.push(format!(
                "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
                api_spec::duration::format(requested),
                api_spec::duration::format(Duration::from_secs(max_expire.saturating_sub(now)))
            ));
        }
        let old_due = entry.due();
        entry.expire_time = expire;
        entry.last_renewal = Some(now);
        entry.max_expire_time = max_expire;
        self.storage
            .batch(vec![
                put_json(id_key(lease_id), &entry)?,
                Op::Delete {
                    key: time_key(old_due, lease_id),
                },
                Op::Put {
                    key: time_key(entry.due(), lease_id),
                    value: lease_id.as_bytes().to_vec(),
                },
            ])
            .await?;
        self.note_bucket(entry.due());
        Ok(Response {
            data: resp.data,
            warnings,
            lease: Some(Lease {
                id: lease_id.to_owned(),
                duration: expire.saturating_sub(now),
                renewable: true,
            }),
            ..Response::default()
        })
    }

    /// `sys/leases/revoke`: now (`sync`), or queued for the worker.
    pub(crate) async fn revoke(
        &self,
        u: &Unsealed,
        lease_id: &str,
        sync: bool,
    ) -> Result<(), CoreError> {
        let _guard = self.lock(lease_id).await;
        let entry = match self.load_checked(lease_id).await? {
            Loaded::Found(e) => e,
            // Revoking what is not there is a no-op, as in OpenBao.
            Loaded::Missing => return Ok(()),
            Loaded::Corrupt(why) => {
                return Err(CoreError::InvalidRequest(format!(
                    "lease {lease_id:?} is corrupt ({why}); only revoke-force removes it"
                )));
            }
        };
        if sync {
            return self.revoke_entry(u, &entry, false).await;
        }
        self.expire_now(&entry).await
    }

    /// Revokes through the issuing engine, then deletes the lease's records. With `force` an engine failure is
    /// logged and the lease forgotten anyway (OpenBao's revoke-force); the caller holds the lease's lock.
    async fn revoke_entry(
        &self,
        u: &Unsealed,
        entry: &LeaseEntry,
        force: bool,
    ) -> Result<(), CoreError> {
        let outcome = match route_of(u, &entry.mount_accessor) {
            Some(route) => revoke_backend(u, self.clock.as_ref(), &route, entry).await,
            None => Err(CoreError::InvalidRequest(format!(
                "the mount that issued lease {:?} is not mounted",
                entry.lease_id
            ))),
        };
        match &outcome {
            Ok(()) => self.gauges.revoked.inc(),
            Err(_) => self.gauges.revoke_failures.inc(),
        }
        match outcome {
            Ok(()) => {}
            Err(e) if force => {
                tracing::warn!(lease_id = %entry.lease_id, error = %e, "revocation failed; lease forgotten (force)")
            }
            Err(e) => return Err(e),
        }
        self.delete_records(entry).await
    }

    async fn delete_records(&self, entry: &LeaseEntry) -> Result<(), CoreError> {
        let mut ops = vec![
            Op::Delete {
                key: id_key(&entry.lease_id),
            },
            Op::Delete {
                key: time_key(entry.due(), &entry.lease_id),
            },
            Op::Delete {
                key: irrevocable_key(&entry.lease_id),
            },
        ];
        if !entry.token_key.is_empty() {
            ops.push(Op::Delete {
                key: entry::token_key(&entry.token_key, &entry.lease_id),
            });
        }
        self.storage.batch(ops).await?;
        self.quotas.release(&entry.lease_id);
        if entry.irrevocable.is_some() {
            self.gauges.irrevocable.add(-1.0);
        }
        Ok(())
    }

    /// Makes a lease due now, for the worker to revoke.
    async fn expire_now(&self, entry: &LeaseEntry) -> Result<(), CoreError> {
        let now = self.now();
        let mut e = entry.clone();
        e.expire_time = e.expire_time.min(now);
        e.retry_at = None;
        self.storage
            .batch(vec![
                put_json(id_key(&e.lease_id), &e)?,
                Op::Delete {
                    key: time_key(entry.due(), &e.lease_id),
                },
                Op::Put {
                    key: time_key(e.due(), &e.lease_id),
                    value: e.lease_id.as_bytes().to_vec(),
                },
            ])
            .await?;
        self.note_bucket(e.due());
        Ok(())
    }

    /// Every lease id under `prefix` (recursively).
    pub(crate) async fn ids_under(&self, prefix: &str) -> Result<Vec<String>, CoreError> {
        let mut out = Vec::new();
        let mut pending = vec![prefix.trim_start_matches('/').to_owned()];
        while let Some(p) = pending.pop() {
            let dir = if p.is_empty() || p.ends_with('/') {
                p
            } else {
                // The prefix may name a lease itself.
                if self.storage.get(&id_key(&p)).await?.is_some() {
                    out.push(p.clone());
                }
                format!("{p}/")
            };
            for child in self.storage.list(&format!("{ID_PREFIX}{dir}")).await? {
                let full = format!("{dir}{child}");
                if child.ends_with('/') {
                    pending.push(full);
                } else {
                    out.push(full);
                }
            }
        }
        Ok(out)
    }

    /// `sys/leases/revoke-prefix` and `revoke-force`: every lease under `prefix`. `force` forgets leases whose
    /// revocation fails (or, as OpenBao's revoke-force, does not call the engine at all).
    pub(crate) async fn revoke_prefix(
        &self,
        u: &Unsealed,
        prefix: &str,
        force: bool,
        sync: bool,
    ) -> Result<(), CoreError> {
        use futures::StreamExt as _;
        let ids = self.ids_under(prefix).await?;
        if !sync && !force {
            for id in ids {
                if let Some(e) = self.load(&id).await? {
                    self.expire_now(&e).await?;
                }
            }
            return Ok(());
        }
        let results: Vec<Result<(), CoreError>> = futures::stream::iter(ids)
            .map(|id| async move {
                let _guard = self.lock(&id).await;
                match self.load_checked(&id).await? {
                    Loaded::Found(e) => self.revoke_entry(u, &e, force).await,
                    Loaded::Corrupt(_) if force => self.forget_corrupt(&id).await,
                    Loaded::Corrupt(why) => Err(CoreError::InvalidRequest(format!(
                        "lease {id:?} is corrupt ({why}); only revoke-force removes it"
                    ))),
                    Loaded::Missing => Ok(()),
                }
            })
            .buffer_unordered(PREFIX_CONCURRENCY)
            .collect()
            .await;
        let failed: Vec<String> = results
            .into_iter()
            .filter_map(|r| r.err().map(|e| e.to_string()))
            .collect();
        match failed.first() {
            None => Ok(()),
            Some(first) => Err(CoreError::InvalidRequest(format!(
                "failed to revoke {} lease(s) under the prefix: {first}",
                failed.len()
            ))),
        }
    }

    /// Whether any lease under `prefix` exists (a mount's leases, before disabling it).
    pub(crate) async fn any_under(&self, prefix: &str) -> Result<bool, CoreError> {
        Ok(!self.ids_under(prefix).await?.is_empty())
    }

    /// Marks every lease of a revoked token due now (the worker revokes them).
    pub(crate) async fn token_revoked(&self, token_key: &str) -> Result<(), CoreError> {
        let prefix = format!("{TOKEN_PREFIX}{token_key}/");
        for name in self.storage.list(&prefix).await? {
            let key = format!("{prefix}{name}");
            let Some(id) = self.storage.get(&key).await? else {
                continue;
            };
            match self.load(&String::from_utf8_lossy(&id)).await? {
                Some(e) => self.expire_now(&e).await?,
                None => self.storage.delete(&key).await?,
            }
        }
        Ok(())
    }

    /// `GET sys/leases/count`: the number of leases (walks the id tree; an operator endpoint).
    pub(crate) async fn count(&self) -> Result<usize, CoreError> {
        Ok(self.ids_under("").await?.len())
    }

    /// Lease entries found corrupt since unseal.
    pub(crate) fn corrupt_entries(&self) -> u64 {
        self.corrupt.get()
    }

    /// `GET sys/leases?type=irrevocable`: irrevocable leases with their reasons.
    pub(crate) async fn irrevocable(&self) -> Result<Vec<Value>, CoreError> {
        let mut out = Vec::new();
        for name in self.storage.list(IRREVOCABLE_PREFIX).await? {
            let Some(id) = self
                .storage
                .get(&format!("{IRREVOCABLE_PREFIX}{name}"))
                .await?
            else {
                continue;
            };
            if let Some(e) = self.load(&String::from_utf8_lossy(&id)).await? {
                out.push(json!({
                    "lease_id": e.lease_id,
                    "mount_id": e.mount_accessor,
                    "expire_time": crate::clock::rfc3339(at(e.expire_time)),
                    "error": e.irrevocable,
                    "attempts": e.revoke_attempts,
                }));
            }
        }
        for name in self.storage.list(CORRUPT_PREFIX).await? {
            let Some(id) = self.storage.get(&format!("{CORRUPT_PREFIX}{name}")).await? else {
                continue;
            };
            let id = String::from_utf8_lossy(&id).into_owned();
            if let Loaded::Corrupt(why) = self.load_checked(&id).await? {
                out.push(json!({
                    "lease_id": id,
                    "error": format!("lease entry is corrupt: {why}"),
                    "corrupt": true,
                }));
            }
        }
        Ok(out)
    }

    /// `sys/leases/tidy`: drops index records that point at nothing, and owner records of missing leases.
    pub(crate) async fn tidy(&self) -> Result<(), CoreError> {
        for b in self.storage.list(TIME_PREFIX).await? {
            let prefix = format!("{TIME_PREFIX}{b}");
            for name in self.storage.list(&prefix).await? {
                let key = format!("{prefix}{name}");
                if let Some(target) = self.storage.get(&key).await?
                    && !target.starts_with(TOKEN_TARGET.as_bytes())
                    && self
                        .load(&String::from_utf8_lossy(&target))
                        .await?
                        .is_none()
                {
                    self.storage.delete(&key).await?;
                }
            }
        }
        Ok(())
    }

    /// Runs the expiry worker and its revocation pool until the core seals, doing work only while this node
    /// leads the cluster (a follower's writes go to the leader; two nodes revoking the same lease would race).
    /// On taking the lead it restores the bucket set and the quota counts from storage: what another leader
    /// wrote is only there. `u` is weak: the task must not keep a sealed core alive.
    pub(crate) async fn run(self: Arc<Self>, u: Weak<Unsealed>, cluster: Arc<dyn Cluster>) {
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.config.workers.max(1) {
            let me = self.clone();
            let u = u.clone();
            workers.spawn(async move { me.work(u).await });
        }
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut leading = false;
        loop {
            tick.tick().await;
            if u.strong_count() == 0 {
                return;
            }
            if !cluster.status().is_leader {
                if leading {
                    tracing::info!("lost the lead: lease expiry paused");
                }
                leading = false;
                continue;
            }
            if !leading {
                self.restore().await;
                leading = true;
            }
            if let Err(e) = self.scan().await {
                tracing::warn!(error = %e, "lease expiry scan failed; retrying");
            }
        }
    }

    /// Loads the bucket set (one listing) and the quotas, and counts the quotas' leases.
    async fn restore(&self) {
        match self.storage.list(TIME_PREFIX).await {
            Ok(names) => {
                if let Ok(mut b) = self.buckets.lock() {
                    b.extend(
                        names
                            .iter()
                            .filter_map(|n| n.trim_end_matches('/').parse::<u64>().ok()),
                    );
                }
            }
            Err(e) => tracing::error!(error = %e, "could not read the lease expiry index"),
        }
        if let Err(e) = self.quotas.load().await {
            tracing::error!(error = %e, "could not load the lease-count quotas");
        }
        // Only the irrevocable list is counted here: counting every lease would read the whole lease table at
        // each unseal (100k leases: ~400 MiB of pages through the allocator). `GET sys/leases/count` walks it
        // on demand instead.
        match self.storage.list(IRREVOCABLE_PREFIX).await {
            #[allow(clippy::cast_precision_loss, reason = "a lease count")]
            Ok(irrevocable) => self.gauges.irrevocable.set(irrevocable.len() as f64),
            Err(e) => {
                tracing::warn!(error = %e, "could not count the irrevocable leases for sys/metrics")
            }
        }
        for q in self.quotas.uncounted() {
            match self.ids_under(&q.config.path).await {
                Ok(ids) => self.quotas.set_counted(&q, ids),
                Err(e) => {
                    tracing::error!(quota = %q.config.name, error = %e, "could not count a quota's leases")
                }
            }
        }
    }

    /// Queues every due record of the due buckets.
    async fn scan(&self) -> Result<(), CoreError> {
        let scanned = self.scan_buckets().await;
        #[allow(clippy::cast_precision_loss, reason = "a queue length")]
        self.gauges.queue.set(self.queue.in_flight() as f64);
        scanned
    }

    async fn scan_buckets(&self) -> Result<(), CoreError> {
        let now = self.now();
        let due: Vec<u64> = match self.buckets.lock() {
            Ok(b) => b.range(..=bucket(now)).copied().collect(),
            Err(_) => return Err(CoreError::Internal("bucket set poisoned".into())),
        };
        for b in due {
            let prefix = bucket_prefix(b);
            let names = self.storage.list(&prefix).await?;
            if names.is_empty() {
                // A record may be committing into a current bucket right now: only older ones are dropped.
                if b + 1 < bucket(now)
                    && let Ok(mut set) = self.buckets.lock()
                {
                    set.remove(&b);
                }
                continue;
            }
            for name in names {
                if self.queue.in_flight() >= MAX_IN_FLIGHT {
                    return Ok(());
                }
                if due_of(&name).is_none_or(|d| d > now) {
                    continue;
                }
                let key = format!("{prefix}{name}");
                let Some(target) = self.storage.get(&key).await? else {
                    continue;
                };
                let target = String::from_utf8_lossy(&target).into_owned();
                let group = if target.starts_with(TOKEN_TARGET) {
                    "auth/token/".to_owned()
                } else {
                    target.split('/').next().unwrap_or_default().to_owned()
                };
                self.queue.push(group, key, target);
            }
        }
        Ok(())
    }

    /// One worker of the revocation pool: rate-limited, taking mounts in turn.
    async fn work(&self, u: Weak<Unsealed>) {
        let pause = Duration::from_secs(1) / self.config.rate_per_sec.max(1);
        loop {
            let (index_key, target) = self.queue.pop().await;
            let Some(unsealed) = u.upgrade() else {
                return;
            };
            if let Err(e) = self.expire(&unsealed, &index_key, &target).await {
                tracing::warn!(error = %e, "lease expiry step failed; it will be retried");
            }
            drop(unsealed);
            self.queue.done(&target);
            // The rate limit is shared by the workers: each waits its share.
            tokio::time::sleep(pause * self.config.workers.max(1) as u32).await;
        }
    }

    /// Handles one due index record.
    pub(crate) async fn expire(
        &self,
        u: &Unsealed,
        index_key: &str,
        target: &str,
    ) -> Result<(), CoreError> {
        let _guard = self.lock(target).await;
        let now = self.now();
        if let Some(token_key) = target.strip_prefix(TOKEN_TARGET) {
            match u.tokens.lookup_by_key(token_key).await? {
                Some(t) if t.expire_time > now => {
                    // Renewed since it was indexed: look again when it expires.
                    self.register_token(token_key, t.expire_time).await?;
                }
                Some(_) => u.tokens.revoke_tree(token_key).await?,
                None => {}
            }
            self.storage.delete(index_key).await?;
            return Ok(());
        }
        let mut entry = match self.load_checked(target).await? {
            Loaded::Found(e) => e,
            Loaded::Missing => {
                self.storage.delete(index_key).await?;
                return Ok(());
            }
            Loaded::Corrupt(_) => {
                // Unrevocable without its entry: parked and listed (`sys/leases?type=irrevocable`) for an operator,
                // and out of the index so it is not retried every tick.
                self.storage
                    .batch(vec![
                        Op::Put {
                            key: corrupt_key(target),
                            value: target.as_bytes().to_vec(),
                        },
                        Op::Delete {
                            key: index_key.to_owned(),
                        },
                    ])
                    .await?;
                return Ok(());
            }
        };
        if entry.due() > now {
            // A stale record (the lease was renewed or rescheduled); the current one is elsewhere.
            if time_key(entry.due(), target) != index_key {
                self.storage.delete(index_key).await?;
            }
            return Ok(());
        }
        // A mount that is not routed (failed to set up, or moved) is a failure like any other: the lease is
        // retried and ends up irrevocable, never silently forgotten.
        let outcome = match route_of(u, &entry.mount_accessor) {
            Some(route) => revoke_backend(u, self.clock.as_ref(), &route, &entry).await,
            None => Err(CoreError::InvalidRequest(format!(
                "the mount that issued this lease ({}) is not mounted",
                entry.mount_accessor
            ))),
        };
        match outcome {
            Ok(()) => {
                tracing::debug!(lease_id = %entry.lease_id, "lease revoked on expiry");
                self.gauges.revoked.inc();
                self.delete_records(&entry).await
            }
            Err(e) => {
                self.gauges.revoke_failures.inc();
                let newly_irrevocable = entry.irrevocable.is_none()
                    && entry.revoke_attempts + 1 >= self.config.max_attempts.max(1);
                let old_due = entry.due();
                entry.revoke_attempts += 1;
                let reason = e.to_string();
                let mut ops = Vec::new();
                let wait = if entry.revoke_attempts >= self.config.max_attempts.max(1) {
                    if entry.irrevocable.is_none() {
                        tracing::error!(lease_id = %entry.lease_id, attempts = entry.revoke_attempts, error = %reason, "lease is irrevocable; retrying in the background");
                    }
                    entry.irrevocable = Some(reason);
                    ops.push(Op::Put {
                        key: irrevocable_key(&entry.lease_id),
                        value: entry.lease_id.as_bytes().to_vec(),
                    });
                    IRREVOCABLE_RETRY
                } else {
                    tracing::warn!(lease_id = %entry.lease_id, attempt = entry.revoke_attempts, error = %reason, "lease revocation failed; will retry");
                    backoff(entry.revoke_attempts)
                };
                entry.retry_at = Some(now + wait.as_secs().max(1));
                ops.push(put_json(id_key(&entry.lease_id), &entry)?);
                ops.push(Op::Delete {
                    key: time_key(old_due, &entry.lease_id),
                });
                ops.push(Op::Put {
                    key: time_key(entry.due(), &entry.lease_id),
                    value: entry.lease_id.as_bytes().to_vec(),
                });
                self.storage.batch(ops).await?;
                if newly_irrevocable {
                    self.gauges.irrevocable.add(1.0);
                }
                self.note_bucket(entry.due());
                Ok(())
            }
        }
    }
}

#[cfg(test)]
impl Expiration {
    /// Writes an undecodable entry for `lease_id` with a due index record; returns (index key, target).
    pub(crate) async fn plant_corrupt_for_test(&self, lease_id: &str) -> (String, String) {
        let due = self.now().saturating_sub(1);
        let index = time_key(due, lease_id);
        self.storage
            .put(&id_key(lease_id), b"{not json")
            .await
            .unwrap_or_default();
        self.storage
            .put(&index, lease_id.as_bytes())
            .await
            .unwrap_or_default();
        (index, lease_id.to_owned())
    }
}

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … capped, each ±25 %.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_secs(1u64 << attempt.saturating_sub(1).min(10)).min(MAX_BACKOFF);
    let jitter = crate::random::below(500).unwrap_or(250);
    // 75 %..125 % of base.
    base * (750 + jitter) / 1000
}

/// A lease entry as found in storage.
enum Loaded {
    Missing,
    /// Present but undecodable (the decode error).
    Corrupt(String),
    Found(LeaseEntry),
}

fn corrupt_key(lease_id: &str) -> String {
    format!("{CORRUPT_PREFIX}{}", entry::digest(lease_id))
}

fn irrevocable_key(lease_id: &str) -> String {
    format!("{IRREVOCABLE_PREFIX}{}", entry::digest(lease_id))
}

fn put_json(key: String, entry: &LeaseEntry) -> Result<Op, CoreError> {
    Ok(Op::Put {
        key,
        value: serde_json::to_vec(entry).map_err(|e| CoreError::Internal(e.to_string()))?,
    })
}

fn route_of(u: &Unsealed, accessor: &str) -> Option<Arc<Route>> {
    u.mounts
        .router()
        .routes()
        .iter()
        .find(|r| r.info.accessor == accessor)
        .cloned()
}

async fn revoke_backend(
    u: &Unsealed,
    clock: &dyn Clock,
    route: &Route,
    entry: &LeaseEntry,
) -> Result<(), CoreError> {
    route
        .backend
        .revoke(LeaseRequest {
            lease_id: &entry.lease_id,
            kind: &entry.kind,
            internal: &entry.internal,
            increment: None,
            issue_time: at(entry.issue_time),
            storage: &route.view,
            clock,
            mount: &route.info,
            system: &u.system,
        })
        .await
        .map_err(CoreError::from)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_corrupt_entry_is_counted_and_skipped_and_lists_walk_the_tree() {
        let storage = storage::testing::PlainMem::shared();
        let exp = Expiration::new(
            storage.clone(),
            Arc::new(crate::SystemClock),
            ExpirationConfig::default(),
            &crate::Metrics::new(),
        );
        storage
            .put(&id_key("db/creds/ro/bad"), b"{not json")
            .await
            .unwrap();
        storage.put(&id_key("db/creds/rw/ok"), b"{}").await.unwrap();
        assert!(matches!(
            exp.lookup("db/creds/ro/bad").await,
            Err(CoreError::InvalidRequest(_))
        ));
        assert_eq!(exp.corrupt_entries(), 1);
        let mut ids = exp.ids_under("db/").await.unwrap();
        ids.sort();
        assert_eq!(ids, ["db/creds/ro/bad", "db/creds/rw/ok"]);
        assert_eq!(exp.list("db/creds").await.unwrap(), ["ro/", "rw/"]);
        assert_eq!(
            exp.ids_under("db/creds/ro/bad").await.unwrap(),
            ["db/creds/ro/bad"]
        );
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert!(backoff(1) <= Duration::from_millis(1250));
        assert!(backoff(1) >= Duration::from_millis(750));
        assert!(backoff(3) >= Duration::from_secs(3));
        assert!(backoff(30) <= MAX_BACKOFF * 5 / 4);
    }
}
