//! Storage keys this auth method reserves inside its mount. No key holds a role id, a secret id or an accessor:
//! those appear only as salted HMACs.

/// The mount's random salt for the HMACs below.
pub(crate) const SALT: &str = "salt";
/// Roles, under `role/<lower-cased name>`.
pub(crate) const ROLE_PREFIX: &str = "role/";
/// Role-id index: `role_id/<hmac(role_id)>` → the role's name.
pub(crate) const ROLE_ID_PREFIX: &str = "role_id/";
/// Secret ids: `secret_id/<role uuid>/<hmac(secret_id)>`. The role's random uuid (not its name) keeps a re-created
/// role from inheriting the secret ids of a deleted one.
pub(crate) const SECRET_ID_PREFIX: &str = "secret_id/";
/// Accessor index: `accessor/<hmac(accessor)>` → the secret id's location.
pub(crate) const ACCESSOR_PREFIX: &str = "accessor/";

/// HMAC purpose tags, so the three kinds of value never share a hash space.
pub(crate) const PURPOSE_ROLE_ID: &str = "role_id";
/// See [`PURPOSE_ROLE_ID`].
pub(crate) const PURPOSE_SECRET_ID: &str = "secret_id";
/// See [`PURPOSE_ROLE_ID`].
pub(crate) const PURPOSE_ACCESSOR: &str = "accessor";
