//! The audit log end to end: the real `bao audit enable file` against Coffer, every request and response
//! recorded with secrets HMAC'd (grep for the raw values), `sys/audit-hash`, denied requests and failed logins
//! recorded with their error, fail-closed devices, a hung socket device, `coffer audit verify` on untouched and
//! tampered logs, and logrotate's rename + SIGHUP; a mount's `audit_non_hmac_*_keys`, audited request headers
//! (`sys/config/auditing/request-headers`), `allow_audit_log_prefixing`, and the failure counters of
//! `sys/metrics`.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use testkit::{TestServer, wait_until_true};

use crate::support::{self, put_policy, str_at};

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

fn is_hmac(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| s.strip_prefix("hmac-sha256:"))
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The HMAC the file device at `file/` writes for `input`.
async fn audit_hash(api: &testkit::Api, input: &str) -> String {
    let (status, body) = api
        .post("sys/audit-hash/file", json!({ "input": input }))
        .await;
    assert_eq!(status, 200, "{body}");
    str_at(&body, "/data/hash")
}

/// The entry of `kind` for the request to `path` with `operation`.
fn entry_for<'a>(all: &'a [Value], kind: &str, operation: &str, path: &str) -> &'a Value {
    all.iter()
        .find(|e| {
            field(e, "/type") == kind
                && field(e, "/request/operation") == operation
                && field(e, "/request/path") == path
        })
        .unwrap_or_else(|| panic!("no {kind} entry for {operation} {path} in {all:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mounts_non_hmac_keys_and_the_audited_headers_shape_the_entries() {
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
    bao.run(&[
        "secrets",
        "tune",
        "-audit-non-hmac-request-keys=visible",
        "-audit-non-hmac-response-keys=shown",
        "secret/",
    ])
    .await
    .expect_code(0, "bao secrets tune");
    for (name, hmac) in [
        ("X-Custom-Secret", "true"),
        ("X-Custom-Clear", "false"),
        // Credentials: HMAC'd whatever the setting says.
        ("Authorization", "false"),
        // The token itself: never audited.
        ("X-Vault-Token", "false"),
    ] {
        bao.run(&[
            "write",
            &format!("sys/config/auditing/request-headers/{name}"),
            &format!("hmac={hmac}"),
        ])
        .await
        .expect_code(0, name);
    }
    let listed = bao
        .run(&[
            "read",
            "-format=json",
            "sys/config/auditing/request-headers",
        ])
        .await;
    listed.expect_code(0, "bao read request-headers");
    assert_eq!(
        listed.json()["data"]["headers"],
        json!({
            "authorization": {"hmac": true},
            "x-custom-clear": {"hmac": false},
            "x-custom-secret": {"hmac": true},
            "x-vault-token": {"hmac": false},
        }),
        "{}",
        listed.stdout
    );

    // A token of our own, so its value is a distinctive string to look for.
    let api = server.api();
    let (status, body) = api.post("auth/token/create", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let token = str_at(&body, "/auth/client_token");
    let basic = "Basic YWxpY2U6aHVudGVyMi1iYXNpYw==";
    let resp = api
        .with_token(Some(&token))
        .send(
            "POST",
            "secret/data/app",
            Some(
                serde_json::to_vec(&json!({
                    "data": {"visible": "clear-request-value", "hidden": "hidden-request-value", "shown": "s1"}
                }))
                .expect("json"),
            ),
            &[
                ("X-Custom-Secret", "header-secret-value"),
                ("X-Custom-Clear", "clear-1"),
                ("X-Custom-Clear", "clear-2"),
                ("Authorization", basic),
                ("X-Not-Configured", "not-audited-value"),
            ],
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let (status, body) = api.get("secret/data/app").await;
    assert_eq!(status, 200, "{body}");

    let all = entries(&log);
    let text = std::fs::read_to_string(&log).expect("audit log");
    for raw in [
        token.as_str(),
        "header-secret-value",
        "hidden-request-value",
        "not-audited-value",
        basic,
    ] {
        assert!(
            !text.contains(raw),
            "{raw:?} appears in the clear in the audit log"
        );
    }
    let write = entry_for(&all, "request", "update", "secret/data/app");
    // The tuned request key stays clear, the others are HMAC'd.
    assert_eq!(
        write["request"]["data"]["data"]["visible"],
        "clear-request-value"
    );
    assert_eq!(
        write["request"]["data"]["data"]["hidden"],
        json!(audit_hash(&api, "hidden-request-value").await)
    );
    assert!(
        is_hmac(&write["request"]["data"]["data"]["shown"]),
        "a response key does not clear a request value: {write}"
    );
    let headers = &write["request"]["headers"];
    assert_eq!(
        headers,
        &json!({
            "authorization": [audit_hash(&api, basic).await],
            "x-custom-clear": ["clear-1", "clear-2"],
            "x-custom-secret": [audit_hash(&api, "header-secret-value").await],
        }),
        "{write}"
    );
    // The response entry of the same request carries the headers too.
    let write_resp = entry_for(&all, "response", "update", "secret/data/app");
    assert_eq!(&write_resp["request"]["headers"], headers);

    let read = entry_for(&all, "response", "read", "secret/data/app");
    let data = &read["response"]["data"]["data"];
    assert_eq!(data["shown"], "s1", "{read}");
    assert!(
        is_hmac(&data["visible"]),
        "a request key does not clear a response value: {read}"
    );
    assert!(is_hmac(&data["hidden"]), "{read}");
    // No header configured for this request's headers: no `headers` object at all.
    assert!(read["request"].get("headers").is_none(), "{read}");

    // Removing a header stops auditing it.
    bao.run(&[
        "delete",
        "sys/config/auditing/request-headers/X-Custom-Clear",
    ])
    .await
    .expect_code(0, "delete header");
    let (status, body) = api
        .get("sys/config/auditing/request-headers/x-custom-clear")
        .await;
    assert_eq!(status, 400, "{body}");

    // The endpoints need sudo.
    put_policy(
        &api,
        "auditing-no-sudo",
        r#"path "sys/config/auditing/*" { capabilities = ["read", "update"] }"#,
    )
    .await;
    let (status, body) = api
        .post(
            "auth/token/create",
            json!({"policies": ["auditing-no-sudo"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let no_sudo = api.with_token(Some(&str_at(&body, "/auth/client_token")));
    let (status, body) = no_sudo.get("sys/config/auditing/request-headers").await;
    support::assert_denied("request-headers without sudo", status, &body);
}

#[tokio::test(flavor = "multi_thread")]
async fn request_headers_api_and_sys_metrics_have_openbaos_shapes() {
    // Runs against `COFFER_E2E_TARGET` (OpenBao's dev server too), so the shapes asserted here are OpenBao's.
    let server = support::server().await;
    let api = server.api();
    let (status, body) = api.get("sys/config/auditing/request-headers").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"headers": {}}));
    let (status, body) = api
        .post(
            "sys/config/auditing/request-headers/X-Forwarded-For",
            json!({"hmac": true}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = api.get("sys/config/auditing/request-headers").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"headers": {"x-forwarded-for": {"hmac": true}}})
    );
    assert_eq!(body["headers"], body["data"]["headers"], "top-level copy");
    // One header, keyed by the name as asked.
    let (status, body) = api
        .get("sys/config/auditing/request-headers/X-FORWARDED-for")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"X-FORWARDED-for": {"hmac": true}}));
    let (status, body) = api.get("sys/config/auditing/request-headers/nope").await;
    support::assert_error(
        "unknown header",
        status,
        400,
        &body,
        "Could not find header in config",
    );
    let (status, body) = api.list("sys/config/auditing/request-headers").await;
    assert_eq!(status, 404, "LIST is not served: {body}");
    let (status, body) = api
        .delete("sys/config/auditing/request-headers/x-forwarded-for")
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = api
        .delete("sys/config/auditing/request-headers/x-forwarded-for")
        .await;
    assert_eq!(status, 204, "deleting twice is fine: {body}");

    // sys/metrics: OpenBao's JSON layout by default, Prometheus text on request, a plain-text 400 otherwise.
    let r = api.send("GET", "sys/metrics", None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    for k in ["Timestamp", "Gauges", "Points", "Counters", "Samples"] {
        assert!(r.json.get(k).is_some(), "{k} missing: {}", r.json);
    }
    let counters = r.json["Counters"].as_array().expect("Counters");
    for c in counters {
        assert!(c["Name"].is_string(), "{c}");
        for k in ["Count", "Rate", "Sum", "Min", "Max", "Mean", "Stddev"] {
            assert!(c[k].is_number(), "{k}: {c}");
        }
        assert!(c["Labels"].is_object(), "{c}");
    }
    // OpenBao's JSON shows the last complete 10 s interval, which may have seen no request; Coffer's shows totals.
    if server.target() == testkit::Target::Coffer {
        for name in [
            "vault.audit.log_request_failure",
            "vault.audit.log_response_failure",
        ] {
            assert!(
                counters.iter().any(|c| c["Name"] == name),
                "{name} missing: {counters:?}"
            );
        }
    }
    let r = api
        .send("GET", "sys/metrics?format=prometheus", None, &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.text();
    assert!(
        text.contains("# TYPE vault_audit_log_request_failure counter\n"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("vault_audit_log_response_failure ")),
        "{text}"
    );
    let r = api.send("GET", "sys/metrics?format=xml", None, &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), "metric response format \"xml\" unknown");
}

/// The value of an unlabelled (or exactly labelled) series in Prometheus text, or `None` when absent.
fn prometheus_value(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().expect("a counter value"))
}

#[tokio::test(flavor = "multi_thread")]
async fn sys_metrics_counts_each_devices_failures_and_requests_no_device_recorded() {
    let server = TestServer::dev().await;
    let api = server.api();
    let metrics = || async {
        let r = server
            .api()
            .send("GET", "sys/metrics?format=prometheus", None, &[])
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
    };
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
    let text = metrics().await;
    assert_eq!(
        prometheus_value(&text, "vault_audit_log_request_failure"),
        Some(0),
        "{text}"
    );
    let one = r#"vault_audit_device_log_request_failure{path="one/",type="file"}"#;
    let two = r#"vault_audit_device_log_request_failure{path="two/",type="file"}"#;
    assert_eq!(prometheus_value(&text, one), Some(0), "{text}");

    // The first device becomes unwritable: the second records, the request succeeds, the device's counter rises.
    let d1_path = d1.path().to_path_buf();
    std::fs::remove_dir_all(&d1_path).expect("remove the first device's directory");
    let (status, body) = api.get("secret/config").await;
    assert_eq!(status, 200, "the second device still records: {body}");
    let text = metrics().await;
    assert!(
        prometheus_value(&text, one).is_some_and(|n| n >= 1),
        "{text}"
    );
    assert_eq!(prometheus_value(&text, two), Some(0), "{text}");
    assert_eq!(
        prometheus_value(&text, "vault_audit_log_request_failure"),
        Some(0),
        "a request one device recorded is no failure: {text}"
    );

    // Both fail: the request is refused and counted as a request no device recorded.
    let d2_path = d2.path().to_path_buf();
    std::fs::remove_dir_all(&d2_path).expect("remove the second device's directory");
    let (status, body) = api.post("secret/data/x", json!({"data": {"a": "b"}})).await;
    assert_eq!(status, 503, "{body}");
    std::fs::create_dir_all(&d2_path).expect("restore the directory");
    let text = metrics().await;
    assert!(
        prometheus_value(&text, "vault_audit_log_request_failure").is_some_and(|n| n >= 1),
        "{text}"
    );
    assert!(
        prometheus_value(&text, two).is_some_and(|n| n >= 1),
        "{text}"
    );
    // The JSON form counts the same failure.
    let (status, body) = api.get("sys/metrics").await;
    assert_eq!(status, 200, "{body}");
    let overall = body["Counters"]
        .as_array()
        .and_then(|c| {
            c.iter()
                .find(|c| c["Name"] == "vault.audit.log_request_failure")
        })
        .and_then(|c| c["Count"].as_u64());
    assert!(overall.is_some_and(|n| n >= 1), "{body}");

    // Reading metrics needs read on sys/metrics.
    let (status, body) = api
        .post("auth/token/create", json!({"policies": ["default"]}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api
        .with_token(Some(&str_at(&body, "/auth/client_token")))
        .get("sys/metrics")
        .await;
    support::assert_denied("sys/metrics with the default policy", status, &body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prefix_is_refused_unless_allow_audit_log_prefixing_and_then_starts_every_line() {
    let dir = tempfile::tempdir().expect("dir");
    let dev = TestServer::dev().await;
    let refused = dev
        .bao()
        .run(&[
            "audit",
            "enable",
            "file",
            &format!("file_path={}", dir.path().join("refused.log").display()),
            "prefix=COFFER ",
        ])
        .await;
    refused.expect_code(2, "bao audit enable file with a prefix on a default server");
    assert!(
        refused.stderr.contains("allow_audit_log_prefixing"),
        "{}",
        refused.stderr
    );
    let (status, body) = dev.api().get("sys/audit").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({}), "nothing enabled");

    let mut server = TestServer::builder_durable()
        .extra_hcl("allow_audit_log_prefixing = true\nunsafe_allow_api_audit_creation = true")
        .start()
        .await
        .expect("durable server");
    let init = server.init(1, 1).await;
    server.unseal_with(&init.keys).await;
    let log = dir.path().join("prefixed.log");
    server
        .bao()
        .run(&[
            "audit",
            "enable",
            "file",
            &format!("file_path={}", log.display()),
            "prefix=COFFER ",
        ])
        .await
        .expect_code(0, "bao audit enable file with a prefix when allowed");
    let (status, body) = server.api().get("sys/mounts").await;
    assert_eq!(status, 200, "{body}");
    let text = std::fs::read_to_string(&log).expect("audit log");
    assert!(text.lines().count() >= 3, "{text}");
    for line in text.lines() {
        let json = line
            .strip_prefix("COFFER ")
            .unwrap_or_else(|| panic!("line without the prefix: {line}"));
        serde_json::from_str::<Value>(json).expect("the rest of the line is the JSON entry");
    }
    // The hash chain covers the prefix: the file still verifies.
    server
        .coffer_cli()
        .run(&["audit", "verify", &log.display().to_string()])
        .await
        .expect_code(0, "coffer audit verify on a prefixed log");
}

/// An `audit "file" "<path>"` stanza writing to `file`.
fn file_stanza(path: &str, file: &Path) -> String {
    format!(
        "audit \"file\" \"{path}\" {{\n  description = \"from config\"\n  options {{\n    file_path = \"{}\"\n  }}\n}}\n",
        file.display()
    )
}

/// Path → description of every device `bao audit list` shows.
async fn audit_list(server: &TestServer) -> Vec<(String, String)> {
    let out = server.bao().run(&["audit", "list", "-format=json"]).await;
    out.expect_code(0, "bao audit list");
    let mut list: Vec<(String, String)> = out
        .json()
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), field(v, "/description").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    list.sort();
    list
}

fn devices(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, d)| ((*p).to_owned(), (*d).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn declared_devices_follow_the_config_file_on_sighup_and_the_api_cannot_touch_them() {
    let dir = tempfile::tempdir().expect("dir");
    let first = dir.path().join("first.log");
    let second = dir.path().join("second.log");
    let mut server = TestServer::builder_durable()
        .extra_hcl(&file_stanza("first", &first))
        .start()
        .await
        .expect("durable server");
    let original =
        std::fs::read_to_string(server.config_path().expect("config file")).expect("config");
    let init = server.init(1, 1).await;
    server.unseal_with(&init.keys).await;
    assert_eq!(
        audit_list(&server).await,
        devices(&[("first/", "from config")])
    );
    assert!(
        entries(&first)
            .iter()
            .any(|e| field(e, "/request/path") == "sys/audit"),
        "the declared device records requests"
    );

    let bao = server.bao();
    let refused = bao.run(&["audit", "disable", "first"]).await;
    refused.expect_code(2, "bao audit disable of a declared device");
    assert!(
        refused.stderr.contains("configuration-managed") && refused.stderr.contains("SIGHUP"),
        "{}",
        refused.stderr
    );
    let api_log = dir.path().join("api.log");
    let enable_api = [
        "audit",
        "enable",
        "-path=api",
        "file",
        &format!("file_path={}", api_log.display()),
    ];
    let refused = bao.run(&enable_api).await;
    refused.expect_code(
        2,
        "bao audit enable without unsafe_allow_api_audit_creation",
    );
    assert!(
        refused.stderr.contains("unsafe_allow_api_audit_creation"),
        "{}",
        refused.stderr
    );

    // The stanza is replaced by another, and API creation is switched on: SIGHUP applies both.
    server.rewrite_config(|text| {
        text.replace(
            &file_stanza("first", &first),
            &format!(
                "{}unsafe_allow_api_audit_creation = true\n",
                file_stanza("second", &second)
            ),
        )
    });
    server.sighup();
    wait_until_true(
        Duration::from_secs(20),
        "the reload to swap the devices",
        || {
            let server = &server;
            async move { audit_list(server).await == devices(&[("second/", "from config")]) }
        },
    )
    .await;
    bao.run(&enable_api)
        .await
        .expect_code(0, "bao audit enable once SIGHUP allowed it");
    let on_declared = bao
        .run(&[
            "audit",
            "enable",
            "-path=second",
            "file",
            &format!("file_path={}", dir.path().join("x.log").display()),
        ])
        .await;
    on_declared.expect_code(2, "bao audit enable at a declared path");
    assert!(
        on_declared.stderr.contains("declares"),
        "{}",
        on_declared.stderr
    );
    assert!(
        !entries(&second).is_empty(),
        "the new declared device writes"
    );

    // A stanza may not take over the API device's path: logged, and the API device stays as it is.
    server.rewrite_config(|text| format!("{text}{}", file_stanza("api", &first)));
    server.sighup();
    wait_until_true(
        Duration::from_secs(20),
        "the collision to be logged",
        || {
            let log = server.log();
            async move { log.contains("already used by a device enabled through the API") }
        },
    )
    .await;
    assert_eq!(
        audit_list(&server).await,
        devices(&[("api/", ""), ("second/", "from config")])
    );

    // A file that does not load is logged and changes nothing.
    server.rewrite_config(|text| format!("{text}\n}} this is not HCL {{\n"));
    server.sighup();
    wait_until_true(
        Duration::from_secs(20),
        "the bad file to be reported",
        || {
            let log = server.log();
            async move { log.contains("the configuration file is invalid") }
        },
    )
    .await;
    assert_eq!(
        audit_list(&server).await,
        devices(&[("api/", ""), ("second/", "from config")])
    );

    // A restart applies the file as a reload does: without any stanza, the declared device goes; the API
    // device survives.
    server.rewrite_config(|_| original.replace(&file_stanza("first", &first), ""));
    server.stop().await;
    server.start_again().await;
    server.unseal_with(&init.keys).await;
    assert_eq!(audit_list(&server).await, devices(&[("api/", "")]));
}
