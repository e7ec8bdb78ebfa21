//! `config`: read, and write with validation (remote keys are fetched once, so a bad URL or CA fails the write
//! with the reason).

use std::sync::Arc;

use engine_sdk::{EngineError, Request, Response};

use crate::JwtError;
use crate::backend::JwtBackend;
use crate::config::{self, JwtConfig};
use crate::keyset::KeySet;

/// GET `config`.
pub(crate) async fn read(req: &Request<'_>) -> Result<Response, JwtError> {
    let config = config::load(req.storage)
        .await?
        .ok_or(EngineError::NotFound)?;
    Ok(Response::data(config.to_data()))
}

/// POST `config`: replaces the configuration.
pub(crate) async fn write(backend: &JwtBackend, req: &Request<'_>) -> Result<Response, JwtError> {
    let (config, skip_validation) = JwtConfig::from_request(req.data)?;
    let built = KeySet::build(&config, req.clock.now()).await;
    let mut warnings = Vec::new();
    let keys = match built {
        Ok(keys) => Some(Arc::new(keys)),
        Err(e) => {
            let what = if !config.oidc_discovery_url.is_empty() {
                "error checking oidc discovery URL"
            } else if !config.jwks_url.is_empty() {
                "error checking jwks URL"
            } else {
                // Static keys: nothing remote to skip.
                return Err(JwtError::invalid(e));
            };
            if !skip_validation {
                return Err(JwtError::invalid(format!("{what}: {e}")));
            }
            backend.record_failure(&config, req.clock.now(), &e);
            tracing::warn!(request_id = req.id, error = %e, "{what}; saved anyway (skip_jwks_validation)");
            warnings.push(format!("{what}: {e}"));
            None
        }
    };
    let _guard = backend.write_lock.lock().await;
    config::save(req.storage, &config).await?;
    if let Some(keys) = keys {
        backend.install(config, keys);
    }
    Ok(Response {
        warnings,
        ..Response::default()
    })
}
