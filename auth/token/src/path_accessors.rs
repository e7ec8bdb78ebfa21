//! `LIST auth/token/accessors` and `auth/token/tidy`.

use engine_sdk::{EngineError, Request, Response};
use serde_json::json;

use crate::backend::Backend;

/// Every live accessor (a root path: the ACL layer requires sudo).
pub(crate) async fn list(b: &Backend, _req: &Request<'_>) -> Result<Response, EngineError> {
    let keys = b.store.list_accessors().await?;
    if keys.is_empty() {
        return Err(EngineError::NotFound);
    }
    Ok(Response::json(json!({ "keys": keys })))
}

/// Starts a tidy in the background and answers 202 at once, as OpenBao.
pub(crate) fn tidy(b: &Backend, req: &Request<'_>) -> Result<Response, EngineError> {
    let store = b.store.clone();
    let now = req.clock.now();
    tokio::spawn(async move {
        match store.tidy(now).await {
            Ok(report) => tracing::info!(
                orphaned = report.orphaned,
                parent_entries_removed = report.parent_entries_removed,
                accessors_removed = report.accessors_removed,
                tokens_revoked = report.tokens_revoked,
                "token store tidy finished"
            ),
            Err(e) => tracing::error!(error = %e, "token store tidy failed"),
        }
    });
    Ok(Response {
        status: Some(202),
        ..Response::default().warn(
            "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.",
        )
    })
}
