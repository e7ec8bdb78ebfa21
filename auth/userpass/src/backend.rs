//! The factory, the path table and request dispatch.

use std::sync::Arc;

use async_trait::async_trait;
use engine_sdk::token_fields::with_token_fields;
use engine_sdk::{
    Auth, EngineError, Factory, Field, FieldKind, LeaseRequest, LogicalBackend, Operation,
    PathSpec, Request, Response, SpecialPaths,
};
use engine_sdk::{LIST_FIELDS, field as f};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::password::Kdf;
use crate::{UserpassError, path_login, path_user_password, path_user_policies, path_users, user};

const P_LIST: &str = "users/";
const P_USER: &str = "users/{username}";
const P_PASSWORD: &str = "users/{username}/password";
const P_POLICIES: &str = "users/{username}/policies";
const P_LOGIN: &str = "login/{username}";

const USERNAME: Field = f("username", FieldKind::String, "Username for this user.");
const PASSWORD: Field = f("password", FieldKind::String, "Password for this user.");
const PASSWORD_HASH: Field = f(
    "password_hash",
    FieldKind::String,
    "Pre-hashed bcrypt password (not supported here; send password).",
);

const USER_FIELDS: &[Field] = &with_token_fields::<7, 17>([
    USERNAME,
    PASSWORD,
    PASSWORD_HASH,
    f(
        "policies",
        FieldKind::CommaStrings,
        "Deprecated: use token_policies.",
    ),
    f("ttl", FieldKind::Duration, "Deprecated: use token_ttl."),
    f(
        "max_ttl",
        FieldKind::Duration,
        "Deprecated: use token_max_ttl.",
    ),
    f(
        "bound_cidrs",
        FieldKind::CommaStrings,
        "Deprecated: use token_bound_cidrs.",
    ),
]);

const PASSWORD_FIELDS: &[Field] = &[USERNAME, PASSWORD, PASSWORD_HASH];

const POLICIES_FIELDS: &[Field] = &[
    USERNAME,
    f(
        "policies",
        FieldKind::CommaStrings,
        "Deprecated: use token_policies.",
    ),
    f(
        "token_policies",
        FieldKind::CommaStrings,
        "Policies attached to tokens generated for this user.",
    ),
];

const LOGIN_FIELDS: &[Field] = &[
    f("username", FieldKind::String, "Username of the user."),
    PASSWORD,
];

static PATHS: &[PathSpec] = &[
    PathSpec {
        pattern: P_LIST,
        ops: &[Operation::List],
        existence_check: false,
        fields: LIST_FIELDS,
        help: "List the users allowed to authenticate.",
    },
    PathSpec {
        pattern: P_USER,
        ops: &[
            Operation::Read,
            Operation::Create,
            Operation::Update,
            Operation::Delete,
        ],
        existence_check: true,
        fields: USER_FIELDS,
        help: "Create, read, update or delete a user allowed to authenticate.",
    },
    PathSpec {
        pattern: P_PASSWORD,
        ops: &[Operation::Update],
        existence_check: false,
        fields: PASSWORD_FIELDS,
        help: "Reset a user's password.",
    },
    PathSpec {
        pattern: P_POLICIES,
        ops: &[Operation::Update],
        existence_check: false,
        fields: POLICIES_FIELDS,
        help: "Update the policies attached to a user's tokens.",
    },
    PathSpec {
        pattern: P_LOGIN,
        ops: &[Operation::Update],
        existence_check: false,
        fields: LOGIN_FIELDS,
        help: "Log in with a username and password.",
    },
];

/// Builds the userpass backend for a mount.
pub fn factory() -> Factory {
    |_config| {
        Box::pin(async {
            let backend: Arc<dyn LogicalBackend> = Arc::new(UserpassBackend::default());
            Ok(backend)
        })
    }
}

/// The userpass auth method.
#[derive(Debug, Default)]
pub(crate) struct UserpassBackend {
    /// Password hashing parameters.
    pub(crate) kdf: Kdf,
    /// Serializes read-modify-write of user entries so concurrent updates are not lost. Never held across a KDF
    /// run: hashes are computed before it is taken.
    pub(crate) write_lock: Mutex<()>,
}

/// The normalized `{username}` of the request; an invalid name matches no route, as in OpenBao.
pub(crate) fn username(req: &Request<'_>) -> Result<String, UserpassError> {
    req.param("username")
        .and_then(user::normalize_name)
        .ok_or_else(|| EngineError::UnsupportedPath(req.path.to_owned()).into())
}

#[async_trait]
impl LogicalBackend for UserpassBackend {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths {
            unauthenticated: &["login/*"],
            root: &[],
        }
    }

    async fn handle(&self, req: Request<'_>) -> Result<Response, EngineError> {
        let Some(spec) = PATHS.get(req.route.index) else {
            return Err(EngineError::UnsupportedPath(req.path.to_owned()));
        };
        let result = match (spec.pattern, req.operation) {
            (P_LIST, Operation::List) => path_users::list(&req).await,
            (P_USER, Operation::Read) => path_users::read(&req).await,
            (P_USER, Operation::Create | Operation::Update) => path_users::write(self, &req).await,
            (P_USER, Operation::Delete) => path_users::delete(&req).await,
            (P_PASSWORD, Operation::Update) => path_user_password::update(self, &req).await,
            (P_POLICIES, Operation::Update) => path_user_policies::update(self, &req).await,
            (P_LOGIN, Operation::Update) => path_login::login(self, &req).await,
            _ => return Err(EngineError::UnsupportedOperation),
        };
        result.map_err(Into::into)
    }

    async fn exists(&self, req: Request<'_>) -> Result<bool, EngineError> {
        let Ok(name) = username(&req) else {
            return Ok(false);
        };
        Ok(user::load(req.storage, &name).await?.is_some())
    }

    /// Token renewal (OpenBao's `AuthRenew`), for a core that routes it here with the login's `internal` data:
    /// the user must still exist, and the answer carries the user's *current* TTLs and policies. The core must
    /// refuse the renewal when those policies differ from the token's ("policies have changed, not renewing").
    async fn renew(&self, lease: LeaseRequest<'_>) -> Result<Response, EngineError> {
        let Some(name) = lease
            .internal
            .get("username")
            .and_then(Value::as_str)
            .and_then(user::normalize_name)
        else {
            return Err(EngineError::NotRenewable);
        };
        let Some(entry) = user::load(lease.storage, &name).await? else {
            return Err(UserpassError::UserGone.into());
        };
        let t = &entry.token;
        let auth = Auth {
            policies: t.token_policies.clone(),
            ttl: std::time::Duration::from_secs(t.token_ttl),
            max_ttl: std::time::Duration::from_secs(t.token_max_ttl),
            period: std::time::Duration::from_secs(t.token_period),
            renewable: true,
            internal: lease.internal.clone(),
            ..Auth::default()
        };
        Ok(Response {
            auth: Some(auth),
            ..Response::default()
        })
    }
}
