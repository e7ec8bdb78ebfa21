//! Identity templating of policy paths (`secret/data/{{identity.entity.id}}/*`).
//!
//! Follows OpenBao's ACL templating: `{{` and `}}` must pair up (checked when the policy is parsed), each
//! directive is trimmed and resolved against the token's entity and groups when the ACL is compiled, and a
//! path whose directive cannot be resolved (no entity, unknown key, empty value, forbidden character) is
//! skipped rather than failing the whole ACL.

use std::collections::HashMap;
use std::time::SystemTime;

/// The identity a token acts for: its entity (if any) and every group the entity belongs to (direct and
/// inherited).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The token's entity; `None` for tokens without one (templated paths on the entity are skipped).
    pub entity: Option<Entity>,
    /// Groups the entity is a member of.
    pub groups: Vec<Group>,
}

/// An identity entity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entity {
    /// Entity id (`{{identity.entity.id}}`).
    pub id: String,
    /// Entity name (`{{identity.entity.name}}`).
    pub name: String,
    /// Entity metadata (`{{identity.entity.metadata.<key>}}`).
    pub metadata: HashMap<String, String>,
    /// The entity's aliases, one per auth mount.
    pub aliases: Vec<EntityAlias>,
}

/// An entity alias on one auth mount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityAlias {
    /// Accessor of the auth mount (`auth_kubernetes_1234`), the key templates select aliases by.
    pub mount_accessor: String,
    /// Alias id.
    pub id: String,
    /// Alias name (for Kubernetes auth, the service account's UID or name).
    pub name: String,
    /// Metadata set by the auth method (`service_account_namespace`, ...).
    pub metadata: HashMap<String, String>,
    /// Operator-set custom metadata.
    pub custom_metadata: HashMap<String, String>,
}

/// An identity group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    /// Group id.
    pub id: String,
    /// Group name.
    pub name: String,
    /// Group metadata.
    pub metadata: HashMap<String, String>,
}

/// Why a templated path could not be resolved; the path is then left out of the ACL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemplateError {
    Unbalanced,
    NotResolved,
    Forbidden,
}

/// Checks that `{{`/`}}` pair up; returns whether the string has any directive.
pub(crate) fn validate(s: &str) -> Result<bool, TemplateError> {
    walk(s, |_| Ok(String::new()), false).map(|(templated, _)| templated)
}

/// Substitutes every directive, refusing values that contain any of `blocked`.
pub(crate) fn populate(
    s: &str,
    identity: Option<&Identity>,
    blocked: &[&str],
    now: SystemTime,
) -> Result<String, TemplateError> {
    let resolve = |directive: &str| {
        let value = resolve(directive, identity, now).ok_or(TemplateError::NotResolved)?;
        if blocked.iter().any(|b| value.contains(b)) {
            return Err(TemplateError::Forbidden);
        }
        Ok(value)
    };
    walk(s, resolve, true).map(|(_, out)| out)
}

/// Splits on `{{`; every piece after the first must hold exactly one `}}`, and the first none.
fn walk(
    s: &str,
    mut resolve: impl FnMut(&str) -> Result<String, TemplateError>,
    substitute: bool,
) -> Result<(bool, String), TemplateError> {
    let mut pieces = s.split("{{");
    let first = pieces.next().unwrap_or_default();
    if first.contains("}}") {
        return Err(TemplateError::Unbalanced);
    }
    let mut out = String::new();
    if substitute {
        out.reserve(s.len());
        out.push_str(first);
    }
    let mut templated = false;
    for piece in pieces {
        let Some((directive, tail)) = piece.split_once("}}") else {
            return Err(TemplateError::Unbalanced);
        };
        if tail.contains("}}") {
            return Err(TemplateError::Unbalanced);
        }
        templated = true;
        if substitute {
            out.push_str(&resolve(directive.trim())?);
            out.push_str(tail);
        }
    }
    Ok((templated, out))
}

/// A non-empty string, as OpenBao requires for ids and names.
fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn resolve(directive: &str, identity: Option<&Identity>, now: SystemTime) -> Option<String> {
    if let Some(rest) = directive.strip_prefix("identity.entity.") {
        let entity = identity?.entity.as_ref()?;
        return resolve_entity(rest, entity);
    }
    if let Some(rest) = directive.strip_prefix("identity.groups.") {
        let groups = &identity?.groups;
        if groups.is_empty() {
            return None;
        }
        return resolve_group(rest, groups);
    }
    if let Some(rest) = directive.strip_prefix("time.") {
        return resolve_time(rest, now);
    }
    None
}

fn resolve_entity(selector: &str, entity: &Entity) -> Option<String> {
    match selector {
        "id" => non_empty(&entity.id),
        "name" => non_empty(&entity.name),
        _ => {
            if let Some(key) = selector.strip_prefix("metadata.") {
                return entity.metadata.get(key).cloned();
            }
            let rest = selector.strip_prefix("aliases.")?;
            let (accessor, field) = rest.split_once('.')?;
            let alias = entity
                .aliases
                .iter()
                .find(|a| a.mount_accessor == accessor)?;
            match field {
                "id" => non_empty(&alias.id),
                "name" => non_empty(&alias.name),
                _ => {
                    if let Some(key) = field.strip_prefix("metadata.") {
                        return alias.metadata.get(key).cloned();
                    }
                    let key = field.strip_prefix("custom_metadata.")?;
                    alias.custom_metadata.get(key).cloned()
                }
            }
        }
    }
}

fn resolve_group(selector: &str, groups: &[Group]) -> Option<String> {
    let (kind, rest) = selector.split_once('.')?;
    let (key, field) = rest.split_once('.')?;
    let group = match kind {
        "ids" => groups.iter().find(|g| g.id == key)?,
        "names" => groups.iter().find(|g| g.name == key)?,
        _ => return None,
    };
    match field {
        "id" => Some(group.id.clone()),
        "name" => non_empty(&group.name),
        _ => {
            let key = field.strip_prefix("metadata.")?;
            group.metadata.get(key).cloned()
        }
    }
}

/// `time.now`, `time.now.plus.<duration>`, `time.now.minus.<duration>` as Unix seconds.
fn resolve_time(selector: &str, now: SystemTime) -> Option<String> {
    let mut parts = selector.splitn(3, '.');
    if parts.next()? != "now" {
        return None;
    }
    let at = match (parts.next(), parts.next()) {
        (None, _) => now,
        (Some(_), None) => return None,
        (Some(op), Some(duration)) => {
            let d = api_spec::duration::parse(duration).ok()?;
            match op {
                "plus" => now.checked_add(d)?,
                "minus" => now.checked_sub(d)?,
                _ => return None,
            }
        }
    };
    Some(crate::time::unix_seconds(at).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn identity() -> Identity {
        Identity {
            entity: Some(Entity {
                id: "ent-1".into(),
                name: "alice".into(),
                metadata: HashMap::from([
                    ("team".into(), "blue".into()),
                    ("path".into(), "a/b".into()),
                    ("star".into(), "x*".into()),
                    ("empty".into(), String::new()),
                ]),
                aliases: vec![EntityAlias {
                    mount_accessor: "auth_kubernetes_1".into(),
                    id: "alias-1".into(),
                    name: "sa-uid".into(),
                    metadata: HashMap::from([(
                        "service_account_namespace".into(),
                        "payments".into(),
                    )]),
                    custom_metadata: HashMap::from([("tier".into(), "gold".into())]),
                }],
            }),
            groups: vec![Group {
                id: "grp-1".into(),
                name: "ops".into(),
                metadata: HashMap::from([("site".into(), "ams".into())]),
            }],
        }
    }

    const BLOCKED: &[&str] = &["/", "*", "+"];

    #[test]
    fn resolves_every_documented_directive() {
        let id = identity();
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        let cases: &[(&str, Option<&str>)] = &[
            ("p/{{identity.entity.id}}/x", Some("p/ent-1/x")),
            ("p/{{ identity.entity.name }}", Some("p/alice")),
            ("p/{{identity.entity.metadata.team}}", Some("p/blue")),
            ("p/{{identity.entity.metadata.empty}}", Some("p/")),
            ("p/{{identity.entity.metadata.none}}", None),
            ("p/{{identity.entity.metadata}}", None),
            ("p/{{identity.entity.groups.names}}", None),
            (
                "p/{{identity.entity.aliases.auth_kubernetes_1.id}}",
                Some("p/alias-1"),
            ),
            (
                "p/{{identity.entity.aliases.auth_kubernetes_1.name}}",
                Some("p/sa-uid"),
            ),
            (
                "p/{{identity.entity.aliases.auth_kubernetes_1.metadata.service_account_namespace}}/*",
                Some("p/payments/*"),
            ),
            (
                "p/{{identity.entity.aliases.auth_kubernetes_1.custom_metadata.tier}}",
                Some("p/gold"),
            ),
            ("p/{{identity.entity.aliases.auth_other.id}}", None),
            ("p/{{identity.groups.ids.grp-1.name}}", Some("p/ops")),
            ("p/{{identity.groups.names.ops.id}}", Some("p/grp-1")),
            (
                "p/{{identity.groups.names.ops.metadata.site}}",
                Some("p/ams"),
            ),
            ("p/{{identity.groups.names.dev.id}}", None),
            ("p/{{identity.groups.other.ops.id}}", None),
            ("p/{{identity.entity.metadata.path}}", None),
            ("p/{{identity.entity.metadata.star}}", None),
            ("p/{{time.now}}", Some("p/1000")),
            ("p/{{time.now.plus.1m}}", Some("p/1060")),
            ("p/{{time.now.minus.100}}", Some("p/900")),
            ("p/{{time.now.plus}}", None),
            ("p/{{time.later}}", None),
            ("p/{{unknown.thing}}", None),
            (
                "{{identity.entity.id}}{{identity.entity.name}}",
                Some("ent-1alice"),
            ),
        ];
        for (input, want) in cases {
            let got = populate(input, Some(&id), BLOCKED, now).ok();
            assert_eq!(got.as_deref(), *want, "{input}");
        }
    }

    #[test]
    fn blocked_substitutions_can_be_lifted() {
        let id = identity();
        let now = UNIX_EPOCH;
        let path = "p/{{identity.entity.metadata.path}}";
        assert_eq!(
            populate(path, Some(&id), &["*", "+"], now).as_deref(),
            Ok("p/a/b")
        );
        let star = "p/{{identity.entity.metadata.star}}";
        assert_eq!(
            populate(star, Some(&id), &["/"], now).as_deref(),
            Ok("p/x*")
        );
        assert_eq!(
            populate(star, Some(&id), BLOCKED, now),
            Err(TemplateError::Forbidden)
        );
    }

    #[test]
    fn no_entity_or_groups_fails() {
        let now = UNIX_EPOCH;
        assert!(populate("p/{{identity.entity.id}}", None, BLOCKED, now).is_err());
        let no_entity = Identity::default();
        assert!(populate("p/{{identity.entity.id}}", Some(&no_entity), BLOCKED, now).is_err());
        assert!(
            populate(
                "p/{{identity.groups.names.ops.id}}",
                Some(&no_entity),
                BLOCKED,
                now
            )
            .is_err()
        );
        // Time directives need no identity.
        assert_eq!(
            populate("t/{{time.now}}", None, BLOCKED, now).as_deref(),
            Ok("t/0")
        );
    }

    #[test]
    fn validate_checks_balance() {
        let cases: &[(&str, Result<bool, TemplateError>)] = &[
            ("secret/foo", Ok(false)),
            ("secret/{{identity.entity.id}}/*", Ok(true)),
            ("secret/{{anything at all}}", Ok(true)),
            ("secret/}}", Err(TemplateError::Unbalanced)),
            (
                "secret/{{identity.entity.id",
                Err(TemplateError::Unbalanced),
            ),
            ("secret/{{a}}}}", Err(TemplateError::Unbalanced)),
            ("secret/{{a{{b}}", Err(TemplateError::Unbalanced)),
            ("", Ok(false)),
        ];
        for (input, want) in cases {
            assert_eq!(validate(input), *want, "{input}");
        }
    }
}
