//! The `database` figures: credential issuing (`pg-creds`, `mysql-creds`) and single revokes
//! (`revoke-one`) as load workloads, and the one-shot `revoke-prefix` and `lease-restore`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use hyper::Method;
use serde_json::json;

use crate::db::{self, Db, DbOptions};
use crate::http::Conn;
use crate::measure::{self, rss_kib};
use crate::server::{Mode, POLL_INTERVAL, Server, ServerBin};
use crate::workload::{Target, Workload};

/// Default and maximum TTL of the credential roles.
const CREDS_TTL: &str = "1h";
/// How long `revoke-prefix` may take before it counts as failed.
const REVOKE_PREFIX_TIMEOUT: Duration = Duration::from_secs(1800);
/// How long `lease-restore` waits for the server to serve again, and then to go idle.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(600);

/// The database load workloads, freshly constructed (one set per server under test).
#[must_use]
pub fn load_workloads(opts: &DbOptions) -> Vec<Box<dyn Workload>> {
    vec![
        Box::new(Creds::new(Db::Postgres, opts)),
        Box::new(Creds::new(Db::Mysql, opts)),
        Box::new(RevokeOne::new(opts)),
    ]
}

/// Database figures that are not load workloads, in report order.
pub const ONE_SHOT_FIGURES: &[&str] = &[
    "pgbench-baseline",
    "mysql-baseline",
    "revoke-prefix",
    "lease-restore",
];

/// `GET database/creds/<role>`: a new database user per request.
pub struct Creds {
    db: Db,
    concurrency: usize,
    role: String,
    path: String,
}

impl Creds {
    fn new(db: Db, opts: &DbOptions) -> Self {
        Self {
            db,
            concurrency: opts.concurrency,
            role: String::new(),
            path: String::new(),
        }
    }
}

#[async_trait]
impl Workload for Creds {
    fn name(&self) -> &'static str {
        match self.db {
            Db::Postgres => "pg-creds",
            Db::Mysql => "mysql-creds",
        }
    }
    async fn setup(&mut self, target: &Target) -> Result<()> {
        self.role = db::role_name(target, self.db.connection());
        self.path = format!("/v1/database/creds/{}", self.role);
        db::drop_users(self.db, &self.role).await?;
        db::configure(target, self.db, self.concurrency).await?;
        let creation = match self.db {
            Db::Postgres => db::PG_CREATE,
            Db::Mysql => db::MYSQL_CREATE,
        };
        db::write_role(target, &self.role, self.db, creation, None, CREDS_TTL).await
    }
    async fn request(&self, conn: &mut Conn, _i: u64) -> Result<u16> {
        Ok(conn.get(&self.path).await?.status)
    }
    fn concurrency(&self) -> Option<usize> {
        Some(self.concurrency)
    }
    async fn teardown(&self, _target: &Target) -> Result<()> {
        db::drop_users(self.db, &self.role).await.map(drop)
    }
}

/// `PUT sys/leases/revoke` with `sync`, one PostgreSQL credential issued in `setup` per request.
pub struct RevokeOne {
    concurrency: usize,
    count: usize,
    role: String,
    leases: Vec<String>,
}

impl RevokeOne {
    fn new(opts: &DbOptions) -> Self {
        Self {
            concurrency: opts.concurrency,
            count: opts.revoke_leases,
            role: String::new(),
            leases: Vec::new(),
        }
    }
}

#[async_trait]
impl Workload for RevokeOne {
    fn name(&self) -> &'static str {
        "revoke-one"
    }
    async fn setup(&mut self, target: &Target) -> Result<()> {
        self.role = db::role_name(target, "rv");
        db::drop_users(Db::Postgres, &self.role).await?;
        db::configure(target, Db::Postgres, self.concurrency).await?;
        db::write_role(
            target,
            &self.role,
            Db::Postgres,
            db::PG_CREATE,
            None,
            CREDS_TTL,
        )
        .await?;
        self.leases = db::issue_creds(target, &self.role, self.count, self.concurrency).await?;
        Ok(())
    }
    async fn request(&self, conn: &mut Conn, i: u64) -> Result<u16> {
        let lease = usize::try_from(i)
            .ok()
            .and_then(|i| self.leases.get(i))
            .context("out of leases")?;
        let body = json!({"lease_id": lease, "sync": true}).to_string();
        Ok(conn
            .send(Method::PUT, "/v1/sys/leases/revoke", Some(body))
            .await?
            .status)
    }
    fn concurrency(&self) -> Option<usize> {
        Some(self.concurrency)
    }
    fn max_requests(&self) -> Option<u64> {
        u64::try_from(self.leases.len()).ok()
    }
    async fn teardown(&self, _target: &Target) -> Result<()> {
        db::drop_users(Db::Postgres, &self.role).await.map(drop)
    }
}

/// `revoke-prefix`: issues `opts.revoke_leases` PostgreSQL credentials, then times one
/// `PUT sys/leases/revoke-prefix/database/creds/<role>` with `sync` until the last of the roles is
/// gone from `pg_roles`. Returns the seconds and a note.
pub async fn revoke_prefix(target: &Target, opts: &DbOptions) -> Result<(f64, String)> {
    let role = db::role_name(target, "rp");
    let pattern = db::user_pattern(&role);
    db::drop_users(Db::Postgres, &role).await?;
    let res = async {
        db::configure(target, Db::Postgres, opts.concurrency).await?;
        db::write_role(target, &role, Db::Postgres, db::PG_CREATE, None, CREDS_TTL).await?;
        let issued = db::issue_creds(target, &role, opts.revoke_leases, opts.concurrency).await?;
        let pg = db::pg_connect().await?;
        let before = db::pg_count(&pg, &pattern).await?;
        if usize::try_from(before).ok() != Some(issued.len()) {
            bail!(
                "{} credentials issued but {before} roles match {pattern}",
                issued.len()
            );
        }
        let t0 = Instant::now();
        let r = target
            .request(
                Method::PUT,
                &format!("/v1/sys/leases/revoke-prefix/database/creds/{role}"),
            )
            .json(&json!({"sync": true}))
            .timeout(REVOKE_PREFIX_TIMEOUT)
            .send()
            .await
            .context("revoke-prefix call")?;
        let call = t0.elapsed();
        if !r.status().is_success() {
            let status = r.status();
            bail!("revoke-prefix: {status}: {}", r.text().await.unwrap_or_default());
        }
        // Polled until every role is gone: a server that answers before the database is done
        // is still charged for the rest.
        let mut left = db::pg_count(&pg, &pattern).await?;
        while left > 0 {
            if t0.elapsed() > REVOKE_PREFIX_TIMEOUT {
                bail!("{left} roles still there after {REVOKE_PREFIX_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            left = db::pg_count(&pg, &pattern).await?;
        }
        let gone = t0.elapsed();
        Ok((
            gone.as_secs_f64(),
            format!(
                "revoke-prefix: {} leases; the call returned after {:.2} s, the last role was gone after {:.2} s",
                issued.len(),
                call.as_secs_f64(),
                gone.as_secs_f64()
            ),
        ))
    }
    .await;
    // Leftovers of a failed run; nothing after a successful one.
    db::drop_users(Db::Postgres, &role).await?;
    res
}

/// Figures of one `lease-restore` run.
#[derive(Debug, Clone)]
pub struct LeaseRestore {
    /// From the unseal call returning until `GET database/creds` answers 200 again.
    pub serving: Duration,
    /// RSS of the server after restore, once idle, minus its RSS before any lease, in MiB.
    pub rss_growth_mib: f64,
    /// Details for the notes.
    pub note: String,
}

/// `lease-restore`: on a fresh durable server, creates `opts.leases` live leases (a PostgreSQL role
/// whose statements are `SELECT 1`, TTL 24h), kills and restarts the server, unseals it, and measures
/// unseal-to-serving and the RSS once the server is idle again against its RSS before the leases.
pub async fn lease_restore(
    http: &reqwest::Client,
    bin: &ServerBin,
    data_dir: &Path,
    opts: &DbOptions,
    start_timeout: Duration,
) -> Result<LeaseRestore> {
    let mut srv = Server::spawn(bin, Mode::Durable, data_dir)?;
    let res = restore_on(&mut srv, http, opts, start_timeout).await;
    let res = res.map_err(|e| e.context(srv.log_tail(20)));
    srv.stop().await?;
    res
}

async fn restore_on(
    srv: &mut Server,
    http: &reqwest::Client,
    opts: &DbOptions,
    start_timeout: Duration,
) -> Result<LeaseRestore> {
    srv.wait_health(http, |_| true, start_timeout).await?;
    let (key, token) = srv.init(http).await?;
    srv.unseal(http, &key).await?;
    srv.wait_health(http, |s| s == 200, start_timeout).await?;
    let target = Target {
        label: srv.label().to_owned(),
        addr: srv.addr(),
        token,
        http: http.clone(),
    };
    let role = db::role_name(&target, "lr");
    db::configure(&target, Db::Postgres, opts.concurrency).await?;
    db::write_role(
        &target,
        &role,
        Db::Postgres,
        "SELECT 1",
        Some("SELECT 1"),
        "24h",
    )
    .await?;
    let mut conn = Conn::connect(target.addr, &target.token).await?;
    // One credential first, so the connection and plugin are part of the baseline.
    let probe = db::issue_one(&mut conn, &role).await?;
    let rss_fresh = idle_rss(srv).await?;

    let t = Instant::now();
    let ids = db::issue_creds(&target, &role, opts.leases, opts.concurrency).await?;
    let create = t.elapsed();
    let rss_leases = idle_rss(srv).await?;

    srv.restart().await?;
    srv.wait_health(http, |_| true, start_timeout).await?;
    srv.unseal(http, &key).await?;
    let unsealed = Instant::now();
    let mut conn = Conn::connect(target.addr, &target.token).await?;
    let serving = loop {
        match db::issue_one(&mut conn, &role).await {
            Ok(_) => break unsealed.elapsed(),
            Err(e) if unsealed.elapsed() > RESTORE_TIMEOUT => {
                bail!("not serving {RESTORE_TIMEOUT:?} after unseal: {e:#}")
            }
            // The answer may have been a closed connection; a fresh one costs little.
            Err(_) => {
                let _ = conn.reconnect().await;
            }
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    };
    let last = ids.last().unwrap_or(&probe);
    let lookup = target
        .request(Method::PUT, "/v1/sys/leases/lookup")
        .json(&json!({"lease_id": last}))
        .send()
        .await?
        .status();
    let rss_restored = idle_rss(srv).await?;
    let idle_after = unsealed.elapsed();
    #[allow(clippy::cast_precision_loss)]
    let mib = |kib: u64| kib as f64 / 1024.0;
    #[allow(clippy::cast_precision_loss)]
    let rate = ids.len() as f64 / create.as_secs_f64().max(f64::EPSILON);
    Ok(LeaseRestore {
        serving,
        rss_growth_mib: mib(rss_restored) - mib(rss_fresh),
        note: format!(
            "lease-restore: {} leases created in {:.1} s ({rate:.0}/s); RSS fresh {:.1} MiB, with leases {:.1} MiB, \
             after restart and restore {:.1} MiB; serving {:.0} ms after unseal, idle after {:.1} s; \
             lookup of the last lease after restart: {lookup}",
            ids.len(),
            create.as_secs_f64(),
            mib(rss_fresh),
            mib(rss_leases),
            mib(rss_restored),
            serving.as_secs_f64() * 1000.0,
            idle_after.as_secs_f64()
        ),
    })
}

/// RSS in KiB once the server has gone idle (background work such as a lease restore done).
async fn idle_rss(srv: &Server) -> Result<u64> {
    measure::wait_cpu_idle(srv.pid(), RESTORE_TIMEOUT).await?;
    rss_kib(srv.pid())
}
