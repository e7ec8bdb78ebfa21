//! Coffer's wire format: the Vault/OpenBao-compatible JSON bodies, shared by the server and the CLI.
//!
//! Only serde types live here (no behaviour), so the server, the CLI, tests and benches agree on one shape.
#![warn(missing_docs)]

pub mod duration;
pub mod envelope;
pub mod sys;

pub use envelope::{Envelope, ErrorBody, WrapInfo};

/// The version Coffer reports in `sys/seal-status`, `sys/health` and `coffer version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
