//! Randomness for the core, from the OS CSPRNG.

use ring::rand::{SecureRandom, SystemRandom};

use crate::CoreError;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` random base62 characters (lease ids), without modulo bias.
pub(crate) fn base62(n: usize) -> Result<String, CoreError> {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        rng.fill(&mut buf)
            .map_err(|_| CoreError::Internal("the system random generator failed".into()))?;
        // 248 = 4 × 62: bytes at or above it would bias the first characters.
        for b in buf.iter().filter(|b| **b < 248) {
            if out.len() == n {
                break;
            }
            if let Some(c) = BASE62.get(usize::from(*b) % 62) {
                out.push(char::from(*c));
            }
        }
    }
    Ok(out)
}

/// A random number below `bound` (jitter), without modulo bias.
pub(crate) fn below(bound: u32) -> Result<u32, CoreError> {
    let rng = SystemRandom::new();
    let bound = bound.max(1);
    let limit = u32::MAX - u32::MAX % bound;
    loop {
        let mut b = [0u8; 4];
        rng.fill(&mut b)
            .map_err(|_| CoreError::Internal("the system random generator failed".into()))?;
        let v = u32::from_le_bytes(b);
        if v < limit {
            return Ok(v % bound);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    #[test]
    fn base62_and_below() {
        let s = super::base62(24).unwrap();
        assert_eq!(s.len(), 24);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(s, super::base62(24).unwrap());
        assert!((0..100).all(|_| super::below(7).unwrap() < 7));
    }
}
