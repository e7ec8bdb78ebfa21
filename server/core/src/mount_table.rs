//! The mount tables (secrets engines and auth methods), persisted through the barrier.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use storage::Storage;

use crate::CoreError;

const VERSION: u32 = 1;

/// Which table a mount lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// `sys/mounts`: secrets engines, mounted at their path.
    Secrets,
    /// `sys/auth`: auth methods, mounted at `auth/<path>`.
    Auth,
}

impl Table {
    pub(crate) fn storage_key(self) -> &'static str {
        match self {
            Table::Secrets => crate::paths::MOUNT_TABLE,
            Table::Auth => crate::paths::AUTH_TABLE,
        }
    }

    /// The router prefix of a mount path in this table.
    pub(crate) fn route_prefix(self, path: &str) -> String {
        match self {
            Table::Secrets => path.to_owned(),
            Table::Auth => format!("auth/{path}"),
        }
    }
}

/// Per-mount tunables (`config` in `sys/mounts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MountConfig {
    /// Seconds; 0 = system default.
    #[serde(default)]
    pub(crate) default_lease_ttl: u64,
    /// Seconds; 0 = system max.
    #[serde(default)]
    pub(crate) max_lease_ttl: u64,
    #[serde(default)]
    pub(crate) force_no_cache: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) audit_non_hmac_request_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) audit_non_hmac_response_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) listing_visibility: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) passthrough_request_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) allowed_response_headers: Vec<String>,
}

/// One mounted engine or auth method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MountEntry {
    /// Path with a trailing slash (`secret/`; for auth methods without the `auth/` prefix).
    pub(crate) path: String,
    /// Engine type (`kv`, `userpass`, `token`, `cubbyhole`, `system`).
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) description: String,
    /// Storage of the mount lives under `logical/<uuid>/` (or `auth/<uuid>/`).
    pub(crate) uuid: String,
    pub(crate) accessor: String,
    pub(crate) config: MountConfig,
    pub(crate) options: BTreeMap<String, String>,
    pub(crate) local: bool,
    pub(crate) seal_wrap: bool,
}

impl MountEntry {
    /// A new entry with a fresh uuid and accessor.
    pub(crate) fn new(path: &str, kind: &str, description: &str) -> Self {
        let uuid = uuid::Uuid::new_v4().to_string();
        let accessor = format!(
            "{}_{}",
            kind.replace('-', "_"),
            uuid.get(..8).unwrap_or("00000000")
        );
        Self {
            path: path.to_owned(),
            kind: kind.to_owned(),
            description: description.to_owned(),
            uuid,
            accessor,
            config: MountConfig::default(),
            options: BTreeMap::new(),
            local: false,
            seal_wrap: false,
        }
    }

    /// Effective TTLs: the mount's own, else the system's.
    pub(crate) fn ttls(
        &self,
        system_default: Duration,
        system_max: Duration,
    ) -> (Duration, Duration) {
        let max = if self.config.max_lease_ttl == 0 {
            system_max
        } else {
            Duration::from_secs(self.config.max_lease_ttl)
        };
        let default = if self.config.default_lease_ttl == 0 {
            system_default
        } else {
            Duration::from_secs(self.config.default_lease_ttl)
        };
        (default.min(max), max)
    }

    /// The entry as `sys/mounts` shows it.
    pub(crate) fn to_json(&self, auth: bool) -> Value {
        // The mount's own TTLs (0 = the system's), as OpenBao lists them; `tune` shows the effective ones.
        let mut config = Map::new();
        config.insert(
            "default_lease_ttl".into(),
            json!(self.config.default_lease_ttl),
        );
        config.insert("max_lease_ttl".into(), json!(self.config.max_lease_ttl));
        if auth {
            config.insert("token_type".into(), json!("default-service"));
        }
        config.insert("force_no_cache".into(), json!(self.config.force_no_cache));
        if !self.config.audit_non_hmac_request_keys.is_empty() {
            config.insert(
                "audit_non_hmac_request_keys".into(),
                json!(self.config.audit_non_hmac_request_keys),
            );
        }
        if !self.config.audit_non_hmac_response_keys.is_empty() {
            config.insert(
                "audit_non_hmac_response_keys".into(),
                json!(self.config.audit_non_hmac_response_keys),
            );
        }
        if !self.config.listing_visibility.is_empty() {
            config.insert(
                "listing_visibility".into(),
                json!(self.config.listing_visibility),
            );
        }
        if !self.config.passthrough_request_headers.is_empty() {
            config.insert(
                "passthrough_request_headers".into(),
                json!(self.config.passthrough_request_headers),
            );
        }
        if !self.config.allowed_response_headers.is_empty() {
            config.insert(
                "allowed_response_headers".into(),
                json!(self.config.allowed_response_headers),
            );
        }
        json!({
            "type": self.kind,
            "description": self.description,
            "accessor": self.accessor,
            "uuid": self.uuid,
            "config": config,
            "options": if self.options.is_empty() { Value::Null } else { json!(self.options) },
            "local": self.local,
            "seal_wrap": self.seal_wrap,
            "external_entropy_access": false,
            "plugin_version": "",
            "running_plugin_version": "",
            "running_sha256": "",
        })
    }
}

/// A persisted mount table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MountTable {
    pub(crate) v: u32,
    pub(crate) entries: Vec<MountEntry>,
}

impl MountTable {
    pub(crate) async fn load(
        storage: &dyn Storage,
        table: Table,
    ) -> Result<Option<Self>, CoreError> {
        let Some(bytes) = storage.get(table.storage_key()).await? else {
            return Ok(None);
        };
        let t: Self = serde_json::from_slice(&bytes)
            .map_err(|e| CoreError::Internal(format!("mount table is corrupt: {e}")))?;
        if t.v != VERSION {
            return Err(CoreError::Internal(format!(
                "mount table has unknown version {}",
                t.v
            )));
        }
        Ok(Some(t))
    }

    pub(crate) async fn store(&self, storage: &dyn Storage, table: Table) -> Result<(), CoreError> {
        let t = Self {
            v: VERSION,
            entries: self.entries.clone(),
        };
        let bytes = serde_json::to_vec(&t).map_err(|e| CoreError::Internal(e.to_string()))?;
        storage.put(table.storage_key(), &bytes).await?;
        Ok(())
    }

    /// The entry mounted exactly at `path`.
    pub(crate) fn get(&self, path: &str) -> Option<&MountEntry> {
        self.entries.iter().find(|e| e.path == path)
    }

    /// The entry whose path is a prefix of `path`, or has `path` as prefix (OpenBao refuses nested mounts).
    pub(crate) fn conflict(&self, path: &str) -> Option<&MountEntry> {
        self.entries
            .iter()
            .find(|e| path.starts_with(&e.path) || e.path.starts_with(path))
    }
}

/// Normalizes a user-given mount path: trimmed slashes, one trailing slash; rejects empty, `..` and non-printable paths.
pub(crate) fn normalize_path(path: &str) -> Result<String, CoreError> {
    let p = path.trim().trim_matches('/');
    if p.is_empty() {
        return Err(CoreError::InvalidRequest("path cannot be empty".into()));
    }
    if p.split('/').any(|s| s.is_empty() || s == "." || s == "..")
        || !p.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(CoreError::InvalidRequest(format!(
            "invalid mount path {path:?}"
        )));
    }
    Ok(format!("{p}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_conflicts() {
        assert_eq!(normalize_path("/secret").unwrap(), "secret/");
        assert_eq!(normalize_path("a/b/").unwrap(), "a/b/");
        for bad in ["", "/", "a//b", "a/../b", "a b"] {
            assert!(normalize_path(bad).is_err(), "{bad:?}");
        }
        let t = MountTable {
            v: 1,
            entries: vec![MountEntry::new("secret/", "kv", "")],
        };
        assert!(t.conflict("secret/").is_some());
        assert!(t.conflict("secret/sub/").is_some());
        assert!(t.conflict("sec/").is_none());
        assert!(
            MountTable {
                v: 1,
                entries: vec![MountEntry::new("a/b/", "kv", "")]
            }
            .conflict("a/")
            .is_some()
        );
    }

    #[test]
    fn ttls_fall_back_to_system() {
        let mut e = MountEntry::new("x/", "kv", "");
        let (d, m) = (Duration::from_secs(100), Duration::from_secs(1000));
        assert_eq!(e.ttls(d, m), (d, m));
        e.config.max_lease_ttl = 50;
        assert_eq!(
            e.ttls(d, m),
            (Duration::from_secs(50), Duration::from_secs(50))
        );
        assert!(e.accessor.starts_with("kv_"));
    }
}
