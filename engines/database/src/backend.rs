//! The factory, the path table, request dispatch, and the per-config connection pools.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use engine_sdk::{
    EngineError, Factory, Field, FieldKind, LeaseRequest, LogicalBackend, Operation, PathSpec,
    PeriodicRequest, Request, Response, View,
};

use crate::driver::{self, DatabaseDriver};
use crate::error::DbError;
use crate::paths;
use crate::store::{self, DatabaseConfig};
use crate::{
    path_config, path_creds, path_roles, path_rotate_root, path_static_roles, rotation,
    secret_creds,
};

pub(crate) const P_CONFIG_LIST: &str = "config/";
pub(crate) const P_CONFIG: &str = "config/{name}";
pub(crate) const P_RESET: &str = "reset/{name}";
pub(crate) const P_ROTATE_ROOT: &str = "rotate-root/{name}";
pub(crate) const P_ROLES_LIST: &str = "roles/";
pub(crate) const P_ROLE: &str = "roles/{name}";
pub(crate) const P_CREDS: &str = "creds/{name}";
pub(crate) const P_STATIC_ROLES_LIST: &str = "static-roles/";
pub(crate) const P_STATIC_ROLE: &str = "static-roles/{name}";
pub(crate) const P_STATIC_CREDS: &str = "static-creds/{name}";
pub(crate) const P_ROTATE_ROLE: &str = "rotate-role/{name}";

/// How often the core should call [`LogicalBackend::periodic`] (static-role rotation).
pub(crate) const PERIODIC_INTERVAL: Duration = Duration::from_secs(5);

const fn f(name: &'static str, kind: FieldKind, help: &'static str) -> Field {
    Field { name, kind, help }
}

const NAME: Field = f("name", FieldKind::String, "Name of the connection or role.");

const LIST_FIELDS: &[Field] = &[
    f(
        "after",
        FieldKind::String,
        "Optional entry to begin listing after; need not exist.",
    ),
    f(
        "limit",
        FieldKind::Int,
        "Optional number of entries to return; defaults to all.",
    ),
];

const CONFIG_FIELDS: &[Field] = &[
    NAME,
    f(
        "plugin_name",
        FieldKind::String,
        "The database plugin (postgresql-database-plugin, mysql-database-plugin, ...).",
    ),
    f(
        "plugin_version",
        FieldKind::String,
        "The plugin version; only the builtin (empty) version exists.",
    ),
    f(
        "verify_connection",
        FieldKind::Bool,
        "Verify the connection details by connecting. Defaults to true.",
    ),
    f(
        "allowed_roles",
        FieldKind::CommaStrings,
        "Roles allowed to use this connection (globs); empty allows none, * allows all.",
    ),
    f(
        "root_rotation_statements",
        FieldKind::CommaStrings,
        "Statements that change the root user's password.",
    ),
    f(
        "password_policy",
        FieldKind::String,
        "Password policy used to generate passwords for this connection.",
    ),
    f(
        "connection_url",
        FieldKind::String,
        "Connection string, with {{username}} and {{password}} placeholders.",
    ),
    f("username", FieldKind::String, "The root user's name."),
    f(
        "password",
        FieldKind::String,
        "The root user's password (never returned).",
    ),
    f(
        "disable_escaping",
        FieldKind::Bool,
        "Do not escape special characters in the username and password.",
    ),
    f(
        "max_open_connections",
        FieldKind::Int,
        "Maximum open connections. Defaults to 4.",
    ),
    f(
        "max_idle_connections",
        FieldKind::Int,
        "Maximum idle connections; 0 = max_open_connections, negative = none.",
    ),
    f(
        "max_connection_lifetime",
        FieldKind::Duration,
        "Maximum time a connection may be reused; 0 = forever.",
    ),
    f(
        "username_template",
        FieldKind::String,
        "Template for generated user names.",
    ),
    f(
        "password_authentication",
        FieldKind::String,
        "PostgreSQL: password (default) or scram-sha-256 (hashed by the engine).",
    ),
    f(
        "tls_ca",
        FieldKind::String,
        "MySQL: PEM CA that verifies the server.",
    ),
    f(
        "tls_certificate_key",
        FieldKind::String,
        "MySQL: PEM client certificate and private key.",
    ),
    f(
        "tls_server_name",
        FieldKind::String,
        "MySQL: server name expected in its certificate.",
    ),
    f(
        "tls_skip_verify",
        FieldKind::Bool,
        "MySQL: do not verify the server's certificate.",
    ),
];

const ROLE_FIELDS: &[Field] = &[
    NAME,
    f(
        "db_name",
        FieldKind::String,
        "Name of the database connection this role uses.",
    ),
    f(
        "default_ttl",
        FieldKind::Duration,
        "Default lease TTL of generated credentials.",
    ),
    f(
        "max_ttl",
        FieldKind::Duration,
        "Maximum lease TTL of generated credentials.",
    ),
    f(
        "creation_statements",
        FieldKind::CommaStrings,
        "Statements that create and configure a user.",
    ),
    f(
        "revocation_statements",
        FieldKind::CommaStrings,
        "Statements that revoke a user.",
    ),
    f(
        "rollback_statements",
        FieldKind::CommaStrings,
        "Statements that undo a failed creation.",
    ),
    f(
        "renew_statements",
        FieldKind::CommaStrings,
        "Statements that extend a user's validity.",
    ),
    f(
        "credential_type",
        FieldKind::String,
        "Type of credential generated; only password is supported.",
    ),
    f(
        "credential_config",
        FieldKind::Map,
        "Credential configuration (not supported for passwords here).",
    ),
];

const STATIC_ROLE_FIELDS: &[Field] = &[
    NAME,
    f(
        "db_name",
        FieldKind::String,
        "Name of the database connection this role uses.",
    ),
    f(
        "username",
        FieldKind::String,
        "The database user this role manages.",
    ),
    f(
        "rotation_period",
        FieldKind::Duration,
        "Time between password rotations (at least 5s).",
    ),
    f(
        "rotation_schedule",
        FieldKind::String,
        "Cron schedule (5 fields, UTC) for password rotations.",
    ),
    f(
        "rotation_window",
        FieldKind::Duration,
        "How long after a scheduled time a rotation may run (at least 1h).",
    ),
    f(
        "rotation_statements",
        FieldKind::CommaStrings,
        "Statements that change the user's password.",
    ),
    f(
        "skip_import_rotation",
        FieldKind::Bool,
        "Do not rotate the password when the role is created.",
    ),
    f(
        "credential_type",
        FieldKind::String,
        "Type of credential managed; only password is supported.",
    ),
    f(
        "credential_config",
        FieldKind::Map,
        "Credential configuration (not supported for passwords here).",
    ),
];

const NAME_ONLY: &[Field] = &[NAME];

const RWCD: &[Operation] = &[
    Operation::Read,
    Operation::Create,
    Operation::Update,
    Operation::Delete,
];

static PATHS: &[PathSpec] = &[
    PathSpec {
        pattern: P_CONFIG_LIST,
        ops: &[Operation::List],
        existence_check: false,
        fields: &[],
        help: "List the configured database connections.",
    },
    PathSpec {
        pattern: P_CONFIG,
        ops: RWCD,
        existence_check: true,
        fields: CONFIG_FIELDS,
        help: "Configure, read or delete a database connection.",
    },
    PathSpec {
        pattern: P_RESET,
        ops: &[Operation::Update],
        existence_check: false,
        fields: NAME_ONLY,
        help: "Close a connection's pool and open it again from the stored configuration.",
    },
    PathSpec {
        pattern: P_ROTATE_ROOT,
        ops: &[Operation::Update],
        existence_check: false,
        fields: NAME_ONLY,
        help: "Rotate the root user's password of a connection.",
    },
    PathSpec {
        pattern: P_ROLES_LIST,
        ops: &[Operation::List],
        existence_check: false,
        fields: LIST_FIELDS,
        help: "List the dynamic roles.",
    },
    PathSpec {
        pattern: P_ROLE,
        ops: RWCD,
        existence_check: true,
        fields: ROLE_FIELDS,
        help: "Create, read, update or delete a dynamic role.",
    },
    PathSpec {
        pattern: P_CREDS,
        ops: &[Operation::Read],
        existence_check: false,
        fields: NAME_ONLY,
        help: "Generate database credentials for a role.",
    },
    PathSpec {
        pattern: P_STATIC_ROLES_LIST,
        ops: &[Operation::List],
        existence_check: false,
        fields: LIST_FIELDS,
        help: "List the static roles.",
    },
    PathSpec {
        pattern: P_STATIC_ROLE,
        ops: RWCD,
        existence_check: true,
        fields: STATIC_ROLE_FIELDS,
        help: "Create, read, update or delete a static role.",
    },
    PathSpec {
        pattern: P_STATIC_CREDS,
        ops: &[Operation::Read],
        existence_check: false,
        fields: NAME_ONLY,
        help: "Read the current credentials of a static role.",
    },
    PathSpec {
        pattern: P_ROTATE_ROLE,
        ops: &[Operation::Update],
        existence_check: false,
        fields: NAME_ONLY,
        help: "Rotate a static role's password now.",
    },
];

/// Builds the database backend for a mount.
pub fn factory() -> Factory {
    |_config| {
        Box::pin(async {
            let backend: Arc<dyn LogicalBackend> = Arc::new(DatabaseBackend::default());
            Ok(backend)
        })
    }
}

/// A pool built from one generation of a config.
struct Cached {
    generation: String,
    driver: Arc<dyn DatabaseDriver>,
}

/// Async mutexes by name, created on first use.
#[derive(Default)]
pub(crate) struct KeyedLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl KeyedLocks {
    /// The lock for `key`.
    pub(crate) fn get(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.to_owned())
            .or_default()
            .clone()
    }
}

/// The database secrets engine.
#[derive(Default)]
pub(crate) struct DatabaseBackend {
    pools: Mutex<HashMap<String, Cached>>,
    /// Serializes config writes, root rotations and their recovery, per config name.
    pub(crate) root_locks: KeyedLocks,
    /// Serializes rotations of each static role.
    pub(crate) static_locks: KeyedLocks,
}

/// The `{name}` of the request.
pub(crate) fn name(req: &Request<'_>) -> Result<String, DbError> {
    req.param("name")
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| DbError::invalid("empty name attribute given"))
}

impl DatabaseBackend {
    /// The pool for config `name`, built if missing or stale. `config` is the stored entry the caller loaded;
    /// when the pool has to be built, a root rotation left unfinished by a crash is settled first and `config`
    /// is refreshed to what is stored then (so it carries the password the database has).
    pub(crate) async fn driver(
        &self,
        view: &View,
        name: &str,
        config: &mut DatabaseConfig,
    ) -> Result<Arc<dyn DatabaseDriver>, DbError> {
        if let Some(d) = self.cached(name, &config.generation) {
            return Ok(d);
        }
        let lock = self.root_locks.get(name);
        let _guard = lock.lock().await;
        *config = match path_rotate_root::recover_locked(self, view, name).await? {
            Some(c) => c,
            None => store::config(view, name).await?.ok_or_else(|| {
                DbError::invalid(format!(
                    "failed to find entry for connection with name: {name:?}"
                ))
            })?,
        };
        if let Some(d) = self.cached(name, &config.generation) {
            return Ok(d);
        }
        let driver = driver::open(&config.settings()?)?;
        self.install(name, &config.generation, driver.clone());
        Ok(driver)
    }

    fn cached(&self, name: &str, generation: &str) -> Option<Arc<dyn DatabaseDriver>> {
        let pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        pools
            .get(name)
            .filter(|c| c.generation == generation)
            .map(|c| c.driver.clone())
    }

    /// Caches `driver` for `name`, replacing (and releasing) the pool of an older generation.
    pub(crate) fn install(&self, name: &str, generation: &str, driver: Arc<dyn DatabaseDriver>) {
        let old = self
            .pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                name.to_owned(),
                Cached {
                    generation: generation.to_owned(),
                    driver,
                },
            );
        release(old);
    }

    /// Drops the cached pool of `name`, if any.
    pub(crate) fn forget(&self, name: &str) {
        let old = self
            .pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        release(old);
    }
}

/// Lets go of a replaced pool without closing it: requests still using it finish, and its connections close
/// when the last of them drops it. (Closing it here would fail those requests.)
fn release(old: Option<Cached>) {
    drop(old);
}

#[async_trait]
impl LogicalBackend for DatabaseBackend {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    async fn handle(&self, req: Request<'_>) -> Result<Response, EngineError> {
        let Some(spec) = PATHS.get(req.route.index) else {
            return Err(EngineError::UnsupportedPath(req.path.to_owned()));
        };
        use Operation::{Create, Delete, List, Read, Update};
        let result = match (spec.pattern, req.operation) {
            (P_CONFIG_LIST, List) => path_config::list(&req).await,
            (P_CONFIG, Read) => path_config::read(&req).await,
            (P_CONFIG, Create | Update) => path_config::write(self, &req).await,
            (P_CONFIG, Delete) => path_config::delete(self, &req).await,
            (P_RESET, Update) => path_config::reset(self, &req).await,
            (P_ROTATE_ROOT, Update) => path_rotate_root::rotate(self, &req).await,
            (P_ROLES_LIST, List) => path_roles::list(&req, paths::ROLE_PREFIX).await,
            (P_ROLE, Read) => path_roles::read(&req).await,
            (P_ROLE, Create | Update) => path_roles::write(&req).await,
            (P_ROLE, Delete) => path_roles::delete(&req).await,
            (P_CREDS, Read) => path_creds::read(self, &req).await,
            (P_STATIC_ROLES_LIST, List) => path_roles::list(&req, paths::STATIC_ROLE_PREFIX).await,
            (P_STATIC_ROLE, Read) => path_static_roles::read(&req).await,
            (P_STATIC_ROLE, Create | Update) => path_static_roles::write(self, &req).await,
            (P_STATIC_ROLE, Delete) => path_static_roles::delete(self, &req).await,
            (P_STATIC_CREDS, Read) => path_static_roles::creds(&req).await,
            (P_ROTATE_ROLE, Update) => path_static_roles::rotate(self, &req).await,
            _ => return Err(EngineError::UnsupportedOperation),
        };
        result.map_err(Into::into)
    }

    async fn exists(&self, req: Request<'_>) -> Result<bool, EngineError> {
        let Some(spec) = PATHS.get(req.route.index) else {
            return Ok(false);
        };
        let Ok(name) = name(&req) else {
            return Ok(false);
        };
        let prefix = match spec.pattern {
            P_CONFIG => paths::CONFIG_PREFIX,
            P_ROLE => paths::ROLE_PREFIX,
            P_STATIC_ROLE => paths::STATIC_ROLE_PREFIX,
            _ => return Ok(false),
        };
        use engine_sdk::Storage as _;
        Ok(req.storage.get(&format!("{prefix}{name}")).await?.is_some())
    }

    async fn renew(&self, lease: LeaseRequest<'_>) -> Result<Response, EngineError> {
        secret_creds::renew(self, &lease).await.map_err(Into::into)
    }

    async fn revoke(&self, lease: LeaseRequest<'_>) -> Result<(), EngineError> {
        secret_creds::revoke(self, &lease).await.map_err(Into::into)
    }

    async fn periodic(&self, req: PeriodicRequest<'_>) -> Result<(), EngineError> {
        // Both run every tick; one failing does not stop the other.
        let swept = crate::pending::sweep(self, &req).await;
        rotation::periodic(self, &req).await?;
        swept.map_err(Into::into)
    }

    fn periodic_interval(&self) -> Option<Duration> {
        Some(PERIODIC_INTERVAL)
    }

    fn lease_paths(&self) -> &'static [&'static str] {
        &["creds/*"]
    }

    async fn cleanup(&self) {
        let all: Vec<Cached> = self
            .pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, c)| c)
            .collect();
        for c in all {
            c.driver.close().await;
        }
    }
}
