//! What the store tells the rest of the server when a token goes away.

use async_trait::async_trait;

use crate::TokenError;

/// Called for every revoked token, before its entry is deleted, so that the lease manager can revoke the
/// token's leases (and the core its cubbyhole). An error aborts that token's revocation: the token stays,
/// unusable (marked for revocation), and a later revoke or tidy retries.
#[async_trait]
pub trait RevokeHook: Send + Sync + 'static {
    /// `token_key` is the token's salted hash ([`crate::TokenStore::key_of`]).
    async fn token_revoked(&self, token_key: &str) -> Result<(), TokenError>;
}

/// A hook that does nothing (until the lease manager exists).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopHook;

#[async_trait]
impl RevokeHook for NoopHook {
    async fn token_revoked(&self, _token_key: &str) -> Result<(), TokenError> {
        Ok(())
    }
}
