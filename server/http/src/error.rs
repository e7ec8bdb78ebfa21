//! The one place where errors become HTTP status codes and `{"errors": [...]}` bodies, pinned to OpenBao's mapping.

use api_spec::ErrorBody;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use server_core::CoreError;
use storage::StorageError;

/// An error answer of the HTTP API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// Anything the core reports.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The body is not valid JSON (or not an object).
    #[error("failed to parse JSON input: {0}")]
    BadJson(String),
    /// A query parameter is invalid.
    #[error("{0}")]
    BadParameter(String),
    /// The body exceeds `max_request_size`.
    #[error("http: request body too large")]
    TooLarge,
    /// The HTTP method is not supported on this path.
    #[error("unsupported operation")]
    MethodNotAllowed,
    /// PATCH without `Content-Type: application/merge-patch+json` (holds the type that was sent).
    #[error("PATCH requires Content-Type of application/merge-patch+json, provided {0}")]
    UnsupportedMediaType(String),
    /// The request ran past `max_request_duration`.
    #[error("request timed out")]
    Timeout,
}

impl ApiError {
    /// The status code and client-visible messages, following OpenBao's mapping.
    pub fn status_and_messages(&self) -> (StatusCode, Vec<String>) {
        match self {
            ApiError::Core(e) => core_status(e),
            ApiError::BadJson(_) | ApiError::BadParameter(_) => {
                (StatusCode::BAD_REQUEST, vec![self.to_string()])
            }
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, vec![self.to_string()]),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, vec![self.to_string()]),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, vec![self.to_string()])
            }
            ApiError::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                vec!["context deadline exceeded".into()],
            ),
        }
    }
}

fn core_status(e: &CoreError) -> (StatusCode, Vec<String>) {
    let msg = || vec![e.to_string()];
    match e {
        CoreError::Sealed => (StatusCode::SERVICE_UNAVAILABLE, msg()),
        CoreError::NotInitialized => (StatusCode::SERVICE_UNAVAILABLE, msg()),
        CoreError::AlreadyInitialized => (StatusCode::BAD_REQUEST, msg()),
        CoreError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, msg()),
        CoreError::PermissionDenied
        | CoreError::PermissionDeniedWith(_)
        | CoreError::LoginDenied(_) => (StatusCode::FORBIDDEN, msg()),
        CoreError::UnsupportedPath(_) => (StatusCode::NOT_FOUND, msg()),
        CoreError::UnsupportedOperation => (StatusCode::METHOD_NOT_ALLOWED, msg()),
        // A plain "nothing here" is a 404 with an empty error list, which clients rely on.
        CoreError::NotFound => (StatusCode::NOT_FOUND, Vec::new()),

        CoreError::Upstream(_) => (StatusCode::BAD_GATEWAY, msg()),
        CoreError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, msg()),
        CoreError::AuditUnavailable => (StatusCode::SERVICE_UNAVAILABLE, msg()),
        CoreError::QuotaExceeded(_) => (StatusCode::TOO_MANY_REQUESTS, msg()),
        CoreError::Storage(StorageError::Sealed) => (
            StatusCode::SERVICE_UNAVAILABLE,
            vec!["Vault is sealed".into()],
        ),
        CoreError::Storage(StorageError::Unavailable(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            vec!["storage unavailable".into()],
        ),
        // Detail of server-side failures goes to the log, not to the client.
        CoreError::Storage(_) | CoreError::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            vec!["internal error".into()],
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            vec!["internal error".into()],
        ),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, errors) = self.status_and_messages();
        // Only a genuine server failure needs an operator; sealed/unavailable answers are expected states.
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), error = %self, "request refused");
        }
        (status, Json(ErrorBody { errors })).into_response()
    }
}

/// A handler panicked: answer 500 with a generic message (the panic itself is logged by the layer's caller).
pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(ErrorBody {
            errors: vec!["internal error".into()],
        }),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every mapping, pinned to OpenBao's status codes and messages.
    #[test]
    fn status_table() {
        let cases: Vec<(ApiError, u16, Vec<&str>)> = vec![
            (CoreError::Sealed.into(), 503, vec!["Vault is sealed"]),
            (
                CoreError::AlreadyInitialized.into(),
                400,
                vec!["Vault is already initialized"],
            ),
            (
                CoreError::InvalidRequest("bad".into()).into(),
                400,
                vec!["bad"],
            ),
            (
                CoreError::PermissionDenied.into(),
                403,
                vec!["permission denied"],
            ),
            (
                CoreError::UnsupportedPath("foo/bar".into()).into(),
                404,
                vec!["no handler for route \"foo/bar\". route entry not found."],
            ),
            (
                CoreError::UnsupportedOperation.into(),
                405,
                vec!["unsupported operation"],
            ),
            (CoreError::NotFound.into(), 404, vec![]),
            (
                CoreError::InvalidRequest("path is already in use at secret/".into()).into(),
                400,
                vec!["path is already in use at secret/"],
            ),
            (
                CoreError::Upstream("connection refused".into()).into(),
                502,
                vec!["connection refused"],
            ),
            (
                CoreError::QuotaExceeded("lease count quota exceeded".into()).into(),
                429,
                vec!["lease count quota exceeded"],
            ),
            (
                CoreError::LoginDenied("reviewer_unauthorized".into()).into(),
                403,
                vec!["permission denied"],
            ),
            (
                CoreError::AuditUnavailable.into(),
                503,
                vec!["audit backend unavailable"],
            ),
            (
                CoreError::Storage(StorageError::Sealed).into(),
                503,
                vec!["Vault is sealed"],
            ),
            (
                CoreError::Storage(StorageError::Io("disk on fire at /secret/path".into())).into(),
                500,
                vec!["internal error"],
            ),
            (
                CoreError::Internal("detail".into()).into(),
                500,
                vec!["internal error"],
            ),
            (
                ApiError::BadJson("eof".into()),
                400,
                vec!["failed to parse JSON input: eof"],
            ),
            (
                ApiError::TooLarge,
                413,
                vec!["http: request body too large"],
            ),
            (
                ApiError::MethodNotAllowed,
                405,
                vec!["unsupported operation"],
            ),
            (
                ApiError::UnsupportedMediaType("application/json".into()),
                415,
                vec![
                    "PATCH requires Content-Type of application/merge-patch+json, provided application/json",
                ],
            ),
        ];
        for (err, code, msgs) in cases {
            let (status, errors) = err.status_and_messages();
            assert_eq!(status.as_u16(), code, "{err:?}");
            assert_eq!(errors, msgs, "{err:?}");
        }
    }
}
