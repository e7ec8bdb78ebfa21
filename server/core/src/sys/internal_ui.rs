//! `sys/internal/ui/mounts[/<path>]`: what the CLI's KV helpers and the UI use to find a mount and its version.

use engine_sdk::Caller;
use policy::Acl;
use serde_json::{Map, Value, json};

use crate::core::Unsealed;
use crate::mount_table::Table;
use crate::{CoreError, Operation, Request, Response};

pub(super) async fn mounts(
    u: &Unsealed,
    req: &Request,
    acl: &Acl,
    caller: &Caller,
    rest: &str,
) -> Result<Response, CoreError> {
    if req.operation != Operation::Read {
        return Err(CoreError::UnsupportedOperation);
    }
    let rest = rest.trim_start_matches('/');
    if rest.is_empty() {
        // Mounts the caller can reach, plus those marked `listing_visibility = "unauth"`.
        let mut secret = Map::new();
        let mut auth = Map::new();
        for (table, out) in [(Table::Secrets, &mut secret), (Table::Auth, &mut auth)] {
            for e in u.mounts.entries(table).await {
                let prefix = table.route_prefix(&e.path);
                if caller.root
                    || e.config.listing_visibility == "unauth"
                    || has_any_capability(acl, &prefix)
                {
                    out.insert(e.path.clone(), e.to_json(table == Table::Auth));
                }
            }
        }
        return Ok(Response::json(json!({ "secret": secret, "auth": auth })));
    }
    // A sub-path resolves to its mount; allowed with any capability on the mount, denied with OpenBao's preflight text.
    let router = u.mounts.router();
    let denied = || {
        CoreError::PermissionDeniedWith(format!(
            "preflight capability check returned 403, please ensure client's policies grant access to path \"{}/\"",
            rest.trim_end_matches('/')
        ))
    };
    let Some((route, _)) = router.lookup(rest) else {
        return Err(denied());
    };
    if !caller.root && !has_any_capability(acl, &route.prefix) && !has_any_capability(acl, rest) {
        return Err(denied());
    }
    let mut data = match route.entry.to_json(route.table == Table::Auth) {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    data.insert("path".into(), json!(route.entry.path));
    Ok(Response::data(data))
}

/// Whether the ACL grants anything at or below `prefix`.
fn has_any_capability(acl: &Acl, prefix: &str) -> bool {
    if acl.is_root() {
        return true;
    }
    let caps = acl.capabilities(prefix);
    if caps.iter().any(|c| *c != "deny") {
        return true;
    }
    // Rules for paths below the mount (e.g. `secret/data/app/*`) count too.
    acl.has_rules_under(prefix)
}
