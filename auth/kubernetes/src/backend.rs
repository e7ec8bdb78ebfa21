//! The factory, the path table, request dispatch, token renewal, and the per-config TokenReview client.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use engine_sdk::token_fields::with_token_fields;
use engine_sdk::{
    EngineError, Factory, Field, FieldKind, LeaseRequest, LogicalBackend, Operation, PathSpec,
    Request, Response, SpecialPaths,
};
use engine_sdk::{LIST_FIELDS, field as f};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::config::ConfigEntry;
use crate::local::{DEFAULT_DIR, LocalFiles};
use crate::review::TokenReviewer;
use crate::review_http::HttpTokenReviewer;
use crate::{KubernetesError, path_config, path_login, path_role, role};

const P_CONFIG: &str = "config";
const P_ROLES: &str = "role/";
const P_ROLE: &str = "role/{name}";
const P_LOGIN: &str = "login";

const CONFIG_FIELDS: &[Field] = &[
    f(
        "kubernetes_host",
        FieldKind::String,
        "Host, host:port or URL of the Kubernetes API server.",
    ),
    f(
        "kubernetes_ca_cert",
        FieldKind::String,
        "PEM CA certificate(s) for the API server's TLS certificate.",
    ),
    f(
        "token_reviewer_jwt",
        FieldKind::String,
        "Service-account JWT used as the bearer for TokenReview; never returned.",
    ),
    f(
        "pem_keys",
        FieldKind::CommaStrings,
        "PEM public keys or certificates to verify JWT signatures locally.",
    ),
    f(
        "disable_local_ca_jwt",
        FieldKind::Bool,
        "Do not default to the pod's own CA certificate and token.",
    ),
    f(
        "issuer",
        FieldKind::String,
        "Deprecated: expected JWT issuer when issuer validation is enabled.",
    ),
    f(
        "disable_iss_validation",
        FieldKind::Bool,
        "Deprecated: skip JWT issuer validation (default true).",
    ),
    f(
        "review_timeout",
        FieldKind::Duration,
        "Timeout of one TokenReview call (default 10s).",
    ),
    f(
        "verify",
        FieldKind::Bool,
        "Dry-run a TokenReview with the reviewer credentials before saving.",
    ),
];

const ROLE_FIELDS: &[Field] = &with_token_fields::<12, 22>([
    f("name", FieldKind::String, "Name of the role."),
    f(
        "bound_service_account_names",
        FieldKind::CommaStrings,
        "Service-account names allowed to log in (globs; * = any).",
    ),
    f(
        "bound_service_account_namespaces",
        FieldKind::CommaStrings,
        "Namespaces allowed to log in (globs; * = any).",
    ),
    f(
        "bound_service_account_namespace_selector",
        FieldKind::String,
        "Not supported; must be empty.",
    ),
    f(
        "audience",
        FieldKind::String,
        "Audience the service-account JWT must carry.",
    ),
    f(
        "alias_name_source",
        FieldKind::String,
        "serviceaccount_uid (default) or serviceaccount_name.",
    ),
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
        "period",
        FieldKind::Duration,
        "Deprecated: use token_period.",
    ),
    f(
        "num_uses",
        FieldKind::Int,
        "Deprecated: use token_num_uses.",
    ),
    f(
        "bound_cidrs",
        FieldKind::CommaStrings,
        "Deprecated: use token_bound_cidrs.",
    ),
]);

const LOGIN_FIELDS: &[Field] = &[
    f(
        "role",
        FieldKind::String,
        "Name of the role to log in with.",
    ),
    f("jwt", FieldKind::String, "The service-account JWT."),
];

static PATHS: &[PathSpec] = &[
    PathSpec {
        pattern: P_CONFIG,
        ops: &[Operation::Read, Operation::Update],
        existence_check: false,
        fields: CONFIG_FIELDS,
        help: "Configure how the Kubernetes API server is reached and how JWTs are checked.",
    },
    PathSpec {
        pattern: P_ROLES,
        ops: &[Operation::List],
        existence_check: false,
        fields: LIST_FIELDS,
        help: "List the roles.",
    },
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
        help: "Create, read, update or delete a role binding service accounts to token settings.",
    },
    PathSpec {
        pattern: P_LOGIN,
        ops: &[Operation::Update],
        existence_check: false,
        fields: LOGIN_FIELDS,
        help: "Log in with a Kubernetes service-account JWT.",
    },
];

/// How a backend is built; the defaults are what a server uses.
#[derive(Debug, Clone)]
pub struct BackendOptions {
    /// Where the pod's service-account `token` and `ca.crt` are looked for
    /// (`/var/run/secrets/kubernetes.io/serviceaccount`).
    pub local_dir: PathBuf,
    /// A reviewer used instead of the HTTPS client built from the config (for tests).
    pub reviewer: Option<Arc<dyn TokenReviewer>>,
}

impl Default for BackendOptions {
    fn default() -> Self {
        Self {
            local_dir: PathBuf::from(DEFAULT_DIR),
            reviewer: None,
        }
    }
}

/// Builds the kubernetes backend for a mount.
pub fn factory() -> Factory {
    |_config| Box::pin(async { Ok(new_backend(BackendOptions::default())) })
}

/// A kubernetes backend with explicit options.
pub fn new_backend(options: BackendOptions) -> Arc<dyn LogicalBackend> {
    Arc::new(KubernetesBackend {
        local: LocalFiles::new(options.local_dir),
        fixed_reviewer: options.reviewer,
        client: Mutex::new(None),
        write_lock: tokio::sync::Mutex::new(()),
    })
}

/// What the cached HTTPS client was built from; a change rebuilds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ClientKey {
    host: String,
    ca: Option<String>,
    timeout: Duration,
}

/// The kubernetes auth method.
#[derive(Debug)]
pub(crate) struct KubernetesBackend {
    /// The pod's own service-account files.
    local: LocalFiles,
    /// A reviewer fixed by the options (tests).
    fixed_reviewer: Option<Arc<dyn TokenReviewer>>,
    /// The pooled client of the current configuration. Never held across an await.
    client: Mutex<Option<(ClientKey, Arc<dyn TokenReviewer>)>>,
    /// Serializes read-modify-write of roles.
    pub(crate) write_lock: tokio::sync::Mutex<()>,
}

impl KubernetesBackend {
    /// The reviewer for `config`: the cached keep-alive client when the host, CA and timeout are unchanged, else a
    /// new one. `Err` says why no client could be built (an unusable CA).
    pub(crate) async fn reviewer_for(
        &self,
        config: &ConfigEntry,
    ) -> Result<Arc<dyn TokenReviewer>, String> {
        if let Some(fixed) = &self.fixed_reviewer {
            return Ok(fixed.clone());
        }
        let ca = if !config.kubernetes_ca_cert.trim().is_empty() {
            Some(config.kubernetes_ca_cert.clone())
        } else if !config.disable_local_ca_jwt {
            self.local.ca().await
        } else {
            None
        };
        let key = ClientKey {
            host: config.kubernetes_host.clone(),
            ca,
            timeout: config.timeout(),
        };
        if let Ok(cached) = self.client.lock()
            && let Some((k, client)) = cached.as_ref()
            && *k == key
        {
            return Ok(client.clone());
        }
        let client: Arc<dyn TokenReviewer> = Arc::new(HttpTokenReviewer::new(
            &key.host,
            key.ca.as_deref(),
            key.timeout,
        )?);
        if let Ok(mut cached) = self.client.lock() {
            *cached = Some((key, client.clone()));
        }
        Ok(client)
    }

    /// The reviewer JWT: the configured one, else the pod's own token (unless disabled); `None` means the
    /// client's JWT is its own bearer.
    pub(crate) async fn reviewer_jwt(&self, config: &ConfigEntry) -> Option<Zeroizing<String>> {
        if !config.token_reviewer_jwt.is_empty() {
            Some(Zeroizing::new(config.token_reviewer_jwt.clone()))
        } else if !config.disable_local_ca_jwt {
            self.local.token().await
        } else {
            None
        }
    }
}

/// The normalized `{name}` of a role request; an invalid name matches no route, as in OpenBao.
pub(crate) fn role_name(req: &Request<'_>) -> Result<String, KubernetesError> {
    req.param("name")
        .and_then(role::normalize_name)
        .ok_or_else(|| EngineError::UnsupportedPath(req.path.to_owned()).into())
}

#[async_trait]
impl LogicalBackend for KubernetesBackend {
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
        let result = match (spec.pattern, req.operation) {
            (P_CONFIG, Operation::Read) => path_config::read(&req).await,
            (P_CONFIG, Operation::Create | Operation::Update) => {
                path_config::write(self, &req).await
            }
            (P_ROLES, Operation::List) => path_role::list(&req).await,
            (P_ROLE, Operation::Read) => path_role::read(&req).await,
            (P_ROLE, Operation::Create | Operation::Update) => path_role::write(self, &req).await,
            (P_ROLE, Operation::Delete) => path_role::delete(self, &req).await,
            (P_LOGIN, Operation::Update) => path_login::login(self, &req).await,
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

    /// Token renewal (OpenBao's): the role must still exist, and the answer carries its *current* TTLs and
    /// policies. No TokenReview is made. The core refuses the renewal when the policies differ from the token's.
    async fn renew(&self, lease: LeaseRequest<'_>) -> Result<Response, EngineError> {
        let Some(raw) = lease.internal.get("role").and_then(Value::as_str) else {
            return Err(EngineError::NotRenewable);
        };
        let Some(name) = role::normalize_name(raw) else {
            return Err(KubernetesError::RoleGone(raw.to_owned()).into());
        };
        let Some(entry) = role::load(lease.storage, &name).await? else {
            return Err(KubernetesError::RoleGone(name).into());
        };
        Ok(entry.token.renewal(lease.internal))
    }

    async fn cleanup(&self) {
        if let Ok(mut cached) = self.client.lock() {
            *cached = None;
        }
    }
}
