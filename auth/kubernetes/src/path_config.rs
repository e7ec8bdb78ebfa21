//! `config`: read and write the API-server settings; with `verify=true` the write first proves the reviewer
//! credentials work with a dry-run TokenReview.

use engine_sdk::{EngineError, Request, Response, field};
use zeroize::Zeroizing;

use crate::backend::KubernetesBackend;
use crate::config::{self, ConfigEntry};
use crate::error::Denial;
use crate::review::{ReviewError, ReviewRequest};
use crate::{KubernetesError, Reason};

/// GET `config`: every setting but the reviewer JWT (`token_reviewer_jwt_set` says whether one is stored).
pub(crate) async fn read(req: &Request<'_>) -> Result<Response, KubernetesError> {
    let entry = config::load(req.storage)
        .await?
        .ok_or(EngineError::NotFound)?;
    Ok(Response::data(entry.to_data()))
}

/// POST `config`: replaces the configuration (OpenBao's semantics: unsent fields take their defaults).
pub(crate) async fn write(
    backend: &KubernetesBackend,
    req: &Request<'_>,
) -> Result<Response, KubernetesError> {
    let entry = ConfigEntry::from_request(req.data)?;
    let mut response = Response::default();
    if field::boolean(req.data, "verify")?.unwrap_or(false) {
        match verify(backend, &entry).await {
            Ok(Some(warning)) => response = response.warn(warning),
            Ok(None) => {}
            Err(d) => {
                tracing::warn!(
                    request_id = req.id,
                    mount = %req.mount.path,
                    reason = d.reason.code(),
                    detail = %d.detail,
                    "kubernetes config verification failed; config not saved"
                );
                return Err(KubernetesError::verify_failed(d));
            }
        }
    }
    config::save(req.storage, &entry).await?;
    Ok(response)
}

/// The dry run: the reviewer JWT reviews itself, which needs a reachable API server, a trusted certificate, a
/// valid reviewer token and the RBAC to create tokenreviews. Without any reviewer JWT (clients will be their own
/// bearers) only reachability and TLS can be checked; the returned warning says so.
async fn verify(
    backend: &KubernetesBackend,
    entry: &ConfigEntry,
) -> Result<Option<String>, Denial> {
    let reviewer = backend
        .reviewer_for(entry)
        .await
        .map_err(|e| Denial::new(Reason::ReviewTls, e))?;
    let Some(bearer) = backend.reviewer_jwt(entry).await else {
        let probe = ReviewRequest {
            token: Zeroizing::new(String::new()),
            audiences: Vec::new(),
            bearer: None,
        };
        return match reviewer.review(&probe).await {
            // Any HTTP answer proves the server is reachable over trusted TLS.
            Ok(_)
            | Err(
                ReviewError::Unauthorized(_)
                | ReviewError::Forbidden(_)
                | ReviewError::Status { .. }
                | ReviewError::BadResponse(_),
            ) => Ok(Some(
                "no token_reviewer_jwt: only the connection and TLS to the API server were verified; each client's own JWT will be the TokenReview bearer".to_owned(),
            )),
            Err(e) => Err(Denial::new(e.reason(), e.to_string())),
        };
    };
    let request = ReviewRequest {
        token: bearer.clone(),
        audiences: Vec::new(),
        bearer: Some(bearer),
    };
    let status = reviewer
        .review(&request)
        .await
        .map_err(|e| Denial::new(e.reason(), e.to_string()))?;
    if !status.authenticated {
        let why = if status.error.is_empty() {
            "not authenticated".to_owned()
        } else {
            status.error
        };
        return Err(Denial::new(
            Reason::NotAuthenticated,
            format!("the API server does not accept the reviewer JWT itself: {why}"),
        ));
    }
    Ok(None)
}
