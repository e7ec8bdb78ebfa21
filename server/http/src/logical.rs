//! Everything under `/v1/` that is not a pre-unseal endpoint: verb → operation, token, body, then the core.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse as _, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use server_core::{CoreError, Headers, Operation, Request, Token};
use tracing::Instrument as _;

use crate::{ApiError, AppState, envelope};

/// `/v1/{*path}`. Runs in a span carrying the request id, so a 500's detail is logged next to it.
pub(crate) async fn handle(
    State(s): State<AppState>,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    req: axum::extract::Request,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let span = tracing::debug_span!("request", request_id = %request_id);
    async move {
        match handle_inner(s, path, query, req, request_id).await {
            Ok(resp) => resp,
            Err(e) => e.into_response(),
        }
    }
    .instrument(span)
    .await
}

async fn handle_inner(
    s: AppState,
    path: String,
    query: HashMap<String, String>,
    req: axum::extract::Request,
    request_id: String,
) -> Result<Response, ApiError> {
    let remote_addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let method = parts.method;
    let list = query
        .get("list")
        .is_some_and(|v| matches!(v.as_str(), "true" | "1" | "t" | "T" | "TRUE" | "True"));
    let operation = match method.as_str() {
        "GET" if list => Operation::List,
        "GET" => Operation::Read,
        "LIST" => Operation::List,
        "POST" | "PUT" => Operation::Update,
        "DELETE" => Operation::Delete,
        "PATCH" => Operation::Patch,
        _ => return Err(ApiError::MethodNotAllowed),
    };
    let wrap_ttl = wrap_ttl(&headers)?;
    // OpenBao only takes JSON merge patches on PATCH.
    if operation == Operation::Patch {
        let ct = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct
            .trim()
            .to_ascii_lowercase()
            .starts_with("application/merge-patch+json")
        {
            return Err(ApiError::UnsupportedMediaType(ct.to_owned()));
        }
    }
    let data = match operation {
        Operation::Read | Operation::List | Operation::Delete => query
            .into_iter()
            .filter(|(k, _)| k != "list")
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
        _ => read_json::<Option<Map<String, Value>>>(body, s.limits.max_request_size)
            .await?
            .unwrap_or_default(),
    };
    let req = Request {
        id: request_id.clone(),
        operation,
        path: request_path(&path, operation)?,
        data,
        token: client_token(&headers).map(Token),
        remote_addr,
        wrap_ttl,
        headers: request_headers(&headers),
    };
    tracing::debug!(path = %req.path, op = ?req.operation, "request");
    // The core runs in its own task: a client that disconnects, or the request timeout, stops the waiting,
    // never a multi-step change half way (an unmount and its data deletion, a token's last use and revocation).
    let core = s.core.clone();
    let work = tokio::spawn(async move { core.handle(req).await }.in_current_span());
    let resp = match tokio::time::timeout(s.limits.max_request_duration, work).await {
        Ok(Ok(r)) => r?,
        Ok(Err(join)) => {
            tracing::error!(error = %join, "request task failed");
            return Err(server_core::CoreError::Internal("request task failed".into()).into());
        }
        Err(_) => return Err(ApiError::Timeout),
    };
    Ok(envelope::respond(request_id, resp))
}

/// The logical path: no leading slash, and a trailing one for lists, as OpenBao routes them.
fn request_path(path: &str, op: Operation) -> Result<String, ApiError> {
    // One spelling per path: the ACL must see exactly what the handler acts on, so `//` collapses (as Go's
    // mux cleans it in OpenBao) and `.`/`..` segments are refused rather than resolved.
    let trailing = path.ends_with('/');
    let mut segments = Vec::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if seg == "." || seg == ".." {
            return Err(ApiError::BadParameter(format!(
                "invalid path segment {seg:?}"
            )));
        }
        segments.push(seg);
    }
    let mut out = segments.join("/");
    if (trailing || op == Operation::List) && !out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// Anything outside `/v1/`.
pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    CoreError::UnsupportedPath(uri.path().trim_start_matches('/').to_owned()).into()
}

/// `X-Vault-Token` wins; otherwise `Authorization: Bearer <token>`. Other Authorization schemes are ignored.
fn client_token(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = headers.get("x-vault-token").and_then(|v| v.to_str().ok()) {
        return Some(t.trim().to_owned());
    }
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The request headers the core may audit, without the client token: `X-Vault-Token` is dropped, and so are
/// `Authorization: Bearer` values (as OpenBao removes the header the token came from). Names are lowercase
/// (as `http` stores them); values that are not UTF-8 are converted lossily.
fn request_headers(headers: &HeaderMap) -> Headers {
    Headers(
        headers
            .iter()
            .filter(|(name, value)| {
                *name != "x-vault-token"
                    && !(*name == axum::http::header::AUTHORIZATION && is_bearer(value.as_bytes()))
            })
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
    )
}

fn is_bearer(value: &[u8]) -> bool {
    value
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
}

/// `X-Vault-Wrap-TTL`: a duration (`5m`) or seconds; absent or empty means no wrapping. Negative or invalid
/// values are a 400, with OpenBao's messages.
fn wrap_ttl(headers: &HeaderMap) -> Result<Option<Duration>, ApiError> {
    let Some(value) = headers.get("x-vault-wrap-ttl") else {
        return Ok(None);
    };
    let bad = |why: String| {
        ApiError::BadParameter(format!("error parsing X-Vault-Wrap-TTL header: {why}"))
    };
    let text = value
        .to_str()
        .map_err(|_| bad("time: invalid duration".into()))?
        .trim();
    if text.is_empty() {
        return Ok(None);
    }
    match api_spec::duration::parse(text) {
        Ok(d) => Ok(Some(d)),
        Err(api_spec::duration::DurationError::Negative(_)) => {
            Err(bad("requested wrap ttl cannot be negative".into()))
        }
        Err(e) => Err(bad(format!("time: {e}"))),
    }
}

/// Reads at most `limit` bytes of body and parses them as JSON; an empty body parses as `null`/defaults.
pub(crate) async fn read_json<T: DeserializeOwned + Default>(
    body: Body,
    limit: usize,
) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::TooLarge)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    // Only the kind and position of the error: serde's message can echo the offending value (a key share,
    // a password) back to the client and into logs.
    serde_json::from_slice(&bytes).map_err(|e| {
        let kind = match e.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected value or type",
            serde_json::error::Category::Eof => "unexpected end of input",
        };
        ApiError::BadJson(format!("{kind} at line {} column {}", e.line(), e.column()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn wrap_ttl_header() {
        let ttl = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert("x-vault-wrap-ttl", HeaderValue::from_static(v));
            wrap_ttl(&h).map_err(|e| e.status_and_messages())
        };
        assert_eq!(wrap_ttl(&HeaderMap::new()).unwrap(), None);
        assert_eq!(ttl("").unwrap(), None);
        assert_eq!(ttl("300").unwrap(), Some(Duration::from_secs(300)));
        assert_eq!(ttl("5m").unwrap(), Some(Duration::from_secs(300)));
        assert_eq!(ttl("0").unwrap(), Some(Duration::ZERO));
        let cases = [
            ("-1", "requested wrap ttl cannot be negative"),
            ("-5m", "requested wrap ttl cannot be negative"),
            ("abc", "time: invalid duration \"abc\""),
            ("1x", "time: unknown unit \"x\" in duration \"1x\""),
        ];
        for (value, why) in cases {
            let (status, messages) = ttl(value).unwrap_err();
            assert_eq!(status.as_u16(), 400, "{value}");
            assert_eq!(
                messages,
                vec![format!("error parsing X-Vault-Wrap-TTL header: {why}")],
                "{value}"
            );
        }
    }

    #[test]
    fn paths_have_one_spelling() {
        assert_eq!(
            request_path("/sys//seal", Operation::Update).unwrap(),
            "sys/seal"
        );
        assert_eq!(
            request_path("sys/seal/", Operation::Update).unwrap(),
            "sys/seal/"
        );
        assert_eq!(
            request_path("secret/metadata", Operation::List).unwrap(),
            "secret/metadata/"
        );
        assert!(request_path("secret/../sys/seal", Operation::Update).is_err());
        assert!(request_path("secret/./x", Operation::Read).is_err());
    }

    #[test]
    fn request_headers_leave_the_token_out() {
        let mut h = HeaderMap::new();
        h.insert("x-vault-token", HeaderValue::from_static("s.secret"));
        h.append("authorization", HeaderValue::from_static("Bearer s.other"));
        h.append(
            "authorization",
            HeaderValue::from_static("Basic dXNlcjpwdw=="),
        );
        h.append("X-Forwarded-For", HeaderValue::from_static("10.0.0.1"));
        h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.2"));
        h.insert("x-binary", HeaderValue::from_bytes(b"a\xffb").unwrap());
        let got = request_headers(&h);
        assert_eq!(
            got.get_all("x-forwarded-for").collect::<Vec<_>>(),
            vec!["10.0.0.1", "10.0.0.2"]
        );
        assert_eq!(got.get("authorization"), Some("Basic dXNlcjpwdw=="));
        assert_eq!(got.get_all("authorization").count(), 1);
        assert_eq!(got.get("x-vault-token"), None);
        assert_eq!(got.get("x-binary"), Some("a\u{fffd}b"));
        let debug = format!("{got:?}");
        assert!(
            !debug.contains("10.0.0.1") && debug.contains("x-forwarded-for"),
            "{debug}"
        );
    }

    #[test]
    fn token_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(client_token(&h), None);
        h.insert("authorization", HeaderValue::from_static("Bearer abc"));
        assert_eq!(client_token(&h).as_deref(), Some("abc"));
        h.insert("x-vault-token", HeaderValue::from_static("xyz"));
        assert_eq!(
            client_token(&h).as_deref(),
            Some("xyz"),
            "X-Vault-Token wins"
        );
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_static("Basic dXNlcjpwdw=="),
        );
        assert_eq!(client_token(&h), None, "non-bearer schemes ignored");
    }
}
