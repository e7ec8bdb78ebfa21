//! The error the broker returns to the core.

use engine_sdk::StorageError;

/// Why an audit operation failed. The core maps these to HTTP statuses (server-http's table).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Bad input from the operator (unknown option, bad value, unknown device path): a 400.
    #[error("{0}")]
    InvalidRequest(String),
    /// A device is already enabled at this path or one overlapping it: a 409, as for mounts.
    #[error("path is already in use at {0}")]
    PathInUse(String),
    /// Devices are enabled and none recorded the entry; the reasons name each device. The request must fail.
    #[error("no audit device recorded the entry: {0}")]
    NoDeviceRecorded(String),
    /// Reading or writing the device table, a salt or a chain key failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Something that should not happen (random generator failure, corrupt stored data).
    #[error("internal audit error: {0}")]
    Internal(String),
}
