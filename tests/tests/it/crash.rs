//! Crash safety: every acknowledged write survives `kill -9`; SIGTERM with requests in flight exits cleanly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use testkit::{Api, TestServer, wait_until_true};

use crate::key_term;

const CLIENTS: usize = 4;

/// Counters shared by the load tasks.
#[derive(Default)]
struct Load {
    sent: AtomicU64,
    acked: AtomicU64,
    other: AtomicU64,
    stop: AtomicBool,
}

/// Rotates the keyring in a loop until told to stop or the server goes away.
async fn rotate_loop(api: Api, load: Arc<Load>) {
    while !load.stop.load(Ordering::SeqCst) {
        load.sent.fetch_add(1, Ordering::SeqCst);
        match api.try_send("PUT", "sys/rotate", None, &[]).await {
            Ok(r) if r.status == 204 => {
                load.acked.fetch_add(1, Ordering::SeqCst);
            }
            // A draining server may refuse; only a 204 is an acknowledgement.
            Ok(_) => {
                load.other.fetch_add(1, Ordering::SeqCst);
            }
            Err(_) => return,
        }
    }
}

fn start_load(server: &TestServer) -> (Arc<Load>, Vec<tokio::task::JoinHandle<()>>) {
    let load = Arc::new(Load::default());
    let tasks = (0..CLIENTS)
        .map(|_| tokio::spawn(rotate_loop(server.api(), Arc::clone(&load))))
        .collect();
    (load, tasks)
}

async fn wait_acked(load: &Arc<Load>, n: u64) {
    wait_until_true(
        Duration::from_secs(60),
        &format!("{n} acknowledged rotations"),
        || {
            let load = Arc::clone(load);
            async move { load.acked.load(Ordering::SeqCst) >= n }
        },
    )
    .await;
}

async fn finish_load(load: &Load, tasks: Vec<tokio::task::JoinHandle<()>>) -> (u64, u64) {
    load.stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("load task panicked");
    }
    (
        load.acked.load(Ordering::SeqCst),
        load.sent.load(Ordering::SeqCst),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_rotations_survive_kill9() {
    let mut server = TestServer::durable().await;
    let init = server.init(1, 1).await;

    // The acknowledged init survives a crash right after it.
    server.kill9().await;
    server.start_again().await;
    assert_eq!(
        server.anon().get("sys/init").await,
        (200, json!({"initialized": true}))
    );
    server.unseal_with(&init.keys).await;
    let api = server.api();
    let base = key_term(&api).await;

    let (load, tasks) = start_load(&server);
    wait_acked(&load, 40).await;
    server.kill9().await;
    let (acked, sent) = finish_load(&load, tasks).await;

    server.start_again().await;
    server.unseal_with(&init.keys).await;
    let term = key_term(&api).await;
    eprintln!("kill -9: {acked} acknowledged, {sent} sent, term {base} -> {term}");
    assert!(
        term >= base + acked,
        "lost acknowledged writes: term {term} after {acked} acknowledged rotations from term {base}"
    );
    assert!(
        term <= base + sent,
        "term {term} exceeds the {sent} rotations sent from term {base}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_with_requests_in_flight_exits_cleanly() {
    let mut server = TestServer::durable().await;
    let init = server.init(1, 1).await;
    server.unseal_with(&init.keys).await;
    let api = server.api();
    let base = key_term(&api).await;

    let (load, tasks) = start_load(&server);
    wait_acked(&load, 20).await;
    // `stop` asserts exit code 0.
    server.stop().await;
    let (acked, sent) = finish_load(&load, tasks).await;
    let log = server.log();
    assert!(
        !log.contains("panicked"),
        "the server panicked while draining:\n{log}"
    );

    // The storage was closed cleanly: it reopens, keeps every acknowledged rotation and takes new writes.
    server.start_again().await;
    server.unseal_with(&init.keys).await;
    let term = key_term(&api).await;
    eprintln!("SIGTERM: {acked} acknowledged, {sent} sent, term {base} -> {term}");
    assert!(
        term >= base + acked,
        "term {term} after {acked} acknowledged rotations from term {base}"
    );
    assert!(
        term <= base + sent,
        "term {term} exceeds the {sent} rotations sent from term {base}"
    );
    let r = api.send("PUT", "sys/rotate", None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(key_term(&api).await, term + 1);
    server.stop().await;
}
