//! Path tables: each engine lists its URL patterns once; they are compiled into a [`PathRouter`] at mount time,
//! where overlapping patterns are rejected (rather than settled by order, as OpenBao does).

use crate::{EngineError, Operation};

/// The type of a documented field (used for help, OpenAPI and coercion helpers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A string.
    String,
    /// An integer.
    Int,
    /// A boolean (Vault also accepts `"true"`).
    Bool,
    /// A Go-style duration or a number of seconds.
    Duration,
    /// A list of strings (or a comma-separated string).
    CommaStrings,
    /// A JSON object.
    Map,
}

/// A documented request field.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The field name.
    pub name: &'static str,
    /// Its type.
    pub kind: FieldKind,
    /// One-line help.
    pub help: &'static str,
}

/// A [`Field`], for path tables written as `const` arrays.
pub const fn field(name: &'static str, kind: FieldKind, help: &'static str) -> Field {
    Field { name, kind, help }
}

/// The pagination fields of a LIST endpoint (`after`, `limit`).
pub const LIST_FIELDS: &[Field] = &[
    field(
        "after",
        FieldKind::String,
        "Optional entry to begin listing after; need not exist.",
    ),
    field(
        "limit",
        FieldKind::Int,
        "Optional number of entries to return; defaults to all.",
    ),
];

/// One URL pattern of an engine.
#[derive(Debug, Clone, Copy)]
pub struct PathSpec {
    /// Pattern relative to the mount: literal segments, `{name}` for one segment, `{*name}` for the rest
    /// (at least one character). A trailing `/` is part of the pattern (list endpoints).
    pub pattern: &'static str,
    /// Operations this path serves; anything else is a 405.
    pub ops: &'static [Operation],
    /// Whether a write must ask `exists` to choose between Create and Update (for ACLs).
    pub existence_check: bool,
    /// Documented fields.
    pub fields: &'static [Field],
    /// One-line help, shown by `?help=1`.
    pub help: &'static str,
}

/// The result of routing a path: which spec matched and the captured segments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteMatch {
    /// Index into the engine's `paths()`.
    pub index: usize,
    /// Captured `{name}` values, in pattern order.
    pub params: Vec<(String, String)>,
}

impl RouteMatch {
    /// The value captured for `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A compiled path table.
pub struct PathRouter {
    router: matchit::Router<usize>,
}

impl PathRouter {
    /// Compiles `specs`; fails if a pattern is malformed or two patterns overlap.
    pub fn new(specs: &[PathSpec]) -> Result<Self, EngineError> {
        let mut router = matchit::Router::new();
        for (i, spec) in specs.iter().enumerate() {
            if spec.pattern.starts_with('/') {
                return Err(EngineError::Internal(format!(
                    "path pattern {:?} must be relative",
                    spec.pattern
                )));
            }
            // matchit wants absolute routes; the leading slash is ours, not the engine's.
            router
                .insert(format!("/{}", spec.pattern), i)
                .map_err(|e| {
                    EngineError::Internal(format!("path pattern {:?}: {e}", spec.pattern))
                })?;
        }
        Ok(Self { router })
    }

    /// The spec matching `path` (relative to the mount), if any.
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let full = format!("/{path}");
        let m = self.router.at(&full).ok()?;
        let params = m
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Some(RouteMatch {
            index: *m.value,
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPS: &[Operation] = &[Operation::Read];

    fn spec(pattern: &'static str) -> PathSpec {
        PathSpec {
            pattern,
            ops: OPS,
            existence_check: false,
            fields: &[],
            help: "",
        }
    }

    #[test]
    fn routes_literals_params_and_rest() {
        let r = PathRouter::new(&[
            spec("config"),
            spec("data/{*path}"),
            spec("metadata/"),
            spec("metadata/{*path}"),
            spec("users/{name}"),
        ])
        .unwrap();
        assert_eq!(r.route("config").unwrap().index, 0);
        let m = r.route("data/a/b/c").unwrap();
        assert_eq!((m.index, m.param("path")), (1, Some("a/b/c")));
        assert_eq!(r.route("metadata/").unwrap().index, 2);
        assert_eq!(r.route("metadata/x/").unwrap().param("path"), Some("x/"));
        assert_eq!(r.route("users/bob").unwrap().param("name"), Some("bob"));
        assert!(r.route("users/bob/extra").is_none());
        assert!(r.route("nope").is_none());
        assert!(r.route("data").is_none());
    }

    #[test]
    fn overlapping_patterns_rejected() {
        assert!(PathRouter::new(&[spec("users/{name}"), spec("users/{other}")]).is_err());
        assert!(PathRouter::new(&[spec("/abs")]).is_err());
    }
}
