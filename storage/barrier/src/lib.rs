//! Coffer's encrypted barrier.
//!
//! Key hierarchy (as Vault): values are AES-256-GCM encrypted by the *keyring* (numbered terms; the highest
//! encrypts, all decrypt), the keyring is stored at [`paths::KEYRING`] encrypted by the [`RootKey`], and the root
//! key is stored at [`paths::ROOT_KEY`] encrypted by a [`Seal`] — [`ShamirSeal`] uses a key recombined from
//! unseal shares ([`shamir`]). [`Barrier`] is the plaintext [`storage::Storage`] over a ciphertext
//! [`storage::Backend`].
//!
//! Value format: `[version = 1][term: u32 BE][12-byte random nonce][ciphertext + 16-byte tag]`, AAD = the
//! storage path.

pub mod paths;
pub mod shamir;

mod barrier;
mod envelope;
mod error;
mod keyring;
mod rand;
mod root_key;
mod seal;

pub use barrier::Barrier;
pub use error::BarrierError;
pub use keyring::{
    KeyStatus, MAX_OPERATIONS_LIMIT, MIN_INTERVAL, MIN_MAX_OPERATIONS, RotationConfig,
};
pub use root_key::RootKey;
pub use seal::{Seal, ShamirSeal, load_root_key, store_root_key};
pub use zeroize::Zeroizing;
