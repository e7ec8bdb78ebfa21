//! The persisted token entry.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::unix;

/// Current format version of [`TokenEntry`] (1 = the foundation's root-token-only slice).
pub(crate) const ENTRY_VERSION: u32 = 2;

/// Service tokens live in storage; batch tokens are self-contained encrypted blobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// Stored, renewable, revocable, with an accessor (`s.` prefix).
    #[default]
    Service,
    /// Never stored: not renewable, not revocable, no accessor, no children (`b.` prefix).
    Batch,
}

impl TokenType {
    /// The name used in the API (`service` or `batch`).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Service => "service",
            TokenType::Batch => "batch",
        }
    }
}

/// Everything known about a token. Service entries are persisted (encrypted by the barrier) under the salted
/// hash of the token; the token itself is never stored. Durations are whole seconds, times Unix seconds.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(default)]
pub struct TokenEntry {
    /// Format version of this struct.
    pub v: u32,
    /// The accessor: a second handle that can look up or revoke the token without being able to use it
    /// (empty for batch tokens).
    pub accessor: String,
    /// Salted hash of the parent token; empty for orphans.
    pub parent: String,
    /// Policies attached to the token (sorted, deduplicated).
    pub policies: Vec<String>,
    /// Free-form metadata (shown in lookups and audit logs).
    pub meta: BTreeMap<String, String>,
    /// Shown in audit logs and lookups.
    pub display_name: String,
    /// Uses left; 0 means unlimited.
    pub num_uses: u32,
    /// Creation time.
    pub creation_time: u64,
    /// TTL granted at creation; 0 means no expiry (root tokens).
    pub ttl: u64,
    /// When the token expires (moved by renewals); 0 means never.
    pub expire_time: u64,
    /// TTL granted by the last creation or renewal: the default increment of the next renewal.
    pub lease_ttl: u64,
    /// Last renewal time, 0 if never renewed.
    pub last_renewal_time: u64,
    /// Hard cap on the token's life from its creation; 0 means none.
    pub explicit_max_ttl: u64,
    /// Periodic tokens: every renewal grants exactly this; 0 means not periodic.
    pub period: u64,
    /// Whether renewals are allowed.
    pub renewable: bool,
    /// Path the token was created through (`auth/token/create`, `auth/userpass/login/bob`).
    pub path: String,
    /// Service or batch.
    pub token_type: TokenType,
    /// Identity entity the token belongs to, or empty.
    pub entity_id: String,
    /// CIDR blocks the token may be used from; empty means anywhere.
    pub bound_cidrs: Vec<String>,
    /// Token-store role the token was created against, or empty.
    pub role: String,
    /// The last use was spent: the token is revoked once the current request ends (OpenBao's `num_uses = -1`).
    pub revocation_pending: bool,
}

impl TokenEntry {
    /// Whether this token carries the root policy.
    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }

    /// Whether the token has no parent (revoking another token never revokes it).
    pub fn orphan(&self) -> bool {
        self.parent.is_empty()
    }

    /// Whether the token is a batch token.
    pub fn is_batch(&self) -> bool {
        self.token_type == TokenType::Batch
    }

    /// Whether the token has expired at `now` (never for tokens without a TTL).
    pub fn expired_at(&self, now: SystemTime) -> bool {
        self.expire_time != 0 && unix(now) >= self.expire_time
    }

    /// Seconds left before expiry at `now` (0 for tokens that never expire, or already expired).
    pub fn remaining_ttl(&self, now: SystemTime) -> Duration {
        if self.expire_time == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs(self.expire_time.saturating_sub(unix(now)))
    }

    /// Whether the token may be renewed at `now` (OpenBao reports this in lookups).
    pub fn renewable_at(&self, now: SystemTime) -> bool {
        self.renewable && !self.is_batch() && self.expire_time != 0 && !self.expired_at(now)
    }
}

// The accessor is a credential and the parent key links tokens: keep them out of Debug output.
impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEntry")
            .field("policies", &self.policies)
            .field("display_name", &self.display_name)
            .field("path", &self.path)
            .field("token_type", &self.token_type)
            .field("ttl", &self.ttl)
            .field("expire_time", &self.expire_time)
            .field("num_uses", &self.num_uses)
            .field("orphan", &self.orphan())
            .finish_non_exhaustive()
    }
}
