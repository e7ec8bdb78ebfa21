//! Coffer's audit subsystem (DESIGN.md §1, §2): audit devices, the HMAC of sensitive values, and the broker the
//! request pipeline calls before routing and after the response.
//!
//! Entries are written in OpenBao's JSON layout (one object per line, `{"time","type","auth","request",
//! "response","error"}`) so parsers built for OpenBao or Vault audit logs keep working. Beyond OpenBao:
//! devices are written in parallel with a per-device timeout (a hung socket cannot stall requests another
//! device recorded), and the file device chains its lines with HMACs so edits, deletions, reordering and
//! truncation can be detected with [`verify`].
#![warn(missing_docs)]

mod broker;
mod chain;
mod device;
pub mod entry;
mod error;
mod file;
mod format;
mod hmac;
mod input;
mod options;
pub mod paths;
mod random;
mod socket;
mod syslog;
mod table;

pub use broker::{Broker, DEFAULT_DEVICE_TIMEOUT, DeviceFailures, DeviceInfo};
pub use chain::{Failure, Tamper, VerifyReport, verify};
pub use device::{AuditDevice, DeviceError};
pub use error::AuditError;
pub use input::{
    AuditInput, AuthInfo, EntryKind, PolicyInfo, PolicyResults, RequestInfo, ResponseInfo, WrapInfo,
};
