//! Server configuration: HCL in Vault's shape, parsed raw then validated.
//!
//! [`Config::load`] reads a file such as OpenBao's
//!
//! ```hcl
//! storage "raft" {
//!   path    = "/opt/openbao/data"
//!   node_id = "node1"
//! }
//! listener "tcp" {
//!   address     = "127.0.0.1:8200"
//!   tls_disable = "true"
//! }
//! api_addr     = "http://127.0.0.1:8200"
//! cluster_addr = "http://127.0.0.1:8201"
//! ```
//!
//! in two steps: [`raw::RawConfig::parse`] keeps the stanzas as written and reports unknown keys with their line,
//! then `Config::try_from` checks values and applies OpenBao's defaults.

mod error;
mod keys;
pub mod raw;
mod reload;
mod validate;

pub use error::{ConfigError, Location};
pub use raw::RawConfig;
pub use validate::{
    AuditStanza, Config, DEFAULT_ADDRESS, DEFAULT_LEASE_TTL, DEFAULT_MAX_REQUEST_DURATION,
    DEFAULT_MAX_REQUEST_SIZE, DEFAULT_NODE_ID, DEFAULT_PERFORMANCE_MULTIPLIER, Listener, LogFormat,
    LogLevel, MAX_PERFORMANCE_MULTIPLIER, RaftStorage, RetryJoin, SealConfig, StorageConfig,
    TlsConfig, TlsVersion,
};

#[cfg(test)]
mod tests;
