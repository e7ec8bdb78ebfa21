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
