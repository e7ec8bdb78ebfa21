//! The factory and the path tables of both KV versions.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use engine_sdk::{
    BackendConfig, EngineError, Factory, Field, FieldKind, LogicalBackend, Operation, PathSpec,
    Request, Response, SystemClock,
};

use crate::error::KvError;
use crate::store::{KeyLocks, check_leaf, load_meta, now_ns};
use crate::{path_config, path_data, path_delete, path_metadata, path_subkeys, path_v1, upgrade};

/// The factory registered for type `kv` (and its `kv-v1`/`kv-v2` aliases): `options.version` `"2"` builds a
/// versioned store (upgrading any version-1 data first), `"1"` or nothing a plain one.
pub fn factory() -> Factory {
    build
}

/// What [`build`] returns: the future of a backend.
type BuildFuture =
    Pin<Box<dyn Future<Output = Result<Arc<dyn LogicalBackend>, EngineError>> + Send>>;

fn build(config: BackendConfig) -> BuildFuture {
    Box::pin(async move {
        let version = config.mount.options.get("version").map(String::as_str);
        match version.map(str::trim) {
            None | Some("" | "1") => {
                upgrade::ensure_v1(&config.storage).await?;
                Ok(Arc::new(KvV1) as Arc<dyn LogicalBackend>)
            }
            Some("2") => {
                let moved = upgrade::ensure_v2(&config.storage, now_ns(&SystemClock)).await?;
                if moved > 0 {
                    tracing::info!(mount = %config.mount.path, moved, "KV mount upgraded to version 2");
                }
                Ok(Arc::new(KvV2::new()) as Arc<dyn LogicalBackend>)
            }
            Some(other) => Err(KvError::UnsupportedVersion(other.to_owned()).into()),
        }
    })
}

const F_PATH: Field = Field {
    name: "path",
    kind: FieldKind::String,
    help: "Location of the secret.",
};

const READ: Operation = Operation::Read;
const LIST: Operation = Operation::List;
const CREATE: Operation = Operation::Create;
const UPDATE: Operation = Operation::Update;
const DELETE: Operation = Operation::Delete;
const PATCH: Operation = Operation::Patch;

const V1_ROOT: &str = "";
const V1_SECRET: &str = "{*path}";

static V1_PATHS: [PathSpec; 2] = [
    PathSpec {
        pattern: V1_ROOT,
        ops: &[LIST],
        existence_check: false,
        fields: &[],
        help: "List the secrets at the root of the mount.",
    },
    PathSpec {
        pattern: V1_SECRET,
        ops: &[READ, CREATE, UPDATE, DELETE, LIST],
        existence_check: true,
        fields: &[
            F_PATH,
            Field {
                name: "ttl",
                kind: FieldKind::Duration,
                help: "Advisory lease duration returned on reads (stored with the data).",
            },
        ],
        help: "Pass-through secret storage: read, write, delete and list arbitrary JSON objects.",
    },
];

/// KV version 1: a JSON object per path.
#[derive(Debug, Default)]
pub(crate) struct KvV1;

#[async_trait]
impl LogicalBackend for KvV1 {
    fn paths(&self) -> &'static [PathSpec] {
        &V1_PATHS
    }

    async fn handle(&self, req: Request<'_>) -> Result<Response, EngineError> {
        match req.operation {
            Operation::Read => path_v1::read(&req).await,
            Operation::Create | Operation::Update => path_v1::write(&req).await,
            Operation::Delete => path_v1::delete(&req).await,
            Operation::List => path_v1::list(&req).await,
            Operation::Patch => Err(EngineError::UnsupportedOperation),
        }
    }

    async fn exists(&self, req: Request<'_>) -> Result<bool, EngineError> {
        path_v1::exists(&req).await
    }
}

const P_CONFIG: &str = "config";
const P_DATA: &str = "data/{*path}";
const P_DELETE: &str = "delete/{*path}";
const P_UNDELETE: &str = "undelete/{*path}";
const P_DESTROY: &str = "destroy/{*path}";
const P_META_ROOT: &str = "metadata/";
const P_META: &str = "metadata/{*path}";
const P_DETAILED_ROOT: &str = "detailed-metadata/";
const P_DETAILED: &str = "detailed-metadata/{*path}";
const P_SUBKEYS: &str = "subkeys/{*path}";

const F_MAX_VERSIONS: Field = Field {
    name: "max_versions",
    kind: FieldKind::Int,
    help: "Versions kept per key (0 = 10).",
};
const F_CAS_REQUIRED: Field = Field {
    name: "cas_required",
    kind: FieldKind::Bool,
    help: "Require options.cas on every data write.",
};
const F_METADATA_CAS_REQUIRED: Field = Field {
    name: "metadata_cas_required",
    kind: FieldKind::Bool,
    help: "Require metadata_cas on every metadata write.",
};
const F_DVA: Field = Field {
    name: "delete_version_after",
    kind: FieldKind::Duration,
    help: "Time after which a new version counts as deleted (0 = never).",
};
const F_VERSIONS: Field = Field {
    name: "versions",
    kind: FieldKind::CommaStrings,
    help: "Version numbers to act on.",
};
const F_AFTER: Field = Field {
    name: "after",
    kind: FieldKind::String,
    help: "List only entries after this one.",
};
const F_LIMIT: Field = Field {
    name: "limit",
    kind: FieldKind::Int,
    help: "List at most this many entries (0 = all).",
};
const F_VERSION: Field = Field {
    name: "version",
    kind: FieldKind::Int,
    help: "Version to read (0 = the current one).",
};

static V2_PATHS: [PathSpec; 10] = [
    PathSpec {
        pattern: P_CONFIG,
        ops: &[READ, CREATE, UPDATE],
        existence_check: false,
        fields: &[
            F_MAX_VERSIONS,
            F_CAS_REQUIRED,
            F_METADATA_CAS_REQUIRED,
            F_DVA,
        ],
        help: "Engine-wide settings applied to every key.",
    },
    PathSpec {
        pattern: P_DATA,
        ops: &[READ, CREATE, UPDATE, DELETE, PATCH],
        existence_check: true,
        fields: &[
            F_PATH,
            F_VERSION,
            Field {
                name: "data",
                kind: FieldKind::Map,
                help: "The secret to store (or, for PATCH, a JSON merge patch of the current version).",
            },
            Field {
                name: "options",
                kind: FieldKind::Map,
                help: "Write options: cas (write only if the current version equals it; 0 = only if absent).",
            },
        ],
        help: "Write, patch, read and soft-delete versions of a secret.",
    },
    PathSpec {
        pattern: P_DELETE,
        ops: &[CREATE, UPDATE],
        existence_check: false,
        fields: &[F_PATH, F_VERSIONS],
        help: "Mark versions of a secret deleted (reversible).",
    },
    PathSpec {
        pattern: P_UNDELETE,
        ops: &[CREATE, UPDATE],
        existence_check: false,
        fields: &[F_PATH, F_VERSIONS],
        help: "Restore deleted versions of a secret.",
    },
    PathSpec {
        pattern: P_DESTROY,
        ops: &[CREATE, UPDATE],
        existence_check: false,
        fields: &[F_PATH, F_VERSIONS],
        help: "Permanently remove versions of a secret.",
    },
    PathSpec {
        pattern: P_META_ROOT,
        ops: &[LIST],
        existence_check: false,
        fields: &[F_AFTER, F_LIMIT],
        help: "List the secrets at the root of the mount.",
    },
    PathSpec {
        pattern: P_META,
        ops: &[READ, CREATE, UPDATE, DELETE, LIST, PATCH],
        existence_check: true,
        fields: &[
            F_PATH,
            F_MAX_VERSIONS,
            F_CAS_REQUIRED,
            F_METADATA_CAS_REQUIRED,
            F_DVA,
            Field {
                name: "custom_metadata",
                kind: FieldKind::Map,
                help: "User-provided string key/value pairs describing the secret.",
            },
            Field {
                name: "metadata_cas",
                kind: FieldKind::Int,
                help: "Write only if the metadata version equals this (0 = only if absent).",
            },
            F_AFTER,
            F_LIMIT,
        ],
        help: "Read, write, patch, list or delete (with all versions) a secret's metadata.",
    },
    PathSpec {
        pattern: P_DETAILED_ROOT,
        ops: &[LIST],
        existence_check: false,
        fields: &[F_AFTER, F_LIMIT],
        help: "List the secrets at the root of the mount with their metadata.",
    },
    PathSpec {
        pattern: P_DETAILED,
        ops: &[LIST],
        existence_check: false,
        fields: &[F_PATH, F_AFTER, F_LIMIT],
        help: "List secrets with their metadata.",
    },
    PathSpec {
        pattern: P_SUBKEYS,
        ops: &[READ],
        existence_check: false,
        fields: &[
            F_PATH,
            F_VERSION,
            Field {
                name: "depth",
                kind: FieldKind::Int,
                help: "Deepest level to show (0 = no limit).",
            },
        ],
        help: "Read a secret's structure with its values removed.",
    },
];

/// KV version 2: versioned secrets with metadata.
pub(crate) struct KvV2 {
    /// Serialises writes per key.
    pub(crate) locks: KeyLocks,
    /// Serialises config updates.
    pub(crate) config_lock: tokio::sync::Mutex<()>,
}

impl KvV2 {
    fn new() -> Self {
        Self {
            locks: KeyLocks::new(),
            config_lock: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait]
impl LogicalBackend for KvV2 {
    fn paths(&self) -> &'static [PathSpec] {
        &V2_PATHS
    }

    async fn handle(&self, req: Request<'_>) -> Result<Response, EngineError> {
        let Some(spec) = V2_PATHS.get(req.route.index) else {
            return Err(EngineError::UnsupportedPath(req.path.to_owned()));
        };
        use Operation as O;
        match (spec.pattern, req.operation) {
            (P_CONFIG, O::Read) => path_config::read(&req).await,
            (P_CONFIG, O::Create | O::Update) => path_config::write(self, &req).await,
            (P_DATA, O::Read) => path_data::read(self, &req).await,
            (P_DATA, O::Create | O::Update) => path_data::write(self, &req).await,
            (P_DATA, O::Patch) => path_data::patch(self, &req).await,
            (P_DATA, O::Delete) => path_data::delete(self, &req).await,
            (P_DELETE, O::Create | O::Update) => path_delete::delete_versions(self, &req).await,
            (P_UNDELETE, O::Create | O::Update) => path_delete::undelete_versions(self, &req).await,
            (P_DESTROY, O::Create | O::Update) => path_delete::destroy_versions(self, &req).await,
            (P_META_ROOT | P_META, O::List) => path_metadata::list(&req, false).await,
            (P_DETAILED_ROOT | P_DETAILED, O::List) => path_metadata::list(&req, true).await,
            (P_META, O::Read) => path_metadata::read(&req).await,
            (P_META, O::Create | O::Update) => path_metadata::write(self, &req).await,
            (P_META, O::Patch) => path_metadata::patch(self, &req).await,
            (P_META, O::Delete) => path_metadata::delete(self, &req).await,
            (P_SUBKEYS, O::Read) => path_subkeys::read(self, &req).await,
            _ => Err(EngineError::UnsupportedOperation),
        }
    }

    /// A write to `data/` or `metadata/` creates when the key has no metadata yet.
    async fn exists(&self, req: Request<'_>) -> Result<bool, EngineError> {
        let path = req.param("path").unwrap_or("");
        if check_leaf(path).is_err() {
            return Ok(false);
        }
        Ok(load_meta(req.storage, path).await?.is_some())
    }
}
