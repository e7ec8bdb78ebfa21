//! The AES-256-GCM value envelope: `[version][term: u32 BE][12-byte nonce][ciphertext + 16-byte tag]`, with the
//! storage path as AAD so a value copied to another key does not open.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::BarrierError;

/// The only envelope format this build writes and reads.
pub(crate) const VERSION: u8 = 1;
/// Bytes before the ciphertext.
pub(crate) const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;
/// AES-GCM tag length.
pub(crate) const TAG_LEN: usize = 16;
/// The term number the keyring itself is written under (encrypted with the root key, not a keyring term).
pub(crate) const ROOT_TERM: u32 = 0;

/// An AES-256-GCM key ready for use.
pub(crate) fn aead_key(key: &[u8; 32]) -> Result<LessSafeKey, BarrierError> {
    // ring only rejects a key of the wrong length, which the array type rules out.
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| BarrierError::InvalidKey)
}

/// Encrypts `plaintext` for storage at `path` under `term`.
pub(crate) fn seal(
    key: &LessSafeKey,
    term: u32,
    path: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, BarrierError> {
    let nonce = crate::rand::nonce()?;
    // Exact capacity: the plaintext is encrypted in place and no reallocation leaves a plaintext copy behind.
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.push(VERSION);
    out.extend_from_slice(&term.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let body = out
        .get_mut(HEADER_LEN..)
        .ok_or_else(|| BarrierError::Corrupt("envelope header".into()))?;
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(path.as_bytes()),
            body,
        )
        .map_err(|_| BarrierError::Corrupt("value too large to encrypt".into()))?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Why an envelope did not open.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// Written under a term this keyring does not hold (maybe rotated on another node).
    UnknownTerm(u32),
    /// Authentication failed, or the value is truncated.
    Integrity,
    /// An envelope version this build does not know.
    Corrupt(String),
}

/// The term a stored value was written under.
pub(crate) fn term_of(value: &[u8]) -> Result<u32, OpenError> {
    match value.first() {
        Some(&VERSION) => {}
        Some(v) => {
            return Err(OpenError::Corrupt(format!(
                "unknown barrier envelope version {v}"
            )));
        }
        None => return Err(OpenError::Integrity),
    }
    let term = value.get(1..5).ok_or(OpenError::Integrity)?;
    let term: [u8; 4] = term.try_into().map_err(|_| OpenError::Integrity)?;
    Ok(u32::from_be_bytes(term))
}

/// Decrypts `value` (read from `path`) in place with `key`, leaving only the plaintext in it.
pub(crate) fn open(key: &LessSafeKey, path: &str, value: &mut Vec<u8>) -> Result<(), OpenError> {
    if value.len() < HEADER_LEN + TAG_LEN {
        return Err(OpenError::Integrity);
    }
    let nonce = value.get(5..HEADER_LEN).ok_or(OpenError::Integrity)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError::Integrity)?;
    let len = key
        .open_within(nonce, Aad::from(path.as_bytes()), value, HEADER_LEN..)
        .map_err(|_| OpenError::Integrity)?
        .len();
    value.truncate(len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(b: u8) -> LessSafeKey {
        aead_key(&[b; 32]).unwrap()
    }

    #[test]
    fn header_layout() {
        let v = seal(&key(1), 0x0102_0304, "a/b", b"hello").unwrap();
        assert_eq!(v[0], VERSION);
        assert_eq!(&v[1..5], &[1, 2, 3, 4]);
        assert_eq!(v.len(), HEADER_LEN + 5 + TAG_LEN);
        assert_eq!(term_of(&v).unwrap(), 0x0102_0304);
    }

    #[test]
    fn wrong_path_key_or_tamper_fails() {
        let v = seal(&key(1), 1, "a/b", b"hello").unwrap();
        assert!(matches!(
            open(&key(1), "a/c", &mut v.clone()),
            Err(OpenError::Integrity)
        ));
        assert!(matches!(
            open(&key(2), "a/b", &mut v.clone()),
            Err(OpenError::Integrity)
        ));
        for i in HEADER_LEN..v.len() {
            let mut t = v.clone();
            t[i] ^= 1;
            assert!(
                matches!(open(&key(1), "a/b", &mut t), Err(OpenError::Integrity)),
                "byte {i}"
            );
        }
        assert!(matches!(
            open(&key(1), "a/b", &mut v[..v.len() - 1].to_vec()),
            Err(OpenError::Integrity)
        ));
        let mut bad_version = v.clone();
        bad_version[0] = 9;
        assert!(matches!(term_of(&bad_version), Err(OpenError::Corrupt(_))));
        assert!(matches!(term_of(&[]), Err(OpenError::Integrity)));
    }

    #[test]
    fn nonces_differ() {
        let a = seal(&key(1), 1, "p", b"same").unwrap();
        let b = seal(&key(1), 1, "p", b"same").unwrap();
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn round_trip(k in any::<[u8; 32]>(), term in any::<u32>(), path in "[a-z0-9/_-]{1,40}",
                      data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let key = aead_key(&k).unwrap();
            let mut v = seal(&key, term, &path, &data).unwrap();
            prop_assert_eq!(term_of(&v).unwrap(), term);
            open(&key, &path, &mut v).unwrap();
            prop_assert_eq!(v, data);
        }
    }
}
