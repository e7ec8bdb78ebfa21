//! Lease-count quotas (`sys/quotas/lease-count/:name`): a cap on the live leases under a path prefix (a mount, a
//! path inside one, or everything). Vault sells these only in Enterprise; here they guard a database against
//! lease explosions. Counts live in memory, counted from the lease tree when the manager starts and kept by
//! registration and removal; until a quota's count is known it is not enforced.
//!
//! Counting walks the lease tree while leases keep coming and going, so until the walk is done each quota keeps a
//! journal of the leases registered and removed meanwhile: the count is the walked set plus the journal's
//! additions minus its removals, and a lease seen by both the walk and the journal counts once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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

/// What happened to the leases a quota covers while its count was being taken.
#[derive(Default)]
struct Journal {
    added: HashSet<String>,
    removed: HashSet<String>,
}

/// A live quota with its counter.
pub(crate) struct LeaseQuota {
    pub(crate) config: QuotaConfig,
    count: AtomicU64,
    counted: AtomicBool,
    /// `Some` until counted; registrations and removals go here instead of `count` meanwhile.
    journal: Mutex<Option<Journal>>,
}

impl LeaseQuota {
    fn new(config: QuotaConfig) -> Self {
        Self {
            config,
            count: AtomicU64::new(0),
            counted: AtomicBool::new(false),
            journal: Mutex::new(Some(Journal::default())),
        }
    }

    /// Records `lease_id` in the journal while uncounted; `false` once counted (use the counter).
    fn journal(&self, lease_id: &str, added: bool) -> bool {
        if self.counted.load(Ordering::Acquire) {
            return false;
        }
        let Ok(mut guard) = self.journal.lock() else {
            return false;
        };
        match guard.as_mut() {
            Some(j) if added => {
                j.removed.remove(lease_id);
                j.added.insert(lease_id.to_owned());
                true
            }
            Some(j) => {
                j.added.remove(lease_id);
                j.removed.insert(lease_id.to_owned());
                true
            }
            None => false,
        }
    }

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
                live.push(Arc::new(LeaseQuota::new(q)));
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

    /// Sets a quota's count from a walk of the lease tree (`walked`: the lease ids found) merged with what its
    /// journal saw meanwhile, then enforces it.
    pub(crate) fn set_counted(&self, q: &LeaseQuota, walked: Vec<String>) {
        let Ok(mut guard) = q.journal.lock() else {
            return;
        };
        let Some(journal) = guard.take() else {
            return;
        };
        let mut live: HashSet<String> = walked.into_iter().collect();
        live.extend(journal.added);
        for id in &journal.removed {
            live.remove(id);
        }
        q.count.store(live.len() as u64, Ordering::Release);
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
            // Not counted yet: not enforced, only journaled.
            if q.journal(lease_id, true) {
                continue;
            }
            let max = q.config.max_leases;
            let ok = q
                .count
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max).then_some(n + 1)
                })
                .is_ok();
            if !ok {
                for t in taken {
                    t.count.fetch_sub(1, Ordering::AcqRel);
                }
                // Journaled reservations in uncounted quotas are undone too: all or none.
                for u in live.iter().filter(|q| q.covers(lease_id)) {
                    u.journal(lease_id, false);
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
            if q.journal(lease_id, false) {
                continue;
            }
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
        let fresh = Arc::new(LeaseQuota::new(config.clone()));
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
        quotas.set_counted(&q, vec!["database/creds/ro/old".into()]);
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

    #[tokio::test]
    async fn leases_coming_and_going_while_counting_are_counted_once() {
        let quotas = Quotas::new(storage::testing::PlainMem::shared());
        let q = quotas
            .put(QuotaConfig {
                v: 1,
                name: "all".into(),
                path: String::new(),
                max_leases: 3,
            })
            .await
            .unwrap();
        // During the walk: `a` registers (and the walk sees it too), `gone` is removed after the walk saw it,
        // `brief` comes and goes.
        quotas.reserve("db/creds/r/a").unwrap();
        quotas.release("db/creds/r/gone");
        quotas.reserve("db/creds/r/brief").unwrap();
        quotas.release("db/creds/r/brief");
        quotas.set_counted(
            &q,
            vec![
                "db/creds/r/a".into(),
                "db/creds/r/gone".into(),
                "db/creds/r/b".into(),
            ],
        );
        assert_eq!(q.count(), Some(2), "a and b");
        quotas.reserve("db/creds/r/c").unwrap();
        assert!(matches!(
            quotas.reserve("db/creds/r/d"),
            Err(CoreError::QuotaExceeded(_))
        ));
        quotas.release("db/creds/r/c");
        assert_eq!(q.count(), Some(2));
    }
}
