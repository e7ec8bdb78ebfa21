//! Token store errors.

use engine_sdk::EngineError;

/// Why a token store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The request is invalid; the text is OpenBao's (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// Storage failed underneath.
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    /// A stored entry could not be decoded.
    #[error("token entry is corrupt: {0}")]
    Corrupt(String),
    /// The revocation hook (lease revocation) failed; the token stays, marked for revocation.
    #[error("failed to revoke the token's leases: {0}")]
    Hook(String),
    /// Randomness or cryptography failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl TokenError {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        TokenError::InvalidRequest(msg.into())
    }
}

impl From<TokenError> for EngineError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::InvalidRequest(m) => EngineError::InvalidRequest(m),
            TokenError::Storage(s) => EngineError::Storage(s),
            other => EngineError::Internal(other.to_string()),
        }
    }
}
