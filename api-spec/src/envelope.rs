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
    pub wrap_info: Option<WrapInfo>,
    /// Warnings, or null when there are none.
    pub warnings: Option<Vec<String>>,
    /// Token information from a login or token creation, or null.
    pub auth: Option<Value>,
    /// Type of the mount that answered (Vault adds it; OpenBao clients ignore it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mount_type: String,
}

/// The envelope's `wrap_info`: the single-use token that unwraps a response, instead of the response itself.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct WrapInfo {
    /// The wrapping token.
    pub token: String,
    /// The wrapping token's accessor.
    pub accessor: String,
    /// Seconds the wrapping token lives.
    pub ttl: u64,
    /// When the wrapping token was created (RFC 3339 with nanoseconds, UTC).
    pub creation_time: String,
    /// The request path whose response is wrapped.
    pub creation_path: String,
    /// Accessor of the token the wrapped response carries, if any (omitted when empty, as in OpenBao).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub wrapped_accessor: String,
}

// The token and the accessors are credentials.
impl std::fmt::Debug for WrapInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WrapInfo")
            .field("ttl", &self.ttl)
            .field("creation_time", &self.creation_time)
            .field("creation_path", &self.creation_path)
            .finish_non_exhaustive()
    }
}

/// The body of every error answer: `{"errors": ["..."]}` (an empty list for a plain 404).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// Human-readable messages.
    pub errors: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_info_wire_shape() {
        let mut info = WrapInfo {
            token: "s.secret".into(),
            accessor: "acc".into(),
            ttl: 300,
            creation_time: "2026-01-01T00:00:00.5Z".into(),
            creation_path: "secret/data/x".into(),
            wrapped_accessor: String::new(),
        };
        let v = serde_json::to_value(&info).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "token": "s.secret", "accessor": "acc", "ttl": 300,
                "creation_time": "2026-01-01T00:00:00.5Z", "creation_path": "secret/data/x"
            }),
            "an empty wrapped_accessor is omitted"
        );
        info.wrapped_accessor = "inner".into();
        let v = serde_json::to_value(&info).unwrap();
        assert_eq!(v["wrapped_accessor"], "inner");
        let dbg = format!("{info:?}");
        assert!(!dbg.contains("s.secret") && !dbg.contains("inner"), "{dbg}");
    }
}
