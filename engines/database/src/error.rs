//! Why a database-engine request failed, and how each reason maps onto the SDK's error.

use engine_sdk::{EngineError, StorageError};

use crate::driver::DriverError;

/// A failed request of the database engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The client sent something invalid or inconsistent (400).
    #[error("{0}")]
    Invalid(String),
    /// The database failed or refused (502; retryable when it could not be reached).
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// A bug or an impossible state (500, detail logged).
    #[error("{0}")]
    Internal(String),
    /// Field parsing or storage failed underneath.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl DbError {
    /// Shorthand for [`DbError::Invalid`].
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }
}

impl From<DbError> for EngineError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Invalid(m) => EngineError::InvalidRequest(m),
            DbError::Driver(d) => EngineError::Upstream {
                retryable: d.retryable(),
                message: d.to_string(),
            },
            DbError::Internal(m) => EngineError::Internal(m),
            DbError::Engine(inner) => inner,
        }
    }
}

impl From<StorageError> for DbError {
    fn from(e: StorageError) -> Self {
        DbError::Engine(EngineError::Storage(e))
    }
}

impl From<serde_json::Error> for DbError {
    fn from(e: serde_json::Error) -> Self {
        DbError::Engine(e.into())
    }
}
