//! The stored role, its fields, its storage and the role-id index.

use std::time::Duration;

use engine_sdk::token_fields::{TokenParams, sanitize_policies, seconds};
use engine_sdk::{Storage, View, cidr, field};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::ApproleError;
use crate::paths::{PURPOSE_ROLE_ID, ROLE_ID_PREFIX, ROLE_PREFIX};
use crate::salt::{MAX_HMAC_INPUT, Salt, random_uuid};

/// Format version of [`RoleEntry`].
const ROLE_ENTRY_VERSION: u32 = 1;

/// A role as stored under `role/<name>`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct RoleEntry {
    /// Format version of this record.
    pub(crate) version: u32,
    /// Random id naming this role's secret-id folder (never shown).
    pub(crate) uuid: String,
    /// The public half of the login pair.
    pub(crate) role_id: String,
    /// Whether a login must present a secret id.
    pub(crate) bind_secret_id: bool,
    /// Blocks a login must come from.
    pub(crate) secret_id_bound_cidrs: Vec<String>,
    /// Default uses of a new secret id (0 = unlimited).
    pub(crate) secret_id_num_uses: u64,
    /// Default life of a new secret id in seconds (0 = forever).
    pub(crate) secret_id_ttl: u64,
    /// Whether secret ids stay on this cluster (accepted for compatibility; there is no replication here).
    pub(crate) local_secret_ids: bool,
    /// The `token_*` settings.
    #[serde(flatten)]
    pub(crate) token: TokenParams,
    /// Deprecated `policies`, echoed on read while used.
    pub(crate) policies: Vec<String>,
    /// Deprecated `period` in seconds.
    pub(crate) period: u64,
    /// Deprecated `bound_cidrs` (the token's blocks).
    pub(crate) bound_cidrs: Vec<String>,
}

impl Default for RoleEntry {
    fn default() -> Self {
        Self {
            version: ROLE_ENTRY_VERSION,
            uuid: String::new(),
            role_id: String::new(),
            bind_secret_id: true,
            secret_id_bound_cidrs: Vec::new(),
            secret_id_num_uses: 0,
            secret_id_ttl: 0,
            local_secret_ids: false,
            token: TokenParams::default(),
            policies: Vec::new(),
            period: 0,
            bound_cidrs: Vec::new(),
        }
    }
}

// The role id is half a credential: kept out of logs.
impl std::fmt::Debug for RoleEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleEntry")
            .field("bind_secret_id", &self.bind_secret_id)
            .field("secret_id_bound_cidrs", &self.secret_id_bound_cidrs)
            .field("secret_id_num_uses", &self.secret_id_num_uses)
            .field("secret_id_ttl", &self.secret_id_ttl)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Whether `data` carries a non-null `name`.
pub(crate) fn has(data: &Map<String, Value>, name: &str) -> bool {
    data.get(name).is_some_and(|v| !v.is_null())
}

/// A non-negative integer field, with OpenBao's message for a negative one.
pub(crate) fn count(data: &Map<String, Value>, name: &str) -> Result<Option<u64>, ApproleError> {
    let negative = match data.get(name) {
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f < 0.0),
        Some(Value::String(s)) => s.trim().starts_with('-'),
        _ => false,
    };
    if negative {
        return Err(ApproleError::invalid(format!("{name} cannot be negative")));
    }
    Ok(field::uint(data, name)?)
}

impl RoleEntry {
    /// A new role with fresh ids (the role id may be replaced by the request).
    pub(crate) fn new() -> Result<Self, ApproleError> {
        Ok(Self {
            uuid: random_uuid()?,
            role_id: random_uuid()?,
            ..Self::default()
        })
    }

    /// Applies the fields present in `data` (absent ones keep their value) and checks the result; returns
    /// warnings for the client. `creating` allows `local_secret_ids`; `max_lease_ttl` (0 = unknown) bounds the
    /// period.
    pub(crate) fn apply(
        &mut self,
        data: &Map<String, Value>,
        creating: bool,
        max_lease_ttl: Duration,
    ) -> Result<Vec<String>, ApproleError> {
        let mut warnings = Vec::new();
        // `default-service`/`default-batch` are old spellings OpenBao still accepts, with a warning.
        let adjusted;
        let data = match data.get("token_type").and_then(Value::as_str) {
            Some(old @ ("default-service" | "default-batch")) => {
                let new = old.trim_start_matches("default-");
                warnings.push(format!("{old} has no useful meaning; adjusting to {new}"));
                let mut copy = data.clone();
                copy.insert("token_type".into(), json!(new));
                adjusted = copy;
                &adjusted
            }
            _ => data,
        };
        self.token.apply(data)?;
        if has(data, "token_policies") {
            self.token.token_policies = sanitize_policies(&self.token.token_policies);
        }

        if let Some(local) = field::boolean(data, "local_secret_ids")? {
            if !creating {
                return Err(ApproleError::invalid(
                    "local_secret_ids can only be modified during role creation",
                ));
            }
            self.local_secret_ids = local;
        }
        if has(data, "role_id") {
            let id = field::string(data, "role_id")?.unwrap_or_default();
            set_role_id(self, id)?;
        }
        if let Some(b) = field::boolean(data, "bind_secret_id")? {
            self.bind_secret_id = b;
        }
        let cidrs = match field::strings(data, "secret_id_bound_cidrs")? {
            Some(c) => Some(c),
            None => field::strings(data, "bound_cidr_list")?,
        };
        if let Some(c) = cidrs {
            self.secret_id_bound_cidrs =
                cidr::canonical_list(&c).map_err(ApproleError::InvalidField)?;
        }
        if let Some(n) = count(data, "secret_id_num_uses")? {
            self.secret_id_num_uses = n;
        }
        if let Some(s) = seconds(data, "secret_id_ttl")? {
            self.secret_id_ttl = s;
        }
        self.apply_legacy(data)?;

        self.token.validate()?;
        let max = max_lease_ttl.as_secs();
        if max > 0 && self.token.token_period > max {
            return Err(ApproleError::invalid(format!(
                "period of \"{}s\" is greater than the backend's maximum lease TTL of \"{max}s\"",
                self.token.token_period
            )));
        }
        if max > 0 && self.token.token_max_ttl > max {
            warnings.push(
                "token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' max TTL value will be truncated"
                    .into(),
            );
        }
        self.check_constraints()?;
        Ok(warnings)
    }

    /// The deprecated `policies`, `period` and `bound_cidrs`: each counts only when its `token_*` twin is absent,
    /// and is forgotten once the twin is used (OpenBao's `UpgradeValue`).
    fn apply_legacy(&mut self, data: &Map<String, Value>) -> Result<(), ApproleError> {
        if has(data, "token_policies") {
            self.policies = if has(data, "policies") {
                self.token.token_policies.clone()
            } else {
                Vec::new()
            };
        } else if let Some(p) = field::strings(data, "policies")? {
            self.policies = sanitize_policies(&p);
            self.token.token_policies = self.policies.clone();
        }
        if has(data, "token_period") {
            self.period = if has(data, "period") {
                self.token.token_period
            } else {
                0
            };
        } else if let Some(s) = seconds(data, "period")? {
            self.period = s;
            self.token.token_period = s;
        }
        if has(data, "token_bound_cidrs") {
            self.bound_cidrs = if has(data, "bound_cidrs") {
                self.token.token_bound_cidrs.clone()
            } else {
                Vec::new()
            };
        } else if let Some(c) = field::strings(data, "bound_cidrs")? {
            self.bound_cidrs = cidr::canonical_list(&c).map_err(ApproleError::InvalidField)?;
            self.token.token_bound_cidrs = self.bound_cidrs.clone();
        }
        Ok(())
    }

    /// A role must restrict logins somehow: a secret id, or source addresses.
    pub(crate) fn check_constraints(&self) -> Result<(), ApproleError> {
        if self.bind_secret_id
            || !self.secret_id_bound_cidrs.is_empty()
            || !self.token.token_bound_cidrs.is_empty()
        {
            Ok(())
        } else {
            Err(ApproleError::invalid(
                "at least one constraint should be enabled on the role",
            ))
        }
    }

    /// The read response: every setting except the role id (it has its own endpoint, for ACLs).
    pub(crate) fn to_data(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("bind_secret_id".into(), json!(self.bind_secret_id));
        m.insert(
            "secret_id_bound_cidrs".into(),
            json!(self.secret_id_bound_cidrs),
        );
        m.insert("secret_id_num_uses".into(), json!(self.secret_id_num_uses));
        m.insert("secret_id_ttl".into(), json!(self.secret_id_ttl));
        m.insert("local_secret_ids".into(), json!(self.local_secret_ids));
        self.token.populate_data(&mut m);
        if self.period > 0 {
            m.insert("period".into(), json!(self.period));
        }
        if !self.policies.is_empty() {
            m.insert("policies".into(), json!(self.token.token_policies));
        }
        if !self.bound_cidrs.is_empty() {
            m.insert("bound_cidrs".into(), json!(self.token.token_bound_cidrs));
        }
        m
    }
}

/// Sets a role id given by the client: non-empty and within the HMAC input bound.
pub(crate) fn set_role_id(role: &mut RoleEntry, id: String) -> Result<(), ApproleError> {
    if id.is_empty() {
        return Err(ApproleError::invalid(
            "invalid role_id supplied, or failed to generate a role_id",
        ));
    }
    if id.len() > MAX_HMAC_INPUT {
        return Err(ApproleError::invalid(format!(
            "role_id is longer than maximum of {MAX_HMAC_INPUT} bytes"
        )));
    }
    role.role_id = id;
    Ok(())
}

/// The canonical (lower-cased) role name, or `None` when `raw` is not a valid name: ASCII letters, digits and
/// `_`, with `-` and `.` allowed inside but not at either end (OpenBao's `GenericNameRegex`), at most 4096 bytes.
pub(crate) fn normalize_name(raw: &str) -> Option<String> {
    let word = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
    let bytes = raw.as_bytes();
    let (first, last) = (bytes.first()?, bytes.last()?);
    let inner_ok = bytes.iter().all(|c| word(c) || *c == b'-' || *c == b'.');
    (word(first) && word(last) && inner_ok && bytes.len() <= MAX_HMAC_INPUT)
        .then(|| raw.to_ascii_lowercase())
}

fn key(name: &str) -> String {
    format!("{ROLE_PREFIX}{name}")
}

/// The role `name` (already normalized), if stored.
pub(crate) async fn load(storage: &View, name: &str) -> Result<Option<RoleEntry>, ApproleError> {
    match storage.get(&key(name)).await? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Stores the role `name` (already normalized).
pub(crate) async fn save(
    storage: &View,
    name: &str,
    entry: &mut RoleEntry,
) -> Result<(), ApproleError> {
    entry.version = ROLE_ENTRY_VERSION;
    let bytes = serde_json::to_vec(entry)?;
    storage.put(&key(name), &bytes).await?;
    Ok(())
}

/// Removes the role `name` (no error if absent).
pub(crate) async fn delete(storage: &View, name: &str) -> Result<(), ApproleError> {
    storage.delete(&key(name)).await?;
    Ok(())
}

/// Every stored role name, sorted.
pub(crate) async fn list(storage: &View) -> Result<Vec<String>, ApproleError> {
    let mut names = storage.list(ROLE_PREFIX).await?;
    names.retain(|n| !n.ends_with('/'));
    Ok(names)
}

/// What the role-id index holds.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct RoleIdIndex {
    name: String,
}

fn role_id_key(salt: &Salt, role_id: &str) -> String {
    format!("{ROLE_ID_PREFIX}{}", salt.hash(PURPOSE_ROLE_ID, role_id))
}

/// The name of the role whose id is `role_id`, per the index.
pub(crate) async fn name_for_role_id(
    storage: &View,
    salt: &Salt,
    role_id: &str,
) -> Result<Option<String>, ApproleError> {
    match storage.get(&role_id_key(salt, role_id)).await? {
        Some(bytes) => Ok(Some(serde_json::from_slice::<RoleIdIndex>(&bytes)?.name)),
        None => Ok(None),
    }
}

/// Points `role_id` at role `name`.
pub(crate) async fn index_role_id(
    storage: &View,
    salt: &Salt,
    role_id: &str,
    name: &str,
) -> Result<(), ApproleError> {
    let bytes = serde_json::to_vec(&RoleIdIndex {
        name: name.to_owned(),
    })?;
    storage.put(&role_id_key(salt, role_id), &bytes).await?;
    Ok(())
}

/// Drops the index entry of `role_id`.
pub(crate) async fn unindex_role_id(
    storage: &View,
    salt: &Salt,
    role_id: &str,
) -> Result<(), ApproleError> {
    storage.delete(&role_id_key(salt, role_id)).await?;
    Ok(())
}

/// Saves `entry` as role `name`, keeping the role-id index in step: a role id already used by another role is
/// refused, and a replaced role id stops working. The caller holds the role write lock.
pub(crate) async fn store(
    storage: &View,
    salt: &Salt,
    name: &str,
    entry: &mut RoleEntry,
    previous_role_id: Option<&str>,
) -> Result<(), ApproleError> {
    if let Some(owner) = name_for_role_id(storage, salt, &entry.role_id).await?
        && owner != name
    {
        return Err(ApproleError::invalid("role_id already in use"));
    }
    save(storage, name, entry).await?;
    index_role_id(storage, salt, &entry.role_id, name).await?;
    if let Some(old) = previous_role_id
        && old != entry.role_id
    {
        unindex_role_id(storage, salt, old).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn names() {
        assert_eq!(normalize_name("MyApp").as_deref(), Some("myapp"));
        assert_eq!(normalize_name("a.b-c_d").as_deref(), Some("a.b-c_d"));
        for bad in ["", "-a", "a-", "a b", "a/b", "ü"] {
            assert_eq!(normalize_name(bad), None, "{bad:?}");
        }
        assert_eq!(normalize_name(&"a".repeat(4097)), None);
    }

    #[test]
    fn defaults_and_constraints() {
        let mut r = RoleEntry::new().unwrap();
        r.apply(&m(json!({})), true, Duration::ZERO).unwrap();
        assert!(r.bind_secret_id);
        let err = r
            .apply(&m(json!({"bind_secret_id": false})), false, Duration::ZERO)
            .unwrap_err();
        assert!(err.to_string().contains("at least one constraint"), "{err}");
        r.apply(
            &m(json!({"bind_secret_id": false, "secret_id_bound_cidrs": "10.0.0.0/8"})),
            false,
            Duration::ZERO,
        )
        .unwrap();
    }

    #[test]
    fn legacy_and_compat_fields() {
        let mut r = RoleEntry::new().unwrap();
        let w = r
            .apply(
                &m(
                    json!({"policies": "B,a", "period": "1m", "bound_cidrs": "10.0.0.0/8",
                          "token_type": "default-service", "bound_cidr_list": "192.168.0.0/16"}),
                ),
                true,
                Duration::ZERO,
            )
            .unwrap();
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(r.token.token_policies, vec!["a", "b"]);
        assert_eq!(r.token.token_period, 60);
        assert_eq!(r.token.token_bound_cidrs, vec!["10.0.0.0/8"]);
        assert_eq!(r.secret_id_bound_cidrs, vec!["192.168.0.0/16"]);
        let d = r.to_data();
        assert_eq!(d["policies"], json!(["a", "b"]));
        assert_eq!(d["period"], json!(60));
        assert_eq!(d["token_type"], json!("service"));
        assert!(!d.contains_key("role_id"));

        r.apply(
            &m(json!({"token_policies": "c", "token_period": 0})),
            false,
            Duration::ZERO,
        )
        .unwrap();
        assert!(r.policies.is_empty() && r.period == 0);

        let err = r
            .apply(&m(json!({"local_secret_ids": true})), false, Duration::ZERO)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("only be modified during role creation")
        );
        let err = r
            .apply(&m(json!({"secret_id_num_uses": -1})), false, Duration::ZERO)
            .unwrap_err();
        assert_eq!(err.to_string(), "secret_id_num_uses cannot be negative");
        let err = r
            .apply(
                &m(json!({"token_period": 7200})),
                false,
                Duration::from_secs(3600),
            )
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("greater than the backend's maximum lease TTL")
        );
    }
}
