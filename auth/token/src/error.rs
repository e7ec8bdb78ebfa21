//! Token store errors.

/// Why a token store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The request is invalid (e.g. a token id that is empty or already in use).
    #[error("{0}")]
    InvalidRequest(String),
    /// Storage failed underneath.
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    /// A stored entry could not be decoded.
    #[error("token entry is corrupt: {0}")]
    Corrupt(String),
}
