//! The barrier's error type.

use storage::StorageError;

/// Why a barrier, seal or Shamir operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BarrierError {
    /// The barrier is sealed.
    #[error("Vault is sealed")]
    Sealed,
    /// No keyring is stored: the barrier was never initialized.
    #[error("Vault is not initialized")]
    NotInitialized,
    /// A keyring is already stored.
    #[error("Vault is already initialized")]
    AlreadyInitialized,
    /// The key does not open what it should (wrong root key, wrong unseal key, or a bad Shamir reconstruction).
    #[error("invalid key")]
    InvalidKey,
    /// Shamir parameters or shares are unusable.
    #[error("invalid key shares: {0}")]
    InvalidShares(String),
    /// A value failed authentication: tampered, written with another key, or moved to another path.
    #[error("integrity check failed for {path:?}")]
    Integrity {
        /// Storage path of the value.
        path: String,
    },
    /// Stored data has an unknown format or version.
    #[error("barrier data is corrupt: {0}")]
    Corrupt(String),
    /// A rotation config value is out of range.
    #[error("invalid rotation config: {0}")]
    InvalidConfig(String),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// The seal (a KMS, transit, ...) could not encrypt or decrypt.
    #[error("seal failed: {0}")]
    Seal(String),
    /// Every term number has been used.
    #[error("keyring term numbers exhausted")]
    TermsExhausted,
    /// The physical backend failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<BarrierError> for StorageError {
    fn from(e: BarrierError) -> Self {
        match e {
            BarrierError::Sealed => StorageError::Sealed,
            BarrierError::Integrity { path } => StorageError::Integrity(path),
            BarrierError::Corrupt(msg) => StorageError::Corrupt(msg),
            BarrierError::Storage(e) => e,
            other => StorageError::Io(other.to_string()),
        }
    }
}
