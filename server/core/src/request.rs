//! The logical request and response the pipeline passes between layers.

use std::net::SocketAddr;
use std::time::Duration;

use api_spec::{Envelope, WrapInfo};
use serde_json::{Map, Value};

pub use engine_sdk::Operation;

/// A request to a logical path (everything under `/v1/` that is not a pre-unseal endpoint).
#[derive(Clone)]
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
    /// The response-wrapping TTL the client asked for (`X-Vault-Wrap-TTL`). `Some(0)` wraps nothing but still
    /// counts for policies' `min_wrapping_ttl`/`max_wrapping_ttl`, as in OpenBao.
    pub wrap_ttl: Option<Duration>,
    /// The HTTP request headers, without the client token (audited per `sys/config/auditing/request-headers`).
    pub headers: Headers,
}

/// HTTP request headers as (lowercased name, value) pairs in request order; a name may repeat. The HTTP layer
/// leaves the client token out. Values may still be credentials, so `Debug` shows names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// Every value of `name` (compared case-insensitively), in request order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, _)| n))
            .finish()
    }
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
#[derive(Clone, Default, PartialEq)]
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
    /// The response was wrapped: the envelope carries only this.
    pub wrap_info: Option<WrapInfo>,
    /// A JSON body sent as it is instead of an envelope (an unwrapped response, as it was stored).
    pub raw_json: Option<RawJson>,
    /// A body of any type sent as it is, with `status` (or 200), instead of an envelope (`sys/metrics`).
    pub raw_body: Option<RawBody>,
}

/// A non-envelope body and its content type.
#[derive(Clone, PartialEq, Eq)]
pub struct RawBody {
    /// The `Content-Type` header.
    pub content_type: String,
    /// The bytes.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for RawBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawBody")
            .field("content_type", &self.content_type)
            .field("len", &self.body.len())
            .finish()
    }
}

/// A JSON document sent verbatim; its `Debug` hides the content (it may hold secrets or tokens).
#[derive(Clone, PartialEq, Eq)]
pub struct RawJson(pub String);

impl std::fmt::Debug for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawJson([redacted])")
    }
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

    /// Whether this answer is a 204 (no data, no warnings, no auth, nothing wrapped or raw).
    pub fn is_empty(&self) -> bool {
        self.data.is_none()
            && self.warnings.is_empty()
            && self.auth.is_none()
            && self.lease.is_none()
            && self.wrap_info.is_none()
            && self.raw_json.is_none()
            && self.raw_body.is_none()
    }

    /// A body sent as it is with `content_type` and `status`.
    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: Some(status),
            raw_body: Some(RawBody {
                content_type: content_type.to_owned(),
                body: body.into(),
            }),
            ..Self::default()
        }
    }

    /// The Vault envelope of this answer (`legacy_top_level`, `status` and `raw_json` are the HTTP layer's). A
    /// wrapped answer carries only `wrap_info`, with an empty request id and no warnings, exactly as OpenBao
    /// writes it.
    pub fn into_envelope(self, request_id: String) -> Envelope {
        if let Some(wrap_info) = self.wrap_info {
            return Envelope {
                wrap_info: Some(wrap_info),
                ..Envelope::default()
            };
        }
        let lease = self.lease.unwrap_or_default();
        Envelope {
            request_id,
            lease_id: lease.id,
            renewable: lease.renewable,
            lease_duration: lease.duration,
            auth: self.auth,
            data: self.data,
            warnings: if self.warnings.is_empty() {
                None
            } else {
                Some(self.warnings)
            },
            ..Envelope::default()
        }
    }
}

// Bodies hold secrets (values, passwords, tokens): Debug shows only their shape.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("id", &self.id)
            .field("operation", &self.operation)
            .field("path", &self.path)
            .field("data_keys", &self.data.keys().collect::<Vec<_>>())
            .field("wrap_ttl", &self.wrap_ttl)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field(
                "data_keys",
                &self.data.as_ref().map(|d| d.keys().collect::<Vec<_>>()),
            )
            .field("warnings", &self.warnings)
            .field("has_auth", &self.auth.is_some())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}
