//! Storage keys reserved by the core.

/// Seal configuration (plaintext JSON in the physical store: it is needed before the barrier can be opened).
pub(crate) const SEAL_CONFIG: &str = "core/seal-config";
/// Cluster name and id (through the barrier).
pub(crate) const CLUSTER_INFO: &str = "core/cluster-info";
/// The token store's view (through the barrier).
pub(crate) const TOKEN_VIEW: &str = "sys/token/";
/// The secrets-engine mount table (through the barrier).
pub(crate) const MOUNT_TABLE: &str = "core/mounts";
/// The auth-method mount table (through the barrier).
pub(crate) const AUTH_TABLE: &str = "core/auth";
/// ACL policies, one key per name (through the barrier).
pub(crate) const POLICY_PREFIX: &str = "sys/policy/";
/// Storage of secrets-engine mounts: `logical/<uuid>/`.
pub(crate) const LOGICAL_PREFIX: &str = "logical/";
/// Storage of auth-method mounts: `auth/<uuid>/`.
pub(crate) const AUTH_PREFIX: &str = "auth/";
/// Password policies, one key per name (through the barrier).
pub(crate) const PASSWORD_POLICY_PREFIX: &str = "sys/password_policy/";
/// The audited request headers (`sys/config/auditing/request-headers`, through the barrier; OpenBao's key).
pub(crate) const AUDITED_HEADERS: &str = "sys/audited-headers-config/audited-headers";
