//! Token renewal: OpenBao's `RenewToken` + `CalculateTTL`.

use std::time::{Duration, SystemTime};

use super::TokenStore;
use crate::entry::TokenEntry;
use crate::ttl::{self, TtlInput, TtlLimits};
use crate::{TokenError, unix};

/// The result of a renewal.
#[derive(Debug, Clone)]
pub struct Renewed {
    /// The updated entry.
    pub entry: TokenEntry,
    /// The TTL granted, from now.
    pub ttl: Duration,
    /// Warnings when a cap applied.
    pub warnings: Vec<String>,
}

impl TokenStore {
    /// Renews the token under `key`: the new TTL is `increment` from now (or the last granted TTL when zero),
    /// capped so the token never outlives `creation + min(limits.max_ttl, explicit_max_ttl)`; periodic tokens get
    /// their period again, bounded only by their explicit max. Tokens created against a role use the role's
    /// current period and explicit max (and cannot be renewed once the role is gone).
    pub async fn renew(
        &self,
        key: &str,
        increment: Duration,
        now: SystemTime,
        limits: TtlLimits,
    ) -> Result<Renewed, TokenError> {
        let _guard = self.lock(key).await;
        let Some(mut entry) = self.lookup_by_key(key).await? else {
            return Err(TokenError::invalid("token not found"));
        };
        if entry.revocation_pending {
            return Err(TokenError::invalid("token not found"));
        }
        if entry.is_batch() {
            return Err(TokenError::invalid("batch tokens cannot be renewed"));
        }
        if entry.expire_time == 0 {
            return Err(TokenError::invalid("lease is not renewable"));
        }
        if entry.expired_at(now) {
            return Err(TokenError::invalid("lease expired"));
        }
        if !entry.renewable {
            return Err(TokenError::invalid("lease is not renewable"));
        }
        let (period, explicit_max_ttl) = if entry.role.is_empty() {
            (entry.period, entry.explicit_max_ttl)
        } else {
            let Some(role) = self.role(&entry.role).await? else {
                return Err(TokenError::invalid(format!(
                    "original token role {:?} could not be found, not renewing",
                    entry.role
                )));
            };
            (role.token_period, role.token_explicit_max_ttl)
        };
        let now_s = unix(now);
        let (granted, warnings) = ttl::calculate(
            &limits,
            TtlInput {
                increment: increment.as_secs(),
                backend_ttl: entry.lease_ttl,
                period,
                explicit_max_ttl,
                start: entry.creation_time,
                now: now_s,
                ..TtlInput::default()
            },
        )?;
        entry.lease_ttl = granted;
        entry.expire_time = now_s.saturating_add(granted);
        entry.last_renewal_time = now_s;
        self.put_entry(key, &entry).await?;
        Ok(Renewed {
            entry,
            ttl: Duration::from_secs(granted),
            warnings,
        })
    }
}
