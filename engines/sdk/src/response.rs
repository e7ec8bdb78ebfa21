//! What an engine answers.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

/// An engine's answer. No data, secret, auth or warnings means 204.
#[derive(Clone, Default, PartialEq)]
pub struct Response {
    /// Data for the client.
    pub data: Option<Map<String, Value>>,
    /// Warnings for the client.
    pub warnings: Vec<String>,
    /// A leased secret: the core registers the lease and fills `lease_id`.
    pub secret: Option<Secret>,
    /// A successful login: the core creates the token.
    pub auth: Option<Auth>,
    /// A status other than 200 for an answer with data (KV v2's deleted version: 404 with its metadata).
    pub status: Option<u16>,
    /// Copy `data`'s keys to the top level, as OpenBao does for old `sys/` routes.
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

    /// A response carrying `data` built from a JSON object value (anything else becomes empty data).
    pub fn json(value: Value) -> Self {
        match value {
            Value::Object(m) => Self::data(m),
            _ => Self::data(Map::new()),
        }
    }

    /// Adds a warning.
    pub fn warn(mut self, w: impl Into<String>) -> Self {
        self.warnings.push(w.into());
        self
    }

    /// Whether this is a 204.
    pub fn is_empty(&self) -> bool {
        self.data.is_none()
            && self.warnings.is_empty()
            && self.secret.is_none()
            && self.auth.is_none()
    }
}

/// A secret with a lease.
#[derive(Clone, Default, PartialEq)]
pub struct Secret {
    /// The engine's name for this kind of secret (`creds`), passed back on renew/revoke.
    pub kind: String,
    /// Lease TTL (0 = the mount's default).
    pub ttl: Duration,
    /// Cap on renewals (0 = the mount's max).
    pub max_ttl: Duration,
    /// Whether the lease can be renewed.
    pub renewable: bool,
    /// What the engine needs later to renew or revoke (never shown to the client).
    pub internal: Map<String, Value>,
    /// Only a TTL hint for the client (KV): no lease is registered and no lease id shown.
    pub no_lease: bool,
    /// A key in the mount's storage the core deletes in the same write that registers the lease: the engine's
    /// record of a credential that exists but has no lease yet, which the engine sweeps if the lease never comes
    /// (a crash between creating the credential and committing its lease).
    pub pending_key: Option<String>,
}

/// A successful login, from which the core creates a token.
#[derive(Clone, Default, PartialEq)]
pub struct Auth {
    /// Shown in lookups and audit logs.
    pub display_name: String,
    /// Policies for the token.
    pub policies: Vec<String>,
    /// Token metadata.
    pub metadata: BTreeMap<String, String>,
    /// Token TTL (0 = the mount's default).
    pub ttl: Duration,
    /// Cap on the token's life through renewals (0 = the mount's max).
    pub max_ttl: Duration,
    /// Periodic token period (0 = not periodic).
    pub period: Duration,
    /// Hard cap that renewals never pass (0 = none).
    pub explicit_max_ttl: Duration,
    /// Uses before the token is revoked (0 = unlimited).
    pub num_uses: u32,
    /// Whether the token can be renewed.
    pub renewable: bool,
    /// Leave the `default` policy out.
    pub no_default_policy: bool,
    /// `service` or `batch` (empty = service).
    pub token_type: String,
    /// CIDRs the token may be used from.
    pub bound_cidrs: Vec<String>,
    /// The identity alias of the login (name + metadata), for the entity the token belongs to.
    pub alias: Option<Alias>,
    /// What the auth method needs on renewal (never shown to the client).
    pub internal: Map<String, Value>,
    /// Set only by the token store, which creates tokens itself: the new token and its accessor. For every other
    /// backend these stay empty and the core creates the token from the fields above.
    pub client_token: String,
    /// The new token's accessor (token store only, see `client_token`).
    pub accessor: String,
    /// Whether the token has no parent.
    pub orphan: bool,
}

/// An identity alias: who logged in, as the auth method names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alias {
    /// The alias name (user name, service account uid, ...).
    pub name: String,
    /// Alias metadata.
    pub metadata: BTreeMap<String, String>,
}

// The token and accessor are credentials: never in Debug output.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("display_name", &self.display_name)
            .field("policies", &self.policies)
            .field("ttl", &self.ttl)
            .field("max_ttl", &self.max_ttl)
            .field("period", &self.period)
            .field("num_uses", &self.num_uses)
            .field("renewable", &self.renewable)
            .field("token_type", &self.token_type)
            .field("orphan", &self.orphan)
            .finish_non_exhaustive()
    }
}

// Data and internal values are secrets (passwords, root credentials): Debug shows their keys only.
impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field(
                "data_keys",
                &self.data.as_ref().map(|d| d.keys().collect::<Vec<_>>()),
            )
            .field("warnings", &self.warnings)
            .field("secret", &self.secret)
            .field("auth", &self.auth)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("kind", &self.kind)
            .field("ttl", &self.ttl)
            .field("max_ttl", &self.max_ttl)
            .field("renewable", &self.renewable)
            .field("internal_keys", &self.internal.keys().collect::<Vec<_>>())
            .field("pending_key", &self.pending_key)
            .finish_non_exhaustive()
    }
}
