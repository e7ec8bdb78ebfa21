//! The routing snapshot: every mounted backend with its compiled path table and storage view. Swapped whole
//! (ArcSwap) on mount changes, so requests route without locks.

use std::sync::Arc;

use engine_sdk::{LogicalBackend, MountInfo, PathRouter};
use storage::View;

use crate::mount_table::{MountEntry, Table};

/// One mounted backend, ready to serve.
pub(crate) struct Route {
    pub(crate) table: Table,
    /// Router prefix: `secret/`, `auth/userpass/`.
    pub(crate) prefix: String,
    pub(crate) entry: MountEntry,
    pub(crate) backend: Arc<dyn LogicalBackend>,
    pub(crate) paths: PathRouter,
    pub(crate) view: View,
    pub(crate) info: MountInfo,
}

impl Route {
    /// Whether `rel` (relative to the mount) is reachable without a token.
    pub(crate) fn is_unauthenticated(&self, rel: &str) -> bool {
        matches_any(self.backend.special_paths().unauthenticated, rel)
    }

    /// Whether requests to `rel` issue leased secrets (quota pre-check).
    pub(crate) fn issues_leases(&self, rel: &str) -> bool {
        matches_any(self.backend.lease_paths(), rel)
    }

    /// Whether `rel` needs sudo.
    pub(crate) fn is_root_path(&self, rel: &str) -> bool {
        matches_any(self.backend.special_paths().root, rel)
    }
}

/// Special-path patterns: exact, or a prefix when they end in `*`.
fn matches_any(patterns: &[&str], rel: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => rel.starts_with(prefix),
        None => rel == *p,
    })
}

/// All routes, longest prefix first.
#[derive(Default)]
pub(crate) struct Router {
    routes: Vec<Arc<Route>>,
}

impl Router {
    pub(crate) fn new(mut routes: Vec<Arc<Route>>) -> Self {
        routes.sort_by(|a, b| {
            b.prefix
                .len()
                .cmp(&a.prefix.len())
                .then_with(|| a.prefix.cmp(&b.prefix))
        });
        Self { routes }
    }

    /// The route owning `path` and the path relative to it. The mount root itself (`secret` or `secret/`) matches.
    pub(crate) fn lookup<'p>(&self, path: &'p str) -> Option<(Arc<Route>, &'p str)> {
        self.routes.iter().find_map(|r| {
            if let Some(rel) = path.strip_prefix(r.prefix.as_str()) {
                return Some((r.clone(), rel));
            }
            (path == r.prefix.trim_end_matches('/')).then(|| (r.clone(), ""))
        })
    }

    /// Every route (for listings and cleanup).
    pub(crate) fn routes(&self) -> &[Arc<Route>] {
        &self.routes
    }
}

#[cfg(test)]
mod tests {
    use super::matches_any;

    #[test]
    fn special_patterns() {
        assert!(matches_any(&["login/*"], "login/bob"));
        assert!(matches_any(&["login"], "login"));
        assert!(!matches_any(&["login"], "login/x"));
        assert!(!matches_any(&["login/*"], "users/bob"));
    }
}
