//! A small HTTPS server for the tests: a JWKS at `/keys`, an OIDC discovery document at
//! `/.well-known/openid-configuration`, behind a throwaway CA. It answers one HTTP/1.1 request per connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::keys::TestKey;

#[derive(Default)]
struct State {
    jwks: Mutex<Value>,
    issuer: Mutex<Option<String>>,
    jwks_hits: AtomicUsize,
}

/// The running server; stopped on drop.
pub(crate) struct KeyServer {
    /// PEM of the CA that signed the server's certificate.
    pub(crate) ca_pem: String,
    port: u16,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A throwaway CA (its PEM) and a server config for `127.0.0.1` signed by it.
pub(crate) fn localhost_tls() -> (String, Arc<rustls::ServerConfig>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "jwt test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "jwks server");
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
    let chain = vec![leaf.der().clone(), ca.der().clone()];
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    (ca.pem(), Arc::new(config))
}

impl KeyServer {
    /// Starts serving `keys` on a free port of 127.0.0.1.
    pub(crate) async fn start(keys: &[&TestKey]) -> Self {
        let (ca_pem, tls) = localhost_tls();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let task = tokio::spawn({
            let state = state.clone();
            async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        return;
                    };
                    let (acceptor, state) = (acceptor.clone(), state.clone());
                    tokio::spawn(async move {
                        // A client that rejects our certificate hangs up here; nothing to answer.
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            answer(tls, &state, port).await;
                        }
                    });
                }
            }
        });
        let server = Self {
            ca_pem,
            port,
            state,
            task,
        };
        server.set_keys(keys);
        server
    }

    /// `https://127.0.0.1:<port>`.
    pub(crate) fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The JWKS URL.
    pub(crate) fn jwks_url(&self) -> String {
        format!("{}/keys", self.base())
    }

    /// Replaces the served keys (a rotation).
    pub(crate) fn set_keys(&self, keys: &[&TestKey]) {
        let keys: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
        *self.state.jwks.lock().unwrap() = json!({ "keys": keys });
    }

    /// Serves a raw JWKS document.
    pub(crate) fn set_jwks(&self, doc: Value) {
        *self.state.jwks.lock().unwrap() = doc;
    }

    /// Makes the discovery document claim another issuer.
    pub(crate) fn set_issuer(&self, issuer: &str) {
        *self.state.issuer.lock().unwrap() = Some(issuer.to_owned());
    }

    /// How many times the JWKS was fetched.
    pub(crate) fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }
}

async fn answer<S>(mut stream: S, state: &State, port: u16)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let base = format!("https://127.0.0.1:{port}");
    let (status, body) = match path.as_str() {
        "/keys" => {
            state.jwks_hits.fetch_add(1, Ordering::SeqCst);
            ("200 OK", state.jwks.lock().unwrap().to_string())
        }
        "/.well-known/openid-configuration" => {
            let issuer = state.issuer.lock().unwrap().clone().unwrap_or(base.clone());
            (
                "200 OK",
                json!({"issuer": issuer, "jwks_uri": format!("{base}/keys")}).to_string(),
            )
        }
        "/notjson" => ("200 OK", "hello".to_owned()),
        _ => ("404 Not Found", "{}".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
