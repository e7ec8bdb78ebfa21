//! Storage keys this auth method reserves inside its mount (OpenBao's layout).

/// The single configuration entry.
pub(crate) const CONFIG_KEY: &str = "config";
/// Roles live under `role/<lower-cased name>`.
pub(crate) const ROLE_PREFIX: &str = "role/";
