//! What a lease is in storage, and the keys of its three records: the lease itself (by id, so prefixes list),
//! its place in the expiry index (by time, so the due ones are found without loading every lease), and its
//! owner's index (by token, so a revoked token's leases are found).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Leases by id: `sys/expire/id/<lease id>` (lease ids are paths: `database/creds/ro/<random>`).
pub(crate) const ID_PREFIX: &str = "sys/expire/id/";
/// The expiry index: `sys/expire/time/<minute>/<due secs>.<digest>` → the lease id or `token:<key>`.
pub(crate) const TIME_PREFIX: &str = "sys/expire/time/";
/// Leases by owning token: `sys/expire/token/<token key>/<digest>` → lease id.
pub(crate) const TOKEN_PREFIX: &str = "sys/expire/token/";
/// Marks an expiry-index value as a token (service tokens expire through the same index).
pub(crate) const TOKEN_TARGET: &str = "token:";

/// The persisted lease. Never shown as is: `sys/leases/lookup` picks fields.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct LeaseEntry {
    pub(crate) v: u32,
    pub(crate) lease_id: String,
    /// The mount that issued it (found by accessor, so a remount does not orphan it).
    pub(crate) mount_accessor: String,
    /// The engine's secret kind, passed back on renew/revoke.
    pub(crate) kind: String,
    /// What the engine needs to renew or revoke (under the barrier like everything here).
    pub(crate) internal: Map<String, Value>,
    /// Salted key of the token that obtained it (empty for none).
    pub(crate) token_key: String,
    pub(crate) issue_time: u64,
    pub(crate) expire_time: u64,
    pub(crate) last_renewal: Option<u64>,
    /// Absolute cap renewals never pass (unix seconds).
    pub(crate) max_expire_time: u64,
    pub(crate) renewable: bool,
    /// Failed revocation attempts so far.
    #[serde(default)]
    pub(crate) revoke_attempts: u32,
    /// When the next revocation attempt is due (set after a failure).
    #[serde(default)]
    pub(crate) retry_at: Option<u64>,
    /// Set once retries are exhausted: the last error, in full.
    #[serde(default)]
    pub(crate) irrevocable: Option<String>,
}

// `internal` holds what revocation needs, database root credentials included: never in Debug output.
impl std::fmt::Debug for LeaseEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseEntry")
            .field("lease_id", &self.lease_id)
            .field("mount_accessor", &self.mount_accessor)
            .field("expire_time", &self.expire_time)
            .field("revoke_attempts", &self.revoke_attempts)
            .finish_non_exhaustive()
    }
}

impl LeaseEntry {
    /// When the expiry index should next look at this lease.
    pub(crate) fn due(&self) -> u64 {
        self.retry_at.unwrap_or(self.expire_time)
    }
}

/// Unix seconds.
pub(crate) fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Back from unix seconds.
pub(crate) fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A short digest naming an index record for `target` (keeps lease ids and token keys out of index keys'
/// structure, and makes them fixed-length).
pub(crate) fn digest(target: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, target.as_bytes());
    hex::encode(d.as_ref().get(..16).unwrap_or_default())
}

/// The expiry-index bucket (one per minute) holding records due at `due`.
pub(crate) fn bucket(due: u64) -> u64 {
    due / 60
}

/// The bucket's prefix.
pub(crate) fn bucket_prefix(bucket: u64) -> String {
    format!("{TIME_PREFIX}{bucket:012}/")
}

/// The expiry-index key of `target` due at `due`.
pub(crate) fn time_key(due: u64, target: &str) -> String {
    format!("{}{due:012}.{}", bucket_prefix(bucket(due)), digest(target))
}

/// The due time encoded in an index key's last segment.
pub(crate) fn due_of(index_name: &str) -> Option<u64> {
    index_name.split('.').next()?.parse().ok()
}

/// The owner-index key of a lease.
pub(crate) fn token_key(token_key: &str, lease_id: &str) -> String {
    format!("{TOKEN_PREFIX}{token_key}/{}", digest(lease_id))
}

/// The lease's own key.
pub(crate) fn id_key(lease_id: &str) -> String {
    format!("{ID_PREFIX}{lease_id}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn index_keys_sort_by_time_and_decode() {
        let a = time_key(1_700_000_000, "db/creds/a/1");
        let b = time_key(1_700_000_100, "db/creds/a/0");
        assert!(a < b, "keys order by due time");
        let name = a.rsplit('/').next().unwrap();
        assert_eq!(due_of(name), Some(1_700_000_000));
        assert_eq!(bucket(1_700_000_000), 28_333_333);
        assert!(a.starts_with(&bucket_prefix(28_333_333)));
    }
}
