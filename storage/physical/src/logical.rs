//! The plaintext side: implemented by the barrier, and by [`View`] which confines a caller to a prefix.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{Op, StorageError};

/// Plaintext key/value storage (values are encrypted by whoever implements it before they reach a
/// [`crate::Backend`]).
#[async_trait]
pub trait Storage: Send + Sync {
    /// The plaintext value at `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Stores `value` at `key`.
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError>;
    /// Removes `key` (no error if absent).
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// Immediate children of `prefix`, as [`crate::Backend::list`].
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;
    /// Applies puts (plaintext values) and deletes atomically.
    async fn batch(&self, ops: Vec<Op>) -> Result<(), StorageError>;
}

/// A [`Storage`] confined to keys under `prefix` (a "chroot"): what a mount or subsystem is handed.
#[derive(Clone)]
pub struct View {
    inner: Arc<dyn Storage>,
    prefix: String,
}

impl View {
    /// A view of `inner` under `prefix`, which must be empty or end with `/`.
    pub fn new(inner: Arc<dyn Storage>, prefix: impl Into<String>) -> Self {
        Self {
            inner,
            prefix: prefix.into(),
        }
    }

    /// A narrower view under `sub` (relative to this view).
    pub fn sub(&self, sub: &str) -> Self {
        Self {
            inner: self.inner.clone(),
            prefix: format!("{}{sub}", self.prefix),
        }
    }

    /// The prefix this view adds to every key.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn full(&self, key: &str) -> Result<String, StorageError> {
        crate::validate_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }
}

#[async_trait]
impl Storage for View {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(&self.full(key)?).await
    }
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.inner.put(&self.full(key)?, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.inner.delete(&self.full(key)?).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        if !prefix.is_empty() {
            crate::validate_key(prefix)?;
        }
        self.inner.list(&format!("{}{prefix}", self.prefix)).await
    }
    async fn batch(&self, ops: Vec<Op>) -> Result<(), StorageError> {
        let ops = ops
            .into_iter()
            .map(|op| {
                Ok(match op {
                    Op::Put { key, value } => Op::Put {
                        key: self.full(&key)?,
                        value,
                    },
                    Op::Delete { key } => Op::Delete {
                        key: self.full(&key)?,
                    },
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        self.inner.batch(ops).await
    }
}
