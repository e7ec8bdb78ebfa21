//! The persisted token entry.

use serde::{Deserialize, Serialize};

/// Everything known about a token. Persisted (encrypted by the barrier) under the salted hash of its id; the id
/// itself is never stored.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenEntry {
    /// Format version of this struct.
    pub v: u32,
    /// The accessor: a second handle that can look up or revoke the token without being able to use it.
    pub accessor: String,
    /// Policies attached to the token.
    pub policies: Vec<String>,
    /// Shown in audit logs and lookups.
    pub display_name: String,
    /// Path the token was created through (`auth/token/root` for root tokens).
    pub path: String,
    /// Creation time, Unix seconds.
    pub creation_time: u64,
    /// TTL in seconds; 0 means no expiry (root tokens).
    pub ttl: u64,
    /// Token type: `service` or `batch`.
    pub token_type: String,
}

impl TokenEntry {
    /// Whether this token carries the root policy.
    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }
}

// The accessor is a credential: keep it out of Debug output.
impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEntry")
            .field("policies", &self.policies)
            .field("display_name", &self.display_name)
            .field("path", &self.path)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}
