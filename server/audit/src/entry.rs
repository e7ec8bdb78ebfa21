//! The audit entry as written: OpenBao's field names and order, empty fields left out (Go's `omitempty`).
//!
//! Public so tools and tests can parse a log line back. File devices append `seq`, `prev` and `mac` (the
//! tamper-evidence chain) after these fields; they are ignored when parsing an [`Entry`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn no_data(d: &Option<Map<String, Value>>) -> bool {
    d.as_ref().is_none_or(Map::is_empty)
}

/// One audit log line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339 with nanoseconds, UTC.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub time: String,
    /// `request` or `response`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<EntryAuth>,
    /// The request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<EntryRequest>,
    /// The response (response entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<EntryResponse>,
    /// The error returned to the client.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// A machine-readable reason code for the error (Coffer extension).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// A token, as written in `auth` and `response.auth`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryAuth {
    /// HMAC of the token.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_token: String,
    /// Accessor (HMAC'd unless `hmac_accessor=false`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub accessor: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    /// All policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// Token policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_policies: Vec<String>,
    /// Identity policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity_policies: Vec<String>,
    /// Whether `default` was left out.
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_default_policy: bool,
    /// The ACL's verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_results: Option<EntryPolicyResults>,
    /// Token metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Allowed uses.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_uses: u64,
    /// Remaining uses.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub remaining_uses: u64,
    /// Entity id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub entity_id: String,
    /// `service`, `batch` or `default`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_type: String,
    /// TTL in seconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub token_ttl: u64,
    /// Issue time, RFC 3339.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_issue_time: String,
}

/// The ACL's verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryPolicyResults {
    /// Whether the request was allowed.
    pub allowed: bool,
    /// The granting policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granting_policies: Vec<EntryPolicyInfo>,
}

/// One granting policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryPolicyInfo {
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Namespace id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace_id: String,
    /// Namespace path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace_path: String,
    /// Policy type.
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// The namespace of a request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryNamespace {
    /// Namespace id (`root`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Namespace path (empty for root).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
}

/// The request section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryRequest {
    /// Request id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Operation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operation: String,
    /// Mount path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mount_point: String,
    /// Mount type.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mount_type: String,
    /// Mount accessor.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mount_accessor: String,
    /// HMAC of the client token.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_token: String,
    /// Client token accessor (HMAC'd unless `hmac_accessor=false`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_token_accessor: String,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<EntryNamespace>,
    /// Request path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Request data, string values HMAC'd.
    #[serde(default, skip_serializing_if = "no_data")]
    pub data: Option<Map<String, Value>>,
    /// Client address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_address: String,
    /// Client port.
    #[serde(default, skip_serializing_if = "is_zero_u16")]
    pub remote_port: u16,
    /// Requested wrap TTL, seconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub wrap_ttl: u64,
    /// Audited headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Vec<String>>,
}

fn is_zero_u16(n: &u16) -> bool {
    *n == 0
}

/// A leased secret's id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntrySecret {
    /// Lease id (never HMAC'd).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub lease_id: String,
}

/// Response-wrapping information.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryWrapInfo {
    /// TTL, seconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ttl: u64,
    /// HMAC of the wrapping token.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// Wrapping token accessor.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub accessor: String,
    /// Creation time, RFC 3339 with nanoseconds.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub creation_time: String,
    /// Wrapped path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub creation_path: String,
    /// Accessor of a wrapped token.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub wrapped_accessor: String,
}

/// The response section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryResponse {
    /// A login's new token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<EntryAuth>,
    /// Mount path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mount_point: String,
    /// Mount type.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mount_type: String,
    /// Mount accessor.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mount_accessor: String,
    /// The leased secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<EntrySecret>,
    /// Response data, string values HMAC'd.
    #[serde(default, skip_serializing_if = "no_data")]
    pub data: Option<Map<String, Value>>,
    /// Warnings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Wrapping information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrap_info: Option<EntryWrapInfo>,
}
