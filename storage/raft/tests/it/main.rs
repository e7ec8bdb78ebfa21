//! RaftStore end to end on a real data directory: conformance, restart, crash, corruption, group commit.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use raft_store::{RaftConfig, RaftStore, RaftStoreError};
use storage::{Backend, Op, StorageError};

fn cfg(dir: &Path) -> RaftConfig {
    RaftConfig {
        dir: dir.to_path_buf(),
        node_id: 1,
        performance_multiplier: 0,
    }
}

fn value(w: u64, n: u64) -> Vec<u8> {
    format!("value-{w}-{n}-{}", "x".repeat((n % 50) as usize)).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    storage::testing::exercise_backend(&store).await;
    store.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_store_is_single_node_leader() {
    let dir = tempfile::tempdir().unwrap();
    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    store.wait_ready().await.unwrap();
    let st = store.status();
    assert!(st.is_leader, "{st:?}");
    assert_eq!(st.node_id, 1);
    assert_eq!(st.leader_id, Some(1));
    assert!(st.term >= 1, "{st:?}");
    store.put("a", b"1".to_vec()).await.unwrap();
    let after = store.status();
    assert!(
        after.applied_index > st.applied_index,
        "{st:?} -> {after:?}"
    );
    assert!(after.committed_index >= after.applied_index, "{after:?}");

    // One voter: stepping down is a no-op and it stays leader.
    store.step_down().await.unwrap();
    assert!(store.status().is_leader);
    store.shutdown().await.unwrap();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_files_are_private_to_the_server_user() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = RaftStore::open(cfg(&data)).await.unwrap();
    store.shutdown().await.unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for f in ["log.redb", "sm.redb"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_after_shutdown_are_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    let clone = store.clone();
    store.shutdown().await.unwrap();
    store.shutdown().await.unwrap(); // idempotent
    assert!(matches!(
        clone.put("a", vec![1]).await,
        Err(StorageError::Unavailable(_))
    ));
    assert!(matches!(
        clone.get("a").await,
        Err(StorageError::Unavailable(_))
    ));
    assert!(matches!(
        clone.list("").await,
        Err(StorageError::Unavailable(_))
    ));
    assert!(matches!(
        clone.step_down().await,
        Err(RaftStoreError::ShutDown)
    ));
    assert!(!clone.status().is_leader);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_after_shutdown_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    for n in 0..50u64 {
        store.put(&format!("k/{n:03}"), value(0, n)).await.unwrap();
    }
    store.delete("k/007").await.unwrap();
    store
        .batch(vec![
            Op::Put {
                key: "b/1".into(),
                value: vec![1],
            },
            Op::Delete {
                key: "k/008".into(),
            },
        ])
        .await
        .unwrap();
    store.shutdown().await.unwrap();

    let t = Instant::now();
    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    // Reads are served from the local state machine before leadership is back.
    assert_eq!(store.get("b/1").await.unwrap(), Some(vec![1]));
    store.wait_ready().await.unwrap();
    println!("reopen until leader took {:?}", t.elapsed());
    assert!(store.status().is_leader);
    for n in 0..50u64 {
        let got = store.get(&format!("k/{n:03}")).await.unwrap();
        if n == 7 || n == 8 {
            assert_eq!(got, None, "k/{n:03}");
        } else {
            assert_eq!(got, Some(value(0, n)), "k/{n:03}");
        }
    }
    assert_eq!(store.get("b/1").await.unwrap(), Some(vec![1]));
    assert_eq!(store.list("k/").await.unwrap().len(), 48);
    store.put("after", vec![2]).await.unwrap();
    store.shutdown().await.unwrap();

    // A different node id may not adopt the directory.
    let err = RaftStore::open(RaftConfig {
        node_id: 2,
        ..cfg(dir.path())
    })
    .await
    .unwrap_err();
    assert!(matches!(err, RaftStoreError::Config(_)), "{err}");
}

/// Opening a directory that is still open fails cleanly instead of sharing the files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_open_of_same_dir_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    let err = RaftStore::open(cfg(dir.path())).await.unwrap_err();
    assert!(matches!(err, RaftStoreError::InUse { .. }), "{err}");
    store.shutdown().await.unwrap();
}

/// Dropping the whole runtime mid-flight (tasks cancelled, no shutdown) loses no acknowledged write.
#[test]
fn reopen_after_drop_without_shutdown_keeps_acknowledged_writes() {
    let dir = tempfile::tempdir().unwrap();
    let acked = {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let acked = rt.block_on(async {
            let store = RaftStore::open(cfg(dir.path())).await.unwrap();
            let mut acked = Vec::new();
            for n in 0..100u64 {
                store.put(&format!("k/{n:03}"), value(1, n)).await.unwrap();
                acked.push(n);
            }
            // More writes in flight when the "crash" hits; their outcome is unknown and not checked.
            for n in 100..200u64 {
                let s = store.clone();
                tokio::spawn(async move { s.put(&format!("k/{n:03}"), value(1, n)).await });
            }
            drop(store); // never shut down
            acked
        });
        drop(rt);
        acked
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = open_with_retry(dir.path()).await;
        for n in acked {
            assert_eq!(
                store.get(&format!("k/{n:03}")).await.unwrap(),
                Some(value(1, n)),
                "k/{n:03}"
            );
        }
        store.put("after", vec![1]).await.unwrap();
        store.shutdown().await.unwrap();
    });
}

/// Files of a dropped runtime close as its tasks wind down; poll until the directory can be opened.
async fn open_with_retry(dir: &Path) -> RaftStore {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match RaftStore::open(cfg(dir)).await {
            Ok(s) => return s,
            Err(RaftStoreError::InUse { .. }) if Instant::now() < deadline => {
                tokio::task::yield_now().await
            }
            Err(e) => panic!("reopen failed: {e}"),
        }
    }
}

const CHILD_DIR_ENV: &str = "COFFER_RAFT_CRASH_CHILD_DIR";
const WRITERS: u64 = 8;

/// Child half of `acknowledged_writes_survive_kill_9`: does nothing unless started by it.
#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = RaftStore::open(cfg(Path::new(&dir))).await.unwrap();
        println!("ready");
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                let s = store.clone();
                tokio::spawn(async move {
                    for n in 0.. {
                        s.put(&format!("w{w}/{n:06}"), value(w, n)).await.unwrap();
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ack {w} {n}").unwrap();
                        out.flush().unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

/// A real crash: a child process writes with 8 concurrent writers and reports each acknowledged write;
/// it is SIGKILLed mid-stream, and every write it reported must be there after reopening.
#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_ENV, dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    // Highest acknowledged n per writer; each writer is sequential, so all below it were acknowledged too.
    let mut acked: BTreeMap<u64, u64> = BTreeMap::new();
    let mut total = 0u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while total < 1500 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            break;
        };
        let Some(rest) = line.strip_prefix("ack ") else {
            continue;
        };
        let mut parts = rest.split(' ').map(|p| p.parse::<u64>().unwrap());
        let (w, n) = (parts.next().unwrap(), parts.next().unwrap());
        acked.insert(w, n);
        total += 1;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(total >= 1500, "child acknowledged only {total} writes");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = RaftStore::open(cfg(dir.path())).await.unwrap();
        let mut checked = 0;
        for (&w, &max) in &acked {
            for n in 0..=max {
                assert_eq!(
                    store.get(&format!("w{w}/{n:06}")).await.unwrap(),
                    Some(value(w, n)),
                    "w{w}/{n:06}"
                );
                checked += 1;
            }
        }
        println!("{checked} acknowledged writes present after SIGKILL; {total} acks seen");
        store.shutdown().await.unwrap();
    });
}

/// Concurrent writes share log appends: far fewer log fsyncs than writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_log_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    let (log0, sm0) = (store.log_flushes(), store.sm_flushes());
    let t = Instant::now();
    let tasks: Vec<_> = (0..256u64)
        .map(|i| {
            let s = store.clone();
            tokio::spawn(async move { s.put(&format!("gc/{i:03}"), value(2, i)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let elapsed = t.elapsed();
    let log_fsyncs = store.log_flushes() - log0;
    let sm_fsyncs = store.sm_flushes() - sm0;
    println!(
        "256 concurrent writes: {log_fsyncs} log fsyncs, {sm_fsyncs} state machine fsyncs, {elapsed:?}"
    );
    assert!(log_fsyncs >= 1);
    assert!(
        log_fsyncs <= 32,
        "group commit not effective: {log_fsyncs} log fsyncs for 256 writes"
    );
    assert!(
        sm_fsyncs <= 32,
        "apply not batched: {sm_fsyncs} state machine fsyncs for 256 writes"
    );
    assert_eq!(store.list("gc/").await.unwrap().len(), 256);

    // Sequential writes, for contrast: one fsync each.
    let before = store.log_flushes();
    for i in 0..8u64 {
        store.put(&format!("seq/{i}"), vec![1]).await.unwrap();
    }
    assert_eq!(store.log_flushes() - before, 8);
    store.shutdown().await.unwrap();
}

/// Builds a store with some data in `dir` and shuts it down.
async fn populated(dir: &Path) {
    let store = RaftStore::open(cfg(dir)).await.unwrap();
    for n in 0..200u64 {
        store.put(&format!("k/{n:03}"), value(3, n)).await.unwrap();
    }
    store.shutdown().await.unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn truncate_half(path: &Path) {
    let len = std::fs::metadata(path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
}

/// Flips one byte in every 4 KiB page after the first, so any live page is damaged.
fn scribble_pages(path: &Path) {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let len = f.metadata().unwrap().len();
    let mut off = 4096 + 1000;
    while off < len {
        f.seek(SeekFrom::Start(off)).unwrap();
        f.write_all(&[0xA5]).unwrap();
        off += 4096;
    }
    f.sync_all().unwrap();
}

fn overwrite_head(path: &Path) {
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all(&[0x5A; 512]).unwrap();
    f.sync_all().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_files_fail_open_naming_the_file() {
    let base = tempfile::tempdir().unwrap();
    let good = base.path().join("good");
    populated(&good).await;

    type Damage = fn(&Path);
    let cases: Vec<(&str, &str, Damage)> = vec![
        ("truncated log", "log.redb", truncate_half),
        ("truncated sm", "sm.redb", truncate_half),
        ("scribbled log", "log.redb", scribble_pages),
        ("scribbled sm", "sm.redb", scribble_pages),
        ("garbage header log", "log.redb", overwrite_head),
        ("garbage header sm", "sm.redb", overwrite_head),
        ("empty log", "log.redb", |p| {
            std::fs::File::create(p).map(drop).unwrap()
        }),
        ("empty sm", "sm.redb", |p| {
            std::fs::File::create(p).map(drop).unwrap()
        }),
        ("missing sm", "sm.redb", |p| {
            std::fs::remove_file(p).unwrap()
        }),
    ];
    for (i, (name, file, damage)) in cases.into_iter().enumerate() {
        let dir: PathBuf = base.path().join(format!("case{i}"));
        copy_dir(&good, &dir);
        damage(&dir.join(file));
        let err = RaftStore::open(cfg(&dir)).await.expect_err(name);
        let msg = err.to_string();
        assert!(
            matches!(
                err,
                RaftStoreError::Corrupt { .. } | RaftStoreError::Io { .. }
            ),
            "{name}: {msg}"
        );
        assert!(
            msg.contains(file),
            "{name}: error does not name {file}: {msg}"
        );
        println!("{name}: {msg}");
    }

    // The undamaged copy still opens and holds everything.
    let store = RaftStore::open(cfg(&good)).await.unwrap();
    assert_eq!(store.list("k/").await.unwrap().len(), 200);
    store.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_reopen_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    for n in 0..300u64 {
        store.put(&format!("s/{n:03}"), value(4, n)).await.unwrap();
    }
    store.delete("s/000").await.unwrap();
    let idx = store.snapshot().await.unwrap();
    assert!(idx >= 300, "snapshot covers index {idx}");
    store.put("s/after", vec![9]).await.unwrap();
    store.shutdown().await.unwrap();

    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    assert_eq!(store.get("s/000").await.unwrap(), None);
    for n in 1..300u64 {
        assert_eq!(
            store.get(&format!("s/{n:03}")).await.unwrap(),
            Some(value(4, n))
        );
    }
    assert_eq!(store.get("s/after").await.unwrap(), Some(vec![9]));
    store.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_skips_deep_folders() {
    let dir = tempfile::tempdir().unwrap();
    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    let mut ops = Vec::new();
    for a in ["a", "a.b", "a0", "b"] {
        for n in 0..20 {
            ops.push(Op::Put {
                key: format!("top/{a}/{n}/x"),
                value: vec![1],
            });
        }
    }
    ops.push(Op::Put {
        key: "top/a".into(),
        value: vec![2],
    });
    ops.push(Op::Put {
        key: "top/a-".into(),
        value: vec![2],
    });
    ops.push(Op::Put {
        key: "top//odd".into(),
        value: vec![3],
    });
    store.batch(ops).await.unwrap();

    let inmem = storage::InMem::new();
    let keys = [
        "top/a",
        "top/a-",
        "top//odd",
        "top/a/1/x",
        "top/a.b/1/x",
        "top/a0/2/x",
        "top/b/3/x",
    ];
    for k in keys {
        inmem.put(k, vec![1]).await.unwrap();
    }
    assert_eq!(
        store.list("top/").await.unwrap(),
        inmem.list("top/").await.unwrap()
    );
    assert_eq!(
        store.list("top/").await.unwrap(),
        vec!["/", "a", "a-", "a.b/", "a/", "a0/", "b/"]
    );
    assert_eq!(store.list("top/a/").await.unwrap().len(), 20);
    assert_eq!(store.list("").await.unwrap(), vec!["top/"]);
    store.shutdown().await.unwrap();
}

/// Sustained concurrent load; prints throughput and fsync counts (no timing assertion).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_concurrent_writes_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    let (log0, sm0) = (store.log_flushes(), store.sm_flushes());
    let t = Instant::now();
    let writers: Vec<_> = (0..64u64)
        .map(|w| {
            let s = store.clone();
            tokio::spawn(async move {
                for n in 0..100u64 {
                    s.put(&format!("load/{w:02}/{n:03}"), vec![0xAB; 256])
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let elapsed = t.elapsed();
    let log_fsyncs = store.log_flushes() - log0;
    let sm_fsyncs = store.sm_flushes() - sm0;
    println!(
        "6400 writes by 64 writers: {elapsed:?} ({:.0} writes/s), {log_fsyncs} log fsyncs, {sm_fsyncs} sm fsyncs",
        6400.0 / elapsed.as_secs_f64()
    );
    assert!(
        log_fsyncs < 6400 / 4,
        "{log_fsyncs} log fsyncs for 6400 writes"
    );
    store.shutdown().await.unwrap();
}

/// The state machine applies without fsync, so after an OS crash or power loss it may lag the log it was
/// applied from. Simulated by rolling `sm.redb` back to an older copy while the log keeps everything:
/// reopening must serve the latest acknowledged values, from the very first read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_machine_behind_log_is_caught_up_before_reads() {
    let dir = tempfile::tempdir().unwrap();
    let old = tempfile::tempdir().unwrap();
    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    for n in 0..100u64 {
        store.put(&format!("k/{n:03}"), value(5, n)).await.unwrap();
    }
    store.shutdown().await.unwrap();
    std::fs::copy(dir.path().join("sm.redb"), old.path().join("sm.redb")).unwrap();

    // Acknowledged writes the old state machine copy does not have.
    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    for n in 0..50u64 {
        store.put(&format!("k/{n:03}"), value(6, n)).await.unwrap();
    }
    store
        .batch(
            (50..60u64)
                .map(|n| Op::Delete {
                    key: format!("k/{n:03}"),
                })
                .collect(),
        )
        .await
        .unwrap();
    for n in 0..100u64 {
        store
            .put(&format!("new/{n:03}"), value(7, n))
            .await
            .unwrap();
    }
    let acked = store.status().applied_index;
    store.shutdown().await.unwrap();

    std::fs::copy(old.path().join("sm.redb"), dir.path().join("sm.redb")).unwrap();
    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    // First reads, before anything waited for leadership.
    assert_eq!(store.get("k/000").await.unwrap(), Some(value(6, 0)));
    assert_eq!(store.list("new/").await.unwrap().len(), 100);
    for n in 0..100u64 {
        let want = match n {
            0..50 => Some(value(6, n)),
            50..60 => None,
            _ => Some(value(5, n)),
        };
        assert_eq!(
            store.get(&format!("k/{n:03}")).await.unwrap(),
            want,
            "k/{n:03}"
        );
        assert_eq!(
            store.get(&format!("new/{n:03}")).await.unwrap(),
            Some(value(7, n)),
            "new/{n:03}"
        );
    }
    assert_eq!(store.list("k/").await.unwrap().len(), 90);
    assert!(
        store.status().applied_index >= acked,
        "{:?}",
        store.status()
    );
    store.put("after", vec![1]).await.unwrap();
    store.shutdown().await.unwrap();

    // The catch-up was made durable: the next open needs no replay and holds everything.
    let store = RaftStore::open(cfg(dir.path())).await.unwrap();
    assert_eq!(store.get("k/049").await.unwrap(), Some(value(6, 49)));
    assert_eq!(store.get("after").await.unwrap(), Some(vec![1]));
    store.shutdown().await.unwrap();
}
