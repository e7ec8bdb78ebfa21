//! Why a request failed: the reason codes of refused logins and the crate's error enum.

use engine_sdk::{EngineError, StorageError};

/// Why a login was refused: a stable, machine-readable code for the log and the audit entry. The client only
/// ever sees `permission denied`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The mount has no `config` yet.
    NotConfigured,
    /// The login came from outside the role's `token_bound_cidrs`.
    SourceAddressNotAllowed,
    /// The JWT is not a well-formed compact JWS with JSON claims.
    JwtMalformed,
    /// The JWT's `alg` is not one Kubernetes signs with (or one `pem_keys` verification supports).
    JwtUnsupportedAlgorithm,
    /// No configured `pem_keys` entry verifies the JWT's signature.
    JwtBadSignature,
    /// `exp` has passed.
    JwtExpired,
    /// `nbf` (or `iat`) lies in the future.
    JwtNotYetValid,
    /// `iss` differs from the expected issuer (only with `disable_iss_validation=false`).
    JwtIssuerMismatch,
    /// The role's `audience` is not among the JWT's `aud`.
    AudienceMismatch,
    /// The JWT names no service account (namespace, name or UID missing).
    JwtNoServiceAccount,
    /// The service account's name matches no `bound_service_account_names` entry.
    NameNotAuthorized,
    /// The service account's namespace matches no `bound_service_account_namespaces` entry.
    NamespaceNotAuthorized,
    /// The API server answered 401: it rejected the bearer (the reviewer JWT, or the client's own).
    ReviewerUnauthorized,
    /// The API server answered 403: the bearer may not create `tokenreviews` (RBAC).
    ReviewerForbidden,
    /// The API server answered another non-success status.
    ReviewHttpStatus,
    /// The TLS handshake with the API server failed (wrong CA, name mismatch, ...).
    ReviewTls,
    /// The API server's host name did not resolve.
    ReviewDns,
    /// No connection to the API server (refused, unreachable, reset).
    ReviewConnect,
    /// The API server did not answer within `review_timeout`.
    ReviewTimeout,
    /// The API server's answer was not a TokenReview.
    ReviewBadResponse,
    /// The TokenReview says the token is not (or no longer) valid.
    NotAuthenticated,
    /// The TokenReview's audiences do not include the one asked for.
    ReviewAudienceMismatch,
    /// The TokenReview names another user than the JWT (not a service account, or another name, namespace or UID).
    ReviewIdentityMismatch,
}

impl Reason {
    /// The code as logged and audited.
    pub fn code(self) -> &'static str {
        match self {
            Reason::NotConfigured => "not_configured",
            Reason::SourceAddressNotAllowed => "source_address_not_allowed",
            Reason::JwtMalformed => "jwt_malformed",
            Reason::JwtUnsupportedAlgorithm => "jwt_unsupported_algorithm",
            Reason::JwtBadSignature => "jwt_bad_signature",
            Reason::JwtExpired => "jwt_expired",
            Reason::JwtNotYetValid => "jwt_not_yet_valid",
            Reason::JwtIssuerMismatch => "jwt_issuer_mismatch",
            Reason::AudienceMismatch => "audience_mismatch",
            Reason::JwtNoServiceAccount => "jwt_no_service_account",
            Reason::NameNotAuthorized => "service_account_name_not_authorized",
            Reason::NamespaceNotAuthorized => "namespace_not_authorized",
            Reason::ReviewerUnauthorized => "reviewer_unauthorized",
            Reason::ReviewerForbidden => "reviewer_forbidden",
            Reason::ReviewHttpStatus => "review_http_status",
            Reason::ReviewTls => "review_tls",
            Reason::ReviewDns => "review_dns",
            Reason::ReviewConnect => "review_connect",
            Reason::ReviewTimeout => "review_timeout",
            Reason::ReviewBadResponse => "review_bad_response",
            Reason::NotAuthenticated => "not_authenticated",
            Reason::ReviewAudienceMismatch => "review_audience_mismatch",
            Reason::ReviewIdentityMismatch => "review_identity_mismatch",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused login: the reason code and a human-readable detail for the operator (never a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Denial {
    /// The code.
    pub(crate) reason: Reason,
    /// What exactly happened.
    pub(crate) detail: String,
}

impl Denial {
    /// A denial with its detail.
    pub(crate) fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

/// A failed kubernetes auth request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubernetesError {
    /// A request field is malformed or inconsistent (400).
    #[error("{0}")]
    InvalidField(String),
    /// A login without `role` or `jwt` (400, OpenBao's `missing role` / `missing jwt`).
    #[error("missing {0}")]
    Missing(&'static str),
    /// A login naming a role that does not exist (400).
    #[error("invalid role name {0:?}")]
    UnknownRole(String),
    /// The role of a token being renewed was deleted (400).
    #[error("role {0:?} does not exist during renewal")]
    RoleGone(String),
    /// A refused login (403 "permission denied"; the reason goes to the log and the audit entry).
    #[error("permission denied ({reason}): {detail}")]
    Denied {
        /// The code.
        reason: Reason,
        /// What exactly happened.
        detail: String,
    },
    /// `config` with `verify=true`: the dry-run TokenReview failed (400, with the precise reason).
    #[error("verifying the reviewer credentials failed ({reason}): {detail}")]
    VerifyFailed {
        /// The code.
        reason: Reason,
        /// What exactly happened.
        detail: String,
    },
    /// Field parsing or storage failed underneath.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl KubernetesError {
    /// A refused login.
    pub(crate) fn denied(d: Denial) -> Self {
        KubernetesError::Denied {
            reason: d.reason,
            detail: d.detail,
        }
    }

    /// A failed `verify=true` dry run.
    pub(crate) fn verify_failed(d: Denial) -> Self {
        KubernetesError::VerifyFailed {
            reason: d.reason,
            detail: d.detail,
        }
    }
}

impl From<KubernetesError> for EngineError {
    fn from(e: KubernetesError) -> Self {
        match e {
            KubernetesError::InvalidField(_)
            | KubernetesError::Missing(_)
            | KubernetesError::UnknownRole(_)
            | KubernetesError::RoleGone(_)
            | KubernetesError::VerifyFailed { .. } => EngineError::InvalidRequest(e.to_string()),
            KubernetesError::Denied { reason, .. } => EngineError::Denied {
                reason: reason.code().to_owned(),
            },
            KubernetesError::Engine(inner) => inner,
        }
    }
}

impl From<StorageError> for KubernetesError {
    fn from(e: StorageError) -> Self {
        KubernetesError::Engine(EngineError::Storage(e))
    }
}

impl From<serde_json::Error> for KubernetesError {
    fn from(e: serde_json::Error) -> Self {
        KubernetesError::Engine(e.into())
    }
}
