//! The error every engine returns; server-http maps it to a status code.

/// Why an engine refused or failed a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The client sent something invalid (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// Nothing stored at the path (404 with an empty error list).
    #[error("not found")]
    NotFound,
    /// The caller may not do this (403).
    #[error("permission denied")]
    PermissionDenied,
    /// A refused login (403 "permission denied" to the client). `reason` is a stable code saying why
    /// (`reviewer_unauthorized`, `namespace_not_authorized`, ...) for logs and audit only, never for the client.
    #[error("permission denied")]
    Denied {
        /// Machine-readable reason code.
        reason: String,
    },
    /// 403 with OpenBao's specific message (e.g. "bad token").
    #[error("{0}")]
    Forbidden(String),
    /// The path exists but not with this operation (405).
    #[error("unsupported operation")]
    UnsupportedOperation,
    /// No path of the engine matches (404, OpenBao's "no handler for route" message).
    #[error("no handler for route \"{0}\". route entry not found.")]
    UnsupportedPath(String),
    /// The lease cannot be renewed (400).
    #[error("lease is not renewable")]
    NotRenewable,
    /// An outside service (a database, an API server) failed; `retryable` says whether trying again may help.
    #[error("{message}")]
    Upstream {
        /// What the service said.
        message: String,
        /// Whether a retry may succeed.
        retryable: bool,
    },
    /// Storage failed underneath.
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    /// A bug or an impossible state; the detail is logged, the client sees a generic 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// Shorthand for [`EngineError::InvalidRequest`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        EngineError::InvalidRequest(msg.into())
    }
}

impl From<serde_json::Error> for EngineError {
    fn from(e: serde_json::Error) -> Self {
        EngineError::Internal(format!("stored entry could not be decoded: {e}"))
    }
}
