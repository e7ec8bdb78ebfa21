//! Storage keys this engine reserves inside its mount. The layout follows OpenBao's (`config/`, `role/`,
//! `static-role/`) so an operator reading a storage dump finds the same names.

/// Connection configs: `config/<name>`.
pub(crate) const CONFIG_PREFIX: &str = "config/";
/// Dynamic roles: `role/<name>`.
pub(crate) const ROLE_PREFIX: &str = "role/";
/// Static roles (definition and rotation state): `static-role/<name>`.
pub(crate) const STATIC_ROLE_PREFIX: &str = "static-role/";
/// A root rotation in flight: `rotate-root-pending/<config name>`, written before the database is changed.
pub(crate) const ROOT_PENDING_PREFIX: &str = "rotate-root-pending/";
/// Credentials created in the database whose lease is not committed yet: `pending/<digest of the user name>`,
/// written before the user is created and deleted by the core in the write that registers the lease.
pub(crate) const PENDING_PREFIX: &str = "pending/";
