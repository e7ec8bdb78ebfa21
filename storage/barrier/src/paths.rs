//! Every reserved physical key. The barrier's [`storage::Storage`] side refuses to read, write or delete them, so
//! nothing above the barrier can overwrite the keyring or the seal's material.

/// The keyring (all terms), encrypted with the root key.
pub const KEYRING: &str = "core/keyring";
/// The root key, encrypted by the seal (Shamir KEK or a KMS).
pub const ROOT_KEY: &str = "core/root-key";
/// The keyring rotation config, encrypted by the barrier itself.
pub const ROTATION_CONFIG: &str = "core/rotation-config";
/// The seal config (type, shares, threshold), stored in plaintext by server-core: it is needed while sealed.
pub const SEAL_CONFIG: &str = "core/seal-config";
/// The recovery-key config of an auto-unseal seal, stored in plaintext by server-core.
pub const RECOVERY_CONFIG: &str = "core/recovery-config";
/// The recovery key of an auto-unseal seal, encrypted by the seal.
pub const RECOVERY_KEY: &str = "core/recovery-key";

/// All reserved keys.
pub const RESERVED: &[&str] = &[
    KEYRING,
    ROOT_KEY,
    ROTATION_CONFIG,
    SEAL_CONFIG,
    RECOVERY_CONFIG,
    RECOVERY_KEY,
];

/// Whether `key` is one of [`RESERVED`].
pub fn is_reserved(key: &str) -> bool {
    RESERVED.contains(&key)
}
