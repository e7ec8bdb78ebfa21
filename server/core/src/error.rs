//! The core's error type. Only `server-http` turns it into a status code.

/// Why the core refused or failed a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The server is sealed (503, "Vault is sealed").
    #[error("Vault is sealed")]
    Sealed,
    /// The server has not been initialized yet.
    #[error("Vault is not initialized")]
    NotInitialized,
    /// `sys/init` on an initialized server.
    #[error("Vault is already initialized")]
    AlreadyInitialized,
    /// The client sent something invalid (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// Missing, unknown or insufficient token (403).
    #[error("permission denied")]
    PermissionDenied,
    /// A refused login (403 "permission denied"); the reason code is for the log and the audit entry only.
    #[error("permission denied")]
    LoginDenied(String),
    /// Denied, with an explanation OpenBao gives on some paths (403).
    #[error("{0}")]
    PermissionDeniedWith(String),
    /// No handler for the path (404 with OpenBao's message).
    #[error("no handler for route \"{0}\". route entry not found.")]
    UnsupportedPath(String),
    /// The path exists but not with this operation (405).
    #[error("unsupported operation")]
    UnsupportedOperation,
    /// Nothing stored at the path (404 with an empty error list).
    #[error("not found")]
    NotFound,

    /// An outside service failed (502); the message is the service's.
    #[error("{0}")]
    Upstream(String),
    /// This node cannot serve the request now (503), e.g. it lost leadership.
    #[error("{0}")]
    Unavailable(String),
    /// A lease-count quota is full (429).
    #[error("{0}")]
    QuotaExceeded(String),
    /// Audit devices are enabled and none recorded the request or its response (503; OpenBao answers a bare
    /// 500).
    #[error("audit backend unavailable")]
    AuditUnavailable,
    /// Storage failed underneath.
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    /// A server-side failure with detail for the log, not the client (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<barrier::BarrierError> for CoreError {
    fn from(e: barrier::BarrierError) -> Self {
        match e {
            barrier::BarrierError::Sealed => CoreError::Sealed,
            barrier::BarrierError::Storage(s) => CoreError::Storage(s),
            other => CoreError::Internal(other.to_string()),
        }
    }
}

impl From<auth_token::TokenError> for CoreError {
    fn from(e: auth_token::TokenError) -> Self {
        match e {
            auth_token::TokenError::InvalidRequest(m) => CoreError::InvalidRequest(m),
            auth_token::TokenError::Storage(s) => CoreError::Storage(s),
            other => CoreError::Internal(other.to_string()),
        }
    }
}

impl From<engine_sdk::EngineError> for CoreError {
    fn from(e: engine_sdk::EngineError) -> Self {
        use engine_sdk::EngineError as E;
        match e {
            E::InvalidRequest(m) => CoreError::InvalidRequest(m),
            E::NotFound => CoreError::NotFound,
            E::PermissionDenied => CoreError::PermissionDenied,
            E::Denied { reason } => CoreError::LoginDenied(reason),
            E::Forbidden(m) => CoreError::PermissionDeniedWith(m),
            E::UnsupportedOperation => CoreError::UnsupportedOperation,
            E::UnsupportedPath(p) => CoreError::UnsupportedPath(p),
            E::NotRenewable => CoreError::InvalidRequest("lease is not renewable".into()),
            E::Upstream { message, .. } => CoreError::Upstream(message),
            E::Storage(s) => CoreError::Storage(s),
            other => CoreError::Internal(other.to_string()),
        }
    }
}
