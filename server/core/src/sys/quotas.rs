//! `sys/quotas/lease-count/:name` (create/update, read, delete, LIST): caps on live leases per mount or path.

use engine_sdk::{Operation, field};
use serde_json::json;

use crate::core::Unsealed;
use crate::expiration::QuotaConfig;
use crate::{CoreError, Request, Response};

/// Routes `sys/quotas/lease-count/<rest>`.
pub(crate) async fn route(u: &Unsealed, req: &Request, rest: &str) -> Result<Response, CoreError> {
    let quotas = u.expiration.quotas();
    let name = rest.trim_end_matches('/');
    if name.is_empty() {
        if req.operation != Operation::List {
            return Err(CoreError::UnsupportedOperation);
        }
        let keys = quotas.names();
        if keys.is_empty() {
            return Err(CoreError::NotFound);
        }
        return Ok(Response::json(json!({ "keys": keys })));
    }
    if name.contains('/') {
        return Err(CoreError::UnsupportedPath(req.path.clone()));
    }
    match req.operation {
        Operation::Read => {
            let q = quotas.get(name).ok_or(CoreError::NotFound)?;
            Ok(Response::json(json!({
                "name": q.config.name,
                "path": q.config.path,
                "type": "lease-count",
                "max_leases": q.config.max_leases,
                "counter": q.count(),
                "role": "",
                "inheritable": false,
            })))
        }
        Operation::Create | Operation::Update => {
            let existing = quotas.get(name).map(|q| q.config.clone());
            let path = field::string(&req.data, "path")?
                .or_else(|| existing.as_ref().map(|e| e.path.clone()))
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned();
            let max_leases = field::uint(&req.data, "max_leases")?
                .or(existing.as_ref().map(|e| e.max_leases))
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    CoreError::InvalidRequest("max_leases must be greater than 0".into())
                })?;
            if !path.is_empty() && u.mounts.router().lookup(&path).is_none() {
                return Err(CoreError::InvalidRequest(format!(
                    "invalid mount path {path:?}: no mount at or above it"
                )));
            }
            let q = quotas
                .put(QuotaConfig {
                    v: 1,
                    name: name.to_owned(),
                    path: path.clone(),
                    max_leases,
                })
                .await?;
            let live = u.expiration.ids_under(&path).await?;
            quotas.set_counted(&q, live);
            Ok(Response::default())
        }
        Operation::Delete => {
            quotas.delete(name).await?;
            Ok(Response::default())
        }
        _ => Err(CoreError::UnsupportedOperation),
    }
}
