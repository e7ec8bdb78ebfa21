//! `role/` (LIST), `role/{role_name}` (create, read, update, delete) and `role/{role_name}/role-id`.

use engine_sdk::{EngineError, Request, Response, View, field};
use serde_json::{Map, Value, json};

use crate::backend::{ApproleBackend, role_name};
use crate::role::RoleEntry;
use crate::secret_id::{self, Location};
use crate::{ApproleError, role};

/// Pages `keys` (sorted) by the request's `after` and `limit` (0 or negative = all); empty is a 404, as OpenBao
/// answers an empty LIST.
pub(crate) fn page(req: &Request<'_>, keys: Vec<String>) -> Result<Response, ApproleError> {
    let after = field::string(req.data, "after")?.filter(|a| !a.is_empty());
    let limit = match field::string(req.data, "limit")? {
        None => 0,
        Some(s) if s.trim().is_empty() => 0,
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| ApproleError::invalid("field \"limit\" must be an integer"))?,
    };
    let take = usize::try_from(limit)
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or(usize::MAX);
    let keys: Vec<String> = keys
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

/// LIST `role/`.
pub(crate) async fn list(req: &Request<'_>) -> Result<Response, ApproleError> {
    page(req, role::list(req.storage).await?)
}

/// GET `role/{role_name}`: every setting except the role id; a warning when the role has no constraint (possible
/// only for roles written before the rule).
pub(crate) async fn read(req: &Request<'_>) -> Result<Response, ApproleError> {
    let name = role_name(req)?;
    let entry = role::load(req.storage, &name)
        .await?
        .ok_or(EngineError::NotFound)?;
    let resp = Response::data(entry.to_data());
    Ok(match entry.check_constraints() {
        Ok(()) => resp,
        Err(_) => resp.warn(
            "Role does not have any constraints set on it. Updates to this role will require a constraint to be set",
        ),
    })
}

/// POST `role/{role_name}`: creates the role (fresh role id unless one is given) or updates the fields sent.
pub(crate) async fn write(
    backend: &ApproleBackend,
    req: &Request<'_>,
) -> Result<Response, ApproleError> {
    let name = role_name(req)?;
    let salt = backend.salt.get(req.storage).await?;
    let _guard = backend.role_lock.write().await;
    let existing = role::load(req.storage, &name).await?;
    let creating = existing.is_none();
    let mut entry = match existing {
        Some(e) => e,
        None => RoleEntry::new()?,
    };
    let previous = (!creating).then(|| entry.role_id.clone());
    let warnings = entry.apply(req.data, creating, req.mount.max_lease_ttl)?;
    role::store(req.storage, salt, &name, &mut entry, previous.as_deref()).await?;
    Ok(Response {
        warnings,
        ..Response::default()
    })
}

/// DELETE `role/{role_name}`: the role, its role-id index and every secret id issued for it. Tokens already
/// issued stay valid but can no longer be renewed.
pub(crate) async fn delete(
    backend: &ApproleBackend,
    req: &Request<'_>,
) -> Result<Response, ApproleError> {
    let name = role_name(req)?;
    let salt = backend.salt.get(req.storage).await?;
    let _guard = backend.role_lock.write().await;
    let Some(entry) = role::load(req.storage, &name).await? else {
        return Ok(Response::default());
    };
    destroy_secret_ids(backend, req.storage, salt, &entry.uuid).await?;
    role::unindex_role_id(req.storage, salt, &entry.role_id).await?;
    role::delete(req.storage, &name).await?;
    Ok(Response::default())
}

/// Removes every secret id in the folder of `role_uuid`.
pub(crate) async fn destroy_secret_ids(
    backend: &ApproleBackend,
    storage: &View,
    salt: &crate::salt::Salt,
    role_uuid: &str,
) -> Result<(), ApproleError> {
    for hmac in secret_id::list_for_role(storage, role_uuid).await? {
        let loc = Location {
            role_uuid: role_uuid.to_owned(),
            hmac,
        };
        let _lock = backend.secret_locks.lock(&loc.hmac).await;
        match secret_id::load(storage, &loc).await? {
            Some(entry) => secret_id::remove(storage, salt, &loc, &entry).await?,
            None => continue,
        }
    }
    Ok(())
}

/// GET `role/{role_name}/role-id`.
pub(crate) async fn read_role_id(req: &Request<'_>) -> Result<Response, ApproleError> {
    let name = role_name(req)?;
    let entry = role::load(req.storage, &name)
        .await?
        .ok_or(EngineError::NotFound)?;
    let mut data = Map::new();
    data.insert("role_id".into(), Value::String(entry.role_id.clone()));
    Ok(Response::data(data))
}

/// POST `role/{role_name}/role-id {role_id}`: replaces the role id; the old one stops working at once.
pub(crate) async fn write_role_id(
    backend: &ApproleBackend,
    req: &Request<'_>,
) -> Result<Response, ApproleError> {
    let name = role_name(req)?;
    let id = field::string(req.data, "role_id")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApproleError::invalid("missing role_id"))?;
    let salt = backend.salt.get(req.storage).await?;
    let _guard = backend.role_lock.write().await;
    let Some(mut entry) = role::load(req.storage, &name).await? else {
        return Err(EngineError::UnsupportedPath(req.path.to_owned()).into());
    };
    let previous = entry.role_id.clone();
    role::set_role_id(&mut entry, id)?;
    role::store(req.storage, salt, &name, &mut entry, Some(&previous)).await?;
    Ok(Response::default())
}
