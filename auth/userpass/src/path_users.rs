//! `users/` (LIST) and `users/{username}` (create, read, update, delete).

use engine_sdk::{EngineError, Request, Response, field};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::backend::{UserpassBackend, username};
use crate::{UserpassError, user};

/// LIST `users/`: stored user names, paged by `after` and `limit` (0 or negative = all).
pub(crate) async fn list(req: &Request<'_>) -> Result<Response, UserpassError> {
    let after = field::string(req.data, "after")?.filter(|a| !a.is_empty());
    let limit = match field::string(req.data, "limit")? {
        None => 0,
        Some(s) if s.trim().is_empty() => 0,
        Some(s) => s.trim().parse::<i64>().map_err(|_| {
            UserpassError::InvalidField("field \"limit\" must be an integer".into())
        })?,
    };
    let take = usize::try_from(limit)
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or(usize::MAX);
    let keys: Vec<String> = user::list(req.storage)
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

/// GET `users/{username}`: every setting except the password.
pub(crate) async fn read(req: &Request<'_>) -> Result<Response, UserpassError> {
    let name = username(req)?;
    let entry = user::load(req.storage, &name)
        .await?
        .ok_or(EngineError::NotFound)?;
    Ok(Response::data(entry.to_data()))
}

/// DELETE `users/{username}`; tokens already issued are not revoked.
pub(crate) async fn delete(req: &Request<'_>) -> Result<Response, UserpassError> {
    let name = username(req)?;
    user::delete(req.storage, &name).await?;
    Ok(Response::default())
}

/// POST `users/{username}`: creates the user (password required) or updates the fields sent.
pub(crate) async fn write(
    backend: &UserpassBackend,
    req: &Request<'_>,
) -> Result<Response, UserpassError> {
    let name = username(req)?;
    let password = password_input(req.data)?;

    // Validate against the current entry first, so a bad field costs no hashing.
    let existing = user::load(req.storage, &name).await?;
    if existing.is_none() && password.is_none() {
        return Err(UserpassError::PasswordRequired);
    }
    existing.unwrap_or_default().apply(req.data)?;

    let hash = match password {
        Some(p) => Some(backend.kdf.hash(p).await?),
        None => None,
    };

    let _guard = backend.write_lock.lock().await;
    let mut entry = match user::load(req.storage, &name).await? {
        Some(e) => e,
        None if hash.is_some() => user::UserEntry::default(),
        // Deleted while we were hashing, and this request has no password to recreate it with.
        None => return Err(UserpassError::PasswordRequired),
    };
    entry.apply(req.data)?;
    if let Some(h) = hash {
        entry.password = Some(h);
    }
    user::save(req.storage, &name, &mut entry).await?;
    Ok(Response::default())
}

/// The `password` of a write, if one was sent; `password_hash` is refused (no bcrypt here). Shared with the
/// password endpoint.
pub(crate) fn password_input(
    data: &Map<String, Value>,
) -> Result<Option<Zeroizing<String>>, UserpassError> {
    let password = field::string(data, "password")?
        .map(Zeroizing::new)
        .filter(|p| !p.is_empty());
    let hash_sent = field::string(data, "password_hash")?.is_some_and(|h| !h.is_empty());
    match (password, hash_sent) {
        (Some(_), true) => Err(UserpassError::PasswordConflict),
        (None, true) => Err(UserpassError::PasswordHashUnsupported),
        (p, false) => Ok(p),
    }
}
