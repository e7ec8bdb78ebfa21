//! Bodies of the `sys/` endpoints served before and around unsealing.

use serde::{Deserialize, Serialize};

/// `POST sys/init` request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InitRequest {
    /// Number of unseal key shares to produce.
    #[serde(default)]
    pub secret_shares: Option<u64>,
    /// Shares needed to unseal.
    #[serde(default)]
    pub secret_threshold: Option<u64>,
    /// PGP keys to encrypt the shares with (not supported; must be empty).
    #[serde(default)]
    pub pgp_keys: Option<Vec<String>>,
    /// PGP key for the root token (not supported; must be empty).
    #[serde(default)]
    pub root_token_pgp_key: Option<String>,
    /// Recovery shares (auto-unseal seals only).
    #[serde(default)]
    pub recovery_shares: Option<u64>,
    /// Recovery threshold (auto-unseal seals only).
    #[serde(default)]
    pub recovery_threshold: Option<u64>,
    /// Recovery PGP keys (auto-unseal seals only).
    #[serde(default)]
    pub recovery_pgp_keys: Option<Vec<String>>,
    /// Ignored, as in OpenBao 2.x.
    #[serde(default)]
    pub stored_shares: Option<u64>,
}

/// `POST sys/init` response. Holds the only copy of the key shares and root token: never log it.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct InitResponse {
    /// Unseal key shares, hex.
    pub keys: Vec<String>,
    /// The same shares, base64.
    pub keys_base64: Vec<String>,
    /// Recovery key shares, hex (auto-unseal only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery_keys: Vec<String>,
    /// Recovery key shares, base64 (auto-unseal only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery_keys_base64: Vec<String>,
    /// The initial root token.
    pub root_token: String,
}

impl std::fmt::Debug for InitResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InitResponse([redacted])")
    }
}

/// `GET sys/init` response.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct InitStatus {
    /// Whether the server has been initialized.
    pub initialized: bool,
}

/// `POST sys/unseal` request.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct UnsealRequest {
    /// One key share, hex or base64.
    #[serde(default)]
    pub key: Option<String>,
    /// Discard the shares entered so far (wins over `key`).
    #[serde(default)]
    pub reset: bool,
    /// Seal migration (not supported yet).
    #[serde(default)]
    pub migrate: bool,
}

impl std::fmt::Debug for UnsealRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsealRequest")
            .field("reset", &self.reset)
            .field("migrate", &self.migrate)
            .finish_non_exhaustive()
    }
}

/// `GET sys/seal-status` and `POST sys/unseal` response.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealStatus {
    /// Seal type: `shamir`, `transit`, `awskms`, ...
    #[serde(rename = "type")]
    pub seal_type: String,
    /// Whether the server has been initialized.
    pub initialized: bool,
    /// Whether the server is sealed.
    pub sealed: bool,
    /// Threshold of shares needed to unseal.
    pub t: u64,
    /// Total number of shares.
    pub n: u64,
    /// Shares entered so far towards the threshold.
    pub progress: u64,
    /// Identifies the current unseal attempt; empty when none is in progress.
    pub nonce: String,
    /// Server version.
    pub version: String,
    /// Build date (Vault's field name).
    pub build_date: String,
    /// Build date (OpenBao's field name).
    pub commit_date: String,
    /// Whether a seal migration is in progress.
    pub migration: bool,
    /// Whether the seal uses recovery keys (auto-unseal).
    pub recovery_seal: bool,
    /// Storage backend type: `raft` or `inmem`.
    pub storage_type: String,
    /// Cluster name, once unsealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Cluster id, once unsealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
}

/// `GET sys/health` response.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Health {
    /// Whether the server has been initialized.
    pub initialized: bool,
    /// Whether the server is sealed.
    pub sealed: bool,
    /// Whether this node is a standby.
    pub standby: bool,
    /// Always false (no performance standbys).
    pub performance_standby: bool,
    /// Always `disabled`.
    pub replication_performance_mode: String,
    /// Always `disabled`.
    pub replication_dr_mode: String,
    /// Server time, Unix seconds.
    pub server_time_utc: u64,
    /// Server version.
    pub version: String,
    /// Cluster name, when unsealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Cluster id, when unsealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
}

/// `GET sys/leader` response.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Leader {
    /// Whether HA (raft) is in use.
    pub ha_enabled: bool,
    /// Whether this node is the leader.
    pub is_self: bool,
    /// When this node became active (RFC 3339), or the zero time.
    pub active_time: String,
    /// API address of the leader.
    pub leader_address: String,
    /// Cluster address of the leader.
    pub leader_cluster_address: String,
    /// Always false.
    pub performance_standby: bool,
    /// Always 0.
    pub performance_standby_last_remote_wal: u64,
    /// Raft committed index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raft_committed_index: Option<u64>,
    /// Raft applied index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raft_applied_index: Option<u64>,
}
