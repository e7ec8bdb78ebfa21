//! The one source of randomness: the OS CSPRNG through `ring::rand::SystemRandom`.

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::BarrierError;

/// Fills `buf` with random bytes.
pub(crate) fn fill(buf: &mut [u8]) -> Result<(), BarrierError> {
    SystemRandom::new()
        .fill(buf)
        .map_err(|_| BarrierError::Random)
}

/// A fresh random 256-bit key.
pub(crate) fn key() -> Result<Zeroizing<[u8; 32]>, BarrierError> {
    let mut k = Zeroizing::new([0u8; 32]);
    fill(k.as_mut_slice())?;
    Ok(k)
}

/// A fresh random 96-bit AES-GCM nonce.
pub(crate) fn nonce() -> Result<[u8; 12], BarrierError> {
    let mut n = [0u8; 12];
    fill(&mut n)?;
    Ok(n)
}

/// Adapts [`SystemRandom`] to the infallible rand_core 0.10 `CryptoRng` vsss-rs wants. A failure cannot be
/// returned through that trait, so it is remembered and the caller must check [`ShamirRng::failed`] afterwards.
#[derive(Default)]
pub(crate) struct ShamirRng {
    failed: bool,
}

impl ShamirRng {
    /// Whether any request for randomness failed (the output must then be discarded).
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }
}

impl rand_core::TryRng for ShamirRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        if fill(dst).is_err() {
            self.failed = true;
            dst.fill(0);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for ShamirRng {}
