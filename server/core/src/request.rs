//! The logical request and response the pipeline passes between layers.

use std::net::SocketAddr;

use serde_json::{Map, Value};

/// What a request asks to do (HTTP verbs map onto these in server-http).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// GET.
    Read,
    /// LIST, or GET with `?list=true`.
    List,
    /// POST/PUT to a path that does not exist yet (decided by an existence check).
    Create,
    /// POST/PUT.
    Update,
    /// DELETE.
    Delete,
    /// PATCH.
    Patch,
}

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
}

impl Response {
    /// A response carrying `data`.
    pub fn data(data: Map<String, Value>) -> Self {
        Self {
            data: Some(data),
            ..Self::default()
        }
    }

    /// Marks the response for OpenBao's top-level copy of `data`.
    pub fn with_legacy_top_level(mut self) -> Self {
        self.legacy_top_level = true;
        self
    }

    /// Whether this answer is a 204 (no data, no warnings).
    pub fn is_empty(&self) -> bool {
        self.data.is_none() && self.warnings.is_empty()
    }
}
