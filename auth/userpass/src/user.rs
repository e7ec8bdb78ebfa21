//! The stored user entry, its storage and the rules for user names.

use engine_sdk::{Storage, View, field};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::UserpassError;
use crate::password::PasswordHash;
use crate::paths::USER_PREFIX;
use engine_sdk::cidr;
use engine_sdk::token_fields::{TokenParams, sanitize_policies, seconds};

/// Format version of [`UserEntry`].
const USER_ENTRY_VERSION: u32 = 1;

/// A user as stored under `user/<name>`. `Debug` is safe: [`PasswordHash`] prints no hash material.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct UserEntry {
    /// Format version of this record.
    pub(crate) version: u32,
    /// The password hash (absent only in a record nobody can log in with).
    pub(crate) password: Option<PasswordHash>,
    /// The `token_*` settings.
    #[serde(flatten)]
    pub(crate) token: TokenParams,
    /// Deprecated `policies`, kept to echo back on read while it was used.
    pub(crate) policies: Vec<String>,
    /// Deprecated `ttl` in seconds.
    pub(crate) ttl: u64,
    /// Deprecated `max_ttl` in seconds.
    pub(crate) max_ttl: u64,
    /// Deprecated `bound_cidrs`.
    pub(crate) bound_cidrs: Vec<String>,
}

impl UserEntry {
    /// Applies the `token_*` and deprecated fields present in `data`, then checks the result. A deprecated field
    /// counts only when its `token_*` twin is absent, and is forgotten once the twin is used (OpenBao's
    /// `UpgradeValue`).
    pub(crate) fn apply(&mut self, data: &Map<String, Value>) -> Result<(), UserpassError> {
        self.token.apply(data)?;

        let has = |name: &str| data.get(name).is_some_and(|v| !v.is_null());
        if has("token_policies") {
            self.policies = if has("policies") {
                self.token.token_policies.clone()
            } else {
                Vec::new()
            };
        } else if let Some(p) = field::strings(data, "policies")? {
            self.policies = sanitize_policies(&p);
            self.token.token_policies = self.policies.clone();
        }

        if has("token_ttl") {
            self.ttl = if has("ttl") { self.token.token_ttl } else { 0 };
        } else if let Some(s) = seconds(data, "ttl")? {
            self.ttl = s;
            self.token.token_ttl = s;
        }

        if has("token_max_ttl") {
            self.max_ttl = if has("max_ttl") {
                self.token.token_max_ttl
            } else {
                0
            };
        } else if let Some(s) = seconds(data, "max_ttl")? {
            self.max_ttl = s;
            self.token.token_max_ttl = s;
        }

        if has("token_bound_cidrs") {
            self.bound_cidrs = if has("bound_cidrs") {
                self.token.token_bound_cidrs.clone()
            } else {
                Vec::new()
            };
        } else if let Some(c) = field::strings(data, "bound_cidrs")? {
            self.bound_cidrs = cidr::canonical_list(&c).map_err(UserpassError::InvalidField)?;
            self.token.token_bound_cidrs = self.bound_cidrs.clone();
        }

        Ok(self.token.validate()?)
    }

    /// The read response: every setting, never the password.
    pub(crate) fn to_data(&self) -> Map<String, Value> {
        let mut m = Map::new();
        self.token.populate_data(&mut m);
        if self.ttl > 0 {
            m.insert("ttl".into(), json!(self.ttl));
        }
        if self.max_ttl > 0 {
            m.insert("max_ttl".into(), json!(self.max_ttl));
        }
        if !self.policies.is_empty() {
            m.insert("policies".into(), json!(self.token.token_policies));
        }
        if !self.bound_cidrs.is_empty() {
            m.insert("bound_cidrs".into(), json!(self.bound_cidrs));
        }
        m
    }
}

/// The canonical (lower-cased) user name, or `None` when `raw` is not a valid name: ASCII letters, digits and
/// `_`, with `-` and `.` allowed inside but not at either end (OpenBao's `GenericNameRegex`).
pub(crate) fn normalize_name(raw: &str) -> Option<String> {
    let word = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
    let bytes = raw.as_bytes();
    let (first, last) = (bytes.first()?, bytes.last()?);
    let inner_ok = bytes.iter().all(|c| word(c) || *c == b'-' || *c == b'.');
    (word(first) && word(last) && inner_ok).then(|| raw.to_ascii_lowercase())
}

fn key(name: &str) -> String {
    format!("{USER_PREFIX}{name}")
}

/// The user `name` (already normalized), if stored.
pub(crate) async fn load(storage: &View, name: &str) -> Result<Option<UserEntry>, UserpassError> {
    match storage.get(&key(name)).await? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Stores the user `name` (already normalized).
pub(crate) async fn save(
    storage: &View,
    name: &str,
    entry: &mut UserEntry,
) -> Result<(), UserpassError> {
    entry.version = USER_ENTRY_VERSION;
    let bytes = serde_json::to_vec(entry)?;
    storage.put(&key(name), &bytes).await?;
    Ok(())
}

/// Removes the user `name` (no error if absent).
pub(crate) async fn delete(storage: &View, name: &str) -> Result<(), UserpassError> {
    storage.delete(&key(name)).await?;
    Ok(())
}

/// Every stored user name, sorted.
pub(crate) async fn list(storage: &View) -> Result<Vec<String>, UserpassError> {
    let mut names = storage.list(USER_PREFIX).await?;
    names.retain(|n| !n.ends_with('/'));
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn names() {
        assert_eq!(normalize_name("Mary").as_deref(), Some("mary"));
        assert_eq!(normalize_name("a.b-c_d").as_deref(), Some("a.b-c_d"));
        assert_eq!(normalize_name("x").as_deref(), Some("x"));
        for bad in ["", "-a", "a-", ".a", "a.", "a b", "a/b", "ü", "a*"] {
            assert_eq!(normalize_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn legacy_fields_upgrade() {
        let mut e = UserEntry::default();
        e.apply(&m(
            json!({"policies": "B,a", "ttl": "1m", "max_ttl": 120, "bound_cidrs": "10.0.0.0/8"}),
        ))
        .unwrap();
        assert_eq!(e.token.token_policies, vec!["a", "b"]);
        assert_eq!((e.token.token_ttl, e.token.token_max_ttl), (60, 120));
        assert_eq!(e.token.token_bound_cidrs, vec!["10.0.0.0/8"]);
        let d = e.to_data();
        assert_eq!(d["policies"], json!(["a", "b"]));
        assert_eq!(d["ttl"], json!(60));
        assert_eq!(d["bound_cidrs"], json!(["10.0.0.0/8"]));

        // Using the new names forgets the deprecated ones.
        e.apply(&m(json!({"token_policies": "c", "token_ttl": 30, "token_max_ttl": 90, "token_bound_cidrs": ""})))
            .unwrap();
        assert!(e.policies.is_empty() && e.ttl == 0 && e.max_ttl == 0 && e.bound_cidrs.is_empty());
        let d = e.to_data();
        assert!(
            !d.contains_key("policies") && !d.contains_key("ttl") && !d.contains_key("bound_cidrs")
        );
        assert_eq!(d["token_policies"], json!(["c"]));

        // Legacy values go through the same cross-field checks.
        let err = UserEntry::default()
            .apply(&m(json!({"ttl": 100, "max_ttl": 10})))
            .unwrap_err();
        assert!(err.to_string().contains("greater than"), "{err}");
    }
}
