//! The `token_*` settings every login method shares (OpenBao's `tokenutil`): parsing, display and the `Auth` they
//! produce.

use std::net::IpAddr;
use std::time::Duration;

use crate::{Auth, EngineError, Field, FieldKind, Response, cidr, field};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Path-table documentation of the `token_*` fields, in the order OpenBao lists them.
pub const FIELDS: [Field; 10] = [
    crate::field(
        "token_bound_cidrs",
        FieldKind::CommaStrings,
        "CIDR blocks the generated tokens may be used from.",
    ),
    crate::field(
        "token_explicit_max_ttl",
        FieldKind::Duration,
        "Hard cap on the generated token's life, renewals included.",
    ),
    crate::field(
        "token_max_ttl",
        FieldKind::Duration,
        "The maximum lifetime of the generated token.",
    ),
    crate::field(
        "token_no_default_policy",
        FieldKind::Bool,
        "If true, the 'default' policy is not added to generated tokens.",
    ),
    crate::field(
        "token_num_uses",
        FieldKind::Int,
        "Uses allowed per generated token; 0 means unlimited.",
    ),
    crate::field(
        "token_period",
        FieldKind::Duration,
        "If set, generated tokens are periodic with this period.",
    ),
    crate::field(
        "token_policies",
        FieldKind::CommaStrings,
        "Policies attached to generated tokens.",
    ),
    crate::field(
        "token_type",
        FieldKind::String,
        "The type of token to generate: default, service or batch.",
    ),
    crate::field(
        "token_ttl",
        FieldKind::Duration,
        "The initial TTL of generated tokens.",
    ),
    crate::field(
        "token_strictly_bind_ip",
        FieldKind::Bool,
        "If true, tokens are bound to the login's source address.",
    ),
];

/// A login method's role (or user) fields followed by the `token_*` ones: `OWN` is the method's own list,
/// `ALL` its length plus 10 (checked when the constant is evaluated, i.e. at compile time).
#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation at compile time: an index out of range fails the build, never a request"
)]
pub const fn with_token_fields<const OWN: usize, const ALL: usize>(
    own: [Field; OWN],
) -> [Field; ALL] {
    assert!(ALL == OWN + FIELDS.len(), "ALL must be OWN + 10");
    let mut out = [FIELDS[0]; ALL];
    let mut i = 0;
    while i < ALL {
        out[i] = if i < OWN { own[i] } else { FIELDS[i - OWN] };
        i += 1;
    }
    out
}

/// Which kind of token a login issues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// The mount's tuned default (service unless changed).
    #[default]
    Default,
    /// A service token.
    Service,
    /// A batch token.
    Batch,
}

impl TokenType {
    fn as_str(self) -> &'static str {
        match self {
            TokenType::Default => "default",
            TokenType::Service => "service",
            TokenType::Batch => "batch",
        }
    }
}

/// Token settings stored with a user; durations in seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenParams {
    /// CIDR blocks the token may be used from.
    pub token_bound_cidrs: Vec<String>,
    /// Hard cap on the token's life, renewals included (seconds).
    pub token_explicit_max_ttl: u64,
    /// Maximum lifetime through renewals (seconds).
    pub token_max_ttl: u64,
    /// Leave the `default` policy out.
    pub token_no_default_policy: bool,
    /// Uses before the token is revoked (0 = unlimited).
    pub token_num_uses: u32,
    /// Period of a periodic token (seconds).
    pub token_period: u64,
    /// Policies of the token.
    pub token_policies: Vec<String>,
    /// Kind of token issued.
    pub token_type: TokenType,
    /// Initial TTL (seconds).
    pub token_ttl: u64,
    /// Bind the token to the login's source address.
    pub token_strictly_bind_ip: bool,
}

impl TokenParams {
    /// Applies the `token_*` fields present in `data` (absent ones keep their value), as OpenBao's
    /// `ParseTokenFields` does. Cross-field rules are checked by [`TokenParams::validate`].
    pub fn apply(&mut self, data: &Map<String, Value>) -> Result<(), EngineError> {
        if let Some(cidrs) = field::strings(data, "token_bound_cidrs")? {
            self.token_bound_cidrs =
                cidr::canonical_list(&cidrs).map_err(EngineError::InvalidRequest)?;
        }
        if let Some(s) = seconds(data, "token_explicit_max_ttl")? {
            self.token_explicit_max_ttl = s;
        }
        if let Some(s) = seconds(data, "token_max_ttl")? {
            self.token_max_ttl = s;
        }
        if let Some(b) = field::boolean(data, "token_no_default_policy")? {
            self.token_no_default_policy = b;
        }
        if let Some(s) = seconds(data, "token_period")? {
            self.token_period = s;
        }
        if let Some(p) = field::strings(data, "token_policies")? {
            self.token_policies = p;
        }
        if let Some(t) = field::string(data, "token_type")? {
            self.token_type = match t.as_str() {
                "" | "default" => TokenType::Default,
                "service" => TokenType::Service,
                "batch" => TokenType::Batch,
                _ => {
                    return Err(EngineError::InvalidRequest(format!(
                        "invalid 'token_type' value {t:?}"
                    )));
                }
            };
        }
        if let Some(n) = count(data, "token_num_uses")? {
            self.token_num_uses = n;
        }
        if let Some(s) = seconds(data, "token_ttl")? {
            self.token_ttl = s;
        }
        if let Some(b) = field::boolean(data, "token_strictly_bind_ip")? {
            self.token_strictly_bind_ip = b;
        }
        Ok(())
    }

    /// The rules between fields, with OpenBao's messages.
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |m: &str| Err(EngineError::InvalidRequest(m.to_owned()));
        if self.token_type == TokenType::Batch {
            if self.token_period != 0 {
                return bad(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens",
                );
            }
            if self.token_num_uses != 0 {
                return bad(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count",
                );
            }
        }
        if self.token_ttl > 0 && self.token_max_ttl > 0 && self.token_ttl > self.token_max_ttl {
            return bad("'token_ttl' cannot be greater than 'token_max_ttl'");
        }
        if self.token_strictly_bind_ip && !self.token_bound_cidrs.is_empty() {
            return bad(
                "'token_strictly_bind_ip' conflicts with 'token_bound_cidrs'; set only one",
            );
        }
        Ok(())
    }

    /// Writes the fields into a read response (`PopulateTokenData`).
    pub fn populate_data(&self, m: &mut Map<String, Value>) {
        m.insert("token_bound_cidrs".into(), json!(self.token_bound_cidrs));
        m.insert(
            "token_explicit_max_ttl".into(),
            json!(self.token_explicit_max_ttl),
        );
        m.insert("token_max_ttl".into(), json!(self.token_max_ttl));
        m.insert(
            "token_no_default_policy".into(),
            json!(self.token_no_default_policy),
        );
        m.insert("token_period".into(), json!(self.token_period));
        m.insert("token_policies".into(), json!(self.token_policies));
        m.insert("token_type".into(), json!(self.token_type.as_str()));
        m.insert("token_ttl".into(), json!(self.token_ttl));
        m.insert("token_num_uses".into(), json!(self.token_num_uses));
        m.insert(
            "token_strictly_bind_ip".into(),
            json!(self.token_strictly_bind_ip),
        );
    }

    /// Fills the token settings of a login's `Auth` (`PopulateTokenAuth`). With `token_strictly_bind_ip` the
    /// token is bound to the login's source address, which must then be known.
    pub fn populate_auth(
        &self,
        auth: &mut Auth,
        remote: Option<IpAddr>,
    ) -> Result<(), EngineError> {
        auth.bound_cidrs = self.token_bound_cidrs.clone();
        auth.explicit_max_ttl = Duration::from_secs(self.token_explicit_max_ttl);
        auth.max_ttl = Duration::from_secs(self.token_max_ttl);
        auth.no_default_policy = self.token_no_default_policy;
        auth.period = Duration::from_secs(self.token_period);
        auth.policies = self.token_policies.clone();
        auth.renewable = true;
        // Empty lets the core apply the mount's tuned default.
        auth.token_type = match self.token_type {
            TokenType::Default => String::new(),
            t => t.as_str().to_owned(),
        };
        auth.ttl = Duration::from_secs(self.token_ttl);
        auth.num_uses = self.token_num_uses;
        if self.token_strictly_bind_ip {
            let ip = remote.ok_or(EngineError::PermissionDenied)?;
            auth.bound_cidrs = vec![ip.to_canonical().to_string()];
        }
        Ok(())
    }
    /// The answer to renewing a token this role issued: the role's *current* policies and TTLs (a renewal
    /// re-reads the role, as OpenBao's login methods do), carrying the lease's internal data along.
    pub fn renewal(&self, internal: &Map<String, Value>) -> Response {
        Response {
            auth: Some(Auth {
                policies: self.token_policies.clone(),
                ttl: Duration::from_secs(self.token_ttl),
                max_ttl: Duration::from_secs(self.token_max_ttl),
                period: Duration::from_secs(self.token_period),
                renewable: true,
                internal: internal.clone(),
                ..Auth::default()
            }),
            ..Response::default()
        }
    }
}

/// OpenBao's message for a negative number; the SDK helpers would only say "non-negative".
fn reject_negative(data: &Map<String, Value>, name: &str) -> Result<(), EngineError> {
    let negative = match data.get(name) {
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f < 0.0),
        Some(Value::String(s)) => s.trim().starts_with('-'),
        _ => false,
    };
    if negative {
        Err(EngineError::InvalidRequest(format!(
            "'{name}' cannot be negative"
        )))
    } else {
        Ok(())
    }
}

/// A duration field as whole seconds.
pub fn seconds(data: &Map<String, Value>, name: &str) -> Result<Option<u64>, EngineError> {
    reject_negative(data, name)?;
    Ok(field::duration(data, name)?.map(|d| d.as_secs()))
}

/// A use count that fits a token's `num_uses`.
fn count(data: &Map<String, Value>, name: &str) -> Result<Option<u32>, EngineError> {
    reject_negative(data, name)?;
    field::uint(data, name)?
        .map(|n| {
            u32::try_from(n)
                .map_err(|_| EngineError::InvalidRequest(format!("'{name}' is too large")))
        })
        .transpose()
}

/// OpenBao's `SanitizePolicies` without adding `default`: trimmed, lower-cased, no empties, sorted and unique;
/// `root` swallows every other policy.
pub fn sanitize_policies(policies: &[String]) -> Vec<String> {
    let mut out: Vec<String> = policies
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    if out.iter().any(|p| p == "root") {
        return vec!["root".to_owned()];
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn apply_and_validate() {
        let mut t = TokenParams::default();
        t.apply(&m(json!({
            "token_ttl": "1h", "token_max_ttl": 7200, "token_policies": "a, b",
            "token_bound_cidrs": ["10.0.0.0/8", "127.0.0.1/32"], "token_num_uses": "3",
            "token_type": "service", "token_no_default_policy": true
        })))
        .unwrap();
        t.validate().unwrap();
        assert_eq!((t.token_ttl, t.token_max_ttl), (3600, 7200));
        assert_eq!(t.token_policies, vec!["a", "b"]);
        assert_eq!(t.token_bound_cidrs, vec!["10.0.0.0/8", "127.0.0.1"]);
        assert_eq!(t.token_num_uses, 3);
        assert_eq!(t.token_type, TokenType::Service);

        // Absent fields keep their values.
        t.apply(&m(json!({"token_ttl": 60}))).unwrap();
        assert_eq!((t.token_ttl, t.token_max_ttl), (60, 7200));
    }

    #[test]
    fn bad_fields_rejected_with_openbao_messages() {
        let cases = [
            (json!({"token_ttl": "soon"}), "token_ttl"),
            (json!({"token_ttl": -5}), "'token_ttl' cannot be negative"),
            (
                json!({"token_num_uses": -1}),
                "'token_num_uses' cannot be negative",
            ),
            (
                json!({"token_type": "odd"}),
                "invalid 'token_type' value \"odd\"",
            ),
            (
                json!({"token_bound_cidrs": "10.0.0.0/99"}),
                "invalid address",
            ),
            (json!({"token_no_default_policy": "maybe"}), "boolean"),
        ];
        for (data, want) in cases {
            let err = TokenParams::default().apply(&m(data.clone())).unwrap_err();
            assert!(err.to_string().contains(want), "{data}: {err}");
        }
        let validate = |v: Value| {
            let mut t = TokenParams::default();
            t.apply(&m(v)).unwrap();
            t.validate().unwrap_err().to_string()
        };
        assert!(validate(json!({"token_ttl": 10, "token_max_ttl": 5})).contains("greater than"));
        assert!(validate(json!({"token_type": "batch", "token_period": 5})).contains("periodic"));
        assert!(
            validate(json!({"token_strictly_bind_ip": true, "token_bound_cidrs": "10.0.0.1"}))
                .contains("conflicts")
        );
    }

    #[test]
    fn policies_sanitized() {
        let p =
            |v: &[&str]| sanitize_policies(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(p(&[" B", "a", "", "b"]), vec!["a", "b"]);
        assert_eq!(p(&["a", "root"]), vec!["root"]);
    }
}
