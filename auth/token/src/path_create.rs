//! `auth/token/create`, `create-orphan` and `create/:role_name` (OpenBao's `handleCreateCommon`).

use std::collections::BTreeMap;
use std::time::Duration;

use engine_sdk::{EngineError, Request, Response, field};
use serde_json::{Map, Value};

use crate::backend::{self, Backend};
use crate::entry::{TokenEntry, TokenType};
use crate::policies::{self, any_glob, is_subset, sanitize};
use crate::role::{Role, RoleTokenType};
use crate::store::{CreateToken, Parent};
use crate::ttl::TtlLimits;

/// Which create endpoint was called.
pub(crate) enum Kind {
    /// `create`: a child of the caller unless `no_parent` (root only).
    Normal,
    /// `create-orphan`: no parent, allowed to anyone the ACL lets in.
    Orphan,
    /// `create/:role_name`.
    Role(String),
}

pub(crate) async fn create(
    b: &Backend,
    req: &Request<'_>,
    kind: Kind,
) -> Result<Response, EngineError> {
    let caller = backend::caller(req)?;
    let d = req.data;
    let role = match &kind {
        Kind::Role(name) => match b.store.role(name).await? {
            Some(r) => Some(effective(r)),
            None => return Err(EngineError::invalid(format!("unknown role {name}"))),
        },
        _ => None,
    };
    let Some((parent_key, parent)) = backend::caller_entry(b, req, None).await? else {
        return Err(EngineError::invalid(if backend::is_batch_caller(caller) {
            "batch tokens cannot create more tokens"
        } else {
            "parent token lookup failed: no parent found"
        }));
    };
    if parent.is_batch() {
        return Err(EngineError::invalid(
            "batch tokens cannot create more tokens",
        ));
    }
    // A limited-use token could escape its count through children.
    if parent.num_uses > 0 || parent.revocation_pending {
        return Err(EngineError::invalid(
            "restricted use token cannot generate child tokens",
        ));
    }
    // Sudo on auth/token/create is approximated by root until the ACL layer passes sudo to engines.
    let sudo = caller.root;

    let mut type_str = field::string(d, "type")?.unwrap_or_default();
    if let Some(role) = &role {
        match role.token_type {
            RoleTokenType::DefaultService => {}
            RoleTokenType::DefaultBatch if type_str.is_empty() => type_str = "batch".into(),
            RoleTokenType::DefaultBatch => {}
            RoleTokenType::Service => type_str = "service".into(),
            RoleTokenType::Batch => type_str = "batch".into(),
        }
    }
    let mut renewable = field::boolean(d, "renewable")?.unwrap_or(true);
    let explicit_max_ttl = field::duration(d, "explicit_max_ttl")?.unwrap_or_default();
    let period = field::duration(d, "period")?.unwrap_or_default();
    let num_uses = signed(d, "num_uses")?;
    let token_type = match type_str.as_str() {
        "" | "service" => TokenType::Service,
        "batch" => {
            let bad = if !explicit_max_ttl.is_zero() {
                Some("explicit_max_ttl")
            } else if num_uses != 0 {
                Some("num_uses")
            } else if !period.is_zero() {
                Some("period")
            } else {
                None
            };
            if let Some(bad) = bad {
                return Err(EngineError::invalid(format!(
                    "batch tokens cannot have {bad:?} set"
                )));
            }
            renewable = false;
            TokenType::Batch
        }
        _ => return Err(EngineError::invalid("invalid 'token_type' value")),
    };
    if num_uses < 0 {
        return Err(EngineError::invalid("number of uses cannot be negative"));
    }
    let mut num_uses =
        u32::try_from(num_uses).map_err(|_| EngineError::invalid("number of uses is too large"))?;

    if let Some(alias) = field::string(d, "entity_alias")?.filter(|a| !a.is_empty()) {
        let Some(role) = &role else {
            return Err(EngineError::invalid(
                "'entity_alias' is only allowed in combination with token role",
            ));
        };
        let alias = alias.to_lowercase();
        if !role.allowed_entity_aliases.contains(&alias)
            && !any_glob(&role.allowed_entity_aliases, &alias)
        {
            return Err(EngineError::invalid("invalid 'entity_alias' value"));
        }
        // Entity aliases need the identity store, which Coffer does not have yet.
        return Err(EngineError::invalid(
            "failed to create or fetch entity from given entity alias",
        ));
    }

    let meta = parse_meta(d)?;
    let mut path = format!("auth/token/{}", req.path);
    let mut role_name = String::new();
    if let Some(role) = &role {
        role_name.clone_from(&role.name);
        if renewable && !role.renewable {
            renewable = false;
        }
        // 0 means unlimited, so any role limit is tighter than none.
        if role.token_num_uses != 0 && (num_uses == 0 || role.token_num_uses < num_uses) {
            num_uses = role.token_num_uses;
        }
        if !role.path_suffix.is_empty() {
            path = format!("{path}/{}", role.path_suffix);
        }
    }

    let display_name = match field::string(d, "display_name")?.filter(|n| !n.is_empty()) {
        Some(name) => sanitize_display_name(&name),
        None => "token".to_owned(),
    };
    let id = field::string(d, "id")?.filter(|i| !i.is_empty());
    if id.is_some() && !sudo {
        return Err(EngineError::invalid(
            "root or sudo privileges required to specify token id",
        ));
    }

    let requested = field::strings(d, "policies")?.unwrap_or_default();
    let no_default = field::boolean(d, "no_default_policy")?.unwrap_or(false);
    let final_policies = resolve_policies(&requested, no_default, role.as_ref(), &parent, sudo)?;
    if final_policies.iter().any(|p| p == "root") {
        if !parent.is_root() {
            return Err(EngineError::invalid(
                "root tokens may not be created without parent token being root",
            ));
        }
        if token_type == TokenType::Batch {
            return Err(EngineError::invalid("batch tokens cannot be root tokens"));
        }
    }

    let mut bound_cidrs = Vec::new();
    let orphan = match (&kind, &role) {
        (_, Some(role)) => {
            bound_cidrs.clone_from(&role.token_bound_cidrs);
            role.orphan
        }
        _ if field::boolean(d, "no_parent")?.unwrap_or(false) => {
            if !sudo {
                return Err(EngineError::invalid(
                    "root or sudo privileges required to create orphan token",
                ));
            }
            true
        }
        (Kind::Orphan, None) => true,
        _ => false,
    };
    let entity_id = if orphan {
        String::new()
    } else {
        if role.is_none() {
            // Children keep their parent's CIDR binding, unless a role (which may widen it) says otherwise.
            bound_cidrs.clone_from(&parent.bound_cidrs);
        }
        parent.entity_id.clone()
    };

    let mut warnings = Vec::new();
    if !period.is_zero() && !sudo {
        return Err(EngineError::invalid(
            "root or sudo privileges required to create periodic token",
        ));
    }
    let ttl = match field::duration(d, "ttl")? {
        Some(t) if !t.is_zero() => t,
        _ => field::duration(d, "lease")?.unwrap_or_default(),
    };
    let mut explicit_to_use = explicit_max_ttl;
    let mut period_to_use = period;
    if let Some(role) = role.as_ref().filter(|_| token_type != TokenType::Batch) {
        let role_explicit = Duration::from_secs(role.token_explicit_max_ttl);
        if !role_explicit.is_zero() {
            if explicit_to_use.is_zero() {
                explicit_to_use = role_explicit;
            } else {
                explicit_to_use = explicit_to_use.min(role_explicit);
                warnings.push(format!(
                    "Explicit max TTL specified both during creation call and in role; using the lesser value of {} seconds",
                    explicit_to_use.as_secs()
                ));
            }
        }
        let role_period = Duration::from_secs(role.token_period);
        if !role_period.is_zero() {
            if period_to_use.is_zero() {
                period_to_use = role_period;
            } else {
                period_to_use = period_to_use.min(role_period);
                warnings.push(format!(
                    "Period specified both during creation call and in role; using the lesser value of {} seconds",
                    period_to_use.as_secs()
                ));
            }
        }
    }

    let has_default = final_policies.iter().any(|p| p == "default");
    let parent_ref = Parent {
        key: &parent_key,
        entry: &parent,
    };
    let request = CreateToken {
        parent: Some(parent_ref),
        policies: final_policies,
        no_default_policy: !has_default,
        meta,
        display_name,
        ttl,
        explicit_max_ttl: explicit_to_use,
        period: period_to_use,
        num_uses,
        renewable,
        token_type,
        id: id.as_deref(),
        entity_id,
        bound_cidrs,
        path,
        role: role_name,
        orphan,
        ..CreateToken::new(req.clock.now(), TtlLimits::of_mount(req.mount))
    };
    let created = b.store.create(request).await?;
    warnings.extend(created.warnings);
    let auth = backend::auth_of(&created.entry, &created.token, created.entry.ttl);
    Ok(Response {
        auth: Some(auth),
        warnings,
        ..Response::default()
    })
}

/// A role with deprecated fields folded into their `token_` successors (OpenBao upgrades on read).
fn effective(mut role: Role) -> Role {
    if role.period > 0 && role.token_period == 0 {
        role.token_period = role.period;
    }
    if role.explicit_max_ttl > 0 && role.token_explicit_max_ttl == 0 {
        role.token_explicit_max_ttl = role.explicit_max_ttl;
    }
    if !role.bound_cidrs.is_empty() && role.token_bound_cidrs.is_empty() {
        role.token_bound_cidrs.clone_from(&role.bound_cidrs);
    }
    role
}

/// OpenBao's `resolveTokenPolicies`: the final policy list (sorted; `default` included or not).
pub(crate) fn resolve_policies(
    requested: &[String],
    no_default: bool,
    role: Option<&Role>,
    parent: &TokenEntry,
    sudo: bool,
) -> Result<Vec<String>, EngineError> {
    let mut add_default = false;
    let policies = match role {
        Some(role)
            if !role.allowed_policies.is_empty()
                || !role.disallowed_policies.is_empty()
                || !role.allowed_policies_glob.is_empty()
                || !role.disallowed_policies_glob.is_empty() =>
        {
            // Roles with allow/deny lists set policies disjoint from the parent's.
            let local_default = !no_default
                && !role.token_no_default_policy
                && !role.disallowed_policies.iter().any(|p| p == "default")
                && !any_glob(&role.disallowed_policies_glob, "default");
            let mut chosen = if requested.is_empty() {
                Vec::new()
            } else {
                sanitize(requested, local_default)
            };
            if !role.allowed_policies.is_empty() || !role.allowed_policies_glob.is_empty() {
                let allowed = sanitize(&role.allowed_policies, local_default);
                if chosen.is_empty() {
                    chosen.clone_from(&allowed);
                } else {
                    let globs = sanitize(&role.allowed_policies_glob, false);
                    if chosen
                        .iter()
                        .any(|p| !allowed.contains(p) && !any_glob(&globs, p))
                    {
                        return Err(EngineError::invalid(format!(
                            "token policies ({}) must be subset of the role's allowed policies ({}) or glob policies ({})",
                            go_list(&chosen),
                            go_list(&allowed),
                            go_list(&globs)
                        )));
                    }
                }
            } else if chosen.is_empty() {
                chosen = sanitize(&parent.policies, local_default);
            }
            if !role.disallowed_policies.is_empty() || !role.disallowed_policies_glob.is_empty() {
                let denied = policies::dedup_lower(&role.disallowed_policies);
                let denied_globs = policies::dedup_lower(&role.disallowed_policies_glob);
                if let Some(p) = chosen
                    .iter()
                    .find(|p| denied.contains(p) || any_glob(&denied_globs, p))
                {
                    return Err(EngineError::invalid(format!(
                        "token policy {p:?} is disallowed by this role"
                    )));
                }
            }
            chosen
        }
        // No policies requested: the parent's ("default" only if the parent has it).
        _ if requested.is_empty() => sanitize(&parent.policies, false),
        _ if !sudo => {
            let input = sanitize(requested, false);
            let parent_policies = sanitize(&parent.policies, false);
            if !is_subset(&parent_policies, &input) {
                return Err(EngineError::invalid(
                    "child policies must be subset of parent",
                ));
            }
            add_default = !no_default && parent.policies.iter().any(|p| p == "default");
            requested.to_vec()
        }
        _ => {
            add_default = !no_default;
            requested.to_vec()
        }
    };
    let mut out = sanitize(&policies, add_default);
    if no_default {
        out.retain(|p| p != "default");
    }
    if let Some(p) = out
        .iter()
        .find(|p| policies::NON_ASSIGNABLE.contains(&p.as_str()))
    {
        return Err(EngineError::invalid(format!("cannot assign policy {p:?}")));
    }
    Ok(out)
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// `token-<name>` with every character outside `[a-zA-Z0-9-]` replaced by `-`, trailing dashes dropped.
fn sanitize_display_name(name: &str) -> String {
    let full: String = format!("token-{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    full.trim_end_matches('-').to_owned()
}

/// An integer field that may be negative (OpenBao reports negatives with its own text).
fn signed(d: &Map<String, Value>, name: &str) -> Result<i64, EngineError> {
    let bad = || EngineError::invalid(format!("field {name:?} must be an integer"));
    match d.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(bad),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(0),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// `meta`: a map of strings, or a list of `key=value` strings (OpenBao's `TypeKVPairs`).
pub(crate) fn parse_meta(d: &Map<String, Value>) -> Result<BTreeMap<String, String>, EngineError> {
    let bad = || EngineError::invalid("field \"meta\" must be a map of strings");
    let mut out = BTreeMap::new();
    match d.get("meta") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(_) | Value::Bool(_) => v.to_string(),
                    Value::Null => String::new(),
                    _ => return Err(bad()),
                };
                out.insert(k.clone(), v);
            }
        }
        Some(Value::Array(items)) => {
            for item in items {
                let Some((k, v)) = item.as_str().and_then(|s| s.split_once('=')) else {
                    return Err(bad());
                };
                out.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
        Some(_) => return Err(bad()),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names() {
        assert_eq!(sanitize_display_name("web app!"), "token-web-app");
        assert_eq!(sanitize_display_name("ok-1"), "token-ok-1");
    }

    #[test]
    fn meta_forms() {
        let d = serde_json::json!({"meta": {"a": "1", "n": 2}});
        let m = parse_meta(d.as_object().unwrap()).unwrap();
        assert_eq!(m.get("n").map(String::as_str), Some("2"));
        let d = serde_json::json!({"meta": ["a=b", "c = d"]});
        let m = parse_meta(d.as_object().unwrap()).unwrap();
        assert_eq!(m.get("c").map(String::as_str), Some("d"));
        let d = serde_json::json!({"meta": [1]});
        assert!(parse_meta(d.as_object().unwrap()).is_err());
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_list(&["a".into(), "b".into()]), "[\"a\" \"b\"]");
        assert_eq!(go_list(&[]), "[]");
    }
}
