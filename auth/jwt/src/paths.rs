//! Storage keys this auth method reserves inside its mount.

/// The mount's configuration (key source, issuer, algorithms, default role).
pub(crate) const CONFIG: &str = "config";
/// Roles, under `role/<lower-cased name>` (OpenBao's layout).
pub(crate) const ROLE_PREFIX: &str = "role/";
