//! Plumbing of the `database` figures: the PostgreSQL and MariaDB under test, the mount, connection and
//! role calls (the same HTTP calls against both servers), issuing credentials in bulk, dropping what
//! the servers created, and the raw `pgbench` baseline.
//!
//! Each server names its roles `cf<kind>` / `ob<kind>`, so the users it creates (default username
//! templates: `v-<display name>-<role>-<random>-...`) match only its own [`user_pattern`], and one
//! server's clean-up never touches the other's users.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hyper::Method;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::http::Conn;
use crate::measure::percentile;
use crate::workload::Target;

/// The harness's own connection to PostgreSQL (trust auth on this machine).
pub const PG_URL: &str = "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable";
/// PostgreSQL as the servers are given it (`{{username}}`/`{{password}}` filled from the config).
const PG_CONNECTION_URL: &str =
    "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable";
/// MariaDB in the Go DSN form OpenBao documents.
const MYSQL_DSN: &str = "{{username}}:{{password}}@tcp(127.0.0.1:3306)/";
/// The same MariaDB as a URL. Coffer's engine sends an empty DSN password as a real one (MariaDB then
/// denies root, "using password: YES"), while an empty URL password means none; OpenBao takes only
/// the DSN. Until both take one form, Coffer gets this one: same server, same credentials.
const MYSQL_URL: &str = "mysql://{{username}}:{{password}}@127.0.0.1:3306/";
/// MariaDB for the `mysql` client used to clean up: host, port, user (empty root password).
const MYSQL_CLIENT_ARGS: &[&str] = &["-h", "127.0.0.1", "-P", "3306", "-u", "root"];

/// `pg-creds` creation statements.
pub const PG_CREATE: &str = r#"CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";"#;
/// `mysql-creds` creation statements.
pub const MYSQL_CREATE: &str = "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON *.* TO '{{name}}'@'%';";

/// Roles `pgbench` creates: `cbench-pgb-<client>-<random>`.
const PGBENCH_PATTERN: &str = "cbench-pgb-%";
/// One `pgbench` transaction: what a server runs for one `pg-creds` credential.
const PGBENCH_SCRIPT: &str = r#"\set r random(1, 9000000000000000000)
BEGIN;
CREATE ROLE "cbench-pgb-:client_id-:r" WITH LOGIN PASSWORD 'A1a-pgbench-baseline-pw' VALID UNTIL '2099-01-01 00:00:00+00';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO "cbench-pgb-:client_id-:r";
COMMIT;
"#;

/// Options of the database figures.
#[derive(Debug, Clone, Copy)]
pub struct DbOptions {
    /// Concurrent clients of the credential and revoke loads (and of `pgbench`); also each
    /// connection's `max_open_connections`, so the database sees the same concurrency as `pgbench`'s.
    pub concurrency: usize,
    /// Credentials issued before `revoke-one` and `revoke-prefix`.
    pub revoke_leases: usize,
    /// Live leases created for `lease-restore`.
    pub leases: usize,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            revoke_leases: 3000,
            leases: 100_000,
        }
    }
}

/// A database both servers have a plugin for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// `postgresql-database-plugin`, connection `pg`.
    Postgres,
    /// `mysql-database-plugin` against MariaDB, connection `my`.
    Mysql,
}

impl Db {
    /// The connection name under `database/config/`.
    #[must_use]
    pub fn connection(self) -> &'static str {
        match self {
            Self::Postgres => "pg",
            Self::Mysql => "my",
        }
    }
}

/// Role `kind` of `target`'s side: `cf<kind>` or `ob<kind>`, at most 8 characters so that the default
/// username templates (which truncate the role name to 8 or 10) keep it whole.
#[must_use]
pub fn role_name(target: &Target, kind: &str) -> String {
    let side = if target.label == "coffer" { "cf" } else { "ob" };
    format!("{side}{kind}")
}

/// SQL `LIKE` pattern of the users the servers create for `role`.
#[must_use]
pub fn user_pattern(role: &str) -> String {
    format!("v-%-{role}-%")
}

/// `resp` if its status is 2xx, else an error with `what`, the status and the body.
pub(crate) async fn checked(what: &str, resp: reqwest::Response) -> Result<reqwest::Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
    bail!("{what}: {status}: {}", body.trim())
}

/// Mounts `database/` unless it is there, and writes the connection for `db`.
pub async fn configure(target: &Target, db: Db, max_open: usize) -> Result<()> {
    let r = target
        .request(Method::POST, "/v1/sys/mounts/database")
        .json(&json!({"type": "database"}))
        .send()
        .await?;
    // 400 when it is already mounted (an earlier figure on the same server).
    if r.status().as_u16() != 400 {
        checked("mounting database/", r).await?;
    }
    let (plugin, url, username, password) = match db {
        Db::Postgres => (
            "postgresql-database-plugin",
            PG_CONNECTION_URL,
            "postgres",
            "postgres",
        ),
        Db::Mysql if target.label == "coffer" => ("mysql-database-plugin", MYSQL_URL, "root", ""),
        Db::Mysql => ("mysql-database-plugin", MYSQL_DSN, "root", ""),
    };
    let r = target
        .request(
            Method::POST,
            &format!("/v1/database/config/{}", db.connection()),
        )
        .json(&json!({
            "plugin_name": plugin,
            "connection_url": url,
            "username": username,
            "password": password,
            "allowed_roles": "*",
            "max_open_connections": max_open,
        }))
        .send()
        .await?;
    checked(&format!("writing database/config/{}", db.connection()), r).await?;
    Ok(())
}

/// Writes role `role` on `db`'s connection; revocation statements default to the plugin's own.
pub async fn write_role(
    target: &Target,
    role: &str,
    db: Db,
    creation: &str,
    revocation: Option<&str>,
    ttl: &str,
) -> Result<()> {
    let mut body = json!({
        "db_name": db.connection(),
        "creation_statements": creation,
        "default_ttl": ttl,
        "max_ttl": ttl,
    });
    if let (Some(rev), Some(obj)) = (revocation, body.as_object_mut()) {
        obj.insert("revocation_statements".into(), json!(rev));
    }
    let r = target
        .request(Method::POST, &format!("/v1/database/roles/{role}"))
        .json(&body)
        .send()
        .await?;
    checked(&format!("writing database/roles/{role}"), r).await?;
    Ok(())
}

/// `GET database/creds/<role>` on `conn`; the lease id of a 200 answer, else the status as an error.
pub async fn issue_one(conn: &mut Conn, role: &str) -> Result<String> {
    let r = conn.get(&format!("/v1/database/creds/{role}")).await?;
    if r.status != 200 {
        bail!(
            "database/creds/{role}: status {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body).trim()
        );
    }
    let v: Value = serde_json::from_slice(&r.body).context("creds body")?;
    v.get("lease_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .context("creds answer without lease_id")
}

/// Issues `n` credentials for `role` from `concurrency` clients; returns their lease ids.
pub async fn issue_creds(
    target: &Target,
    role: &str,
    n: usize,
    concurrency: usize,
) -> Result<Vec<String>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let mut conn = Conn::connect(target.addr, &target.token).await?;
        let (next, role) = (Arc::clone(&next), role.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < n {
                ids.push(issue_one(&mut conn, &role).await?);
            }
            anyhow::Ok(ids)
        }));
    }
    let mut ids = Vec::with_capacity(n);
    for t in tasks {
        ids.extend(t.await.context("issuing task")??);
    }
    Ok(ids)
}

/// A connection to PostgreSQL for counting and dropping roles.
pub async fn pg_connect() -> Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(PG_URL, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connect to {PG_URL}"))?;
    // Runs until the client is dropped.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Roles matching the `LIKE` pattern.
pub async fn pg_count(pg: &tokio_postgres::Client, pattern: &str) -> Result<i64> {
    let row = pg
        .query_one(
            "SELECT count(*) FROM pg_roles WHERE rolname LIKE $1",
            &[&pattern],
        )
        .await
        .context("count roles")?;
    row.try_get(0).context("count roles")
}

/// Drops every PostgreSQL role matching the `LIKE` pattern (with its grants); returns how many.
pub async fn pg_drop_roles(pattern: &str) -> Result<i64> {
    let pg = pg_connect().await?;
    let n = pg_count(&pg, pattern).await?;
    if n > 0 {
        // DO takes no parameters; the pattern is ours ([A-Za-z0-9%-]), never user input.
        let sql = format!(
            "DO $$ DECLARE r text; BEGIN \
             FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE '{pattern}' LOOP \
             EXECUTE format('DROP OWNED BY %I', r); EXECUTE format('DROP ROLE %I', r); \
             END LOOP; END $$"
        );
        pg.batch_execute(&sql).await.context("drop roles")?;
    }
    Ok(n)
}

async fn mysql(sql: &str) -> Result<String> {
    let out = Command::new("mysql")
        .args(MYSQL_CLIENT_ARGS)
        .args(["-N", "-B", "-e", sql])
        .output()
        .await
        .context("run the mysql client")?;
    if !out.status.success() {
        bail!(
            "mysql: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Drops every MariaDB user whose name matches the `LIKE` pattern; returns how many.
pub async fn mysql_drop_users(pattern: &str) -> Result<usize> {
    let users = mysql(&format!(
        "SELECT CONCAT(QUOTE(user), '@', QUOTE(host)) FROM mysql.user WHERE user LIKE '{pattern}'"
    ))
    .await?;
    let users: Vec<&str> = users.lines().filter(|l| !l.is_empty()).collect();
    for chunk in users.chunks(500) {
        mysql(&format!("DROP USER {}", chunk.join(", "))).await?;
    }
    Ok(users.len())
}

/// Drops what the servers created for `role` on `db`; returns how many users.
pub async fn drop_users(db: Db, role: &str) -> Result<usize> {
    let pattern = user_pattern(role);
    Ok(match db {
        Db::Postgres => usize::try_from(pg_drop_roles(&pattern).await?).unwrap_or(0),
        Db::Mysql => mysql_drop_users(&pattern).await?,
    })
}

/// Users the raw MariaDB baseline creates: `cbench-myb-<client>-<n>`.
const MYSQL_BASELINE_PATTERN: &str = "cbench-myb-%";

/// A raw MariaDB run of `mysql-creds`' statements ([`MYSQL_CREATE`]) by plain `mysql` clients.
#[derive(Debug, Clone)]
pub struct MysqlBaseline {
    /// Users created (each with its GRANT) per second.
    pub rate: f64,
    /// Users created.
    pub users: usize,
    /// Accounts MariaDB held before the run: thousands of them (leftovers of an earlier run) slow every
    /// `CREATE USER` down, so the note shows the count.
    pub accounts_before: usize,
}

/// Runs [`MYSQL_CREATE`] (a fresh user name each time) from `clients` concurrent `mysql` clients for
/// `duration`, then counts the users they created and drops them: what MariaDB itself reaches with the
/// statements a `mysql-creds` credential costs, at the same concurrency (no server in between).
pub async fn mysql_baseline(clients: usize, duration: Duration) -> Result<MysqlBaseline> {
    mysql_drop_users(MYSQL_BASELINE_PATTERN).await?;
    let accounts_before = mysql("SELECT COUNT(*) FROM mysql.user")
        .await?
        .trim()
        .parse()
        .context("account count of MariaDB")?;
    let started = std::time::Instant::now();
    let mut children = Vec::with_capacity(clients);
    for client in 0..clients {
        let mut child = Command::new("mysql")
            .args(MYSQL_CLIENT_ARGS)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("run the mysql client")?;
        let mut stdin = child.stdin.take().context("mysql client stdin")?;
        // Statements are fed as fast as the client takes them, until it is killed (the write then fails).
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for n in 0u64.. {
                let name = format!("cbench-myb-{client}-{n}");
                let sql = MYSQL_CREATE
                    .replace("{{name}}", &name)
                    .replace("{{password}}", "A1a-mysql-baseline-pw");
                if stdin
                    .write_all(format!("{sql}\n").as_bytes())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        children.push(child);
    }
    tokio::time::sleep(duration).await;
    for child in &mut children {
        let _ = child.kill().await;
    }
    let elapsed = started.elapsed();
    let count = mysql(&format!(
        "SELECT COUNT(*) FROM mysql.user WHERE user LIKE '{MYSQL_BASELINE_PATTERN}'"
    ))
    .await;
    let dropped = mysql_drop_users(MYSQL_BASELINE_PATTERN).await;
    let users: usize = count?
        .trim()
        .parse()
        .context("user count of the MariaDB baseline")?;
    dropped?;
    Ok(MysqlBaseline {
        rate: users as f64 / elapsed.as_secs_f64(),
        users,
        accounts_before,
    })
}

/// A `pgbench` run of [`PGBENCH_SCRIPT`].
#[derive(Debug, Clone)]
pub struct Pgbench {
    /// Transactions per second as `pgbench` reports it (without connection time).
    pub tps: f64,
    /// Transactions completed.
    pub transactions: usize,
    /// Per-transaction latency in µs, sorted ascending.
    pub latencies_us: Vec<u32>,
    /// `pgbench` threads used.
    pub threads: usize,
}

impl Pgbench {
    /// p50 and p99 latency in ms.
    #[must_use]
    pub fn p50_p99_ms(&self) -> (Option<f64>, Option<f64>) {
        let p = |q| percentile(&self.latencies_us, q).map(|us| f64::from(us) / 1000.0);
        (p(50.0), p(99.0))
    }
}

/// Runs `pgbench` with `clients` connections for `duration` (whole seconds, at least 1), then drops the
/// roles it created.
pub async fn pgbench(clients: usize, duration: Duration) -> Result<Pgbench> {
    let dir = tempfile::tempdir().context("temp dir for pgbench")?;
    let script = dir.path().join("creds.sql");
    std::fs::write(&script, PGBENCH_SCRIPT).context("write pgbench script")?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let threads = clients.min(cores).max(1);
    pg_drop_roles(PGBENCH_PATTERN).await?;
    let out = Command::new("pgbench")
        .args(["-n", "-l", "--log-prefix"])
        .arg(dir.path().join("log"))
        .args(["-c", &clients.to_string(), "-j", &threads.to_string()])
        .args(["-T", &duration.as_secs_f64().ceil().max(1.0).to_string()])
        .arg("-f")
        .arg(&script)
        .arg(PG_URL)
        .output()
        .await
        .context("run pgbench (is it installed?)");
    let dropped = pg_drop_roles(PGBENCH_PATTERN).await;
    let out = out?;
    dropped?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "pgbench: {}: {} {}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let tps = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no tps in pgbench output: {stdout}"))?;
    let mut latencies_us = read_pgbench_logs(dir.path())?;
    latencies_us.sort_unstable();
    Ok(Pgbench {
        tps,
        transactions: latencies_us.len(),
        latencies_us,
        threads,
    })
}

/// Latencies (third field, µs) of every `log.*` file `pgbench -l` wrote in `dir`.
fn read_pgbench_logs(dir: &Path) -> Result<Vec<u32>> {
    let mut v = Vec::new();
    for entry in std::fs::read_dir(dir).context("read pgbench log dir")? {
        let path = entry.context("pgbench log dir entry")?.path();
        if !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("log."))
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).context("read pgbench log")?;
        v.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u32>().ok()),
        );
    }
    Ok(v)
}
