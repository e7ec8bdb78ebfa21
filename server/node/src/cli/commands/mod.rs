//! Client subcommands and the output helpers they share.

mod audit;
mod auth;
mod kv;
mod lease;
mod logical;
mod login;
mod mounts;
mod operator;
mod policy;
mod secrets;
mod status;
mod token;
mod unwrap;

pub(super) use audit::AuditCmd;
pub use auth::AuthCmd;
pub use kv::{KvCmd, KvMetadataCmd};
pub(super) use lease::LeaseCmd;
pub use login::LoginArgs;
pub use mounts::{ConfigFlags, EnableFlags};
pub use policy::PolicyCmd;
pub use secrets::SecretsCmd;
pub use token::{TokenCmd, TokenCreateArgs};

use std::io::ErrorKind;

use serde::Serialize;
use serde_json::Value;
use zeroize::Zeroizing;

use super::args::{Command, GlobalArgs, OutputFormat};
use super::client::{ApiClient, ApiError, ClientConfig};
use super::format::{
    go_value, key_value_table, map_rows, secret_table, sorted, table, to_json, warnings_block,
};
use super::secret::{Secret, SecretAuth};
use super::{ClientEnv, Io};

/// Everything a command needs.
pub(crate) struct Ctx<'a, 'b> {
    pub(crate) io: &'a mut Io<'b>,
    pub(crate) env: &'a ClientEnv,
    pub(crate) global: &'a GlobalArgs,
}

impl Ctx<'_, '_> {
    pub(crate) fn json(&self) -> bool {
        self.global.format == OutputFormat::Json
    }

    /// A client without a token (for `login`).
    pub(crate) fn client_without_token(&self) -> Result<ApiClient, ApiError> {
        ApiClient::new(ClientConfig {
            address: self.global.address.clone(),
            ca_cert: self.global.ca_cert.clone(),
            tls_skip_verify: self.global.tls_skip_verify,
            timeout: self.global.client_timeout,
            token: None,
            // Vault ignores a zero -wrap-ttl.
            wrap_ttl: self
                .global
                .wrap_ttl
                .filter(|ttl| ttl.0 != 0)
                .map(|ttl| ttl.go_string()),
        })
    }

    /// The client, or print why not and give vault's exit code 2.
    pub(crate) fn api(&mut self) -> Result<ApiClient, i32> {
        self.client().map_err(|err| {
            self.io.err(&err.to_string());
            2
        })
    }

    /// Print a usage error (exit code 1).
    pub(crate) fn usage(&mut self, message: &str) -> i32 {
        self.io.err(message);
        1
    }

    /// Print an API failure as `<what>: <error>` (exit code 2).
    pub(crate) fn fail(&mut self, what: &str, err: &ApiError) -> i32 {
        self.io.err(&format!("{what}: {err}"));
        2
    }

    /// Print any serializable value as vault's indented JSON.
    pub(crate) fn print_json<T: Serialize + ?Sized>(&mut self, value: &T) -> i32 {
        self.io.out(&to_json(value));
        0
    }

    /// Vault's `OutputData` for a map: JSON, or a `Key`/`Value` table (nothing when empty).
    pub(crate) fn print_map(&mut self, map: &serde_json::Map<String, Value>) -> i32 {
        if self.json() {
            return self.print_json(&sorted(&Value::Object(map.clone())));
        }
        if !map.is_empty() {
            self.io.out(&key_value_table(map_rows(map)));
        }
        0
    }

    /// Vault's `OutputList` for a list response: JSON keys, or warnings then a sorted `Keys` table.
    pub(crate) fn print_list(&mut self, secret: &Secret) -> i32 {
        let keys = secret
            .data
            .as_ref()
            .and_then(|d| d.get("keys"))
            .cloned()
            .unwrap_or(Value::Null);
        if self.json() {
            return self.print_json(&sorted(&keys));
        }
        self.print_warnings(secret);
        let items = keys.as_array().cloned().unwrap_or_default();
        let mut names = Vec::with_capacity(items.len());
        for key in &items {
            let Some(name) = key.as_str() else {
                self.io.err(&format!(
                    "Could not parse output: {} is not a string",
                    go_value(key)
                ));
                return 1;
            };
            names.push(name.to_owned());
        }
        if !names.is_empty() {
            names.sort();
            self.io.out(&table(
                &["Keys"],
                names.into_iter().map(|n| vec![n]).collect(),
            ));
        }
        0
    }

    /// A client carrying `VAULT_TOKEN`, else the token file's token.
    pub(crate) fn client(&self) -> Result<ApiClient, ApiError> {
        let mut client = self.client_without_token()?;
        client.set_token(self.token()?);
        Ok(client)
    }

    fn token(&self) -> Result<Option<Zeroizing<String>>, ApiError> {
        if let Some(token) = &self.env.token {
            return Ok(Some(token.clone()));
        }
        let Some(path) = &self.env.token_file else {
            return Ok(None);
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                let token = text.trim();
                Ok((!token.is_empty()).then(|| Zeroizing::new(token.to_owned())))
            }
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
            Err(err) => Err(ApiError::Config(format!(
                "failed to get token from token helper: error reading {}: {err}",
                path.display()
            ))),
        }
    }

    /// Print a secret as vault does: JSON, or warnings (stderr) then the table.
    pub(crate) fn print_secret(&mut self, secret: &Secret) -> i32 {
        if self.json() {
            self.io.out(&to_json(&SecretJson::new(secret)));
            return 0;
        }
        self.print_warnings(secret);
        if let Some(table) = secret_table(secret) {
            self.io.out(&table);
        }
        0
    }

    pub(crate) fn print_warnings(&mut self, secret: &Secret) {
        if let Some(block) = warnings_block(secret.warnings()) {
            self.io.err_raw(&block);
        }
    }

    /// Print one field of a secret raw (vault's `-field`); exit 1 if it is absent.
    pub(crate) fn print_raw_field(&mut self, secret: &Secret, field: &str) -> i32 {
        let value = raw_secret_field(secret, field);
        self.print_field_value(value, field, "secret", Some(secret))
    }

    /// Print one key of a data map raw (vault's `PrintRawField` on a map); exit 1 if it is absent.
    pub(crate) fn print_map_field(
        &mut self,
        map: &serde_json::Map<String, Value>,
        field: &str,
    ) -> i32 {
        self.print_field_value(map.get(field).cloned(), field, "map", None)
    }

    fn print_field_value(
        &mut self,
        value: Option<Value>,
        field: &str,
        type_name: &str,
        secret: Option<&Secret>,
    ) -> i32 {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            self.io.err(&format!(
                "Field {} not present in {type_name}",
                quoted(field)
            ));
            return 1;
        };
        let text = if self.json() {
            to_json(&sorted(&value))
        } else {
            if let Some(secret) = secret {
                self.print_warnings(secret);
            }
            go_value(&value)
        };
        self.print_raw(&text);
        0
    }

    /// Raw output: vault adds a newline only when writing to a terminal.
    pub(crate) fn print_raw(&mut self, text: &str) {
        if self.env.stdout_is_tty {
            self.io.out(text);
        } else {
            self.io.out_raw(text);
        }
    }

    /// Read one line of secret input, hiding it when stdin is a terminal.
    pub(crate) fn read_secret_line(&mut self, prompt: &str) -> std::io::Result<Zeroizing<String>> {
        let tty = self.env.stdin_is_tty;
        if tty {
            self.io.err_raw(prompt);
            set_echo(false);
        }
        let mut line = Zeroizing::new(String::new());
        let result = self.io.stdin.read_line(&mut line);
        if tty {
            set_echo(true);
            self.io.err("");
        }
        result?;
        Ok(Zeroizing::new(line.trim().to_owned()))
    }
}

/// Toggle terminal echo with `stty` (no extra dependency, no unsafe); failures just leave echo on.
fn set_echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// An I/O error as Go's `*PathError` prints it: `open /x: no such file or directory`.
pub(crate) fn go_os_error(op: &str, path: &str, err: &std::io::Error) -> String {
    let text = err.to_string();
    let message = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = message.chars();
    let lowered = chars
        .next()
        .map(|c| c.to_lowercase().collect::<String>() + chars.as_str())
        .unwrap_or_default();
    format!("{op} {path}: {lowered}")
}

pub(crate) fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| s.to_owned())
}

/// Vault's `RawSecretField`: auth and lease fields by name, else a data key.
fn raw_secret_field(secret: &Secret, field: &str) -> Option<Value> {
    let data_field = || secret.data.as_ref().and_then(|d| d.get(field)).cloned();
    if let Some(auth) = &secret.auth {
        return match field {
            "token" => Some(Value::from(auth.client_token.as_str())),
            "token_accessor" => Some(Value::from(auth.accessor.as_str())),
            "token_duration" => Some(Value::from(auth.lease_duration)),
            "token_renewable" => Some(Value::from(auth.renewable)),
            "token_policies" => Some(list_value(auth.token_policies.as_deref())),
            "identity_policies" => Some(list_value(auth.identity_policies.as_deref())),
            "policies" => Some(list_value(auth.policies.as_deref())),
            _ => data_field(),
        };
    }
    if let Some(Value::Object(wrap)) = &secret.wrap_info {
        let key = match field {
            "wrapping_token" => Some("token"),
            "wrapping_accessor" => Some("accessor"),
            "wrapping_token_ttl" => Some("ttl"),
            "wrapping_token_creation_time" => Some("creation_time"),
            "wrapping_token_creation_path" => Some("creation_path"),
            "wrapped_accessor" => Some("wrapped_accessor"),
            _ => None,
        };
        return match key {
            Some(key) => wrap.get(key).cloned(),
            None => data_field(),
        };
    }
    match field {
        "lease_duration" | "refresh_interval" => Some(Value::from(secret.lease_duration)),
        "lease_id" => Some(Value::from(secret.lease_id.as_str())),
        "request_id" => Some(Value::from(secret.request_id.as_str())),
        "renewable" => Some(Value::from(secret.renewable)),
        "data" => data_field().or_else(|| secret.data.clone().map(Value::Object)),
        _ => data_field(),
    }
}

fn list_value(items: Option<&[String]>) -> Value {
    items.map_or(Value::Null, |items| Value::from(items.to_vec()))
}

/// A secret serialized in vault's field order with Go-sorted maps.
#[derive(Serialize)]
struct SecretJson<'a> {
    request_id: &'a str,
    lease_id: &'a str,
    lease_duration: i64,
    renewable: bool,
    data: Option<Value>,
    warnings: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<&'a SecretAuth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wrap_info: Option<Value>,
}

impl<'a> SecretJson<'a> {
    fn new(secret: &'a Secret) -> Self {
        Self {
            request_id: &secret.request_id,
            lease_id: &secret.lease_id,
            lease_duration: secret.lease_duration,
            renewable: secret.renewable,
            data: secret
                .data
                .as_ref()
                .map(|d| sorted(&Value::Object(d.clone()))),
            warnings: secret.warnings.as_deref(),
            auth: secret.auth.as_ref(),
            wrap_info: secret.wrap_info.as_ref().map(sorted),
        }
    }
}

/// Vault's `sanitizePath`: trim whitespace and leading/trailing slashes.
pub(crate) fn sanitize_path(path: &str) -> String {
    path.trim()
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_owned()
}

/// Run one client command.
pub(crate) async fn dispatch(
    global: &GlobalArgs,
    command: Command,
    env: &ClientEnv,
    io: &mut Io<'_>,
) -> i32 {
    let mut ctx = Ctx { io, env, global };
    match command {
        Command::Server(_) => {
            ctx.io
                .err("The server command is run by the coffer binary, not the client.");
            1
        }
        Command::Status => status::status(&mut ctx).await,
        Command::Operator(op) => operator::run(&mut ctx, op).await,
        Command::Read { path, field } => logical::read(&mut ctx, &path, field.as_deref()).await,
        Command::Write {
            path,
            kvs,
            force,
            field,
        } => logical::write(&mut ctx, &path, &kvs, force, field.as_deref()).await,
        Command::List { path } => logical::list(&mut ctx, &path).await,
        Command::Delete { path } => logical::delete(&mut ctx, &path).await,
        Command::Login(args) => login::login(&mut ctx, args).await,
        Command::Token(cmd) => token::run(&mut ctx, cmd).await,
        Command::Policy(cmd) => policy::run(&mut ctx, cmd).await,
        Command::Lease(cmd) => lease::run(&mut ctx, cmd).await,
        Command::Audit(cmd) => audit::run(&mut ctx, cmd).await,
        Command::Secrets(cmd) => secrets::run(&mut ctx, cmd).await,
        Command::Auth(cmd) => auth::run(&mut ctx, cmd).await,
        Command::Kv(cmd) => kv::run(&mut ctx, cmd).await,
        Command::Unwrap(unwrap) => unwrap::unwrap(&mut ctx, &unwrap.args).await,
        Command::Version => {
            ctx.io
                .out(&format!("Coffer v{}", env!("CARGO_PKG_VERSION")));
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_style_io_errors() {
        let err = std::fs::File::open("/nonexistent/x").unwrap_err();
        assert_eq!(
            go_os_error("open", "/nonexistent/x", &err),
            "open /nonexistent/x: no such file or directory"
        );
    }

    #[test]
    fn sanitize() {
        assert_eq!(sanitize_path(" /kv/foo/ "), "kv/foo");
        assert_eq!(sanitize_path("kv//"), "kv");
    }

    #[test]
    fn raw_fields() {
        let secret: Secret = serde_json::from_value(json!({
            "request_id": "r", "lease_duration": 60, "data": {"a": "1", "n": null, "data": {"x": 1}},
        }))
        .unwrap();
        assert_eq!(raw_secret_field(&secret, "a"), Some(json!("1")));
        assert_eq!(raw_secret_field(&secret, "n"), Some(Value::Null));
        assert_eq!(
            raw_secret_field(&secret, "refresh_interval"),
            Some(json!(60))
        );
        assert_eq!(raw_secret_field(&secret, "data"), Some(json!({"x": 1})));
        assert_eq!(raw_secret_field(&secret, "missing"), None);
    }

    #[test]
    fn secret_json_keeps_vault_field_order() {
        let secret: Secret = serde_json::from_value(json!({
            "warnings": null, "data": {"b": 1, "a": 2}, "renewable": false, "lease_duration": 0, "lease_id": "", "request_id": "r",
            "wrap_info": null,
        }))
        .unwrap();
        assert_eq!(
            to_json(&SecretJson::new(&secret)),
            "{\n  \"request_id\": \"r\",\n  \"lease_id\": \"\",\n  \"lease_duration\": 0,\n  \"renewable\": false,\n  \"data\": {\n    \"a\": 2,\n    \"b\": 1\n  },\n  \"warnings\": null\n}"
        );
    }
}
