//! The `auth/token/` backend: OpenBao's token API over a [`TokenStore`].
//!
//! It creates tokens itself and answers with `Response.auth` carrying `client_token` and `accessor`. Sudo is
//! approximated by root: `id`, `no_parent`, `period` and `revoke-orphan` need a root caller until the ACL layer
//! tells engines about sudo.

use std::time::SystemTime;

use async_trait::async_trait;
use engine_sdk::field as f;
use engine_sdk::{
    Auth, Caller, EngineError, Field, FieldKind, LogicalBackend, Operation, PathSpec, Request,
    Response, SpecialPaths, field,
};
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use crate::entry::TokenEntry;
use crate::{
    TokenStore, path_accessors, path_create, path_lookup, path_renew, path_revoke, path_roles,
};

/// The token auth method, mounted by the core at `auth/token/`.
#[derive(Debug, Clone)]
pub struct Backend {
    pub(crate) store: TokenStore,
}

impl Backend {
    /// A backend serving `store` (the same store the core authenticates requests with).
    pub fn new(store: TokenStore) -> Self {
        Self { store }
    }
}

const UPDATE: &[Operation] = &[Operation::Update];
const READ_UPDATE: &[Operation] = &[Operation::Read, Operation::Update];
const LIST: &[Operation] = &[Operation::List];
const ROLE_OPS: &[Operation] = &[
    Operation::Read,
    Operation::Create,
    Operation::Update,
    Operation::Delete,
];

const CREATE_FIELDS: &[Field] = &[
    f(
        "id",
        FieldKind::String,
        "Value for the token (root only; no '.')",
    ),
    f(
        "policies",
        FieldKind::CommaStrings,
        "List of policies for the token",
    ),
    f(
        "meta",
        FieldKind::Map,
        "Arbitrary key=value metadata to associate with the token",
    ),
    f(
        "no_parent",
        FieldKind::Bool,
        "Create the token with no parent (root only)",
    ),
    f(
        "no_default_policy",
        FieldKind::Bool,
        "Do not include default policy for this token",
    ),
    f(
        "renewable",
        FieldKind::Bool,
        "Allow token to be renewed past its initial TTL up to system/mount maximum TTL",
    ),
    f("lease", FieldKind::Duration, "Use 'ttl' instead"),
    f("ttl", FieldKind::Duration, "Time to live for this token"),
    f("type", FieldKind::String, "Token type: service or batch"),
    f(
        "explicit_max_ttl",
        FieldKind::Duration,
        "Explicit Max TTL for this token",
    ),
    f(
        "display_name",
        FieldKind::String,
        "Name to associate with this token",
    ),
    f(
        "num_uses",
        FieldKind::Int,
        "Max number of uses for this token",
    ),
    f("period", FieldKind::Duration, "Renew period (root only)"),
    f(
        "entity_alias",
        FieldKind::String,
        "Name of the entity alias to associate with this token (roles only)",
    ),
];

const CREATE_ROLE_FIELDS: &[Field] = &[
    f("role_name", FieldKind::String, "Name of the role"),
    f(
        "id",
        FieldKind::String,
        "Value for the token (root only; no '.')",
    ),
    f(
        "policies",
        FieldKind::CommaStrings,
        "List of policies for the token",
    ),
    f(
        "meta",
        FieldKind::Map,
        "Arbitrary key=value metadata to associate with the token",
    ),
    f("no_parent", FieldKind::Bool, "Ignored: the role decides"),
    f(
        "no_default_policy",
        FieldKind::Bool,
        "Do not include default policy for this token",
    ),
    f(
        "renewable",
        FieldKind::Bool,
        "Allow token to be renewed past its initial TTL up to system/mount maximum TTL",
    ),
    f("lease", FieldKind::Duration, "Use 'ttl' instead"),
    f("ttl", FieldKind::Duration, "Time to live for this token"),
    f("type", FieldKind::String, "Token type: service or batch"),
    f(
        "explicit_max_ttl",
        FieldKind::Duration,
        "Explicit Max TTL for this token",
    ),
    f(
        "display_name",
        FieldKind::String,
        "Name to associate with this token",
    ),
    f(
        "num_uses",
        FieldKind::Int,
        "Max number of uses for this token",
    ),
    f("period", FieldKind::Duration, "Renew period (root only)"),
    f(
        "entity_alias",
        FieldKind::String,
        "Name of the entity alias to associate with this token",
    ),
];

const TOKEN_FIELD: &[Field] = &[f("token", FieldKind::String, "Token (request body)")];
const ACCESSOR_FIELD: &[Field] = &[f(
    "accessor",
    FieldKind::String,
    "Accessor of the token (request body)",
)];
const RENEW_FIELDS: &[Field] = &[
    f("token", FieldKind::String, "Token to renew (request body)"),
    f(
        "increment",
        FieldKind::Duration,
        "The desired increment in seconds to the token expiration",
    ),
];
const RENEW_ACCESSOR_FIELDS: &[Field] = &[
    f(
        "accessor",
        FieldKind::String,
        "Accessor of the token to renew (request body)",
    ),
    f(
        "increment",
        FieldKind::Duration,
        "The desired increment in seconds to the token expiration",
    ),
];

const ROLE_FIELDS: &[Field] = &[
    f("role_name", FieldKind::String, "Name of the role"),
    f(
        "allowed_policies",
        FieldKind::CommaStrings,
        "Policies tokens of this role may get instead of a subset of the caller's",
    ),
    f(
        "disallowed_policies",
        FieldKind::CommaStrings,
        "Policies tokens of this role may not get",
    ),
    f(
        "allowed_policies_glob",
        FieldKind::CommaStrings,
        "Globs of allowed policies",
    ),
    f(
        "disallowed_policies_glob",
        FieldKind::CommaStrings,
        "Globs of disallowed policies",
    ),
    f(
        "orphan",
        FieldKind::Bool,
        "Tokens created via this role are orphans",
    ),
    f("period", FieldKind::Duration, "Use 'token_period' instead"),
    f(
        "path_suffix",
        FieldKind::String,
        "Suffix added to the token path",
    ),
    f(
        "explicit_max_ttl",
        FieldKind::Duration,
        "Use 'token_explicit_max_ttl' instead",
    ),
    f(
        "renewable",
        FieldKind::Bool,
        "Tokens created via this role are renewable (default true)",
    ),
    f(
        "bound_cidrs",
        FieldKind::CommaStrings,
        "Use 'token_bound_cidrs' instead",
    ),
    f(
        "allowed_entity_aliases",
        FieldKind::CommaStrings,
        "Entity aliases allowed during token creation (globs)",
    ),
    f(
        "token_bound_cidrs",
        FieldKind::CommaStrings,
        "CIDR blocks tokens are bound to",
    ),
    f(
        "token_explicit_max_ttl",
        FieldKind::Duration,
        "Hard cap on the life of tokens",
    ),
    f(
        "token_no_default_policy",
        FieldKind::Bool,
        "Leave the default policy out",
    ),
    f(
        "token_num_uses",
        FieldKind::Int,
        "Max number of uses of tokens",
    ),
    f("token_period", FieldKind::Duration, "Period of tokens"),
    f(
        "token_type",
        FieldKind::String,
        "service, batch, default-service or default-batch",
    ),
];

static PATHS: &[PathSpec] = &[
    PathSpec {
        pattern: "accessors/",
        ops: LIST,
        existence_check: false,
        fields: &[],
        help: "List token accessors (sudo).",
    },
    PathSpec {
        pattern: "create",
        ops: UPDATE,
        existence_check: false,
        fields: CREATE_FIELDS,
        help: "Create a child token.",
    },
    PathSpec {
        pattern: "create-orphan",
        ops: UPDATE,
        existence_check: false,
        fields: CREATE_FIELDS,
        help: "Create an orphan token.",
    },
    PathSpec {
        pattern: "create/{role_name}",
        ops: UPDATE,
        existence_check: false,
        fields: CREATE_ROLE_FIELDS,
        help: "Create a token against a role.",
    },
    PathSpec {
        pattern: "lookup",
        ops: READ_UPDATE,
        existence_check: false,
        fields: TOKEN_FIELD,
        help: "Look up a token.",
    },
    PathSpec {
        pattern: "lookup-self",
        ops: READ_UPDATE,
        existence_check: false,
        fields: TOKEN_FIELD,
        help: "Look up the calling token.",
    },
    PathSpec {
        pattern: "lookup-accessor",
        ops: UPDATE,
        existence_check: false,
        fields: ACCESSOR_FIELD,
        help: "Look up a token by its accessor.",
    },
    PathSpec {
        pattern: "renew",
        ops: UPDATE,
        existence_check: false,
        fields: RENEW_FIELDS,
        help: "Renew a token.",
    },
    PathSpec {
        pattern: "renew-self",
        ops: UPDATE,
        existence_check: false,
        fields: RENEW_FIELDS,
        help: "Renew the calling token.",
    },
    PathSpec {
        pattern: "renew-accessor",
        ops: UPDATE,
        existence_check: false,
        fields: RENEW_ACCESSOR_FIELDS,
        help: "Renew a token by its accessor.",
    },
    PathSpec {
        pattern: "revoke",
        ops: UPDATE,
        existence_check: false,
        fields: TOKEN_FIELD,
        help: "Revoke a token and all its children.",
    },
    PathSpec {
        pattern: "revoke-self",
        ops: UPDATE,
        existence_check: false,
        fields: &[],
        help: "Revoke the calling token and all its children.",
    },
    PathSpec {
        pattern: "revoke-accessor",
        ops: UPDATE,
        existence_check: false,
        fields: ACCESSOR_FIELD,
        help: "Revoke a token and its children by its accessor.",
    },
    PathSpec {
        pattern: "revoke-orphan",
        ops: UPDATE,
        existence_check: false,
        fields: TOKEN_FIELD,
        help: "Revoke a token and orphan its children (sudo).",
    },
    PathSpec {
        pattern: "roles/",
        ops: LIST,
        existence_check: false,
        fields: &[],
        help: "List token roles.",
    },
    PathSpec {
        pattern: "roles/{role_name}",
        ops: ROLE_OPS,
        existence_check: true,
        fields: ROLE_FIELDS,
        help: "Create, read, update or delete a token role.",
    },
    PathSpec {
        pattern: "tidy",
        ops: UPDATE,
        existence_check: false,
        fields: &[],
        help: "Clean up the token store's indexes in the background.",
    },
];

#[async_trait]
impl LogicalBackend for Backend {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths {
            unauthenticated: &[],
            root: &["accessors/", "revoke-orphan*"],
        }
    }

    async fn handle(&self, req: Request<'_>) -> Result<Response, EngineError> {
        let pattern = PATHS
            .get(req.route.index)
            .map(|s| s.pattern)
            .ok_or_else(|| EngineError::UnsupportedPath(req.path.to_owned()))?;
        let op = req.operation;
        match (pattern, op) {
            ("accessors/", Operation::List) => path_accessors::list(self, &req).await,
            ("tidy", _) => path_accessors::tidy(self, &req),
            ("create", _) => path_create::create(self, &req, path_create::Kind::Normal).await,
            ("create-orphan", _) => {
                path_create::create(self, &req, path_create::Kind::Orphan).await
            }
            ("create/{role_name}", _) => {
                let name = req.param("role_name").unwrap_or_default().to_owned();
                path_create::create(self, &req, path_create::Kind::Role(name)).await
            }
            ("lookup", _) => path_lookup::lookup(self, &req).await,
            ("lookup-self", _) => path_lookup::lookup_self(self, &req).await,
            ("lookup-accessor", _) => path_lookup::lookup_accessor(self, &req).await,
            ("renew", _) => path_renew::renew(self, &req).await,
            ("renew-self", _) => path_renew::renew_self(self, &req).await,
            ("renew-accessor", _) => path_renew::renew_accessor(self, &req).await,
            ("revoke", _) => path_revoke::revoke(self, &req).await,
            ("revoke-self", _) => path_revoke::revoke_self(self, &req).await,
            ("revoke-accessor", _) => path_revoke::revoke_accessor(self, &req).await,
            ("revoke-orphan", _) => path_revoke::revoke_orphan(self, &req).await,
            ("roles/", Operation::List) => path_roles::list(self).await,
            ("roles/{role_name}", Operation::Read) => path_roles::read(self, &req).await,
            ("roles/{role_name}", Operation::Delete) => path_roles::delete(self, &req).await,
            ("roles/{role_name}", Operation::Create | Operation::Update) => {
                path_roles::write(self, &req).await
            }
            _ => Err(EngineError::UnsupportedOperation),
        }
    }

    async fn exists(&self, req: Request<'_>) -> Result<bool, EngineError> {
        let is_role = PATHS
            .get(req.route.index)
            .is_some_and(|s| s.pattern == "roles/{role_name}");
        if !is_role {
            return Ok(false);
        }
        let name = req.param("role_name").unwrap_or_default();
        Ok(self.store.role(name).await?.is_some())
    }
}

/// The caller, or 403 (every token endpoint needs one).
pub(crate) fn caller<'a>(req: &Request<'a>) -> Result<&'a Caller, EngineError> {
    req.caller.ok_or(EngineError::PermissionDenied)
}

/// The caller's own token, when the request carries it in `token` (as OpenBao fills it for `*-self`) and it
/// hashes to the caller's key; anything else is ignored.
pub(crate) async fn self_token(
    b: &Backend,
    req: &Request<'_>,
) -> Result<Option<String>, EngineError> {
    let caller = caller(req)?;
    let Some(token) = field::string(req.data, "token")?.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let key = b.store.key_of(&token).await?;
    let same: bool = key.as_bytes().ct_eq(caller.token_key.as_bytes()).into();
    Ok(same.then_some(token))
}

/// The caller's key and entry: decoded from its own token when available (batch tokens), else read by key.
pub(crate) async fn caller_entry(
    b: &Backend,
    req: &Request<'_>,
    own: Option<&str>,
) -> Result<Option<(String, TokenEntry)>, EngineError> {
    let caller = caller(req)?;
    if let Some(token) = own {
        return Ok(b.store.lookup_tainted(token, req.clock.now()).await?);
    }
    Ok(b.store
        .lookup_by_key(&caller.token_key)
        .await?
        .map(|e| (caller.token_key.clone(), e)))
}

/// A caller without a stored entry and without an accessor holds a batch token.
pub(crate) fn is_batch_caller(caller: &Caller) -> bool {
    caller.accessor.is_empty()
}

/// The `auth` object of create and renew responses.
pub(crate) fn auth_of(entry: &TokenEntry, token: &str, ttl_secs: u64) -> Auth {
    Auth {
        display_name: entry.display_name.clone(),
        policies: entry.policies.clone(),
        metadata: entry.meta.clone(),
        ttl: std::time::Duration::from_secs(ttl_secs),
        period: std::time::Duration::from_secs(entry.period),
        explicit_max_ttl: std::time::Duration::from_secs(entry.explicit_max_ttl),
        num_uses: entry.num_uses,
        renewable: entry.renewable,
        token_type: entry.token_type.as_str().to_owned(),
        bound_cidrs: entry.bound_cidrs.clone(),
        client_token: token.to_owned(),
        accessor: entry.accessor.clone(),
        orphan: entry.orphan(),
        ..Auth::default()
    }
}

/// RFC 3339 (UTC) of Unix seconds.
pub(crate) fn rfc3339(secs: u64) -> Value {
    let Ok(secs) = i64::try_from(secs) else {
        return Value::Null;
    };
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or(Value::Null, Value::String)
}

/// The `data` of lookup responses (OpenBao's fields; `id` is empty for accessor lookups).
pub(crate) fn lookup_data(entry: &TokenEntry, id: &str, now: SystemTime) -> Map<String, Value> {
    let num_uses: i64 = if entry.revocation_pending {
        -1
    } else {
        i64::from(entry.num_uses)
    };
    let mut m = Map::new();
    m.insert("accessor".into(), json!(entry.accessor));
    m.insert("creation_time".into(), json!(entry.creation_time));
    m.insert("creation_ttl".into(), json!(entry.ttl));
    m.insert("display_name".into(), json!(entry.display_name));
    m.insert("entity_id".into(), json!(entry.entity_id));
    m.insert(
        "expire_time".into(),
        if entry.expire_time == 0 {
            Value::Null
        } else {
            rfc3339(entry.expire_time)
        },
    );
    m.insert("explicit_max_ttl".into(), json!(entry.explicit_max_ttl));
    m.insert("id".into(), json!(id));
    m.insert("issue_time".into(), rfc3339(entry.creation_time));
    m.insert(
        "meta".into(),
        if entry.meta.is_empty() {
            Value::Null
        } else {
            json!(entry.meta)
        },
    );
    m.insert("num_uses".into(), json!(num_uses));
    m.insert("orphan".into(), json!(entry.orphan()));
    m.insert("path".into(), json!(entry.path));
    m.insert("policies".into(), json!(entry.policies));
    m.insert("renewable".into(), json!(entry.renewable_at(now)));
    m.insert("ttl".into(), json!(entry.remaining_ttl(now).as_secs()));
    m.insert("type".into(), json!(entry.token_type.as_str()));
    if !entry.role.is_empty() {
        m.insert("role".into(), json!(entry.role));
    }
    if entry.period != 0 {
        m.insert("period".into(), json!(entry.period));
    }
    if !entry.bound_cidrs.is_empty() {
        m.insert("bound_cidrs".into(), json!(entry.bound_cidrs));
    }
    if entry.last_renewal_time != 0 {
        m.insert("last_renewal_time".into(), json!(entry.last_renewal_time));
        m.insert("last_renewal".into(), rfc3339(entry.last_renewal_time));
    }
    m
}
