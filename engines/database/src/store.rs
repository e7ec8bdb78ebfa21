//! What the engine persists inside its mount (keys in [`crate::paths`]).

use engine_sdk::{Storage as _, View};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroize;

use crate::driver::Plugin;
use crate::error::DbError;
use crate::paths::{CONFIG_PREFIX, ROLE_PREFIX, STATIC_ROLE_PREFIX};
use crate::settings::ConnectionSettings;

/// Version stamped on every entry this crate writes.
pub(crate) const ENTRY_VERSION: u32 = 1;

pub(crate) fn entry_version() -> u32 {
    ENTRY_VERSION
}

/// A connection to one database (`database/config/<name>`).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct DatabaseConfig {
    #[serde(default = "entry_version")]
    pub(crate) version: u32,
    pub(crate) plugin_name: String,
    #[serde(default)]
    pub(crate) plugin_version: String,
    /// Plugin settings as the client sent them (password included; removed when read back).
    #[serde(default)]
    pub(crate) connection_details: Map<String, Value>,
    #[serde(default)]
    pub(crate) allowed_roles: Vec<String>,
    #[serde(default)]
    pub(crate) root_credentials_rotate_statements: Vec<String>,
    #[serde(default)]
    pub(crate) password_policy: String,
    #[serde(default)]
    pub(crate) verify_connection: bool,
    /// Changes on every write (and root rotation): a cached connection pool built from another generation is
    /// stale.
    #[serde(default)]
    pub(crate) generation: String,
}

impl DatabaseConfig {
    /// The plugin, which the write validated.
    pub(crate) fn plugin(&self) -> Result<Plugin, DbError> {
        Plugin::from_name(&self.plugin_name).ok_or_else(|| {
            DbError::Invalid(format!("unknown database plugin {:?}", self.plugin_name))
        })
    }

    /// Typed connection settings.
    pub(crate) fn settings(&self) -> Result<ConnectionSettings, DbError> {
        ConnectionSettings::from_details(self.plugin()?, &self.connection_details)
            .map_err(DbError::Invalid)
    }

    /// Whether `role` may use this connection: `allowed_roles` holds names or `*` globs; empty allows none.
    pub(crate) fn allows_role(&self, role: &str) -> bool {
        self.allowed_roles.iter().any(|p| glob(p, role))
    }
}

impl Drop for DatabaseConfig {
    fn drop(&mut self) {
        if let Some(Value::String(p)) = self.connection_details.get_mut("password") {
            p.zeroize();
        }
    }
}

/// `*` matches any run of characters; everything else literally (go-glob's rules, as OpenBao uses).
pub(crate) fn glob(pattern: &str, s: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    let Some(mut rest) = s.strip_prefix(first) else {
        return false;
    };
    let middle = parts.get(1..parts.len() - 1).unwrap_or_default();
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = rest.get(i + part.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The statement lists of a role (OpenBao's `Statements` JSON names).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Statements {
    #[serde(default)]
    pub(crate) creation_statements: Vec<String>,
    #[serde(default)]
    pub(crate) revocation_statements: Vec<String>,
    #[serde(default)]
    pub(crate) rollback_statements: Vec<String>,
    #[serde(default)]
    pub(crate) renew_statements: Vec<String>,
    #[serde(default)]
    pub(crate) rotation_statements: Vec<String>,
}

/// A dynamic role (`database/roles/<name>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RoleEntry {
    #[serde(default = "entry_version")]
    pub(crate) version: u32,
    pub(crate) db_name: String,
    #[serde(default)]
    pub(crate) statements: Statements,
    /// Seconds; 0 = the mount's default.
    #[serde(default)]
    pub(crate) default_ttl: u64,
    /// Seconds; 0 = the mount's maximum.
    #[serde(default)]
    pub(crate) max_ttl: u64,
    #[serde(default = "password_type")]
    pub(crate) credential_type: String,
}

pub(crate) fn password_type() -> String {
    "password".to_owned()
}

/// A static role: its definition and the rotation state of its account.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct StaticRoleEntry {
    #[serde(default = "entry_version")]
    pub(crate) version: u32,
    pub(crate) db_name: String,
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) rotation_statements: Vec<String>,
    /// Seconds between rotations (0 when a schedule is used).
    #[serde(default)]
    pub(crate) rotation_period: u64,
    /// 5-field cron expression (empty when a period is used).
    #[serde(default)]
    pub(crate) rotation_schedule: String,
    /// Seconds after each scheduled time during which a rotation may still run (0 = no limit).
    #[serde(default)]
    pub(crate) rotation_window: u64,
    #[serde(default = "password_type")]
    pub(crate) credential_type: String,
    /// The account's current password (empty until the first rotation when the import rotation was skipped).
    #[serde(default)]
    pub(crate) password: String,
    /// Unix milliseconds of the last successful rotation (0 = never).
    #[serde(default)]
    pub(crate) last_rotation_ms: u64,
    /// Unix seconds when the next rotation (or retry) is due.
    #[serde(default)]
    pub(crate) next_rotation: u64,
    /// Unix seconds when a rotation started that has not finished: a crash between changing the database and
    /// storing the password leaves it set, and the role is rotated again at once.
    #[serde(default)]
    pub(crate) rotation_started: u64,
    /// The last rotation failure (empty after a success).
    #[serde(default)]
    pub(crate) last_error: String,
    /// Consecutive failed rotations (drives the retry backoff).
    #[serde(default)]
    pub(crate) failures: u32,
}

impl Drop for StaticRoleEntry {
    fn drop(&mut self) {
        self.password.zeroize();
    }
}

/// A root rotation between "decided" and "stored": both passwords, so the next use can tell which one the
/// database has.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct RootRotationPending {
    #[serde(default = "entry_version")]
    pub(crate) version: u32,
    pub(crate) username: String,
    pub(crate) old_password: String,
    pub(crate) new_password: String,
    /// Unix seconds.
    pub(crate) started: u64,
}

impl Drop for RootRotationPending {
    fn drop(&mut self) {
        self.old_password.zeroize();
        self.new_password.zeroize();
    }
}

pub(crate) async fn load<T: DeserializeOwned>(
    view: &View,
    key: &str,
) -> Result<Option<T>, DbError> {
    match view.get(key).await? {
        None => Ok(None),
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
    }
}

pub(crate) async fn save<T: Serialize>(view: &View, key: &str, value: &T) -> Result<(), DbError> {
    let mut bytes = serde_json::to_vec(value)?;
    let result = view.put(key, &bytes).await;
    bytes.zeroize();
    Ok(result?)
}

pub(crate) async fn config(view: &View, name: &str) -> Result<Option<DatabaseConfig>, DbError> {
    load(view, &format!("{CONFIG_PREFIX}{name}")).await
}

pub(crate) async fn role(view: &View, name: &str) -> Result<Option<RoleEntry>, DbError> {
    load(view, &format!("{ROLE_PREFIX}{name}")).await
}

pub(crate) async fn static_role(
    view: &View,
    name: &str,
) -> Result<Option<StaticRoleEntry>, DbError> {
    load(view, &format!("{STATIC_ROLE_PREFIX}{name}")).await
}

/// The names under `prefix` (sub-folders excluded), sorted, paginated like OpenBao's `ListPage`: entries after
/// `after`, at most `limit` (0 = all).
pub(crate) async fn list_page(
    view: &View,
    prefix: &str,
    after: &str,
    limit: usize,
) -> Result<Vec<String>, DbError> {
    let mut keys: Vec<String> = view
        .list(prefix)
        .await?
        .into_iter()
        .filter(|k| !k.ends_with('/'))
        .filter(|k| after.is_empty() || k.as_str() > after)
        .collect();
    keys.sort();
    if limit > 0 {
        keys.truncate(limit);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", "anything"));
        assert!(glob("readonly", "readonly"));
        assert!(!glob("readonly", "readonly2"));
        assert!(glob("app-*", "app-1"));
        assert!(glob("*-ro", "db-ro"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxcyyb"));
        assert!(!glob("ab*ba", "aba"));
        assert!(!glob("app-*", "other"));
    }
}
