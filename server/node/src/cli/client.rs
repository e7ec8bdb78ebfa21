//! The HTTP client: vault headers, `/v1/` URLs, and vault-formatted errors.

use std::error::Error as _;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;
use zeroize::Zeroizing;

use super::secret::{ParseError, Secret};

/// Errors of API calls, displayed exactly as the vault CLI prints them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The server answered with a status >= 400.
    #[error("{}", response_error_text(.method, .url, *.status, *.raw, .errors))]
    Response {
        /// HTTP method of the request.
        method: String,
        /// Full request URL.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The `errors` strings of the body (or the raw body when `raw`).
        errors: Vec<String>,
        /// The body was not an error JSON document.
        raw: bool,
        /// Warnings/data that came with a 404 (vault shows them after the error).
        extra: Option<Box<ErrorSecret>>,
    },
    /// The request could not be sent or the response not read.
    #[error("{} \"{url}\": {reason}", go_method(.method))]
    Transport {
        /// HTTP method.
        method: String,
        /// Full request URL.
        url: String,
        /// What went wrong, with its causes.
        reason: String,
    },
    /// The client could not be configured (bad address, unreadable CA file, ...).
    #[error("{0}")]
    Config(String),
    /// The response body could not be decoded.
    #[error("{0}")]
    Decode(String),
}

impl ApiError {
    /// HTTP status of a response error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Response { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Error strings returned by the server.
    pub fn errors(&self) -> &[String] {
        match self {
            Self::Response { errors, .. } => errors,
            _ => &[],
        }
    }

    /// The secret (warnings/data) returned alongside a 404, if any.
    pub fn secret(&self) -> Option<&Secret> {
        match self {
            Self::Response {
                extra: Some(extra), ..
            } => Some(&extra.0),
            _ => None,
        }
    }
}

impl From<ParseError> for ApiError {
    fn from(err: ParseError) -> Self {
        Self::Decode(err.to_string())
    }
}

/// A secret attached to an error response (wrapped for a redacting `Debug`).
pub struct ErrorSecret(pub Secret);

impl fmt::Debug for ErrorSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErrorSecret(..)")
    }
}

fn response_error_text(
    method: &str,
    url: &str,
    status: u16,
    raw: bool,
    errors: &[String],
) -> String {
    let kind = if raw { "Raw Message" } else { "Errors" };
    let mut text =
        format!("Error making API request.\n\nURL: {method} {url}\nCode: {status}. {kind}:\n\n");
    if raw {
        text.push_str(&errors.join("\n"));
    } else {
        let items: Vec<String> = errors.iter().map(|e| format!("* {e}")).collect();
        text.push_str(&items.join("\n"));
    }
    text
}

/// Go's `net/http` spells methods like `Get` in transport errors.
fn go_method(method: &str) -> String {
    let mut chars = method.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
    })
}

/// Connection settings of the client.
pub struct ClientConfig {
    /// Server address, e.g. `https://127.0.0.1:8200`.
    pub address: String,
    /// PEM CA bundle that replaces the system roots.
    pub ca_cert: Option<PathBuf>,
    /// Skip TLS verification.
    pub tls_skip_verify: bool,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Token sent as `X-Vault-Token`.
    pub token: Option<Zeroizing<String>>,
    /// Response-wrapping TTL requested for every call (`-wrap-ttl`), as a Go duration string.
    pub wrap_ttl: Option<String>,
}

/// A raw HTTP response.
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Body bytes (may hold secrets, zeroized on drop).
    pub body: Zeroizing<Vec<u8>>,
}

/// Which requests ask the server to wrap their response (vault's wrapping lookup function).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wrapping {
    /// Only writes to `sys/wrapping/wrap`, with vault's default TTL of 5 minutes.
    Default,
    /// Every request, with this TTL (`-wrap-ttl`).
    All(String),
    /// No request.
    Off,
}

/// The TTL vault's client asks for when writing to `sys/wrapping/wrap` without `-wrap-ttl`.
const DEFAULT_WRAPPING_TTL: &str = "5m";

/// A vault API client.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: Url,
    address: String,
    token: Option<Zeroizing<String>>,
    wrapping: Wrapping,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// Build a client (installs the ring TLS provider on first use).
    pub fn new(config: ClientConfig) -> Result<Self, ApiError> {
        // Ignore the error: it only means a provider is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let address = config.address.trim().trim_end_matches('/').to_owned();
        let base = Url::parse(&address)
            .map_err(|e| ApiError::Config(format!("invalid address {address:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ApiError::Config(format!(
                "invalid address {address:?}: scheme must be http or https"
            )));
        }
        let mut builder = reqwest::Client::builder().timeout(config.timeout);
        if let Some(path) = &config.ca_cert {
            let pem = std::fs::read(path).map_err(|e| {
                ApiError::Config(format!("Error loading CA file {}: {e}", path.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ApiError::Config(format!(
                    "Error loading CA file {}: {}",
                    path.display(),
                    error_chain(&e)
                ))
            })?;
            if certs.is_empty() {
                return Err(ApiError::Config(format!(
                    "Error loading CA file {}: no certificates found",
                    path.display()
                )));
            }
            builder = builder.tls_certs_only(certs);
        }
        if config.tls_skip_verify {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| ApiError::Config(error_chain(&e)))?;
        Ok(Self {
            http,
            base,
            address,
            token: config.token,
            wrapping: config.wrap_ttl.map_or(Wrapping::Default, Wrapping::All),
        })
    }

    /// The server address as configured.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Replace the token sent with requests.
    pub fn set_token(&mut self, token: Option<Zeroizing<String>>) {
        self.token = token;
    }

    /// The token sent with requests.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref().map(String::as_str)
    }

    /// Choose which requests are wrapped.
    pub fn set_wrapping(&mut self, wrapping: Wrapping) {
        self.wrapping = wrapping;
    }

    /// A copy of this client that never asks for response wrapping (for preflight requests).
    pub fn unwrapped(&self) -> Self {
        let mut copy = self.clone();
        copy.wrapping = Wrapping::Off;
        copy
    }

    /// The `X-Vault-Wrap-TTL` to send for a request, if any.
    fn wrap_ttl(&self, method: &Method, path: &str) -> Option<&str> {
        match &self.wrapping {
            Wrapping::All(ttl) => Some(ttl),
            Wrapping::Default
                if (method == Method::PUT || method == Method::POST)
                    && path == "sys/wrapping/wrap" =>
            {
                Some(DEFAULT_WRAPPING_TTL)
            }
            Wrapping::Default | Wrapping::Off => None,
        }
    }

    /// `<address>/v1/<path>` with the path cleaned like Go's `path.Join` (empty and `.` segments
    /// dropped, `..` resolved, no trailing slash) and each segment percent-encoded.
    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push("v1");
            let mut clean: Vec<&str> = Vec::new();
            for segment in path.split('/') {
                match segment {
                    "" | "." => {}
                    ".." => {
                        clean.pop();
                    }
                    other => clean.push(other),
                }
            }
            for segment in clean {
                segments.push(segment);
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Send one request; statuses >= 400 are returned as responses, not errors.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(Url, RawResponse), ApiError> {
        self.send_typed(method, path, query, body, "application/json")
            .await
    }

    /// [`Self::send`] with an explicit body content type.
    async fn send_typed(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        content_type: &str,
    ) -> Result<(Url, RawResponse), ApiError> {
        let url = self.url(path, query);
        let transport = |reason: String| ApiError::Transport {
            method: method.to_string(),
            url: url.to_string(),
            reason,
        };
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header("X-Vault-Request", "true");
        if let Some(token) = &self.token {
            request = request.header("X-Vault-Token", token.as_str());
        }
        if let Some(ttl) = self.wrap_ttl(&method, path) {
            request = request.header("X-Vault-Wrap-TTL", ttl);
        }
        if let Some(body) = body {
            let bytes = Zeroizing::new(
                serde_json::to_vec(body).map_err(|e| ApiError::Decode(e.to_string()))?,
            );
            request = request
                .header("Content-Type", content_type)
                .body(bytes.to_vec());
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport(describe_reqwest(&e, &url)))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| transport(describe_reqwest(&e, &url)))?;
        Ok((
            url,
            RawResponse {
                status,
                body: Zeroizing::new(body.to_vec()),
            },
        ))
    }

    /// Send a request and turn statuses >= 400 into [`ApiError::Response`].
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<RawResponse, ApiError> {
        let (url, response) = self.send(method.clone(), path, query, body).await?;
        if response.status >= 400 {
            return Err(response_error(&method, &url, &response));
        }
        Ok(response)
    }

    /// Call and decode the JSON body into `T`.
    pub async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ApiError> {
        let response = self.call(method, path, &[], body).await?;
        serde_json::from_slice(&response.body)
            .map_err(|e| ApiError::Decode(format!("error parsing response: {e}")))
    }

    /// Read a path: 404 gives `None` unless it carries warnings or data (vault's `Logical().Read`).
    pub async fn read(&self, path: &str) -> Result<Option<Secret>, ApiError> {
        self.read_like(Method::GET, path, &[]).await
    }

    /// List a path with `GET ?list=true` (vault's `Logical().List`).
    pub async fn list(&self, path: &str) -> Result<Option<Secret>, ApiError> {
        self.read_like(Method::GET, path, &[("list", "true")]).await
    }

    async fn read_like(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<Secret>, ApiError> {
        let (url, response) = self.send(method.clone(), path, query, None).await?;
        if response.status == StatusCode::NOT_FOUND.as_u16() {
            return Ok(Secret::parse(&response.body)
                .ok()
                .flatten()
                .filter(Secret::has_content));
        }
        if response.status >= 400 {
            return Err(response_error(&method, &url, &response));
        }
        Ok(Secret::parse(&response.body)?)
    }

    /// Read a path with query parameters, like [`Self::read`].
    pub async fn read_with(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<Secret>, ApiError> {
        self.read_like(Method::GET, path, query).await
    }

    /// Write JSON data with PUT (vault's `Logical().Write`).
    pub async fn write(&self, path: &str, data: &Value) -> Result<Option<Secret>, ApiError> {
        self.write_like(Method::PUT, path, Some(data), "application/json")
            .await
    }

    /// Send `data` with any method and parse the response like [`Self::write`].
    pub async fn write_method(
        &self,
        method: Method,
        path: &str,
        data: Option<&Value>,
    ) -> Result<Option<Secret>, ApiError> {
        self.write_like(method, path, data, "application/json")
            .await
    }

    /// Send a request with query parameters; statuses >= 400 are errors (even 404), the body a secret.
    pub async fn call_secret(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<Secret>, ApiError> {
        let response = self.call(method, path, query, None).await?;
        Ok(Secret::parse(&response.body)?)
    }

    /// PATCH `data` as a JSON merge patch (vault's `Logical().JSONMergePatch`).
    pub async fn merge_patch(&self, path: &str, data: &Value) -> Result<Option<Secret>, ApiError> {
        self.write_like(
            Method::PATCH,
            path,
            Some(data),
            "application/merge-patch+json",
        )
        .await
    }

    /// Delete a path.
    pub async fn delete(&self, path: &str) -> Result<Option<Secret>, ApiError> {
        self.write_like(Method::DELETE, path, None, "application/json")
            .await
    }

    async fn write_like(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        content_type: &str,
    ) -> Result<Option<Secret>, ApiError> {
        let (url, response) = self
            .send_typed(method.clone(), path, &[], body, content_type)
            .await?;
        if response.status >= 400 {
            return Err(response_error(&method, &url, &response));
        }
        Ok(Secret::parse(&response.body)?)
    }
}

/// Build the vault-style error for a response with status >= 400.
pub(crate) fn response_error(method: &Method, url: &Url, response: &RawResponse) -> ApiError {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        #[serde(default)]
        errors: Option<Vec<String>>,
    }
    let (errors, raw) = match serde_json::from_slice::<ErrorBody>(&response.body) {
        Ok(body) => (body.errors.unwrap_or_default(), false),
        Err(_) => (
            vec![String::from_utf8_lossy(&response.body).into_owned()],
            true,
        ),
    };
    let extra = if response.status == StatusCode::NOT_FOUND.as_u16() {
        Secret::parse(&response.body)
            .ok()
            .flatten()
            .filter(Secret::has_content)
            .map(|s| Box::new(ErrorSecret(s)))
    } else {
        None
    };
    ApiError::Response {
        method: method.to_string(),
        url: url.to_string(),
        status: response.status,
        errors,
        raw,
        extra,
    }
}

/// Describe a reqwest error like Go's net/http does (`dial tcp host:port: connect: connection refused`),
/// else by its chain of causes; never as Debug.
fn describe_reqwest(err: &reqwest::Error, url: &Url) -> String {
    if err.is_timeout() {
        return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            .to_owned();
    }
    if err.is_connect() {
        let mut source = err.source();
        while let Some(cause) = source {
            if let Some(io) = cause.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::ConnectionRefused
            {
                let host = url.host_str().unwrap_or_default();
                let port = url.port_or_known_default().unwrap_or_default();
                return format!("dial tcp {host}:{port}: connect: connection refused");
            }
            source = cause.source();
        }
    }
    let mut parts: Vec<String> = Vec::new();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // hyper-util's wrapper text adds nothing for a user.
        if !text.is_empty()
            && text != "client error (Connect)"
            && !parts.iter().any(|p| p.contains(&text))
        {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        return err.to_string();
    }
    parts.join(": ")
}

/// `err` and its sources joined by `: `.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(address: &str) -> ApiClient {
        ApiClient::new(ClientConfig {
            address: address.to_owned(),
            ca_cert: None,
            tls_skip_verify: false,
            timeout: Duration::from_secs(5),
            token: None,
            wrap_ttl: None,
        })
        .unwrap()
    }

    #[test]
    fn urls_are_built_under_v1() {
        let c = client("http://127.0.0.1:8200/");
        assert_eq!(
            c.url("kv/foo", &[]).as_str(),
            "http://127.0.0.1:8200/v1/kv/foo"
        );
        assert_eq!(
            c.url("kv/a b?", &[("list", "true")]).as_str(),
            "http://127.0.0.1:8200/v1/kv/a%20b%3F?list=true"
        );
        let c = client("http://h:1/prefix");
        assert_eq!(
            c.url("sys/seal-status", &[]).as_str(),
            "http://h:1/prefix/v1/sys/seal-status"
        );
        // Cleaned like Go's path.Join.
        assert_eq!(
            c.url("sys/mounts/kv//tune/", &[]).as_str(),
            "http://h:1/prefix/v1/sys/mounts/kv/tune"
        );
        assert_eq!(
            c.url("/auth/userpass//login/./x/../bob", &[]).as_str(),
            "http://h:1/prefix/v1/auth/userpass/login/bob"
        );
    }

    #[test]
    fn wrapping_lookup() {
        let mut c = client("http://h:1");
        assert_eq!(c.wrap_ttl(&Method::PUT, "sys/wrapping/wrap"), Some("5m"));
        assert_eq!(c.wrap_ttl(&Method::GET, "sys/wrapping/wrap"), None);
        assert_eq!(c.wrap_ttl(&Method::PUT, "kv/a"), None);
        c.set_wrapping(Wrapping::All("1m0s".into()));
        assert_eq!(c.wrap_ttl(&Method::GET, "kv/a"), Some("1m0s"));
        assert_eq!(
            c.unwrapped().wrap_ttl(&Method::PUT, "sys/wrapping/wrap"),
            None
        );
    }

    #[test]
    fn bad_addresses_are_config_errors() {
        let err = ApiClient::new(ClientConfig {
            address: "not a url".into(),
            ca_cert: None,
            tls_skip_verify: false,
            timeout: Duration::from_secs(1),
            token: None,
            wrap_ttl: None,
        })
        .unwrap_err();
        assert!(matches!(err, ApiError::Config(_)), "{err}");
    }

    #[test]
    fn response_errors_display_like_vault() {
        let url = Url::parse("http://127.0.0.1:8200/v1/kv/foo").unwrap();
        let response = RawResponse {
            status: 403,
            body: Zeroizing::new(br#"{"errors":["permission denied"]}"#.to_vec()),
        };
        let err = response_error(&Method::GET, &url, &response);
        assert_eq!(
            err.to_string(),
            "Error making API request.\n\nURL: GET http://127.0.0.1:8200/v1/kv/foo\nCode: 403. Errors:\n\n* permission denied"
        );
        assert_eq!(err.status(), Some(403));
        let response = RawResponse {
            status: 502,
            body: Zeroizing::new(b"bad gateway".to_vec()),
        };
        assert_eq!(
            response_error(&Method::PUT, &url, &response).to_string(),
            "Error making API request.\n\nURL: PUT http://127.0.0.1:8200/v1/kv/foo\nCode: 502. Raw Message:\n\nbad gateway"
        );
        let response = RawResponse {
            status: 404,
            body: Zeroizing::new(br#"{"errors":[],"warnings":["w"]}"#.to_vec()),
        };
        let err = response_error(&Method::PUT, &url, &response);
        assert_eq!(err.secret().unwrap().warnings(), ["w".to_owned()]);
    }

    #[test]
    fn transport_error_text() {
        let err = ApiError::Transport {
            method: "GET".into(),
            url: "http://x/v1/a".into(),
            reason: "connection refused".into(),
        };
        assert_eq!(err.to_string(), "Get \"http://x/v1/a\": connection refused");
    }
}
