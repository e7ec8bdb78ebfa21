//! `role/` (LIST) and `role/{name}` (create, read, update, delete).

use engine_sdk::{EngineError, Request, Response, field};
use serde_json::{Map, json};

use crate::backend::{JwtBackend, role_name};
use crate::role::JwtRole;
use crate::{JwtError, role};

/// LIST `role/`, paged by `after` and `limit`; empty is a 404, as OpenBao answers an empty LIST.
pub(crate) async fn list(req: &Request<'_>) -> Result<Response, JwtError> {
    let after = field::string(req.data, "after")?.filter(|a| !a.is_empty());
    let limit = match field::string(req.data, "limit")? {
        None => 0,
        Some(s) if s.trim().is_empty() => 0,
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| JwtError::invalid("field \"limit\" must be an integer"))?,
    };
    let take = usize::try_from(limit)
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or(usize::MAX);
    let keys: Vec<String> = role::list(req.storage)
        .await?
        .into_iter()
        .filter(|k| after.as_deref().is_none_or(|a| k.as_str() > a))
        .take(take)
        .collect();
    if keys.is_empty() {
        return Err(EngineError::NotFound.into());
    }
    let mut data = Map::new();
    data.insert("keys".into(), json!(keys));
    Ok(Response::data(data))
}

/// GET `role/{name}`.
pub(crate) async fn read(req: &Request<'_>) -> Result<Response, JwtError> {
    let name = role_name(req)?;
    let role = role::load(req.storage, &name)
        .await?
        .ok_or(EngineError::NotFound)?;
    Ok(Response::data(role.to_data()))
}

/// POST `role/{name}`: creates the role or updates the fields sent.
pub(crate) async fn write(backend: &JwtBackend, req: &Request<'_>) -> Result<Response, JwtError> {
    let name = role_name(req)?;
    let _guard = backend.write_lock.lock().await;
    let existing = role::load(req.storage, &name).await?;
    let creating = existing.is_none();
    let mut entry = existing.unwrap_or_else(JwtRole::default);
    let warnings = entry.apply(req.data, creating, req.mount.max_lease_ttl)?;
    role::save(req.storage, &name, &mut entry).await?;
    Ok(Response {
        warnings,
        ..Response::default()
    })
}

/// DELETE `role/{name}`; tokens already issued stay valid but can no longer be renewed.
pub(crate) async fn delete(backend: &JwtBackend, req: &Request<'_>) -> Result<Response, JwtError> {
    let name = role_name(req)?;
    let _guard = backend.write_lock.lock().await;
    role::delete(req.storage, &name).await?;
    Ok(Response::default())
}
