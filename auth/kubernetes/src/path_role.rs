//! `role/` (LIST) and `role/{name}` (create, read, update, delete).

use engine_sdk::{EngineError, Request, Response, field};
use serde_json::{Map, json};

use crate::backend::{KubernetesBackend, role_name};
use crate::{KubernetesError, role};

/// LIST `role/`: stored role names, paged by `after` and `limit` (0 or negative = all).
pub(crate) async fn list(req: &Request<'_>) -> Result<Response, KubernetesError> {
    let after = field::string(req.data, "after")?.filter(|a| !a.is_empty());
    let limit = match field::string(req.data, "limit")? {
        None => 0,
        Some(s) if s.trim().is_empty() => 0,
        Some(s) => s.trim().parse::<i64>().map_err(|_| {
            KubernetesError::InvalidField("field \"limit\" must be an integer".into())
        })?,
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
        // An empty LIST is a 404, as OpenBao answers it.
        return Err(EngineError::NotFound.into());
    }
    let mut data = Map::new();
    data.insert("keys".into(), json!(keys));
    Ok(Response::data(data))
}

/// GET `role/{name}`.
pub(crate) async fn read(req: &Request<'_>) -> Result<Response, KubernetesError> {
    let name = role_name(req)?;
    let entry = role::load(req.storage, &name)
        .await?
        .ok_or(EngineError::NotFound)?;
    Ok(Response::data(entry.to_data()))
}

/// DELETE `role/{name}`; tokens already issued stay valid but can no longer be renewed.
pub(crate) async fn delete(
    backend: &KubernetesBackend,
    req: &Request<'_>,
) -> Result<Response, KubernetesError> {
    let name = role_name(req)?;
    let _guard = backend.write_lock.lock().await;
    role::delete(req.storage, &name).await?;
    Ok(Response::default())
}

/// POST `role/{name}`: creates the role or updates the fields sent.
pub(crate) async fn write(
    backend: &KubernetesBackend,
    req: &Request<'_>,
) -> Result<Response, KubernetesError> {
    let name = role_name(req)?;
    let _guard = backend.write_lock.lock().await;
    let existing = role::load(req.storage, &name).await?;
    let creating = existing.is_none();
    let mut entry = existing.unwrap_or_default();
    let warnings = entry.apply(req.data, creating, req.mount.max_lease_ttl)?;
    if entry.audience.is_empty() {
        tracing::debug!(role = %name, "kubernetes role has no audience: any audience of the JWT is accepted");
    }
    role::save(req.storage, &name, &mut entry).await?;
    let mut resp = Response::default();
    for w in warnings {
        resp = resp.warn(w);
    }
    Ok(resp)
}
