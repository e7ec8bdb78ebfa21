//! Reserved keys inside the token store's view. No key ever holds a token or an accessor, only their salted
//! hashes.

/// Per-store random salt for hashing token ids and accessors.
pub(crate) const SALT: &str = "salt";
/// The AEAD key that seals batch tokens.
pub(crate) const BATCH_KEY: &str = "batch-key";
/// Token entries, keyed by the salted hash of the token id.
pub(crate) const ID_PREFIX: &str = "id/";
/// Accessor index, keyed by the salted hash of the accessor; the value is the token's salted hash.
pub(crate) const ACCESSOR_PREFIX: &str = "accessor/";
/// Children index: `parent/<parent key>/<child key>` (empty values).
pub(crate) const PARENT_PREFIX: &str = "parent/";
/// Token roles, by name.
pub(crate) const ROLES_PREFIX: &str = "roles/";
