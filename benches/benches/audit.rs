//! Criterion benches for the audit path of one KV read: formatting its request and response entries (HMACs
//! included) through a `discard` file device, and recording both in a chained file, as the pipeline does
//! before routing and before answering.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, json};
use server_audit::{
    AuditInput, AuthInfo, Broker, EntryKind, PolicyInfo, PolicyResults, RequestInfo, ResponseInfo,
};
use storage::testing::PlainMem;

/// The request entry of `GET secret/data/app` by a token with one policy, and its response entry.
fn kv_read_entries() -> (AuditInput, AuditInput) {
    let request = RequestInfo {
        id: "0f3c2a6e-2d1b-4c39-9a57-3b1f5c1d2e4f".into(),
        operation: "read".into(),
        path: "secret/data/app".into(),
        data: None,
        remote_address: "127.0.0.1".into(),
        remote_port: 51234,
        client_token: "s.Qf1s5zigZ4OX6akYjQXJC1jY".into(),
        client_token_accessor: "Nf8B2BCjuS7kWQtcFjGZTGpN".into(),
        mount_point: "secret/".into(),
        mount_type: "kv".into(),
        mount_accessor: "kv_7b6c1a2e".into(),
        ..Default::default()
    };
    let auth = AuthInfo {
        client_token: request.client_token.clone(),
        accessor: request.client_token_accessor.clone(),
        display_name: "token".into(),
        policies: vec!["default".into(), "app".into()],
        token_policies: vec!["default".into(), "app".into()],
        token_type: "service".into(),
        token_ttl: 3600,
        token_issue_time: Some(SystemTime::now()),
        policy_results: Some(PolicyResults {
            allowed: true,
            granting_policies: vec![PolicyInfo {
                name: "app".into(),
                namespace_id: "root".into(),
                kind: "acl".into(),
                ..Default::default()
            }],
        }),
        metadata: BTreeMap::new(),
        ..Default::default()
    };
    let mut req = AuditInput::request(SystemTime::now(), request);
    req.auth = Some(auth);
    let mut resp = req.clone();
    resp.kind = EntryKind::Response;
    let data: Map<String, serde_json::Value> = json!({
        "data": {"username": "app", "password": "s3cr3t-Value-0123456789"},
        "metadata": {"created_time": "2026-11-22T10:00:00.000000000Z", "custom_metadata": null,
                     "deletion_time": "", "destroyed": false, "version": 3}
    })
    .as_object()
    .cloned()
    .unwrap();
    resp.response = Some(ResponseInfo {
        data: Some(data),
        ..Default::default()
    });
    (req, resp)
}

fn broker_with(rt: &tokio::runtime::Runtime, file_path: &str) -> std::sync::Arc<Broker> {
    let broker = Broker::new(false);
    let storage = PlainMem::shared();
    let options = BTreeMap::from([("file_path".to_owned(), file_path.to_owned())]);
    rt.block_on(broker.enable(&*storage, "file/", "file", "", options, false))
        .expect("enable the file device");
    broker
}

fn kv_read_audit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("audit.log");
    let discard = broker_with(&rt, "discard");
    let file = broker_with(&rt, log.to_str().expect("utf-8 path"));
    let (req, resp) = kv_read_entries();

    let mut g = c.benchmark_group("audit_kv_read");
    g.bench_function("request+response, discard device (formatting only)", |b| {
        b.iter(|| {
            rt.block_on(async {
                discard.log(black_box(&req)).await.unwrap();
                discard.log(black_box(&resp)).await.unwrap();
            });
        });
    });
    g.bench_function("request+response, chained file", |b| {
        b.iter(|| {
            rt.block_on(async {
                file.log(black_box(&req)).await.unwrap();
                file.log(black_box(&resp)).await.unwrap();
            });
        });
    });
    g.finish();
}

criterion_group!(benches, kv_read_audit);
criterion_main!(benches);
