//! The in-memory backend for `-dev` mode and tests.

use std::collections::BTreeMap;
use std::sync::RwLock;

use async_trait::async_trait;

use crate::{Backend, Op, StorageError};

/// A [`Backend`] that keeps everything in a sorted map; nothing survives the process.
#[derive(Default)]
pub struct InMem {
    // A std lock is fine: it is never held across an await and every critical section is a map operation.
    map: RwLock<BTreeMap<String, Vec<u8>>>,
}

impl InMem {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn poisoned() -> StorageError {
        StorageError::Io("in-memory store lock poisoned".into())
    }
}

#[async_trait]
impl Backend for InMem {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        crate::validate_key(key)?;
        Ok(self
            .map
            .read()
            .map_err(|_| Self::poisoned())?
            .get(key)
            .cloned())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let map = self.map.read().map_err(|_| Self::poisoned())?;
        let keys = map
            .range(prefix.to_owned()..)
            .map(|(k, _)| k.as_str())
            .take_while(|k| k.starts_with(prefix));
        Ok(crate::children(prefix, keys))
    }

    async fn batch(&self, ops: Vec<Op>) -> Result<(), StorageError> {
        for op in &ops {
            crate::validate_key(op.key())?;
        }
        let mut map = self.map.write().map_err(|_| Self::poisoned())?;
        for op in ops {
            match op {
                Op::Put { key, value } => {
                    map.insert(key, value);
                }
                Op::Delete { key } => {
                    map.remove(&key);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn conformance() {
        crate::testing::exercise_backend(&super::InMem::new()).await;
    }
}
