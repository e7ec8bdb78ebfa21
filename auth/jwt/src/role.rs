//! The stored role: which tokens it accepts (audiences, subject, bound claims, leeways), how the identity is read
//! from them (user claim, claim mappings, groups claim), and the token settings.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use engine_sdk::token_fields::{TokenParams, sanitize_policies, seconds};
use engine_sdk::{Storage, View, cidr, field};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::JwtError;
use crate::paths::ROLE_PREFIX;

/// Format version of [`JwtRole`].
const ROLE_VERSION: u32 = 1;
/// OpenBao's default clock skew leeway (seconds).
pub(crate) const DEFAULT_CLOCK_SKEW: i64 = 60;
/// OpenBao's default `exp`/`nbf` leeway (seconds).
pub(crate) const DEFAULT_LEEWAY: i64 = 150;
/// Metadata keys a claim mapping may not write.
const RESERVED_METADATA: &[&str] = &["role"];

/// How `bound_claims` values are compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum BoundClaimsType {
    /// Exact match.
    #[default]
    String,
    /// `*` matches any run of characters.
    Glob,
}

/// A role as stored under `role/<name>`. Holds no secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct JwtRole {
    /// Format version of this record.
    pub(crate) version: u32,
    /// Always `jwt` (OIDC roles are refused).
    pub(crate) role_type: String,
    /// Accepted `aud` values (any match).
    pub(crate) bound_audiences: Vec<String>,
    /// The claim naming the user (the alias name).
    pub(crate) user_claim: String,
    /// Whether `user_claim` is a JSON pointer.
    pub(crate) user_claim_json_pointer: bool,
    /// The required `sub`.
    pub(crate) bound_subject: String,
    /// Claims that must match (claim or JSON pointer → value or list of values).
    pub(crate) bound_claims: Map<String, Value>,
    /// How bound claim values are compared.
    pub(crate) bound_claims_type: BoundClaimsType,
    /// The claim listing the user's groups.
    pub(crate) groups_claim: String,
    /// Claim (or JSON pointer) → metadata key.
    pub(crate) claim_mappings: BTreeMap<String, String>,
    /// Leeway on all time claims (0 = 60 s, -1 = none).
    pub(crate) clock_skew_leeway: i64,
    /// Leeway deriving a missing `exp` (0 = 150 s, -1 = none).
    pub(crate) expiration_leeway: i64,
    /// Leeway deriving a missing `nbf` (0 = 150 s, -1 = none).
    pub(crate) not_before_leeway: i64,
    /// The `token_*` settings.
    #[serde(flatten)]
    pub(crate) token: TokenParams,
    /// Deprecated `policies`.
    pub(crate) policies: Vec<String>,
    /// Deprecated `bound_cidrs`.
    pub(crate) bound_cidrs: Vec<String>,
    /// Deprecated `num_uses`.
    pub(crate) num_uses: u64,
    /// Deprecated `ttl` (seconds).
    pub(crate) ttl: u64,
    /// Deprecated `max_ttl` (seconds).
    pub(crate) max_ttl: u64,
    /// Deprecated `period` (seconds).
    pub(crate) period: u64,
}

impl Default for JwtRole {
    fn default() -> Self {
        Self {
            version: ROLE_VERSION,
            role_type: "jwt".into(),
            bound_audiences: Vec::new(),
            user_claim: String::new(),
            user_claim_json_pointer: false,
            bound_subject: String::new(),
            bound_claims: Map::new(),
            bound_claims_type: BoundClaimsType::String,
            groups_claim: String::new(),
            claim_mappings: BTreeMap::new(),
            clock_skew_leeway: DEFAULT_CLOCK_SKEW,
            expiration_leeway: DEFAULT_LEEWAY,
            not_before_leeway: DEFAULT_LEEWAY,
            token: TokenParams::default(),
            policies: Vec::new(),
            bound_cidrs: Vec::new(),
            num_uses: 0,
            ttl: 0,
            max_ttl: 0,
            period: 0,
        }
    }
}

fn has(data: &Map<String, Value>, name: &str) -> bool {
    data.get(name).is_some_and(|v| !v.is_null())
}

/// A leeway: whole seconds (negative allowed: -1 disables) or a Go duration.
fn leeway(data: &Map<String, Value>, name: &str) -> Result<Option<i64>, JwtError> {
    let bad = || {
        JwtError::invalid(format!(
            "field {name:?} must be a number of seconds or a duration"
        ))
    };
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .map(Some)
            .ok_or_else(bad),
        Some(Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(n) => Ok(Some(n)),
            Err(_) => field::duration(data, name)
                .map_err(|_| bad())
                .map(|d| d.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))),
        },
        Some(_) => Err(bad()),
    }
}

/// A map field: a JSON object, or a string holding one (as the CLI may send it).
fn object(data: &Map<String, Value>, name: &str) -> Result<Option<Map<String, Value>>, JwtError> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(Map::new())),
        Some(Value::String(s)) => match serde_json::from_str(s) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            _ => Err(JwtError::invalid(format!(
                "field {name:?} must be a JSON object"
            ))),
        },
        Some(_) => Err(JwtError::invalid(format!(
            "field {name:?} must be a JSON object"
        ))),
    }
}

fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Bool(_) | Value::Number(_))
}

impl JwtRole {
    /// Applies the fields present in `data` (absent ones keep their value) and checks the result; returns
    /// warnings. `max_lease_ttl` (0 = unknown) bounds the period.
    pub(crate) fn apply(
        &mut self,
        data: &Map<String, Value>,
        creating: bool,
        max_lease_ttl: Duration,
    ) -> Result<Vec<String>, JwtError> {
        let mut warnings = Vec::new();
        let role_type = match field::string(data, "role_type")? {
            Some(t) if !t.is_empty() => Some(t),
            // OpenBao's default is `oidc`.
            _ if creating => Some("oidc".to_owned()),
            _ => None,
        };
        match role_type.as_deref() {
            None | Some("jwt") => {}
            Some("oidc") => {
                return Err(JwtError::invalid(
                    "role_type \"oidc\" is not supported: this server does not implement the browser OIDC \
                     login flow; set role_type=\"jwt\"",
                ));
            }
            Some(other) => return Err(JwtError::invalid(format!("invalid 'role_type': {other}"))),
        }

        self.token.apply(data)?;
        if has(data, "token_policies") {
            self.token.token_policies = sanitize_policies(&self.token.token_policies);
        }
        self.apply_legacy(data)?;
        let max = max_lease_ttl.as_secs();
        if max > 0 && self.token.token_period > max {
            return Err(JwtError::invalid(format!(
                "'period' of '\"{}s\"' is greater than the backend's maximum lease TTL of '\"{max}s\"'",
                self.token.token_period
            )));
        }

        if let Some(l) = leeway(data, "expiration_leeway")? {
            self.expiration_leeway = l;
        }
        if let Some(l) = leeway(data, "not_before_leeway")? {
            self.not_before_leeway = l;
        }
        if let Some(l) = leeway(data, "clock_skew_leeway")? {
            self.clock_skew_leeway = l;
        }
        if let Some(a) = field::strings(data, "bound_audiences")? {
            self.bound_audiences = a;
        }
        if let Some(s) = field::string(data, "bound_subject")? {
            self.bound_subject = s;
        }
        if let Some(t) = field::string(data, "bound_claims_type")? {
            self.bound_claims_type = match t.as_str() {
                "string" | "" => BoundClaimsType::String,
                "glob" => BoundClaimsType::Glob,
                other => {
                    return Err(JwtError::invalid(format!(
                        "invalid 'bound_claims_type': {other}"
                    )));
                }
            };
        }
        if let Some(claims) = object(data, "bound_claims")? {
            self.bound_claims = claims;
        }
        self.check_bound_claims()?;
        if let Some(mappings) = object(data, "claim_mappings")? {
            self.claim_mappings = parse_mappings(mappings)?;
        }
        if let Some(c) = field::string(data, "user_claim")? {
            self.user_claim = c;
        }
        if self.user_claim.is_empty() {
            return Err(JwtError::invalid(
                "a user claim must be defined on the role",
            ));
        }
        if let Some(b) = field::boolean(data, "user_claim_json_pointer")? {
            self.user_claim_json_pointer = b;
        }
        if let Some(g) = field::string(data, "groups_claim")? {
            self.groups_claim = g;
        }

        if self.bound_audiences.is_empty()
            && self.token.token_bound_cidrs.is_empty()
            && self.bound_subject.is_empty()
            && self.bound_claims.is_empty()
        {
            return Err(JwtError::invalid(
                "must have at least one bound constraint when creating/updating a role",
            ));
        }
        self.token.validate()?;
        if max > 0 && self.token.token_max_ttl > max {
            warnings.push(
                "token max ttl is greater than the system or backend mount's maximum TTL value; issued tokens' max TTL value will be truncated"
                    .into(),
            );
        }
        Ok(warnings)
    }

    /// Bound claim values are scalars or lists of scalars; with globs, strings only.
    fn check_bound_claims(&self) -> Result<(), JwtError> {
        for value in self.bound_claims.values() {
            let items: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                v if is_scalar(v) => vec![v],
                v => {
                    return Err(JwtError::invalid(format!(
                        "claim is not a string or list: {v}"
                    )));
                }
            };
            for item in items {
                let ok = match self.bound_claims_type {
                    BoundClaimsType::Glob => item.is_string(),
                    BoundClaimsType::String => is_scalar(item),
                };
                if !ok {
                    return Err(JwtError::invalid(format!("claim is not a string: {item}")));
                }
            }
        }
        Ok(())
    }

    /// The deprecated `policies`, `bound_cidrs`, `num_uses`, `ttl`, `max_ttl` and `period`: each counts only when
    /// its `token_*` twin is absent, and is forgotten once the twin is used (OpenBao's `UpgradeValue`).
    fn apply_legacy(&mut self, data: &Map<String, Value>) -> Result<(), JwtError> {
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
            self.bound_cidrs = cidr::canonical_list(&c).map_err(JwtError::InvalidRequest)?;
            t.token_bound_cidrs = self.bound_cidrs.clone();
        }
        if has(data, "token_num_uses") {
            self.num_uses = if has(data, "num_uses") {
                u64::from(t.token_num_uses)
            } else {
                0
            };
        } else if let Some(n) = field::uint(data, "num_uses")? {
            t.token_num_uses =
                u32::try_from(n).map_err(|_| JwtError::invalid("'num_uses' is too large"))?;
            self.num_uses = n;
        }
        let pairs: [(&str, &str, &mut u64, &mut u64); 3] = [
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
        ];
        for (old, new, legacy, current) in pairs {
            if has(data, new) {
                *legacy = if has(data, old) { *current } else { 0 };
            } else if let Some(s) = seconds(data, old)? {
                *legacy = s;
                *current = s;
            }
        }
        Ok(())
    }

    /// The read response.
    pub(crate) fn to_data(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("role_type".into(), json!(self.role_type));
        m.insert("expiration_leeway".into(), json!(self.expiration_leeway));
        m.insert("not_before_leeway".into(), json!(self.not_before_leeway));
        m.insert("clock_skew_leeway".into(), json!(self.clock_skew_leeway));
        m.insert("bound_audiences".into(), json!(self.bound_audiences));
        m.insert("bound_subject".into(), json!(self.bound_subject));
        m.insert("bound_claims_type".into(), json!(self.bound_claims_type));
        m.insert(
            "bound_claims".into(),
            Value::Object(self.bound_claims.clone()),
        );
        m.insert("claim_mappings".into(), json!(self.claim_mappings));
        m.insert("user_claim".into(), json!(self.user_claim));
        m.insert(
            "user_claim_json_pointer".into(),
            json!(self.user_claim_json_pointer),
        );
        m.insert("groups_claim".into(), json!(self.groups_claim));
        self.token.populate_data(&mut m);
        if !self.policies.is_empty() {
            m.insert("policies".into(), json!(self.token.token_policies));
        }
        if !self.bound_cidrs.is_empty() {
            m.insert("bound_cidrs".into(), json!(self.token.token_bound_cidrs));
        }
        for (name, v) in [
            ("ttl", self.ttl),
            ("max_ttl", self.max_ttl),
            ("period", self.period),
            ("num_uses", self.num_uses),
        ] {
            if v > 0 {
                m.insert(name.into(), json!(v));
            }
        }
        m
    }
}

/// `claim_mappings`: string values, no reserved or repeated metadata key.
fn parse_mappings(raw: Map<String, Value>) -> Result<BTreeMap<String, String>, JwtError> {
    let mut targets = HashSet::new();
    let mut out = BTreeMap::new();
    for (claim, target) in raw {
        let Value::String(target) = target else {
            return Err(JwtError::invalid(format!(
                "claim_mappings value for {claim:?} must be a string"
            )));
        };
        if RESERVED_METADATA.contains(&target.as_str()) {
            return Err(JwtError::invalid(format!(
                "metadata key {target:?} is reserved and may not be a mapping destination"
            )));
        }
        if !targets.insert(target.clone()) {
            return Err(JwtError::invalid(format!(
                "multiple keys are mapped to metadata key {target:?}"
            )));
        }
        out.insert(claim, target);
    }
    Ok(out)
}

/// The canonical (lower-cased) role name, or `None` when `raw` is not a valid name (OpenBao's
/// `GenericNameRegex`: ASCII letters, digits, `_`, and `-`/`.` inside).
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
pub(crate) async fn load(storage: &View, name: &str) -> Result<Option<JwtRole>, JwtError> {
    match storage.get(&key(name)).await? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Stores the role `name` (already normalized).
pub(crate) async fn save(storage: &View, name: &str, role: &mut JwtRole) -> Result<(), JwtError> {
    role.version = ROLE_VERSION;
    storage.put(&key(name), &serde_json::to_vec(role)?).await?;
    Ok(())
}

/// Removes the role `name` (no error if absent).
pub(crate) async fn delete(storage: &View, name: &str) -> Result<(), JwtError> {
    storage.delete(&key(name)).await?;
    Ok(())
}

/// Every stored role name, sorted.
pub(crate) async fn list(storage: &View) -> Result<Vec<String>, JwtError> {
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

    fn create(v: Value) -> Result<JwtRole, JwtError> {
        let mut r = JwtRole::default();
        r.apply(&m(v), true, Duration::ZERO).map(|_| r)
    }

    #[test]
    fn defaults_and_required_fields() {
        let r = create(json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "a,b"}))
            .unwrap();
        assert_eq!(r.bound_audiences, vec!["a", "b"]);
        assert_eq!(
            (
                r.clock_skew_leeway,
                r.expiration_leeway,
                r.not_before_leeway
            ),
            (60, 150, 150)
        );
        let d = r.to_data();
        assert_eq!(d["bound_claims_type"], json!("string"));
        assert_eq!(d["role_type"], json!("jwt"));

        let cases = [
            (
                json!({"user_claim": "sub", "bound_subject": "x"}),
                "role_type \"oidc\" is not supported",
            ),
            (
                json!({"role_type": "oidc", "user_claim": "sub", "bound_subject": "x"}),
                "not supported",
            ),
            (
                json!({"role_type": "saml", "user_claim": "sub"}),
                "invalid 'role_type': saml",
            ),
            (
                json!({"role_type": "jwt", "bound_subject": "x"}),
                "a user claim must be defined",
            ),
            (
                json!({"role_type": "jwt", "user_claim": "sub"}),
                "at least one bound constraint",
            ),
            (
                json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "bound_claims_type": "regex"}),
                "invalid 'bound_claims_type': regex",
            ),
            (
                json!({"role_type": "jwt", "user_claim": "sub", "bound_claims_type": "glob", "bound_claims": {"a": 5}}),
                "claim is not a string: 5",
            ),
            (
                json!({"role_type": "jwt", "user_claim": "sub", "bound_claims": {"a": {"b": 1}}}),
                "claim is not a string or list",
            ),
            (
                json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "claim_mappings": {"a": "role"}}),
                "is reserved",
            ),
            (
                json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "claim_mappings": {"a": "k", "b": "k"}}),
                "multiple keys are mapped",
            ),
            (
                json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "clock_skew_leeway": "soon"}),
                "clock_skew_leeway",
            ),
        ];
        for (data, want) in cases {
            let err = create(data.clone()).unwrap_err();
            assert!(err.to_string().contains(want), "{data}: {err}");
        }
    }

    #[test]
    fn leeways_maps_and_legacy() {
        let r = create(json!({
            "role_type": "jwt", "user_claim": "sub", "bound_claims": "{\"dept\": [\"eng\", \"ops\"]}",
            "clock_skew_leeway": -1, "expiration_leeway": "2m", "not_before_leeway": "30",
            "claim_mappings": {"email": "mail"}, "policies": "B,a", "ttl": "1h", "num_uses": 3
        }))
        .unwrap();
        assert_eq!(
            (
                r.clock_skew_leeway,
                r.expiration_leeway,
                r.not_before_leeway
            ),
            (-1, 120, 30)
        );
        assert_eq!(r.bound_claims["dept"], json!(["eng", "ops"]));
        assert_eq!(r.claim_mappings["email"], "mail");
        assert_eq!(r.token.token_policies, vec!["a", "b"]);
        assert_eq!((r.token.token_ttl, r.token.token_num_uses), (3600, 3));
        let d = r.to_data();
        assert_eq!(d["policies"], json!(["a", "b"]));
        assert_eq!(d["ttl"], json!(3600));
        assert_eq!(d["num_uses"], json!(3));
    }
}
