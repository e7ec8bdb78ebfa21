//! No plaintext secret on disk: end to end through the server, and directly through barrier + raft-store.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use barrier::{Barrier, RootKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use raft_store::{RaftConfig, RaftStore};
use storage::Storage as _;
use testkit::TestServer;

/// Every regular file under `dir`, recursively, with its contents.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("read_dir {}: {e}", d.display()))
        {
            let path = entry.expect("dir entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let bytes =
                    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                out.push((path, bytes));
            }
        }
    }
    assert!(!out.is_empty(), "no files under {}", dir.display());
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The raw, hex and base64 forms of a secret.
fn forms(raw: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("raw", raw.to_vec()),
        ("hex", hex::encode(raw).into_bytes()),
        ("HEX", hex::encode_upper(raw).into_bytes()),
        ("base64", B64.encode(raw).into_bytes()),
    ]
}

fn assert_absent(dir: &Path, secrets: &[(String, Vec<u8>)]) {
    for (path, bytes) in files_under(dir) {
        for (name, raw) in secrets {
            for (form, needle) in forms(raw) {
                assert!(
                    !contains(&bytes, &needle),
                    "{name} ({form}) found in plaintext in {}",
                    path.display()
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_root_token_or_unseal_share_on_disk() {
    let mut server = TestServer::durable().await;
    let init = server.init(5, 3).await;
    server.unseal_with(&init.keys[..3]).await;
    let api = server.api();
    for _ in 0..2 {
        assert_eq!(api.send("PUT", "sys/rotate", None, &[]).await.status, 204);
    }
    // The root token works, so it is stored (as a salted hash, never as itself).
    assert_eq!(crate::key_term(&api).await, 3);

    let mut secrets = vec![(
        "root token".to_owned(),
        init.root_token.clone().into_bytes(),
    )];
    for (i, (h, b)) in init.keys.iter().zip(&init.keys_base64).enumerate() {
        let raw = hex::decode(h).expect("hex share");
        assert_eq!(
            B64.decode(b).expect("base64 share"),
            raw,
            "hex and base64 forms of share {i} differ"
        );
        secrets.push((format!("unseal share {i}"), raw));
    }
    assert_absent(server.data_dir(), &secrets);
    server.stop().await;
    assert_absent(server.data_dir(), &secrets);
}

#[tokio::test(flavor = "multi_thread")]
async fn barrier_over_raft_store_writes_only_ciphertext() {
    let rng = ring::rand::SystemRandom::new();
    let mut secret = [0_u8; 64];
    ring::rand::SecureRandom::fill(&rng, &mut secret).expect("random secret");
    let mut root_bytes = [0_u8; 32];
    ring::rand::SecureRandom::fill(&rng, &mut root_bytes).expect("random root key");
    let keys = [
        "secret/a",
        "secret/b/c",
        "logical/0f3e/data/db-password",
        "sys/token/id/abc",
    ];

    let dir = tempfile::tempdir().expect("temp dir");
    let config = RaftConfig {
        dir: dir.path().join("raft"),
        node_id: 1,
        performance_multiplier: 0,
    };
    {
        let store = RaftStore::open(config.clone())
            .await
            .expect("open raft store");
        let barrier = Barrier::new(Arc::new(store.clone()));
        let root = RootKey::from_bytes(&root_bytes).expect("root key");
        barrier.initialize(&root).await.expect("initialize barrier");
        barrier.unseal(&root).await.expect("unseal barrier");
        for key in keys {
            barrier.put(key, &secret).await.expect("put");
        }
        barrier.rotate().await.expect("rotate");
        barrier
            .put("secret/after-rotation", &secret)
            .await
            .expect("put after rotation");
        barrier.seal();
        store.shutdown().await.expect("shutdown");
    }

    // Positive control: storage paths are not secret and are visible, so the scan does read the data.
    let files = files_under(dir.path());
    assert!(
        files.iter().any(|(_, b)| contains(b, b"secret/b/c")),
        "no file holds the key path: the scan looks in the wrong place"
    );
    let mut windows: HashSet<&[u8]> = secret.windows(16).collect();
    windows.extend(root_bytes.windows(16));
    for (path, bytes) in &files {
        let leak = bytes.windows(16).position(|w| windows.contains(w));
        assert!(
            leak.is_none(),
            "16 plaintext bytes of the secret or root key in {} at offset {leak:?}",
            path.display()
        );
    }
    for (_, form) in forms(&secret).into_iter().skip(1) {
        assert!(
            !files.iter().any(|(_, b)| contains(b, &form)),
            "an encoded form of the secret is on disk"
        );
    }

    // The values were really written: reopened and unsealed, they read back.
    let store = RaftStore::open(config).await.expect("reopen raft store");
    let barrier = Barrier::new(Arc::new(store.clone()));
    barrier
        .unseal(&RootKey::from_bytes(&root_bytes).expect("root key"))
        .await
        .expect("unseal after reopen");
    for key in keys.iter().copied().chain(["secret/after-rotation"]) {
        let got = barrier
            .get(key)
            .await
            .expect("get")
            .unwrap_or_else(|| panic!("{key} missing after reopen"));
        assert_eq!(
            got.as_slice(),
            secret.as_slice(),
            "{key} reads back differently"
        );
    }
    barrier.seal();
    store.shutdown().await.expect("shutdown");
}
