//! Storage layout marker and the v1 → v2 upgrade, run by the factory before a version-2 backend serves.

use engine_sdk::{EngineError, Op, Storage, View};
use serde_json::{Map, Value};

use crate::error::KvError;
use crate::store::{
    KeyMeta, LAYOUT_KEY, Layout, V1_PREFIX, VersionEntry, get_json, meta_key, to_bytes, version_key,
};

/// The layout recorded in storage (absent on mounts that never ran version 2).
pub(crate) async fn layout(view: &View) -> Result<Option<Layout>, EngineError> {
    get_json(view, LAYOUT_KEY).await
}

/// Every key under `prefix`, recursively (relative to the view).
async fn collect_keys(view: &View, prefix: &str) -> Result<Vec<String>, EngineError> {
    let mut out = Vec::new();
    let mut folders = vec![prefix.to_owned()];
    while let Some(folder) = folders.pop() {
        for child in view.list(&folder).await? {
            let full = format!("{folder}{child}");
            if child.ends_with('/') {
                folders.push(full);
            } else {
                out.push(full);
            }
        }
    }
    Ok(out)
}

/// Makes sure the storage is in the version-2 layout: each version-1 secret becomes version 1 of a versioned
/// key (one atomic batch per secret, so an interrupted upgrade resumes where it stopped), then the marker
/// is written. Returns how many secrets were moved.
pub(crate) async fn ensure_v2(view: &View, now: i64) -> Result<usize, EngineError> {
    if layout(view).await? == Some(Layout { version: 2 }) {
        return Ok(0);
    }
    let keys = collect_keys(view, V1_PREFIX).await?;
    let count = keys.len();
    if count > 0 {
        tracing::info!(count, "upgrading KV secrets from version 1 to version 2");
    }
    for key in keys {
        let Some(path) = key.strip_prefix(V1_PREFIX) else {
            continue;
        };
        let Some(raw) = view.get(&key).await? else {
            continue;
        };
        let data: Map<String, Value> = serde_json::from_slice(&raw).map_err(|_| {
            KvError::Inconsistent(format!(
                "cannot upgrade KV secret {path:?}: stored value is not a JSON object"
            ))
        })?;
        let mut meta = KeyMeta::new();
        // OpenBao records the upgraded version with a window of one.
        let _ = meta.add_version(now, None, 1);
        let entry = VersionEntry::new(data, now);
        view.batch(vec![
            Op::Put {
                key: version_key(path, meta.current_version),
                value: to_bytes(&entry)?,
            },
            Op::Put {
                key: meta_key(path),
                value: to_bytes(&meta)?,
            },
            Op::Delete { key: key.clone() },
        ])
        .await?;
    }
    view.put(LAYOUT_KEY, &to_bytes(&Layout { version: 2 })?)
        .await?;
    if count > 0 {
        tracing::info!(count, "KV upgrade to version 2 finished");
    }
    Ok(count)
}

/// Refuses to serve version-2 storage with a version-1 backend.
pub(crate) async fn ensure_v1(view: &View) -> Result<(), EngineError> {
    match layout(view).await? {
        Some(Layout { version: 2 }) => Err(KvError::Downgrade.into()),
        _ => Ok(()),
    }
}
