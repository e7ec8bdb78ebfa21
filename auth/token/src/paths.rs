//! Reserved keys inside the token store's view.

/// Per-store random salt for hashing token ids and accessors.
pub(crate) const SALT: &str = "salt";
/// Token entries, keyed by the salted hash of the token id.
pub(crate) const ID_PREFIX: &str = "id/";
/// Accessor index, keyed by the salted hash of the accessor; the value is the token's salted hash.
pub(crate) const ACCESSOR_PREFIX: &str = "accessor/";
