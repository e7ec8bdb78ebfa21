//! A raw HTTP client for the Vault-shaped API: every call returns the status and the parsed JSON body, never
//! an error for a 4xx/5xx, so tests can assert on both.

use std::sync::Once;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// Installs rustls' ring provider once per process (reqwest is built with `rustls-no-provider`).
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // An error only means another provider is already installed, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A reqwest client that ignores proxies and, when `ca_pem` is given, trusts only that CA.
pub fn reqwest_client(ca_pem: Option<&[u8]>) -> reqwest::Client {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60));
    if let Some(pem) = ca_pem {
        let certs =
            reqwest::Certificate::from_pem_bundle(pem).expect("testkit: CA PEM does not parse");
        builder = builder.tls_certs_only(certs);
    }
    builder
        .build()
        .expect("testkit: cannot build the reqwest client")
}

/// One response: status, headers, raw body and the body as JSON (`Value::Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Resp {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Vec<u8>,
    /// Parsed body, `Null` when empty or not JSON.
    pub json: Value,
}

impl Resp {
    /// The `errors` array of an error body, as strings (empty when absent).
    pub fn errors(&self) -> Vec<String> {
        self.json
            .get("errors")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The body as (lossy) text, for failure messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client for one server: base URL (`http://127.0.0.1:PORT`) plus an optional token sent as `X-Vault-Token`.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("Api")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// A client for `base` (scheme://host:port, no trailing slash) using `http`.
    pub fn new(http: reqwest::Client, base: impl Into<String>, token: Option<String>) -> Self {
        Self {
            http,
            base: base.into().trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// The same client with another token (or none).
    pub fn with_token(&self, token: Option<&str>) -> Self {
        Self {
            token: token.map(str::to_owned),
            ..self.clone()
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `base/v1/<path>`; `path` may carry a query string.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v1/{}", self.base, path.trim_start_matches('/'))
    }

    /// `GET /v1/<path>` → (status, json).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }

    /// `POST /v1/<path>` with a JSON body → (status, json).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }

    /// `PUT /v1/<path>` with a JSON body → (status, json).
    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("PUT", path, Some(body)).await
    }

    /// `DELETE /v1/<path>` → (status, json).
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call("DELETE", path, None).await
    }

    /// `LIST /v1/<path>` → (status, json).
    pub async fn list(&self, path: &str) -> (u16, Value) {
        self.call("LIST", path, None).await
    }

    /// Any method with an optional JSON body → (status, json).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| serde_json::to_vec(&b).expect("testkit: JSON body serializes"));
        let r = self.send(method, path, body, &[]).await;
        (r.status, r.json)
    }

    /// Any method, raw body bytes and extra headers; the token header is added unless `headers` names
    /// `x-vault-token` itself.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Resp {
        self.try_send(method, path, body, headers)
            .await
            .unwrap_or_else(|e| panic!("testkit: {method} {} failed: {e:#}", self.url(path)))
    }

    /// [`Api::send`] that returns transport errors instead of failing the test (for servers that may be down).
    pub async fn try_send(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Resp> {
        let method = Method::from_bytes(method.as_bytes())?;
        let mut req = self.http.request(method, self.url(path));
        let sets_token = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-vault-token"));
        if let (Some(token), false) = (&self.token, sets_token) {
            req = req.header("X-Vault-Token", token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?.to_vec();
        let json = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or(Value::Null)
        };
        Ok(Resp {
            status,
            headers,
            body,
            json,
        })
    }
}
