//! Why a userpass request failed, and how each reason maps onto the SDK's error.

use engine_sdk::{EngineError, StorageError};

/// A failed userpass request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserpassError {
    /// A request field is malformed or inconsistent (400).
    #[error("{0}")]
    InvalidField(String),
    /// Unknown user or wrong password; deliberately the same for both (400).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// A login without a password (400).
    #[error("missing password")]
    MissingPassword,
    /// Creating a user, or resetting a password, without one (400).
    #[error("must provide either password or password_hash")]
    PasswordRequired,
    /// Both `password` and `password_hash` were sent (400).
    #[error("only one of password or password_hash may be provided")]
    PasswordConflict,
    /// `password_hash` (a pre-computed bcrypt hash) is not accepted (400).
    #[error("password_hash is not supported: send the plaintext password instead")]
    PasswordHashUnsupported,
    /// A sub-resource of a user that does not exist (400).
    #[error("username does not exist")]
    UnknownUser,
    /// The login came from outside the user's bound CIDRs (403).
    #[error("source address not allowed")]
    SourceNotAllowed,
    /// The user no longer exists, so its token cannot be renewed (400).
    #[error("user no longer exists, not renewing")]
    UserGone,
    /// A stored password hash cannot be used (500).
    #[error("stored password hash is unusable: {0}")]
    BadStoredHash(&'static str),
    /// The hashing task failed to run (500).
    #[error("password hashing task failed: {0}")]
    KdfTask(String),
    /// Field parsing or storage failed underneath.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<UserpassError> for EngineError {
    fn from(e: UserpassError) -> Self {
        match e {
            UserpassError::InvalidField(_)
            | UserpassError::InvalidCredentials
            | UserpassError::MissingPassword
            | UserpassError::PasswordRequired
            | UserpassError::PasswordConflict
            | UserpassError::PasswordHashUnsupported
            | UserpassError::UnknownUser
            | UserpassError::UserGone => EngineError::InvalidRequest(e.to_string()),
            UserpassError::SourceNotAllowed => EngineError::PermissionDenied,
            UserpassError::BadStoredHash(_) | UserpassError::KdfTask(_) => {
                EngineError::Internal(e.to_string())
            }
            UserpassError::Engine(inner) => inner,
        }
    }
}

impl From<StorageError> for UserpassError {
    fn from(e: StorageError) -> Self {
        UserpassError::Engine(EngineError::Storage(e))
    }
}

impl From<serde_json::Error> for UserpassError {
    fn from(e: serde_json::Error) -> Self {
        UserpassError::Engine(e.into())
    }
}
