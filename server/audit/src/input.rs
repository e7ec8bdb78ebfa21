//! What the core's pipeline hands the broker: plain data about one request or response, before any HMAC.
//!
//! These types hold tokens and request bodies in the clear, so their `Debug` output is redacted.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use serde_json::{Map, Value};

/// Whether an entry records a request (before routing) or its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// The request, written before it is routed.
    Request,
    /// The response (or error), written after routing.
    Response,
}

impl EntryKind {
    /// The entry's `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Response => "response",
        }
    }
}

/// One request or response to record.
#[derive(Debug, Clone)]
pub struct AuditInput {
    /// Request or response entry.
    pub kind: EntryKind,
    /// When the entry was produced (written as RFC 3339 with nanoseconds, UTC).
    pub time: SystemTime,
    /// The request.
    pub request: RequestInfo,
    /// The caller's token, when one was presented and looked up.
    pub auth: Option<AuthInfo>,
    /// The response, for response entries of requests that produced one.
    pub response: Option<ResponseInfo>,
    /// The error returned to the client, when the request failed.
    pub error: Option<String>,
    /// A machine-readable reason code for the error, when the pipeline has one (Coffer extension).
    pub reason: Option<String>,
    /// Request data keys left unhashed (the mount's `audit_non_hmac_request_keys`).
    pub non_hmac_request_keys: Vec<String>,
    /// Response data keys left unhashed (the mount's `audit_non_hmac_response_keys`).
    pub non_hmac_response_keys: Vec<String>,
}

impl AuditInput {
    /// A request entry for `request` at `time`, with nothing else known yet.
    pub fn request(time: SystemTime, request: RequestInfo) -> Self {
        Self {
            kind: EntryKind::Request,
            time,
            request,
            auth: None,
            response: None,
            error: None,
            reason: None,
            non_hmac_request_keys: Vec::new(),
            non_hmac_response_keys: Vec::new(),
        }
    }
}

/// The request as the pipeline saw it.
#[derive(Clone, Default)]
pub struct RequestInfo {
    /// The request id (also in the response envelope).
    pub id: String,
    /// `read`, `update`, `create`, `delete`, `list` or `patch`.
    pub operation: String,
    /// The full request path (without `/v1/`).
    pub path: String,
    /// The body or query data.
    pub data: Option<Map<String, Value>>,
    /// The client's IP address.
    pub remote_address: String,
    /// The client's port.
    pub remote_port: u16,
    /// The requested response-wrapping TTL in seconds (0 = none).
    pub wrap_ttl: u64,
    /// The audited request headers, already filtered by `sys/config/auditing/request-headers`.
    pub headers: BTreeMap<String, Vec<String>>,
    /// Names of the headers whose values are HMAC'd (those configured with `hmac=true`), case-insensitive.
    pub hmac_headers: Vec<String>,
    /// The client token as sent.
    pub client_token: String,
    /// The client token's accessor.
    pub client_token_accessor: String,
    /// The matched mount's path (with trailing slash).
    pub mount_point: String,
    /// The matched mount's engine type.
    pub mount_type: String,
    /// The matched mount's accessor.
    pub mount_accessor: String,
    /// The namespace id; empty means `root`.
    pub namespace: String,
}

impl fmt::Debug for RequestInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestInfo")
            .field("id", &self.id)
            .field("operation", &self.operation)
            .field("path", &self.path)
            .field("mount_point", &self.mount_point)
            .finish_non_exhaustive()
    }
}

/// A token's audit view: the caller's token in `AuditInput::auth`, or a login's new token in a response.
#[derive(Clone, Default)]
pub struct AuthInfo {
    /// The token (HMAC'd when written).
    pub client_token: String,
    /// Its accessor (HMAC'd unless the device has `hmac_accessor=false`).
    pub accessor: String,
    /// Display name.
    pub display_name: String,
    /// All policies.
    pub policies: Vec<String>,
    /// Policies attached to the token itself.
    pub token_policies: Vec<String>,
    /// Policies coming from the identity entity and its groups.
    pub identity_policies: Vec<String>,
    /// Whether the `default` policy was left out.
    pub no_default_policy: bool,
    /// Token metadata (written in the clear, as OpenBao).
    pub metadata: BTreeMap<String, String>,
    /// Entity id, or empty.
    pub entity_id: String,
    /// `service` or `batch` (empty is written as `default`, as OpenBao does).
    pub token_type: String,
    /// TTL in seconds.
    pub token_ttl: u64,
    /// Allowed uses (0 = unlimited).
    pub num_uses: u64,
    /// Uses left after this request.
    pub remaining_uses: u64,
    /// When the token was issued.
    pub token_issue_time: Option<SystemTime>,
    /// The ACL's verdict, once decided.
    pub policy_results: Option<PolicyResults>,
}

impl fmt::Debug for AuthInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthInfo")
            .field("display_name", &self.display_name)
            .field("policies", &self.policies)
            .field("token_type", &self.token_type)
            .finish_non_exhaustive()
    }
}

/// The ACL's verdict on a request.
#[derive(Debug, Clone, Default)]
pub struct PolicyResults {
    /// Whether the request was allowed.
    pub allowed: bool,
    /// The policies that granted it.
    pub granting_policies: Vec<PolicyInfo>,
}

/// One policy that granted a request.
#[derive(Debug, Clone, Default)]
pub struct PolicyInfo {
    /// Policy name.
    pub name: String,
    /// Namespace id (`root`).
    pub namespace_id: String,
    /// Namespace path (empty for root).
    pub namespace_path: String,
    /// Policy type (`acl`).
    pub kind: String,
}

/// The response as the pipeline produced it.
#[derive(Clone, Default)]
pub struct ResponseInfo {
    /// The response data.
    pub data: Option<Map<String, Value>>,
    /// Warnings.
    pub warnings: Vec<String>,
    /// The lease id of a leased secret (written in the clear, as OpenBao).
    pub lease_id: Option<String>,
    /// Response-wrapping information, when the response was wrapped.
    pub wrap_info: Option<WrapInfo>,
    /// A login's new token.
    pub auth: Option<AuthInfo>,
    /// Mount path; empty means the request's.
    pub mount_point: String,
    /// Mount type; empty means the request's.
    pub mount_type: String,
    /// Mount accessor; empty means the request's.
    pub mount_accessor: String,
}

impl fmt::Debug for ResponseInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseInfo")
            .field("lease_id", &self.lease_id)
            .field("wrapped", &self.wrap_info.is_some())
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// A wrapped response's token information.
#[derive(Clone)]
pub struct WrapInfo {
    /// The wrapping token (HMAC'd when written).
    pub token: String,
    /// Its accessor.
    pub accessor: String,
    /// TTL in seconds.
    pub ttl: u64,
    /// When the wrapping token was created.
    pub creation_time: SystemTime,
    /// The path whose response was wrapped.
    pub creation_path: String,
    /// The accessor of a wrapped token (when a token was wrapped).
    pub wrapped_accessor: String,
}

impl fmt::Debug for WrapInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrapInfo")
            .field("ttl", &self.ttl)
            .field("creation_path", &self.creation_path)
            .finish_non_exhaustive()
    }
}
