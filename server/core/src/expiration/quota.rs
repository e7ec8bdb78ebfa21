//! Lease-count quotas (`sys/quotas/lease-count/:name`): a cap on the live leases under a path prefix (a mount, a
//! path inside one, or everything). Vault sells these only in Enterprise; here they guard a database against
//! lease explosions. Counts live in memory, counted from the lease tree when the manager starts and kept by
//! registration and removal; until a quota's count is known it is not enforced.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use storage::Storage;

use crate::CoreError;

/// Quotas by name: `sys/quotas/lease-count/<name>`.
const QUOTA_PREFIX: &str = "sys/quotas/lease-count/";

/// A quota as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct QuotaConfig {
    pub(crate) v: u32,
    pub(crate) name: String,
    /// Lease-id prefix it applies to (`database/`, `database/creds/ro`); empty = every lease.
    pub(crate) path: String,
    pub(crate) max_leases: u64,
}

/// A live quota with its counter.
pub(crate) struct LeaseQuota {
    pub(crate) config: QuotaConfig,
    count: AtomicU64,
    counted: AtomicBool,
}

impl LeaseQuota {
    fn covers(&self, lease_path: &str) -> bool {
        let p = self.config.path.as_str();
        p.is_empty()
            || lease_path == p.trim_end_matches('/')
            || lease_path.starts_with(&format!("{}/", p.trim_end_matches('/')))
    }

    /// Live leases under the quota, when known.
    pub(crate) fn count(&self) -> Option<u64> {
        self.counted
            .load(Ordering::Acquire)
            .then(|| self.count.load(Ordering::Acquire))
    }
}

/// Every quota, as an immutable snapshot swapped on change.
pub(crate) struct Quotas {
    storage: Arc<dyn Storage>,
    live: ArcSwap<Vec<Arc<LeaseQuota>>>,
    writes: tokio::sync::Mutex<()>,
}

fn exceeded(q: &LeaseQuota) -> CoreError {
    CoreError::QuotaExceeded(format!(
        "lease count quota exceeded: quota {:?} allows {} leases under {:?}",
        q.config.name,
        q.config.max_leases,
        if q.config.path.is_empty() {
            "every path"
        } else {
            q.config.path.as_str()
        }
    ))
}

impl Quotas {
    pub(crate) fn new(storage: Arc<dyn Storage>) -> Self {
        Self {
            storage,
            live: ArcSwap::from_pointee(Vec::new()),
            writes: tokio::sync::Mutex::new(()),
        }
    }

    /// Loads the stored quotas (uncounted).
    pub(crate) async fn load(&self) -> Result<(), CoreError> {
        let mut live = Vec::new();
        for name in self.storage.list(QUOTA_PREFIX).await? {
            if let Some(q) = self.read(&name).await? {
                live.push(Arc::new(LeaseQuota {
                    config: q,
                    count: AtomicU64::new(0),
                    counted: AtomicBool::new(false),
                }));
            }
        }
        self.live.store(Arc::new(live));
        Ok(())
    }

    /// The quotas whose count is not known yet.
    pub(crate) fn uncounted(&self) -> Vec<Arc<LeaseQuota>> {
        self.live
            .load()
            .iter()
            .filter(|q| !q.counted.load(Ordering::Acquire))
            .cloned()
            .collect()
    }

    /// Sets a quota's count from the lease tree; registrations since then are added on top.
    pub(crate) fn set_counted(&self, q: &LeaseQuota, existing: u64) {
        q.count.fetch_add(existing, Ordering::AcqRel);
        q.counted.store(true, Ordering::Release);
    }

    async fn read(&self, name: &str) -> Result<Option<QuotaConfig>, CoreError> {
        match self.storage.get(&format!("{QUOTA_PREFIX}{name}")).await? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| CoreError::Internal(format!("stored quota is corrupt: {e}"))),
            None => Ok(None),
        }
    }

    /// Refuses a request to `path` up front when a quota covering it is full (no credential is created).
    pub(crate) fn check(&self, path: &str) -> Result<(), CoreError> {
        for q in self.live.load().iter() {
            if q.covers(path)
                && let Some(n) = q.count()
                && n >= q.config.max_leases
            {
                return Err(exceeded(q));
            }
        }
        Ok(())
    }

    /// Takes a slot in every quota covering `lease_id`; all or none.
    pub(crate) fn reserve(&self, lease_id: &str) -> Result<(), CoreError> {
        let live = self.live.load();
        let mut taken: Vec<&Arc<LeaseQuota>> = Vec::new();
        for q in live.iter().filter(|q| q.covers(lease_id)) {
            let max = q.config.max_leases;
            let counted = q.counted.load(Ordering::Acquire);
            let ok = q
                .count
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (!counted || n < max).then_some(n + 1)
                })
                .is_ok();
            if !ok {
                for t in taken {
                    t.count.fetch_sub(1, Ordering::AcqRel);
                }
                return Err(exceeded(q));
            }
            taken.push(q);
        }
        Ok(())
    }

    /// Gives back the slots of a removed lease.
    pub(crate) fn release(&self, lease_id: &str) {
        for q in self.live.load().iter().filter(|q| q.covers(lease_id)) {
            let _ = q
                .count
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    Some(n.saturating_sub(1))
                });
        }
    }

    /// Creates or replaces a quota; its count is taken over from the old one or counted by the caller.
    pub(crate) async fn put(&self, config: QuotaConfig) -> Result<Arc<LeaseQuota>, CoreError> {
        let _w = self.writes.lock().await;
        let bytes = serde_json::to_vec(&config).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.storage
            .put(&format!("{QUOTA_PREFIX}{}", config.name), &bytes)
            .await?;
        let fresh = Arc::new(LeaseQuota {
            config: config.clone(),
            count: AtomicU64::new(0),
            counted: AtomicBool::new(false),
        });
        let mut live: Vec<Arc<LeaseQuota>> = self
            .live
            .load()
            .iter()
            .filter(|q| q.config.name != config.name)
            .cloned()
            .collect();
        live.push(fresh.clone());
        self.live.store(Arc::new(live));
        Ok(fresh)
    }

    /// The named quota.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<LeaseQuota>> {
        self.live
            .load()
            .iter()
            .find(|q| q.config.name == name)
            .cloned()
    }

    /// Quota names.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .live
            .load()
            .iter()
            .map(|q| q.config.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Deletes a quota.
    pub(crate) async fn delete(&self, name: &str) -> Result<(), CoreError> {
        let _w = self.writes.lock().await;
        self.storage
            .delete(&format!("{QUOTA_PREFIX}{name}"))
            .await?;
        let live: Vec<Arc<LeaseQuota>> = self
            .live
            .load()
            .iter()
            .filter(|q| q.config.name != name)
            .cloned()
            .collect();
        self.live.store(Arc::new(live));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn reserve_and_release_respect_the_cap_and_prefix() {
        let quotas = Quotas::new(storage::testing::PlainMem::shared());
        let q = quotas
            .put(QuotaConfig {
                v: 1,
                name: "db".into(),
                path: "database/creds/ro".into(),
                max_leases: 2,
            })
            .await
            .unwrap();
        quotas.set_counted(&q, 1);
        quotas.reserve("database/creds/ro/a").unwrap();
        assert!(matches!(
            quotas.reserve("database/creds/ro/b"),
            Err(CoreError::QuotaExceeded(_))
        ));
        assert!(quotas.check("database/creds/ro").is_err());
        // Other paths are not covered (`ro2` is not under `ro`).
        quotas.reserve("database/creds/ro2/x").unwrap();
        assert!(quotas.check("database/creds/ro2").is_ok());
        quotas.release("database/creds/ro/a");
        quotas.reserve("database/creds/ro/c").unwrap();
        // Reloaded from storage: present, uncounted, not enforced until counted.
        let again = Quotas::new(quotas.storage.clone());
        again.load().await.unwrap();
        assert_eq!(again.names(), ["db"]);
        assert_eq!(again.uncounted().len(), 1);
        again.reserve("database/creds/ro/d").unwrap();
        again.delete("db").await.unwrap();
        assert!(again.names().is_empty());
    }
}
