//! Striped locks for secret ids: read-modify-write of one secret id (use counting, deletion) is serialized
//! without one global lock for the whole mount.

use tokio::sync::{Mutex, MutexGuard};

const STRIPES: usize = 32;

/// A fixed set of mutexes, picked by the secret id's HMAC.
pub(crate) struct Stripes {
    locks: Vec<Mutex<()>>,
    /// Never chosen (the index is always in range); it only spares `lock` an `Option`.
    spare: Mutex<()>,
}

impl Default for Stripes {
    fn default() -> Self {
        Self {
            locks: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            spare: Mutex::new(()),
        }
    }
}

impl std::fmt::Debug for Stripes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripes")
            .field("stripes", &self.locks.len())
            .finish()
    }
}

impl Stripes {
    /// Locks the stripe of `key` (a hex HMAC).
    pub(crate) async fn lock(&self, key: &str) -> MutexGuard<'_, ()> {
        let index = key.bytes().fold(0usize, |acc, b| {
            acc.wrapping_mul(31).wrapping_add(usize::from(b))
        }) % STRIPES;
        self.locks.get(index).unwrap_or(&self.spare).lock().await
    }
}
