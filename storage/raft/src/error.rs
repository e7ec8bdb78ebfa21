//! Errors of the raft store, and their mapping onto [`storage::StorageError`].

use std::path::PathBuf;
use std::time::Duration;

use storage::StorageError;

/// Why a raft store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RaftStoreError {
    /// A store file is corrupt, truncated, missing its partner, or of a data version this build does not know.
    #[error("raft store file {path} is unusable: {reason}")]
    Corrupt {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing a store file failed.
    #[error("raft store I/O failed on {path}: {source}")]
    Io {
        /// The file (or directory) involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is already open, by this process or another one.
    #[error("raft store file {path} is already open elsewhere")]
    InUse {
        /// The locked file.
        path: PathBuf,
    },
    /// The configuration does not fit the data directory (e.g. another node's id).
    #[error("invalid raft store configuration: {0}")]
    Config(String),
    /// This node is not the leader; writes must go to `leader` (if known).
    #[error("not the raft leader (current leader: {leader:?})")]
    NotLeader {
        /// The current leader's node id, if known.
        leader: Option<u64>,
    },
    /// No leader emerged before the deadline.
    #[error("no raft leader elected within {0:?}")]
    NoLeader(Duration),
    /// The store has been shut down.
    #[error("raft store is shut down")]
    ShutDown,
    /// Raft stopped after an unrecoverable error (typically a storage failure); the node must be restarted.
    #[error("raft stopped: {0}")]
    Fatal(String),
}

impl RaftStoreError {
    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<RaftStoreError> for StorageError {
    fn from(e: RaftStoreError) -> Self {
        match e {
            RaftStoreError::Corrupt { .. } => StorageError::Corrupt(e.to_string()),
            RaftStoreError::NotLeader { .. }
            | RaftStoreError::NoLeader(_)
            | RaftStoreError::ShutDown => StorageError::Unavailable(e.to_string()),
            RaftStoreError::Io { .. }
            | RaftStoreError::InUse { .. }
            | RaftStoreError::Config(_)
            | RaftStoreError::Fatal(_) => StorageError::Io(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_storage_errors() {
        let not_leader: StorageError = RaftStoreError::NotLeader { leader: Some(2) }.into();
        assert!(matches!(not_leader, StorageError::Unavailable(_)));
        let shut: StorageError = RaftStoreError::ShutDown.into();
        assert!(matches!(shut, StorageError::Unavailable(_)));
        let corrupt: StorageError = RaftStoreError::corrupt("/d/sm.redb", "bad").into();
        assert!(matches!(corrupt, StorageError::Corrupt(ref m) if m.contains("sm.redb")));
        let io: StorageError =
            RaftStoreError::io("/d/log.redb", std::io::Error::other("disk")).into();
        assert!(matches!(io, StorageError::Io(ref m) if m.contains("log.redb")));
        let fatal: StorageError = RaftStoreError::Fatal("boom".into()).into();
        assert!(matches!(fatal, StorageError::Io(_)));
    }
}
