//! The logical request and response the pipeline passes between layers.

use std::net::SocketAddr;

use serde_json::{Map, Value};

pub use engine_sdk::Operation;

/// A request to a logical path (everything under `/v1/` that is not a pre-unseal endpoint).
#[derive(Debug, Clone)]
pub struct Request {
    /// Unique id, echoed in the response and the audit log.
    pub id: String,
    /// The operation.
    pub operation: Operation,
    /// The path below `/v1/`, without a leading slash.
    pub path: String,
    /// Body fields (or query parameters for reads).
    pub data: Map<String, Value>,
    /// The client token, if one was sent.
    pub token: Option<Token>,
    /// The client's address.
    pub remote_addr: Option<SocketAddr>,
}

/// A client token; its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

/// A handler's answer. Empty data and no warnings become a 204.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    /// The data map, if any.
    pub data: Option<Map<String, Value>>,
    /// Warnings for the client.
    pub warnings: Vec<String>,
    /// Copy `data`'s keys to the top level of the JSON body too, as OpenBao does for old `sys/` routes.
    pub legacy_top_level: bool,
    /// The envelope's `auth` object (a login or token creation).
    pub auth: Option<Value>,
    /// Lease fields of the envelope.
    pub lease: Option<Lease>,
    /// A status other than 200 for an answer with a body.
    pub status: Option<u16>,
}

/// The lease fields of a response envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lease {
    /// Lease id, empty when the secret is not tracked (KV).
    pub id: String,
    /// Seconds.
    pub duration: u64,
    /// Whether it can be renewed.
    pub renewable: bool,
}

impl Response {
    /// A response carrying `data`.
    pub fn data(data: Map<String, Value>) -> Self {
        Self {
            data: Some(data),
            ..Self::default()
        }
    }

    /// A response carrying `data` built from a JSON object (anything else becomes empty data).
    pub fn json(value: Value) -> Self {
        match value {
            Value::Object(m) => Self::data(m),
            _ => Self::data(Map::new()),
        }
    }

    /// Marks the response for OpenBao's top-level copy of `data`.
    pub fn with_legacy_top_level(mut self) -> Self {
        self.legacy_top_level = true;
        self
    }

    /// Whether this answer is a 204 (no data, no warnings, no auth).
    pub fn is_empty(&self) -> bool {
        self.data.is_none() && self.warnings.is_empty() && self.auth.is_none()
    }
}
