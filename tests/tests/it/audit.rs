//! The audit log end to end: the real `bao audit enable file` against Coffer, every request and response
//! recorded with secrets HMAC'd (grep for the raw values), `sys/audit-hash`, denied requests and failed logins
//! recorded with their error, fail-closed devices, a hung socket device, `coffer audit verify` on untouched and
//! tampered logs, and logrotate's rename + SIGHUP.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use testkit::{TestServer, wait_until_true};

use crate::support::str_at;

/// A string field of an entry, or "" (entries leave empty fields out).
fn field<'a>(e: &'a Value, ptr: &str) -> &'a str {
    e.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}

fn entries(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {l}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn file_device_records_every_request_with_secrets_hmacd() {
    let server = TestServer::dev().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("audit.log");
    let bao = server.bao();
    bao.run(&[
        "audit",
        "enable",
        "file",
        &format!("file_path={}", log.display()),
    ])
    .await
    .expect_code(0, "bao audit enable file");
    let listed = bao.run(&["audit", "list", "-format=json"]).await;
    listed.expect_code(0, "bao audit list");
    assert_eq!(listed.json()["file/"]["type"], "file", "{}", listed.stdout);

    let api = server.api();
    let secret = "hunter2-very-secret";
    let (status, body) = api
        .post("secret/data/app", json!({"data": {"password": secret}}))
        .await;
    assert_eq!(status, 200, "{body}");
    // A token of our own, so its id is a distinctive string to look for.
    let (status, body) = api
        .post("auth/token/create", json!({"policies": ["default"]}))
        .await;
    assert_eq!(status, 200, "{body}");
    let token = str_at(&body, "/auth/client_token");
    let accessor = str_at(&body, "/auth/accessor");
    let (status, _) = api.with_token(Some(&token)).get("secret/data/app").await;
    assert_eq!(status, 403, "denied");
    let (status, _) = api
        .with_token(Some("s.not-a-real-token"))
        .get("secret/data/app")
        .await;
    assert_eq!(status, 403);
    bao.run(&["auth", "enable", "userpass"])
        .await
        .expect_code(0, "userpass");
    bao.run(&[
        "write",
        "auth/userpass/users/alice",
        "password=right-password",
    ])
    .await
    .expect_code(0, "user");
    let (status, _) = server
        .anon()
        .post(
            "auth/userpass/login/alice",
            json!({"password": "wrong-password"}),
        )
        .await;
    assert_eq!(status, 400, "failed login");

    let all = entries(&log);
    let text = std::fs::read_to_string(&log).expect("audit log");
    for raw in [
        secret,
        token.as_str(),
        accessor.as_str(),
        "right-password",
        "wrong-password",
    ] {
        assert!(
            !text.contains(raw),
            "{raw:?} appears in the clear in the audit log"
        );
    }
    // Every request has its request and response entry.
    let mut kinds: HashMap<String, Vec<String>> = HashMap::new();
    for e in &all {
        let id = e
            .pointer("/request/id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        kinds
            .entry(id.to_owned())
            .or_default()
            .push(str_at(e, "/type"));
    }
    for (id, k) in &kinds {
        if id.is_empty() {
            continue; // the device's test entry
        }
        assert!(
            k.contains(&"request".to_owned()) && k.contains(&"response".to_owned()),
            "request {id} has entries {k:?}"
        );
    }
    // sys/audit-hash reproduces the logged HMAC of the secret.
    let (status, body) = api
        .post("sys/audit-hash/file", json!({"input": secret}))
        .await;
    assert_eq!(status, 200, "{body}");
    let hash = str_at(&body, "/data/hash");
    assert!(hash.starts_with("hmac-sha256:"), "{body}");
    assert!(
        text.contains(&hash),
        "the logged HMAC of the secret is {hash}"
    );
    // Denied requests and failed logins are recorded with their error.
    assert!(
        all.iter()
            .any(|e| field(e, "/request/path") == "secret/data/app"
                && field(e, "/error") == "permission denied"),
        "a denied request is audited"
    );
    assert!(
        all.iter()
            .any(|e| field(e, "/request/path") == "auth/userpass/login/alice"
                && field(e, "/error").contains("invalid username or password")),
        "a failed login is audited with its reason"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_only_device_fails_closed_and_a_second_one_keeps_serving() {
    let server = TestServer::dev().await;
    let api = server.api();
    let (d1, d2) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    for (name, dir) in [("one", &d1), ("two", &d2)] {
        let (status, body) = api
            .post(
                &format!("sys/audit/{name}"),
                json!({"type": "file", "options": {"file_path": dir.path().join("a.log").display().to_string()}}),
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }
    let d1_path = d1.path().to_path_buf();
    std::fs::remove_dir_all(&d1_path).expect("remove the first device's directory");
    let (status, body) = api.get("secret/config").await;
    assert_eq!(status, 200, "the second device still records: {body}");
    let d2_path = d2.path().to_path_buf();
    std::fs::remove_dir_all(&d2_path).expect("remove the second device's directory");
    let (status, body) = api.post("secret/data/x", json!({"data": {"a": "b"}})).await;
    assert_eq!(status, 503, "no device records the request: {body}");
    assert!(
        body.to_string().contains("audit backend unavailable"),
        "{body}"
    );
    // The write was not routed.
    std::fs::create_dir_all(&d2_path).expect("restore the directory");
    let (status, body) = api.get("secret/data/x").await;
    assert_eq!(status, 404, "nothing was written while unaudited: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_socket_device_does_not_block_requests_a_file_device_recorded() {
    let server = TestServer::dev().await;
    let api = server.api();
    let dir = tempfile::tempdir().expect("dir");
    let (status, body) = api
        .post(
            "sys/audit/file",
            json!({"type": "file", "options": {"file_path": dir.path().join("a.log").display().to_string()}}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    // A peer that accepts and never reads.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let addr = listener.local_addr().expect("addr");
    let _held = std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept() {
            held.push(s);
        }
    });
    let (status, body) = api
        .post(
            "sys/audit/sock",
            json!({"type": "socket", "options": {"address": addr.to_string(), "socket_type": "tcp", "write_timeout": "1s"}}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    // Large values fill the socket's buffers; every request still completes.
    let big = "x".repeat(512 * 1024);
    let all_done = tokio::time::timeout(Duration::from_secs(60), async {
        for i in 0..20 {
            let (status, body) = api
                .post(&format!("secret/data/big{i}"), json!({"data": {"v": big}}))
                .await;
            assert_eq!(status, 200, "{body}");
        }
    })
    .await;
    assert!(
        all_done.is_ok(),
        "requests were blocked by the hung socket device"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_verify_passes_untouched_logs_and_pinpoints_tampering_and_rotation_loses_nothing() {
    let server = TestServer::dev().await;
    let api = server.api();
    let dir = tempfile::tempdir().expect("dir");
    let log = dir.path().join("audit.log");
    let cli = server.coffer_cli();
    cli.run(&[
        "audit",
        "enable",
        "file",
        &format!("file_path={}", log.display()),
    ])
    .await
    .expect_code(0, "coffer audit enable");
    for i in 0..5 {
        let (status, _) = api.get(&format!("secret/data/n{i}")).await;
        assert_eq!(status, 404);
    }
    let out = cli
        .run(&["audit", "verify", &log.display().to_string()])
        .await;
    out.expect_code(0, "verify an untouched log");

    // logrotate: rename, SIGHUP, more requests; both files verify and no request is lost.
    let rotated = dir.path().join("audit.log.1");
    std::fs::rename(&log, &rotated).expect("rename");
    let pid = server.pid().expect("server pid");
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    for i in 0..3 {
        let (status, _) = api.get(&format!("secret/data/after{i}")).await;
        assert_eq!(status, 404);
    }
    wait_until_true(Duration::from_secs(10), "the reopened log", || async {
        log.exists()
    })
    .await;
    let first = entries(&rotated);
    let second = entries(&log);
    let paths: Vec<String> = first
        .iter()
        .chain(second.iter())
        .filter(|e| field(e, "/type") == "response")
        .map(|e| field(e, "/request/path").to_owned())
        .collect();
    for i in 0..5 {
        assert!(
            paths.contains(&format!("secret/data/n{i}")),
            "n{i} lost: {paths:?}"
        );
    }
    for i in 0..3 {
        assert!(
            paths.contains(&format!("secret/data/after{i}")),
            "after{i} lost"
        );
    }
    let last_hash = cli
        .run(&["audit", "verify", &rotated.display().to_string()])
        .await;
    last_hash.expect_code(0, "the rotated file verifies");

    // Tampering: an edited line, a deleted line and a truncated file are each reported with the line.
    let original = std::fs::read_to_string(&rotated).expect("read");
    let lines: Vec<&str> = original.lines().collect();
    assert!(lines.len() >= 6, "{}", lines.len());
    let tampered = dir.path().join("tampered.log");
    let check = |content: String, what: &'static str, needle: &'static str| {
        let tampered = tampered.clone();
        let cli = cli.clone();
        async move {
            std::fs::write(&tampered, content).expect("write");
            let out = cli
                .run(&["audit", "verify", &tampered.display().to_string()])
                .await;
            assert_eq!(out.code, 2, "{what}: {}{}", out.stdout, out.stderr);
            assert!(
                out.stderr.to_lowercase().contains(needle),
                "{what}: expected {needle:?} in {}",
                out.stderr
            );
        }
    };
    let mut edited: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    edited[3] = edited[3].replace("secret/data", "secret/DATA");
    check(edited.join("\n") + "\n", "edited", "line 4").await;
    let mut deleted: Vec<&str> = lines.clone();
    deleted.remove(2);
    check(deleted.join("\n") + "\n", "deleted", "line 3").await;
    let truncated = &original[..original.len() - 10];
    check(truncated.to_owned(), "truncated", "truncat").await;
}
