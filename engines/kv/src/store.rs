//! Storage layout, persisted records and small helpers shared by the handlers.
//!
//! Layout inside the mount's view (secret *paths* appear in keys, secret *values* never do):
//! - `layout`: [`Layout`], which layout the mount's data is in (absent = version 1 or empty);
//! - `v1/<path>`: a version-1 secret, the JSON object as written;
//! - `v2/config`: [`Config`];
//! - `v2/meta/<path>`: [`KeyMeta`], one per secret;
//! - `v2/versions/<path>/<n>`: [`VersionEntry`], one per kept version (the last segment is always the number,
//!   so no two (path, version) pairs share a key).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::time::{Duration, UNIX_EPOCH};

use engine_sdk::{Clock, EngineError, Storage, View};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::KvError;

/// Key of the layout marker.
pub(crate) const LAYOUT_KEY: &str = "layout";
/// Prefix of version-1 secrets.
pub(crate) const V1_PREFIX: &str = "v1/";
/// Key of the version-2 engine config.
pub(crate) const CONFIG_KEY: &str = "v2/config";
/// Prefix of version-2 key metadata.
pub(crate) const META_PREFIX: &str = "v2/meta/";
/// Prefix of version-2 version entries.
pub(crate) const VERSIONS_PREFIX: &str = "v2/versions/";

/// OpenBao keeps this many versions when neither the config nor the key says otherwise.
pub(crate) const DEFAULT_MAX_VERSIONS: u32 = 10;
/// `delete_version_after` stored in the config when it is disabled for every key.
pub(crate) const DVA_DISABLED: i64 = -1;

/// Format version of the records below.
const FORMAT: u32 = 1;

fn format_v1() -> u32 {
    FORMAT
}

/// Which layout the mount's storage holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Layout {
    /// 1 (plain values) or 2 (versioned).
    pub(crate) version: u32,
}

/// Engine-wide settings of a version-2 mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Config {
    /// Record format.
    #[serde(default = "format_v1")]
    pub(crate) v: u32,
    /// Versions kept per key (0 = [`DEFAULT_MAX_VERSIONS`]).
    #[serde(default)]
    pub(crate) max_versions: u32,
    /// Every data write needs `options.cas`.
    #[serde(default)]
    pub(crate) cas_required: bool,
    /// Every metadata write needs `metadata_cas`.
    #[serde(default)]
    pub(crate) metadata_cas_required: bool,
    /// Seconds until a new version counts as deleted: 0 = unset, [`DVA_DISABLED`] = disabled for all keys.
    #[serde(default)]
    pub(crate) delete_version_after: i64,
}

impl Config {
    /// Whether `delete_version_after` is switched off for every key.
    pub(crate) fn dva_disabled(&self) -> bool {
        self.delete_version_after < 0
    }
}

/// The state of one version of a key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct VersionMeta {
    /// Unix nanoseconds.
    pub(crate) created_time: i64,
    /// Unix nanoseconds from which the version counts as deleted.
    #[serde(default)]
    pub(crate) deletion_time: Option<i64>,
    /// The data is gone for good.
    #[serde(default)]
    pub(crate) destroyed: bool,
}

impl VersionMeta {
    /// Whether the version reads as deleted at `now` (a deletion time that has arrived counts).
    pub(crate) fn is_deleted(&self, now: i64) -> bool {
        self.deletion_time.is_some_and(|t| t <= now)
    }

    /// The per-version part of OpenBao's metadata object.
    pub(crate) fn to_json(&self, version: u64, custom: &BTreeMap<String, String>) -> Value {
        json!({
            "version": version,
            "created_time": rfc3339(self.created_time),
            "deletion_time": self.deletion_time.map(rfc3339).unwrap_or_default(),
            "destroyed": self.destroyed,
            "custom_metadata": custom_json(custom),
        })
    }
}

/// Everything about a key except its data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyMeta {
    /// Record format.
    #[serde(default = "format_v1")]
    pub(crate) v: u32,
    /// Kept versions by number.
    #[serde(default)]
    pub(crate) versions: BTreeMap<u64, VersionMeta>,
    /// Latest version number (0 before the first write).
    #[serde(default)]
    pub(crate) current_version: u64,
    /// Oldest kept version as OpenBao counts it (0 until pruning starts).
    #[serde(default)]
    pub(crate) oldest_version: u64,
    /// Unix nanoseconds.
    #[serde(default)]
    pub(crate) created_time: Option<i64>,
    /// Unix nanoseconds.
    #[serde(default)]
    pub(crate) updated_time: Option<i64>,
    /// Versions kept for this key (0 = the config's).
    #[serde(default)]
    pub(crate) max_versions: u32,
    /// Data writes need `options.cas`.
    #[serde(default)]
    pub(crate) cas_required: bool,
    /// Metadata writes need `metadata_cas`.
    #[serde(default)]
    pub(crate) metadata_cas_required: bool,
    /// Seconds until a new version counts as deleted (0 = the config's).
    #[serde(default)]
    pub(crate) delete_version_after: i64,
    /// User-provided descriptions.
    #[serde(default)]
    pub(crate) custom_metadata: BTreeMap<String, String>,
    /// Bumped by every metadata write, for `metadata_cas`.
    #[serde(default)]
    pub(crate) current_metadata_version: u64,
}

impl KeyMeta {
    /// Metadata for a key that has none yet.
    pub(crate) fn new() -> Self {
        Self {
            v: FORMAT,
            ..Self::default()
        }
    }

    /// Records a new version and slides the window of kept versions, as OpenBao does. Returns the version
    /// numbers whose data must be deleted.
    pub(crate) fn add_version(
        &mut self,
        created: i64,
        deletion: Option<i64>,
        config_max: u32,
    ) -> Vec<u64> {
        self.current_version = self.current_version.saturating_add(1);
        self.versions.insert(
            self.current_version,
            VersionMeta {
                created_time: created,
                deletion_time: deletion,
                destroyed: false,
            },
        );
        self.updated_time = Some(created);
        if self.created_time.is_none() {
            self.created_time = Some(created);
        }
        let max = match self.max_versions.max(config_max) {
            0 => DEFAULT_MAX_VERSIONS,
            m => m,
        };
        let max = u64::from(max);
        if self.current_version.saturating_sub(self.oldest_version) < max {
            return Vec::new();
        }
        let last_dropped = self.current_version.saturating_sub(max);
        let dropped: Vec<u64> = (self.oldest_version..=last_dropped).collect();
        for n in &dropped {
            self.versions.remove(n);
        }
        self.oldest_version = last_dropped.saturating_add(1);
        // Version 0 never has data.
        dropped.into_iter().filter(|n| *n > 0).collect()
    }

    /// OpenBao's metadata read body.
    pub(crate) fn to_json(&self) -> Map<String, Value> {
        let versions: Map<String, Value> = self
            .versions
            .iter()
            .map(|(n, vm)| {
                (
                    n.to_string(),
                    json!({
                        "created_time": rfc3339(vm.created_time),
                        "deletion_time": vm.deletion_time.map(rfc3339).unwrap_or_default(),
                        "destroyed": vm.destroyed,
                    }),
                )
            })
            .collect();
        let mut m = Map::new();
        m.insert("versions".into(), Value::Object(versions));
        m.insert("current_version".into(), self.current_version.into());
        m.insert(
            "current_metadata_version".into(),
            self.current_metadata_version.into(),
        );
        m.insert("oldest_version".into(), self.oldest_version.into());
        m.insert(
            "created_time".into(),
            self.created_time.map(rfc3339).unwrap_or_default().into(),
        );
        m.insert(
            "updated_time".into(),
            self.updated_time.map(rfc3339).unwrap_or_default().into(),
        );
        m.insert("max_versions".into(), self.max_versions.into());
        m.insert("cas_required".into(), self.cas_required.into());
        m.insert(
            "metadata_cas_required".into(),
            self.metadata_cas_required.into(),
        );
        m.insert(
            "delete_version_after".into(),
            go_seconds(self.delete_version_after).into(),
        );
        m.insert("custom_metadata".into(), custom_json(&self.custom_metadata));
        m
    }
}

/// The data of one version. No `Debug`: it holds secret values.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct VersionEntry {
    /// Record format.
    #[serde(default = "format_v1")]
    pub(crate) v: u32,
    /// The secret.
    pub(crate) data: Map<String, Value>,
    /// Unix nanoseconds.
    #[serde(default)]
    pub(crate) created_time: i64,
}

impl VersionEntry {
    /// A new entry.
    pub(crate) fn new(data: Map<String, Value>, created_time: i64) -> Self {
        Self {
            v: FORMAT,
            data,
            created_time,
        }
    }
}

/// OpenBao prints an empty custom metadata map as `null`.
fn custom_json(m: &BTreeMap<String, String>) -> Value {
    if m.is_empty() {
        Value::Null
    } else {
        Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }
}

/// Whole seconds as Go prints a `time.Duration` (`"3h25m19s"`, `"0s"`, `"-1s"`).
pub(crate) fn go_seconds(secs: i64) -> String {
    let s = api_spec::duration::format(Duration::from_secs(secs.unsigned_abs()));
    if secs < 0 { format!("-{s}") } else { s }
}

/// The clock's time as Unix nanoseconds.
pub(crate) fn now_ns(clock: &dyn Clock) -> i64 {
    clock
        .now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Unix nanoseconds as RFC 3339 with nanoseconds, trailing zeros trimmed (Go's `RFC3339Nano`).
pub(crate) fn rfc3339(ns: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// When a version created at `created` counts as deleted, from the config's and the key's
/// `delete_version_after` (the shorter non-zero one wins), or `None` when neither is set.
pub(crate) fn deletion_time(created: i64, config: &Config, meta: &KeyMeta) -> Option<i64> {
    if config.dva_disabled() {
        return None;
    }
    let (mount, key) = (config.delete_version_after, meta.delete_version_after);
    let secs = match (mount, key) {
        (0, 0) => return None,
        (0, k) => k,
        (m, 0) => m,
        (m, k) => m.min(k),
    };
    Some(created.saturating_add(secs.saturating_mul(1_000_000_000)))
}

/// Checks a secret path from the URL: not empty, relative, no NUL, no `.` or `..` segments.
pub(crate) fn check_path(path: &str) -> Result<(), KvError> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\0')
        || path.split('/').any(|seg| seg == "." || seg == "..");
    if bad {
        Err(KvError::InvalidPath(path.to_owned()))
    } else {
        Ok(())
    }
}

/// As [`check_path`], and not a folder (a trailing `/` is for listing).
pub(crate) fn check_leaf(path: &str) -> Result<(), KvError> {
    check_path(path)?;
    if path.ends_with('/') {
        return Err(KvError::InvalidPath(path.to_owned()));
    }
    Ok(())
}

/// A list prefix under `base` for the folder `path` (`""` is the root; a missing trailing `/` is added).
pub(crate) fn list_prefix(base: &str, path: &str) -> Result<String, KvError> {
    if path.is_empty() {
        return Ok(base.to_owned());
    }
    check_path(path)?;
    if path.ends_with('/') {
        Ok(format!("{base}{path}"))
    } else {
        Ok(format!("{base}{path}/"))
    }
}

/// Storage key of a version's data.
pub(crate) fn version_key(path: &str, version: u64) -> String {
    format!("{VERSIONS_PREFIX}{path}/{version}")
}

/// Storage key of a key's metadata.
pub(crate) fn meta_key(path: &str) -> String {
    format!("{META_PREFIX}{path}")
}

/// Reads and decodes a JSON record.
pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
    view: &View,
    key: &str,
) -> Result<Option<T>, EngineError> {
    match view.get(key).await? {
        None => Ok(None),
        Some(raw) => Ok(Some(serde_json::from_slice(&raw)?)),
    }
}

/// Encodes a record for storage.
pub(crate) fn to_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, EngineError> {
    serde_json::to_vec(value)
        .map_err(|e| EngineError::Internal(format!("encoding a KV record: {e}")))
}

/// The version-2 config (defaults when never written).
pub(crate) async fn load_config(view: &View) -> Result<Config, EngineError> {
    Ok(get_json(view, CONFIG_KEY).await?.unwrap_or_else(|| Config {
        v: FORMAT,
        ..Config::default()
    }))
}

/// A key's metadata, if it has any.
pub(crate) async fn load_meta(view: &View, path: &str) -> Result<Option<KeyMeta>, EngineError> {
    get_json(view, &meta_key(path)).await
}

/// The data of one version, if stored.
pub(crate) async fn load_version(
    view: &View,
    path: &str,
    version: u64,
) -> Result<Option<VersionEntry>, EngineError> {
    get_json(view, &version_key(path, version)).await
}

/// The immediate children under `prefix`, as a `keys` list (`None` when empty: the caller answers 404).
pub(crate) fn keys_or_none(keys: Vec<String>) -> Option<Vec<String>> {
    if keys.is_empty() { None } else { Some(keys) }
}

/// Striped per-key locks, so a read-modify-write of a key (CAS, version numbering) is not interleaved with
/// another write of the same key on this node.
pub(crate) struct KeyLocks {
    stripes: Vec<tokio::sync::RwLock<()>>,
}

const STRIPES: usize = 64;

impl KeyLocks {
    /// A fresh set of locks.
    pub(crate) fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| tokio::sync::RwLock::new(())).collect(),
        }
    }

    /// The lock guarding `path`.
    pub(crate) fn get(&self, path: &str) -> Result<&tokio::sync::RwLock<()>, EngineError> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        path.hash(&mut h);
        let i = usize::try_from(h.finish() % STRIPES as u64).unwrap_or(0);
        self.stripes
            .get(i)
            .ok_or_else(|| EngineError::Internal("lock stripe out of range".into()))
    }
}

/// An optional signed integer field, lenient as Vault's `TypeInt` (numbers or numeric strings).
pub(crate) fn int_field(data: &Map<String, Value>, name: &str) -> Result<Option<i64>, KvError> {
    let bad = || KvError::InvalidField(format!("field {name:?} must be an integer"));
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
                    .map(|f| f as i64)
            })
            .map(Some)
            .ok_or_else(bad),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// A list of version numbers: a JSON array of numbers or numeric strings, or `"1,2,3"`.
pub(crate) fn versions_field(data: &Map<String, Value>) -> Result<Vec<u64>, KvError> {
    let bad = || KvError::InvalidField("field \"versions\" must be a list of integers".into());
    let parse = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
    match data.get("versions") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(parse)
            .collect(),
        Some(Value::Number(n)) => n.as_u64().map(|v| vec![v]).ok_or_else(bad),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::Number(n) => n.as_u64().ok_or_else(bad),
                Value::String(s) => parse(s),
                _ => Err(bad()),
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_trims_trailing_zeros_like_go() {
        assert_eq!(
            rfc3339(1_521_685_446_945_319_214),
            "2018-03-22T02:24:06.945319214Z"
        );
        assert_eq!(rfc3339(1_521_685_446_000_000_000), "2018-03-22T02:24:06Z");
        assert_eq!(rfc3339(1_521_685_446_500_000_000), "2018-03-22T02:24:06.5Z");
    }

    #[test]
    fn go_seconds_prints_like_go() {
        assert_eq!(go_seconds(0), "0s");
        assert_eq!(go_seconds(12_319), "3h25m19s");
        assert_eq!(go_seconds(-1), "-1s");
    }

    #[test]
    fn deletion_time_takes_shorter_non_zero() {
        let mut c = Config::default();
        let mut m = KeyMeta::new();
        assert_eq!(deletion_time(0, &c, &m), None);
        c.delete_version_after = 10;
        assert_eq!(deletion_time(0, &c, &m), Some(10_000_000_000));
        m.delete_version_after = 5;
        assert_eq!(deletion_time(0, &c, &m), Some(5_000_000_000));
        m.delete_version_after = 50;
        assert_eq!(deletion_time(0, &c, &m), Some(10_000_000_000));
        c.delete_version_after = 0;
        assert_eq!(deletion_time(0, &c, &m), Some(50_000_000_000));
        c.delete_version_after = DVA_DISABLED;
        assert_eq!(deletion_time(0, &c, &m), None);
    }

    #[test]
    fn add_version_keeps_a_window() {
        let mut m = KeyMeta::new();
        for i in 1..=10 {
            let dropped = m.add_version(i, None, 0);
            assert!(dropped.is_empty(), "version {i}");
        }
        // OpenBao's window arithmetic: at the tenth version "version 0" falls out.
        assert_eq!(m.oldest_version, 1);
        assert_eq!(m.add_version(11, None, 0), vec![1]);
        assert_eq!(m.oldest_version, 2);
        assert_eq!(m.versions.len(), 10);
        m.max_versions = 3;
        assert_eq!(m.add_version(12, None, 0), (2..=9).collect::<Vec<_>>());
        assert_eq!(
            m.versions.keys().copied().collect::<Vec<_>>(),
            vec![10, 11, 12]
        );
        // The larger of the key's and the config's limit applies.
        assert!(m.add_version(13, None, 5).is_empty());
    }

    #[test]
    fn paths_and_fields() {
        assert!(check_path("a/b").is_ok());
        for bad in ["", "/a", "a/../b", "a/./b", "a\0"] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_leaf("a/").is_err());
        assert_eq!(list_prefix(META_PREFIX, "").unwrap(), "v2/meta/");
        assert_eq!(list_prefix(META_PREFIX, "a").unwrap(), "v2/meta/a/");
        assert_eq!(list_prefix(META_PREFIX, "a/").unwrap(), "v2/meta/a/");
        let d = serde_json::json!({"versions": "1, 2,3", "i": "7", "n": -2, "bad": [{}]});
        let d = d.as_object().unwrap();
        assert_eq!(versions_field(d).unwrap(), vec![1, 2, 3]);
        assert_eq!(int_field(d, "i").unwrap(), Some(7));
        assert_eq!(int_field(d, "n").unwrap(), Some(-2));
        assert!(int_field(d, "bad").is_err());
        let arr = serde_json::json!({"versions": [1, "2"]});
        assert_eq!(
            versions_field(arr.as_object().unwrap()).unwrap(),
            vec![1, 2]
        );
    }
}
