//! The root key: it encrypts the keyring and is itself protected by the seal.

use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::BarrierError;

/// The 256-bit root key. Never printed: its `Debug` is redacted.
pub struct RootKey(Zeroizing<[u8; 32]>);

impl RootKey {
    /// Key length in bytes.
    pub const LEN: usize = 32;

    /// A fresh random root key.
    pub fn generate() -> Result<Self, BarrierError> {
        crate::rand::key().map(Self)
    }

    /// A root key from its 32 bytes; any other length is [`BarrierError::InvalidKey`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BarrierError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| BarrierError::InvalidKey)?;
        // Move into zeroizing storage, then wipe the stack copy.
        let key = Self(Zeroizing::new(arr));
        let mut arr = arr;
        zeroize::Zeroize::zeroize(&mut arr);
        Ok(key)
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn duplicate(&self) -> Self {
        Self(self.0.clone())
    }
}

impl ConstantTimeEq for RootKey {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.as_slice().ct_eq(other.0.as_slice())
    }
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_debug() {
        assert!(matches!(
            RootKey::from_bytes(&[0; 31]),
            Err(BarrierError::InvalidKey)
        ));
        assert!(matches!(
            RootKey::from_bytes(&[0; 33]),
            Err(BarrierError::InvalidKey)
        ));
        let k = RootKey::from_bytes(&[7; 32]).unwrap();
        assert_eq!(format!("{k:?}"), "RootKey(<redacted>)");
        let a = RootKey::generate().unwrap();
        let b = RootKey::generate().unwrap();
        assert!(bool::from(a.ct_eq(&a)));
        assert!(!bool::from(a.ct_eq(&b)));
    }
}
