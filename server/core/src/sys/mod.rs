//! `sys/` handlers reached through the authenticated pipeline, one module per area.

mod audit;
mod capabilities;
mod config_auditing;
mod internal_ui;
mod keyring;
mod leases;
mod metrics;
mod mounts;
mod password_policies;
mod policies;
mod quotas;
mod seal;

use engine_sdk::Caller;
use policy::Acl;

use crate::core::Unsealed;
use crate::mount_table::Table;
use crate::{Core, CoreError, Request, Response};

/// Routes an authenticated, authorized `sys/` request.
pub(crate) async fn route(
    core: &Core,
    u: &Unsealed,
    req: &Request,
    caller: &Caller,
    acl: &Acl,
) -> Result<Response, CoreError> {
    let unknown = || CoreError::UnsupportedPath(req.path.clone());
    let Some(sys_path) = req.path.strip_prefix("sys/") else {
        return Err(unknown());
    };
    let trimmed = sys_path.trim_end_matches('/');
    if let Some(rest) = strip_area(sys_path, "audit-verify-key") {
        return audit::verify_key(core, req, rest).await;
    }
    if let Some(rest) = strip_area(sys_path, "audit-hash") {
        return audit::hash(core, req, rest).await;
    }
    if let Some(rest) = strip_area(sys_path, "audit") {
        return audit::route(core, req, rest).await;
    }
    if let Some(rest) = strip_area(sys_path, "config/auditing") {
        return config_auditing::route(core, req, rest).await;
    }
    if let Some(rest) = strip_area(sys_path, "mounts") {
        return mounts::route(u, req, Table::Secrets, rest).await;
    }
    if let Some(rest) = strip_area(sys_path, "auth") {
        return mounts::route(u, req, Table::Auth, rest).await;
    }
    if let Some(rest) = strip_area(sys_path, "policies/password") {
        return password_policies::route(u, req, rest).await;
    }
    if let Some(rest) = strip_area(sys_path, "quotas/lease-count") {
        return quotas::route(u, req, rest).await;
    }
    if let Some(rest) = strip_area(sys_path, "policies/acl") {
        return policies::route(u, req, rest, false).await;
    }
    if let Some(rest) = strip_area(sys_path, "policy") {
        return policies::route(u, req, rest, true).await;
    }
    if let Some(id) = strip_area(sys_path, "remount/status") {
        return mounts::remount_status(u, req, id);
    }
    if let Some(rest) = strip_area(sys_path, "internal/ui/mounts") {
        return internal_ui::mounts(u, req, acl, caller, rest).await;
    }
    if let Some(result) = leases::route(u, req, sys_path).await {
        return result;
    }
    match trimmed {
        "metrics" => metrics::metrics(core, req),
        "seal" => seal::seal(core, req).await,
        "step-down" => seal::step_down(core, req).await,
        "rotate" | "rotate/keyring" => keyring::rotate(core, req).await,
        "key-status" => keyring::key_status(core, req),
        "rotate/config" | "rotate/keyring/config" => keyring::config(core, req).await,
        "remount" => mounts::remount(u, req).await,
        "capabilities" => capabilities::capabilities(u, req, acl, capabilities::Whose::Token).await,
        "capabilities-self" => {
            capabilities::capabilities(u, req, acl, capabilities::Whose::Own).await
        }
        "capabilities-accessor" => {
            capabilities::capabilities(u, req, acl, capabilities::Whose::Accessor).await
        }
        "internal/ui/resultant-acl" => capabilities::resultant_acl(u, caller),
        "wrapping/wrap" => crate::wrapping::wrap(req),
        "wrapping/unwrap" => crate::wrapping::unwrap(core, u, req).await,
        "wrapping/lookup" => crate::wrapping::lookup(core, u, req).await,
        "wrapping/rewrap" => crate::wrapping::rewrap(core, u, req, &caller.display_name).await,
        _ => Err(unknown()),
    }
}

/// `Some(rest)` when `path` is `area` or below it (`rest` empty or starting after a `/`).
fn strip_area<'a>(path: &'a str, area: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(area)?;
    (rest.is_empty() || rest.starts_with('/')).then(|| rest.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn areas() {
        assert_eq!(super::strip_area("mounts", "mounts"), Some(""));
        assert_eq!(
            super::strip_area("mounts/secret/tune", "mounts"),
            Some("secret/tune")
        );
        assert_eq!(super::strip_area("mountsx", "mounts"), None);
        assert_eq!(super::strip_area("policy/", "policy"), Some(""));
    }
}
