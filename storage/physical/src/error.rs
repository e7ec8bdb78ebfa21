//! The error every storage layer returns.

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The key is not a valid storage path (empty, absolute, or containing `..` or NUL).
    #[error("invalid storage key {0:?}")]
    InvalidKey(String),
    /// The barrier is sealed: plaintext storage is unavailable.
    #[error("Vault is sealed")]
    Sealed,
    /// A stored value failed its integrity check (wrong key, tampering, or a value moved to another path).
    #[error("integrity check failed for {0:?}")]
    Integrity(String),
    /// The stored data cannot be read back (a format or version this build does not understand).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// This node cannot serve writes now (not the leader, shutting down); the request may be retried elsewhere.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The disk or the replication layer failed.
    #[error("storage I/O failed: {0}")]
    Io(String),
}
