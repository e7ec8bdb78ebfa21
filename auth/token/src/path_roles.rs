//! `auth/token/roles/:role_name` (read, create/update, delete) and `LIST auth/token/roles`.

use engine_sdk::{EngineError, Request, Response, field};
use serde_json::{Map, Value, json};

use crate::backend::Backend;
use crate::cidr;
use crate::policies::{dedup_lower, sanitize};
use crate::role::{Role, RoleTokenType, valid_name};
use crate::ttl::TtlLimits;

fn name<'a>(req: &Request<'a>) -> Result<&'a str, EngineError> {
    let name = req.route.param("role_name").unwrap_or_default();
    if valid_name(name) {
        Ok(name)
    } else {
        Err(EngineError::invalid("role name cannot be empty"))
    }
}

/// Role names; 404 when there are none.
pub(crate) async fn list(b: &Backend) -> Result<Response, EngineError> {
    let keys = b.store.list_roles().await?;
    if keys.is_empty() {
        return Err(EngineError::NotFound);
    }
    Ok(Response::json(json!({ "keys": keys })))
}

/// The role's settings, as OpenBao prints them.
pub(crate) async fn read(b: &Backend, req: &Request<'_>) -> Result<Response, EngineError> {
    let Some(role) = b.store.role(name(req)?).await? else {
        return Err(EngineError::NotFound);
    };
    // Deprecated fields fold into their successors on read, as OpenBao upgrades roles when loading them.
    let token_period = if role.token_period == 0 {
        role.period
    } else {
        role.token_period
    };
    let token_explicit = if role.token_explicit_max_ttl == 0 {
        role.explicit_max_ttl
    } else {
        role.token_explicit_max_ttl
    };
    let token_cidrs = if role.token_bound_cidrs.is_empty() {
        &role.bound_cidrs
    } else {
        &role.token_bound_cidrs
    };
    let mut d = Map::new();
    d.insert("period".into(), json!(role.period));
    d.insert("token_period".into(), json!(token_period));
    d.insert("explicit_max_ttl".into(), json!(role.explicit_max_ttl));
    d.insert("token_explicit_max_ttl".into(), json!(token_explicit));
    d.insert(
        "disallowed_policies".into(),
        json!(role.disallowed_policies),
    );
    d.insert("allowed_policies".into(), json!(role.allowed_policies));
    d.insert(
        "disallowed_policies_glob".into(),
        json!(role.disallowed_policies_glob),
    );
    d.insert(
        "allowed_policies_glob".into(),
        json!(role.allowed_policies_glob),
    );
    d.insert("name".into(), json!(role.name));
    d.insert("orphan".into(), json!(role.orphan));
    d.insert("path_suffix".into(), json!(role.path_suffix));
    d.insert("renewable".into(), json!(role.renewable));
    d.insert("token_type".into(), json!(role.token_type.as_str()));
    d.insert(
        "allowed_entity_aliases".into(),
        json!(role.allowed_entity_aliases),
    );
    d.insert(
        "token_no_default_policy".into(),
        json!(role.token_no_default_policy),
    );
    if !token_cidrs.is_empty() {
        d.insert("token_bound_cidrs".into(), json!(token_cidrs));
    }
    if !role.bound_cidrs.is_empty() {
        d.insert("bound_cidrs".into(), json!(role.bound_cidrs));
    }
    if role.token_num_uses > 0 {
        d.insert("token_num_uses".into(), json!(role.token_num_uses));
    }
    Ok(Response::data(d))
}

/// Deletes the role (204 whether or not it existed).
pub(crate) async fn delete(b: &Backend, req: &Request<'_>) -> Result<Response, EngineError> {
    b.store.delete_role(name(req)?).await?;
    Ok(Response::default())
}

fn given(d: &Map<String, Value>, key: &str) -> bool {
    d.get(key).is_some_and(|v| !v.is_null())
}

fn secs(d: &Map<String, Value>, key: &str) -> Result<Option<u64>, EngineError> {
    Ok(field::duration(d, key)?.map(|t| t.as_secs()))
}

fn list_of(d: &Map<String, Value>, key: &str) -> Result<Vec<String>, EngineError> {
    Ok(field::strings(d, key)?.unwrap_or_default())
}

fn role_field_error(msg: impl std::fmt::Display) -> EngineError {
    EngineError::invalid(format!("error parsing role fields: {msg}"))
}

/// Creates the role with OpenBao's defaults, or updates only the fields given.
pub(crate) async fn write(b: &Backend, req: &Request<'_>) -> Result<Response, EngineError> {
    let name = name(req)?;
    let d = req.data;
    let mut role = b.store.role(name).await?.unwrap_or_else(|| Role::new(name));
    let mut warnings = Vec::new();

    if let Some(v) = field::boolean(d, "orphan")? {
        role.orphan = v;
    }
    if let Some(v) = field::boolean(d, "renewable")? {
        role.renewable = v;
    }
    if let Some(suffix) = field::string(d, "path_suffix")? {
        if !suffix.is_empty() && !suffix_ok(&suffix) {
            return Err(EngineError::invalid(
                "given role path suffix contains invalid characters; must match \\w[\\w-.]+\\w",
            ));
        }
        role.path_suffix = suffix;
    }
    if role.path_suffix.contains("..") {
        return Err(EngineError::invalid(
            "error registering path suffix: path cannot contain parent references",
        ));
    }
    if given(d, "allowed_policies") {
        role.allowed_policies = sanitize(&list_of(d, "allowed_policies")?, false);
    }
    if given(d, "disallowed_policies") {
        role.disallowed_policies = dedup_lower(&list_of(d, "disallowed_policies")?);
    }
    if given(d, "allowed_policies_glob") {
        role.allowed_policies_glob = sanitize(&list_of(d, "allowed_policies_glob")?, false);
    }
    if given(d, "disallowed_policies_glob") {
        role.disallowed_policies_glob = dedup_lower(&list_of(d, "disallowed_policies_glob")?);
    }

    match d.get("token_type") {
        None => {}
        Some(Value::Null) => return Err(EngineError::invalid("Invalid 'token_type' value: null")),
        Some(v) => {
            let s = v.as_str().unwrap_or_default();
            role.token_type = RoleTokenType::parse(s)
                .ok_or_else(|| EngineError::invalid(format!("invalid 'token_type' value {s:?}")))?;
        }
    }
    if given(d, "token_bound_cidrs") {
        role.token_bound_cidrs =
            cidr::validate(&list_of(d, "token_bound_cidrs")?).map_err(role_field_error)?;
    }
    if given(d, "token_no_default_policy") {
        role.token_no_default_policy =
            field::boolean(d, "token_no_default_policy")?.unwrap_or(false);
    }
    if given(d, "token_num_uses") {
        let n = d.get("token_num_uses").and_then(Value::as_i64);
        if n.is_some_and(|n| n < 0) {
            return Err(role_field_error("'token_num_uses' cannot be negative"));
        }
        let n = field::uint(d, "token_num_uses")?.unwrap_or(0);
        role.token_num_uses =
            u32::try_from(n).map_err(|_| role_field_error("'token_num_uses' is too large"))?;
    }

    // Deprecated fields: used only when their token_ successor is absent; both → the successor wins.
    if given(d, "token_period") {
        role.token_period = secs(d, "token_period")?.unwrap_or(0);
        if given(d, "period") {
            warnings.push("Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value".to_owned());
        }
        role.period = 0;
    } else if let Some(p) = secs(d, "period")? {
        role.period = p;
        role.token_period = p;
    }
    if given(d, "token_bound_cidrs") {
        if given(d, "bound_cidrs") {
            warnings.push("Both 'token_bound_cidrs' and deprecated 'bound_cidrs' value supplied, ignoring the deprecated value".to_owned());
        }
        role.bound_cidrs.clear();
    } else if given(d, "bound_cidrs") {
        let cidrs = cidr::validate(&list_of(d, "bound_cidrs")?)
            .map_err(|e| EngineError::invalid(format!("error parsing bound_cidrs: {e}")))?;
        role.bound_cidrs.clone_from(&cidrs);
        role.token_bound_cidrs = cidrs;
    }
    let final_explicit = if given(d, "token_explicit_max_ttl") {
        role.token_explicit_max_ttl = secs(d, "token_explicit_max_ttl")?.unwrap_or(0);
        if given(d, "explicit_max_ttl") {
            warnings.push("Both 'token_explicit_max_ttl' and deprecated 'explicit_max_ttl' value supplied, ignoring the deprecated value".to_owned());
        }
        role.explicit_max_ttl = 0;
        role.token_explicit_max_ttl
    } else {
        if let Some(e) = secs(d, "explicit_max_ttl")? {
            role.explicit_max_ttl = e;
            role.token_explicit_max_ttl = e;
        }
        role.explicit_max_ttl
    };
    let max = TtlLimits::of_mount(req.mount).max_ttl.as_secs();
    if final_explicit != 0 && final_explicit > max {
        warnings.push(format!(
            "Given explicit max TTL of {final_explicit} is greater than system/mount allowed value of {max} seconds; until this is fixed attempting to create tokens against this role will result in an error"
        ));
    }

    if role.token_type == RoleTokenType::Batch {
        if !role.orphan {
            return Err(EngineError::invalid(
                "'token_type' cannot be 'batch' when role is set to generate non-orphan tokens",
            ));
        }
        if role.period != 0 || role.token_period != 0 {
            return Err(EngineError::invalid(
                "'token_type' cannot be 'batch' when role is set to generate periodic tokens",
            ));
        }
        if role.renewable {
            return Err(EngineError::invalid(
                "'token_type' cannot be 'batch' when role is set to generate renewable tokens",
            ));
        }
        if role.explicit_max_ttl != 0 || role.token_explicit_max_ttl != 0 {
            return Err(EngineError::invalid(
                "'token_type' cannot be 'batch' when role is set to generate tokens with an explicit max TTL",
            ));
        }
    }
    if given(d, "allowed_entity_aliases") {
        role.allowed_entity_aliases = dedup_lower(&list_of(d, "allowed_entity_aliases")?);
    }

    b.store.put_role(&role).await?;
    Ok(Response {
        warnings,
        ..Response::default()
    })
}

/// OpenBao's unanchored `\w[\w-.]+\w` match: some run of `[\w.-]` characters holds two word characters at least
/// two positions apart.
fn suffix_ok(s: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let inner = |c: char| word(c) || c == '-' || c == '.';
    s.split(|c: char| !inner(c)).any(|run| {
        let chars: Vec<char> = run.chars().collect();
        let first = chars.iter().position(|c| word(*c));
        let last = chars.iter().rposition(|c| word(*c));
        matches!((first, last), (Some(a), Some(b)) if b >= a + 2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes() {
        assert!(suffix_ok("v1-0"));
        assert!(suffix_ok("abc"));
        assert!(!suffix_ok("v1"));
        assert!(!suffix_ok("--"));
    }
}
