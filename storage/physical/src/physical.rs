//! The ciphertext side: what a durable store (raft-store) or the in-memory backend implements.

use async_trait::async_trait;

use crate::StorageError;

/// One write in an atomic batch.
#[derive(Clone, PartialEq, Eq)]
pub enum Op {
    /// Store `value` at `key`, replacing any previous value.
    Put {
        /// Storage path.
        key: String,
        /// Opaque bytes (ciphertext above the barrier).
        value: Vec<u8>,
    },
    /// Remove `key`; removing a missing key is not an error.
    Delete {
        /// Storage path.
        key: String,
    },
}

impl Op {
    /// The key this operation touches.
    pub fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Delete { key } => key,
        }
    }
}

// Values are ciphertext, but keep them out of logs anyway.
impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Put { key, value } => write!(f, "Put({key:?}, {} bytes)", value.len()),
            Op::Delete { key } => write!(f, "Delete({key:?})"),
        }
    }
}

/// A key/value store of opaque values. A write returns only once it is durable (for raft-store: fsynced on a
/// quorum and applied).
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The value at `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Stores `value` at `key`.
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        self.batch(vec![Op::Put {
            key: key.to_owned(),
            value,
        }])
        .await
    }
    /// Removes `key` (no error if absent).
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.batch(vec![Op::Delete {
            key: key.to_owned(),
        }])
        .await
    }
    /// The immediate children of `prefix` (which is empty or ends in `/`): leaf names, and folders with a
    /// trailing `/`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;
    /// Applies every operation atomically, in order.
    async fn batch(&self, ops: Vec<Op>) -> Result<(), StorageError>;
}
