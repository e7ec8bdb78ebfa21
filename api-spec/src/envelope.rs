//! The response envelope every logical request answers with, and the error body.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body of every successful non-204 answer to a `/v1/` logical request (OpenBao's `logical.HTTPResponse`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    /// Unique id of this request (also in the audit log).
    pub request_id: String,
    /// Lease of the returned secret, or empty.
    pub lease_id: String,
    /// Whether the lease can be renewed.
    pub renewable: bool,
    /// Lease TTL in seconds.
    pub lease_duration: u64,
    /// The handler's data, or null.
    pub data: Option<Map<String, Value>>,
    /// Response-wrapping information, or null.
    pub wrap_info: Option<Value>,
    /// Warnings, or null when there are none.
    pub warnings: Option<Vec<String>>,
    /// Token information from a login or token creation, or null.
    pub auth: Option<Value>,
    /// Type of the mount that answered (Vault adds it; OpenBao clients ignore it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mount_type: String,
}

/// The body of every error answer: `{"errors": ["..."]}` (an empty list for a plain 404).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// Human-readable messages.
    pub errors: Vec<String>,
}
