//! Helpers shared by the request-pipeline suites (kv, policies, tokens, mounts, userpass, cubbyhole). Those suites
//! run against the server `COFFER_E2E_TARGET` names: `coffer` (default) or `openbao` (the real `bao server -dev`,
//! which proves that what they expect is OpenBao's behaviour).

use std::collections::BTreeSet;

use serde_json::{Value, json};
use testkit::{Api, CmdOutput, TestServer};

/// A dev server of the target under test (root token `root`).
pub(crate) async fn server() -> TestServer {
    TestServer::dev_target().await
}

/// The error body OpenBao sends for a missing, unknown, revoked or expired token.
pub(crate) fn bad_token_body() -> Value {
    json!({ "errors": ["permission denied"] })
}

/// Asserts an ACL denial: 403 and an error message that says `permission denied` (OpenBao wraps the ACL's
/// message in a multierror, `1 error occurred:\n\t* permission denied\n\n`, so only the phrase is compared).
pub(crate) fn assert_denied(what: &str, status: u16, body: &Value) {
    assert_eq!(status, 403, "{what}: expected 403, got {status}: {body}");
    let first = first_error(body);
    assert!(
        first.contains("permission denied"),
        "{what}: 403 without `permission denied`: {body}"
    );
}

/// Asserts the answer to a request made with a revoked, expired or unknown token: exactly 403
/// `{"errors":["permission denied"]}`.
pub(crate) fn assert_bad_token(what: &str, status: u16, body: &Value) {
    assert_eq!(
        (status, body),
        (403, &bad_token_body()),
        "{what}: expected 403 permission denied"
    );
}

/// The first message of an `{"errors": [...]}` body (empty when there is none).
pub(crate) fn first_error(body: &Value) -> String {
    body.pointer("/errors/0")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Asserts `status`/`body` is the 404 OpenBao gives for a path that holds nothing: `{"errors":[]}`.
pub(crate) fn assert_empty_404(what: &str, status: u16, body: &Value) {
    assert_eq!(
        (status, body),
        (404, &json!({ "errors": [] })),
        "{what}: expected 404 with an empty errors list"
    );
}

/// Asserts a 4xx/5xx whose single error message contains `needle`.
pub(crate) fn assert_error(what: &str, status: u16, expected: u16, body: &Value, needle: &str) {
    assert_eq!(
        status, expected,
        "{what}: expected {expected}, got {status}: {body}"
    );
    let msg = first_error(body);
    assert!(
        msg.contains(needle),
        "{what}: error should contain {needle:?}: {body}"
    );
}

/// `PUT sys/policies/acl/<name>` with `hcl`; fails the test unless the answer is 204.
pub(crate) async fn put_policy(api: &Api, name: &str, hcl: &str) {
    let (status, body) = api
        .put(
            &format!("sys/policies/acl/{name}"),
            json!({ "policy": hcl }),
        )
        .await;
    assert_eq!(status, 204, "writing policy {name}: {status} {body}");
}

/// A token and its accessor.
#[derive(Clone)]
pub(crate) struct Token {
    /// The token itself (`client_token`).
    pub(crate) token: String,
    /// Its accessor.
    pub(crate) accessor: String,
    /// The whole `auth` object of the create response.
    pub(crate) auth: Value,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("accessor", &self.accessor)
            .finish_non_exhaustive()
    }
}

/// `POST auth/token/create` with `body` as the caller `api` is; fails the test unless the answer is 200 with a
/// token.
pub(crate) async fn create_token(api: &Api, body: Value) -> Token {
    let (status, resp) = api.post("auth/token/create", body.clone()).await;
    assert_eq!(status, 200, "auth/token/create {body}: {status} {resp}");
    token_from_auth(&resp)
}

/// The token in the `auth` object of a create or login response.
pub(crate) fn token_from_auth(resp: &Value) -> Token {
    let auth = resp
        .get("auth")
        .cloned()
        .unwrap_or_else(|| panic!("no auth object in {resp}"));
    let token = str_at(&auth, "/client_token");
    let accessor = str_at(&auth, "/accessor");
    assert!(!token.is_empty(), "empty client_token in {resp}");
    Token {
        token,
        accessor,
        auth,
    }
}

/// The string at JSON pointer `ptr` (fails the test when it is absent or not a string).
pub(crate) fn str_at(v: &Value, ptr: &str) -> String {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {ptr} in {v}"))
        .to_owned()
}

/// The strings of the array at `ptr`, sorted (fails the test when it is not an array of strings).
pub(crate) fn set_at(v: &Value, ptr: &str) -> BTreeSet<String> {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no array at {ptr} in {v}"))
        .iter()
        .map(|e| {
            e.as_str()
                .unwrap_or_else(|| panic!("non-string {e} in the array at {ptr} of {v}"))
                .to_owned()
        })
        .collect()
}

/// A sorted set of strings, for comparisons with [`set_at`].
pub(crate) fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The keys of the object at `ptr` (fails the test when it is not an object).
pub(crate) fn keys_at(v: &Value, ptr: &str) -> BTreeSet<String> {
    v.pointer(ptr)
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("no object at {ptr} in {v}"))
        .keys()
        .cloned()
        .collect()
}

/// Asserts the object at `ptr` has at least the keys `expected`.
pub(crate) fn assert_has_keys(what: &str, v: &Value, ptr: &str, expected: &[&str]) {
    let keys = keys_at(v, ptr);
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|k| !keys.contains(*k))
        .collect();
    assert!(missing.is_empty(), "{what}: {ptr} lacks {missing:?}: {v}");
}

/// Asserts a CLI command failed with exit code 2 (an API error) and said `needle` on stderr.
pub(crate) fn assert_cli_error(out: &CmdOutput, what: &str, needle: &str) {
    out.expect_code(2, what);
    assert!(
        out.stderr.contains(needle),
        "{what}: stderr should contain {needle:?}:\n{}",
        out.stderr
    );
}

/// A set of mount names, for comparing listings.
pub(crate) fn mounts_of(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}
