//! Password hashing: PBKDF2-HMAC-SHA256 with a random salt, run off the async runtime.
//!
//! The stored record names its algorithm, iteration count and format version, so the parameters can be raised
//! later: a login with an outdated record re-hashes the password (see `path_login`).

use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::UserpassError;

/// Format version of [`PasswordHash`].
const HASH_VERSION: u32 = 1;
/// The only algorithm written today.
const ALGORITHM: &str = "pbkdf2-hmac-sha256";
/// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
pub(crate) const DEFAULT_ITERATIONS: u32 = 600_000;
// Lowering the work factor below the recommendation must not compile.
const _: () = assert!(DEFAULT_ITERATIONS >= 600_000);
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

/// A stored password hash. Not the password, but still offline-crackable, so it is wiped on drop and never printed.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct PasswordHash {
    /// Format version of this record.
    pub(crate) version: u32,
    /// KDF name.
    pub(crate) algorithm: String,
    /// KDF work factor.
    pub(crate) iterations: u32,
    /// Base64 salt.
    pub(crate) salt: String,
    /// Base64 derived key.
    pub(crate) hash: String,
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHash")
            .field("version", &self.version)
            .field("algorithm", &self.algorithm)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// Hashes and verifies passwords with a fixed work factor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kdf {
    iterations: NonZeroU32,
}

impl Default for Kdf {
    fn default() -> Self {
        Self {
            iterations: NonZeroU32::new(DEFAULT_ITERATIONS).unwrap_or(NonZeroU32::MIN),
        }
    }
}

impl Kdf {
    /// A KDF with a custom work factor: handler tests use a small one, since an unoptimized build takes seconds
    /// per production-strength hash.
    #[cfg(test)]
    pub(crate) fn with_iterations(iterations: u32) -> Self {
        Self {
            iterations: NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN),
        }
    }

    /// Hashes `password` with a fresh random salt.
    pub(crate) async fn hash(
        &self,
        password: Zeroizing<String>,
    ) -> Result<PasswordHash, UserpassError> {
        let iterations = self.iterations;
        run_blocking(move || {
            let mut salt = [0u8; SALT_LEN];
            SystemRandom::new()
                .fill(&mut salt)
                .map_err(|_| UserpassError::KdfTask("the system random source failed".into()))?;
            let mut out = Zeroizing::new([0u8; HASH_LEN]);
            pbkdf2::derive(
                pbkdf2::PBKDF2_HMAC_SHA256,
                iterations,
                &salt,
                password.as_bytes(),
                out.as_mut_slice(),
            );
            Ok(PasswordHash {
                version: HASH_VERSION,
                algorithm: ALGORITHM.to_owned(),
                iterations: iterations.get(),
                salt: B64.encode(salt),
                hash: B64.encode(out.as_slice()),
            })
        })
        .await
    }

    /// Whether `password` matches `stored`. With no stored hash (unknown user) it still spends the same work
    /// against a dummy hash and answers `false`, so timing does not reveal which users exist.
    pub(crate) async fn verify(
        &self,
        stored: Option<PasswordHash>,
        password: Zeroizing<String>,
    ) -> Result<bool, UserpassError> {
        let iterations = self.iterations;
        run_blocking(move || {
            let Some(stored) = stored else {
                // The result is ignored: an unknown user never logs in, but pays the same price.
                let _ = pbkdf2::verify(
                    pbkdf2::PBKDF2_HMAC_SHA256,
                    iterations,
                    &[0u8; SALT_LEN],
                    password.as_bytes(),
                    &[0u8; HASH_LEN],
                );
                return Ok(false);
            };
            if stored.algorithm != ALGORITHM {
                return Err(UserpassError::BadStoredHash("unknown algorithm"));
            }
            let iterations = NonZeroU32::new(stored.iterations)
                .ok_or(UserpassError::BadStoredHash("zero iterations"))?;
            let salt = B64
                .decode(&stored.salt)
                .map_err(|_| UserpassError::BadStoredHash("salt is not base64"))?;
            let expected = Zeroizing::new(
                B64.decode(&stored.hash)
                    .map_err(|_| UserpassError::BadStoredHash("hash is not base64"))?,
            );
            // ring compares the derived key in constant time.
            Ok(pbkdf2::verify(
                pbkdf2::PBKDF2_HMAC_SHA256,
                iterations,
                &salt,
                password.as_bytes(),
                &expected,
            )
            .is_ok())
        })
        .await
    }

    /// Whether `stored` was made with weaker or older parameters than this KDF uses now.
    pub(crate) fn needs_upgrade(&self, stored: &PasswordHash) -> bool {
        stored.version < HASH_VERSION
            || stored.algorithm != ALGORITHM
            || stored.iterations < self.iterations.get()
    }
}

/// Runs CPU-heavy work on tokio's blocking pool so it never stalls the async workers.
async fn run_blocking<T, F>(f: F) -> Result<T, UserpassError>
where
    F: FnOnce() -> Result<T, UserpassError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| UserpassError::KdfTask(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Zeroizing<String> {
        Zeroizing::new(s.to_owned())
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let kdf = Kdf::default();
        let h = kdf.hash(pw("hunter2")).await.unwrap();
        assert_eq!(h.version, HASH_VERSION);
        assert_eq!(h.algorithm, ALGORITHM);
        assert!(h.iterations >= 600_000);
        assert_eq!(B64.decode(&h.salt).unwrap().len(), SALT_LEN);
        assert_eq!(B64.decode(&h.hash).unwrap().len(), HASH_LEN);
        assert!(kdf.verify(Some(h.clone()), pw("hunter2")).await.unwrap());
        assert!(!kdf.verify(Some(h.clone()), pw("hunter3")).await.unwrap());
        assert!(!kdf.verify(None, pw("hunter2")).await.unwrap());
        assert!(!kdf.needs_upgrade(&h));
        // Debug never shows salt or hash.
        let dbg = format!("{h:?}");
        assert!(!dbg.contains(&h.hash) && !dbg.contains(&h.salt), "{dbg}");
    }

    #[tokio::test]
    async fn salts_differ_and_weak_records_need_upgrade() {
        let kdf = Kdf::default();
        let a = kdf.hash(pw("same")).await.unwrap();
        let b = kdf.hash(pw("same")).await.unwrap();
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.hash, b.hash);
        let mut weak = a.clone();
        weak.iterations = 1000;
        assert!(kdf.needs_upgrade(&weak));
        let mut unknown = a;
        unknown.algorithm = "md5".into();
        assert!(matches!(
            kdf.verify(Some(unknown), pw("same")).await,
            Err(UserpassError::BadStoredHash(_))
        ));
    }
}
