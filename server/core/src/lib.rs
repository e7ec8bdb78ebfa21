//! Coffer's core: the seal state machine, the request pipeline and the `sys/` handlers.
//!
//! It knows storage only through `storage::Backend` (ciphertext) and the barrier, and the cluster only through
//! the [`Cluster`] trait, so it depends on no concrete engine, on no raft and on no HTTP framework.

mod audit;
mod clock;
mod cluster;
mod core;
mod cubbyhole;
mod error;
mod expiration;
mod identity;
mod metrics;
mod mount_table;
mod mounts;
mod paths;
mod periodic;
mod pipeline;
mod policy_store;
mod random;
mod request;
mod router;
mod seal_config;
mod sys;
mod system;
mod unseal;
mod wrapping;

pub use crate::audit::{
    AuditAuth, AuditBroker, AuditEntry, AuditError, AuditHeaders, AuditMount, AuditReconcile,
};
pub use crate::clock::{Clock, SystemClock};
pub use crate::cluster::{Cluster, ClusterStatus, Standalone};
pub use crate::core::{Core, CoreOptions, DeclaredAudit, ReloadableConfig};
pub use crate::error::CoreError;
pub use crate::expiration::ExpirationConfig;
pub use crate::metrics::{
    Collect, Counter, Gauge, Metrics, PROMETHEUS_CONTENT_TYPE, Sample, SampleValue, prometheus_name,
};
pub use crate::mounts::Catalog;
pub use crate::request::{Headers, Lease, Operation, RawBody, RawJson, Request, Response, Token};
