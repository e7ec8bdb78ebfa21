//! The factory, the path table, request dispatch and the per-mount key-set cache.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::SystemTime;

use async_trait::async_trait;
use engine_sdk::token_fields::with_token_fields;
use engine_sdk::{
    EngineError, Factory, Field, FieldKind, LeaseRequest, LogicalBackend, Operation, PathSpec,
    Request, Response, SpecialPaths,
};
use engine_sdk::{LIST_FIELDS, field as f};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::config::JwtConfig;
use crate::keyset::{KeySet, MIN_REFRESH_INTERVAL};
use crate::{JwtError, path_config, path_login, path_oidc, path_role, role};

const P_CONFIG: &str = "config";
const P_ROLES: &str = "role/";
const P_ROLE: &str = "role/{name}";
const P_LOGIN: &str = "login";
const P_OIDC_AUTH_URL: &str = "oidc/auth_url";
const P_OIDC_CALLBACK: &str = "oidc/callback";
const P_OIDC_POLL: &str = "oidc/poll";

const CONFIG_FIELDS: &[Field] = &[
    f(
        "oidc_discovery_url",
        FieldKind::String,
        "Base URL of an OIDC discovery document (without .well-known/openid-configuration).",
    ),
    f(
        "oidc_discovery_ca_pem",
        FieldKind::String,
        "CA certificates (PEM) for the discovery URL; system roots when empty.",
    ),
    f("jwks_url", FieldKind::String, "URL of a JSON Web Key Set."),
    f(
        "jwks_ca_pem",
        FieldKind::String,
        "CA certificates (PEM) for the JWKS URL; system roots when empty.",
    ),
    f(
        "jwt_validation_pubkeys",
        FieldKind::CommaStrings,
        "PEM public keys to verify signatures with.",
    ),
    f(
        "bound_issuer",
        FieldKind::String,
        "The value the 'iss' claim must have.",
    ),
    f(
        "jwt_supported_algs",
        FieldKind::CommaStrings,
        "Accepted signing algorithms; all supported ones when empty.",
    ),
    f(
        "default_role",
        FieldKind::String,
        "Role used by logins that name none.",
    ),
    f(
        "skip_jwks_validation",
        FieldKind::Bool,
        "Save the config even when the keys cannot be fetched now (a warning is returned).",
    ),
    f(
        "oidc_client_id",
        FieldKind::String,
        "Not supported: the browser OIDC flow is not implemented.",
    ),
    f(
        "oidc_client_secret",
        FieldKind::String,
        "Not supported: the browser OIDC flow is not implemented.",
    ),
    f(
        "provider_config",
        FieldKind::Map,
        "Not supported: provider-specific handling.",
    ),
];

const ROLE_FIELDS: &[Field] = &with_token_fields::<19, 29>([
    f("name", FieldKind::String, "Name of the role."),
    f(
        "role_type",
        FieldKind::String,
        "Must be \"jwt\" (OIDC roles are not supported).",
    ),
    f(
        "bound_audiences",
        FieldKind::CommaStrings,
        "Accepted 'aud' values; any match suffices.",
    ),
    f(
        "user_claim",
        FieldKind::String,
        "The claim naming the user: the identity alias name.",
    ),
    f(
        "user_claim_json_pointer",
        FieldKind::Bool,
        "Whether user_claim is a JSON pointer.",
    ),
    f(
        "bound_subject",
        FieldKind::String,
        "The value the 'sub' claim must have.",
    ),
    f(
        "bound_claims",
        FieldKind::Map,
        "Claims (names or JSON pointers) that must match a value or one of a list.",
    ),
    f(
        "bound_claims_type",
        FieldKind::String,
        "How bound_claims values compare: \"string\" (exact) or \"glob\" ('*' wildcards).",
    ),
    f(
        "groups_claim",
        FieldKind::String,
        "The claim listing the user's groups.",
    ),
    f(
        "claim_mappings",
        FieldKind::Map,
        "Claims (names or JSON pointers) copied into metadata under the given keys.",
    ),
    f(
        "clock_skew_leeway",
        FieldKind::Duration,
        "Leeway on all time claims; 0 means 60 s, -1 none.",
    ),
    f(
        "expiration_leeway",
        FieldKind::Duration,
        "Leeway deriving a missing 'exp'; 0 means 150 s, -1 none.",
    ),
    f(
        "not_before_leeway",
        FieldKind::Duration,
        "Leeway deriving a missing 'nbf'; 0 means 150 s, -1 none.",
    ),
    f(
        "policies",
        FieldKind::CommaStrings,
        "Deprecated: use token_policies.",
    ),
    f(
        "bound_cidrs",
        FieldKind::CommaStrings,
        "Deprecated: use token_bound_cidrs.",
    ),
    f("ttl", FieldKind::Duration, "Deprecated: use token_ttl."),
    f(
        "max_ttl",
        FieldKind::Duration,
        "Deprecated: use token_max_ttl.",
    ),
    f(
        "period",
        FieldKind::Duration,
        "Deprecated: use token_period.",
    ),
    f(
        "num_uses",
        FieldKind::Int,
        "Deprecated: use token_num_uses.",
    ),
]);

const LOGIN_FIELDS: &[Field] = &[
    f(
        "role",
        FieldKind::String,
        "The role to log in against; the config's default_role when empty.",
    ),
    f("jwt", FieldKind::String, "The signed JWT."),
];

const fn spec(
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

const OIDC_HELP: &str =
    "Not supported: the browser OIDC login flow is not implemented (answers 400).";

static PATHS: &[PathSpec] = &[
    spec(
        P_CONFIG,
        &[Operation::Read, Operation::Update],
        CONFIG_FIELDS,
        "Configure where verification keys come from, the issuer and the algorithms.",
    ),
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
        P_LOGIN,
        &[Operation::Update],
        LOGIN_FIELDS,
        "Log in with a signed JWT.",
    ),
    spec(P_OIDC_AUTH_URL, &[Operation::Update], &[], OIDC_HELP),
    spec(
        P_OIDC_CALLBACK,
        &[Operation::Read, Operation::Update],
        &[],
        OIDC_HELP,
    ),
    spec(P_OIDC_POLL, &[Operation::Update], &[], OIDC_HELP),
];

/// Builds the jwt backend for a mount.
pub fn factory() -> Factory {
    |_config| {
        Box::pin(async {
            let backend: Arc<dyn LogicalBackend> = Arc::new(JwtBackend::default());
            Ok(backend)
        })
    }
}

/// The jwt auth method.
#[derive(Debug, Default)]
pub(crate) struct JwtBackend {
    /// Serializes config and role writes.
    pub(crate) write_lock: Mutex<()>,
    /// The key set of the configuration it was built from; rebuilt when the stored configuration differs (a
    /// write on this node, or a leadership change after a write elsewhere).
    cache: StdMutex<Option<(JwtConfig, Arc<KeySet>)>>,
    /// One build at a time, so a burst of logins after a restart fetches the keys once.
    build_lock: Mutex<()>,
    /// The last failed build: while the key source is down, logins retry it at most once per
    /// [`MIN_REFRESH_INTERVAL`] instead of each waiting for a timeout.
    failed: StdMutex<Option<(JwtConfig, SystemTime, String)>>,
}

impl JwtBackend {
    fn cached(&self, config: &JwtConfig) -> Option<Arc<KeySet>> {
        let guard = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some((c, keys)) if c == config => Some(keys.clone()),
            _ => None,
        }
    }

    /// Makes `keys` the key set of `config`.
    pub(crate) fn install(&self, config: JwtConfig, keys: Arc<KeySet>) {
        let mut guard = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        *guard = Some((config, keys));
    }

    /// The key set of `config`, built (and remote keys fetched) when not cached.
    pub(crate) async fn keyset(
        &self,
        config: &JwtConfig,
        now: SystemTime,
    ) -> Result<Arc<KeySet>, JwtError> {
        if let Some(keys) = self.cached(config) {
            return Ok(keys);
        }
        let _build = self.build_lock.lock().await;
        if let Some(keys) = self.cached(config) {
            return Ok(keys);
        }
        let failure =
            |e: &str| JwtError::KeySource(format!("error fetching verification keys: {e}"));
        if let Some(e) = self.recent_failure(config, now) {
            return Err(failure(&e));
        }
        match KeySet::build(config, now).await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                self.install(config.clone(), keys.clone());
                Ok(keys)
            }
            Err(e) => {
                self.record_failure(config, now, &e);
                Err(failure(&e))
            }
        }
    }

    /// Notes that building the key set of `config` failed at `now`.
    pub(crate) fn record_failure(&self, config: &JwtConfig, now: SystemTime, error: &str) {
        let mut guard = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        *guard = Some((config.clone(), now, error.to_owned()));
    }

    /// The error of a build of `config` that failed less than [`MIN_REFRESH_INTERVAL`] ago.
    fn recent_failure(&self, config: &JwtConfig, now: SystemTime) -> Option<String> {
        let guard = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some((c, at, e))
                if c == config
                    && now.duration_since(*at).unwrap_or_default() < MIN_REFRESH_INTERVAL =>
            {
                Some(e.clone())
            }
            _ => None,
        }
    }
}

/// The normalized `{name}` of the request; an invalid name matches no route, as in OpenBao.
pub(crate) fn role_name(req: &Request<'_>) -> Result<String, JwtError> {
    req.param("name")
        .and_then(role::normalize_name)
        .ok_or_else(|| EngineError::UnsupportedPath(req.path.to_owned()).into())
}

#[async_trait]
impl LogicalBackend for JwtBackend {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths {
            unauthenticated: &["login", P_OIDC_AUTH_URL, P_OIDC_CALLBACK, P_OIDC_POLL],
            root: &[],
        }
    }

    async fn handle(&self, req: Request<'_>) -> Result<Response, EngineError> {
        let Some(spec) = PATHS.get(req.route.index) else {
            return Err(EngineError::UnsupportedPath(req.path.to_owned()));
        };
        let result = match (spec.pattern, req.operation) {
            (P_CONFIG, Operation::Read) => path_config::read(&req).await,
            (P_CONFIG, Operation::Update) => path_config::write(self, &req).await,
            (P_ROLES, Operation::List) => path_role::list(&req).await,
            (P_ROLE, Operation::Read) => path_role::read(&req).await,
            (P_ROLE, Operation::Create | Operation::Update) => path_role::write(self, &req).await,
            (P_ROLE, Operation::Delete) => path_role::delete(self, &req).await,
            (P_LOGIN, Operation::Update) => path_login::login(self, &req).await,
            (P_OIDC_AUTH_URL | P_OIDC_CALLBACK | P_OIDC_POLL, _) => path_oidc::unsupported(),
            _ => return Err(EngineError::UnsupportedOperation),
        };
        result.map_err(Into::into)
    }

    async fn exists(&self, req: Request<'_>) -> Result<bool, EngineError> {
        let Ok(name) = role_name(&req) else {
            return Ok(false);
        };
        Ok(role::load(req.storage, &name).await?.is_some())
    }

    /// Token renewal: the role must still exist, and the answer carries its *current* TTLs and policies. No token
    /// is checked again (there is none to check).
    async fn renew(&self, lease: LeaseRequest<'_>) -> Result<Response, EngineError> {
        let Some(name) = lease
            .internal
            .get("role")
            .and_then(Value::as_str)
            .and_then(role::normalize_name)
        else {
            return Err(EngineError::NotRenewable);
        };
        let Some(entry) = role::load(lease.storage, &name).await? else {
            return Err(JwtError::RoleGone(name).into());
        };
        Ok(entry.token.renewal(lease.internal))
    }
}
