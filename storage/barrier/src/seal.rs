//! Seals protect the root key at rest: [`ShamirSeal`] with a KEK recombined from unseal shares; KMS seals
//! (transit, AWS KMS) implement [`Seal`] elsewhere.

use async_trait::async_trait;
use ring::aead::{Aad, LessSafeKey, NONCE_LEN, Nonce};
use storage::Backend;
use zeroize::Zeroizing;

use crate::{BarrierError, RootKey, paths};

/// Something that can encrypt and decrypt the root key.
#[async_trait]
pub trait Seal: Send + Sync {
    /// The seal type as `sys/seal-status` reports it (`shamir`, `transit`, `awskms`, ...).
    fn kind(&self) -> &'static str;
    /// Encrypts `plaintext`.
    async fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, BarrierError>;
    /// Decrypts what [`Seal::encrypt`] produced; a blob this seal's key did not produce is
    /// [`BarrierError::InvalidKey`].
    async fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, BarrierError>;
}

/// ShamirSeal blob format: `[version][12-byte nonce][AES-256-GCM ciphertext + tag]`.
const SHAMIR_VERSION: u8 = 1;
/// Domain-separates ShamirSeal blobs from barrier values encrypted with the same primitive.
const SHAMIR_AAD: &[u8] = b"coffer/shamir-seal/v1";

/// The Shamir seal: AES-256-GCM under the 32-byte unseal key (KEK) recombined from the operators' shares.
pub struct ShamirSeal {
    kek: LessSafeKey,
}

impl ShamirSeal {
    /// KEK length in bytes.
    pub const KEK_LEN: usize = 32;

    /// A seal for `kek`, which must be 32 bytes ([`BarrierError::InvalidKey`] otherwise: e.g. shares of
    /// different splits).
    pub fn new(kek: Zeroizing<Vec<u8>>) -> Result<Self, BarrierError> {
        let key: &[u8; 32] = kek
            .as_slice()
            .try_into()
            .map_err(|_| BarrierError::InvalidKey)?;
        Ok(Self {
            kek: crate::envelope::aead_key(key)?,
        })
    }

    /// A fresh random KEK, to split into shares at initialization.
    pub fn generate_kek() -> Result<Zeroizing<Vec<u8>>, BarrierError> {
        Ok(Zeroizing::new(crate::rand::key()?.to_vec()))
    }
}

impl std::fmt::Debug for ShamirSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShamirSeal(<redacted>)")
    }
}

#[async_trait]
impl Seal for ShamirSeal {
    fn kind(&self) -> &'static str {
        "shamir"
    }

    async fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, BarrierError> {
        let nonce = crate::rand::nonce()?;
        let mut out =
            Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + crate::envelope::TAG_LEN);
        out.push(SHAMIR_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let body = out
            .get_mut(1 + NONCE_LEN..)
            .ok_or_else(|| BarrierError::Corrupt("seal header".into()))?;
        let tag = self
            .kek
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(SHAMIR_AAD),
                body,
            )
            .map_err(|_| BarrierError::Seal("plaintext too large".into()))?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    async fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
        let Some((&version, rest)) = ciphertext.split_first() else {
            return Err(BarrierError::Corrupt("empty shamir seal blob".into()));
        };
        if version != SHAMIR_VERSION {
            return Err(BarrierError::Corrupt(format!(
                "unknown shamir seal blob version {version}"
            )));
        }
        let Some((nonce, _)) = rest.split_first_chunk::<NONCE_LEN>() else {
            return Err(BarrierError::Corrupt("truncated shamir seal blob".into()));
        };
        let nonce = Nonce::assume_unique_for_key(*nonce);
        let mut buf = Zeroizing::new(rest.to_vec());
        let len = self
            .kek
            .open_within(nonce, Aad::from(SHAMIR_AAD), &mut buf, NONCE_LEN..)
            .map_err(|_| BarrierError::InvalidKey)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

/// Format byte in front of the seal's blob at [`paths::ROOT_KEY`].
const ROOT_KEY_FORMAT: u8 = 1;

/// Encrypts `root` with `seal` and stores it at [`paths::ROOT_KEY`] (replacing any previous one).
pub async fn store_root_key(
    physical: &dyn Backend,
    seal: &dyn Seal,
    root: &RootKey,
) -> Result<(), BarrierError> {
    physical
        .put(paths::ROOT_KEY, wrap_root_key(seal, root).await?)
        .await?;
    Ok(())
}

/// The value [`store_root_key`] writes.
pub(crate) async fn wrap_root_key(
    seal: &dyn Seal,
    root: &RootKey,
) -> Result<Vec<u8>, BarrierError> {
    let blob = seal.encrypt(root.as_bytes()).await?;
    let mut value = Vec::with_capacity(1 + blob.len());
    value.push(ROOT_KEY_FORMAT);
    value.extend_from_slice(&blob);
    Ok(value)
}

/// Reads and decrypts the root key. A seal with the wrong key (e.g. a KEK recombined from too few shares) gives
/// [`BarrierError::InvalidKey`]; no stored root key gives [`BarrierError::NotInitialized`].
pub async fn load_root_key(
    physical: &dyn Backend,
    seal: &dyn Seal,
) -> Result<RootKey, BarrierError> {
    let Some(value) = physical.get(paths::ROOT_KEY).await? else {
        return Err(BarrierError::NotInitialized);
    };
    let Some((&format, blob)) = value.split_first() else {
        return Err(BarrierError::Corrupt("empty root key".into()));
    };
    if format != ROOT_KEY_FORMAT {
        return Err(BarrierError::Corrupt(format!(
            "unknown root key format {format}"
        )));
    }
    let plain = seal.decrypt(blob).await?;
    RootKey::from_bytes(&plain)
        .map_err(|_| BarrierError::Corrupt("root key has the wrong length".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shamir;
    use storage::InMem;
    use subtle::ConstantTimeEq;

    #[tokio::test]
    async fn shamir_seal_round_trip_and_wrong_kek() {
        let kek = ShamirSeal::generate_kek().unwrap();
        let seal = ShamirSeal::new(kek).unwrap();
        assert_eq!(seal.kind(), "shamir");
        let blob = seal.encrypt(b"root key bytes").await.unwrap();
        assert_eq!(
            seal.decrypt(&blob).await.unwrap().as_slice(),
            b"root key bytes"
        );
        let other = ShamirSeal::new(ShamirSeal::generate_kek().unwrap()).unwrap();
        assert!(matches!(
            other.decrypt(&blob).await,
            Err(BarrierError::InvalidKey)
        ));
        assert!(matches!(
            ShamirSeal::new(Zeroizing::new(vec![0; 33])),
            Err(BarrierError::InvalidKey)
        ));
        assert!(format!("{seal:?}").contains("redacted"));
    }

    #[tokio::test]
    async fn root_key_through_shamir_shares() {
        let physical = InMem::new();
        assert!(matches!(
            load_root_key(
                &physical,
                &ShamirSeal::new(ShamirSeal::generate_kek().unwrap()).unwrap()
            )
            .await,
            Err(BarrierError::NotInitialized)
        ));
        let kek = ShamirSeal::generate_kek().unwrap();
        let shares = shamir::split(&kek, 5, 3).unwrap();
        let root = RootKey::generate().unwrap();
        store_root_key(&physical, &ShamirSeal::new(kek).unwrap(), &root)
            .await
            .unwrap();

        // Threshold shares recover the root key.
        let kek =
            shamir::combine(&[shares[4].clone(), shares[0].clone(), shares[2].clone()]).unwrap();
        let loaded = load_root_key(&physical, &ShamirSeal::new(kek).unwrap())
            .await
            .unwrap();
        assert!(bool::from(loaded.ct_eq(&root)));

        // Too few shares recombine to a well-formed but wrong KEK, which the AEAD rejects.
        let wrong = shamir::combine(&shares[..2]).unwrap();
        assert_eq!(wrong.len(), 32);
        let seal = ShamirSeal::new(wrong).unwrap();
        assert!(matches!(
            load_root_key(&physical, &seal).await,
            Err(BarrierError::InvalidKey)
        ));
    }

    #[tokio::test]
    async fn one_of_one_share_is_the_kek() {
        let physical = InMem::new();
        let kek = ShamirSeal::generate_kek().unwrap();
        let shares = shamir::split(&kek, 1, 1).unwrap();
        let root = RootKey::generate().unwrap();
        store_root_key(&physical, &ShamirSeal::new(kek).unwrap(), &root)
            .await
            .unwrap();
        let seal = ShamirSeal::new(shamir::combine(&shares).unwrap()).unwrap();
        assert!(bool::from(
            load_root_key(&physical, &seal).await.unwrap().ct_eq(&root)
        ));
    }
}
