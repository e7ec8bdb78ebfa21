//! Version 2 `subkeys/{*path}`: a version's structure without its values.

use engine_sdk::{EngineError, Request, Response};
use serde_json::{Map, Value};

use crate::backend::KvV2;
use crate::error::KvError;
use crate::path_data::{not_found_with, path_of, requested_version};
use crate::store::{check_leaf, int_field, load_meta, load_version, now_ns};

/// GET: the data's structure with every leaf replaced by `null`.
pub(crate) async fn read(b: &KvV2, req: &Request<'_>) -> Result<Response, EngineError> {
    let path = path_of(req);
    check_leaf(path)?;
    let depth = int_field(req.data, "depth")?.unwrap_or(0);
    let _guard = b.locks.get(path)?.read().await;
    let Some(meta) = load_meta(req.storage, path).await? else {
        return Err(EngineError::NotFound);
    };
    let n = requested_version(req, &meta)?;
    let Some(vm) = meta.versions.get(&n) else {
        return Err(EngineError::NotFound);
    };
    let mut body = Map::new();
    body.insert("subkeys".into(), Value::Null);
    body.insert("metadata".into(), vm.to_json(n, &meta.custom_metadata));
    if vm.destroyed || vm.is_deleted(now_ns(req.clock)) {
        return Ok(not_found_with(body));
    }
    let Some(entry) = load_version(req.storage, path, n).await? else {
        return Err(
            KvError::Inconsistent(format!("could not find version data for version {n}")).into(),
        );
    };
    let mut data = entry.data;
    strip_values(&mut data, 1, depth);
    body.insert("subkeys".into(), Value::Object(data));
    Ok(Response::data(body))
}

/// Replaces leaves with `null`; non-empty objects are descended into while within `max_depth` (0 = no limit).
fn strip_values(m: &mut Map<String, Value>, depth: i64, max_depth: i64) {
    let next = depth.saturating_add(1);
    for v in m.values_mut() {
        match v {
            Value::Object(child) if (max_depth == 0 || next <= max_depth) && !child.is_empty() => {
                strip_values(child, next, max_depth);
            }
            _ => *v = Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strip_values_honours_depth() {
        let src = json!({"foo": "abc", "bar": {"baz": "def", "deep": {"x": 1}}, "quux": {}});
        let Value::Object(mut m) = src.clone() else {
            unreachable!()
        };
        strip_values(&mut m, 1, 0);
        assert_eq!(
            Value::Object(m),
            json!({"foo": null, "bar": {"baz": null, "deep": {"x": null}}, "quux": null})
        );
        let Value::Object(mut m) = src.clone() else {
            unreachable!()
        };
        strip_values(&mut m, 1, 1);
        assert_eq!(
            Value::Object(m),
            json!({"foo": null, "bar": null, "quux": null})
        );
        let Value::Object(mut m) = src else {
            unreachable!()
        };
        strip_values(&mut m, 1, 2);
        assert_eq!(
            Value::Object(m),
            json!({"foo": null, "bar": {"baz": null, "deep": null}, "quux": null})
        );
    }
}
