//! End-to-end suites: real `coffer` server processes driven over raw HTTP, the real `bao` CLI, hvac and our own
//! CLI. One binary (one link) for every area; each test starts its own servers on free ports.

mod approle;
mod audit;
mod cli;
mod cli_login;
mod config_errors;
mod crash;
mod cubbyhole;
mod database;
mod http_contract;
mod identity;
mod kubernetes;
mod kv;
mod mounts;
mod policies;
mod seal_lifecycle;
mod storage_at_rest;
mod support;
mod tokens;
mod userpass;
mod wrapping;

use serde_json::Value;
use testkit::Api;

/// The barrier key term from `sys/key-status` (fails the test unless the answer is 200 with a term).
pub(crate) async fn key_term(api: &Api) -> u64 {
    let (status, body) = api.get("sys/key-status").await;
    assert_eq!(status, 200, "sys/key-status: {body}");
    body.pointer("/data/term")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no data.term in {body}"))
}

/// `{"errors": [..]}` with exactly these messages.
pub(crate) fn errors(messages: &[&str]) -> Value {
    serde_json::json!({ "errors": messages })
}

/// Asserts `body` is an error body with exactly one non-empty message and returns it.
pub(crate) fn single_error(body: &Value) -> String {
    let list = body
        .get("errors")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no errors array in {body}"));
    assert_eq!(list.len(), 1, "expected one error message: {body}");
    let msg = list
        .first()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    assert!(!msg.is_empty(), "empty error message: {body}");
    msg
}
