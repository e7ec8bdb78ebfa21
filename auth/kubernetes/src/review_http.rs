//! The real [`TokenReviewer`]: `POST {kubernetes_host}/apis/authentication.k8s.io/v1/tokenreviews` over a pooled
//! keep-alive HTTPS client that trusts only the configured CA, bounded by a timeout, with every failure sorted into
//! a precise [`ReviewError`].

use std::error::Error as StdError;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::review::{ReviewError, ReviewRequest, ReviewStatus, TokenReviewer};

/// The TokenReview endpoint below the API server's base URL.
const TOKEN_REVIEW_PATH: &str = "apis/authentication.k8s.io/v1/tokenreviews";
/// A TokenReview answer is a few hundred bytes; anything far larger is not one.
const MAX_ANSWER_BYTES: usize = 1 << 20;
/// How much of an unexpected answer goes into an error message.
const MAX_MESSAGE_CHARS: usize = 300;

/// Reviews tokens with a Kubernetes API server.
#[derive(Debug, Clone)]
pub struct HttpTokenReviewer {
    client: reqwest::Client,
    url: Url,
    timeout: Duration,
}

impl HttpTokenReviewer {
    /// A reviewer for the API server at `host` (a host, `host:port` or URL; `https://` is assumed without a
    /// scheme), trusting only the certificates of `ca_pem` (the system roots when `None`), giving up on a call
    /// after `timeout`.
    pub fn new(host: &str, ca_pem: Option<&str>, timeout: Duration) -> Result<Self, String> {
        // Only fails when a provider is already installed, which is what we want.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = endpoint(host)?;
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!(
                "coffer-auth-kubernetes/",
                env!("CARGO_PKG_VERSION")
            ));
        if let Some(pem) = ca_pem {
            builder = builder.tls_certs_only(parse_ca(pem)?);
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", chain(&e)))?;
        Ok(Self {
            client,
            url,
            timeout,
        })
    }

    /// The TokenReview URL called.
    pub fn url(&self) -> &Url {
        &self.url
    }

    async fn call(&self, request: &ReviewRequest) -> Result<ReviewStatus, ReviewError> {
        let body = Body {
            api_version: "authentication.k8s.io/v1",
            kind: "TokenReview",
            spec: Spec {
                token: request.token.as_str(),
                audiences: &request.audiences,
            },
        };
        let mut call = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&body);
        if let Some(bearer) = &request.bearer {
            call = call.bearer_auth(bearer.as_str());
        }
        let mut resp = call.send().await.map_err(|e| self.classify(&e))?;
        let status = resp.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(&e))? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_ANSWER_BYTES {
                return Err(ReviewError::BadResponse(format!(
                    "answer larger than {MAX_ANSWER_BYTES} bytes"
                )));
            }
        }
        parse_answer(status, &bytes)
    }

    /// Sorts a transport failure into TLS, DNS, connect or timeout.
    fn classify(&self, err: &reqwest::Error) -> ReviewError {
        if err.is_timeout() {
            return ReviewError::Timeout(self.timeout);
        }
        let text = chain(err);
        if let Some(tls) = find_rustls(err) {
            return ReviewError::Tls(tls.to_string());
        }
        let timed_out = causes(err).into_iter().any(|e| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        });
        if timed_out {
            return ReviewError::Timeout(self.timeout);
        }
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return ReviewError::Dns(text);
        }
        ReviewError::Connect(text)
    }
}

#[async_trait]
impl TokenReviewer for HttpTokenReviewer {
    async fn review(&self, request: &ReviewRequest) -> Result<ReviewStatus, ReviewError> {
        // reqwest's own timeout covers each phase; this one bounds the whole call, body included.
        match tokio::time::timeout(self.timeout, self.call(request)).await {
            Ok(result) => result,
            Err(_) => Err(ReviewError::Timeout(self.timeout)),
        }
    }
}

/// The base URL of `host` (OpenBao accepts a host, `host:port` or a URL).
pub(crate) fn base_url(host: &str) -> Result<Url, String> {
    let host = host.trim();
    let with_scheme = if host.contains("://") {
        host.to_owned()
    } else {
        format!("https://{host}")
    };
    let url =
        Url::parse(&with_scheme).map_err(|e| format!("invalid kubernetes_host {host:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "invalid kubernetes_host {host:?}: must be an http(s) URL or a host[:port]"
        ));
    }
    Ok(url)
}

/// The TokenReview URL of `host`, keeping any path prefix of the base URL (API servers behind a proxy).
fn endpoint(host: &str) -> Result<Url, String> {
    let base = base_url(host)?;
    let joined = format!(
        "{}/{TOKEN_REVIEW_PATH}",
        base.as_str().trim_end_matches('/')
    );
    Url::parse(&joined).map_err(|e| format!("invalid kubernetes_host {host:?}: {e}"))
}

/// The certificates of a PEM bundle; at least one is required.
pub(crate) fn parse_ca(pem: &str) -> Result<Vec<reqwest::Certificate>, String> {
    let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
        .map_err(|e| format!("kubernetes_ca_cert is not valid PEM: {}", chain(&e)))?;
    if certs.is_empty() {
        return Err("kubernetes_ca_cert holds no certificate".to_owned());
    }
    Ok(certs)
}

/// The request body: a TokenReview object.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    spec: Spec<'a>,
}

#[derive(Serialize)]
struct Spec<'a> {
    token: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    audiences: &'a [String],
}

/// What the answer's `status` holds (a TokenReview's), every field optional.
#[derive(Deserialize, Default)]
#[serde(default)]
struct WireStatus {
    authenticated: bool,
    user: WireUser,
    audiences: Vec<String>,
    error: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireUser {
    username: String,
    uid: String,
}

/// Turns an HTTP answer into a review status or the precise error (OpenBao accepts 200–206 only).
fn parse_answer(status: StatusCode, body: &[u8]) -> Result<ReviewStatus, ReviewError> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let code = status.as_u16();
    if !(200..=206).contains(&code) {
        let message = json
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| snippet(body));
        return Err(match status {
            StatusCode::UNAUTHORIZED => ReviewError::Unauthorized(message),
            StatusCode::FORBIDDEN => ReviewError::Forbidden(message),
            _ => ReviewError::Status {
                status: code,
                message,
            },
        });
    }
    let Some(json) = json else {
        return Err(ReviewError::BadResponse(format!(
            "not JSON: {}",
            snippet(body)
        )));
    };
    // A metav1.Status body in a success answer is still a failure.
    if json.get("kind").and_then(Value::as_str) == Some("Status") {
        let state = json.get("status").and_then(Value::as_str).unwrap_or("");
        if state != "Success" {
            let message = json
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("failure status")
                .to_owned();
            return Err(ReviewError::Status {
                status: code,
                message,
            });
        }
    }
    let Some(status_obj) = json.get("status").filter(|s| s.is_object()) else {
        return Err(ReviewError::BadResponse(
            "the answer has no TokenReview status".to_owned(),
        ));
    };
    let wire: WireStatus = serde_json::from_value(status_obj.clone())
        .map_err(|e| ReviewError::BadResponse(format!("malformed TokenReview status: {e}")))?;
    Ok(ReviewStatus {
        authenticated: wire.authenticated,
        username: wire.user.username,
        uid: wire.user.uid,
        audiences: wire.audiences,
        error: wire.error,
    })
}

/// A short, printable excerpt of an unexpected answer.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty answer)".to_owned();
    }
    text.chars()
        .take(MAX_MESSAGE_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Every error in `err`'s chain, looking inside `io::Error`s too (they hide their payload from `source()`, and
/// the TLS stack nests one inside another).
fn causes<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut pending: Vec<&'a (dyn StdError + 'static)> = vec![err];
    while let Some(e) = pending.pop() {
        if out.len() > 32 {
            break;
        }
        out.push(e);
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            pending.push(inner);
        }
        if let Some(next) = e.source() {
            pending.push(next);
        }
    }
    out
}

/// The rustls error somewhere in `err`'s chain.
fn find_rustls<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    causes(err)
        .into_iter()
        .find_map(|e| e.downcast_ref::<rustls::Error>())
}

/// `err` and its causes joined by `: `, without repeats.
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let url = |h: &str| endpoint(h).unwrap().to_string();
        assert_eq!(
            url("10.0.0.1:6443"),
            "https://10.0.0.1:6443/apis/authentication.k8s.io/v1/tokenreviews"
        );
        assert_eq!(
            url("https://k8s.example:443/"),
            "https://k8s.example/apis/authentication.k8s.io/v1/tokenreviews"
        );
        assert_eq!(
            url("http://proxy:8001/prefix"),
            "http://proxy:8001/prefix/apis/authentication.k8s.io/v1/tokenreviews"
        );
        assert!(endpoint("").is_err());
        assert!(endpoint("ftp://x").is_err());
        assert!(endpoint("https://").is_err());
    }

    #[test]
    fn answers() {
        let ok = br#"{"kind":"TokenReview","status":{"authenticated":true,"user":{"username":"system:serviceaccount:ns:sa","uid":"u1"},"audiences":["a"]}}"#;
        let s = parse_answer(StatusCode::OK, ok).unwrap();
        assert!(s.authenticated);
        assert_eq!(
            (s.username.as_str(), s.uid.as_str()),
            ("system:serviceaccount:ns:sa", "u1")
        );
        assert_eq!(s.audiences, vec!["a"]);

        let denied = br#"{"kind":"TokenReview","status":{"user":{},"error":"token expired"}}"#;
        let s = parse_answer(StatusCode::CREATED, denied).unwrap();
        assert!(!s.authenticated);
        assert_eq!(s.error, "token expired");

        let unauthorized =
            br#"{"kind":"Status","status":"Failure","message":"Unauthorized","code":401}"#;
        assert_eq!(
            parse_answer(StatusCode::UNAUTHORIZED, unauthorized).unwrap_err(),
            ReviewError::Unauthorized("Unauthorized".into())
        );
        let e = parse_answer(StatusCode::FORBIDDEN, b"nope").unwrap_err();
        assert_eq!(e, ReviewError::Forbidden("nope".into()));
        assert_eq!(e.reason(), crate::Reason::ReviewerForbidden);
        assert!(matches!(
            parse_answer(StatusCode::INTERNAL_SERVER_ERROR, b""),
            Err(ReviewError::Status { status: 500, .. })
        ));
        assert!(matches!(
            parse_answer(
                StatusCode::OK,
                br#"{"kind":"Status","status":"Failure","message":"m"}"#
            ),
            Err(ReviewError::Status { status: 200, .. })
        ));
        assert!(matches!(
            parse_answer(StatusCode::OK, b"<html>"),
            Err(ReviewError::BadResponse(_))
        ));
        assert!(matches!(
            parse_answer(StatusCode::OK, b"{}"),
            Err(ReviewError::BadResponse(_))
        ));
    }

    #[test]
    fn ca_must_hold_a_certificate() {
        assert!(parse_ca("not pem").is_err());
        assert!(parse_ca("").is_err());
    }
}
