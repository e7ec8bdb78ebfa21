//! Checks on verified claims (issuer, subject, audience, times, bound claims) and what a login reads from them
//! (user, metadata, groups). Errors are OpenBao's texts; none quotes a claim value from the token except where
//! OpenBao does (claim names only).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::role::{BoundClaimsType, DEFAULT_CLOCK_SKEW, DEFAULT_LEEWAY, JwtRole};

/// A claim by name, or by JSON pointer when the name starts with `/`.
pub(crate) fn get<'a>(claims: &'a Value, name: &str) -> Option<&'a Value> {
    if name.starts_with('/') {
        claims.pointer(name)
    } else {
        claims.get(name)
    }
    .filter(|v| !v.is_null())
}

/// A leeway as configured: 0 means the default, negative means none.
fn effective(leeway: i64, default: i64) -> i64 {
    match leeway {
        0 => default,
        l if l < 0 => 0,
        l => l,
    }
}

/// A time claim as Unix seconds (`None` when absent).
fn time_claim(claims: &Value, name: &str) -> Result<Option<i64>, String> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| format!("invalid {name} claim: not a number")),
        Some(_) => Err(format!("invalid {name} claim: not a number")),
    }
}

/// The `iss`, `sub`, `aud` and time checks (OpenBao's JWT library semantics): at least one of `iat`, `nbf`,
/// `exp`; a missing `exp` is derived from `iat`/`nbf` plus the expiration leeway, a missing `nbf` from `iat` or
/// from `exp` minus the not-before leeway; the clock skew leeway widens every comparison.
pub(crate) fn validate_standard(
    claims: &Value,
    bound_issuer: &str,
    role: &JwtRole,
    now: SystemTime,
) -> Result<(), String> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    if !bound_issuer.is_empty() && text("iss") != bound_issuer {
        return Err("invalid issuer (iss) claim".into());
    }
    if !role.bound_subject.is_empty() && text("sub") != role.bound_subject {
        return Err("invalid subject (sub) claim".into());
    }
    let aud = audiences(claims);
    if !role.bound_audiences.is_empty() && !role.bound_audiences.iter().any(|b| aud.contains(b)) {
        return Err(
            "invalid audience (aud) claim: audience claim does not match any expected audience"
                .into(),
        );
    }

    let iat = time_claim(claims, "iat")?.unwrap_or(0);
    let mut nbf = time_claim(claims, "nbf")?.unwrap_or(0);
    let mut exp = time_claim(claims, "exp")?.unwrap_or(0);
    if iat == 0 && nbf == 0 && exp == 0 {
        return Err(
            "no issued at (iat), not before (nbf), or expiration time (exp) claims in token".into(),
        );
    }
    if exp == 0 {
        exp = iat.max(nbf) + effective(role.expiration_leeway, DEFAULT_LEEWAY);
    }
    if nbf == 0 {
        nbf = if iat != 0 {
            iat
        } else {
            exp - effective(role.not_before_leeway, DEFAULT_LEEWAY)
        };
    }
    let skew = effective(role.clock_skew_leeway, DEFAULT_CLOCK_SKEW);
    let now = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    };
    if now + skew < nbf {
        return Err("invalid not before (nbf) claim: token not yet valid".into());
    }
    if now - skew > exp {
        return Err("invalid expiration time (exp) claim: token is expired".into());
    }
    if iat != 0 && now + skew < iat {
        return Err("invalid issued at (iat) claim: token issued in the future".into());
    }
    Ok(())
}

/// The `aud` claim as a list (a single string counts as one).
pub(crate) fn audiences(claims: &Value) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// A claim value as compared with bound claims: numbers as integers, like OpenBao.
#[derive(Debug, PartialEq)]
enum Scalar<'a> {
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Other,
}

fn scalar(v: &Value) -> Scalar<'_> {
    match v {
        Value::String(s) => Scalar::Str(s),
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map_or(Scalar::Other, Scalar::Int),
        _ => Scalar::Other,
    }
}

/// A value or list of values, flattened one level; `None` for an object.
fn list(v: &Value) -> Option<Vec<&Value>> {
    match v {
        Value::Array(items) => Some(items.iter().collect()),
        Value::Object(_) | Value::Null => None,
        v => Some(vec![v]),
    }
}

/// Every bound claim must be present and match one of its values (any of the token's, for a list claim).
pub(crate) fn validate_bound(claims: &Value, role: &JwtRole) -> Result<(), String> {
    for (name, expected) in &role.bound_claims {
        let actual = get(claims, name).ok_or_else(|| format!("claim {name:?} is missing"))?;
        let actual = list(actual)
            .ok_or_else(|| format!("received claim {name:?} is not a string, bool, int or list"))?;
        let expected = list(expected).unwrap_or_default();
        let found = expected.iter().any(|e| {
            actual.iter().any(|a| match role.bound_claims_type {
                BoundClaimsType::Glob => match (e.as_str(), a.as_str()) {
                    (Some(pattern), Some(value)) => glob(pattern, value),
                    _ => false,
                },
                BoundClaimsType::String => {
                    let (e, a) = (scalar(e), scalar(a));
                    e != Scalar::Other && e == a
                }
            })
        });
        if !found {
            return Err(format!(
                "claim {name:?} does not match any associated bound claim values"
            ));
        }
    }
    Ok(())
}

/// `*` matches any run of characters (possibly empty); everything else is literal.
pub(crate) fn glob(pattern: &str, value: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return value.is_empty();
    };
    let Some(mut rest) = value.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*` at all: an exact match.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = rest.get(i + part.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The user claim: the alias name.
pub(crate) fn user(claims: &Value, role: &JwtRole) -> Result<String, String> {
    let raw = if role.user_claim_json_pointer {
        claims.pointer(&role.user_claim)
    } else {
        claims.get(&role.user_claim)
    };
    match raw {
        None | Some(Value::Null) => Err(format!("claim {:?} not found in token", role.user_claim)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!(
            "claim {:?} could not be converted to string",
            role.user_claim
        )),
    }
}

/// The claim mappings as metadata. A JSON-pointer claim must be present; a plain claim is optional. Strings,
/// numbers and booleans map; lists and objects do not.
pub(crate) fn metadata(claims: &Value, role: &JwtRole) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (claim, key) in &role.claim_mappings {
        let value = match get(claims, claim) {
            Some(v) => v,
            None if claim.starts_with('/') => {
                return Err(format!("claim {claim:?} not found in token"));
            }
            None => continue,
        };
        let text = match scalar(value) {
            Scalar::Str(s) => s.to_owned(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Other => return Err(format!("error converting claim '{claim}' to string")),
        };
        out.insert(key.clone(), text);
    }
    Ok(out)
}

/// The groups claim as a list of names (empty entries dropped); `Ok(None)` when the role names no groups claim.
pub(crate) fn groups(claims: &Value, role: &JwtRole) -> Result<Option<Vec<String>>, String> {
    if role.groups_claim.is_empty() {
        return Ok(None);
    }
    let raw = get(claims, &role.groups_claim).ok_or_else(|| {
        format!(
            "failed to fetch groups: {:?} claim not found in token",
            role.groups_claim
        )
    })?;
    let items = list(raw).ok_or_else(|| {
        format!(
            "{:?} claim could not be converted to string list",
            role.groups_claim
        )
    })?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(s) if s.is_empty() => {}
            Value::String(s) => out.push(s.clone()),
            _ => {
                return Err(format!(
                    "value in {:?} claim could not be parsed as string",
                    role.groups_claim
                ));
            }
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn globs() {
        for (p, v, want) in [
            ("*", "", true),
            ("*", "anything", true),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("a*", "abc", true),
            ("*c", "abc", true),
            ("a*c", "ac", true),
            ("a*c", "abd", false),
            (
                "repo:org/*:ref:refs/heads/*",
                "repo:org/x:ref:refs/heads/main",
                true,
            ),
            (
                "repo:org/*:ref:refs/heads/*",
                "repo:other/x:ref:refs/heads/main",
                false,
            ),
            ("a*b*a", "aba", true),
            ("a*b*a", "ab", false),
            ("**", "x", true),
        ] {
            assert_eq!(glob(p, v), want, "{p} ~ {v}");
        }
    }

    fn role(v: Value) -> JwtRole {
        let mut r = JwtRole::default();
        r.apply(v.as_object().unwrap(), true, std::time::Duration::ZERO)
            .unwrap();
        r
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_secs(secs)
    }

    #[test]
    fn time_rules() {
        let r = role(json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "s"}));
        let claims = |v: Value| v;
        let ok = |c: Value, now: u64| validate_standard(&c, "", &r, at(now));
        assert!(ok(claims(json!({"sub": "s", "exp": 1000})), 1000 + 60).is_ok());
        assert!(
            ok(claims(json!({"sub": "s", "exp": 1000})), 1000 + 61)
                .unwrap_err()
                .contains("expired")
        );
        assert!(
            ok(
                claims(json!({"sub": "s", "nbf": 1000, "exp": 2000})),
                1000 - 61
            )
            .unwrap_err()
            .contains("not yet valid")
        );
        assert!(
            ok(
                claims(json!({"sub": "s", "iat": 1000, "exp": 2000})),
                1000 - 61
            )
            .is_err()
        );
        // exp derived from iat + 150 s.
        assert!(ok(claims(json!({"sub": "s", "iat": 1000})), 1000 + 150 + 60).is_ok());
        assert!(ok(claims(json!({"sub": "s", "iat": 1000})), 1000 + 150 + 61).is_err());
        assert!(
            ok(claims(json!({"sub": "s"})), 1000)
                .unwrap_err()
                .contains("no issued at")
        );
        assert!(ok(claims(json!({"sub": "s", "exp": "soon"})), 1000).is_err());
        assert!(
            ok(claims(json!({"sub": "t", "exp": 2000})), 1000)
                .unwrap_err()
                .contains("subject")
        );
    }

    #[test]
    fn bound_claims_and_mappings() {
        let r = role(
            json!({"role_type": "jwt", "user_claim": "/user/name", "user_claim_json_pointer": true,
            "bound_claims": {"/org/team": ["eng", "ops"], "admin": true, "level": 3},
            "claim_mappings": {"email": "mail", "/org/team": "team", "n": "count"}, "groups_claim": "groups"}),
        );
        let c = json!({"user": {"name": "ann"}, "org": {"team": "ops"}, "admin": true, "level": 3.0,
                       "email": "a@x", "n": 7, "groups": ["g1", "", "g2"]});
        validate_bound(&c, &r).unwrap();
        assert_eq!(user(&c, &r).unwrap(), "ann");
        let md = metadata(&c, &r).unwrap();
        assert_eq!(
            (
                md["mail"].as_str(),
                md["team"].as_str(),
                md["count"].as_str()
            ),
            ("a@x", "ops", "7")
        );
        assert_eq!(groups(&c, &r).unwrap().unwrap(), vec!["g1", "g2"]);

        let mut bad = c.clone();
        bad["org"]["team"] = json!("sales");
        assert!(
            validate_bound(&bad, &r)
                .unwrap_err()
                .contains("does not match")
        );
        let mut missing = c.clone();
        missing.as_object_mut().unwrap().remove("admin");
        assert!(
            validate_bound(&missing, &r)
                .unwrap_err()
                .contains("is missing")
        );
        let mut no_team = c.clone();
        no_team.as_object_mut().unwrap().remove("org");
        assert!(
            metadata(&no_team, &r).is_err(),
            "pointer mappings are required"
        );
        let mut no_email = c.clone();
        no_email.as_object_mut().unwrap().remove("email");
        assert!(!metadata(&no_email, &r).unwrap().contains_key("mail"));
    }
}
