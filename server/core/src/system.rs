//! What engines may ask of the core ([`engine_sdk::SystemView`]): passwords from password policies, and counters in
//! `sys/metrics`.

use std::sync::Arc;

use async_trait::async_trait;
use engine_sdk::EngineError;
use policy::password::PasswordPolicy;
use serde::{Deserialize, Serialize};
use storage::Storage;

use crate::{CoreError, paths};

/// How a password policy is persisted: the text as written, so reads return it verbatim.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredPasswordPolicy {
    pub(crate) v: u32,
    pub(crate) policy: String,
}

/// Reads a stored password policy and parses it.
pub(crate) async fn load_password_policy(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<(String, PasswordPolicy)>, CoreError> {
    if name.is_empty() || name.contains('/') {
        return Ok(None);
    }
    let Some(bytes) = storage
        .get(&format!("{}{name}", paths::PASSWORD_POLICY_PREFIX))
        .await?
    else {
        return Ok(None);
    };
    let stored: StoredPasswordPolicy = serde_json::from_slice(&bytes)
        .map_err(|e| CoreError::Internal(format!("stored password policy is corrupt: {e}")))?;
    let parsed = PasswordPolicy::parse(&stored.policy)
        .map_err(|e| CoreError::Internal(format!("stored password policy is invalid: {e}")))?;
    Ok(Some((stored.policy, parsed)))
}

/// The core's [`engine_sdk::SystemView`].
pub(crate) struct CoreSystem {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) metrics: Arc<crate::Metrics>,
}

#[async_trait]
impl engine_sdk::SystemView for CoreSystem {
    fn count(&self, name: &str, labels: &[(&str, &str)]) {
        self.metrics.counter(name, labels).inc();
    }

    async fn generate_password(&self, policy: &str) -> Result<String, EngineError> {
        let generated = if policy.is_empty() {
            PasswordPolicy::default_policy().generate()
        } else {
            match load_password_policy(self.storage.as_ref(), policy).await {
                Ok(Some((_, p))) => p.generate(),
                Ok(None) => {
                    return Err(EngineError::invalid(format!(
                        "password policy {policy:?} does not exist"
                    )));
                }
                Err(e) => return Err(EngineError::Internal(e.to_string())),
            }
        };
        generated
            .map(|p| p.to_string())
            .map_err(|e| EngineError::Internal(format!("password generation failed: {e}")))
    }
}
