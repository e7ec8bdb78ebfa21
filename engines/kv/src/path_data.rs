//! Version 2 `data/{*path}`: read a version, write or patch a new one, soft-delete the latest.

use engine_sdk::{EngineError, Op, Request, Response, Storage};
use serde_json::{Map, Value};

use crate::backend::KvV2;
use crate::error::KvError;
use crate::store::{
    Config, KeyMeta, check_leaf, deletion_time, int_field, load_config, load_meta, load_version,
    meta_key, now_ns, to_bytes, version_key,
};

/// The `{*path}` parameter.
pub(crate) fn path_of<'a>(req: &'a Request<'_>) -> &'a str {
    req.param("path").unwrap_or("")
}

/// The version asked for by `version` (absent, 0 or negative = the current one).
pub(crate) fn requested_version(req: &Request<'_>, meta: &KeyMeta) -> Result<u64, KvError> {
    Ok(match int_field(req.data, "version")? {
        Some(v) if v > 0 => v.unsigned_abs(),
        _ => meta.current_version,
    })
}

/// A 404 that still carries a body, as OpenBao answers for deleted and destroyed versions.
pub(crate) fn not_found_with(data: Map<String, Value>) -> Response {
    Response {
        data: Some(data),
        status: Some(404),
        ..Response::default()
    }
}

/// GET: a version's data and metadata.
pub(crate) async fn read(b: &KvV2, req: &Request<'_>) -> Result<Response, EngineError> {
    let path = path_of(req);
    check_leaf(path)?;
    let _guard = b.locks.get(path)?.read().await;
    let Some(meta) = load_meta(req.storage, path).await? else {
        return Err(EngineError::NotFound);
    };
    let n = requested_version(req, &meta)?;
    let Some(vm) = meta.versions.get(&n) else {
        return Err(EngineError::NotFound);
    };
    let metadata = vm.to_json(n, &meta.custom_metadata);
    let mut body = Map::new();
    body.insert("data".into(), Value::Null);
    body.insert("metadata".into(), metadata);
    if vm.destroyed || vm.is_deleted(now_ns(req.clock)) {
        return Ok(not_found_with(body));
    }
    let Some(entry) = load_version(req.storage, path, n).await? else {
        return Err(
            KvError::Inconsistent(format!("could not find version data for version {n}")).into(),
        );
    };
    body.insert("data".into(), Value::Object(entry.data));
    Ok(Response::data(body))
}

/// The `data` object of a write or patch.
fn data_field(req: &Request<'_>) -> Result<Map<String, Value>, KvError> {
    match req.data.get("data") {
        None | Some(Value::Null) => Err(KvError::NoData),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(KvError::InvalidField(
            "field \"data\" must be an object".into(),
        )),
    }
}

/// Enforces `options.cas` against the key's current version, and `cas_required`.
pub(crate) fn check_cas(
    data: &Map<String, Value>,
    config: &Config,
    meta: &KeyMeta,
) -> Result<(), KvError> {
    let cas = match data.get("options") {
        Some(Value::Object(o)) => o.get("cas"),
        _ => None,
    };
    match cas {
        Some(v) => {
            if parse_cas(v)? == i128::from(meta.current_version) {
                Ok(())
            } else {
                Err(KvError::CasMismatch)
            }
        }
        None if config.cas_required || meta.cas_required => Err(KvError::CasRequired),
        None => Ok(()),
    }
}

/// A `cas` value, decoded as loosely as Go's weak decoding does (null is 0, `"3"` is 3, `true` is 1).
fn parse_cas(v: &Value) -> Result<i128, KvError> {
    match v {
        Value::Null => Ok(0),
        Value::Bool(b) => Ok(i128::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.trunc() as i128)
            })
            .ok_or(KvError::CasInvalid),
        Value::String(s) if s.trim().is_empty() => Ok(0),
        Value::String(s) => s.trim().parse().map_err(|_| KvError::CasInvalid),
        _ => Err(KvError::CasInvalid),
    }
}

/// Stores `data` as the key's next version, prunes versions past the limit, and answers with the new
/// version's metadata.
async fn commit_version(
    req: &Request<'_>,
    path: &str,
    config: &Config,
    mut meta: KeyMeta,
    data: Map<String, Value>,
) -> Result<Response, EngineError> {
    let now = now_ns(req.clock);
    let deletion = deletion_time(now, config, &meta);
    let dropped = meta.add_version(now, deletion, config.max_versions);
    let n = meta.current_version;
    let entry = crate::store::VersionEntry::new(data, now);
    let mut ops = vec![
        Op::Put {
            key: version_key(path, n),
            value: to_bytes(&entry)?,
        },
        Op::Put {
            key: meta_key(path),
            value: to_bytes(&meta)?,
        },
    ];
    ops.extend(dropped.into_iter().map(|d| Op::Delete {
        key: version_key(path, d),
    }));
    req.storage.batch(ops).await?;
    let Some(vm) = meta.versions.get(&n) else {
        return Err(KvError::Inconsistent("new version missing from metadata".into()).into());
    };
    Ok(Response::json(vm.to_json(n, &meta.custom_metadata)))
}

/// POST/PUT: writes a new version.
pub(crate) async fn write(b: &KvV2, req: &Request<'_>) -> Result<Response, EngineError> {
    let path = path_of(req);
    check_leaf(path)?;
    let data = data_field(req)?;
    let _guard = b.locks.get(path)?.write().await;
    let config = load_config(req.storage).await?;
    let meta = load_meta(req.storage, path)
        .await?
        .unwrap_or_else(KeyMeta::new);
    check_cas(req.data, &config, &meta)?;
    commit_version(req, path, &config, meta, data).await
}

/// PATCH: a JSON merge patch (RFC 7386) of the current version's data, stored as a new version.
pub(crate) async fn patch(b: &KvV2, req: &Request<'_>) -> Result<Response, EngineError> {
    let path = path_of(req);
    check_leaf(path)?;
    let patch = data_field(req)?;
    let _guard = b.locks.get(path)?.write().await;
    let Some(meta) = load_meta(req.storage, path).await? else {
        return Err(EngineError::NotFound);
    };
    let config = load_config(req.storage).await?;
    check_cas(req.data, &config, &meta)?;
    let n = meta.current_version;
    let Some(vm) = meta.versions.get(&n) else {
        return Err(EngineError::NotFound);
    };
    if vm.destroyed || vm.is_deleted(now_ns(req.clock)) {
        // OpenBao answers a patch of a deleted version with the version's metadata, not nested.
        let Value::Object(body) = vm.to_json(n, &meta.custom_metadata) else {
            return Err(EngineError::Internal("metadata is not an object".into()));
        };
        return Ok(not_found_with(body));
    }
    let Some(entry) = load_version(req.storage, path, n).await? else {
        return Err(
            KvError::Inconsistent(format!("could not find version data for version {n}")).into(),
        );
    };
    let mut merged = Value::Object(entry.data);
    merge_patch(&mut merged, &Value::Object(patch));
    let Value::Object(data) = merged else {
        return Err(EngineError::Internal(
            "merge patch produced a non-object".into(),
        ));
    };
    commit_version(req, path, &config, meta, data).await
}

/// DELETE: marks the current version deleted (nothing to do if it is missing, deleted or destroyed).
pub(crate) async fn delete(b: &KvV2, req: &Request<'_>) -> Result<Response, EngineError> {
    let path = path_of(req);
    check_leaf(path)?;
    let _guard = b.locks.get(path)?.write().await;
    let Some(mut meta) = load_meta(req.storage, path).await? else {
        return Ok(Response::default());
    };
    let now = now_ns(req.clock);
    let n = meta.current_version;
    let Some(vm) = meta.versions.get_mut(&n) else {
        return Ok(Response::default());
    };
    if vm.destroyed || vm.is_deleted(now) {
        return Ok(Response::default());
    }
    vm.deletion_time = Some(now);
    req.storage.put(&meta_key(path), &to_bytes(&meta)?).await?;
    Ok(Response::default())
}

/// RFC 7386: objects merge key by key, `null` removes a key, anything else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else {
        return;
    };
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_follows_rfc7386() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}, "x": [1]});
        merge_patch(
            &mut t,
            &json!({"a": "z", "c": {"f": null}, "x": {"y": 1}, "n": {"m": null}}),
        );
        assert_eq!(
            t,
            json!({"a": "z", "c": {"d": "e"}, "x": {"y": 1}, "n": {}})
        );
        let mut t = json!({"a": 1});
        merge_patch(&mut t, &json!({}));
        assert_eq!(t, json!({"a": 1}));
    }

    #[test]
    fn cas_parsing_is_lenient() {
        assert_eq!(parse_cas(&json!(null)).unwrap(), 0);
        assert_eq!(parse_cas(&json!("3")).unwrap(), 3);
        assert_eq!(parse_cas(&json!(2)).unwrap(), 2);
        assert_eq!(parse_cas(&json!(-1)).unwrap(), -1);
        assert!(parse_cas(&json!("x")).is_err());
        assert!(parse_cas(&json!({})).is_err());
    }
}
