//! Why a jwt request failed, and how each reason maps onto the SDK's error.

use engine_sdk::{EngineError, StorageError};

/// A failed jwt request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// A request field is malformed or inconsistent, or a login is refused with one of OpenBao's 400 texts (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// A login refused without detail (403), e.g. from outside `token_bound_cidrs`.
    #[error("permission denied")]
    PermissionDenied,
    /// The key source (JWKS URL, discovery document) could not be reached or read (502).
    #[error("{0}")]
    KeySource(String),
    /// The role behind a token was deleted, so the token cannot be renewed (400).
    #[error("role {0:?} does not exist during renewal")]
    RoleGone(String),
    /// Field parsing or storage failed underneath.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl JwtError {
    /// Shorthand for [`JwtError::InvalidRequest`].
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        JwtError::InvalidRequest(msg.into())
    }
}

impl From<JwtError> for EngineError {
    fn from(e: JwtError) -> Self {
        match e {
            JwtError::InvalidRequest(_) | JwtError::RoleGone(_) => {
                EngineError::InvalidRequest(e.to_string())
            }
            JwtError::PermissionDenied => EngineError::PermissionDenied,
            JwtError::KeySource(message) => EngineError::Upstream {
                message,
                retryable: true,
            },
            JwtError::Engine(inner) => inner,
        }
    }
}

impl From<StorageError> for JwtError {
    fn from(e: StorageError) -> Self {
        JwtError::Engine(EngineError::Storage(e))
    }
}

impl From<serde_json::Error> for JwtError {
    fn from(e: serde_json::Error) -> Self {
        JwtError::Engine(e.into())
    }
}
