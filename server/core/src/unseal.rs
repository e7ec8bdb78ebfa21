//! Unseal progress: the key shares entered so far, kept only in memory on this node.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::CoreError;

/// Shares collected towards the threshold, with the nonce that identifies this attempt.
#[derive(Default)]
pub(crate) struct Progress {
    shares: Vec<Zeroizing<Vec<u8>>>,
    nonce: String,
}

impl Progress {
    pub(crate) fn count(&self) -> usize {
        self.shares.len()
    }

    pub(crate) fn nonce(&self) -> &str {
        &self.nonce
    }

    pub(crate) fn reset(&mut self) {
        // Dropping the Zeroizing buffers wipes them.
        self.shares.clear();
        self.nonce.clear();
    }

    /// Adds a share; a share already entered is ignored, as OpenBao does.
    pub(crate) fn add(&mut self, share: Zeroizing<Vec<u8>>) {
        if self
            .shares
            .iter()
            .any(|s| bool::from(s.as_slice().ct_eq(share.as_slice())))
        {
            return;
        }
        if self.shares.is_empty() {
            self.nonce = uuid::Uuid::new_v4().to_string();
        }
        self.shares.push(share);
    }

    /// Takes the collected shares, leaving the progress empty.
    pub(crate) fn take(&mut self) -> Vec<Zeroizing<Vec<u8>>> {
        self.nonce.clear();
        std::mem::take(&mut self.shares)
    }
}

/// Decodes a share given as hex or base64, as `sys/unseal` accepts both.
pub(crate) fn decode_share(key: &str) -> Result<Zeroizing<Vec<u8>>, CoreError> {
    use base64::Engine as _;
    let key = key.trim();
    if key.is_empty() {
        return Err(CoreError::InvalidRequest(
            "'key' must be specified in request body as JSON, or 'reset' set to true".into(),
        ));
    }
    if let Ok(bytes) = hex::decode(key) {
        return Ok(Zeroizing::new(bytes));
    }
    base64::engine::general_purpose::STANDARD
        .decode(key)
        .map(Zeroizing::new)
        .map_err(|_| CoreError::InvalidRequest("'key' must be a valid hex or base64 string".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_hex_and_base64() {
        assert_eq!(decode_share("0a0b").unwrap().as_slice(), &[10, 11]);
        assert_eq!(decode_share("CgsM").unwrap().as_slice(), &[10, 11, 12]);
        assert!(decode_share("not a key!").is_err());
        assert!(decode_share("").is_err());
    }

    #[test]
    fn duplicates_ignored_and_nonce_lifecycle() {
        let mut p = Progress::default();
        assert_eq!(p.nonce(), "");
        p.add(Zeroizing::new(vec![1, 2]));
        let nonce = p.nonce().to_owned();
        assert!(!nonce.is_empty());
        p.add(Zeroizing::new(vec![1, 2]));
        assert_eq!(p.count(), 1);
        p.add(Zeroizing::new(vec![3]));
        assert_eq!((p.count(), p.nonce()), (2, nonce.as_str()));
        assert_eq!(p.take().len(), 2);
        assert_eq!((p.count(), p.nonce()), (0, ""));
    }
}
