//! The persisted seal configuration: how many shares exist and how many unseal.

use serde::{Deserialize, Serialize};
use storage::Backend;

use crate::{CoreError, paths};

const VERSION: u32 = 1;

/// Seal parameters, stored in the clear at [`paths::SEAL_CONFIG`]: they are needed before anything can be
/// decrypted and hold no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SealConfig {
    pub(crate) v: u32,
    /// `shamir` for now; auto-unseal seals later.
    pub(crate) seal_type: String,
    pub(crate) secret_shares: u8,
    pub(crate) secret_threshold: u8,
}

impl SealConfig {
    /// Validates share counts the way OpenBao does and builds a Shamir config.
    pub(crate) fn shamir(shares: Option<u64>, threshold: Option<u64>) -> Result<Self, CoreError> {
        let shares =
            shares.ok_or_else(|| CoreError::InvalidRequest("secret_shares is required".into()))?;
        let threshold = threshold
            .ok_or_else(|| CoreError::InvalidRequest("secret_threshold is required".into()))?;
        if shares == 0 {
            return Err(CoreError::InvalidRequest(
                "invalid seal configuration: shares must be at least one".into(),
            ));
        }
        if threshold == 0 {
            return Err(CoreError::InvalidRequest(
                "invalid seal configuration: threshold must be at least one".into(),
            ));
        }
        if shares > 255 {
            return Err(CoreError::InvalidRequest(
                "invalid seal configuration: shares must be at most 255".into(),
            ));
        }
        if threshold > shares {
            return Err(CoreError::InvalidRequest(
                "invalid seal configuration: threshold cannot be larger than shares".into(),
            ));
        }
        if shares > 1 && threshold == 1 {
            return Err(CoreError::InvalidRequest(
                "invalid seal configuration: threshold must be greater than one for multiple shares".into(),
            ));
        }
        let (Ok(secret_shares), Ok(secret_threshold)) =
            (u8::try_from(shares), u8::try_from(threshold))
        else {
            return Err(CoreError::InvalidRequest(
                "invalid seal configuration".into(),
            ));
        };
        Ok(Self {
            v: VERSION,
            seal_type: "shamir".into(),
            secret_shares,
            secret_threshold,
        })
    }

    pub(crate) async fn load(physical: &dyn Backend) -> Result<Option<Self>, CoreError> {
        let Some(bytes) = physical.get(paths::SEAL_CONFIG).await? else {
            return Ok(None);
        };
        let cfg: Self = serde_json::from_slice(&bytes)
            .map_err(|e| CoreError::Internal(format!("seal configuration is corrupt: {e}")))?;
        if cfg.v != VERSION {
            return Err(CoreError::Internal(format!(
                "seal configuration has unknown version {}",
                cfg.v
            )));
        }
        Ok(Some(cfg))
    }

    pub(crate) async fn store(&self, physical: &dyn Backend) -> Result<(), CoreError> {
        let bytes = serde_json::to_vec(self).map_err(|e| CoreError::Internal(e.to_string()))?;
        physical.put(paths::SEAL_CONFIG, bytes).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_rules() {
        assert!(SealConfig::shamir(Some(5), Some(3)).is_ok());
        assert!(SealConfig::shamir(Some(1), Some(1)).is_ok());
        assert!(SealConfig::shamir(Some(255), Some(255)).is_ok());
        for (s, t) in [(0, 0), (3, 0), (3, 4), (256, 3), (5, 1)] {
            assert!(
                matches!(
                    SealConfig::shamir(Some(s), Some(t)),
                    Err(CoreError::InvalidRequest(_))
                ),
                "{s}/{t}"
            );
        }
        assert!(SealConfig::shamir(None, Some(1)).is_err());
    }
}
