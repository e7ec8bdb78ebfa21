//! Storage keys reserved by the core.

/// Seal configuration (plaintext JSON in the physical store: it is needed before the barrier can be opened).
pub(crate) const SEAL_CONFIG: &str = "core/seal-config";
/// Cluster name and id (through the barrier).
pub(crate) const CLUSTER_INFO: &str = "core/cluster-info";
/// The token store's view (through the barrier).
pub(crate) const TOKEN_VIEW: &str = "sys/token/";
