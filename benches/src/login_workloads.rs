//! Login workloads: AppRole, JWT (keys configured locally) and Kubernetes (TokenReview against one shared fake
//! API server), the same logins against both servers.

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use async_trait::async_trait;
use hyper::Method;
use serde_json::{Value, json};
use testkit::k8s::{FakeApiServer, MintOpts};

use crate::db::checked;
use crate::http::Conn;
use crate::workload::{Target, Workload};

/// Concurrent clients of every login workload: the figure is logins/s at 16 clients.
pub const LOGIN_CLIENTS: usize = 16;
/// Service-account tokens each JWT/Kubernetes workload rotates through.
const TOKENS: usize = 64;
/// Namespace of the minted service accounts.
const NAMESPACE: &str = "bench";
/// Audience of the tokens for `login-jwt` (the role's `bound_audiences`).
const JWT_AUDIENCE: &str = "bench";
/// Lifetime of the minted tokens: far longer than any run, so none expires mid-run.
const TOKEN_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// The fake Kubernetes API server shared by both servers' JWT and Kubernetes workloads, so Coffer and OpenBao
/// are checked by the same TokenReview endpoint and keys. Started on first use (it generates an RSA key with
/// `openssl`), then lives until the process exits.
static FAKE_API: OnceLock<FakeApiServer> = OnceLock::new();

async fn fake_api() -> Result<&'static FakeApiServer> {
    if let Some(api) = FAKE_API.get() {
        return Ok(api);
    }
    // `start` blocks (openssl) and panics when it cannot start; the panic becomes this error.
    tokio::task::spawn_blocking(|| FAKE_API.get_or_init(FakeApiServer::start))
        .await
        .map_err(|e| anyhow!("starting the fake Kubernetes API server failed: {e}"))
}

/// A control-plane call with the root token; returns the JSON answer (`Null` for 204).
async fn call(target: &Target, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
    let mut req = target.request(method.clone(), path);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = checked(&format!("{method} {path}"), req.send().await?).await?;
    let text = resp.text().await?;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).with_context(|| format!("{method} {path}: decoding the answer"))
}

/// `POST sys/auth/<path>` with `type`; an already enabled method (400) is fine.
async fn enable_auth(target: &Target, path: &str, kind: &str) -> Result<()> {
    let r = target
        .request(Method::POST, &format!("/v1/sys/auth/{path}"))
        .json(&json!({"type": kind}))
        .send()
        .await?;
    if r.status().as_u16() != 400 {
        checked(&format!("enabling auth/{path}"), r).await?;
    }
    Ok(())
}

/// `TOKENS` service-account tokens for `bench/sa-<n>`, minted by the fake API server.
fn mint_tokens(api: &FakeApiServer, opts: &MintOpts) -> Vec<String> {
    (0..TOKENS)
        .map(|n| {
            let opts = MintOpts {
                lifetime: TOKEN_LIFETIME,
                ..opts.clone()
            };
            api.mint(NAMESPACE, &format!("sa-{n}"), &format!("uid-sa-{n}"), opts)
        })
        .collect()
}

/// The login bodies `{"role":"bench","jwt":...}`, one per token (built once, not per request).
fn login_bodies(tokens: &[String]) -> Vec<String> {
    tokens
        .iter()
        .map(|jwt| json!({"role": "bench", "jwt": jwt}).to_string())
        .collect()
}

/// Sends the login body for request `i`, rotating through `bodies`.
async fn login(conn: &mut Conn, path: &str, bodies: &[String], i: u64) -> Result<u16> {
    let n = usize::try_from(i).unwrap_or_default() % bodies.len().max(1);
    let body = bodies
        .get(n)
        .context("no login bodies (setup did not run)")?;
    Ok(conn
        .send(Method::POST, path, Some(body.clone()))
        .await?
        .status)
}

/// `POST auth/approle/login` with one role ID and secret ID (unlimited uses): a new token per login.
#[derive(Default)]
pub struct LoginAppRole {
    body: String,
}

#[async_trait]
impl Workload for LoginAppRole {
    fn name(&self) -> &'static str {
        "login-approle"
    }
    async fn setup(&mut self, target: &Target) -> Result<()> {
        enable_auth(target, "approle", "approle").await?;
        call(
            target,
            Method::POST,
            "/v1/auth/approle/role/bench",
            Some(json!({"token_policies": ["default"], "token_ttl": "1h"})),
        )
        .await?;
        let role = call(
            target,
            Method::GET,
            "/v1/auth/approle/role/bench/role-id",
            None,
        )
        .await?;
        let role_id = role["data"]["role_id"]
            .as_str()
            .context("no role_id in the answer")?;
        let secret = call(
            target,
            Method::POST,
            "/v1/auth/approle/role/bench/secret-id",
            None,
        )
        .await?;
        let secret_id = secret["data"]["secret_id"]
            .as_str()
            .context("no secret_id in the answer")?;
        self.body = json!({"role_id": role_id, "secret_id": secret_id}).to_string();
        Ok(())
    }
    async fn request(&self, conn: &mut Conn, _i: u64) -> Result<u16> {
        Ok(conn
            .send(
                Method::POST,
                "/v1/auth/approle/login",
                Some(self.body.clone()),
            )
            .await?
            .status)
    }
    fn token(&self) -> Option<String> {
        // Logins carry no token, as real clients' do.
        Some(String::new())
    }
    fn concurrency(&self) -> Option<usize> {
        Some(LOGIN_CLIENTS)
    }
}

/// `POST auth/jwt/login`: service-account JWTs verified against a PEM key in the config (no JWKS fetch).
#[derive(Default)]
pub struct LoginJwt {
    bodies: Vec<String>,
}

#[async_trait]
impl Workload for LoginJwt {
    fn name(&self) -> &'static str {
        "login-jwt"
    }
    async fn setup(&mut self, target: &Target) -> Result<()> {
        let api = fake_api().await?;
        enable_auth(target, "jwt", "jwt").await?;
        call(
            target,
            Method::POST,
            "/v1/auth/jwt/config",
            Some(json!({
                "jwt_validation_pubkeys": [api.public_key_pem()],
                "bound_issuer": api.issuer(),
            })),
        )
        .await?;
        call(
            target,
            Method::POST,
            "/v1/auth/jwt/role/bench",
            Some(json!({
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": [JWT_AUDIENCE],
                "token_policies": ["default"],
                "token_ttl": "1h",
            })),
        )
        .await?;
        let tokens = mint_tokens(api, &MintOpts::projected().audience(JWT_AUDIENCE));
        self.bodies = login_bodies(&tokens);
        Ok(())
    }
    async fn request(&self, conn: &mut Conn, i: u64) -> Result<u16> {
        login(conn, "/v1/auth/jwt/login", &self.bodies, i).await
    }
    fn token(&self) -> Option<String> {
        Some(String::new())
    }
    fn concurrency(&self) -> Option<usize> {
        Some(LOGIN_CLIENTS)
    }
}

/// `POST auth/kubernetes/login`: each login is checked by a TokenReview call to the shared fake API server.
#[derive(Default)]
pub struct LoginKubernetes {
    bodies: Vec<String>,
}

#[async_trait]
impl Workload for LoginKubernetes {
    fn name(&self) -> &'static str {
        "login-kubernetes"
    }
    async fn setup(&mut self, target: &Target) -> Result<()> {
        let api = fake_api().await?;
        enable_auth(target, "kubernetes", "kubernetes").await?;
        // The reviewer account is granted `tokenreviews` by the fake server; the logins' own accounts need
        // no grant. Issuer validation is on (the tokens carry the API server's URL as `iss`).
        call(
            target,
            Method::POST,
            "/v1/auth/kubernetes/config",
            Some(json!({
                "kubernetes_host": api.url(),
                "kubernetes_ca_cert": api.ca_pem(),
                "token_reviewer_jwt": api.reviewer_jwt(),
                "disable_local_ca_jwt": true,
                "issuer": api.issuer(),
                "disable_iss_validation": false,
            })),
        )
        .await?;
        call(
            target,
            Method::POST,
            "/v1/auth/kubernetes/role/bench",
            Some(json!({
                "bound_service_account_names": ["*"],
                "bound_service_account_namespaces": [NAMESPACE],
                "token_policies": ["default"],
                "token_ttl": "1h",
            })),
        )
        .await?;
        // The API server's own audience (a pod's default token), which the review checks.
        let tokens = mint_tokens(api, &MintOpts::projected());
        self.bodies = login_bodies(&tokens);
        Ok(())
    }
    async fn request(&self, conn: &mut Conn, i: u64) -> Result<u16> {
        login(conn, "/v1/auth/kubernetes/login", &self.bodies, i).await
    }
    fn token(&self) -> Option<String> {
        Some(String::new())
    }
    fn concurrency(&self) -> Option<usize> {
        Some(LOGIN_CLIENTS)
    }
}
