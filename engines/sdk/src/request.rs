//! What an engine receives.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Map, Value};
use storage::View;

use crate::path::RouteMatch;
use crate::{Clock, EngineError};

/// What a request asks to do (HTTP verbs map onto these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// GET.
    Read,
    /// LIST, or GET with `?list=true`.
    List,
    /// POST/PUT to a path the engine's existence check says is new.
    Create,
    /// POST/PUT.
    Update,
    /// DELETE.
    Delete,
    /// PATCH.
    Patch,
}

/// A mount's identity and settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountInfo {
    /// Where it is mounted, with a trailing slash (`secret/`, `auth/userpass/`).
    pub path: String,
    /// Engine type (`kv`, `userpass`, ...).
    pub kind: String,
    /// Unique id of the mount (its storage lives under it).
    pub uuid: String,
    /// Public handle of the mount (`kv_1a2b3c4d`).
    pub accessor: String,
    /// Engine options (`version = "2"` for KV).
    pub options: BTreeMap<String, String>,
    /// Effective default lease TTL.
    pub default_lease_ttl: Duration,
    /// Effective maximum lease TTL.
    pub max_lease_ttl: Duration,
}

/// What the engine may know about the caller's token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The token's accessor.
    pub accessor: String,
    /// The token's display name.
    pub display_name: String,
    /// The token's policies.
    pub policies: Vec<String>,
    /// The identity entity the token belongs to, or empty.
    pub entity_id: String,
    /// Whether the token has the root policy.
    pub root: bool,
    /// An opaque, stable key for the token (the salted hash of its id), for per-token data such as cubbyholes;
    /// never the token itself.
    pub token_key: String,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("display_name", &self.display_name)
            .field("policies", &self.policies)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// One request routed to an engine.
pub struct Request<'a> {
    /// Unique request id.
    pub id: &'a str,
    /// The operation.
    pub operation: Operation,
    /// Path relative to the mount, no leading slash.
    pub path: &'a str,
    /// The matched path-table entry and its captured segments.
    pub route: &'a RouteMatch,
    /// Body fields, or query parameters for reads and lists.
    pub data: &'a Map<String, Value>,
    /// The mount's private storage.
    pub storage: &'a View,
    /// Time source.
    pub clock: &'a dyn Clock,
    /// The mount.
    pub mount: &'a MountInfo,
    /// The caller, when the request carried a valid token (absent on unauthenticated login paths).
    pub caller: Option<&'a Caller>,
    /// The client's address.
    pub remote_addr: Option<SocketAddr>,
    /// Server services the engine may use (password generation).
    pub system: &'a dyn SystemView,
}

impl Request<'_> {
    /// The value captured for `{name}` in the matched pattern.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.route.param(name)
    }
}

/// A lease of this engine being renewed or revoked.
pub struct LeaseRequest<'a> {
    /// The lease id.
    pub lease_id: &'a str,
    /// The secret's kind, as the engine named it when issuing.
    pub kind: &'a str,
    /// What the engine stored with the secret at issue time.
    pub internal: &'a Map<String, Value>,
    /// Requested increment, if any.
    pub increment: Option<Duration>,
    /// When the lease was issued.
    pub issue_time: std::time::SystemTime,
    /// The mount's private storage.
    pub storage: &'a View,
    /// Time source.
    pub clock: &'a dyn Clock,
    /// The mount.
    pub mount: &'a MountInfo,
    /// Server services the engine may use (password generation).
    pub system: &'a dyn SystemView,
}

/// A tick of an engine's periodic work (static-role rotation, tidying), run on the leader only.
pub struct PeriodicRequest<'a> {
    /// The mount's private storage.
    pub storage: &'a View,
    /// Time source.
    pub clock: &'a dyn Clock,
    /// The mount.
    pub mount: &'a MountInfo,
    /// Server services the engine may use (password generation).
    pub system: &'a dyn SystemView,
}

/// What an engine may ask of the server beyond its own storage; the core implements it.
#[async_trait::async_trait]
pub trait SystemView: Send + Sync {
    /// A password generated from the named password policy (`sys/policies/password/<name>`), or from the default
    /// policy (20 characters, each class present) when `policy` is empty. An unknown policy is an
    /// [`EngineError::InvalidRequest`].
    async fn generate_password(&self, policy: &str) -> Result<String, EngineError>;

    /// Adds one to the server's counter `name` with `labels` (shown by `sys/metrics`). For events that are rare
    /// or already slow (a failed rotation, a database error): each call looks the series up.
    fn count(&self, _name: &str, _labels: &[(&str, &str)]) {}
}
