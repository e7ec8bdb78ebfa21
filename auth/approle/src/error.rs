//! Why an AppRole request failed, and how each reason maps onto the SDK's error.

use engine_sdk::{EngineError, StorageError};

/// A failed AppRole request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApproleError {
    /// A request field is malformed or inconsistent (400).
    #[error("{0}")]
    InvalidField(String),
    /// Unknown role id, wrong, expired or used-up secret id: deliberately one answer for all (400).
    #[error("invalid role or secret ID")]
    InvalidCredentials,
    /// A sub-resource of a role that does not exist (400).
    #[error("role {0:?} does not exist")]
    UnknownRole(String),
    /// The login came from outside the CIDR blocks of the role or of the secret id (400, OpenBao's text).
    #[error("source address {addr:?} unauthorized by CIDR restrictions on the {on}")]
    SourceNotAllowed {
        /// The client's address.
        addr: String,
        /// `role` or `secret ID`.
        on: &'static str,
    },
    /// CIDR restrictions apply but the client's address is unknown (400).
    #[error("failed to get connection information")]
    NoRemoteAddress,
    /// The role behind a token was deleted, so the token cannot be renewed (400).
    #[error("role {0:?} does not exist during renewal")]
    RoleGone(String),
    /// Randomness could not be drawn (500).
    #[error("random generator failed")]
    Random,
    /// Field parsing or storage failed underneath.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl ApproleError {
    /// Shorthand for [`ApproleError::InvalidField`].
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        ApproleError::InvalidField(msg.into())
    }
}

impl From<ApproleError> for EngineError {
    fn from(e: ApproleError) -> Self {
        match e {
            ApproleError::InvalidField(_)
            | ApproleError::InvalidCredentials
            | ApproleError::UnknownRole(_)
            | ApproleError::SourceNotAllowed { .. }
            | ApproleError::NoRemoteAddress
            | ApproleError::RoleGone(_) => EngineError::InvalidRequest(e.to_string()),
            ApproleError::Random => EngineError::Internal(e.to_string()),
            ApproleError::Engine(inner) => inner,
        }
    }
}

impl From<StorageError> for ApproleError {
    fn from(e: StorageError) -> Self {
        ApproleError::Engine(EngineError::Storage(e))
    }
}

impl From<serde_json::Error> for ApproleError {
    fn from(e: serde_json::Error) -> Self {
        ApproleError::Engine(e.into())
    }
}
