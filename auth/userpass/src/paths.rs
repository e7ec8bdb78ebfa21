//! Storage keys this auth method reserves inside its mount.

/// Users live under `user/<lower-cased name>` (OpenBao's layout).
pub(crate) const USER_PREFIX: &str = "user/";
