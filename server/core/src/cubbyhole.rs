//! The cubbyhole engine: private storage per token, reachable only with that token and destroyed with it.

use async_trait::async_trait;
use engine_sdk::{EngineError, LogicalBackend, Operation, PathSpec, Request, Response, Storage};
use serde_json::{Map, Value, json};

const RW: &[Operation] = &[
    Operation::Read,
    Operation::Create,
    Operation::Update,
    Operation::Delete,
    Operation::List,
];

static PATHS: &[PathSpec] = &[
    PathSpec {
        pattern: "",
        ops: &[Operation::List, Operation::Create, Operation::Update],
        existence_check: false,
        fields: &[],
        help: "List the token's cubbyhole.",
    },
    PathSpec {
        pattern: "{*path}",
        ops: RW,
        existence_check: false,
        fields: &[],
        help: "Read, write, list or delete secrets in the token's private cubbyhole.",
    },
];

/// Per-token storage under `<token key>/` in the mount's view.
pub(crate) struct Cubbyhole;

#[async_trait]
impl LogicalBackend for Cubbyhole {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    async fn handle(&self, req: Request<'_>) -> Result<Response, EngineError> {
        let caller = req.caller.ok_or(EngineError::PermissionDenied)?;
        // Batch tokens (no accessor) are never stored, so nothing would ever destroy their cubbyhole: OpenBao
        // refuses them too.
        if caller.token_key.is_empty() || caller.accessor.is_empty() {
            return Err(EngineError::invalid(
                "cubbyhole is not available to this token",
            ));
        }
        let view = req.storage.sub(&format!("{}/", caller.token_key));
        let path = req.path;
        match req.operation {
            Operation::List => {
                let keys = view.list(path).await?;
                if keys.is_empty() {
                    return Err(EngineError::NotFound);
                }
                Ok(Response::json(json!({ "keys": keys })))
            }
            Operation::Read => match view.get(path).await? {
                Some(bytes) => Ok(Response::data(
                    serde_json::from_slice::<Map<String, Value>>(&bytes)?,
                )),
                None => Err(EngineError::NotFound),
            },
            Operation::Create | Operation::Update => {
                if path.is_empty() || path.ends_with('/') {
                    return Err(EngineError::invalid("cannot write to a path ending in '/'"));
                }
                if req.data.is_empty() {
                    return Err(EngineError::invalid("missing data fields"));
                }
                let bytes = serde_json::to_vec(req.data)
                    .map_err(|e| EngineError::Internal(e.to_string()))?;
                view.put(path, &bytes).await?;
                Ok(Response::default())
            }
            Operation::Delete => {
                view.delete(path).await?;
                Ok(Response::default())
            }
            Operation::Patch => Err(EngineError::UnsupportedOperation),
        }
    }
}

/// Deletes everything a token stored in its cubbyhole (called when the token is revoked).
pub(crate) async fn destroy(
    view: &engine_sdk::View,
    token_key: &str,
) -> Result<(), crate::CoreError> {
    crate::mounts::delete_prefix(&view.sub(&format!("{token_key}/"))).await
}

/// When the token store revokes a token: its leases are made due (the lease manager revokes them) and its
/// cubbyhole is destroyed.
pub(crate) struct TokenRevoked {
    pub(crate) cubbyhole: Option<engine_sdk::View>,
    pub(crate) expiration: std::sync::Arc<crate::expiration::Expiration>,
}

#[async_trait]
impl auth_token::RevokeHook for TokenRevoked {
    async fn token_revoked(&self, token_key: &str) -> Result<(), auth_token::TokenError> {
        let to_token_error = |e: crate::CoreError| match e {
            crate::CoreError::Storage(s) => auth_token::TokenError::Storage(s),
            other => auth_token::TokenError::InvalidRequest(other.to_string()),
        };
        self.expiration
            .token_revoked(token_key)
            .await
            .map_err(to_token_error)?;
        if let Some(view) = &self.cubbyhole {
            destroy(view, token_key).await.map_err(to_token_error)?;
        }
        Ok(())
    }
}
