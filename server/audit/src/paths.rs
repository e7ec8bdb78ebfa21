//! Storage keys reserved by the audit subsystem (all through the barrier).

/// The device table: one JSON value listing every enabled device.
pub const AUDIT_TABLE: &str = "core/audit";
/// Per-device HMAC salts: `sys/audit/salt/<hex of the device path>`. Deleted when the device is disabled.
pub const SALT_PREFIX: &str = "sys/audit/salt/";
/// Per-device-path chain keys of file devices: `sys/audit/chain/<hex of the device path>`. Kept after a
/// disable so the files already written can still be verified, and reused when the path is enabled again.
pub const CHAIN_PREFIX: &str = "sys/audit/chain/";

/// The storage key of `path`'s salt. The path is hex-encoded: device paths contain `/` and any printable text.
pub(crate) fn salt_key(path: &str) -> String {
    format!("{SALT_PREFIX}{}", hex::encode(path))
}

/// The storage key of `path`'s chain key.
pub(crate) fn chain_key(path: &str) -> String {
    format!("{CHAIN_PREFIX}{}", hex::encode(path))
}
