//! The mount's salt (32 random bytes kept in its own storage) and the HMAC-SHA256 it keys, as the token store
//! does: role ids, secret ids and accessors are only ever stored under these hashes.

use engine_sdk::{Storage, View};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use tokio::sync::OnceCell;

use crate::ApproleError;
use crate::paths::SALT;

/// Longest role id or secret id accepted (OpenBao's bound on HMAC input).
pub(crate) const MAX_HMAC_INPUT: usize = 4096;

/// An HMAC key derived from the mount's salt.
pub(crate) struct Salt {
    key: hmac::Key,
}

impl Salt {
    fn new(salt: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, salt),
        }
    }

    /// Hex HMAC of `value` under `purpose`.
    pub(crate) fn hash(&self, purpose: &str, value: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(purpose.as_bytes());
        ctx.update(b"\0");
        ctx.update(value.as_bytes());
        let tag = ctx.sign();
        let mut out = String::with_capacity(64);
        for b in tag.as_ref() {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

/// Loads the mount's salt once, creating it on first use.
#[derive(Default)]
pub(crate) struct SaltCell {
    cell: OnceCell<Salt>,
}

impl std::fmt::Debug for SaltCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaltCell")
            .field("loaded", &self.cell.initialized())
            .finish()
    }
}

impl SaltCell {
    /// The salt of the mount whose storage is `view`.
    pub(crate) async fn get(&self, view: &View) -> Result<&Salt, ApproleError> {
        self.cell
            .get_or_try_init(|| async {
                if let Some(bytes) = view.get(SALT).await? {
                    return Ok(Salt::new(&bytes));
                }
                let bytes = random_bytes(32)?;
                view.put(SALT, &bytes).await?;
                Ok(Salt::new(&bytes))
            })
            .await
    }
}

/// `n` bytes from the OS CSPRNG.
pub(crate) fn random_bytes(n: usize) -> Result<Vec<u8>, ApproleError> {
    let mut out = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| ApproleError::Random)?;
    Ok(out)
}

/// A random UUID (v4) string from the OS CSPRNG: the shape of generated role ids, secret ids and accessors.
pub(crate) fn random_uuid() -> Result<String, ApproleError> {
    let bytes = random_bytes(16)?;
    let mut b = [0u8; 16];
    b.copy_from_slice(&bytes);
    Ok(uuid::Builder::from_random_bytes(b)
        .into_uuid()
        .hyphenated()
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_keyed_and_purpose_separated() {
        let a = Salt::new(b"salt-a");
        let b = Salt::new(b"salt-b");
        assert_eq!(a.hash("x", "v"), a.hash("x", "v"));
        assert_ne!(a.hash("x", "v"), b.hash("x", "v"));
        assert_ne!(a.hash("x", "v"), a.hash("y", "v"));
        assert_eq!(a.hash("x", "v").len(), 64);
    }

    #[test]
    fn uuids_are_v4() {
        let u = random_uuid().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert_ne!(u, random_uuid().unwrap());
    }
}
