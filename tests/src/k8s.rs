//! A fake Kubernetes API server for the kubernetes and jwt auth methods' tests ([`FakeApiServer`]).
//!
//! No real API server can run here, so this one plays its part for real: HTTPS with a throwaway CA, service-account
//! JWTs signed with RS256 or ES256 keys it generates (RSA keys come from the `openssl` binary, since ring cannot
//! generate them), and a `tokenreviews` endpoint that checks the bearer (401 when unknown or expired, 403 without
//! the `tokenreviews` grant) and verifies the reviewed token's signature, expiry, issuer and audiences before
//! answering a real TokenReview object. It also serves the OIDC discovery document and the JWKS of its keys, and
//! can be switched into failure modes ([`Mode`]) or stopped.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::service::TowerToHyperService;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    PublicKeyData,
};
use ring::rand::SystemRandom;
use ring::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RsaKeyPair,
    UnparsedPublicKey,
};
use serde_json::{Value, json};

/// The TokenReview endpoint.
pub const TOKEN_REVIEW_PATH: &str = "/apis/authentication.k8s.io/v1/tokenreviews";
/// The issuer of legacy (Secret-based) service-account tokens.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";
/// Namespace of the reviewer service account.
pub const REVIEWER_NAMESPACE: &str = "kube-system";
/// Name of the reviewer service account (granted `tokenreviews` create, like `system:auth-delegator`).
pub const REVIEWER_NAME: &str = "coffer-reviewer";

/// How the `tokenreviews` endpoint behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Like a real API server.
    #[default]
    Normal,
    /// Every review is answered 401 (the bearer rejected).
    Unauthorized401,
    /// Every review is answered 403 (no RBAC grant).
    Forbidden403,
    /// Every review is answered 500.
    Error500,
    /// Reviews are never answered (the connection stays open).
    Hang,
}

/// The signing algorithm of a minted token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (what clusters use by default).
    #[default]
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
}

/// How [`FakeApiServer::mint`] shapes a token.
#[derive(Debug, Clone)]
pub struct MintOpts {
    /// `aud`; `None` = the API server's own audience (its issuer URL), as for a pod's default token.
    pub audiences: Option<Vec<String>>,
    /// `exp - iat` (projected tokens only).
    pub lifetime: Duration,
    /// `iat` (and `nbf` unless set); `None` = now.
    pub issued_at: Option<SystemTime>,
    /// `nbf`; `None` = `iat`.
    pub not_before: Option<SystemTime>,
    /// A legacy Secret-based token (`kubernetes.io/serviceaccount/*` claims, no `exp`/`aud`).
    pub legacy: bool,
    /// The token Secret's name (legacy tokens; default `<name>-token-abcde`).
    pub secret_name: Option<String>,
    /// The pod the token is bound to (projected tokens): name and UID.
    pub pod: Option<(String, String)>,
    /// The signing algorithm.
    pub alg: SigningAlg,
    /// `iss`; `None` = the server's issuer (or [`LEGACY_ISSUER`] for legacy tokens).
    pub issuer: Option<String>,
}

impl Default for MintOpts {
    fn default() -> Self {
        Self {
            audiences: None,
            lifetime: Duration::from_secs(3600),
            issued_at: None,
            not_before: None,
            legacy: false,
            secret_name: None,
            pod: None,
            alg: SigningAlg::Rs256,
            issuer: None,
        }
    }
}

impl MintOpts {
    /// A projected token with the API server's audience, valid for an hour, RS256.
    pub fn projected() -> Self {
        Self::default()
    }

    /// A legacy Secret-based token.
    pub fn legacy() -> Self {
        Self {
            legacy: true,
            ..Self::default()
        }
    }

    /// Sets `aud` to exactly these audiences.
    pub fn audiences(mut self, audiences: &[&str]) -> Self {
        self.audiences = Some(audiences.iter().map(|a| (*a).to_owned()).collect());
        self
    }

    /// Sets `aud` to one audience.
    pub fn audience(self, audience: &str) -> Self {
        self.audiences(&[audience])
    }

    /// Issued two hours ago, expired an hour ago.
    pub fn expired(mut self) -> Self {
        self.issued_at = Some(SystemTime::now() - Duration::from_secs(7200));
        self.lifetime = Duration::from_secs(3600);
        self
    }

    /// Signed with ES256 instead of RS256.
    pub fn es256(mut self) -> Self {
        self.alg = SigningAlg::Es256;
        self
    }

    /// Bound to a pod.
    pub fn pod(mut self, name: &str, uid: &str) -> Self {
        self.pod = Some((name.to_owned(), uid.to_owned()));
        self
    }
}

/// One call of the `tokenreviews` endpoint, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedReview {
    /// The `Authorization: Bearer` token, if any.
    pub bearer: Option<String>,
    /// `spec.token`.
    pub token: String,
    /// `spec.audiences`.
    pub audiences: Vec<String>,
    /// The HTTP status answered (0 while a [`Mode::Hang`] call is pending).
    pub status: u16,
}

/// A running fake API server on `127.0.0.1`. Stops on drop.
pub struct FakeApiServer {
    url: String,
    ca_pem: String,
    state: Arc<ServerState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FakeApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApiServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl FakeApiServer {
    /// Starts a server on a free port, on its own thread and runtime (so it serves any test, whatever its
    /// runtime). Panics when it cannot (no `openssl` binary, no free port).
    pub fn start() -> Self {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake API server");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("listener address");
        let url = format!("https://{addr}");
        let (ca_pem, tls) = localhost_tls();
        let state = Arc::new(ServerState::new(url.clone()));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let router = router(state.clone());
        let thread = std::thread::Builder::new()
            .name(format!("fake-k8s-api-{}", addr.port()))
            .spawn(move || {
                // Two workers: a real API server is not the bottleneck of a login, and one thread verifying
                // two RSA signatures per review was, for the faster server under load.
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("fake API server runtime");
                rt.block_on(serve(listener, tls, router, stop_rx));
                // Dropping the runtime drops every connection task: clients see the server gone.
            })
            .expect("spawn the fake API server thread");
        Self {
            url,
            ca_pem,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.url
            .trim_start_matches("https://")
            .parse()
            .expect("own address")
    }

    /// The PEM CA certificate that signed the server's certificate (for `kubernetes_ca_cert`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The issuer of projected tokens (the server's URL, so OIDC discovery against it validates).
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// A valid projected token of `kube-system/coffer-reviewer`, the account allowed to create tokenreviews.
    pub fn reviewer_jwt(&self) -> String {
        self.state.reviewer_jwt.clone()
    }

    /// A signed service-account token for `namespace/name` with UID `uid`.
    pub fn mint(&self, namespace: &str, name: &str, uid: &str, opts: MintOpts) -> String {
        self.state.mint(namespace, name, uid, &opts)
    }

    /// The current RS256 signing key as a PEM `PUBLIC KEY` (for `pem_keys`).
    pub fn public_key_pem(&self) -> String {
        let keys = self.state.keys();
        keys.all[keys.rsa].spki_pem.clone()
    }

    /// The current ES256 signing key as a PEM `PUBLIC KEY`.
    pub fn ec_public_key_pem(&self) -> String {
        let keys = self.state.keys();
        keys.all[keys.ec].spki_pem.clone()
    }

    /// Every key the server has signed with (current and rotated out), as PEM `PUBLIC KEY`s.
    pub fn public_keys_pem(&self) -> Vec<String> {
        self.state
            .keys()
            .all
            .iter()
            .map(|k| k.spki_pem.clone())
            .collect()
    }

    /// A self-signed PEM certificate holding the current RS256 key (`pem_keys` accepts certificates too).
    pub fn signing_cert_pem(&self) -> String {
        let keys = self.state.keys();
        let key = &keys.all[keys.rsa];
        let pair = KeyPair::try_from(key.pkcs8.as_slice()).expect("rcgen loads the RSA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("cert params");
        params
            .distinguished_name
            .push(DnType::CommonName, "service-account-signer");
        params.self_signed(&pair).expect("self-signed cert").pem()
    }

    /// The JWKS served at `/openid/v1/jwks`.
    pub fn jwks(&self) -> Value {
        self.state.jwks()
    }

    /// Replaces the signing keys (RS256 and ES256) with new ones; tokens signed with the old keys stay valid and
    /// the old keys stay in the JWKS. Returns the new RS256 key's `kid`.
    pub fn rotate_key(&self) -> String {
        let rsa = SigningKey::rsa();
        let ec = SigningKey::ec();
        let kid = rsa.kid.clone();
        let mut keys = self.state.keys();
        keys.all.push(rsa);
        keys.rsa = keys.all.len() - 1;
        keys.all.push(ec);
        keys.ec = keys.all.len() - 1;
        kid
    }

    /// Switches the `tokenreviews` behaviour.
    pub fn set_mode(&self, mode: Mode) {
        *lock(&self.state.mode) = mode;
    }

    /// Every `tokenreviews` call so far, oldest first.
    pub fn reviews(&self) -> Vec<RecordedReview> {
        lock(&self.state.reviews).clone()
    }

    /// Lets `namespace/name` create tokenreviews (as binding it to `system:auth-delegator` does).
    pub fn grant_review(&self, namespace: &str, name: &str) {
        lock(&self.state.grants).insert((namespace.to_owned(), name.to_owned()));
    }

    /// Deletes a service account: its tokens no longer authenticate.
    pub fn delete_service_account(&self, namespace: &str, name: &str) {
        lock(&self.state.deleted).insert((namespace.to_owned(), name.to_owned()));
    }

    /// Stops serving: the port is closed and open connections (hanging reviews included) are dropped.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A signing key with everything needed to sign, verify and publish it.
struct SigningKey {
    kid: String,
    alg: SigningAlg,
    signer: Signer,
    /// PKCS#8 DER of the private key.
    pkcs8: Vec<u8>,
    /// DER `RSAPublicKey` (RSA) or uncompressed point (EC), as ring verifies with.
    public: Vec<u8>,
    spki_pem: String,
    jwk: Value,
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

impl SigningKey {
    /// A fresh 2048-bit RSA key from `openssl genpkey`.
    fn rsa() -> Self {
        let out = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ])
            .output()
            .expect(
                "run openssl to generate an RSA key (the fake API server needs the openssl binary)",
            );
        assert!(
            out.status.success(),
            "openssl genpkey failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // PEM output is PKCS#8 (`PRIVATE KEY`); DER output would be PKCS#1.
        let pem = String::from_utf8(out.stdout).expect("PEM text");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let pkcs8 = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("PEM base64");
        let pair = RsaKeyPair::from_pkcs8(&pkcs8).expect("ring loads the RSA key");
        let public = pair.public().as_ref().to_vec();
        let (n, e) = rsa_components(&public);
        let rc = KeyPair::try_from(pkcs8.as_slice()).expect("rcgen loads the RSA key");
        let kid = kid_of(&rc.subject_public_key_info());
        let jwk = json!({
            "use": "sig", "kty": "RSA", "kid": kid, "alg": "RS256",
            "n": B64URL.encode(n), "e": B64URL.encode(e),
        });
        Self {
            kid,
            alg: SigningAlg::Rs256,
            signer: Signer::Rsa(pair),
            pkcs8,
            public,
            spki_pem: rc.public_key_pem(),
            jwk,
        }
    }

    /// A fresh P-256 key.
    fn ec() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("generate an EC key")
            .as_ref()
            .to_vec();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .expect("ring loads the EC key");
        let public = pair.public_key().as_ref().to_vec();
        let rc = KeyPair::try_from(pkcs8.as_slice()).expect("rcgen loads the EC key");
        let kid = kid_of(&rc.subject_public_key_info());
        let jwk = json!({
            "use": "sig", "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
            "x": B64URL.encode(&public[1..33]), "y": B64URL.encode(&public[33..65]),
        });
        Self {
            kid,
            alg: SigningAlg::Es256,
            signer: Signer::Ec(pair),
            pkcs8,
            public,
            spki_pem: rc.public_key_pem(),
            jwk,
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(pair) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .expect("RSA signing");
                sig
            }
            Signer::Ec(pair) => pair
                .sign(&rng, message)
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
        }
    }

    fn verifies(&self, alg: &str, message: &[u8], sig: &[u8]) -> bool {
        let params: &dyn signature::VerificationAlgorithm = match (self.alg, alg) {
            (SigningAlg::Rs256, "RS256") => &signature::RSA_PKCS1_2048_8192_SHA256,
            (SigningAlg::Es256, "ES256") => &signature::ECDSA_P256_SHA256_FIXED,
            _ => return false,
        };
        UnparsedPublicKey::new(params, &self.public)
            .verify(message, sig)
            .is_ok()
    }
}

/// Kubernetes' key id: the base64url SHA-256 of the DER public key.
fn kid_of(spki_der: &[u8]) -> String {
    B64URL.encode(ring::digest::digest(&ring::digest::SHA256, spki_der))
}

/// `n` and `e` of a DER `RSAPublicKey` (`SEQUENCE { INTEGER n, INTEGER e }`), without sign bytes.
fn rsa_components(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    fn tlv(input: &[u8], tag: u8) -> (&[u8], &[u8]) {
        assert_eq!(input[0], tag, "unexpected DER tag");
        let (len, head) = match input[1] {
            l if l < 0x80 => (l as usize, 2),
            l => {
                let n = (l & 0x7f) as usize;
                let len = input[2..2 + n]
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | *b as usize);
                (len, 2 + n)
            }
        };
        (&input[head..head + len], &input[head + len..])
    }
    let (seq, _) = tlv(der, 0x30);
    let (n, rest) = tlv(seq, 0x02);
    let (e, _) = tlv(rest, 0x02);
    let strip = |v: &[u8]| {
        let start = v.iter().position(|b| *b != 0).unwrap_or(v.len());
        v[start..].to_vec()
    };
    (strip(n), strip(e))
}

/// Signing keys: all ever used (for verification and the JWKS) and the current ones.
struct Keys {
    all: Vec<SigningKey>,
    rsa: usize,
    ec: usize,
}

/// Shared between the test's handle and the server thread. Locks are never held across an await.
struct ServerState {
    issuer: String,
    keys: Mutex<Keys>,
    reviewer_jwt: String,
    mode: Mutex<Mode>,
    reviews: Mutex<Vec<RecordedReview>>,
    grants: Mutex<HashSet<(String, String)>>,
    deleted: Mutex<HashSet<(String, String)>>,
}

/// Who a token verified as.
#[derive(Debug, Clone)]
struct Identity {
    namespace: String,
    name: String,
    uid: String,
    /// `aud`; empty for legacy tokens (which Kubernetes treats as having the API server's audiences).
    audiences: Vec<String>,
    pod: Option<(String, String)>,
}

impl ServerState {
    fn new(issuer: String) -> Self {
        let keys = Keys {
            all: vec![SigningKey::rsa(), SigningKey::ec()],
            rsa: 0,
            ec: 1,
        };
        let mut state = Self {
            issuer,
            keys: Mutex::new(keys),
            reviewer_jwt: String::new(),
            mode: Mutex::new(Mode::Normal),
            reviews: Mutex::new(Vec::new()),
            grants: Mutex::new(HashSet::from([(
                REVIEWER_NAMESPACE.to_owned(),
                REVIEWER_NAME.to_owned(),
            )])),
            deleted: Mutex::new(HashSet::new()),
        };
        let opts = MintOpts {
            lifetime: Duration::from_secs(24 * 3600),
            ..MintOpts::default()
        };
        state.reviewer_jwt = state.mint(
            REVIEWER_NAMESPACE,
            REVIEWER_NAME,
            "0d7a6c4e-1f2b-4c3d-9e8f-a1b2c3d4e5f6",
            &opts,
        );
        state
    }

    fn keys(&self) -> MutexGuard<'_, Keys> {
        lock(&self.keys)
    }

    fn api_audiences(&self) -> Vec<String> {
        vec![self.issuer.clone()]
    }

    fn mint(&self, namespace: &str, name: &str, uid: &str, opts: &MintOpts) -> String {
        let secs = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .expect("time after the epoch")
                .as_secs()
        };
        let sub = format!("system:serviceaccount:{namespace}:{name}");
        let claims = if opts.legacy {
            json!({
                "iss": opts.issuer.clone().unwrap_or_else(|| LEGACY_ISSUER.to_owned()),
                "kubernetes.io/serviceaccount/namespace": namespace,
                "kubernetes.io/serviceaccount/secret.name": opts.secret_name.clone().unwrap_or_else(|| format!("{name}-token-abcde")),
                "kubernetes.io/serviceaccount/service-account.name": name,
                "kubernetes.io/serviceaccount/service-account.uid": uid,
                "sub": sub,
            })
        } else {
            let iat = opts.issued_at.unwrap_or_else(SystemTime::now);
            let nbf = opts.not_before.unwrap_or(iat);
            let mut k8s = json!({
                "namespace": namespace,
                "serviceaccount": {"name": name, "uid": uid},
            });
            if let Some((pod, pod_uid)) = &opts.pod {
                k8s["pod"] = json!({"name": pod, "uid": pod_uid});
            }
            json!({
                "aud": opts.audiences.clone().unwrap_or_else(|| self.api_audiences()),
                "exp": secs(iat + opts.lifetime),
                "iat": secs(iat),
                "nbf": secs(nbf),
                "iss": opts.issuer.clone().unwrap_or_else(|| self.issuer.clone()),
                "jti": format!("{:032x}", rand_u128()),
                "kubernetes.io": k8s,
                "sub": sub,
            })
        };
        let keys = self.keys();
        let key = match opts.alg {
            SigningAlg::Rs256 => &keys.all[keys.rsa],
            SigningAlg::Es256 => &keys.all[keys.ec],
        };
        let alg = match key.alg {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
        };
        let header = json!({"alg": alg, "kid": key.kid});
        let message = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        let sig = key.sign(message.as_bytes());
        format!("{message}.{}", B64URL.encode(sig))
    }

    fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.keys().all.iter().map(|k| k.jwk.clone()).collect();
        json!({ "keys": keys })
    }

    /// Verifies a token as the API server's authenticator would; `Err` is Kubernetes' kind of message.
    fn authenticate(&self, token: &str) -> Result<Identity, String> {
        let invalid = || "invalid bearer token".to_owned();
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let decode = |p: &str| B64URL.decode(p.trim_end_matches('=')).ok();
        let header: Value = decode(h)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(invalid)?;
        let claims: Value = decode(c)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(invalid)?;
        let sig = decode(s).ok_or_else(invalid)?;
        let alg = header["alg"].as_str().unwrap_or_default();
        let kid = header["kid"].as_str();
        let message = &token[..h.len() + 1 + c.len()];
        let verified = self
            .keys()
            .all
            .iter()
            .filter(|k| kid.is_none_or(|kid| kid == k.kid))
            .any(|k| k.verifies(alg, message.as_bytes(), &sig));
        if !verified {
            return Err(format!("{}: token signature is invalid", invalid()));
        }

        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("time after the epoch")
            .as_secs();
        let legacy = claims.get("kubernetes.io").is_none();
        let iss = claims["iss"].as_str().unwrap_or_default();
        let expected_iss = if legacy {
            LEGACY_ISSUER
        } else {
            self.issuer.as_str()
        };
        if iss != expected_iss {
            return Err(format!(
                "{}: token issuer {iss:?} is not trusted",
                invalid()
            ));
        }
        if let Some(exp) = claims["exp"].as_u64()
            && now >= exp
        {
            return Err(format!("{}: service account token has expired", invalid()));
        }
        if let Some(nbf) = claims["nbf"].as_u64()
            && now < nbf
        {
            return Err(format!(
                "{}: service account token is not valid yet",
                invalid()
            ));
        }
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let identity = if legacy {
            Identity {
                namespace: text(&claims["kubernetes.io/serviceaccount/namespace"]),
                name: text(&claims["kubernetes.io/serviceaccount/service-account.name"]),
                uid: text(&claims["kubernetes.io/serviceaccount/service-account.uid"]),
                audiences: Vec::new(),
                pod: None,
            }
        } else {
            let k8s = &claims["kubernetes.io"];
            let audiences = match &claims["aud"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a.iter().map(text).collect(),
                _ => Vec::new(),
            };
            Identity {
                namespace: text(&k8s["namespace"]),
                name: text(&k8s["serviceaccount"]["name"]),
                uid: text(&k8s["serviceaccount"]["uid"]),
                audiences,
                pod: k8s.get("pod").map(|p| (text(&p["name"]), text(&p["uid"]))),
            }
        };
        if identity.namespace.is_empty() || identity.name.is_empty() {
            return Err(invalid());
        }
        if lock(&self.deleted).contains(&(identity.namespace.clone(), identity.name.clone())) {
            return Err(format!(
                "{}: service account {}/{} has been deleted",
                invalid(),
                identity.namespace,
                identity.name
            ));
        }
        Ok(identity)
    }
}

/// A random `jti`.
fn rand_u128() -> u128 {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut bytes).expect("random bytes");
    u128::from_le_bytes(bytes)
}

fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route(TOKEN_REVIEW_PATH, post(token_review))
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/openid/v1/jwks", get(jwks))
        .with_state(state)
}

/// A `metav1.Status` failure answer.
fn status_failure(code: StatusCode, reason: &str, message: &str) -> Response {
    (
        code,
        axum::Json(json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason, "code": code.as_u16(),
        })),
    )
        .into_response()
}

async fn token_review(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_owned());
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let token = request["spec"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let wanted: Vec<String> = request["spec"]["audiences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let index = {
        let mut reviews = lock(&state.reviews);
        reviews.push(RecordedReview {
            bearer: bearer.clone(),
            token: token.clone(),
            audiences: wanted.clone(),
            status: 0,
        });
        reviews.len() - 1
    };
    let response = answer(&state, bearer.as_deref(), &request, &token, wanted).await;
    lock(&state.reviews)[index].status = response.status().as_u16();
    response
}

async fn answer(
    state: &ServerState,
    bearer: Option<&str>,
    request: &Value,
    token: &str,
    wanted: Vec<String>,
) -> Response {
    let mode = *lock(&state.mode);
    match mode {
        Mode::Normal => {}
        Mode::Hang => std::future::pending::<()>().await,
        Mode::Unauthorized401 => {
            return status_failure(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
        }
        Mode::Forbidden403 => return forbidden(REVIEWER_NAMESPACE, REVIEWER_NAME),
        Mode::Error500 => {
            return status_failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "Internal error occurred: the fake API server was told to fail",
            );
        }
    }

    // Authentication of the caller, then RBAC.
    let Some(caller) = bearer.and_then(|b| state.authenticate(b).ok()) else {
        return status_failure(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    };
    if !lock(&state.grants).contains(&(caller.namespace.clone(), caller.name.clone())) {
        return forbidden(&caller.namespace, &caller.name);
    }
    // A real API server takes the kind from the URL: OpenBao posts only `spec`.
    if !(request["kind"] == "TokenReview" || request["kind"].is_null()) || token.is_empty() {
        return status_failure(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the body is not a TokenReview with spec.token",
        );
    }

    let requested = if wanted.is_empty() {
        state.api_audiences()
    } else {
        wanted
    };
    let status = match state.authenticate(token) {
        Err(error) => json!({"user": {}, "error": error}),
        Ok(id) => {
            let token_auds = if id.audiences.is_empty() {
                state.api_audiences()
            } else {
                id.audiences.clone()
            };
            let both: Vec<&String> = requested
                .iter()
                .filter(|a| token_auds.contains(a))
                .collect();
            if both.is_empty() {
                json!({"user": {}, "error": format!(
                    "[invalid bearer token, token audiences {token_auds:?} is invalid for the target audiences {requested:?}]"
                )})
            } else {
                let mut user = json!({
                    "username": format!("system:serviceaccount:{}:{}", id.namespace, id.name),
                    "uid": id.uid,
                    "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{}", id.namespace), "system:authenticated"],
                });
                if let Some((pod, pod_uid)) = &id.pod {
                    user["extra"] = json!({
                        "authentication.kubernetes.io/pod-name": [pod],
                        "authentication.kubernetes.io/pod-uid": [pod_uid],
                    });
                }
                json!({"authenticated": true, "user": user, "audiences": both})
            }
        }
    };
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": request["spec"],
            "status": status,
        })),
    )
        .into_response()
}

fn forbidden(namespace: &str, name: &str) -> Response {
    status_failure(
        StatusCode::FORBIDDEN,
        "Forbidden",
        &format!(
            "tokenreviews.authentication.k8s.io is forbidden: User \"system:serviceaccount:{namespace}:{name}\" cannot create resource \"tokenreviews\" in API group \"authentication.k8s.io\" at the cluster scope"
        ),
    )
}

async fn discovery(State(state): State<Arc<ServerState>>) -> Response {
    axum::Json(json!({
        "issuer": state.issuer,
        "jwks_uri": format!("{}/openid/v1/jwks", state.issuer),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
    .into_response()
}

async fn jwks(State(state): State<Arc<ServerState>>) -> Response {
    axum::Json(state.jwks()).into_response()
}

/// A throwaway CA and a certificate for `127.0.0.1`/`localhost` signed by it: the CA PEM and the server config.
fn localhost_tls() -> (String, Arc<rustls::ServerConfig>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "fake kubernetes CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
        .expect("CA cert");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("leaf params");
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf cert");

    let chain = vec![leaf.der().clone(), ca.der().clone()];
    let key =
        rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).expect("leaf key DER");
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server TLS config");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    (ca.pem(), Arc::new(config))
}

/// The accept loop; returns when `stop` fires (or its sender is dropped).
async fn serve(
    listener: std::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = &mut stop => return,
        };
        let acceptor = acceptor.clone();
        let svc = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let _ = ConnBuilder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(jwt: &str) -> Value {
        let h = jwt.split('.').next().unwrap();
        serde_json::from_slice(&B64URL.decode(h).unwrap()).unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn discovery_jwks_and_rotation() {
        let api = FakeApiServer::start();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(api.ca_pem().as_bytes()).unwrap())
            .build()
            .unwrap();
        let get = |path: &str| {
            let req = client.get(format!("{}{path}", api.url()));
            async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
        };
        let discovery = get("/.well-known/openid-configuration").await;
        assert_eq!(discovery["issuer"], json!(api.issuer()));
        assert_eq!(
            discovery["jwks_uri"],
            json!(format!("{}/openid/v1/jwks", api.url()))
        );

        let jwks = get("/openid/v1/jwks").await;
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids.len(), 2);
        let rs = api.mint("ns", "sa", "uid", MintOpts::projected());
        let es = api.mint("ns", "sa", "uid", MintOpts::projected().es256());
        assert_eq!(header_of(&rs)["alg"], json!("RS256"));
        assert_eq!(header_of(&es)["alg"], json!("ES256"));
        assert!(kids.contains(&header_of(&rs)["kid"].as_str().unwrap()));
        assert!(kids.contains(&header_of(&es)["kid"].as_str().unwrap()));

        let new_kid = api.rotate_key();
        let rotated = api.mint("ns", "sa", "uid", MintOpts::projected());
        assert_eq!(header_of(&rotated)["kid"], json!(new_kid));
        assert_eq!(api.jwks()["keys"].as_array().unwrap().len(), 4);
        assert_eq!(api.public_keys_pem().len(), 4);
        // Old and new tokens both still authenticate.
        assert!(api.state.authenticate(&rs).is_ok());
        assert!(api.state.authenticate(&rotated).is_ok());
        assert!(
            api.state
                .authenticate(&api.mint("ns", "sa", "uid", MintOpts::projected().expired()))
                .is_err()
        );
    }

    #[test]
    fn der_components() {
        // SEQUENCE { INTEGER 0x00c3, INTEGER 0x010001 }
        let der = [
            0x30, 0x09, 0x02, 0x02, 0x00, 0xc3, 0x02, 0x03, 0x01, 0x00, 0x01,
        ];
        assert_eq!(rsa_components(&der), (vec![0xc3], vec![0x01, 0x00, 0x01]));
    }
}
