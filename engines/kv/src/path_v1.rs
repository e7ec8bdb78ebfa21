//! Version 1: one unversioned JSON object per path.

use std::time::Duration;

use engine_sdk::{EngineError, Request, Response, Secret, Storage};
use serde_json::{Map, Value};

use crate::error::KvError;
use crate::store::{V1_PREFIX, check_leaf, keys_or_none, list_prefix, to_bytes};

/// The `{*path}` parameter, or `""` at the mount root.
fn path_of<'a>(req: &'a Request<'_>) -> &'a str {
    req.param("path").unwrap_or("")
}

/// Whether a secret is stored at the request's path.
pub(crate) async fn exists(req: &Request<'_>) -> Result<bool, EngineError> {
    let path = path_of(req);
    if check_leaf(path).is_err() {
        return Ok(false);
    }
    Ok(req
        .storage
        .get(&format!("{V1_PREFIX}{path}"))
        .await?
        .is_some())
}

/// GET: the stored object, with its `ttl` (or `lease`) as the advisory lease duration.
pub(crate) async fn read(req: &Request<'_>) -> Result<Response, EngineError> {
    let path = path_of(req);
    check_leaf(path)?;
    let Some(raw) = req.storage.get(&format!("{V1_PREFIX}{path}")).await? else {
        return Err(EngineError::NotFound);
    };
    let data: Map<String, Value> = serde_json::from_slice(&raw)?;
    let ttl = data
        .get("ttl")
        .or_else(|| data.get("lease"))
        .and_then(parse_ttl)
        .unwrap_or(req.mount.default_lease_ttl);
    Ok(Response {
        data: Some(data),
        secret: Some(Secret {
            kind: "kv".into(),
            ttl,
            renewable: false,
            no_lease: true,
            ..Secret::default()
        }),
        ..Response::default()
    })
}

/// A `ttl` value: seconds or a duration string; anything unparsable is ignored, as in OpenBao.
fn parse_ttl(v: &Value) -> Option<Duration> {
    match v {
        Value::Number(n) => n.as_u64().map(Duration::from_secs),
        Value::String(s) => api_spec::duration::parse(s).ok(),
        _ => None,
    }
}

/// POST/PUT: replaces the object at the path with the request body.
pub(crate) async fn write(req: &Request<'_>) -> Result<Response, EngineError> {
    let path = path_of(req);
    check_leaf(path)?;
    if req.data.is_empty() {
        return Err(KvError::MissingFields.into());
    }
    req.storage
        .put(&format!("{V1_PREFIX}{path}"), &to_bytes(req.data)?)
        .await?;
    Ok(Response::default())
}

/// DELETE: removes the object (no error when absent).
pub(crate) async fn delete(req: &Request<'_>) -> Result<Response, EngineError> {
    let path = path_of(req);
    check_leaf(path)?;
    req.storage.delete(&format!("{V1_PREFIX}{path}")).await?;
    Ok(Response::default())
}

/// LIST: the immediate children of a folder; 404 when there are none.
pub(crate) async fn list(req: &Request<'_>) -> Result<Response, EngineError> {
    let prefix = list_prefix(V1_PREFIX, path_of(req))?;
    let keys = req.storage.list(&prefix).await?;
    let Some(keys) = keys_or_none(keys) else {
        return Err(EngineError::NotFound);
    };
    let mut data = Map::new();
    data.insert("keys".into(), keys.into());
    Ok(Response::data(data))
}
