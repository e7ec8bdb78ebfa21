//! `auth/token/renew`, `renew-self` and `renew-accessor`.
//!
//! Renewals use the `auth/token/` mount's TTL limits (OpenBao asks the token's own auth mount; until the lease
//! manager exists, login tokens renewed here get the token mount's max).

use engine_sdk::{EngineError, Request, Response, field};

use crate::backend::{self, Backend};
use crate::ttl::TtlLimits;

async fn renew_key(
    b: &Backend,
    req: &Request<'_>,
    key: &str,
    token: &str,
) -> Result<Response, EngineError> {
    let increment = field::duration(req.data, "increment")?.unwrap_or_default();
    let renewed = b
        .store
        .renew(
            key,
            increment,
            req.clock.now(),
            TtlLimits::of_mount(req.mount),
        )
        .await?;
    Ok(Response {
        auth: Some(backend::auth_of(
            &renewed.entry,
            token,
            renewed.ttl.as_secs(),
        )),
        warnings: renewed.warnings,
        ..Response::default()
    })
}

/// Renews `token`.
pub(crate) async fn renew(b: &Backend, req: &Request<'_>) -> Result<Response, EngineError> {
    let Some(token) = field::string(req.data, "token")?.filter(|t| !t.is_empty()) else {
        return Err(EngineError::invalid("missing token ID"));
    };
    let Some((key, entry)) = b.store.lookup_tainted(&token, req.clock.now()).await? else {
        return Err(EngineError::invalid("token not found"));
    };
    if entry.is_batch() {
        return Err(EngineError::invalid("batch tokens cannot be renewed"));
    }
    renew_key(b, req, &key, &token).await
}

/// Renews the caller's token (`client_token` in the answer only when the request carried it, see lookup-self).
pub(crate) async fn renew_self(b: &Backend, req: &Request<'_>) -> Result<Response, EngineError> {
    let caller = backend::caller(req)?;
    let own = backend::self_token(b, req).await?;
    match backend::caller_entry(b, req, own.as_deref()).await? {
        Some((_, entry)) if entry.is_batch() => {
            Err(EngineError::invalid("batch tokens cannot be renewed"))
        }
        Some((key, _)) => renew_key(b, req, &key, own.as_deref().unwrap_or_default()).await,
        None if backend::is_batch_caller(caller) => {
            Err(EngineError::invalid("batch tokens cannot be renewed"))
        }
        None => Err(EngineError::invalid("token not found")),
    }
}

/// Renews a token by accessor (`client_token` is empty in the answer).
pub(crate) async fn renew_accessor(
    b: &Backend,
    req: &Request<'_>,
) -> Result<Response, EngineError> {
    let Some(accessor) = field::string(req.data, "accessor")?.filter(|a| !a.is_empty()) else {
        return Err(EngineError::invalid("missing accessor"));
    };
    let now = req.clock.now();
    let Some((key, _)) = b
        .store
        .lookup_by_accessor(&accessor)
        .await?
        .filter(|(_, e)| !e.revocation_pending && !e.expired_at(now))
    else {
        return Err(EngineError::invalid("invalid accessor"));
    };
    renew_key(b, req, &key, "").await
}
