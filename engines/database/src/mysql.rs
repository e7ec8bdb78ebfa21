//! The MySQL/MariaDB driver: sqlx connections in the crate's small [`Pool`]. Connection strings come as
//! Go-MySQL DSNs, as OpenBao takes them (`{{username}}:{{password}}@tcp(host:3306)/db?tls=skip-verify`), or
//! as `mysql://` URLs. MySQL commits DDL implicitly, so a creation that fails half-way is compensated by
//! dropping the user.

use std::str::FromStr as _;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlSslMode};
use sqlx::{AssertSqlSafe, Connection as _};
use zeroize::Zeroizing;

use crate::conn_string;
use crate::driver::{
    DatabaseDriver, DeleteUser, DriverError, NewUser, Plugin, RenewUser, SetPassword,
    format_expiration,
};
use crate::pool::{Connector, Pool, Pooled};
use crate::settings::ConnectionSettings;
use crate::statements::{self, Dialect, Vars};

/// OpenBao's default password change (static roles and root rotation).
const DEFAULT_SET_PASSWORD: &str = "ALTER USER '{{username}}'@'%' IDENTIFIED BY '{{password}}';";

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one operation (connect and statements) may take before it is abandoned as unavailable.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);

/// A pool of connections to one MySQL/MariaDB server.
pub(crate) struct MysqlDriver {
    pool: Pool<MysqlConnector>,
    legacy: bool,
}

/// Dials MySQL with sqlx.
struct MysqlConnector {
    options: MySqlConnectOptions,
    /// The root password, scrubbed from error messages.
    root_password: Zeroizing<String>,
}

#[async_trait]
impl Connector for MysqlConnector {
    type Conn = MySqlConnection;

    async fn connect(&self) -> Result<MySqlConnection, DriverError> {
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            MySqlConnection::connect_with(&self.options),
        )
        .await
        {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(classify(e).redact(&[&self.root_password])),
            Err(_) => Err(DriverError::Unavailable(
                "timed out connecting to the database".into(),
            )),
        }
    }

    async fn healthy(&self, conn: &mut MySqlConnection) -> bool {
        conn.ping().await.is_ok()
    }

    fn reusable(&self, _conn: &MySqlConnection) -> bool {
        true
    }
}

impl MysqlDriver {
    /// Parses the settings; connects only when used.
    pub(crate) fn new(settings: &ConnectionSettings) -> Result<Self, DriverError> {
        let options = connect_options(settings).map_err(|e| e.redact(&[&settings.password]))?;
        let connector = MysqlConnector {
            options,
            root_password: Zeroizing::new(settings.password.clone()),
        };
        Ok(Self {
            pool: Pool::new(
                connector,
                settings.max_open_connections,
                settings.max_idle_connections,
                settings.lifetime(),
            ),
            legacy: settings.plugin == Plugin::MysqlLegacy,
        })
    }

    fn error(&self, e: sqlx::Error) -> DriverError {
        classify(e).redact(&[&self.pool.connector().root_password])
    }

    async fn conn(&self) -> Result<Pooled<'_, MysqlConnector>, DriverError> {
        self.pool.get().await
    }

    /// Runs `stmts` rendered with `vars`, in order, on one connection. (A transaction would not help: MySQL
    /// commits account statements implicitly.)
    async fn run(
        &self,
        conn: &mut MySqlConnection,
        stmts: &[String],
        vars: Vars<'_>,
    ) -> Result<(), DriverError> {
        for stmt in stmts {
            let sql = Zeroizing::new(statements::render(stmt, vars));
            sqlx::raw_sql(AssertSqlSafe(sql.as_str()))
                .execute(&mut *conn)
                .await
                .map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// The hosts under which accounts named `name` exist.
    async fn hosts_of(
        &self,
        conn: &mut MySqlConnection,
        name: &str,
    ) -> Result<Vec<String>, DriverError> {
        sqlx::query_scalar::<_, String>("SELECT CAST(host AS CHAR) FROM mysql.user WHERE user = ?")
            .bind(name)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.error(e))
    }

    /// Drops every account named `name` (compensation after a failed creation).
    async fn drop_all_hosts(
        &self,
        conn: &mut MySqlConnection,
        name: &str,
    ) -> Result<(), DriverError> {
        for host in self.hosts_of(conn, name).await? {
            let sql = format!("DROP USER {}@{}", quote_str(name), quote_str(&host));
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *conn)
                .await
                .map_err(|e| self.error(e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl DatabaseDriver for MysqlDriver {
    async fn verify(&self) -> Result<(), DriverError> {
        timed(async {
            let mut conn = self.conn().await?;
            conn.ping().await.map_err(|e| self.error(e))
        })
        .await
    }

    async fn create_user(&self, req: NewUser<'_>) -> Result<(), DriverError> {
        let creation = statements::split_all(req.creation, Dialect::Mysql);
        if creation.is_empty() {
            return Err(DriverError::Config("empty creation statements".into()));
        }
        let expiration = format_expiration(req.expiration);
        let vars = Vars {
            name: Some(req.username),
            password: Some(req.password),
            expiration: Some(&expiration),
        };
        timed(async {
            let mut conn = self.conn().await?;
            // An account of that name that exists already (a template without randomness, a static user) must
            // not be created over, nor dropped by the compensation below.
            if !self.hosts_of(&mut conn, req.username).await?.is_empty() {
                return Err(DriverError::Database(format!(
                    "an account named {:?} already exists",
                    req.username
                )));
            }
            let result = self.run(&mut conn, &creation, vars).await;
            if result.is_err() {
                let rollback = statements::split_all(req.rollback, Dialect::Mysql);
                for stmt in &rollback {
                    let _ = self.run(&mut conn, std::slice::from_ref(stmt), vars).await;
                }
                // Whatever the statements created before the failure is already committed.
                let _ = self.drop_all_hosts(&mut conn, req.username).await;
            }
            result
        })
        .await
        .map_err(|e| e.redact(&[req.password]))
    }

    async fn renew_user(&self, req: RenewUser<'_>) -> Result<(), DriverError> {
        // MySQL accounts carry no expiry: without renew statements there is nothing to do (as in OpenBao).
        let stmts = statements::split_all(req.statements, Dialect::Mysql);
        if stmts.is_empty() {
            return Ok(());
        }
        let expiration = format_expiration(req.expiration);
        let vars = Vars {
            name: Some(req.username),
            password: None,
            expiration: Some(&expiration),
        };
        timed(async {
            let mut conn = self.conn().await?;
            self.run(&mut conn, &stmts, vars).await
        })
        .await
    }

    async fn delete_user(&self, req: DeleteUser<'_>) -> Result<(), DriverError> {
        let stmts = statements::split_all(req.statements, Dialect::Mysql);
        timed(async {
            let mut conn = self.conn().await?;
            if self.hosts_of(&mut conn, req.username).await?.is_empty() {
                return Ok(());
            }
            if !stmts.is_empty() {
                let vars = Vars {
                    name: Some(req.username),
                    ..Vars::default()
                };
                return self.run(&mut conn, &stmts, vars).await;
            }
            let account = format!("{}@'%'", quote_str(req.username));
            // Fails when the account has no grants (or another host): the DROP below is what matters.
            let revoke = format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}");
            let _ = sqlx::raw_sql(AssertSqlSafe(revoke))
                .execute(&mut *conn)
                .await;
            let drop = if self.legacy {
                format!("DROP USER {account}")
            } else {
                format!("DROP USER IF EXISTS {account}")
            };
            sqlx::raw_sql(AssertSqlSafe(drop))
                .execute(&mut *conn)
                .await
                .map_err(|e| self.error(e))?;
            Ok(())
        })
        .await
    }

    async fn set_password(&self, req: SetPassword<'_>) -> Result<(), DriverError> {
        let mut stmts = statements::split_all(req.statements, Dialect::Mysql);
        if stmts.is_empty() {
            stmts = statements::split(DEFAULT_SET_PASSWORD, Dialect::Mysql);
        }
        let vars = Vars {
            name: Some(req.username),
            password: Some(req.password),
            expiration: None,
        };
        timed(async {
            let mut conn = self.conn().await?;
            self.run(&mut conn, &stmts, vars).await
        })
        .await
        .map_err(|e| e.redact(&[req.password]))
    }

    async fn close(&self) {
        self.pool.close();
    }
}

async fn timed<T>(
    fut: impl std::future::Future<Output = Result<T, DriverError>>,
) -> Result<T, DriverError> {
    tokio::time::timeout(OPERATION_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| {
            Err(DriverError::Unavailable(
                "database operation timed out".into(),
            ))
        })
}

/// MySQL error numbers after which a retry may succeed: too many connections (1040), shutdown in progress
/// (1053), lock wait timeout (1205), deadlock (1213), and the network errors 1152-1161.
fn retryable_number(n: u16) -> bool {
    matches!(n, 1040 | 1053 | 1205 | 1213 | 1152..=1161)
}

/// Database errors keep the server's text (`Error 1045 (28000): Access denied ...`, as go-sql-driver prints
/// it); I/O and pool errors mean the database could not be used now.
fn classify(e: sqlx::Error) -> DriverError {
    match e {
        sqlx::Error::Database(db) => {
            let (number, state) = db
                .try_downcast_ref::<MySqlDatabaseError>()
                .map(|m| (m.number(), m.code().unwrap_or("HY000").to_owned()))
                .unwrap_or((0, "HY000".to_owned()));
            let msg = format!("Error {number} ({state}): {}", db.message());
            if retryable_number(number) {
                DriverError::Unavailable(msg)
            } else {
                DriverError::Database(msg)
            }
        }
        sqlx::Error::Configuration(e) => {
            DriverError::Config(format!("invalid connection settings: {e}"))
        }
        sqlx::Error::Tls(e) => DriverError::Unavailable(format!("TLS error: {e}")),
        e @ (sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_)) => {
            DriverError::Unavailable(format!("failed to connect to the database: {e}"))
        }
        other => DriverError::Database(other.to_string()),
    }
}

/// A single-quoted MySQL string literal.
fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// sqlx options from the settings: credentials substituted into the connection string (the user name
/// percent-escaped, the password not, as OpenBao does for MySQL DSNs), then the DSN or URL taken apart.
fn connect_options(settings: &ConnectionSettings) -> Result<MySqlConnectOptions, DriverError> {
    let url = settings.connection_url.trim();
    let is_url = url.starts_with("mysql://") || url.starts_with("mariadb://");
    let (user, pass) = match (settings.disable_escaping, is_url) {
        (true, _) => (settings.username.clone(), settings.password.clone()),
        (false, true) => (
            conn_string::escape(&settings.username),
            conn_string::escape(&settings.password),
        ),
        (false, false) => (
            conn_string::escape(&settings.username),
            settings.password.clone(),
        ),
    };
    let rendered = Zeroizing::new(conn_string::substitute(url, &user, &pass));
    let (mut options, tls_param) = if is_url {
        let normalized = Zeroizing::new(rendered.replacen("mariadb://", "mysql://", 1));
        let options = MySqlConnectOptions::from_str(&normalized)
            .map_err(|e| DriverError::Config(format!("invalid connection_url: {e}")))?;
        (options, None)
    } else {
        parse_dsn(&rendered)?
    };
    let tls = &settings.tls;
    if tls.is_set() {
        if !tls.tls_ca.is_empty() {
            options = options.ssl_ca_from_pem(tls.tls_ca.as_bytes().to_vec());
        }
        if !tls.tls_certificate_key.is_empty() {
            options = options
                .ssl_client_cert_from_pem(tls.tls_certificate_key.as_bytes())
                .ssl_client_key_from_pem(tls.tls_certificate_key.as_bytes());
        }
        // sqlx cannot override the name checked in the certificate: with tls_server_name the chain is
        // verified but not the name.
        let mode = if tls.tls_skip_verify {
            MySqlSslMode::Required
        } else if !tls.tls_server_name.is_empty() {
            MySqlSslMode::VerifyCa
        } else {
            MySqlSslMode::VerifyIdentity
        };
        options = options.ssl_mode(mode);
    } else if let Some(param) = tls_param {
        let mode = match param.as_str() {
            "true" => MySqlSslMode::VerifyIdentity,
            "skip-verify" => MySqlSslMode::Required,
            "preferred" => MySqlSslMode::Preferred,
            "false" => MySqlSslMode::Disabled,
            other => {
                return Err(DriverError::Config(format!(
                    "unsupported tls value {other:?} in connection_url (use true, false, skip-verify, \
                     preferred, or the tls_* fields)"
                )));
            }
        };
        options = options.ssl_mode(mode);
    }
    Ok(options)
}

/// A Go-MySQL DSN, `[user[:password]@][net[(address)]]/dbname[?param=value&...]`: the options and the `tls`
/// parameter, if any. Only the first of several comma-separated hosts is used.
fn parse_dsn(dsn: &str) -> Result<(MySqlConnectOptions, Option<String>), DriverError> {
    let bad = |why: &str| DriverError::Config(format!("invalid connection_url: {why}"));
    let slash = dsn
        .rfind('/')
        .ok_or_else(|| bad("missing the slash before the database name"))?;
    let (head, tail) = (
        dsn.get(..slash).unwrap_or_default(),
        dsn.get(slash + 1..).unwrap_or_default(),
    );
    let (dbname, params) = tail.split_once('?').unwrap_or((tail, ""));
    let (userinfo, net) = match head.rfind('@') {
        Some(at) => (
            head.get(..at).unwrap_or_default(),
            head.get(at + 1..).unwrap_or_default(),
        ),
        None => ("", head),
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let mut options = MySqlConnectOptions::new()
        .username(&conn_string::unescape(user))
        .ssl_mode(MySqlSslMode::Disabled);
    // An empty password means none at all (as Go's driver sends it), not an empty one.
    if !password.is_empty() {
        options = options.password(password);
    }
    if !dbname.is_empty() {
        options = options.database(&conn_string::unescape(dbname));
    }
    let (proto, addr) = match net.split_once('(') {
        Some((p, rest)) => (
            p,
            rest.strip_suffix(')')
                .ok_or_else(|| bad("unclosed parenthesis in the address"))?,
        ),
        None => (net, ""),
    };
    match proto {
        "" | "tcp" => {
            let first = addr.split(',').next().unwrap_or_default().trim();
            let (host, port) = split_host_port(first)?;
            options = options.host(if host.is_empty() { "127.0.0.1" } else { host });
            options = options.port(port);
        }
        "unix" => options = options.socket(addr),
        other => return Err(bad(&format!("unsupported network {other:?}"))),
    }
    let mut tls = None;
    for pair in params.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "tls" {
            tls = Some(conn_string::unescape(v));
        }
    }
    Ok((options, tls))
}

fn split_host_port(addr: &str) -> Result<(&str, u16), DriverError> {
    let bad = || DriverError::Config(format!("invalid connection_url: bad address {addr:?}"));
    if let Some(rest) = addr.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None => 3306,
        };
        return Ok((host, port));
    }
    match addr.rsplit_once(':') {
        Some((host, port)) => Ok((host, port.parse().map_err(|_| bad())?)),
        None => Ok((addr, 3306)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn settings(url: &str, user: &str, password: &str) -> ConnectionSettings {
        let details = json!({"connection_url": url, "username": user, "password": password});
        ConnectionSettings::from_details(Plugin::Mysql, details.as_object().unwrap()).unwrap()
    }

    #[test]
    fn go_dsns() {
        let o = connect_options(&settings(
            "{{username}}:{{password}}@tcp(10.0.0.1:3307)/app?tls=skip-verify",
            "r@t",
            "p:w/@x",
        ))
        .unwrap();
        assert_eq!(
            (o.get_host(), o.get_port(), o.get_username()),
            ("10.0.0.1", 3307, "r@t")
        );
        assert_eq!(o.get_database(), Some("app"));
        assert!(matches!(o.get_ssl_mode(), MySqlSslMode::Required));

        let o = connect_options(&settings(
            "{{username}}:{{password}}@tcp([::1])/",
            "root",
            "pw",
        ))
        .unwrap();
        assert_eq!(
            (o.get_host(), o.get_port(), o.get_database()),
            ("::1", 3306, None)
        );
        assert!(matches!(o.get_ssl_mode(), MySqlSslMode::Disabled));

        let o = connect_options(&settings("u:p@/", "", "")).unwrap();
        assert_eq!((o.get_host(), o.get_username()), ("127.0.0.1", "u"));

        let o = connect_options(&settings(
            "{{username}}:{{password}}@unix(/run/mysqld.sock)/",
            "root",
            "pw",
        ))
        .unwrap();
        assert!(o.get_socket().is_some());

        assert!(connect_options(&settings("no-slash", "u", "p")).is_err());
        assert!(connect_options(&settings("u:p@tcp(h:notaport)/", "u", "p")).is_err());
        assert!(connect_options(&settings("u:p@tcp(h:1)/?tls=custom", "u", "p")).is_err());
    }

    #[test]
    fn urls() {
        let o = connect_options(&settings(
            "mysql://{{username}}:{{password}}@127.0.0.1:3306/mysql",
            "root",
            "p@ss",
        ))
        .unwrap();
        assert_eq!(
            (o.get_host(), o.get_port(), o.get_username()),
            ("127.0.0.1", 3306, "root")
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_str("a'b\\c"), "'a''b\\\\c'");
        assert!(retryable_number(1040));
        assert!(!retryable_number(1045));
    }
}
