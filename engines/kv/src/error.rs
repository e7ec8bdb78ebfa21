//! Why a KV request was refused; texts follow OpenBao's, which clients and the CLI match on.

use engine_sdk::EngineError;

/// A KV-specific failure, mapped onto [`EngineError`] at the handler boundary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum KvError {
    /// `options.cas` did not equal the key's current version.
    #[error("check-and-set parameter did not match the current version")]
    CasMismatch,
    /// The config or the key requires `options.cas` and none was given.
    #[error("check-and-set parameter required for this call")]
    CasRequired,
    /// `options.cas` is not a number.
    #[error("error parsing check-and-set parameter")]
    CasInvalid,
    /// `metadata_cas` is required by the config or the key.
    #[error("metadata check-and-set parameter required for this call")]
    MetadataCasRequired,
    /// `metadata_cas` did not equal the key's metadata version.
    #[error("metadata check-and-set parameter does not match the current version")]
    MetadataCasMismatch,
    /// `metadata_cas` was not 0 for a key without metadata.
    #[error("metadata_cas must be 0 when creating new metadata")]
    MetadataCasNotZero,
    /// A v2 write without a `data` object.
    #[error("no data provided")]
    NoData,
    /// A v1 write with an empty body.
    #[error("missing data fields")]
    MissingFields,
    /// `delete`/`undelete` without versions.
    #[error("No version number provided")]
    NoVersion,
    /// `destroy` without versions (OpenBao spells this one in lower case).
    #[error("no version number provided")]
    NoVersionDestroy,
    /// The secret path is empty or not a valid storage path.
    #[error("invalid path {0:?}")]
    InvalidPath(String),
    /// A request field has the wrong shape.
    #[error("{0}")]
    InvalidField(String),
    /// `custom_metadata` failed validation.
    #[error("{0}")]
    CustomMetadata(String),
    /// The mount's `version` option is neither 1 nor 2.
    #[error("unsupported KV version {0:?}: must be \"1\" or \"2\"")]
    UnsupportedVersion(String),
    /// A version-1 backend was asked to serve storage already upgraded to version 2.
    #[error("cannot downgrade a KV mount from version 2 to version 1")]
    Downgrade,
    /// Stored data is inconsistent (a version listed in metadata has no entry).
    #[error("{0}")]
    Inconsistent(String),
}

impl From<KvError> for EngineError {
    fn from(e: KvError) -> Self {
        match e {
            KvError::Inconsistent(msg) => EngineError::Internal(msg),
            other => EngineError::InvalidRequest(other.to_string()),
        }
    }
}
