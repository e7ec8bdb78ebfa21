//! The narrow seam to Kubernetes: one TokenReview call, as plain request/response structs behind a trait.

use std::time::Duration;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::Reason;

/// What to ask the TokenReview API.
pub struct ReviewRequest {
    /// The JWT to review.
    pub token: Zeroizing<String>,
    /// `spec.audiences`; empty lets the API server use its own.
    pub audiences: Vec<String>,
    /// The `Authorization: Bearer` credential (the reviewer JWT, the pod's own token, or the client's JWT);
    /// `None` sends no credential (only the `verify=true` reachability check does that).
    pub bearer: Option<Zeroizing<String>>,
}

// Both tokens are credentials: never in Debug output.
impl std::fmt::Debug for ReviewRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReviewRequest")
            .field("audiences", &self.audiences)
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// The `status` of a TokenReview answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewStatus {
    /// `status.authenticated`.
    pub authenticated: bool,
    /// `status.user.username` (`system:serviceaccount:<namespace>:<name>` for a service account).
    pub username: String,
    /// `status.user.uid`.
    pub uid: String,
    /// `status.audiences`: those of the requested audiences the token is valid for.
    pub audiences: Vec<String>,
    /// `status.error`, when the API server says why the token is not valid.
    pub error: String,
}

/// Why a TokenReview call produced no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    /// The TLS handshake failed.
    #[error("TLS handshake with the API server failed: {0}")]
    Tls(String),
    /// The host name did not resolve.
    #[error("the API server's host name did not resolve: {0}")]
    Dns(String),
    /// No connection could be made or kept.
    #[error("could not reach the API server: {0}")]
    Connect(String),
    /// No answer in time.
    #[error("the API server did not answer within {0:?}")]
    Timeout(Duration),
    /// 401: the bearer credential was rejected.
    #[error("the API server rejected the bearer token (401): {0}")]
    Unauthorized(String),
    /// 403: the bearer may not create tokenreviews.
    #[error("the bearer may not create tokenreviews (403): {0}")]
    Forbidden(String),
    /// Another non-success HTTP status.
    #[error("the API server answered {status}: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The API server's message.
        message: String,
    },
    /// A success status whose body is not a TokenReview.
    #[error("unreadable TokenReview answer: {0}")]
    BadResponse(String),
}

impl ReviewError {
    /// The login-refusal reason this failure stands for.
    pub fn reason(&self) -> Reason {
        match self {
            ReviewError::Tls(_) => Reason::ReviewTls,
            ReviewError::Dns(_) => Reason::ReviewDns,
            ReviewError::Connect(_) => Reason::ReviewConnect,
            ReviewError::Timeout(_) => Reason::ReviewTimeout,
            ReviewError::Unauthorized(_) => Reason::ReviewerUnauthorized,
            ReviewError::Forbidden(_) => Reason::ReviewerForbidden,
            ReviewError::Status { .. } => Reason::ReviewHttpStatus,
            ReviewError::BadResponse(_) => Reason::ReviewBadResponse,
        }
    }
}

/// Something that can review a token: the API server over HTTPS ([`crate::HttpTokenReviewer`]), or a test double.
#[async_trait]
pub trait TokenReviewer: Send + Sync + std::fmt::Debug {
    /// `POST /apis/authentication.k8s.io/v1/tokenreviews` with `request`.
    async fn review(&self, request: &ReviewRequest) -> Result<ReviewStatus, ReviewError>;
}
