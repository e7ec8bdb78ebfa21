//! The stored role: which service accounts may log in with it, and the tokens they get.

use std::time::Duration;

use engine_sdk::token_fields::{TokenParams, sanitize_policies, seconds};
use engine_sdk::{Storage, View, cidr, field};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::KubernetesError;
use crate::paths::ROLE_PREFIX;

/// Format version of [`RoleEntry`].
const ROLE_VERSION: u32 = 1;

/// What names the identity alias of a login.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AliasNameSource {
    /// The service account's UID (the default: stable across re-creations only if the account is not re-created).
    #[default]
    ServiceaccountUid,
    /// `<namespace>/<name>`.
    ServiceaccountName,
}

impl AliasNameSource {
    fn as_str(self) -> &'static str {
        match self {
            AliasNameSource::ServiceaccountUid => "serviceaccount_uid",
            AliasNameSource::ServiceaccountName => "serviceaccount_name",
        }
    }

    fn parse(s: &str) -> Result<Self, KubernetesError> {
        match s.trim() {
            "" | "serviceaccount_uid" => Ok(AliasNameSource::ServiceaccountUid),
            "serviceaccount_name" => Ok(AliasNameSource::ServiceaccountName),
            other => Err(KubernetesError::InvalidField(format!(
                "invalid alias_name_source {other:?}: must be serviceaccount_uid or serviceaccount_name"
            ))),
        }
    }
}

/// A role as stored under `role/<lower-cased name>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct RoleEntry {
    /// Format version of this record.
    pub(crate) version: u32,
    /// Service-account names allowed (globs; `*` alone = any).
    pub(crate) bound_service_account_names: Vec<String>,
    /// Namespaces allowed (globs; `*` alone = any).
    pub(crate) bound_service_account_namespaces: Vec<String>,
    /// An audience the JWT must carry ("" = none required).
    pub(crate) audience: String,
    /// How the identity alias is named.
    pub(crate) alias_name_source: AliasNameSource,
    /// The `token_*` settings.
    #[serde(flatten)]
    pub(crate) token: TokenParams,
    /// Deprecated `policies`, echoed on read while used.
    pub(crate) policies: Vec<String>,
    /// Deprecated `ttl` (seconds).
    pub(crate) ttl: u64,
    /// Deprecated `max_ttl` (seconds).
    pub(crate) max_ttl: u64,
    /// Deprecated `period` (seconds).
    pub(crate) period: u64,
    /// Deprecated `num_uses`.
    pub(crate) num_uses: u32,
    /// Deprecated `bound_cidrs`.
    pub(crate) bound_cidrs: Vec<String>,
}

/// Whether `name` was sent (and is not null).
fn has(data: &Map<String, Value>, name: &str) -> bool {
    data.get(name).is_some_and(|v| !v.is_null())
}

impl RoleEntry {
    /// Applies the fields present in `data` (all of them for a new role) and checks the result. Returns OpenBao's
    /// warnings. `mount_max` is the mount's maximum lease TTL (zero when unknown).
    pub(crate) fn apply(
        &mut self,
        data: &Map<String, Value>,
        creating: bool,
        mount_max: Duration,
    ) -> Result<Vec<String>, KubernetesError> {
        self.token.apply(data)?;
        if has(data, "token_policies") {
            self.token.token_policies = sanitize_policies(&self.token.token_policies);
        }
        self.upgrade_legacy(data)?;
        self.token.validate()?;

        let mut warnings = Vec::new();
        if !mount_max.is_zero() {
            if Duration::from_secs(self.token.token_period) > mount_max {
                return Err(KubernetesError::InvalidField(format!(
                    "token period of '{}s' is greater than the backend's maximum lease TTL of '{}s'",
                    self.token.token_period,
                    mount_max.as_secs()
                )));
            }
            if Duration::from_secs(self.token.token_max_ttl) > mount_max {
                warnings.push("max_ttl is greater than the system or backend mount's maximum TTL value; issued tokens' max TTL value will be truncated".to_owned());
            }
        }

        if let Some(names) = field::strings(data, "bound_service_account_names")? {
            self.bound_service_account_names = names;
        } else if creating {
            self.bound_service_account_names.clear();
        }
        check_list(
            &self.bound_service_account_names,
            "\"bound_service_account_names\" can not be empty",
        )?;

        if let Some(namespaces) = field::strings(data, "bound_service_account_namespaces")? {
            self.bound_service_account_namespaces = namespaces;
        }
        // Namespace selectors need namespace reads from the API server: not supported, so say so rather than
        // store a binding that would never match.
        if field::string(data, "bound_service_account_namespace_selector")?
            .is_some_and(|s| !s.trim().is_empty())
        {
            return Err(KubernetesError::InvalidField(
                "bound_service_account_namespace_selector is not supported; list the namespaces in bound_service_account_namespaces".into(),
            ));
        }
        check_list(
            &self.bound_service_account_namespaces,
            "\"bound_service_account_namespaces\" can not be empty if \"bound_service_account_namespace_selector\" is not set",
        )?;

        if let Some(aud) = field::string(data, "audience")? {
            self.audience = aud.trim().to_owned();
        }
        if let Some(source) = field::string(data, "alias_name_source")? {
            self.alias_name_source = AliasNameSource::parse(&source)?;
        }
        Ok(warnings)
    }

    /// The deprecated fields: each counts only when its `token_*` twin is absent, and is forgotten once the twin
    /// is used (OpenBao's `UpgradeValue`).
    fn upgrade_legacy(&mut self, data: &Map<String, Value>) -> Result<(), KubernetesError> {
        let t = &mut self.token;
        if has(data, "token_policies") {
            self.policies = if has(data, "policies") {
                t.token_policies.clone()
            } else {
                Vec::new()
            };
        } else if let Some(p) = field::strings(data, "policies")? {
            self.policies = sanitize_policies(&p);
            t.token_policies = self.policies.clone();
        }

        if has(data, "token_bound_cidrs") {
            self.bound_cidrs = if has(data, "bound_cidrs") {
                t.token_bound_cidrs.clone()
            } else {
                Vec::new()
            };
        } else if let Some(c) = field::strings(data, "bound_cidrs")? {
            self.bound_cidrs = cidr::canonical_list(&c).map_err(KubernetesError::InvalidField)?;
            t.token_bound_cidrs = self.bound_cidrs.clone();
        }

        if has(data, "token_num_uses") {
            self.num_uses = if has(data, "num_uses") {
                t.token_num_uses
            } else {
                0
            };
        } else if let Some(n) = field::uint(data, "num_uses")? {
            let n = u32::try_from(n)
                .map_err(|_| KubernetesError::InvalidField("'num_uses' is too large".into()))?;
            self.num_uses = n;
            t.token_num_uses = n;
        }

        for (legacy, modern, slot, target) in [
            ("ttl", "token_ttl", &mut self.ttl, &mut t.token_ttl),
            (
                "max_ttl",
                "token_max_ttl",
                &mut self.max_ttl,
                &mut t.token_max_ttl,
            ),
            (
                "period",
                "token_period",
                &mut self.period,
                &mut t.token_period,
            ),
        ] {
            if has(data, modern) {
                *slot = if has(data, legacy) { *target } else { 0 };
            } else if let Some(s) = seconds(data, legacy)? {
                *slot = s;
                *target = s;
            }
        }
        Ok(())
    }

    /// The read response.
    pub(crate) fn to_data(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "bound_service_account_names".into(),
            json!(self.bound_service_account_names),
        );
        m.insert(
            "bound_service_account_namespaces".into(),
            json!(self.bound_service_account_namespaces),
        );
        m.insert("bound_service_account_namespace_selector".into(), json!(""));
        if !self.audience.is_empty() {
            m.insert("audience".into(), json!(self.audience));
        }
        self.token.populate_data(&mut m);
        if !self.policies.is_empty() {
            m.insert("policies".into(), json!(self.token.token_policies));
        }
        if !self.bound_cidrs.is_empty() {
            m.insert("bound_cidrs".into(), json!(self.token.token_bound_cidrs));
        }
        if self.ttl > 0 {
            m.insert("ttl".into(), json!(self.ttl));
        }
        if self.max_ttl > 0 {
            m.insert("max_ttl".into(), json!(self.max_ttl));
        }
        if self.period > 0 {
            m.insert("period".into(), json!(self.period));
        }
        if self.num_uses > 0 {
            m.insert("num_uses".into(), json!(self.num_uses));
        }
        m.insert(
            "alias_name_source".into(),
            json!(self.alias_name_source.as_str()),
        );
        m
    }

    /// Whether a service account `namespace`/`name` is bound to this role; `Err` says which binding failed.
    pub(crate) fn binds(&self, namespace: &str, name: &str) -> Result<(), Binding> {
        if !crate::glob::any(&self.bound_service_account_names, name) {
            return Err(Binding::Name);
        }
        if !crate::glob::any(&self.bound_service_account_namespaces, namespace) {
            return Err(Binding::Namespace);
        }
        Ok(())
    }

    /// The identity alias name of a login.
    pub(crate) fn alias_name(&self, namespace: &str, name: &str, uid: &str) -> String {
        match self.alias_name_source {
            AliasNameSource::ServiceaccountUid => uid.to_owned(),
            AliasNameSource::ServiceaccountName => format!("{namespace}/{name}"),
        }
    }
}

/// Which binding refused a service account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    /// `bound_service_account_names`.
    Name,
    /// `bound_service_account_namespaces`.
    Namespace,
}

/// A binding list must be non-empty, and `*` may not be mixed with other values (OpenBao's rules).
fn check_list(list: &[String], empty_msg: &str) -> Result<(), KubernetesError> {
    if list.is_empty() {
        return Err(KubernetesError::InvalidField(empty_msg.to_owned()));
    }
    if list.len() > 1 && list.iter().any(|v| v == "*") {
        return Err(KubernetesError::InvalidField(
            "can not mix \"*\" with values".into(),
        ));
    }
    Ok(())
}

/// The canonical (lower-cased) role name, or `None` when `raw` is not a valid name: ASCII letters, digits and
/// `_`, with `-` and `.` allowed inside but not at either end (OpenBao's `GenericNameRegex`).
pub(crate) fn normalize_name(raw: &str) -> Option<String> {
    let word = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
    let bytes = raw.as_bytes();
    let (first, last) = (bytes.first()?, bytes.last()?);
    let inner_ok = bytes.iter().all(|c| word(c) || *c == b'-' || *c == b'.');
    (word(first) && word(last) && inner_ok).then(|| raw.to_ascii_lowercase())
}

fn key(name: &str) -> String {
    format!("{ROLE_PREFIX}{name}")
}

/// The role `name` (already normalized), if stored.
pub(crate) async fn load(storage: &View, name: &str) -> Result<Option<RoleEntry>, KubernetesError> {
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
) -> Result<(), KubernetesError> {
    entry.version = ROLE_VERSION;
    storage.put(&key(name), &serde_json::to_vec(entry)?).await?;
    Ok(())
}

/// Removes the role `name` (no error if absent).
pub(crate) async fn delete(storage: &View, name: &str) -> Result<(), KubernetesError> {
    storage.delete(&key(name)).await?;
    Ok(())
}

/// Every stored role name, sorted.
pub(crate) async fn list(storage: &View) -> Result<Vec<String>, KubernetesError> {
    let mut names = storage.list(ROLE_PREFIX).await?;
    names.retain(|n| !n.ends_with('/'));
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn create(v: Value) -> Result<RoleEntry, KubernetesError> {
        let mut r = RoleEntry::default();
        r.apply(&m(v), true, Duration::ZERO)?;
        Ok(r)
    }

    #[test]
    fn required_bindings_and_star_rules() {
        let err = |v: Value| create(v).unwrap_err().to_string();
        assert_eq!(
            err(json!({"bound_service_account_namespaces": "ns"})),
            "\"bound_service_account_names\" can not be empty"
        );
        assert!(
            err(json!({"bound_service_account_names": "a"}))
                .contains("namespaces\" can not be empty")
        );
        assert_eq!(
            err(
                json!({"bound_service_account_names": "a,*", "bound_service_account_namespaces": "ns"})
            ),
            "can not mix \"*\" with values"
        );
        assert_eq!(
            err(
                json!({"bound_service_account_names": "*", "bound_service_account_namespaces": ["*", "x"]})
            ),
            "can not mix \"*\" with values"
        );
        assert!(err(json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "n", "alias_name_source": "x"})).contains("alias_name_source"));
        assert!(err(json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "n", "bound_service_account_namespace_selector": "{}"})).contains("not supported"));

        let r = create(json!({"bound_service_account_names": "app-*", "bound_service_account_namespaces": "*"})).unwrap();
        assert!(r.binds("anything", "app-web").is_ok());
        assert_eq!(r.binds("x", "db"), Err(Binding::Name));
        let r = create(json!({"bound_service_account_names": "*", "bound_service_account_namespaces": "team-*,prod"})).unwrap();
        assert!(r.binds("prod", "x").is_ok());
        assert_eq!(r.binds("dev", "x"), Err(Binding::Namespace));
    }

    #[test]
    fn legacy_fields_and_mount_limits() {
        let mut r = create(json!({
            "bound_service_account_names": "a", "bound_service_account_namespaces": "n",
            "policies": "B,a", "ttl": "1m", "max_ttl": 120, "period": 30, "num_uses": 2, "bound_cidrs": "10.0.0.0/8"
        }))
        .unwrap();
        assert_eq!(r.token.token_policies, vec!["a", "b"]);
        assert_eq!(
            (
                r.token.token_ttl,
                r.token.token_max_ttl,
                r.token.token_period
            ),
            (60, 120, 30)
        );
        assert_eq!(r.token.token_num_uses, 2);
        let d = r.to_data();
        assert_eq!(d["policies"], json!(["a", "b"]));
        assert_eq!(d["period"], json!(30));
        assert_eq!(d["num_uses"], json!(2));
        assert_eq!(d["alias_name_source"], json!("serviceaccount_uid"));
        assert!(!d.contains_key("audience"));

        // Using the new names forgets the old ones; names/namespaces survive an update that omits them.
        r.apply(&m(json!({"token_policies": "Z", "token_ttl": 5, "token_max_ttl": 6, "token_period": 0, "token_num_uses": 0})), false, Duration::ZERO)
            .unwrap();
        let d = r.to_data();
        for k in ["policies", "ttl", "max_ttl", "period", "num_uses"] {
            assert!(!d.contains_key(k), "{k}");
        }
        assert_eq!(d["token_policies"], json!(["z"]));
        assert_eq!(d["bound_service_account_names"], json!(["a"]));

        let mut r = RoleEntry::default();
        let base =
            json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "n"});
        let mut v = base.clone();
        v["token_period"] = json!(7200);
        let e = r.apply(&m(v), true, Duration::from_secs(3600)).unwrap_err();
        assert!(e.to_string().contains("token period"), "{e}");
        let mut v = base;
        v["token_max_ttl"] = json!(7200);
        let w = RoleEntry::default()
            .apply(&m(v), true, Duration::from_secs(3600))
            .unwrap();
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn alias_names() {
        let mut r = RoleEntry::default();
        assert_eq!(r.alias_name("ns", "sa", "uid"), "uid");
        r.alias_name_source = AliasNameSource::ServiceaccountName;
        assert_eq!(r.alias_name("ns", "sa", "uid"), "ns/sa");
        assert_eq!(normalize_name("Dev-Role").as_deref(), Some("dev-role"));
        assert_eq!(normalize_name("-x"), None);
    }
}
