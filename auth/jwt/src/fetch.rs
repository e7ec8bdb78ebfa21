//! Fetching discovery documents and JWKS over HTTP(S): one pooled client per key source, with timeouts, an
//! optional CA bundle and a cap on the body size.

use std::error::Error as _;
use std::time::Duration;

use serde_json::Value;

/// Cap on a discovery document or JWKS body.
const MAX_BODY: usize = 1024 * 1024;

/// Builds a client trusting only `ca_pem` when given, else the system roots.
pub(crate) fn client(ca_pem: &str, timeout: Duration) -> Result<reqwest::Client, String> {
    // reqwest is built without a default TLS provider; installing ring twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(90));
    if !ca_pem.trim().is_empty() {
        let certs = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes())
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| "could not parse CA PEM value successfully".to_owned())?;
        builder = builder.tls_certs_only(certs);
    }
    builder.build().map_err(|e| chain(&e))
}

/// Checks that `url` is an absolute http(s) URL.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("invalid URL {url:?}: {e}"))?;
    if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() {
        Ok(())
    } else {
        Err(format!("invalid URL {url:?}: scheme must be http or https"))
    }
}

/// GETs `url` and parses the body as JSON.
pub(crate) async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    check_url(url)?;
    let mut resp = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| chain(&e))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| chain(&e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("{url} answered more than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("{url} did not answer JSON: {e}"))
}

/// An error with its causes, which is where reqwest keeps the useful part (refused, certificate unknown).
fn chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_cas() {
        assert!(check_url("https://example.test/keys").is_ok());
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("ftp://x/").is_err());
        assert!(check_url("not a url").is_err());
        assert_eq!(
            client("garbage", Duration::from_secs(1)).unwrap_err(),
            "could not parse CA PEM value successfully"
        );
        assert!(client("", Duration::from_secs(1)).is_ok());
    }
}
