//! The broker and its devices end to end, over plaintext in-memory storage and real files and sockets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value, json};
use server_audit::{
    AuditError, AuditInput, AuthInfo, Broker, DeviceFailures, EntryKind, Failure, RequestInfo,
    ResponseInfo, Tamper, WrapInfo, paths, verify,
};
use storage::Storage;
use storage::testing::PlainMem;
use tokio::io::AsyncBufReadExt;

const TOKEN: &str = "s.Xk2iV9t0kenSecret";
const ACCESSOR: &str = "acc-7f3a";

fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn caller() -> AuthInfo {
    AuthInfo {
        client_token: TOKEN.into(),
        accessor: ACCESSOR.into(),
        display_name: "userpass-alice".into(),
        policies: vec!["default".into(), "dev".into()],
        token_policies: vec!["default".into(), "dev".into()],
        token_type: "service".into(),
        token_ttl: 3600,
        ..AuthInfo::default()
    }
}

fn request() -> AuditInput {
    let mut input = AuditInput::request(
        SystemTime::now(),
        RequestInfo {
            id: "6f1c1b8e-req".into(),
            operation: "update".into(),
            path: "secret/app/db".into(),
            data: Some(obj(json!({
                "password": "hunter2",
                "port": 5432,
                "tls": true,
                "none": null,
                "hosts": ["db1", "db2", 7],
                "nested": {"user": "admin", "deeper": [{"k": "v"}], "n": 1.5}
            }))),
            remote_address: "10.1.2.3".into(),
            remote_port: 40022,
            client_token: TOKEN.into(),
            client_token_accessor: ACCESSOR.into(),
            mount_point: "secret/".into(),
            mount_type: "kv".into(),
            mount_accessor: "kv_1234".into(),
            ..RequestInfo::default()
        },
    );
    input.auth = Some(caller());
    input
}

fn response() -> AuditInput {
    let mut input = request();
    input.kind = EntryKind::Response;
    input.request.operation = "read".into();
    input.request.path = "database/creds/app".into();
    input.request.data = None;
    input.response = Some(ResponseInfo {
        data: Some(obj(json!({
            "username": "v-app-x1",
            "password": "A1a-secret",
            "ttl": 3600,
            "renewable": true,
            "meta": {"list": ["one", {"two": "2"}]}
        }))),
        lease_id: Some("database/creds/app/Zt3xq".into()),
        wrap_info: Some(WrapInfo {
            token: "s.wrapping".into(),
            accessor: "wrap-acc".into(),
            ttl: 60,
            creation_time: SystemTime::now(),
            creation_path: "database/creds/app".into(),
            wrapped_accessor: String::new(),
        }),
        auth: Some(AuthInfo {
            client_token: "s.newLoginToken".into(),
            accessor: "login-acc".into(),
            policies: vec!["default".into()],
            token_type: "service".into(),
            ..AuthInfo::default()
        }),
        warnings: vec!["a warning".into()],
        ..ResponseInfo::default()
    });
    input
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn last(path: &Path) -> Value {
    lines(path).pop().unwrap()
}

/// Every string leaf under `v`.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn is_hmac(s: &str) -> bool {
    s.strip_prefix("hmac-sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

struct Setup {
    _dir: tempfile::TempDir,
    storage: Arc<dyn Storage>,
    broker: Arc<Broker>,
    file: PathBuf,
}

async fn with_file(extra: &[(&str, &str)]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.log");
    let storage = PlainMem::shared();
    let broker = Broker::new(false);
    let mut o = opts(&[("file_path", file.to_str().unwrap())]);
    o.extend(opts(extra));
    broker
        .enable(&*storage, "file", "file", "test log", o, false)
        .await
        .unwrap();
    Setup {
        _dir: dir,
        storage,
        broker,
        file,
    }
}

#[tokio::test]
async fn enable_writes_a_test_entry_to_a_0600_file_and_lists_the_device() {
    let s = with_file(&[]).await;
    let mode = std::fs::metadata(&s.file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let l = lines(&s.file);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["type"], "request");
    assert_eq!(l[0]["request"]["path"], "sys/audit/test");
    assert!(is_hmac(l[0]["request"]["data"]["test"].as_str().unwrap()));
    assert_eq!(l[0]["seq"], 1);
    assert_eq!(l[0]["prev"], "");

    assert!(s.broker.active());
    let list = s.broker.list();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].path, "file/");
    assert_eq!(list[0].kind, "file");
    assert_eq!(list[0].description, "test log");
    assert_eq!(list[0].options["file_path"], s.file.to_str().unwrap());
    // The sys/audit list shape.
    let v = serde_json::to_value(&list[0]).unwrap();
    assert_eq!(v["type"], "file");
    assert_eq!(v["local"], false);
}

#[tokio::test]
async fn request_entry_has_no_raw_string_left_in_data_or_tokens() {
    let s = with_file(&[]).await;
    s.broker.log(&request()).await.unwrap();
    let e = last(&s.file);
    assert_eq!(e["type"], "request");
    let mut found = Vec::new();
    strings(&e["request"]["data"], &mut found);
    assert_eq!(found.len(), 5, "password, db1, db2, admin, v: {found:?}");
    assert!(found.iter().all(|s| is_hmac(s)), "{found:?}");
    // Numbers, booleans and null are written as they are.
    assert_eq!(e["request"]["data"]["port"], 5432);
    assert_eq!(e["request"]["data"]["tls"], true);
    assert_eq!(e["request"]["data"]["none"], Value::Null);
    assert_eq!(e["request"]["data"]["hosts"][2], 7);
    assert_eq!(e["request"]["data"]["nested"]["n"], 1.5);
    for t in [
        &e["auth"]["client_token"],
        &e["auth"]["accessor"],
        &e["request"]["client_token"],
        &e["request"]["client_token_accessor"],
    ] {
        assert!(is_hmac(t.as_str().unwrap()), "{t}");
    }
    // Nothing secret anywhere in the line.
    let text = std::fs::read_to_string(&s.file).unwrap();
    // (Quoted: a short value such as db1 can occur inside a hex digest by chance.)
    for secret in [TOKEN, ACCESSOR, "hunter2", "admin", "db1"] {
        assert!(!text.contains(&format!("\"{secret}\"")), "{secret} leaked");
    }
    // OpenBao's layout.
    assert_eq!(e["request"]["namespace"], json!({"id": "root"}));
    assert_eq!(e["request"]["remote_address"], "10.1.2.3");
    assert_eq!(e["request"]["remote_port"], 40022);
    assert_eq!(e["request"]["mount_type"], "kv");
    assert_eq!(e["auth"]["display_name"], "userpass-alice");
    assert_eq!(e["auth"]["token_ttl"], 3600);
    assert!(e["time"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn response_keeps_lease_id_numbers_and_booleans_clear_and_hashes_tokens() {
    let s = with_file(&[]).await;
    s.broker.log(&response()).await.unwrap();
    let e = last(&s.file);
    assert_eq!(e["type"], "response");
    let r = &e["response"];
    assert_eq!(r["secret"]["lease_id"], "database/creds/app/Zt3xq");
    assert_eq!(r["data"]["ttl"], 3600);
    assert_eq!(r["data"]["renewable"], true);
    let mut found = Vec::new();
    strings(&r["data"], &mut found);
    assert_eq!(found.len(), 4);
    assert!(found.iter().all(|s| is_hmac(s)), "{found:?}");
    assert!(is_hmac(r["auth"]["client_token"].as_str().unwrap()));
    assert!(is_hmac(r["auth"]["accessor"].as_str().unwrap()));
    assert!(is_hmac(r["wrap_info"]["token"].as_str().unwrap()));
    assert!(is_hmac(r["wrap_info"]["accessor"].as_str().unwrap()));
    assert_eq!(r["wrap_info"]["ttl"], 60);
    assert_eq!(r["warnings"], json!(["a warning"]));
    // Mount fields come from the request when the response has none.
    assert_eq!(r["mount_point"], "secret/");
    let text = std::fs::read_to_string(&s.file).unwrap();
    for secret in ["s.newLoginToken", "s.wrapping", "A1a-secret", "v-app-x1"] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
}

#[tokio::test]
async fn non_hmac_keys_from_the_mount_stay_clear() {
    let s = with_file(&[]).await;
    let mut input = request();
    input.non_hmac_request_keys = vec!["hosts".into(), "user".into()];
    s.broker.log(&input).await.unwrap();
    let d = &last(&s.file)["request"]["data"];
    assert_eq!(d["hosts"], json!(["db1", "db2", 7]));
    assert_eq!(d["nested"]["user"], "admin");
    assert!(is_hmac(d["password"].as_str().unwrap()));

    // Response keys are separate: a request key does not clear a response value, and vice versa.
    let mut input = response();
    input.request.data = Some(obj(json!({"username": "asked", "password": "p"})));
    input.non_hmac_request_keys = vec!["password".into()];
    input.non_hmac_response_keys = vec!["username".into()];
    s.broker.log(&input).await.unwrap();
    let e = last(&s.file);
    assert_eq!(e["request"]["data"]["password"], "p");
    assert!(is_hmac(e["request"]["data"]["username"].as_str().unwrap()));
    let d = &e["response"]["data"];
    assert_eq!(d["username"], "v-app-x1");
    assert!(is_hmac(d["password"].as_str().unwrap()));
}

#[tokio::test]
async fn hmac_accessor_false_leaves_accessors_clear_but_not_tokens() {
    let s = with_file(&[("hmac_accessor", "false")]).await;
    s.broker.log(&request()).await.unwrap();
    let e = last(&s.file);
    assert_eq!(e["auth"]["accessor"], ACCESSOR);
    assert_eq!(e["request"]["client_token_accessor"], ACCESSOR);
    assert!(is_hmac(e["auth"]["client_token"].as_str().unwrap()));
    assert!(is_hmac(e["request"]["client_token"].as_str().unwrap()));
    s.broker.log(&response()).await.unwrap();
    let r = &last(&s.file)["response"];
    assert_eq!(r["auth"]["accessor"], "login-acc");
    assert_eq!(r["wrap_info"]["accessor"], "wrap-acc");
    assert!(is_hmac(r["wrap_info"]["token"].as_str().unwrap()));
}

#[tokio::test]
async fn log_raw_writes_everything_in_the_clear() {
    let s = with_file(&[("log_raw", "true")]).await;
    s.broker.log(&request()).await.unwrap();
    let e = last(&s.file);
    assert_eq!(e["request"]["data"]["password"], "hunter2");
    assert_eq!(e["request"]["data"]["nested"]["deeper"][0]["k"], "v");
    assert_eq!(e["request"]["client_token"], TOKEN);
    assert_eq!(e["auth"]["accessor"], ACCESSOR);
}

#[tokio::test]
async fn elide_list_responses_replaces_keys_by_their_count() {
    let s = with_file(&[("elide_list_responses", "true")]).await;
    let mut input = response();
    input.request.operation = "list".into();
    input.response = Some(ResponseInfo {
        data: Some(obj(
            json!({"keys": ["a", "b/", "c"], "key_info": {"a": {"x": "y"}}}),
        )),
        ..ResponseInfo::default()
    });
    s.broker.log(&input).await.unwrap();
    let d = &last(&s.file)["response"]["data"];
    assert_eq!(d, &json!({"keys": 3, "key_info": 1}));
}

#[tokio::test]
async fn hash_reproduces_a_logged_hmac_and_disable_discards_the_salt() {
    let s = with_file(&[]).await;
    s.broker.log(&request()).await.unwrap();
    let logged = last(&s.file)["request"]["data"]["password"].clone();
    let h = s.broker.hash(&*s.storage, "file", "hunter2").await.unwrap();
    assert_eq!(Value::String(h.clone()), logged);
    assert_eq!(
        s.broker
            .hash(&*s.storage, "/file/", "hunter2")
            .await
            .unwrap(),
        h,
        "path spelled either way"
    );
    assert!(matches!(
        s.broker.hash(&*s.storage, "nope", "x").await,
        Err(AuditError::InvalidRequest(_))
    ));

    assert_eq!(s.storage.list(paths::SALT_PREFIX).await.unwrap().len(), 1);
    s.broker.disable(&*s.storage, "file").await.unwrap();
    assert!(!s.broker.active());
    assert!(s.broker.list().is_empty());
    assert!(
        s.storage.list(paths::SALT_PREFIX).await.unwrap().is_empty(),
        "salt deleted"
    );
    assert!(s.broker.hash(&*s.storage, "file", "hunter2").await.is_err());
    // Disabling again is not an error, as in OpenBao.
    s.broker.disable(&*s.storage, "file").await.unwrap();

    // Re-enabled at the same path: a new salt, so the old HMAC cannot be reproduced.
    let o = opts(&[("file_path", s.file.to_str().unwrap())]);
    s.broker
        .enable(&*s.storage, "file", "file", "", o, false)
        .await
        .unwrap();
    let again = s.broker.hash(&*s.storage, "file", "hunter2").await.unwrap();
    assert_ne!(again, h);
    // The chain key survived the disable, so the whole file (both lives of the device) still verifies.
    let key = s.broker.chain_key(&*s.storage, "file").await.unwrap();
    let r = verify(&std::fs::read(&s.file).unwrap()[..], &key, None);
    assert!(r.is_ok(), "{r}");
    assert_eq!(r.lines, 3);
}

#[tokio::test]
async fn enable_validates_options_and_paths() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.log");
    let f = file.to_str().unwrap();
    let storage = PlainMem::shared();
    let broker = Broker::new(false);
    let enable = |path: &'static str, kind: &'static str, o: BTreeMap<String, String>| {
        let broker = broker.clone();
        let storage = storage.clone();
        async move { broker.enable(&*storage, path, kind, "", o, false).await }
    };
    let invalid = |r: Result<(), AuditError>, needle: &str| match r {
        Err(AuditError::InvalidRequest(m)) => assert!(m.contains(needle), "{m}"),
        other => panic!("expected InvalidRequest({needle}), got {other:?}"),
    };
    invalid(
        enable("a", "file", opts(&[("file_path", f), ("bogus", "1")])).await,
        "bogus",
    );
    invalid(
        enable("a", "file", opts(&[("file_path", f), ("format", "jsonx")])).await,
        "jsonx",
    );
    invalid(
        enable("a", "file", opts(&[("file_path", f), ("prefix", "x")])).await,
        "allow_audit_log_prefixing",
    );
    invalid(enable("a", "file", opts(&[])).await, "file_path");
    invalid(enable("a", "kafka", opts(&[])).await, "kafka");
    invalid(
        enable(
            "a",
            "file",
            opts(&[("file_path", "/nonexistent-dir-xyz/a.log")]),
        )
        .await,
        "/nonexistent-dir-xyz",
    );
    assert!(!broker.active(), "nothing enabled by failed attempts");
    assert!(storage.get(paths::AUDIT_TABLE).await.unwrap().is_none());

    enable("a", "file", opts(&[("file_path", f)]))
        .await
        .unwrap();
    assert!(matches!(
        enable("a", "file", opts(&[("file_path", f)])).await,
        Err(AuditError::PathInUse(p)) if p == "a/"
    ));
    assert!(matches!(
        enable("a/b", "file", opts(&[("file_path", f)])).await,
        Err(AuditError::PathInUse(_))
    ));

    // Prefixing allowed by the server configuration (set after construction, as the core does).
    let broker = Broker::new(false);
    broker.set_allow_prefixing(true);
    let file2 = dir.path().join("b.log");
    let storage2 = PlainMem::shared();
    broker
        .enable(
            &*storage2,
            "b",
            "file",
            "",
            opts(&[
                ("file_path", file2.to_str().unwrap()),
                ("prefix", "AUDIT: "),
            ]),
            false,
        )
        .await
        .unwrap();
    broker.log(&request()).await.unwrap();
    let text = std::fs::read_to_string(&file2).unwrap();
    for line in text.lines() {
        let json = line.strip_prefix("AUDIT: ").unwrap();
        serde_json::from_str::<Value>(json).unwrap();
    }
    // The chain covers the prefix too.
    let key = broker.chain_key(&*storage2, "b").await.unwrap();
    let r = verify(text.as_bytes(), &key, None);
    assert!(r.is_ok() && r.lines == 2, "{r}");
    let edited = text.replacen("AUDIT: ", "AUDlT: ", 1);
    assert_eq!(
        verify(edited.as_bytes(), &key, None).failure,
        Some(Failure {
            line: 1,
            tamper: Tamper::Edited
        })
    );
}

#[tokio::test]
async fn syslog_needs_a_local_daemon_unless_the_test_is_skipped() {
    let storage = PlainMem::shared();
    let broker = Broker::new(false);
    let r = broker
        .enable(
            &*storage,
            "syslog",
            "syslog",
            "",
            opts(&[("tag", "coffer")]),
            false,
        )
        .await;
    // Whether a daemon listens depends on the machine; either way the outcome must be clear.
    match r {
        Ok(()) => assert!(broker.active()),
        Err(AuditError::InvalidRequest(m)) => {
            assert!(
                m.contains("no local syslog daemon") && m.contains("/dev/log"),
                "{m}"
            );
            assert!(!broker.active());
        }
        Err(other) => panic!("expected a clear error, got {other:?}"),
    }
    // With skip_test the device is enabled either way.
    broker
        .enable(
            &*storage,
            "syslog2",
            "syslog",
            "",
            opts(&[("skip_test", "true")]),
            false,
        )
        .await
        .unwrap();
    let listed = broker.list();
    let d = listed.iter().find(|d| d.path == "syslog2/").unwrap();
    assert!(
        !d.options.contains_key("skip_test"),
        "skip_test is not persisted"
    );
}

#[tokio::test]
async fn rename_and_reopen_lose_nothing_and_the_chain_links_across_files() {
    let s = with_file(&[]).await;
    for _ in 0..3 {
        s.broker.log(&request()).await.unwrap();
    }
    // logrotate: rename, then SIGHUP.
    let rotated = s.file.with_extension("log.1");
    std::fs::rename(&s.file, &rotated).unwrap();
    s.broker.reopen();
    s.broker.log(&request()).await.unwrap();
    // Renamed without a SIGHUP: noticed at the next write, which reopens the path.
    let rotated2 = s.file.with_extension("log.2");
    std::fs::rename(&s.file, &rotated2).unwrap();
    s.broker.log(&request()).await.unwrap();
    s.broker.log(&request()).await.unwrap();
    // A SIGHUP with nothing rotated keeps appending to the same file.
    s.broker.reopen();
    s.broker.log(&request()).await.unwrap();

    assert_eq!(lines(&rotated).len(), 4, "test entry + 3");
    assert_eq!(lines(&rotated2).len(), 1);
    assert_eq!(lines(&s.file).len(), 3);

    let key = s.broker.chain_key(&*s.storage, "file").await.unwrap();
    let r1 = verify(&std::fs::read(&rotated).unwrap()[..], &key, None);
    assert!(r1.is_ok(), "{r1}");
    assert_eq!((r1.first_seq, r1.last_seq), (Some(1), Some(4)));
    let r2 = verify(
        &std::fs::read(&rotated2).unwrap()[..],
        &key,
        r1.last_hash.as_deref(),
    );
    assert!(r2.is_ok(), "{r2}");
    assert_eq!(r2.first_seq, Some(5));
    let r3 = verify(
        &std::fs::read(&s.file).unwrap()[..],
        &key,
        r2.last_hash.as_deref(),
    );
    assert!(r3.is_ok(), "{r3}");
    assert_eq!((r3.first_seq, r3.last_seq), (Some(6), Some(8)));
    // Concatenated in order they form one chain; out of order they do not.
    let all = [
        std::fs::read(&rotated).unwrap(),
        std::fs::read(&rotated2).unwrap(),
        std::fs::read(&s.file).unwrap(),
    ];
    let r = verify(&all.concat()[..], &key, None);
    assert!(r.is_ok() && r.lines == 8, "{r}");
    let wrong = verify(
        &std::fs::read(&s.file).unwrap()[..],
        &key,
        r1.last_hash.as_deref(),
    );
    assert_eq!(wrong.failure.map(|f| f.line), Some(1));
}

#[tokio::test]
async fn verify_pinpoints_edits_deletions_reordering_and_truncation() {
    let s = with_file(&[]).await;
    for _ in 0..5 {
        s.broker.log(&request()).await.unwrap();
    }
    let key = s.broker.chain_key(&*s.storage, "file").await.unwrap();
    let text = std::fs::read_to_string(&s.file).unwrap();
    let original: Vec<String> = text.lines().map(|l| format!("{l}\n")).collect();
    assert_eq!(original.len(), 6);
    let check = |ls: &[String]| verify(ls.concat().as_bytes(), &key, None);

    let r = check(&original);
    assert!(r.is_ok(), "{r}");
    assert_eq!(r.lines, 6);
    assert_eq!(r.to_string(), "OK: 6 lines (seq 1..6)");

    let mut edited = original.clone();
    edited[2] = edited[2].replace("\"operation\":\"update\"", "\"operation\":\"delete\"");
    assert_ne!(edited[2], original[2]);
    let r = check(&edited);
    assert_eq!(
        r.failure,
        Some(Failure {
            line: 3,
            tamper: Tamper::Edited
        })
    );
    assert_eq!(r.lines, 2);

    let mut deleted = original.clone();
    deleted.remove(3);
    assert_eq!(
        check(&deleted).failure,
        Some(Failure {
            line: 4,
            tamper: Tamper::Deleted {
                expected_seq: 4,
                found_seq: 5
            }
        })
    );

    let mut reordered = original.clone();
    reordered.swap(3, 4);
    assert_eq!(
        check(&reordered).failure,
        Some(Failure {
            line: 4,
            tamper: Tamper::Reordered
        })
    );

    let mut truncated = original.clone();
    let l = truncated.last_mut().unwrap();
    l.truncate(l.len() / 2);
    let r = check(&truncated);
    assert_eq!(
        r.failure,
        Some(Failure {
            line: 6,
            tamper: Tamper::Truncated
        })
    );
    assert!(r.to_string().contains("line 6"), "{r}");
}

#[tokio::test]
async fn socket_device_delivers_lines_to_a_tcp_listener() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let storage = PlainMem::shared();
    let broker = Broker::new(false);
    broker
        .enable(
            &*storage,
            "sock",
            "socket",
            "",
            opts(&[("address", &addr)]),
            false,
        )
        .await
        .unwrap();
    let (stream, _) = listener.accept().await.unwrap();
    let mut rx = tokio::io::BufReader::new(stream).lines();
    let probe: Value = serde_json::from_str(&rx.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(probe["request"]["path"], "sys/audit/test");
    broker.log(&request()).await.unwrap();
    let e: Value = serde_json::from_str(&rx.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(e["request"]["id"], "6f1c1b8e-req");
    assert!(is_hmac(e["request"]["data"]["password"].as_str().unwrap()));
    assert!(
        e.get("seq").is_none(),
        "only file devices chain their lines"
    );
}

#[tokio::test]
async fn a_hung_socket_does_not_block_a_request_the_file_recorded() {
    // The peer accepts but never reads: once the kernel buffers are full, writes block.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        loop {
            let (s, _) = listener.accept().await.unwrap();
            conns.push(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.log");
    let storage = PlainMem::shared();
    let timeout = Duration::from_secs(1);
    let broker = Broker::with_device_timeout(false, timeout);
    broker
        .enable(
            &*storage,
            "file",
            "file",
            "",
            opts(&[("file_path", file.to_str().unwrap())]),
            false,
        )
        .await
        .unwrap();
    // Raw, so the big value reaches the socket as it is; no device-level timeout, only the broker's.
    broker
        .enable(
            &*storage,
            "sock",
            "socket",
            "",
            opts(&[
                ("address", &addr),
                ("log_raw", "true"),
                ("write_timeout", "0"),
            ]),
            false,
        )
        .await
        .unwrap();

    let mut big = request();
    big.request.data = Some(obj(json!({"blob": "x".repeat(48 << 20)})));
    let started = Instant::now();
    broker.log(&big).await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= timeout,
        "the socket was given its full timeout ({took:?})"
    );
    assert!(took < timeout * 10, "bounded by the timeout ({took:?})");
    assert_eq!(lines(&file).len(), 2, "the file recorded it");

    // The hung device is now paused: the next request does not wait for it at all.
    let started = Instant::now();
    broker.log(&request()).await.unwrap();
    assert!(started.elapsed() < timeout, "{:?}", started.elapsed());
    assert_eq!(lines(&file).len(), 3);
    let failures: BTreeMap<String, u64> = broker.failures().into_iter().collect();
    assert_eq!(failures["sock/"], 2);
    assert_eq!(failures["file/"], 0);
    held.abort();
}

#[tokio::test]
async fn when_no_device_records_the_entry_the_broker_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("logs");
    std::fs::create_dir(&sub).unwrap();
    let file = sub.join("audit.log");
    let storage = PlainMem::shared();
    let broker = Broker::new(false);
    assert!(
        broker.log(&request()).await.is_ok(),
        "no devices: nothing required"
    );
    broker
        .enable(
            &*storage,
            "file",
            "file",
            "",
            opts(&[("file_path", file.to_str().unwrap())]),
            false,
        )
        .await
        .unwrap();
    broker.log(&request()).await.unwrap();
    // The directory disappears under the open file: writing to the unlinked file would lose entries silently.
    std::fs::remove_dir_all(&sub).unwrap();
    match broker.log(&request()).await {
        Err(AuditError::NoDeviceRecorded(reason)) => {
            assert!(
                reason.contains("file/") && reason.contains("audit.log"),
                "{reason}"
            );
        }
        other => panic!("expected NoDeviceRecorded, got {other:?}"),
    }
    assert_eq!(broker.failures(), vec![("file/".to_owned(), 1)]);
    // Failures are counted per entry type (`sys/metrics` reports them apart).
    assert!(broker.log(&response()).await.is_err());
    assert_eq!(
        broker.device_failures(),
        vec![DeviceFailures {
            path: "file/".into(),
            kind: "file".into(),
            request: 1,
            response: 1
        }]
    );
    assert_eq!(broker.failures(), vec![("file/".to_owned(), 2)]);
    // The directory comes back: the device recovers on its own.
    std::fs::create_dir(&sub).unwrap();
    broker.log(&request()).await.unwrap();
    assert_eq!(lines(&file).len(), 1);
}

#[tokio::test]
async fn restore_reopens_persisted_devices_and_continues_the_chain() {
    let s = with_file(&[("hmac_accessor", "false")]).await;
    s.broker.log(&request()).await.unwrap();
    let hash = s.broker.hash(&*s.storage, "file", "hunter2").await.unwrap();
    s.broker.seal();
    assert!(!s.broker.active());
    assert!(s.broker.list().is_empty());

    // A fresh process (or the next unseal).
    let broker = Broker::new(false);
    broker.restore(&*s.storage).await.unwrap();
    assert!(broker.active());
    let listed = broker.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].options["hmac_accessor"], "false");
    broker.log(&request()).await.unwrap();
    let e = last(&s.file);
    assert_eq!(e["auth"]["accessor"], ACCESSOR, "options restored");
    assert_eq!(e["request"]["data"]["password"], hash, "salt restored");
    assert_eq!(e["seq"], 3);
    let key = broker.chain_key(&*s.storage, "file").await.unwrap();
    let r = verify(&std::fs::read(&s.file).unwrap()[..], &key, None);
    assert!(r.is_ok() && r.lines == 3, "{r}");

    // Restoring twice is harmless.
    broker.restore(&*s.storage).await.unwrap();
    assert_eq!(broker.list().len(), 1);
}

#[tokio::test]
async fn a_device_that_cannot_be_restored_keeps_the_broker_fail_closed() {
    let s = with_file(&[]).await;
    // Its salt is lost (a corrupt or partial restore).
    for k in s.storage.list(paths::SALT_PREFIX).await.unwrap() {
        s.storage
            .delete(&format!("{}{k}", paths::SALT_PREFIX))
            .await
            .unwrap();
    }
    let broker = Broker::new(false);
    broker.restore(&*s.storage).await.unwrap();
    assert!(broker.active(), "still listed");
    assert!(matches!(
        broker.log(&request()).await,
        Err(AuditError::NoDeviceRecorded(_))
    ));
}

#[tokio::test]
async fn declared_devices_are_recorded_refused_to_sys_audit_and_removed_only_as_declared() {
    let storage = PlainMem::shared();
    let broker = Broker::new(false);
    let discard = || opts(&[("file_path", "discard")]);
    broker
        .enable_declared(&*storage, "conf", "file", "from config", discard(), false)
        .await
        .unwrap();
    broker
        .enable(&*storage, "api", "file", "", discard(), false)
        .await
        .unwrap();
    let origins = |b: &Broker| {
        b.list()
            .into_iter()
            .map(|d| (d.path, d.declared))
            .collect::<Vec<_>>()
    };
    let want = vec![
        ("api/".to_owned(), Some(false)),
        ("conf/".to_owned(), Some(true)),
    ];
    assert_eq!(origins(&broker), want);
    // The origin is persisted: a restored broker knows it.
    let restored = Broker::new(false);
    restored.restore(&*storage).await.unwrap();
    assert_eq!(origins(&restored), want);

    // sys/audit cannot disable the declared device, and says how to remove it.
    let e = broker.disable(&*storage, "conf").await.unwrap_err();
    assert!(
        matches!(&e, AuditError::InvalidRequest(m) if m.contains("configuration") && m.contains("conf/")),
        "{e}"
    );
    assert_eq!(broker.list().len(), 2);
    // The configuration side removes only declared devices.
    assert!(!broker.disable_declared(&*storage, "api").await.unwrap());
    assert!(broker.disable_declared(&*storage, "conf").await.unwrap());
    assert!(!broker.disable_declared(&*storage, "conf").await.unwrap());
    assert_eq!(origins(&broker), vec![("api/".to_owned(), Some(false))]);
    restored.restore(&*storage).await.unwrap();
    assert_eq!(origins(&restored), vec![("api/".to_owned(), Some(false))]);
    broker.disable(&*storage, "api").await.unwrap();
    assert!(!broker.active());
}

#[tokio::test]
async fn a_device_of_unrecorded_origin_can_be_adopted_once() {
    let storage = PlainMem::shared();
    // A table written before origins were recorded.
    storage
        .put(
            paths::AUDIT_TABLE,
            br#"{"version":1,"entries":[{"path":"old/","type":"file","description":"",
                "options":{"file_path":"discard"},"local":false}]}"#,
        )
        .await
        .unwrap();
    storage
        .put(
            &format!("{}{}", paths::SALT_PREFIX, hex::encode("old/")),
            &[1; 33],
        )
        .await
        .unwrap();
    let broker = Broker::new(false);
    broker.restore(&*storage).await.unwrap();
    assert_eq!(broker.list()[0].declared, None);
    broker.adopt_declared(&*storage, "old").await.unwrap();
    assert_eq!(broker.list()[0].declared, Some(true));
    assert!(broker.adopt_declared(&*storage, "old").await.is_err());
    assert!(broker.adopt_declared(&*storage, "none").await.is_err());
    let restored = Broker::new(false);
    restored.restore(&*storage).await.unwrap();
    assert_eq!(restored.list()[0].declared, Some(true));
    assert!(restored.disable(&*storage, "old").await.is_err());
}
