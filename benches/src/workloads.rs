//! The request pipeline's workloads (KV v2, tokens, ACL cost, audit cost), the same HTTP calls against both
//! servers.

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use hyper::Method;
use serde_json::json;

use crate::http::Conn;
use crate::workload::{Target, Workload};

/// Keys the read workloads spread over.
const KEYS: u64 = 100;

/// Mounts KV v2 at `secret/` unless it is there (OpenBao's durable server has no `secret/`).
async fn ensure_kv2(target: &Target) -> Result<()> {
    let r = target
        .request(Method::POST, "/v1/sys/mounts/secret")
        .json(&json!({"type": "kv", "options": {"version": "2"}}))
        .send()
        .await?;
    // 400/409 when it already exists (dev mode).
    if !(r.status().is_success() || r.status().as_u16() == 400 || r.status().as_u16() == 409) {
        bail!("mounting secret/ failed: {}", r.status());
    }
    Ok(())
}

async fn write_fixtures(target: &Target) -> Result<()> {
    ensure_kv2(target).await?;
    for k in 0..KEYS {
        let r = target
            .request(Method::POST, &format!("/v1/secret/data/bench/{k}"))
            .json(&json!({"data": {"user": "app", "password": "0123456789abcdef"}}))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("writing fixture {k}: {}", r.status());
        }
    }
    Ok(())
}

/// `POST secret/data/<dir>/<n>`: durable KV v2 writes (a new version each).
pub struct KvWrite {
    /// Directory of the 1000 keys written: each figure writes its own, so a later figure does not find keys
    /// grown by an earlier one's versions.
    pub dir: &'static str,
}

impl Default for KvWrite {
    fn default() -> Self {
        Self { dir: "bench" }
    }
}

#[async_trait]
impl Workload for KvWrite {
    fn name(&self) -> &'static str {
        "kv-write"
    }
    async fn setup(&mut self, target: &Target) -> Result<()> {
        ensure_kv2(target).await
    }
    async fn request(&self, conn: &mut Conn, i: u64) -> Result<u16> {
        let body = json!({"data": {"user": "app", "password": format!("secret-{i}")}}).to_string();
        Ok(conn
            .send(
                Method::POST,
                &format!("/v1/secret/data/{}/{}", self.dir, i % 1000),
                Some(body),
            )
            .await?
            .status)
    }
}

/// `GET secret/data/bench/<n>` with the root token.
pub struct KvRead;

#[async_trait]
impl Workload for KvRead {
    fn name(&self) -> &'static str {
        "kv-read"
    }
    async fn setup(&mut self, target: &Target) -> Result<()> {
        write_fixtures(target).await
    }
    async fn request(&self, conn: &mut Conn, i: u64) -> Result<u16> {
        Ok(conn
            .get(&format!("/v1/secret/data/bench/{}", i % KEYS))
            .await?
            .status)
    }
}

/// `GET secret/data/bench/<n>` with a token whose policy has 50 rules (the ACL's cost next to `kv-read`).
#[derive(Default)]
pub struct KvReadPolicy {
    token: Option<String>,
}

#[async_trait]
impl Workload for KvReadPolicy {
    fn name(&self) -> &'static str {
        "kv-read-50-rules"
    }
    async fn setup(&mut self, target: &Target) -> Result<()> {
        write_fixtures(target).await?;
        let mut hcl = String::new();
        for n in 0..49 {
            hcl.push_str(&format!(
                "path \"secret/data/other{n}/*\" {{ capabilities = [\"read\", \"list\"] }}\n"
            ));
        }
        hcl.push_str("path \"secret/data/bench/*\" { capabilities = [\"read\"] }\n");
        let r = target
            .request(Method::PUT, "/v1/sys/policies/acl/bench50")
            .json(&json!({"policy": hcl}))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("writing policy: {}", r.status());
        }
        let r = target
            .request(Method::POST, "/v1/auth/token/create")
            .json(&json!({"policies": ["bench50"], "ttl": "2h"}))
            .send()
            .await?;
        let body: serde_json::Value = r.json().await.context("token create body")?;
        let token = body["auth"]["client_token"]
            .as_str()
            .context("no client_token")?;
        self.token = Some(token.to_owned());
        Ok(())
    }
    async fn request(&self, conn: &mut Conn, i: u64) -> Result<u16> {
        Ok(conn
            .get(&format!("/v1/secret/data/bench/{}", i % KEYS))
            .await?
            .status)
    }
    fn token(&self) -> Option<String> {
        self.token.clone()
    }
}

/// `POST auth/token/create`: durable token creation.
pub struct TokenCreate;

#[async_trait]
impl Workload for TokenCreate {
    fn name(&self) -> &'static str {
        "token-create"
    }
    async fn request(&self, conn: &mut Conn, _i: u64) -> Result<u16> {
        let body = json!({"policies": ["default"], "ttl": "1h"}).to_string();
        Ok(conn
            .send(Method::POST, "/v1/auth/token/create", Some(body))
            .await?
            .status)
    }
}

/// `GET auth/token/lookup-self`.
pub struct TokenLookupSelf;

#[async_trait]
impl Workload for TokenLookupSelf {
    fn name(&self) -> &'static str {
        "token-lookup-self"
    }
    async fn request(&self, conn: &mut Conn, _i: u64) -> Result<u16> {
        Ok(conn.get("/v1/auth/token/lookup-self").await?.status)
    }
}

/// Another workload's requests with a file audit device (`sys/audit/bench`, logging to a temp dir) enabled
/// after its setup and disabled in teardown: the audit device's cost next to the plain figure.
pub struct Audited<W> {
    name: &'static str,
    inner: W,
    dir: Option<tempfile::TempDir>,
}

impl<W: Workload> Audited<W> {
    /// `inner`'s requests under the figure name `name`.
    pub fn new(name: &'static str, inner: W) -> Self {
        Self {
            name,
            inner,
            dir: None,
        }
    }
}

#[async_trait]
impl<W: Workload> Workload for Audited<W> {
    fn name(&self) -> &'static str {
        self.name
    }
    async fn setup(&mut self, target: &Target) -> Result<()> {
        self.inner.setup(target).await?;
        // Removed when the workload is dropped after its run.
        let dir = tempfile::Builder::new()
            .prefix(&format!("coffer-bench-audit-{}-", target.label))
            .tempdir()
            .context("create the audit log dir")?;
        let path = dir.path().join("audit.log");
        self.dir = Some(dir);
        let r = target
            .request(Method::PUT, "/v1/sys/audit/bench")
            .json(&json!({"type": "file", "options": {"file_path": path.display().to_string()}}))
            .send()
            .await?;
        crate::db::checked("enabling the file audit device", r).await?;
        Ok(())
    }
    async fn request(&self, conn: &mut Conn, i: u64) -> Result<u16> {
        self.inner.request(conn, i).await
    }
    fn is_success(&self, status: u16) -> bool {
        self.inner.is_success(status)
    }
    fn token(&self) -> Option<String> {
        self.inner.token()
    }
    fn concurrency(&self) -> Option<usize> {
        self.inner.concurrency()
    }
    fn max_requests(&self) -> Option<u64> {
        self.inner.max_requests()
    }
    async fn teardown(&self, target: &Target) -> Result<()> {
        let r = target
            .request(Method::DELETE, "/v1/sys/audit/bench")
            .send()
            .await?;
        crate::db::checked("disabling the file audit device", r).await?;
        self.inner.teardown(target).await
    }
}
