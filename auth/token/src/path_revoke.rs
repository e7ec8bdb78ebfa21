//! `auth/token/revoke`, `revoke-self`, `revoke-accessor` and `revoke-orphan`.

use engine_sdk::{EngineError, Request, Response, field};

use crate::backend::{self, Backend};

/// Revokes `token` and its descendants (unknown tokens: 204, as OpenBao).
pub(crate) async fn revoke(b: &Backend, req: &Request<'_>) -> Result<Response, EngineError> {
    let Some(token) = field::string(req.data, "token")?.filter(|t| !t.is_empty()) else {
        return Err(EngineError::invalid("missing token ID"));
    };
    let Some((key, entry)) = b.store.lookup_tainted(&token, req.clock.now()).await? else {
        return Ok(Response::default());
    };
    if entry.is_batch() {
        return Err(EngineError::invalid("batch tokens cannot be revoked"));
    }
    b.store.revoke_tree(&key).await?;
    Ok(Response::default())
}

/// Revokes the caller's token and its descendants.
pub(crate) async fn revoke_self(b: &Backend, req: &Request<'_>) -> Result<Response, EngineError> {
    let caller = backend::caller(req)?;
    let own = backend::self_token(b, req).await?;
    match backend::caller_entry(b, req, own.as_deref()).await? {
        Some((_, entry)) if entry.is_batch() => {
            Err(EngineError::invalid("batch tokens cannot be revoked"))
        }
        Some((key, _)) => {
            b.store.revoke_tree(&key).await?;
            Ok(Response::default())
        }
        None if backend::is_batch_caller(caller) => {
            Err(EngineError::invalid("batch tokens cannot be revoked"))
        }
        None => Ok(Response::default()),
    }
}

/// Revokes a token and its descendants by accessor.
pub(crate) async fn revoke_accessor(
    b: &Backend,
    req: &Request<'_>,
) -> Result<Response, EngineError> {
    let Some(accessor) = field::string(req.data, "accessor")?.filter(|a| !a.is_empty()) else {
        return Err(EngineError::invalid("missing accessor"));
    };
    if b.store.revoke_by_accessor(&accessor).await? {
        Ok(Response::default())
    } else {
        Ok(Response::default().warn("No token found with this accessor"))
    }
}

/// Revokes a token, making its children orphans (root only: sudo stands for root for now).
pub(crate) async fn revoke_orphan(b: &Backend, req: &Request<'_>) -> Result<Response, EngineError> {
    let caller = backend::caller(req)?;
    let Some(token) = field::string(req.data, "token")?.filter(|t| !t.is_empty()) else {
        return Err(EngineError::invalid("missing token ID"));
    };
    if !caller.root {
        return Err(EngineError::invalid(
            "root or sudo privileges required to revoke and orphan",
        ));
    }
    let Some((key, entry)) = b.store.lookup_tainted(&token, req.clock.now()).await? else {
        return Err(EngineError::invalid("token to revoke not found"));
    };
    if entry.is_batch() {
        return Err(EngineError::invalid("batch tokens cannot be revoked"));
    }
    b.store.revoke_orphan(&key).await?;
    Ok(Response::default())
}
