//! Typed connection settings, read from a config's free-form `connection_details` (which is stored and shown as
//! the client sent it, as OpenBao does). The same struct is snapshotted into every lease so that a credential
//! can be revoked after its config is gone.

use std::time::Duration;

use engine_sdk::field;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroize;

use crate::driver::Plugin;
use crate::username::UsernameTemplate;

/// How PostgreSQL receives new passwords.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PasswordAuthentication {
    /// In plaintext inside the statement (OpenBao's default).
    #[default]
    #[serde(rename = "password")]
    Password,
    /// Pre-hashed by the engine, so the plaintext never reaches the server or its logs.
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
}

/// MySQL TLS material (OpenBao's `tls_*` fields). PostgreSQL takes its TLS settings from the connection URL.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsSettings {
    /// PEM certificate and private key for client authentication.
    #[serde(default)]
    pub tls_certificate_key: String,
    /// PEM CA bundle that verifies the server.
    #[serde(default)]
    pub tls_ca: String,
    /// The name expected in the server's certificate.
    #[serde(default)]
    pub tls_server_name: String,
    /// Skip verification of the server's certificate.
    #[serde(default)]
    pub tls_skip_verify: bool,
}

impl TlsSettings {
    /// Whether any TLS option is set.
    pub fn is_set(&self) -> bool {
        !self.tls_certificate_key.is_empty() || !self.tls_ca.is_empty() || self.tls_skip_verify
    }
}

impl Drop for TlsSettings {
    fn drop(&mut self) {
        self.tls_certificate_key.zeroize();
    }
}

/// Everything needed to open a connection pool to one database.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionSettings {
    /// Which plugin speaks to the database.
    pub plugin: Plugin,
    /// The connection string, possibly with `{{username}}`/`{{password}}` placeholders.
    pub connection_url: String,
    /// The root user's name.
    #[serde(default)]
    pub username: String,
    /// The root user's password.
    #[serde(default)]
    pub password: String,
    /// Substitute the username and password into the URL without percent-escaping.
    #[serde(default)]
    pub disable_escaping: bool,
    /// PostgreSQL: how passwords are sent.
    #[serde(default)]
    pub password_authentication: PasswordAuthentication,
    /// MySQL TLS material.
    #[serde(default)]
    pub tls: TlsSettings,
    /// Pool size.
    #[serde(default = "default_max_open")]
    pub max_open_connections: u32,
    /// Idle connections kept.
    #[serde(default = "default_max_open")]
    pub max_idle_connections: u32,
    /// Seconds a connection may live (0 = forever).
    #[serde(default)]
    pub max_connection_lifetime: u64,
    /// The username template; empty = the plugin's default.
    #[serde(default)]
    pub username_template: String,
}

fn default_max_open() -> u32 {
    4
}

impl Drop for ConnectionSettings {
    fn drop(&mut self) {
        self.password.zeroize();
    }
}

// The password never appears in Debug output.
impl std::fmt::Debug for ConnectionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionSettings")
            .field("plugin", &self.plugin)
            .field("connection_url", &self.connection_url)
            .field("username", &self.username)
            .field("max_open_connections", &self.max_open_connections)
            .finish_non_exhaustive()
    }
}

impl ConnectionSettings {
    /// Reads and validates the settings from a config's `connection_details`. The error text is meant for the
    /// client (OpenBao prefixes it with `error creating database object: `).
    pub fn from_details(plugin: Plugin, details: &Map<String, Value>) -> Result<Self, String> {
        let s = |name: &str| field::string(details, name).map_err(|e| e.to_string());
        let connection_url = s("connection_url")?.unwrap_or_default();
        if connection_url.trim().is_empty() {
            return Err("connection_url cannot be empty".into());
        }
        let username = s("username")?.unwrap_or_default();
        let password = s("password")?.unwrap_or_default();
        let templated = |v: &str| v.contains("{{username}}") || v.contains("{{password}}");
        if templated(&username) || templated(&password) {
            return Err("username and/or password cannot contain the template variables".into());
        }
        let disable_escaping = field::boolean(details, "disable_escaping")
            .map_err(|e| e.to_string())?
            .unwrap_or(false);

        let max_open = match int(details, "max_open_connections")? {
            Some(n) if n > 0 => u32::try_from(n).unwrap_or(u32::MAX),
            _ => default_max_open(),
        };
        let max_idle = match int(details, "max_idle_connections")? {
            None | Some(0) => max_open,
            Some(n) if n < 0 => 0,
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX).min(max_open),
        };
        let lifetime = field::duration(details, "max_connection_lifetime")
            .map_err(|e| format!("invalid max_connection_lifetime: {e}"))?
            .unwrap_or(Duration::ZERO);

        let password_authentication = match s("password_authentication")?.as_deref() {
            None | Some("") | Some("password") => PasswordAuthentication::Password,
            Some("scram-sha-256") => PasswordAuthentication::ScramSha256,
            Some(other) => {
                return Err(format!(
                    "'{other}' is not a valid password authentication type"
                ));
            }
        };

        let tls = TlsSettings {
            tls_certificate_key: s("tls_certificate_key")?.unwrap_or_default(),
            tls_ca: s("tls_ca")?.unwrap_or_default(),
            tls_server_name: s("tls_server_name")?.unwrap_or_default(),
            tls_skip_verify: field::boolean(details, "tls_skip_verify")
                .map_err(|e| e.to_string())?
                .unwrap_or(false),
        };

        let username_template = s("username_template")?.unwrap_or_default();
        let settings = Self {
            plugin,
            connection_url,
            username,
            password,
            disable_escaping,
            password_authentication,
            tls,
            max_open_connections: max_open,
            max_idle_connections: max_idle,
            max_connection_lifetime: lifetime.as_secs(),
            username_template,
        };
        // Like OpenBao, a template that cannot render is refused when the config is written.
        settings
            .template()?
            .render("", "")
            .map_err(|e| format!("invalid username template: {e}"))?;
        Ok(settings)
    }

    /// The compiled username template (the config's, or the plugin's default).
    pub fn template(&self) -> Result<UsernameTemplate, String> {
        let raw = if self.username_template.is_empty() {
            self.plugin.default_username_template()
        } else {
            &self.username_template
        };
        UsernameTemplate::parse(raw)
            .map_err(|e| format!("unable to initialize username template: {e}"))
    }

    /// The same settings with another password (root rotation tries the new one before storing it).
    pub fn with_password(&self, password: &str) -> Self {
        let mut s = self.clone();
        password.clone_into(&mut s.password);
        s
    }

    /// The connection lifetime cap, if any.
    pub fn lifetime(&self) -> Option<Duration> {
        (self.max_connection_lifetime > 0)
            .then(|| Duration::from_secs(self.max_connection_lifetime))
    }
}

/// A signed integer field (numbers or numeric strings).
fn int(data: &Map<String, Value>, name: &str) -> Result<Option<i64>, String> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("field {name:?} must be an integer")),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("field {name:?} must be an integer")),
        Some(_) => Err(format!("field {name:?} must be an integer")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use serde_json::json;

    use super::*;

    fn details(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn defaults_and_limits() {
        let s = ConnectionSettings::from_details(
            Plugin::Postgres,
            &details(json!({"connection_url": "postgresql://{{username}}:{{password}}@h/db",
                "username": "u", "password": "p", "max_idle_connections": 9, "max_connection_lifetime": "5s"})),
        )
        .unwrap();
        assert_eq!(s.max_open_connections, 4);
        assert_eq!(s.max_idle_connections, 4);
        assert_eq!(s.lifetime(), Some(Duration::from_secs(5)));
        assert_eq!(s.password_authentication, PasswordAuthentication::Password);
        assert!(!format!("{s:?}").contains("\"p\""));

        let s = ConnectionSettings::from_details(
            Plugin::Mysql,
            &details(json!({"connection_url": "x", "max_open_connections": "2", "max_idle_connections": -1})),
        )
        .unwrap();
        assert_eq!((s.max_open_connections, s.max_idle_connections), (2, 0));
    }

    #[test]
    fn rejects_bad_input() {
        let err =
            |v: Value| ConnectionSettings::from_details(Plugin::Postgres, &details(v)).unwrap_err();
        assert_eq!(err(json!({})), "connection_url cannot be empty");
        assert!(
            err(json!({"connection_url": "x", "username": "{{password}}"})).contains("template")
        );
        assert!(
            err(json!({"connection_url": "x", "password_authentication": "md5"})).contains("md5")
        );
        assert!(
            err(json!({"connection_url": "x", "username_template": "{{ nope }}"}))
                .contains("template")
        );
        assert!(
            err(json!({"connection_url": "x", "max_connection_lifetime": "soon"}))
                .contains("lifetime")
        );
    }

    #[test]
    fn snapshot_round_trips() {
        let s = ConnectionSettings::from_details(
            Plugin::Postgres,
            &details(
                json!({"connection_url": "u", "username": "a", "password": "b",
                "password_authentication": "scram-sha-256"}),
            ),
        )
        .unwrap();
        let back: ConnectionSettings =
            serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
