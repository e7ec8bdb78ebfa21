//! The factory, the path table and request dispatch.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use async_trait::async_trait;
use engine_sdk::token_fields::with_token_fields;
use engine_sdk::{
    EngineError, Factory, Field, FieldKind, LeaseRequest, LogicalBackend, Operation, PathSpec,
    PeriodicRequest, Request, Response, SpecialPaths,
};
use engine_sdk::{LIST_FIELDS, field as f};
use serde_json::Value;
use tokio::sync::RwLock;

use crate::locks::Stripes;
use crate::path_role_fields::RoleField;
use crate::salt::SaltCell;
use crate::{
    ApproleError, path_login, path_role, path_role_fields, path_secret_id, path_tidy, role,
};

const P_ROLES: &str = "role/";
const P_ROLE: &str = "role/{role_name}";
const P_ROLE_ID: &str = "role/{role_name}/role-id";
const P_SECRET_ID: &str = "role/{role_name}/secret-id";
const P_SECRET_ID_LIST: &str = "role/{role_name}/secret-id/";
const P_CUSTOM_SECRET_ID: &str = "role/{role_name}/custom-secret-id";
const P_SECRET_ID_LOOKUP: &str = "role/{role_name}/secret-id/lookup";
const P_SECRET_ID_DESTROY: &str = "role/{role_name}/secret-id/destroy";
const P_ACCESSOR_LOOKUP: &str = "role/{role_name}/secret-id-accessor/lookup";
const P_ACCESSOR_DESTROY: &str = "role/{role_name}/secret-id-accessor/destroy";
const P_LOGIN: &str = "login";
const P_TIDY: &str = "tidy/secret-id";

const ROLE_NAME: Field = f("role_name", FieldKind::String, "Name of the role.");
const ROLE_FIELDS: &[Field] = &with_token_fields::<11, 21>([
    ROLE_NAME,
    f(
        "bind_secret_id",
        FieldKind::Bool,
        "Require a secret_id at login (default true).",
    ),
    f(
        "secret_id_bound_cidrs",
        FieldKind::CommaStrings,
        "CIDR blocks a login must come from.",
    ),
    f(
        "bound_cidr_list",
        FieldKind::CommaStrings,
        "Deprecated: use secret_id_bound_cidrs.",
    ),
    f(
        "secret_id_num_uses",
        FieldKind::Int,
        "Default number of logins per secret ID; 0 means unlimited.",
    ),
    f(
        "secret_id_ttl",
        FieldKind::Duration,
        "Default life of a secret ID; 0 means it never expires.",
    ),
    f(
        "local_secret_ids",
        FieldKind::Bool,
        "Keep secret IDs cluster-local; only settable at creation.",
    ),
    f(
        "role_id",
        FieldKind::String,
        "A custom role ID; generated when the role is created without one.",
    ),
    f(
        "policies",
        FieldKind::CommaStrings,
        "Deprecated: use token_policies.",
    ),
    f(
        "period",
        FieldKind::Duration,
        "Deprecated: use token_period.",
    ),
    f(
        "bound_cidrs",
        FieldKind::CommaStrings,
        "Deprecated: use token_bound_cidrs.",
    ),
]);

const ROLE_ID_FIELDS: &[Field] = &[
    ROLE_NAME,
    f("role_id", FieldKind::String, "The role ID to set."),
];

const ISSUE_FIELDS: &[Field] = &[
    ROLE_NAME,
    f(
        "metadata",
        FieldKind::String,
        "JSON object of string values, set as metadata on the tokens this secret ID logs in.",
    ),
    f(
        "cidr_list",
        FieldKind::CommaStrings,
        "CIDR blocks this secret ID may be used from; within the role's.",
    ),
    f(
        "token_bound_cidrs",
        FieldKind::CommaStrings,
        "CIDR blocks the tokens of this secret ID may be used from; within the role's.",
    ),
    f(
        "num_uses",
        FieldKind::Int,
        "Logins allowed with this secret ID; at most the role's secret_id_num_uses.",
    ),
    f(
        "ttl",
        FieldKind::Duration,
        "Life of this secret ID; at most the role's secret_id_ttl.",
    ),
];

const CUSTOM_FIELDS: &[Field] = &[
    ROLE_NAME,
    f("secret_id", FieldKind::String, "The secret ID to register."),
    f(
        "metadata",
        FieldKind::String,
        "JSON object of string values, set as metadata on the tokens this secret ID logs in.",
    ),
    f(
        "cidr_list",
        FieldKind::CommaStrings,
        "CIDR blocks this secret ID may be used from; within the role's.",
    ),
    f(
        "token_bound_cidrs",
        FieldKind::CommaStrings,
        "CIDR blocks the tokens of this secret ID may be used from; within the role's.",
    ),
    f(
        "num_uses",
        FieldKind::Int,
        "Logins allowed with this secret ID; at most the role's secret_id_num_uses.",
    ),
    f(
        "ttl",
        FieldKind::Duration,
        "Life of this secret ID; at most the role's secret_id_ttl.",
    ),
];

const SECRET_FIELDS: &[Field] = &[
    ROLE_NAME,
    f("secret_id", FieldKind::String, "A secret ID of the role."),
];

const ACCESSOR_FIELDS: &[Field] = &[
    ROLE_NAME,
    f(
        "secret_id_accessor",
        FieldKind::String,
        "The accessor of a secret ID of the role.",
    ),
];

const LOGIN_FIELDS: &[Field] = &[
    f("role_id", FieldKind::String, "The role ID."),
    f(
        "secret_id",
        FieldKind::String,
        "A secret ID of the role (unless bind_secret_id is false).",
    ),
];

const UPDATE: &[Operation] = &[Operation::Update];
const UPDATE_DELETE: &[Operation] = &[Operation::Update, Operation::Delete];

/// A path without an existence check.
pub(crate) const fn spec(
    pattern: &'static str,
    ops: &'static [Operation],
    fields: &'static [Field],
    help: &'static str,
) -> PathSpec {
    PathSpec {
        pattern,
        ops,
        existence_check: false,
        fields,
        help,
    }
}

static PATHS: &[PathSpec] = &[
    spec(P_ROLES, &[Operation::List], LIST_FIELDS, "List the roles."),
    PathSpec {
        pattern: P_ROLE,
        ops: &[
            Operation::Read,
            Operation::Create,
            Operation::Update,
            Operation::Delete,
        ],
        existence_check: true,
        fields: ROLE_FIELDS,
        help: "Create, read, update or delete a role.",
    },
    spec(
        P_ROLE_ID,
        &[Operation::Read, Operation::Update],
        ROLE_ID_FIELDS,
        "Read or set the role ID of a role.",
    ),
    spec(
        P_SECRET_ID,
        UPDATE,
        ISSUE_FIELDS,
        "Generate a new secret ID for a role.",
    ),
    spec(
        P_SECRET_ID_LIST,
        &[Operation::List],
        LIST_FIELDS,
        "List the accessors of a role's secret IDs.",
    ),
    spec(
        P_CUSTOM_SECRET_ID,
        UPDATE,
        CUSTOM_FIELDS,
        "Register a caller-chosen secret ID for a role.",
    ),
    spec(
        P_SECRET_ID_LOOKUP,
        UPDATE,
        SECRET_FIELDS,
        "Read the properties of a secret ID.",
    ),
    spec(
        P_SECRET_ID_DESTROY,
        UPDATE_DELETE,
        SECRET_FIELDS,
        "Destroy a secret ID.",
    ),
    spec(
        P_ACCESSOR_LOOKUP,
        UPDATE,
        ACCESSOR_FIELDS,
        "Read the properties of a secret ID by its accessor.",
    ),
    spec(
        P_ACCESSOR_DESTROY,
        UPDATE_DELETE,
        ACCESSOR_FIELDS,
        "Destroy a secret ID by its accessor.",
    ),
    spec(
        P_LOGIN,
        UPDATE,
        LOGIN_FIELDS,
        "Log in with a role ID and a secret ID.",
    ),
    spec(
        P_TIDY,
        UPDATE,
        &[],
        "Remove expired and dangling secret IDs and accessors.",
    ),
    RoleField::Policies.spec(),
    RoleField::SecretIdNumUses.spec(),
    RoleField::SecretIdTtl.spec(),
    RoleField::TokenTtl.spec(),
    RoleField::TokenMaxTtl.spec(),
    RoleField::TokenNumUses.spec(),
    RoleField::BindSecretId.spec(),
    RoleField::SecretIdBoundCidrs.spec(),
    RoleField::BoundCidrList.spec(),
    RoleField::TokenBoundCidrs.spec(),
    RoleField::Period.spec(),
    RoleField::LocalSecretIds.spec(),
];

/// Builds the AppRole backend for a mount.
pub fn factory() -> Factory {
    |_config| {
        Box::pin(async {
            let backend: Arc<dyn LogicalBackend> = Arc::new(ApproleBackend::default());
            Ok(backend)
        })
    }
}

/// The AppRole auth method.
#[derive(Debug, Default)]
pub(crate) struct ApproleBackend {
    /// The mount's salt, loaded on first use.
    pub(crate) salt: SaltCell,
    /// Role writes take it exclusively (keeping the role-id index consistent); issuing a secret id takes it shared,
    /// so no secret id lands in the folder of a role being deleted.
    pub(crate) role_lock: RwLock<()>,
    /// Serializes read-modify-write of single secret ids.
    pub(crate) secret_locks: Stripes,
    /// Set while a tidy runs, so two never overlap.
    pub(crate) tidying: AtomicBool,
}

/// The normalized `{role_name}` of the request; an invalid name matches no route, as in OpenBao.
pub(crate) fn role_name(req: &Request<'_>) -> Result<String, ApproleError> {
    req.param("role_name")
        .and_then(role::normalize_name)
        .ok_or_else(|| EngineError::UnsupportedPath(req.path.to_owned()).into())
}

#[async_trait]
impl LogicalBackend for ApproleBackend {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths {
            unauthenticated: &["login"],
            root: &[],
        }
    }

    async fn handle(&self, req: Request<'_>) -> Result<Response, EngineError> {
        let Some(spec) = PATHS.get(req.route.index) else {
            return Err(EngineError::UnsupportedPath(req.path.to_owned()));
        };
        let op = req.operation;
        let result = match (spec.pattern, op) {
            (P_ROLES, Operation::List) => path_role::list(&req).await,
            (P_ROLE, Operation::Read) => path_role::read(&req).await,
            (P_ROLE, Operation::Create | Operation::Update) => path_role::write(self, &req).await,
            (P_ROLE, Operation::Delete) => path_role::delete(self, &req).await,
            (P_ROLE_ID, Operation::Read) => path_role::read_role_id(&req).await,
            (P_ROLE_ID, Operation::Update) => path_role::write_role_id(self, &req).await,
            (P_SECRET_ID, Operation::Update) => path_secret_id::generate(self, &req).await,
            (P_SECRET_ID_LIST, Operation::List) => path_secret_id::list(&req).await,
            (P_CUSTOM_SECRET_ID, Operation::Update) => path_secret_id::custom(self, &req).await,
            (P_SECRET_ID_LOOKUP, Operation::Update) => path_secret_id::lookup(self, &req).await,
            (P_SECRET_ID_DESTROY, Operation::Update | Operation::Delete) => {
                path_secret_id::destroy(self, &req).await
            }
            (P_ACCESSOR_LOOKUP, Operation::Update) => {
                path_secret_id::lookup_accessor(self, &req).await
            }
            (P_ACCESSOR_DESTROY, Operation::Update | Operation::Delete) => {
                path_secret_id::destroy_accessor(self, &req).await
            }
            (P_LOGIN, Operation::Update) => path_login::login(self, &req).await,
            (P_TIDY, Operation::Update) => path_tidy::tidy_request(self, &req).await,
            (pattern, op) => match RoleField::from_pattern(pattern) {
                Some(field) if field.ops().contains(&op) => {
                    path_role_fields::handle(self, &req, field).await
                }
                _ => return Err(EngineError::UnsupportedOperation),
            },
        };
        result.map_err(Into::into)
    }

    async fn exists(&self, req: Request<'_>) -> Result<bool, EngineError> {
        let Ok(name) = role_name(&req) else {
            return Ok(false);
        };
        Ok(role::load(req.storage, &name).await?.is_some())
    }

    /// Token renewal: the role must still exist, and the answer carries its *current* TTLs and policies.
    async fn renew(&self, lease: LeaseRequest<'_>) -> Result<Response, EngineError> {
        let Some(name) = lease
            .internal
            .get("role_name")
            .and_then(Value::as_str)
            .and_then(role::normalize_name)
        else {
            return Err(EngineError::NotRenewable);
        };
        let Some(entry) = role::load(lease.storage, &name).await? else {
            return Err(ApproleError::RoleGone(name).into());
        };
        Ok(entry.token.renewal(lease.internal))
    }

    /// Tidies expired and dangling secret ids, as OpenBao does every minute.
    async fn periodic(&self, req: PeriodicRequest<'_>) -> Result<(), EngineError> {
        path_tidy::tidy(self, req.storage, req.clock.now())
            .await
            .map(|_| ())
            .map_err(Into::into)
    }

    fn periodic_interval(&self) -> Option<Duration> {
        Some(Duration::from_secs(60))
    }
}
