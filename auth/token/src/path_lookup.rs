//! `auth/token/lookup`, `lookup-self` and `lookup-accessor`.

use engine_sdk::{EngineError, Request, Response, field};

use crate::backend::{self, Backend};

/// Looks up `token` (or the caller's own token when none is given). Unknown → 403, as OpenBao's "bad token".
pub(crate) async fn lookup(b: &Backend, req: &Request<'_>) -> Result<Response, EngineError> {
    let Some(token) = field::string(req.data, "token")?.filter(|t| !t.is_empty()) else {
        return lookup_self(b, req).await;
    };
    let Some((_, entry)) = b.store.lookup_tainted(&token, req.clock.now()).await? else {
        return Err(EngineError::Forbidden("bad token".into()));
    };
    Ok(Response::data(backend::lookup_data(
        &entry,
        &token,
        req.clock.now(),
    )))
}

/// Looks up the caller's token. `id` is filled only when the request carries the caller's own token in `token`
/// (the core passes it, as OpenBao does); the caller's key alone cannot give it back.
pub(crate) async fn lookup_self(b: &Backend, req: &Request<'_>) -> Result<Response, EngineError> {
    let own = backend::self_token(b, req).await?;
    let Some((_, entry)) = backend::caller_entry(b, req, own.as_deref()).await? else {
        return Err(EngineError::PermissionDenied);
    };
    Ok(Response::data(backend::lookup_data(
        &entry,
        own.as_deref().unwrap_or_default(),
        req.clock.now(),
    )))
}

/// Looks up a token by accessor; `id` is always empty.
pub(crate) async fn lookup_accessor(
    b: &Backend,
    req: &Request<'_>,
) -> Result<Response, EngineError> {
    let Some(accessor) = field::string(req.data, "accessor")?.filter(|a| !a.is_empty()) else {
        return Err(EngineError::invalid("missing accessor"));
    };
    let now = req.clock.now();
    let Some((_, entry)) = b
        .store
        .lookup_by_accessor(&accessor)
        .await?
        .filter(|(_, e)| !e.revocation_pending && !e.expired_at(now))
    else {
        return Err(EngineError::invalid("invalid accessor"));
    };
    Ok(Response::data(backend::lookup_data(&entry, "", now)))
}
