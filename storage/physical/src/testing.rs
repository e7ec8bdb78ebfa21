//! The conformance suite every [`Backend`] implementation runs.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers"
)]

use crate::{Backend, Op};

/// Exercises get/put/delete/list/batch semantics on an empty backend; panics on the first violation.
pub async fn exercise_backend(b: &dyn Backend) {
    assert_eq!(
        b.get("missing").await.unwrap(),
        None,
        "missing key reads None"
    );
    assert_eq!(
        b.list("").await.unwrap(),
        Vec::<String>::new(),
        "empty store lists nothing"
    );

    b.put("foo", b"bar".to_vec()).await.unwrap();
    assert_eq!(b.get("foo").await.unwrap().as_deref(), Some(&b"bar"[..]));
    b.put("foo", b"baz".to_vec()).await.unwrap();
    assert_eq!(
        b.get("foo").await.unwrap().as_deref(),
        Some(&b"baz"[..]),
        "put overwrites"
    );

    // Binary and empty values round-trip exactly.
    let binary: Vec<u8> = (0..=255u8).collect();
    b.put("bin", binary.clone()).await.unwrap();
    assert_eq!(b.get("bin").await.unwrap(), Some(binary));
    b.put("empty", Vec::new()).await.unwrap();
    assert_eq!(b.get("empty").await.unwrap(), Some(Vec::new()));

    // Nested keys list one level at a time, folders once with a trailing slash, sorted.
    for k in [
        "dir/a",
        "dir/b",
        "dir/sub/c",
        "dir/sub/d",
        "dir/sub/deeper/e",
        "dirx",
    ] {
        b.put(k, b"v".to_vec()).await.unwrap();
    }
    assert_eq!(
        b.list("").await.unwrap(),
        vec!["bin", "dir/", "dirx", "empty", "foo"]
    );
    assert_eq!(b.list("dir/").await.unwrap(), vec!["a", "b", "sub/"]);
    assert_eq!(b.list("dir/sub/").await.unwrap(), vec!["c", "d", "deeper/"]);
    assert_eq!(b.list("nope/").await.unwrap(), Vec::<String>::new());

    b.delete("foo").await.unwrap();
    assert_eq!(b.get("foo").await.unwrap(), None, "delete removes");
    b.delete("foo").await.unwrap(); // deleting a missing key is fine

    // Batches apply in order and atomically.
    b.batch(vec![
        Op::Put {
            key: "batch/1".into(),
            value: b"one".to_vec(),
        },
        Op::Put {
            key: "batch/2".into(),
            value: b"two".to_vec(),
        },
        Op::Delete {
            key: "batch/1".into(),
        },
        Op::Put {
            key: "batch/3".into(),
            value: b"three".to_vec(),
        },
    ])
    .await
    .unwrap();
    assert_eq!(b.list("batch/").await.unwrap(), vec!["2", "3"]);

    // A batch with an invalid key is rejected whole.
    let bad = b
        .batch(vec![
            Op::Put {
                key: "batch/4".into(),
                value: b"x".to_vec(),
            },
            Op::Put {
                key: "../x".into(),
                value: vec![],
            },
        ])
        .await;
    assert!(bad.is_err(), "invalid key rejected");
    assert_eq!(
        b.get("batch/4").await.unwrap(),
        None,
        "rejected batch wrote nothing"
    );
    assert!(b.get("/abs").await.is_err(), "absolute key rejected");

    // Concurrent writers all land.
    let writes = (0..64u8).map(|i| async move { b.put(&format!("conc/{i:03}"), vec![i]).await });
    for r in futures::future::join_all(writes).await {
        r.unwrap();
    }
    assert_eq!(b.list("conc/").await.unwrap().len(), 64);
    for i in 0..64u8 {
        assert_eq!(b.get(&format!("conc/{i:03}")).await.unwrap(), Some(vec![i]));
    }
}

/// The plaintext [`Storage`](crate::Storage) side over the in-memory backend, for unit tests that need a
/// [`View`](crate::View) without a barrier.
#[derive(Default)]
pub struct PlainMem(pub crate::InMem);

impl PlainMem {
    /// An empty store, ready to back views.
    pub fn shared() -> std::sync::Arc<dyn crate::Storage> {
        std::sync::Arc::new(Self::default())
    }
}

#[async_trait::async_trait]
impl crate::Storage for PlainMem {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, crate::StorageError> {
        self.0.get(key).await
    }
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), crate::StorageError> {
        self.0.put(key, value.to_vec()).await
    }
    async fn delete(&self, key: &str) -> Result<(), crate::StorageError> {
        self.0.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, crate::StorageError> {
        self.0.list(prefix).await
    }
    async fn batch(&self, ops: Vec<Op>) -> Result<(), crate::StorageError> {
        self.0.batch(ops).await
    }
}
