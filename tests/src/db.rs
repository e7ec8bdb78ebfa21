//! Throwaway PostgreSQL and MariaDB servers started from the system binaries, for the database secrets engine's
//! tests: each lives in its own temporary directory on a free port and is stopped (and the directory deleted)
//! when dropped. The API is synchronous (plain `std::process`), so it works in `#[test]` and `#[tokio::test]`
//! alike; the calls block for at most [`FIXTURE_TIMEOUT`].
//!
//! Both servers get a superuser with a password that the engine under test connects with over TCP
//! ([`PgServer::admin_user`], [`PgServer::admin_password`]); the fixture's own helpers ([`PgServer::psql`],
//! [`MariaServer::mariadb`]) connect through a Unix socket with a separate account, so they keep working after
//! the engine rotates the superuser's password.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tempfile::TempDir;

use crate::{FIXTURE_TIMEOUT, free_port, poll_blocking};

/// Where Debian puts PostgreSQL 15's server binaries.
pub const PG_BIN_DIR: &str = "/usr/lib/postgresql/15/bin";

const PG_ADMIN_USER: &str = "postgres";
const PG_ADMIN_PASSWORD: &str = "rootpw";
const MARIA_ADMIN_USER: &str = "root";
const MARIA_ADMIN_PASSWORD: &str = "rootpw";
/// The fixture's own MariaDB account (socket only), untouched by the engine's root rotation.
const MARIA_FIXTURE_USER: &str = "fixture";
const MARIA_FIXTURE_PASSWORD: &str = "fixturepw";

/// How long a stopping server may take before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `cmd`, failing the test when it cannot be spawned.
fn run(cmd: &mut Command, what: &str) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("testkit: cannot run {what}: {e}"))
}

/// Stdout of a finished command, or its stderr (and stdout) as the error.
fn outcome(out: Output) -> Result<String, String> {
    let stdout = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr).trim_end().to_owned();
        Err(if stdout.is_empty() {
            stderr
        } else {
            format!("{stderr}\n{stdout}")
        })
    }
}

/// The text of a log file, or a note that it cannot be read.
fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| format!("<cannot read {}: {e}>", path.display()))
}

/// Sends `signal` (`INT`, `TERM`, `KILL`, `0`) to `pid`; true when delivered.
fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A throwaway PostgreSQL 15 cluster owned by the `postgres` OS user (initdb and pg_ctl refuse to run as
/// root). Local (socket) connections are trusted; TCP connections need a SCRAM password.
pub struct PgServer {
    /// Owned by `postgres`; holds `data/`, the log and the socket.
    dir: TempDir,
    port: u16,
    /// Whether the server is (believed to be) running: stop/restart toggle it.
    running: Mutex<bool>,
}

impl std::fmt::Debug for PgServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgServer")
            .field("dir", &self.dir.path())
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl PgServer {
    /// Initializes a cluster in a new temp dir, starts it on a free port and sets the superuser's password.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("coffer-pg-")
            .tempdir()
            .expect("testkit: cannot create a temp dir for PostgreSQL");
        let chown = run(
            Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path()),
            "chown",
        );
        if let Err(e) = outcome(chown) {
            panic!("testkit: cannot chown the PostgreSQL dir to postgres: {e}");
        }
        let server = Self {
            dir,
            port: free_port(),
            running: Mutex::new(false),
        };
        let init = run(
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(Path::new(PG_BIN_DIR).join("initdb"))
                .arg("-D")
                .arg(server.data_dir())
                .args([
                    "-U",
                    PG_ADMIN_USER,
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--no-sync",
                ]),
            "initdb",
        );
        if let Err(e) = outcome(init) {
            panic!("testkit: initdb failed: {e}");
        }
        server.launch();
        server.psql(&format!(
            "ALTER ROLE {PG_ADMIN_USER} PASSWORD '{PG_ADMIN_PASSWORD}'"
        ));
        server
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A superuser connection URL with the initial password.
    pub fn url(&self) -> String {
        format!(
            "postgres://{PG_ADMIN_USER}:{PG_ADMIN_PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// The OpenBao-style templated connection URL for `database/config` (`username`/`password` go beside it).
    pub fn url_with_template(&self) -> String {
        format!(
            "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// The superuser's name.
    pub fn admin_user(&self) -> &'static str {
        PG_ADMIN_USER
    }

    /// The superuser's initial password (an engine's root rotation changes it).
    pub fn admin_password(&self) -> &'static str {
        PG_ADMIN_PASSWORD
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        read_log(&self.log_path())
    }

    /// Runs `sql` as the superuser over the Unix socket (trusted, so it works whatever the superuser's password
    /// now is) and returns psql's unaligned, tuples-only output; fails the test on an SQL error.
    pub fn psql(&self, sql: &str) -> String {
        self.try_psql(sql)
            .unwrap_or_else(|e| panic!("testkit: psql {sql:?} failed: {e}"))
    }

    /// [`PgServer::psql`], returning psql's error text instead of failing the test.
    pub fn try_psql(&self, sql: &str) -> Result<String, String> {
        outcome(run(
            Command::new("runuser")
                .args(["-u", "postgres", "--", "psql", "-X", "-A", "-t", "-q"])
                .args(["-v", "ON_ERROR_STOP=1", "-h"])
                .arg(self.dir.path())
                .args(["-p", &self.port.to_string(), "-U", PG_ADMIN_USER])
                .args(["-d", "postgres", "-c", sql]),
            "psql",
        ))
    }

    /// Logs in over TCP as `user` with `password` (SCRAM) and runs `sql`: `Err` carries psql's message
    /// (e.g. `password authentication failed`).
    pub fn psql_as(&self, user: &str, password: &str, sql: &str) -> Result<String, String> {
        outcome(run(
            Command::new("psql")
                .arg(format!(
                    "host=127.0.0.1 port={} user={user} dbname=postgres sslmode=disable connect_timeout=10",
                    self.port
                ))
                .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
                .env("PGPASSWORD", password),
            "psql",
        ))
    }

    /// Stops the server (fast shutdown by pid) and waits until it has exited; the data stays for
    /// [`PgServer::restart`]. Stopping a stopped server does nothing.
    pub fn stop(&self) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if !*running {
            return;
        }
        if let Err(e) = self.shutdown() {
            panic!("testkit: PostgreSQL did not stop: {e}\n{}", self.log());
        }
        *running = false;
    }

    /// Starts the server again on the same directory and port (stopping it first if it runs).
    pub fn restart(&self) {
        self.stop();
        self.launch();
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    fn pid_file(&self) -> PathBuf {
        self.data_dir().join("postmaster.pid")
    }

    /// `pg_ctl start -w`, then polls until a query over the socket succeeds.
    fn launch(&self) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.path().display()
        );
        let start = run(
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(Path::new(PG_BIN_DIR).join("pg_ctl"))
                .arg("-D")
                .arg(self.data_dir())
                .arg("-l")
                .arg(self.log_path())
                .args(["-o", &options, "-w", "-t"])
                .arg(FIXTURE_TIMEOUT.as_secs().to_string())
                .arg("start")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
            "pg_ctl start",
        );
        if let Err(e) = outcome(start) {
            panic!("testkit: pg_ctl start failed: {e}\n{}", self.log());
        }
        *running = true;
        drop(running);
        let ready = poll_blocking(FIXTURE_TIMEOUT, || self.try_psql("SELECT 1").ok());
        if ready.is_none() {
            panic!(
                "testkit: PostgreSQL on port {} never answered\n{}",
                self.port,
                self.log()
            );
        }
    }

    /// SIGINT (fast shutdown) to the postmaster, then waits for its pid file to go; SIGKILL after
    /// [`STOP_TIMEOUT`].
    fn shutdown(&self) -> Result<(), String> {
        let pid_text = std::fs::read_to_string(self.pid_file())
            .map_err(|e| format!("no postmaster.pid: {e}"))?;
        let pid: u32 = pid_text
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| format!("unreadable postmaster.pid: {pid_text:?}"))?;
        signal(pid, "INT");
        let gone = poll_blocking(STOP_TIMEOUT, || {
            (!self.pid_file().exists() && !signal(pid, "0")).then_some(())
        });
        if gone.is_none() {
            signal(pid, "KILL");
            return Err(format!("postmaster {pid} ignored SIGINT; killed"));
        }
        Ok(())
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let running = *self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running {
            // Errors are ignored: the test already has its verdict, and the temp dir goes either way.
            let _ = self.shutdown();
        }
    }
}

/// A throwaway MariaDB server (a child process running as root, which `--user=root` allows). The engine-facing
/// superuser is `'root'@'%'` with a password (the only `root` account, so OpenBao's default
/// `ALTER USER '{{username}}'@'%'` root rotation applies to it); the fixture's helpers use a separate
/// socket account.
pub struct MariaServer {
    dir: TempDir,
    port: u16,
    child: Mutex<Option<Child>>,
}

impl std::fmt::Debug for MariaServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MariaServer")
            .field("dir", &self.dir.path())
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl MariaServer {
    /// Installs a data directory in a new temp dir, starts `mariadbd` on a free port and sets up the accounts.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("coffer-maria-")
            .tempdir()
            .expect("testkit: cannot create a temp dir for MariaDB");
        let server = Self {
            dir,
            port: free_port(),
            child: Mutex::new(None),
        };
        // Private temp files: parallel installs sharing /tmp trip over each other's temporary tables.
        std::fs::create_dir(server.tmp_dir())
            .unwrap_or_else(|e| panic!("testkit: cannot create the MariaDB tmpdir: {e}"));
        let install = run(
            Command::new("mariadb-install-db")
                .arg("--no-defaults")
                .arg(format!("--datadir={}", server.data_dir().display()))
                .arg(format!("--tmpdir={}", server.tmp_dir().display()))
                .args([
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ]),
            "mariadb-install-db",
        );
        if let Err(e) = outcome(install) {
            panic!("testkit: mariadb-install-db failed: {e}");
        }
        // Fresh install: root@localhost has no password and the fixture account does not exist yet.
        server.launch("root", "");
        server.setup_accounts();
        server
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A superuser connection URL with the initial password.
    pub fn url(&self) -> String {
        format!(
            "mysql://{MARIA_ADMIN_USER}:{MARIA_ADMIN_PASSWORD}@127.0.0.1:{}/mysql",
            self.port
        )
    }

    /// The OpenBao-style templated connection URL (Go MySQL DSN) for `database/config`.
    pub fn url_with_template(&self) -> String {
        format!(
            "{{{{username}}}}:{{{{password}}}}@tcp(127.0.0.1:{})/",
            self.port
        )
    }

    /// The superuser's name (`root`, host `%`).
    pub fn admin_user(&self) -> &'static str {
        MARIA_ADMIN_USER
    }

    /// The superuser's initial password (an engine's root rotation changes it).
    pub fn admin_password(&self) -> &'static str {
        MARIA_ADMIN_PASSWORD
    }

    /// The server's error log so far.
    pub fn log(&self) -> String {
        read_log(&self.log_path())
    }

    /// Runs `sql` through the socket with the fixture's own superuser and returns the batch output (tab
    /// separated, no column names); fails the test on an SQL error.
    pub fn mariadb(&self, sql: &str) -> String {
        self.try_mariadb(sql)
            .unwrap_or_else(|e| panic!("testkit: mariadb {sql:?} failed: {e}"))
    }

    /// [`MariaServer::mariadb`], returning the client's error text instead of failing the test.
    pub fn try_mariadb(&self, sql: &str) -> Result<String, String> {
        self.socket_query(MARIA_FIXTURE_USER, MARIA_FIXTURE_PASSWORD, sql)
    }

    /// Logs in over TCP as `user` with `password` and runs `sql`: `Err` carries the client's message
    /// (e.g. `Access denied`).
    pub fn mariadb_as(&self, user: &str, password: &str, sql: &str) -> Result<String, String> {
        outcome(run(
            Command::new("mariadb")
                .args(["--no-defaults", "--protocol=tcp", "-h", "127.0.0.1"])
                .args(["-P", &self.port.to_string(), "-u", user])
                .args(["--connect-timeout=10", "-N", "-B", "-e", sql])
                .env("MYSQL_PWD", password),
            "mariadb",
        ))
    }

    /// Stops the server (SIGTERM by pid, then waits; SIGKILL after a timeout). The data stays for
    /// [`MariaServer::restart`]. Stopping a stopped server does nothing.
    pub fn stop(&self) {
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut c) = child.take()
            && let Err(e) = terminate(&mut c)
        {
            panic!("testkit: MariaDB did not stop: {e}\n{}", self.log());
        }
    }

    /// Starts the server again on the same directory and port (stopping it first if it runs).
    pub fn restart(&self) {
        self.stop();
        self.launch(MARIA_FIXTURE_USER, MARIA_FIXTURE_PASSWORD);
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("mariadb.log")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    fn socket_query(&self, user: &str, password: &str, sql: &str) -> Result<String, String> {
        outcome(run(
            Command::new("mariadb")
                .arg("--no-defaults")
                .arg(format!("--socket={}", self.socket().display()))
                .args(["-u", user, "-N", "-B", "-e", sql])
                .env("MYSQL_PWD", password),
            "mariadb",
        ))
    }

    /// Spawns `mariadbd` and polls until `user` can run a query over the socket.
    fn launch(&self, probe_user: &str, probe_password: &str) {
        let log = File::create(self.log_path())
            .unwrap_or_else(|e| panic!("testkit: cannot create the MariaDB log: {e}"));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("testkit: cannot clone the MariaDB log handle: {e}"));
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.data_dir().display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!("--tmpdir={}", self.tmp_dir().display()))
            .args(["--user=root", "--innodb-flush-log-at-trx-commit=0"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .unwrap_or_else(|e| panic!("testkit: cannot spawn mariadbd: {e}"));
        let mut slot = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        *slot = Some(child);
        let ready = poll_blocking(FIXTURE_TIMEOUT, || {
            if let Some(c) = slot.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                return Some(Err(status));
            }
            self.socket_query(probe_user, probe_password, "SELECT 1")
                .ok()
                .map(|_| Ok(()))
        });
        match ready {
            Some(Ok(())) => {}
            Some(Err(status)) => {
                *slot = None;
                panic!(
                    "testkit: mariadbd exited during startup ({status})\n{}",
                    self.log()
                );
            }
            None => panic!(
                "testkit: MariaDB on port {} never answered\n{}",
                self.port,
                self.log()
            ),
        }
    }

    /// Creates the fixture's socket account, then replaces every `root` account with `'root'@'%'` and a
    /// password (a TCP login from 127.0.0.1 would otherwise match `root@localhost` first).
    fn setup_accounts(&self) {
        let create_fixture = format!(
            "CREATE USER '{MARIA_FIXTURE_USER}'@'localhost' IDENTIFIED BY '{MARIA_FIXTURE_PASSWORD}';
             GRANT ALL PRIVILEGES ON *.* TO '{MARIA_FIXTURE_USER}'@'localhost' WITH GRANT OPTION;"
        );
        if let Err(e) = self.socket_query("root", "", &create_fixture) {
            panic!("testkit: MariaDB account setup failed: {e}");
        }
        let hosts = self.mariadb("SELECT host FROM mysql.user WHERE user = 'root'");
        let mut sql = String::new();
        for host in hosts.lines().map(str::trim).filter(|h| !h.is_empty()) {
            sql.push_str(&format!("DROP USER 'root'@'{host}';\n"));
        }
        sql.push_str(&format!(
            "CREATE USER '{MARIA_ADMIN_USER}'@'%' IDENTIFIED BY '{MARIA_ADMIN_PASSWORD}';
             GRANT ALL PRIVILEGES ON *.* TO '{MARIA_ADMIN_USER}'@'%' WITH GRANT OPTION;
             FLUSH PRIVILEGES;"
        ));
        self.mariadb(&sql);
    }
}

/// SIGTERM, wait up to [`STOP_TIMEOUT`], then SIGKILL.
fn terminate(child: &mut Child) -> Result<(), String> {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return Ok(());
    }
    signal(child.id(), "TERM");
    let exited = poll_blocking(STOP_TIMEOUT, || {
        matches!(child.try_wait(), Ok(Some(_))).then_some(())
    });
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        return Err("mariadbd ignored SIGTERM; killed".to_owned());
    }
    Ok(())
}

impl Drop for MariaServer {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut c) = child.take() {
            let _ = terminate(&mut c);
        }
    }
}
