//! Start, initialise, unseal and stop a server process (Coffer or OpenBao) on loopback.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// How often readiness is polled while waiting for a server.
pub const POLL_INTERVAL: Duration = Duration::from_millis(1);

/// A server binary under test.
#[derive(Debug, Clone)]
pub struct ServerBin {
    /// Label used in reports ("coffer", "openbao").
    pub label: String,
    /// Program to run (a path, or a name looked up on PATH).
    pub program: PathBuf,
}

/// How the server is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `server -config FILE`: raft storage in a fresh temp dir, needs init + unseal.
    Durable,
    /// `server -dev`: in-memory, initialised and unsealed by the server itself, root token "root".
    Dev,
}

/// The root token of a `-dev` server started by [`Server::spawn`].
pub const DEV_ROOT_TOKEN: &str = "root";

/// A running server process with its own temp dir; killed when stopped or dropped.
pub struct Server {
    label: String,
    addr: SocketAddr,
    // Kept to start the same server again on the same data ([`Server::restart`]).
    command: Vec<std::ffi::OsString>,
    child: Child,
    pid: u32,
    log: PathBuf,
    spawned_at: Instant,
    // Its Drop removes data, config and log.
    dir: TempDir,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("label", &self.label)
            .field("addr", &self.addr)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

/// Writes the Vault-shaped HCL config used for durable mode (same text for both servers). API audit creation
/// is allowed so the `*-audited` figures can enable their file device with `PUT sys/audit/...`.
#[must_use]
pub fn durable_config(data_dir: &Path, addr: SocketAddr, cluster: SocketAddr) -> String {
    format!(
        r#"storage "raft" {{
  path    = "{data}"
  node_id = "n1"
}}
listener "tcp" {{
  address     = "{addr}"
  tls_disable = "true"
}}
api_addr      = "http://{addr}"
cluster_addr  = "http://{cluster}"
disable_mlock = true
unsafe_allow_api_audit_creation = true
"#,
        data = data_dir.display()
    )
}

/// A loopback address with a free port whose successor is free too (dev mode puts the cluster
/// listener on port + 1). The ports are released before returning, so this is best effort.
pub fn free_addr_pair() -> Result<(SocketAddr, SocketAddr)> {
    for _ in 0..50 {
        let a = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("bind a free port")?;
        let port = a.local_addr().context("local addr")?.port();
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        if let Ok(b) = TcpListener::bind((Ipv4Addr::LOCALHOST, next)) {
            let pair = (
                a.local_addr().context("local addr")?,
                b.local_addr().context("local addr")?,
            );
            return Ok(pair);
        }
    }
    bail!("no pair of adjacent free loopback ports found")
}

/// Resolves `program` like a shell would: a path (made absolute) if it contains '/', else the
/// first file of that name on PATH.
#[must_use]
pub fn resolve_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        // Absolute, because the server runs with its temp dir as the working directory.
        return program
            .is_file()
            .then(|| std::path::absolute(program).ok())
            .flatten();
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[derive(Deserialize)]
struct InitResponse {
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    keys_base64: Vec<String>,
    root_token: String,
}

#[derive(Deserialize)]
struct UnsealResponse {
    sealed: bool,
}

impl Server {
    /// Spawns `bin` in `mode` with a fresh temp dir under `base` and free loopback ports.
    /// Returns at once; use [`Server::wait_health`] to wait for it.
    pub fn spawn(bin: &ServerBin, mode: Mode, base: &Path) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("coffer-bench-{}-", bin.label))
            .tempdir_in(base)
            .with_context(|| format!("create temp dir in {}", base.display()))?;
        let (addr, cluster) = free_addr_pair()?;
        let mut command = vec![bin.program.clone().into_os_string(), "server".into()];
        match mode {
            Mode::Durable => {
                let data = dir.path().join("data");
                std::fs::create_dir(&data).context("create data dir")?;
                let config = dir.path().join("config.hcl");
                std::fs::write(&config, durable_config(&data, addr, cluster))
                    .context("write config")?;
                command.extend(["-config".into(), config.into_os_string()]);
            }
            Mode::Dev => command.extend([
                "-dev".into(),
                format!("-dev-root-token-id={DEV_ROOT_TOKEN}").into(),
                format!("-dev-listen-address={addr}").into(),
            ]),
        }
        let log = dir.path().join("server.log");
        let spawned_at = Instant::now();
        let child = launch(&command, dir.path(), &log)?;
        let pid = child.id().context("child has no pid")?;
        Ok(Self {
            label: bin.label.clone(),
            addr,
            command,
            child,
            pid,
            log,
            spawned_at,
            dir,
        })
    }

    /// Kills the process (SIGKILL, like a crash) and starts the same command on the same data
    /// dir and ports. Returns at once, as [`Server::spawn`] does.
    pub async fn restart(&mut self) -> Result<()> {
        self.kill().await?;
        self.spawned_at = Instant::now();
        self.child = launch(&self.command, self.dir.path(), &self.log)?;
        self.pid = self.child.id().context("child has no pid")?;
        Ok(())
    }

    /// The label given at spawn ("coffer", "openbao").
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The API address (`127.0.0.1:PORT`).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Base URL, `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The executable the process runs now (after any wrapper exec'd the real binary).
    #[must_use]
    pub fn exe(&self) -> Option<PathBuf> {
        std::fs::read_link(format!("/proc/{}/exe", self.pid)).ok()
    }

    /// Polls `GET /v1/sys/health` every [`POLL_INTERVAL`] until its status satisfies `accept`;
    /// returns the time from spawn to that answer.
    pub async fn wait_health(
        &mut self,
        http: &reqwest::Client,
        accept: impl Fn(u16) -> bool,
        timeout: Duration,
    ) -> Result<Duration> {
        let url = format!("{}/v1/sys/health", self.url());
        let deadline = Instant::now() + timeout;
        let mut last = String::from("no answer");
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().context("poll child")? {
                bail!(
                    "{} exited with {status} before becoming ready\n{}",
                    self.label,
                    self.log_tail(20)
                );
            }
            match http.get(&url).send().await {
                Ok(r) => {
                    let s = r.status().as_u16();
                    if accept(s) {
                        return Ok(self.spawned_at.elapsed());
                    }
                    last = format!("status {s}");
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        bail!(
            "{} not ready after {timeout:?} (last: {last})\n{}",
            self.label,
            self.log_tail(20)
        )
    }

    /// Initialises with 1 share / threshold 1, unseals, waits until health says active (200),
    /// and returns the root token.
    pub async fn init_unseal(&mut self, http: &reqwest::Client) -> Result<String> {
        let (key, token) = self.init(http).await?;
        self.unseal(http, &key).await?;
        // Raft needs to elect itself leader before the node is active.
        self.wait_health(http, |s| s == 200, Duration::from_secs(30))
            .await?;
        Ok(token)
    }

    /// `PUT sys/init` with 1 share / threshold 1; returns the unseal key and the root token.
    pub async fn init(&self, http: &reqwest::Client) -> Result<(String, String)> {
        let resp = http
            .put(format!("{}/v1/sys/init", self.url()))
            .json(&serde_json::json!({"secret_shares": 1, "secret_threshold": 1}))
            .send()
            .await
            .context("PUT /v1/sys/init")?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            bail!("{}: sys/init returned {status}: {body}", self.label);
        }
        let init: InitResponse = resp.json().await.context("decode sys/init response")?;
        let key = init
            .keys_base64
            .first()
            .or_else(|| init.keys.first())
            .context("sys/init returned no key")?
            .clone();
        Ok((key, init.root_token))
    }

    /// `PUT sys/unseal` with the only key; returns once the answer says unsealed (the node may
    /// not be active yet).
    pub async fn unseal(&self, http: &reqwest::Client, key: &str) -> Result<()> {
        let resp = http
            .put(format!("{}/v1/sys/unseal", self.url()))
            .json(&serde_json::json!({ "key": key }))
            .send()
            .await
            .context("PUT /v1/sys/unseal")?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            bail!("{}: sys/unseal returned {status}: {body}", self.label);
        }
        let unseal: UnsealResponse = resp.json().await.context("decode sys/unseal response")?;
        if unseal.sealed {
            bail!("{}: still sealed after the only unseal key", self.label);
        }
        Ok(())
    }

    /// The last `n` lines of the server's combined stdout/stderr, indented, for error messages
    /// (the log file itself is deleted with the temp dir).
    #[must_use]
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        if lines.is_empty() {
            return "  (the server printed nothing)".to_owned();
        }
        let start = lines.len().saturating_sub(n);
        let mut out = format!("  server output (last {} lines):", lines.len() - start);
        for l in lines.iter().skip(start) {
            let _ = write!(out, "\n    {l}");
        }
        out
    }

    /// Kills the process (SIGKILL; its data is thrown away) and waits for it.
    pub async fn stop(mut self) -> Result<()> {
        self.kill().await
    }

    async fn kill(&mut self) -> Result<()> {
        self.child.start_kill().context("kill server")?;
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .context("server did not exit after SIGKILL")?
            .context("wait for server")?;
        Ok(())
    }
}

/// Spawns `command` (program + args) in `dir` with `HOME` there and output appended to `log`.
fn launch(command: &[std::ffi::OsString], dir: &Path, log: &Path) -> Result<Child> {
    let (program, args) = command.split_first().context("empty command")?;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .context("open log file")?;
    let err = out.try_clone().context("clone log file")?;
    Command::new(program)
        .args(args)
        .current_dir(dir)
        // Dev mode writes a token helper file to $HOME; keep it inside the temp dir.
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawn {}", Path::new(program).display()))
}

/// A reqwest client for control-plane calls (init, unseal, readiness): loopback only, no proxy.
pub fn control_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .context("build HTTP client (is a rustls crypto provider installed?)")
}

/// Installs rustls' ring crypto provider once (reqwest is built without one).
pub fn install_crypto_provider() {
    // Err means one is already installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
