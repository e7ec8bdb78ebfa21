//! `sys/` handlers reached through the authenticated pipeline, one module per area.

mod keyring;
mod seal;

use crate::{Core, CoreError, Request, Response};

/// Routes an authenticated request. Paths outside `sys/` have no handler until mounts exist.
pub(crate) async fn route(core: &Core, req: &Request) -> Result<Response, CoreError> {
    let Some(sys_path) = req.path.strip_prefix("sys/") else {
        return Err(CoreError::UnsupportedPath(req.path.clone()));
    };
    match sys_path.trim_end_matches('/') {
        "seal" => seal::seal(core, req).await,
        "step-down" => seal::step_down(core, req).await,
        "rotate" | "rotate/keyring" => keyring::rotate(core, req).await,
        "key-status" => keyring::key_status(core, req),
        "rotate/config" | "rotate/keyring/config" => keyring::config(core, req).await,
        _ => Err(CoreError::UnsupportedPath(req.path.clone())),
    }
}
