//! The narrow seam between the engine and a database: a [`DatabaseDriver`] creates, renews, re-passwords and
//! drops users, and nothing else. One implementation per database family ([`crate::postgres`],
//! [`crate::mysql`]), both tested against real servers.

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::settings::ConnectionSettings;

/// The database plugins this engine serves, under OpenBao's plugin names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Plugin {
    /// `postgresql-database-plugin`.
    #[serde(rename = "postgresql-database-plugin")]
    Postgres,
    /// `mysql-database-plugin` (MySQL 5.7+, MariaDB).
    #[serde(rename = "mysql-database-plugin")]
    Mysql,
    /// `mysql-aurora-database-plugin`.
    #[serde(rename = "mysql-aurora-database-plugin")]
    MysqlAurora,
    /// `mysql-rds-database-plugin`.
    #[serde(rename = "mysql-rds-database-plugin")]
    MysqlRds,
    /// `mysql-legacy-database-plugin` (MySQL before 5.7: 16-character user names).
    #[serde(rename = "mysql-legacy-database-plugin")]
    MysqlLegacy,
}

/// OpenBao's default username templates.
const PG_USERNAME_TEMPLATE: &str = r#"{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 8) (.RoleName | truncate 8) (random 20) (unix_time) | truncate 63 }}"#;
const MYSQL_USERNAME_TEMPLATE: &str = r#"{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 10) (.RoleName | truncate 10) (random 20) (unix_time) | truncate 32 }}"#;
const MYSQL_LEGACY_USERNAME_TEMPLATE: &str =
    r#"{{ printf "v-%s-%s-%s" (.RoleName | truncate 4) (random 20) | truncate 16 }}"#;

impl Plugin {
    /// The plugin for an OpenBao plugin name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "postgresql-database-plugin" => Self::Postgres,
            "mysql-database-plugin" => Self::Mysql,
            "mysql-aurora-database-plugin" => Self::MysqlAurora,
            "mysql-rds-database-plugin" => Self::MysqlRds,
            "mysql-legacy-database-plugin" => Self::MysqlLegacy,
            _ => return None,
        })
    }

    /// OpenBao's name for the plugin.
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgresql-database-plugin",
            Self::Mysql => "mysql-database-plugin",
            Self::MysqlAurora => "mysql-aurora-database-plugin",
            Self::MysqlRds => "mysql-rds-database-plugin",
            Self::MysqlLegacy => "mysql-legacy-database-plugin",
        }
    }

    /// Whether this is one of the MySQL family.
    pub fn is_mysql(self) -> bool {
        !matches!(self, Self::Postgres)
    }

    /// The username template used when the config sets none (OpenBao's per-plugin defaults: Aurora and RDS use
    /// the legacy 16-character one, as OpenBao registers them).
    pub fn default_username_template(self) -> &'static str {
        match self {
            Self::Postgres => PG_USERNAME_TEMPLATE,
            Self::Mysql => MYSQL_USERNAME_TEMPLATE,
            Self::MysqlAurora | Self::MysqlRds | Self::MysqlLegacy => {
                MYSQL_LEGACY_USERNAME_TEMPLATE
            }
        }
    }

    /// The longest user name the database accepts (PostgreSQL's NAMEDATALEN - 1, MySQL 5.7+'s 32, MySQL
    /// before 5.7's 16).
    pub fn max_username_len(self) -> usize {
        match self {
            Self::Postgres => 63,
            Self::Mysql | Self::MysqlAurora | Self::MysqlRds => 32,
            Self::MysqlLegacy => 16,
        }
    }
}

/// Why a database operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The connection settings are unusable (unparsable URL, bad TLS material): fixing them is the operator's
    /// job, retrying cannot help.
    #[error("{0}")]
    Config(String),
    /// The database could not be reached or dropped the connection: a retry may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// The database refused the statement or the login; the message is the database's.
    #[error("{0}")]
    Database(String),
}

impl DriverError {
    /// Whether trying again later may succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// The same error with every occurrence of the given secrets replaced by `[password]`, so that a statement
    /// echoed back by the database (MySQL quotes the text near a syntax error) never leaks a password.
    pub fn redact(self, secrets: &[&str]) -> Self {
        let scrub = |mut m: String| {
            for s in secrets.iter().filter(|s| s.len() >= 4) {
                m = m.replace(*s, "[password]");
            }
            m
        };
        match self {
            Self::Config(m) => Self::Config(scrub(m)),
            Self::Unavailable(m) => Self::Unavailable(scrub(m)),
            Self::Database(m) => Self::Database(scrub(m)),
        }
    }
}

/// A new dynamic user.
pub struct NewUser<'a> {
    /// The generated user name.
    pub username: &'a str,
    /// The generated password.
    pub password: &'a str,
    /// When the credential expires (for `{{expiration}}`).
    pub expiration: SystemTime,
    /// The role's creation statements (raw, as stored).
    pub creation: &'a [String],
    /// The role's rollback statements, run when creation fails.
    pub rollback: &'a [String],
}

/// A renewal: push the user's expiry out.
pub struct RenewUser<'a> {
    /// The user.
    pub username: &'a str,
    /// The new expiry (for `{{expiration}}`).
    pub expiration: SystemTime,
    /// The role's renew statements; empty = the plugin's default.
    pub statements: &'a [String],
}

/// A revocation: remove the user.
pub struct DeleteUser<'a> {
    /// The user.
    pub username: &'a str,
    /// The role's revocation statements; empty = the plugin's default.
    pub statements: &'a [String],
}

/// A password change (static-role rotation, root rotation).
pub struct SetPassword<'a> {
    /// The user.
    pub username: &'a str,
    /// The new password.
    pub password: &'a str,
    /// Rotation statements; empty = the plugin's default `ALTER ... PASSWORD`.
    pub statements: &'a [String],
}

/// What the engine needs from a database. Implementations own a small connection pool.
#[async_trait]
pub trait DatabaseDriver: Send + Sync {
    /// Connects (or takes a pooled connection) and runs a trivial query.
    async fn verify(&self) -> Result<(), DriverError>;

    /// Creates a user with the creation statements, atomically where the database allows; on failure runs
    /// the rollback statements and removes whatever was created.
    async fn create_user(&self, req: NewUser<'_>) -> Result<(), DriverError>;

    /// Extends a user's validity.
    async fn renew_user(&self, req: RenewUser<'_>) -> Result<(), DriverError>;

    /// Removes a user; a user that does not exist counts as removed.
    async fn delete_user(&self, req: DeleteUser<'_>) -> Result<(), DriverError>;

    /// Changes a user's password.
    async fn set_password(&self, req: SetPassword<'_>) -> Result<(), DriverError>;

    /// Closes the pool's connections; later calls fail.
    async fn close(&self);
}

/// A driver for `settings`. Connections are made lazily: nothing is dialled until the first call.
pub fn open(settings: &ConnectionSettings) -> Result<Arc<dyn DatabaseDriver>, DriverError> {
    if settings.plugin.is_mysql() {
        Ok(Arc::new(crate::mysql::MysqlDriver::new(settings)?))
    } else {
        Ok(Arc::new(crate::postgres::PgDriver::new(settings)?))
    }
}

/// `{{expiration}}` as OpenBao renders it (`2006-01-02 15:04:05-0700`, UTC).
pub fn format_expiration(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let dt = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}+0000",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::time::Duration;

    use super::*;

    #[test]
    fn plugin_names_round_trip() {
        for p in [
            Plugin::Postgres,
            Plugin::Mysql,
            Plugin::MysqlAurora,
            Plugin::MysqlRds,
            Plugin::MysqlLegacy,
        ] {
            assert_eq!(Plugin::from_name(p.name()), Some(p));
        }
        assert_eq!(Plugin::from_name("mongodb-database-plugin"), None);
    }

    #[test]
    fn expiration_format() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_234_567_890);
        assert_eq!(format_expiration(t), "2009-02-13 23:31:30+0000");
    }

    #[test]
    fn redact_hides_secrets() {
        let e = DriverError::Database("near 'hunter22' at line 1".into()).redact(&["hunter22", ""]);
        assert_eq!(e.to_string(), "near '[password]' at line 1");
        assert!(!e.retryable());
        assert!(DriverError::Unavailable("x".into()).retryable());
    }
}
