//! HTTP load workloads and the closed-loop runner that drives them.
//!
//! Adding a workload: write a type implementing [`Workload`] (usually just `request`), and add
//! one line to [`load_workloads`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use async_trait::async_trait;

use crate::http::Conn;
use crate::measure::cpu_time;

/// The server a workload runs against, already initialised and unsealed.
#[derive(Clone)]
pub struct Target {
    /// "coffer" or "openbao".
    pub label: String,
    /// API address.
    pub addr: SocketAddr,
    /// Root token (sent on every load request).
    pub token: String,
    /// Control-plane client for setup calls.
    pub http: reqwest::Client,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The root token is a secret even on a throwaway server.
        f.debug_struct("Target")
            .field("label", &self.label)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// `http://ADDR{path}`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A control-plane request with the root token set, e.g. for `setup`.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("x-vault-token", &self.token)
    }
}

/// One kind of request, sent in a closed loop by many concurrent clients.
#[async_trait]
pub trait Workload: Send + Sync {
    /// Short name used on the command line and in the report.
    fn name(&self) -> &'static str;

    /// One-time preparation before the load starts (mount an engine, write fixtures, ...).
    async fn setup(&mut self, _target: &Target) -> Result<()> {
        Ok(())
    }

    /// Sends request number `i` (unique across all clients) on `conn` and returns its status.
    async fn request(&self, conn: &mut Conn, i: u64) -> Result<u16>;

    /// Whether `status` counts as a success (default: 2xx).
    fn is_success(&self, status: u16) -> bool {
        (200..300).contains(&status)
    }

    /// The token the load requests carry, when not the root token (set up in `setup`).
    fn token(&self) -> Option<String> {
        None
    }

    /// Concurrent clients, when not `--concurrency`.
    fn concurrency(&self) -> Option<usize> {
        None
    }

    /// A cap on requests below `--max-requests` (e.g. a workload that uses up its fixtures).
    fn max_requests(&self) -> Option<u64> {
        None
    }

    /// Clean-up after the run (e.g. drop what the load created outside the server).
    async fn teardown(&self, _target: &Target) -> Result<()> {
        Ok(())
    }
}

/// Every HTTP load workload, freshly constructed (one set per server under test).
#[must_use]
pub fn load_workloads() -> Vec<Box<dyn Workload>> {
    vec![
        Box::new(Health),
        // Each audited figure right after its plain one, on the same server state (the device is on only
        // during the audited run; the audited writes go to keys of their own).
        Box::new(crate::workloads::KvWrite::default()),
        Box::new(crate::workloads::Audited::new(
            "kv-write-audited",
            crate::workloads::KvWrite {
                dir: "bench-audited",
            },
        )),
        Box::new(crate::workloads::KvRead),
        Box::new(crate::workloads::Audited::new(
            "kv-read-audited",
            crate::workloads::KvRead,
        )),
        Box::new(crate::workloads::KvReadPolicy::default()),
        Box::new(crate::workloads::TokenCreate),
        Box::new(crate::workloads::TokenLookupSelf),
        Box::new(crate::login_workloads::LoginAppRole::default()),
        Box::new(crate::login_workloads::LoginJwt::default()),
        Box::new(crate::login_workloads::LoginKubernetes::default()),
    ]
}

/// `GET /v1/sys/health` (unauthenticated; 200 when initialised, unsealed and active).
#[derive(Debug, Clone, Copy, Default)]
pub struct Health;

#[async_trait]
impl Workload for Health {
    fn name(&self) -> &'static str {
        "health"
    }

    async fn request(&self, conn: &mut Conn, _i: u64) -> Result<u16> {
        Ok(conn.get("/v1/sys/health").await?.status)
    }
}

/// How a load run is shaped.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Concurrent clients, each with its own keep-alive connection, each one request at a time.
    pub concurrency: usize,
    /// Unmeasured run-in before the measured window.
    pub warmup: Duration,
    /// Measured window.
    pub duration: Duration,
    /// Hard cap on requests sent (warm-up included), a backstop to the time limit.
    pub max_requests: u64,
}

/// Figures from one load run.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Successful requests started inside the measured window.
    pub ok: u64,
    /// Failed requests (transport errors or unsuccessful status) inside the window.
    pub errors: u64,
    /// One failure message, if any, to show what went wrong.
    pub first_error: Option<String>,
    /// Length of the measured window (until the last request finished).
    pub window: Duration,
    /// Latency of successful measured requests in microseconds, sorted ascending.
    pub latencies_us: Vec<u32>,
    /// CPU used by this (client) process during the window; 100 = one core.
    pub client_cpu_pct: f64,
    /// CPU used by the server process during the window; 100 = one core.
    pub server_cpu_pct: f64,
    /// Server CPU time (user + system) during the window.
    pub server_cpu: Duration,
}

impl LoadResult {
    /// Successful requests per second.
    #[must_use]
    pub fn rate(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let ok = self.ok as f64;
        ok / self.window.as_secs_f64().max(f64::EPSILON)
    }

    /// Server CPU time per successful request in microseconds: the server's cost independent of
    /// how much CPU the client took from it on the same machine.
    #[must_use]
    pub fn server_cpu_us_per_request(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        let ok = self.ok as f64;
        (self.ok > 0).then(|| self.server_cpu.as_secs_f64() * 1e6 / ok)
    }
}

#[derive(Default)]
struct ClientTally {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    last_done: Option<Instant>,
}

/// Runs `workload` against `target` with `opts.concurrency` closed-loop clients; `server_pid`
/// is sampled for CPU use.
pub async fn run_load(
    workload: Arc<dyn Workload>,
    target: &Target,
    server_pid: u32,
    opts: &LoadOptions,
) -> Result<LoadResult> {
    let mut conns = Vec::with_capacity(opts.concurrency);
    for _ in 0..opts.concurrency {
        let token = workload.token().unwrap_or_else(|| target.token.clone());
        conns.push(Conn::connect(target.addr, &token).await?);
    }
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + opts.warmup;
    let end = measure_from + opts.duration;

    let mut tasks = Vec::with_capacity(conns.len());
    for mut conn in conns {
        let workload = Arc::clone(&workload);
        let counter = Arc::clone(&counter);
        let max = opts.max_requests;
        tasks.push(tokio::spawn(async move {
            let mut t = ClientTally::default();
            // Bounded by the deadline and by the shared request cap.
            while Instant::now() < end {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                if i >= max {
                    break;
                }
                let t0 = Instant::now();
                let res = workload.request(&mut conn, i).await;
                let done = Instant::now();
                let measured = t0 >= measure_from;
                let failure = match res {
                    Ok(s) if workload.is_success(s) => None,
                    Ok(s) => Some(format!("status {s}")),
                    Err(e) => {
                        // The connection may be broken; a failed reconnect surfaces on the next request.
                        if conn.reconnect().await.is_err() {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        Some(format!("{e:#}"))
                    }
                };
                if measured {
                    t.last_done = Some(done);
                    match failure {
                        None => t
                            .latencies_us
                            .push(u32::try_from((done - t0).as_micros()).unwrap_or(u32::MAX)),
                        Some(msg) => {
                            t.errors += 1;
                            t.first_error.get_or_insert(msg);
                        }
                    }
                }
            }
            t
        }));
    }

    tokio::time::sleep_until(measure_from.into()).await;
    let (client0, server0, wall0) = (cpu_time(None)?, cpu_time(Some(server_pid))?, Instant::now());
    tokio::time::sleep_until(end.into()).await;
    let (client1, server1, wall) = (
        cpu_time(None)?,
        cpu_time(Some(server_pid))?,
        wall0.elapsed(),
    );

    let mut result = LoadResult {
        ok: 0,
        errors: 0,
        first_error: None,
        window: Duration::ZERO,
        latencies_us: Vec::new(),
        client_cpu_pct: crate::measure::cpu_percent(client0, client1, wall),
        server_cpu_pct: crate::measure::cpu_percent(server0, server1, wall),
        server_cpu: server1.saturating_sub(server0),
    };
    // The window ends with the last measured request: at the deadline normally, earlier when the request cap
    // (e.g. `revoke-one` running out of leases) stopped every client first. Starting from `end` instead would
    // count the idle rest of the duration and understate the rate.
    let mut last_done = measure_from;
    for task in tasks {
        let t = task.await.context("load client task failed")?;
        result.errors += t.errors;
        if result.first_error.is_none() {
            result.first_error = t.first_error;
        }
        result.latencies_us.extend_from_slice(&t.latencies_us);
        last_done = last_done.max(t.last_done.unwrap_or(measure_from));
    }
    result.latencies_us.sort_unstable();
    result.ok = result.latencies_us.len() as u64;
    result.window = last_done.saturating_duration_since(measure_from);
    Ok(result)
}
