//! Randomness for salts and chain keys, from the OS CSPRNG.

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::AuditError;

/// Length of every salt and chain key, in bytes.
pub(crate) const KEY_LEN: usize = 32;

/// A fresh random key.
pub(crate) fn key() -> Result<Zeroizing<Vec<u8>>, AuditError> {
    let mut k = Zeroizing::new(vec![0u8; KEY_LEN]);
    SystemRandom::new()
        .fill(&mut k)
        .map_err(|_| AuditError::Internal("the system random generator failed".into()))?;
    Ok(k)
}
