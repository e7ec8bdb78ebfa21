//! The PostgreSQL driver: tokio-postgres connections in the crate's small [`Pool`], rustls for TLS (libpq's
//! `sslmode`s), and `postgres-protocol` to SCRAM-hash passwords on the client when `password_authentication`
//! asks for it.

use std::str::FromStr as _;
use std::time::Duration;

use async_trait::async_trait;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;
use zeroize::Zeroizing;

use crate::conn_string;
use crate::driver::{
    DatabaseDriver, DeleteUser, DriverError, NewUser, RenewUser, SetPassword, format_expiration,
};
use crate::pool::{Connector, Pool};
use crate::settings::{ConnectionSettings, PasswordAuthentication};
use crate::statements::{self, Dialect, Vars};
use crate::tls::{self, Verify};

/// OpenBao's default renewal statement.
const DEFAULT_RENEW: &str = r#"ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}';"#;
/// OpenBao's default password change (static roles and root rotation).
const DEFAULT_SET_PASSWORD: &str = r#"ALTER ROLE "{{username}}" WITH PASSWORD '{{password}}';"#;

/// How long one operation (connect and statements) may take before it is abandoned as unavailable.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Connect timeout when the connection string sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// libpq keywords tokio-postgres rejects; handled here.
const TLS_KEYS: &[&str] = &["sslmode", "sslrootcert", "sslcert", "sslkey", "sslsni"];

/// A pool of connections to one PostgreSQL server.
pub(crate) struct PgDriver {
    pool: Pool<PgConnector>,
    password_authentication: PasswordAuthentication,
}

/// Dials PostgreSQL; each connection's I/O runs in its own task.
struct PgConnector {
    config: Config,
    tls: MakeRustlsConnect,
    /// The root password, scrubbed from error messages.
    root_password: Zeroizing<String>,
}

#[async_trait]
impl Connector for PgConnector {
    type Conn = Client;

    async fn connect(&self) -> Result<Client, DriverError> {
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|e| classify(&e).redact(&[&self.root_password]))?;
        tokio::spawn(async move {
            // Ends when the client is dropped or the server goes away; errors surface on the client.
            let _ = connection.await;
        });
        Ok(client)
    }

    async fn healthy(&self, conn: &mut Client) -> bool {
        // An empty query is one round trip; it catches a connection the server ended while it sat idle (a
        // restart sends FATAL 57P01 that only the next query would see).
        !conn.is_closed() && conn.simple_query("").await.is_ok()
    }

    fn reusable(&self, conn: &Client) -> bool {
        !conn.is_closed()
    }
}

impl PgDriver {
    /// Parses the settings; connects only when used.
    pub(crate) fn new(settings: &ConnectionSettings) -> Result<Self, DriverError> {
        let (user, pass) =
            if settings.disable_escaping || !conn_string::is_pg_url(&settings.connection_url) {
                (settings.username.clone(), settings.password.clone())
            } else {
                (
                    conn_string::escape(&settings.username),
                    conn_string::escape(&settings.password),
                )
            };
        let rendered = Zeroizing::new(conn_string::substitute(
            &settings.connection_url,
            &user,
            &pass,
        ));
        let (rest, tls_params) = conn_string::take_pg_params(&rendered, TLS_KEYS);
        let rest = Zeroizing::new(rest);
        let mut config = Config::from_str(&rest).map_err(|e| {
            DriverError::Config(format!("invalid connection_url: {e}"))
                .redact(&[&settings.password, &pass])
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("coffer");
        }
        let param = |k: &str| {
            tls_params
                .iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let root = param("sslrootcert").map(read_file).transpose()?;
        let (mode, verify) = match param("sslmode").unwrap_or("prefer") {
            "disable" => (SslMode::Disable, Verify::None),
            "allow" | "prefer" => (SslMode::Prefer, Verify::None),
            // libpq verifies the chain under `require` when a root certificate is given.
            "require" if root.is_some() => (SslMode::Require, Verify::Chain),
            "require" => (SslMode::Require, Verify::None),
            "verify-ca" => (SslMode::Require, Verify::Chain),
            "verify-full" => (SslMode::Require, Verify::Full),
            other => return Err(DriverError::Config(format!("invalid sslmode {other:?}"))),
        };
        config.ssl_mode(mode);
        let client_cert = match (param("sslcert"), param("sslkey")) {
            (Some(c), Some(k)) => Some((read_file(c)?, Zeroizing::new(read_file(k)?))),
            (None, None) => None,
            _ => {
                return Err(DriverError::Config(
                    "sslcert and sslkey must be given together".into(),
                ));
            }
        };
        let tls_config = tls::client_config(
            verify,
            root.as_deref(),
            client_cert
                .as_ref()
                .map(|(c, k)| (c.as_slice(), k.as_slice())),
        )?;
        let connector = PgConnector {
            config,
            tls: MakeRustlsConnect::new(tls_config),
            root_password: Zeroizing::new(settings.password.clone()),
        };
        Ok(Self {
            pool: Pool::new(
                connector,
                settings.max_open_connections,
                settings.max_idle_connections,
                settings.lifetime(),
            ),
            password_authentication: settings.password_authentication,
        })
    }

    /// A driver error from tokio-postgres, root password scrubbed.
    fn error(&self, e: &tokio_postgres::Error) -> DriverError {
        classify(e).redact(&[&self.pool.connector().root_password])
    }

    /// The password as it goes into SQL: plaintext, or a SCRAM verifier.
    fn sql_password(&self, password: &str) -> Zeroizing<String> {
        Zeroizing::new(match self.password_authentication {
            PasswordAuthentication::Password => password.to_owned(),
            PasswordAuthentication::ScramSha256 => {
                postgres_protocol::password::scram_sha_256(password.as_bytes())
            }
        })
    }

    /// Runs `stmts` (already split) rendered with `vars` in one transaction.
    async fn in_transaction(&self, stmts: &[String], vars: Vars<'_>) -> Result<(), DriverError> {
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await.map_err(|e| self.error(&e))?;
        for stmt in stmts {
            let sql = Zeroizing::new(statements::render(stmt, vars));
            tx.batch_execute(&sql).await.map_err(|e| self.error(&e))?;
        }
        tx.commit().await.map_err(|e| self.error(&e))
    }

    async fn role_exists(&self, conn: &Client, name: &str) -> Result<bool, DriverError> {
        let row = conn
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)",
                &[&name],
            )
            .await
            .map_err(|e| self.error(&e))?;
        row.try_get(0).map_err(|e| self.error(&e))
    }

    /// Takes away everything the role can hold in the connected database and on shared objects, hands what it
    /// owns to the current user, and drops it. Statements run one by one (not in a transaction) so a failing
    /// revoke does not keep the others from removing access.
    ///
    /// No `REVOKE … ON DATABASE` per database: `DROP OWNED` already revokes the role's privileges on shared
    /// objects (databases included), and only where it holds some. An explicit revoke rewrites the database's
    /// catalog row even when the role holds nothing there, so parallel revocations failed each other with
    /// `tuple concurrently updated` (17,000 errors in one 3,000-lease `revoke-prefix`).
    async fn default_delete(&self, name: &str) -> Result<(), DriverError> {
        let conn = self.pool.get().await?;
        if !self.role_exists(&conn, name).await? {
            return Ok(());
        }
        let role = quote_ident(name);
        let schemas = conn
            .query(
                "SELECT nspname::text FROM pg_namespace \
                 WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'",
                &[],
            )
            .await
            .map_err(|e| self.error(&e))?;
        let mut sql = Vec::new();
        for row in &schemas {
            let schema: String = row.try_get(0).map_err(|e| self.error(&e))?;
            let s = quote_ident(&schema);
            for kind in ["TABLES", "SEQUENCES", "FUNCTIONS"] {
                sql.push(format!(
                    "REVOKE ALL PRIVILEGES ON ALL {kind} IN SCHEMA {s} FROM {role}"
                ));
            }
            sql.push(format!("REVOKE ALL PRIVILEGES ON SCHEMA {s} FROM {role}"));
        }
        sql.push(format!("REASSIGN OWNED BY {role} TO CURRENT_USER"));
        sql.push(format!("DROP OWNED BY {role}"));
        let mut last_error = None;
        for stmt in &sql {
            if let Err(e) = conn.batch_execute(stmt).await {
                if conn.is_closed() {
                    return Err(self.error(&e));
                }
                last_error = Some(self.error(&e));
            }
        }
        match conn
            .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => {
                let drop_error = self.error(&e);
                Err(match last_error {
                    Some(first) if !drop_error.retryable() => DriverError::Database(format!(
                        "{drop_error} (an earlier revocation statement failed: {first})"
                    )),
                    _ => drop_error,
                })
            }
        }
    }
}

#[async_trait]
impl DatabaseDriver for PgDriver {
    async fn verify(&self) -> Result<(), DriverError> {
        timed(async {
            let conn = self.pool.get().await?;
            conn.simple_query("SELECT 1")
                .await
                .map_err(|e| self.error(&e))?;
            Ok(())
        })
        .await
    }

    async fn create_user(&self, req: NewUser<'_>) -> Result<(), DriverError> {
        let creation = statements::split_all(req.creation, Dialect::Postgres);
        if creation.is_empty() {
            return Err(DriverError::Config("empty creation statements".into()));
        }
        let password = self.sql_password(req.password);
        let expiration = format_expiration(req.expiration);
        let vars = Vars {
            name: Some(req.username),
            password: Some(&password),
            expiration: Some(&expiration),
        };
        let result = timed(self.in_transaction(&creation, vars)).await;
        if result.is_err() {
            // The transaction rolled back; the role's own rollback statements cover anything outside it.
            let rollback = statements::split_all(req.rollback, Dialect::Postgres);
            if !rollback.is_empty() {
                let _ = timed(self.in_transaction(&rollback, vars)).await;
            }
        }
        result.map_err(|e| e.redact(&[req.password, &password]))
    }

    async fn renew_user(&self, req: RenewUser<'_>) -> Result<(), DriverError> {
        let mut stmts = statements::split_all(req.statements, Dialect::Postgres);
        if stmts.is_empty() {
            stmts = statements::split(DEFAULT_RENEW, Dialect::Postgres);
        }
        let expiration = format_expiration(req.expiration);
        let vars = Vars {
            name: Some(req.username),
            password: None,
            expiration: Some(&expiration),
        };
        timed(self.in_transaction(&stmts, vars)).await
    }

    async fn delete_user(&self, req: DeleteUser<'_>) -> Result<(), DriverError> {
        let stmts = statements::split_all(req.statements, Dialect::Postgres);
        if stmts.is_empty() {
            return timed(self.default_delete(req.username)).await;
        }
        timed(async {
            {
                let conn = self.pool.get().await?;
                if !self.role_exists(&conn, req.username).await? {
                    return Ok(());
                }
            }
            let vars = Vars {
                name: Some(req.username),
                ..Vars::default()
            };
            self.in_transaction(&stmts, vars).await
        })
        .await
    }

    async fn set_password(&self, req: SetPassword<'_>) -> Result<(), DriverError> {
        let mut stmts = statements::split_all(req.statements, Dialect::Postgres);
        if stmts.is_empty() {
            stmts = statements::split(DEFAULT_SET_PASSWORD, Dialect::Postgres);
        }
        let password = self.sql_password(req.password);
        let vars = Vars {
            name: Some(req.username),
            password: Some(&password),
            expiration: None,
        };
        timed(self.in_transaction(&stmts, vars))
            .await
            .map_err(|e| e.redact(&[req.password, &password]))
    }

    async fn close(&self) {
        self.pool.close();
    }
}

/// Caps an operation at [`OPERATION_TIMEOUT`]; a timeout means the database is unavailable.
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

/// SQLSTATE classes after which a retry may succeed: connection exceptions (08), insufficient resources
/// (53), operator intervention such as shutdown or start-up (57), transaction rollbacks such as deadlocks (40).
fn retryable_state(code: &str) -> bool {
    ["08", "53", "57", "40"].iter().any(|c| code.starts_with(c))
}

/// Database errors keep the server's message (`ERROR: ... (SQLSTATE 42710)`, as pgx prints it). Other
/// errors are told apart by tokio-postgres's fixed descriptions (its error kind is private): failures to reach
/// or keep talking to the server may pass, anything else (authentication protocol, decoding) will not.
fn classify(e: &tokio_postgres::Error) -> DriverError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let msg = format!("{}: {} (SQLSTATE {code})", db.severity(), db.message());
        return if retryable_state(code) {
            DriverError::Unavailable(msg)
        } else {
            DriverError::Database(msg)
        };
    }
    let kind = e.to_string();
    let msg = match std::error::Error::source(e) {
        Some(src) => format!("{kind}: {src}"),
        None => kind.clone(),
    };
    const TRANSIENT: &[&str] = &[
        "error connecting to server",
        "error communicating with the server",
        "connection closed",
        "timeout waiting for server",
        "error performing TLS handshake",
        "unexpected message from server",
    ];
    if e.is_closed() || TRANSIENT.contains(&kind.as_str()) {
        DriverError::Unavailable(msg)
    } else if kind.starts_with("invalid c") {
        DriverError::Config(msg)
    } else {
        DriverError::Database(msg)
    }
}

/// A double-quoted identifier.
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn read_file(path: &str) -> Result<Vec<u8>, DriverError> {
    std::fs::read(path).map_err(|e| DriverError::Config(format!("cannot read {path}: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::driver::Plugin;

    fn settings(url: &str, password: &str) -> ConnectionSettings {
        let details = json!({"connection_url": url, "username": "admin", "password": password});
        ConnectionSettings::from_details(Plugin::Postgres, details.as_object().unwrap()).unwrap()
    }

    #[test]
    fn parses_urls_and_tls_modes() {
        let d = PgDriver::new(&settings(
            "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=require",
            "p@ss word",
        ))
        .unwrap();
        assert_eq!(d.pool.connector().config.get_user(), Some("admin"));
        assert_eq!(
            d.pool.connector().config.get_password(),
            Some("p@ss word".as_bytes())
        );
        assert!(matches!(
            d.pool.connector().config.get_ssl_mode(),
            SslMode::Require
        ));

        let d = PgDriver::new(&settings(
            "host=127.0.0.1 port=5432 user={{username}} password={{password}} sslmode=disable",
            "pw",
        ))
        .unwrap();
        assert_eq!(
            d.pool.connector().config.get_password(),
            Some("pw".as_bytes())
        );
        assert!(matches!(
            d.pool.connector().config.get_ssl_mode(),
            SslMode::Disable
        ));

        let e = PgDriver::new(&settings("postgres://h/db?sslmode=verify-full", "pw"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("sslrootcert"), "{e}");
        let e = PgDriver::new(&settings("postgres://h/db?sslmode=bogus", "pw"))
            .err()
            .unwrap();
        assert!(matches!(e, DriverError::Config(_)));
        let e = PgDriver::new(&settings("postgres://h/db?nonsense=1", "secretpw"))
            .err()
            .unwrap();
        assert!(!e.to_string().contains("secretpw"));
    }

    #[test]
    fn identifiers_and_states() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert!(retryable_state("08006"));
        assert!(retryable_state("57P03"));
        assert!(!retryable_state("42710"));
        assert!(!retryable_state("28P01"));
    }
}
