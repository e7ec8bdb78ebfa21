//! Version 2 `metadata/{*path}` and `detailed-metadata/`: per-key settings, version history, listing,
//! and deleting a key with all its versions.

use std::collections::BTreeMap;

use engine_sdk::{EngineError, Op, Request, Response, Storage, field};
use serde_json::{Map, Value};

use crate::backend::KvV2;
use crate::error::KvError;
use crate::path_config::max_versions;
use crate::path_data::path_of;
use crate::store::{
    Config, KeyMeta, META_PREFIX, check_leaf, int_field, keys_or_none, list_prefix, load_config,
    load_meta, meta_key, now_ns, to_bytes, version_key,
};

const MAX_CUSTOM_KEYS: usize = 64;
const MAX_CUSTOM_KEY_LEN: usize = 128;
const MAX_CUSTOM_VALUE_LEN: usize = 512;
const CUSTOM_PREFIX: &str = "custom_metadata validation failed";

/// GET: the key's settings and version history.
pub(crate) async fn read(req: &Request<'_>) -> Result<Response, EngineError> {
    let path = path_of(req);
    check_leaf(path)?;
    let Some(meta) = load_meta(req.storage, path).await? else {
        return Err(EngineError::NotFound);
    };
    Ok(Response::data(meta.to_json()))
}

/// LIST: the keys and folders under a folder; with `detailed` (the `detailed-metadata/` path) also each
/// key's metadata in `key_info`. `after` and `limit` page through the keys.
pub(crate) async fn list(req: &Request<'_>, detailed: bool) -> Result<Response, EngineError> {
    let folder = path_of(req);
    let prefix = list_prefix(META_PREFIX, folder)?;
    let after = field::string(req.data, "after")?.unwrap_or_default();
    let limit = int_field(req.data, "limit")?.unwrap_or(0);
    let mut keys: Vec<String> = req
        .storage
        .list(&prefix)
        .await?
        .into_iter()
        .filter(|k| after.is_empty() || *k > after)
        .collect();
    if let Ok(limit) = usize::try_from(limit)
        && limit > 0
    {
        keys.truncate(limit);
    }
    let Some(keys) = keys_or_none(keys) else {
        return Err(EngineError::NotFound);
    };
    let mut data = Map::new();
    if detailed {
        let base = prefix.strip_prefix(META_PREFIX).unwrap_or_default();
        let mut info = Map::new();
        for k in &keys {
            let entry = if k.ends_with('/') {
                Map::new()
            } else {
                load_meta(req.storage, &format!("{base}{k}"))
                    .await?
                    .map(|m| m.to_json())
                    .unwrap_or_default()
            };
            info.insert(k.clone(), Value::Object(entry));
        }
        data.insert("key_info".into(), Value::Object(info));
    }
    data.insert("keys".into(), keys.into());
    Ok(Response::data(data))
}

/// DELETE: removes the key's metadata and every version's data.
pub(crate) async fn delete(b: &KvV2, req: &Request<'_>) -> Result<Response, EngineError> {
    let path = path_of(req);
    check_leaf(path)?;
    let _guard = b.locks.get(path)?.write().await;
    let Some(meta) = load_meta(req.storage, path).await? else {
        return Ok(Response::default());
    };
    let mut ops: Vec<Op> = meta
        .versions
        .keys()
        .map(|n| Op::Delete {
            key: version_key(path, *n),
        })
        .collect();
    ops.push(Op::Delete {
        key: meta_key(path),
    });
    req.storage.batch(ops).await?;
    Ok(Response::default())
}

/// The settings a metadata write or patch may carry.
struct MetaFields {
    max_versions: Option<u32>,
    cas_required: Option<bool>,
    metadata_cas_required: Option<bool>,
    delete_version_after: Option<i64>,
    metadata_cas: Option<i64>,
}

impl MetaFields {
    fn parse(data: &Map<String, Value>) -> Result<Self, EngineError> {
        let dva = field::duration(data, "delete_version_after")?
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Ok(Self {
            max_versions: max_versions(data)?,
            cas_required: field::boolean(data, "cas_required")?,
            metadata_cas_required: field::boolean(data, "metadata_cas_required")?,
            delete_version_after: dva,
            metadata_cas: int_field(data, "metadata_cas")?,
        })
    }

    /// Sets the fields given on `meta`.
    fn apply(&self, meta: &mut KeyMeta) {
        if let Some(m) = self.max_versions {
            meta.max_versions = m;
        }
        if let Some(c) = self.cas_required {
            meta.cas_required = c;
        }
        if let Some(c) = self.metadata_cas_required {
            meta.metadata_cas_required = c;
        }
        if let Some(d) = self.delete_version_after {
            meta.delete_version_after = d;
        }
    }

    /// OpenBao's warnings for trying to relax what the engine config mandates.
    fn warnings(&self, config: &Config) -> Vec<String> {
        let mut w = Vec::new();
        if self.cas_required == Some(false) && config.cas_required {
            w.push("\"cas_required\" set to false, but is mandated by backend config. This value will be ignored.".to_owned());
        }
        if self.metadata_cas_required == Some(false) && config.metadata_cas_required {
            w.push("\"metadata_cas_required\" set to false, but is mandated by backend config. This value will be ignored.".to_owned());
        }
        w
    }
}

/// POST/PUT: creates or replaces the key's settings (not its data); no version is written.
pub(crate) async fn write(b: &KvV2, req: &Request<'_>) -> Result<Response, EngineError> {
    let path = path_of(req);
    check_leaf(path)?;
    let fields = MetaFields::parse(req.data)?;
    let custom = match req.data.get("custom_metadata") {
        None | Some(Value::Null) => None,
        Some(raw) => Some(parse_custom(raw, false)?),
    };
    // Nothing to change: OpenBao answers without creating metadata.
    if fields.max_versions.is_none()
        && fields.cas_required.is_none()
        && fields.metadata_cas_required.is_none()
        && fields.delete_version_after.is_none()
        && custom.is_none()
    {
        return Ok(Response::default());
    }
    if let Some(c) = &custom {
        validate_custom(c)?;
    }
    let config = load_config(req.storage).await?;
    let warnings = fields.warnings(&config);
    let _guard = b.locks.get(path)?.write().await;
    let existing = load_meta(req.storage, path).await?;
    let must_cas =
        existing.as_ref().is_some_and(|m| m.metadata_cas_required) || config.metadata_cas_required;
    if must_cas && fields.metadata_cas.is_none() {
        return Err(KvError::MetadataCasRequired.into());
    }
    let now = now_ns(req.clock);
    let mut meta = match existing {
        None => {
            if fields.metadata_cas.is_some_and(|c| c != 0) {
                return Err(KvError::MetadataCasNotZero.into());
            }
            let mut m = KeyMeta::new();
            m.created_time = Some(now);
            m.updated_time = Some(now);
            m.current_metadata_version = 1;
            m
        }
        Some(mut m) => {
            if let Some(c) = fields.metadata_cas
                && i128::from(c) != i128::from(m.current_metadata_version)
            {
                return Err(KvError::MetadataCasMismatch.into());
            }
            m.current_metadata_version = m.current_metadata_version.saturating_add(1);
            m.updated_time = Some(now);
            m
        }
    };
    fields.apply(&mut meta);
    if let Some(c) = custom {
        meta.custom_metadata = c;
    }
    req.storage.put(&meta_key(path), &to_bytes(&meta)?).await?;
    Ok(Response {
        warnings,
        ..Response::default()
    })
}

/// PATCH: merges the given settings into existing metadata; in `custom_metadata` a `null` value removes a
/// key, and `custom_metadata: null` removes them all.
pub(crate) async fn patch(b: &KvV2, req: &Request<'_>) -> Result<Response, EngineError> {
    const PATCHABLE: [&str; 5] = [
        "max_versions",
        "cas_required",
        "metadata_cas_required",
        "delete_version_after",
        "custom_metadata",
    ];
    let has_patch = PATCHABLE.iter().any(|k| match req.data.get(*k) {
        None => false,
        Some(Value::Null) => *k == "custom_metadata",
        Some(_) => true,
    });
    if !has_patch {
        return Ok(Response::default());
    }
    let path = path_of(req);
    check_leaf(path)?;
    let fields = MetaFields::parse(req.data)?;
    let custom_patch = match req.data.get("custom_metadata") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(raw) => {
            let without_nulls = parse_custom(raw, true)?;
            validate_custom(&without_nulls)?;
            Some(Some(raw))
        }
    };
    let config = load_config(req.storage).await?;
    let _guard = b.locks.get(path)?.write().await;
    let Some(mut meta) = load_meta(req.storage, path).await? else {
        return Err(EngineError::NotFound);
    };
    if (meta.metadata_cas_required || config.metadata_cas_required) && fields.metadata_cas.is_none()
    {
        return Err(KvError::MetadataCasRequired.into());
    }
    if let Some(c) = fields.metadata_cas
        && i128::from(c) != i128::from(meta.current_metadata_version)
    {
        return Err(KvError::MetadataCasMismatch.into());
    }
    let warnings = fields.warnings(&config);
    fields.apply(&mut meta);
    match custom_patch {
        None => {}
        Some(None) => meta.custom_metadata.clear(),
        Some(Some(Value::Object(p))) => {
            for (k, v) in p {
                match v {
                    Value::Null => {
                        meta.custom_metadata.remove(k);
                    }
                    other => {
                        meta.custom_metadata
                            .insert(k.clone(), weak_string(k, other)?);
                    }
                }
            }
            validate_custom(&meta.custom_metadata)?;
        }
        Some(Some(_)) => return Err(custom_not_map().into()),
    }
    meta.current_metadata_version = meta.current_metadata_version.saturating_add(1);
    meta.updated_time = Some(now_ns(req.clock));
    req.storage.put(&meta_key(path), &to_bytes(&meta)?).await?;
    Ok(Response {
        warnings,
        ..Response::default()
    })
}

fn custom_not_map() -> KvError {
    KvError::CustomMetadata(format!(
        "{CUSTOM_PREFIX}: custom_metadata must be a map of strings"
    ))
}

/// Decodes `custom_metadata` into strings as Go's weak decoding does (numbers and booleans are printed);
/// with `skip_nulls`, `null` values are left out (for patches, where they mean removal).
fn parse_custom(raw: &Value, skip_nulls: bool) -> Result<BTreeMap<String, String>, KvError> {
    let Value::Object(m) = raw else {
        return Err(custom_not_map());
    };
    let mut out = BTreeMap::new();
    for (k, v) in m {
        if skip_nulls && v.is_null() {
            continue;
        }
        out.insert(k.clone(), weak_string(k, v)?);
    }
    Ok(out)
}

fn weak_string(key: &str, v: &Value) -> Result<String, KvError> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(if *b { "1" } else { "0" }.to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(KvError::CustomMetadata(format!(
            "{CUSTOM_PREFIX}: value for key {key:?} must be a string"
        ))),
    }
}

/// Go's `unicode.IsPrint` for every character (the ASCII space is the only space allowed).
fn printable(s: &str) -> bool {
    s.chars()
        .all(|c| !c.is_control() && (c == ' ' || !c.is_whitespace()))
}

/// OpenBao's limits on custom metadata; every problem is reported, in go-multierror's format.
fn validate_custom(m: &BTreeMap<String, String>) -> Result<(), KvError> {
    let mut errs = Vec::new();
    if m.len() > MAX_CUSTOM_KEYS {
        errs.push(format!(
            "{CUSTOM_PREFIX}: payload must contain at most {MAX_CUSTOM_KEYS} keys, provided {}",
            m.len()
        ));
    } else {
        for (k, v) in m {
            if k.is_empty() || k.len() > MAX_CUSTOM_KEY_LEN {
                errs.push(format!(
                    "{CUSTOM_PREFIX}: length of key {k:?} is {} but must be 0 < len(key) <= {MAX_CUSTOM_KEY_LEN}",
                    k.len()
                ));
            }
            if v.is_empty() || v.len() > MAX_CUSTOM_VALUE_LEN {
                errs.push(format!(
                    "{CUSTOM_PREFIX}: length of value for key {k:?} is {} but must be 0 < len(value) <= {MAX_CUSTOM_VALUE_LEN}",
                    v.len()
                ));
            }
            if !printable(k) {
                errs.push(format!(
                    "{CUSTOM_PREFIX}: key {k:?} ({k}) contains unprintable characters"
                ));
            }
            if !printable(v) {
                errs.push(format!(
                    "{CUSTOM_PREFIX}: value for key {k:?} contains unprintable characters"
                ));
            }
        }
    }
    if errs.is_empty() {
        return Ok(());
    }
    let head = if errs.len() == 1 {
        "1 error occurred:".to_owned()
    } else {
        format!("{} errors occurred:", errs.len())
    };
    let body: String = errs.iter().map(|e| format!("\n\t* {e}")).collect();
    Err(KvError::CustomMetadata(format!("{head}{body}\n\n")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn custom_metadata_rules() {
        let ok = parse_custom(&json!({"a": "b", "n": 5, "t": true}), false).unwrap();
        assert_eq!(ok.get("n").map(String::as_str), Some("5"));
        assert_eq!(ok.get("t").map(String::as_str), Some("1"));
        assert!(validate_custom(&ok).is_ok());
        assert!(parse_custom(&json!({"a": {"x": 1}}), false).is_err());
        assert!(parse_custom(&json!("x"), false).is_err());
        let skipped = parse_custom(&json!({"a": null, "b": "c"}), true).unwrap();
        assert_eq!(skipped.len(), 1);

        let bad: BTreeMap<String, String> = [
            ("".to_owned(), "v".to_owned()),
            ("k".to_owned(), "\u{7}".to_owned()),
        ]
        .into();
        let Err(KvError::CustomMetadata(msg)) = validate_custom(&bad) else {
            panic!("expected a validation error")
        };
        assert!(
            msg.starts_with("2 errors occurred:\n\t* custom_metadata validation failed"),
            "{msg}"
        );
        let many: BTreeMap<String, String> =
            (0..65).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert!(validate_custom(&many).is_err());
        let long: BTreeMap<String, String> = [("k".to_owned(), "v".repeat(513))].into();
        assert!(validate_custom(&long).is_err());
    }
}
