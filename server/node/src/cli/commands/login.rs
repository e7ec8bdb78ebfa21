//! `login [-method=token|userpass] [-path=P] [TOKEN | K=V...]`: authenticate, store the token in the
//! token file (unless `-no-store`), and print it like vault.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use clap::Args;
use clap::builder::BoolishValueParser;
use serde_json::{Map, Value, json};
use zeroize::{Zeroize, Zeroizing};

use super::unwrap::unwrap_secret;
use super::{Ctx, sanitize_path};
use crate::cli::client::{ApiClient, Wrapping};
use crate::cli::commands::mounts::ensure_trailing_slash;
use crate::cli::format::wrap_at_length;
use crate::cli::kv::parse_kv_args;
use crate::cli::secret::{Secret, SecretAuth};

/// Flags and arguments of `login`. `Debug` leaves out the arguments (tokens, passwords).
#[derive(Clone, Args)]
pub struct LoginArgs {
    /// Auth method type: `token` or `userpass`.
    #[arg(long, default_value = "token")]
    pub method: String,
    /// Mount path of the auth method (defaults to the type).
    #[arg(long, default_value = "")]
    pub path: String,
    /// Do not store the token in the token file.
    #[arg(long = "no-store", num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = BoolishValueParser::new())]
    pub no_store: bool,
    /// Do not print the token.
    #[arg(long = "no-print", num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = BoolishValueParser::new())]
    pub no_print: bool,
    /// Print only the token, unverified and unstored (`-field=token -no-store`).
    #[arg(long = "token-only", num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = BoolishValueParser::new())]
    pub token_only: bool,
    /// Print only this field, raw.
    #[arg(long)]
    pub field: Option<String>,
    /// `TOKEN` (`-` reads stdin) for the token method, else `K=V` pairs such as `username=... password=...`.
    pub args: Vec<String>,
}

impl std::fmt::Debug for LoginArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginArgs")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("no_store", &self.no_store)
            .field("no_print", &self.no_print)
            .field("token_only", &self.token_only)
            .field("field", &self.field)
            .field("args", &format_args!("<{} redacted>", self.args.len()))
            .finish()
    }
}

/// Credentials given as `K=V`; values are scrubbed on drop.
struct Config(BTreeMap<String, Zeroizing<String>>);

impl Config {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_str())
    }
}

/// Scrub string values out of a parsed JSON map (serde_json values are not `Zeroize`).
fn scrub(map: &mut Map<String, Value>) {
    for value in map.values_mut() {
        if let Value::String(text) = value {
            text.zeroize();
        }
    }
}

/// Vault's weak decoding of `K=V` data into strings.
fn config_strings(mut map: Map<String, Value>) -> Result<Config, String> {
    let mut out = BTreeMap::new();
    let mut failed = None;
    for (key, value) in &map {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
            Value::Null => String::new(),
            _ => {
                failed = Some(key.clone());
                continue;
            }
        };
        out.insert(key.clone(), Zeroizing::new(text));
    }
    scrub(&mut map);
    match failed {
        Some(key) => Err(format!(
            "failed to convert values to strings: 1 error(s) decoding:\n\n* '{key}' expected type 'string'"
        )),
        None => Ok(Config(out)),
    }
}

/// Print a prompt and read a hidden line; like vault, this needs a terminal.
fn prompt_hidden(ctx: &mut Ctx<'_, '_>, prompt: &str) -> Result<Zeroizing<String>, String> {
    if !ctx.env.stdin_is_tty {
        ctx.io.err_raw(prompt);
        ctx.io.err("");
        return Err("file descriptor 0 is not a terminal".to_owned());
    }
    ctx.read_secret_line(prompt).map_err(|e| e.to_string())
}

/// Vault's `strconv.ParseBool`.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The token auth handler: verify the token with `lookup-self` (unless `lookup=false`).
async fn token_auth(
    ctx: &mut Ctx<'_, '_>,
    client: &mut ApiClient,
    config: &Config,
) -> Result<Secret, String> {
    let lookup = match config.get("lookup") {
        Some(text) => parse_go_bool(text).ok_or_else(|| {
            format!(
                "Failed to parse \"lookup\" as boolean: strconv.ParseBool: parsing {}: invalid syntax",
                super::quoted(text)
            )
        })?,
        None => true,
    };
    let token = match config.get("token") {
        Some(token) => Zeroizing::new(token.trim().to_owned()),
        None => {
            let token = prompt_hidden(ctx, "Token (will be hidden): ").map_err(|e| {
                format!(
                    "An error occurred attempting to ask for a token. The raw error message is shown below, \
                     but usually this is because you attempted to pipe a value into the command or you are \
                     executing outside of a terminal (tty). If you want to pipe the value, pass \"-\" as the \
                     argument to read from stdin. The raw error was: {e}"
                )
            })?;
            Zeroizing::new(token.trim().to_owned())
        }
    };
    if token.is_empty() {
        return Err(
            "a token must be passed to auth, please view the help for more information".to_owned(),
        );
    }
    if !lookup {
        let mut auth = SecretAuth::default();
        auth.client_token = token.to_string();
        return Ok(Secret {
            auth: Some(auth),
            ..Secret::default()
        });
    }
    client.set_token(Some(token.clone()));
    client.set_wrapping(Wrapping::Off);
    let lookup = client
        .write_method(reqwest::Method::GET, "auth/token/lookup-self", None)
        .await
        .map_err(|e| format!("error looking up token: {e}"))?
        .ok_or_else(|| "empty response from lookup-self".to_owned())?;
    Ok(Secret {
        auth: Some(auth_from_lookup(&token, lookup.data.as_ref())),
        ..Secret::default()
    })
}

/// The userpass auth handler: `PUT auth/<mount>/login/<username>` with the password.
async fn userpass_auth(
    ctx: &mut Ctx<'_, '_>,
    client: &ApiClient,
    config: &Config,
) -> Result<Secret, String> {
    let username = config.get("username").unwrap_or_default().to_owned();
    if username.is_empty() {
        return Err("'username' must be specified".to_owned());
    }
    let password = match config.get("password").filter(|p| !p.is_empty()) {
        Some(password) => Zeroizing::new(password.to_owned()),
        None => prompt_hidden(ctx, "Password (will be hidden): ")?,
    };
    let mount = config.get("mount").unwrap_or("userpass").to_owned();
    let mut body = json!({"password": password.as_str()});
    let result = client
        .write(&format!("auth/{mount}/login/{username}"), &body)
        .await;
    if let Some(map) = body.as_object_mut() {
        scrub(map);
    }
    result
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "empty response from credential provider".to_owned())
}

/// Follow response wrapping to the auth secret; `Ok((secret, true))` when it stays wrapped.
async fn extract_token(
    client: &mut ApiClient,
    mut secret: Secret,
    unwrap: bool,
) -> Result<(Secret, bool), String> {
    loop {
        if secret.auth.is_some() {
            return Ok((secret, false));
        }
        let Some(Value::Object(wrap)) = &secret.wrap_info else {
            return Err("no auth or wrapping info in response".to_owned());
        };
        let accessor = wrap
            .get("wrapped_accessor")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if accessor.is_empty() {
            return Err("wrapped response does not contain a token".to_owned());
        }
        if !unwrap {
            return Ok((secret, true));
        }
        let token = wrap
            .get("token")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        client.set_token(Some(Zeroizing::new(token)));
        secret = unwrap_secret(client, "")
            .await?
            .ok_or_else(|| "empty response from auth helper".to_owned())?;
    }
}

/// Run `login`; exit 1 for usage errors, 2 for authentication or storage failures.
pub(crate) async fn login(ctx: &mut Ctx<'_, '_>, args: LoginArgs) -> i32 {
    let LoginArgs {
        method,
        path,
        mut no_store,
        no_print,
        token_only,
        mut field,
        args,
    } = args;
    if token_only {
        no_store = true;
        field = Some("token".to_owned());
    }
    if no_store && no_print {
        return ctx.usage(&wrap_at_length(
            "-no-store and -no-print cannot be used together",
            0,
        ));
    }
    let mut method = sanitize_path(&method);
    if method.is_empty() {
        method = "token".to_owned();
    }
    let auth_path = if path.is_empty() {
        ensure_trailing_slash(&method)
    } else {
        path
    };
    if method != "token" && method != "userpass" {
        return ctx.usage(&wrap_at_length(
            &format!(
                "Unknown auth method: {method}. Use \"coffer auth list\" to see the complete list of auth \
                 methods. Additionally, some auth methods are only available via the HTTP API."
            ),
            0,
        ));
    }
    let mut args = args;
    if method == "token"
        && let Some(first) = args.first_mut()
        && !first.contains('=')
    {
        *first = format!("token={first}");
    }
    let parsed = parse_kv_args(&args, &mut *ctx.io.stdin).map_err(|e| e.to_string());
    for arg in &mut args {
        arg.zeroize();
    }
    let config = match parsed.and_then(config_strings) {
        Ok(mut config) => {
            if config.get("mount").is_none_or(str::is_empty) && !auth_path.is_empty() {
                config.0.insert("mount".into(), Zeroizing::new(auth_path));
            }
            config
        }
        Err(message) => {
            return ctx.usage(&format!("Error parsing configuration: {message}"));
        }
    };
    let mut client = match ctx.client_without_token() {
        Ok(client) => client,
        Err(err) => {
            ctx.io.err(&err.to_string());
            return 2;
        }
    };
    let secret = if method == "token" {
        token_auth(ctx, &mut client, &config).await
    } else {
        userpass_auth(ctx, &client, &config).await
    };
    let secret = match secret {
        Ok(secret) => secret,
        Err(message) => {
            ctx.io.err(&format!("Error authenticating: {message}"));
            return 2;
        }
    };
    // A wrapped login response is unwrapped without asking for more wrapping.
    client.set_wrapping(Wrapping::Off);
    let (secret, wrapped) = match extract_token(&mut client, secret, !token_only && !no_store).await
    {
        Ok(found) => found,
        Err(message) => {
            ctx.io.err(&format!("Error extracting token: {message}"));
            return 2;
        }
    };
    if wrapped {
        if token_only {
            return ctx.print_raw_field(&secret, "wrapping_token");
        }
        if no_store {
            return ctx.print_secret(&secret);
        }
    }
    let Some(auth) = &secret.auth else {
        ctx.io.err(&wrap_at_length(
            "Vault returned a secret, but the secret has no authentication information attached. This \
             should never happen and is likely a bug.",
            0,
        ));
        return 2;
    };
    let token = Zeroizing::new(auth.client_token.clone());
    if !no_store {
        let Some(token_file) = ctx.env.token_file.clone() else {
            ctx.io
                .err("Error storing token: no home directory to store ~/.vault-token in");
            return 2;
        };
        if let Err(err) = store_token(&token_file, &token) {
            ctx.io.err(&format!("Error storing token: {err}"));
            ctx.io.err(&format!(
                "{}\n",
                wrap_at_length(
                    "Authentication was successful, but the token was not persisted. The resulting token is shown \
                     below for your records.",
                    0
                )
            ));
            ctx.print_secret(&secret);
            return 2;
        }
        if ctx.env.token.is_some() {
            ctx.io.err(&format!(
                "{}\n",
                wrap_at_length(
                    "WARNING! The VAULT_TOKEN environment variable is set! The value of this variable will take \
                     precedence; if this is unwanted please unset VAULT_TOKEN or update its value accordingly.",
                    0
                )
            ));
        }
    } else if !token_only {
        ctx.io.err(&format!(
            "{}\n",
            wrap_at_length(
                "The token was not stored in token helper. Set the VAULT_TOKEN environment variable or pass the \
                 token below with each request to Vault.",
                0
            )
        ));
    }
    if no_print {
        return 0;
    }
    if let Some(field) = field {
        return ctx.print_raw_field(&secret, &field);
    }
    if !ctx.json() {
        ctx.io.out(&format!(
            "{}\n",
            wrap_at_length(
                "Success! You are now authenticated. The token information displayed below is already stored in \
                 the token helper. You do NOT need to run \"coffer login\" again. Future Vault requests will \
                 automatically use this token.",
                0
            )
        ));
    }
    ctx.print_secret(&secret)
}

/// Shape `lookup-self` data like an auth response, as vault's token auth handler does.
fn auth_from_lookup(token: &str, data: Option<&Map<String, Value>>) -> SecretAuth {
    let empty = Map::new();
    let data = data.unwrap_or(&empty);
    let strings = |key: &str| -> Option<Vec<String>> {
        data.get(key).and_then(Value::as_array).map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
    };
    let token_policies = strings("policies");
    let identity_policies = strings("identity_policies");
    let policies = match (&token_policies, &identity_policies) {
        (None, None) => None,
        (t, i) => Some(t.iter().chain(i.iter()).flatten().cloned().collect()),
    };
    let metadata = data.get("meta").and_then(Value::as_object).map(|meta| {
        meta.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                )
            })
            .collect()
    });
    let lease_duration = match data.get("ttl") {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => crate::cli::args::parse_duration(s)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
            .unwrap_or(0),
        _ => 0,
    };
    // SecretAuth zeroizes on drop, so it is filled in place rather than with `..Default::default()`.
    let mut auth = SecretAuth::default();
    auth.client_token = data
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(token)
        .to_owned();
    auth.accessor = data
        .get("accessor")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    auth.policies = policies;
    auth.token_policies = token_policies;
    auth.identity_policies = identity_policies;
    auth.metadata = metadata;
    auth.lease_duration = lease_duration;
    auth.renewable = data
        .get("renewable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    auth
}

/// Write the token file readable by the owner only (vault's token helper uses mode 0600).
fn store_token(path: &Path, token: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::format::secret_table;
    use serde_json::json;

    #[test]
    fn lookup_data_becomes_auth() {
        let data = json!({"id": "root", "accessor": "acc", "policies": ["root"], "ttl": 0, "renewable": false, "meta": null});
        let secret = Secret {
            auth: Some(auth_from_lookup("root", data.as_object())),
            ..Secret::default()
        };
        assert_eq!(
            secret_table(&secret).unwrap(),
            "Key                  Value\n---                  -----\ntoken                root\ntoken_accessor       acc\n\
             token_duration       ∞\ntoken_renewable      false\ntoken_policies       [\"root\"]\n\
             identity_policies    []\npolicies             [\"root\"]"
        );
        let data = json!({"id": "t", "policies": ["default"], "identity_policies": ["idp"], "ttl": 3600, "renewable": true, "meta": {"k": "v"}});
        let auth = auth_from_lookup("t", data.as_object());
        assert_eq!(
            auth.policies.as_deref().unwrap(),
            ["default".to_owned(), "idp".to_owned()]
        );
        assert_eq!(auth.lease_duration, 3600);
        assert_eq!(auth.metadata.as_ref().unwrap().get("k").unwrap(), "v");
    }

    #[test]
    fn token_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".vault-token");
        store_token(&path, "abc").unwrap();
        store_token(&path, "s.x").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "s.x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
