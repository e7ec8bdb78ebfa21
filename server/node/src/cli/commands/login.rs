//! `login [-method=token|userpass|kubernetes|jwt|approle] [-path=P] [TOKEN | K=V...]`: authenticate, store the
//! token in the token file (unless `-no-store`), and print it like vault.
//!
//! `token`, `userpass` and `kubernetes` behave as OpenBao's CLI handlers do. OpenBao's CLI has no `jwt` handler
//! (its `oidc` handler runs the browser flow) and no `approle` handler; Coffer adds both as plain
//! `auth/<path>/login` writes, the same shape as `kubernetes`.

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
    /// Auth method type: `token`, `userpass`, `kubernetes`, `jwt` or `approle`.
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
    /// Never prompt: a missing secret is an error, and `-`/`k=-` read nothing.
    #[arg(long = "non-interactive", num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = BoolishValueParser::new())]
    pub non_interactive: bool,
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
            .field("non_interactive", &self.non_interactive)
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

/// How one `-method` logs in.
#[derive(Clone, Copy, Debug)]
enum Handler {
    /// Verify a token with `lookup-self`.
    Token,
    /// `auth/<mount>/login/<username>` with the password.
    Userpass,
    /// `auth/<mount>/login` with fields picked from the `K=V` config.
    Post(PostLogin),
}

/// A login that writes chosen `K=V` values to `auth/<mount>/login`.
#[derive(Clone, Copy, Debug)]
struct PostLogin {
    /// Keys that must be given (checked in order, before any prompt).
    required: &'static [&'static str],
    /// Keys sent only when given.
    optional: &'static [&'static str],
    /// A secret key read from a hidden prompt when not given, with its prompt label.
    prompted: Option<(&'static str, &'static str)>,
}

/// The `-method` names the CLI can log in with.
const METHODS: &[(&str, Handler)] = &[
    ("token", Handler::Token),
    ("userpass", Handler::Userpass),
    // OpenBao's kubernetes handler: `role` must be given, `jwt` is asked for.
    (
        "kubernetes",
        Handler::Post(PostLogin {
            required: &["role"],
            optional: &[],
            prompted: Some(("jwt", "JWT")),
        }),
    ),
    // Coffer's own: like kubernetes, but `role` may be left to the mount's `default_role`.
    (
        "jwt",
        Handler::Post(PostLogin {
            required: &[],
            optional: &["role"],
            prompted: Some(("jwt", "JWT")),
        }),
    ),
    // Coffer's own: `write auth/approle/login role_id=.. secret_id=..`; a role without
    // `bind_secret_id` needs no secret id, so it is never asked for.
    (
        "approle",
        Handler::Post(PostLogin {
            required: &["role_id"],
            optional: &["secret_id"],
            prompted: None,
        }),
    ),
];

/// The handler for a `-method` name.
fn handler(method: &str) -> Option<Handler> {
    METHODS
        .iter()
        .find(|(name, _)| *name == method)
        .map(|(_, handler)| *handler)
}

impl PostLogin {
    /// The login body from `config`, with `prompted` as the value of the prompted key when it was not given.
    /// `Ok(None)` means the prompted key is missing and must be asked for.
    fn body(
        &self,
        config: &Config,
        prompted: Option<&str>,
    ) -> Result<Option<Map<String, Value>>, String> {
        let mut body = Map::new();
        for key in self.required {
            let value = config
                .get(key)
                .ok_or_else(|| format!("'{key}' must be supplied"))?;
            body.insert((*key).to_owned(), Value::from(value));
        }
        for key in self.optional {
            if let Some(value) = config.get(key) {
                body.insert((*key).to_owned(), Value::from(value));
            }
        }
        if let Some((key, _)) = self.prompted {
            match config.get(key).or(prompted) {
                Some(value) => {
                    body.insert(key.to_owned(), Value::from(value));
                }
                None => {
                    scrub(&mut body);
                    return Ok(None);
                }
            }
        }
        Ok(Some(body))
    }
}

/// The kubernetes-style handler: `PUT auth/<mount>/login` with the method's fields.
async fn post_auth(
    ctx: &mut Ctx<'_, '_>,
    client: &ApiClient,
    config: &Config,
    spec: PostLogin,
    non_interactive: bool,
) -> Result<Secret, String> {
    let body = match spec.body(config, None)? {
        Some(body) => body,
        None => {
            let (key, label) = spec.prompted.unwrap_or_default();
            if non_interactive {
                return Err(format!(
                    "'{key}' not supplied and refusing to pull from stdin"
                ));
            }
            let value = prompt_hidden(ctx, &format!("{label} (will be hidden): "))?;
            spec.body(config, Some(&value))?
                .ok_or_else(|| format!("'{key}' must be supplied"))?
        }
    };
    let mount = config.get("mount").unwrap_or_default().to_owned();
    let payload = Value::Object(body);
    let result = client.write(&format!("auth/{mount}/login"), &payload).await;
    if let Value::Object(mut map) = payload {
        scrub(&mut map);
    }
    result
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "empty response from credential provider".to_owned())
}

/// The token auth handler: verify the token with `lookup-self` (unless `lookup=false`).
async fn token_auth(
    ctx: &mut Ctx<'_, '_>,
    client: &mut ApiClient,
    config: &Config,
    non_interactive: bool,
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
            if non_interactive {
                return Err("'token' not supplied and refusing to pull from stdin".to_owned());
            }
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
    non_interactive: bool,
) -> Result<Secret, String> {
    let username = config.get("username").unwrap_or_default().to_owned();
    if username.is_empty() {
        return Err("'username' must be specified".to_owned());
    }
    let password = match config.get("password").filter(|p| !p.is_empty()) {
        Some(password) => Zeroizing::new(password.to_owned()),
        None if non_interactive => {
            return Err("'password' must be specified and refusing to pull from stdin".to_owned());
        }
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

/// Parse the `K=V` arguments (`k=@file`, `k=-`, a lone `-` or `@file` JSON object) into the handler's config;
/// a bare first argument of the token method is the token, and `mount` defaults to the auth path.
fn login_config(
    method: &str,
    auth_path: String,
    mut args: Vec<String>,
    stdin: &mut dyn std::io::Read,
) -> Result<Config, String> {
    if method == "token"
        && let Some(first) = args.first_mut()
        && !first.contains('=')
    {
        *first = format!("token={first}");
    }
    let parsed = parse_kv_args(&args, stdin).map_err(|e| e.to_string());
    for arg in &mut args {
        arg.zeroize();
    }
    let mut config = parsed.and_then(config_strings)?;
    if config.get("mount").is_none_or(str::is_empty) && !auth_path.is_empty() {
        config.0.insert("mount".into(), Zeroizing::new(auth_path));
    }
    Ok(config)
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
        non_interactive,
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
    let Some(handler) = handler(&method) else {
        return ctx.usage(&wrap_at_length(
            &format!(
                "Unknown auth method: {method}. Use \"coffer auth list\" to see the complete list of auth \
                 methods. Additionally, some auth methods are only available via the HTTP API."
            ),
            0,
        ));
    };
    // Like vault, `-non-interactive` leaves `-` and `k=-` nothing to read.
    let stdin: &mut dyn std::io::Read = if non_interactive {
        &mut std::io::empty()
    } else {
        &mut *ctx.io.stdin
    };
    let config = match login_config(&method, auth_path, args, stdin) {
        Ok(config) => config,
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
    let secret = match handler {
        Handler::Token => token_auth(ctx, &mut client, &config, non_interactive).await,
        Handler::Userpass => userpass_auth(ctx, &client, &config, non_interactive).await,
        Handler::Post(spec) => post_auth(ctx, &client, &config, spec, non_interactive).await,
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
    use crate::cli::{ClientEnv, Io, normalize_args, run_client_with};
    use clap::Parser as _;
    use serde_json::json;
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::net::TcpListener;

    struct Run {
        code: i32,
        out: String,
        err: String,
    }

    /// Run `coffer ARGS` in-process against `address`, with `stdin` (not a terminal) and a token file in `home`.
    fn run(address: &str, home: &std::path::Path, args: &[&str], stdin: &str) -> Run {
        let mut argv = vec!["coffer".to_owned()];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        argv.push(format!("-address={address}"));
        let cli = crate::cli::Cli::try_parse_from(normalize_args(argv.into_iter().map(Into::into)))
            .unwrap();
        let env = ClientEnv {
            token: None,
            token_file: Some(home.join(".vault-token")),
            stdin_is_tty: false,
            stdout_is_tty: false,
        };
        let mut input = std::io::Cursor::new(stdin.as_bytes().to_vec());
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_client_with(
            &cli.global,
            cli.command,
            &env,
            &mut Io {
                stdin: &mut input,
                stdout: &mut out,
                stderr: &mut err,
            },
        );
        Run {
            code,
            out: String::from_utf8(out).unwrap(),
            err: String::from_utf8(err).unwrap(),
        }
    }

    /// A one-request HTTP server answering `body`; the thread returns the request line and JSON body it got.
    fn one_shot(body: Value) -> (String, std::thread::JoinHandle<(String, Value)>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut request = vec![0; length];
            reader.read_exact(&mut request).unwrap();
            let text = body.to_string();
            let mut stream = stream;
            std::io::Write::write_all(
                &mut stream,
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                )
                .as_bytes(),
            )
            .unwrap();
            (
                request_line.trim().to_owned(),
                serde_json::from_slice(&request).unwrap(),
            )
        });
        (address, handle)
    }

    fn login_response() -> Value {
        json!({
            "request_id": "r", "lease_id": "", "lease_duration": 0, "renewable": false, "data": null,
            "warnings": null,
            "auth": {"client_token": "s.abc", "accessor": "acc", "policies": ["default", "web"],
                     "token_policies": ["default", "web"], "metadata": {"role": "web"},
                     "lease_duration": 3600, "renewable": true},
        })
    }

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Zeroizing::new((*v).to_owned())))
                .collect(),
        )
    }

    fn spec(method: &str) -> PostLogin {
        match handler(method) {
            Some(Handler::Post(spec)) => spec,
            other => panic!("{method}: {other:?}"),
        }
    }

    #[test]
    fn method_table() {
        let names: Vec<&str> = METHODS.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["token", "userpass", "kubernetes", "jwt", "approle"]);
        assert!(matches!(handler("token"), Some(Handler::Token)));
        assert!(matches!(handler("userpass"), Some(Handler::Userpass)));
        assert!(handler("bogus").is_none() && handler("oidc").is_none());
    }

    #[test]
    fn config_reads_files_and_stdin_and_defaults_the_mount() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jwt");
        std::fs::write(&file, "eyJ.file").unwrap();
        let args = vec!["role=web".to_owned(), format!("jwt=@{}", file.display())];
        let config = login_config(
            "kubernetes",
            "kubernetes/".into(),
            args,
            &mut std::io::empty(),
        )
        .unwrap();
        assert_eq!(
            (config.get("role"), config.get("jwt"), config.get("mount")),
            (Some("web"), Some("eyJ.file"), Some("kubernetes/"))
        );
        let args = vec![
            "role_id=r".to_owned(),
            "secret_id=-".to_owned(),
            "mount=mine".to_owned(),
        ];
        let config =
            login_config("approle", "approle/".into(), args, &mut "s3cret".as_bytes()).unwrap();
        assert_eq!(
            (config.get("secret_id"), config.get("mount")),
            (Some("s3cret"), Some("mine"))
        );
        // A lone `-` merges a JSON object from stdin.
        let config = login_config(
            "jwt",
            "ci-jwt".into(),
            vec!["-".to_owned()],
            &mut r#"{"role": "ci", "jwt": "eyJ.stdin"}"#.as_bytes(),
        )
        .unwrap();
        assert_eq!(
            (config.get("role"), config.get("jwt"), config.get("mount")),
            (Some("ci"), Some("eyJ.stdin"), Some("ci-jwt"))
        );
        // Only the token method takes a bare first argument.
        let config = login_config(
            "token",
            "token/".into(),
            vec!["s.x".to_owned()],
            &mut std::io::empty(),
        )
        .unwrap();
        assert_eq!(config.get("token"), Some("s.x"));
        let err = login_config(
            "jwt",
            "jwt/".into(),
            vec!["eyJ".to_owned()],
            &mut std::io::empty(),
        )
        .err()
        .unwrap();
        assert_eq!(
            err,
            "invalid key/value pair \"eyJ\": format must be key=value"
        );
        let err = login_config(
            "kubernetes",
            "kubernetes/".into(),
            vec!["jwt=@/nonexistent/token".to_owned()],
            &mut std::io::empty(),
        )
        .err()
        .unwrap();
        assert!(
            err.starts_with(
                "invalid key/value pair \"jwt=@/nonexistent/token\": error reading file"
            ),
            "{err}"
        );
    }

    #[test]
    fn post_bodies() {
        let kubernetes = spec("kubernetes");
        assert_eq!(
            kubernetes.body(&config(&[("jwt", "j")]), None).unwrap_err(),
            "'role' must be supplied"
        );
        // Present but empty counts as given, as in OpenBao's handler; other keys are not sent.
        assert_eq!(
            Value::Object(
                kubernetes
                    .body(&config(&[("role", ""), ("jwt", "j"), ("x", "y")]), None)
                    .unwrap()
                    .unwrap()
            ),
            json!({"role": "", "jwt": "j"})
        );
        assert!(
            kubernetes
                .body(&config(&[("role", "web")]), None)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            Value::Object(
                kubernetes
                    .body(&config(&[("role", "web")]), Some("typed"))
                    .unwrap()
                    .unwrap()
            ),
            json!({"role": "web", "jwt": "typed"})
        );
        let jwt = spec("jwt");
        assert_eq!(
            Value::Object(jwt.body(&config(&[("jwt", "j")]), None).unwrap().unwrap()),
            json!({"jwt": "j"})
        );
        let approle = spec("approle");
        assert_eq!(
            approle
                .body(&config(&[("secret_id", "s")]), None)
                .unwrap_err(),
            "'role_id' must be supplied"
        );
        assert_eq!(
            Value::Object(
                approle
                    .body(&config(&[("role_id", "r")]), None)
                    .unwrap()
                    .unwrap()
            ),
            json!({"role_id": "r"})
        );
        assert_eq!(
            Value::Object(
                approle
                    .body(&config(&[("role_id", "r"), ("secret_id", "s")]), None)
                    .unwrap()
                    .unwrap()
            ),
            json!({"role_id": "r", "secret_id": "s"})
        );
    }

    #[test]
    fn usage_and_local_errors() {
        let home = tempfile::tempdir().unwrap();
        // Nothing listens here: each case fails before any request.
        let dead = "http://127.0.0.1:9";
        let out = run(dead, home.path(), &["login", "-method=bogus", "a=b"], "");
        assert_eq!(out.code, 1);
        assert!(
            out.err
                .starts_with("Unknown auth method: bogus. Use \"coffer auth list\""),
            "{}",
            out.err
        );
        let out = run(
            dead,
            home.path(),
            &["login", "-method=kubernetes", "jwt=x"],
            "",
        );
        assert_eq!(
            (out.code, out.err.as_str()),
            (2, "Error authenticating: 'role' must be supplied\n")
        );
        let out = run(
            dead,
            home.path(),
            &["login", "-method=approle", "secret_id=x"],
            "",
        );
        assert_eq!(
            (out.code, out.err.as_str()),
            (2, "Error authenticating: 'role_id' must be supplied\n")
        );
        // No jwt and no terminal to ask on.
        let out = run(
            dead,
            home.path(),
            &["login", "-method=kubernetes", "role=web"],
            "",
        );
        assert_eq!(
            (out.code, out.err.as_str()),
            (
                2,
                "JWT (will be hidden): \nError authenticating: file descriptor 0 is not a terminal\n"
            )
        );
        let out = run(
            dead,
            home.path(),
            &["login", "-method=jwt", "-non-interactive", "role=web"],
            "",
        );
        assert_eq!(
            (out.code, out.err.as_str()),
            (
                2,
                "Error authenticating: 'jwt' not supplied and refusing to pull from stdin\n"
            )
        );
        let out = run(dead, home.path(), &["login", "-method=jwt", "novalue"], "");
        assert_eq!(
            (out.code, out.err.as_str()),
            (
                1,
                "Error parsing configuration: invalid key/value pair \"novalue\": format must be key=value\n"
            )
        );
        assert!(!home.path().join(".vault-token").exists());
    }

    #[test]
    fn kubernetes_login_posts_role_and_jwt_and_stores_the_token() {
        let home = tempfile::tempdir().unwrap();
        let jwt_file = home.path().join("token");
        std::fs::write(&jwt_file, "eyJ.sa").unwrap();
        let (address, server) = one_shot(login_response());
        let jwt_arg = format!("jwt=@{}", jwt_file.display());
        let out = run(
            &address,
            home.path(),
            &["login", "-method=kubernetes", "role=web", &jwt_arg],
            "",
        );
        assert_eq!(out.code, 0, "{}", out.err);
        let (line, body) = server.join().unwrap();
        assert_eq!(line, "PUT /v1/auth/kubernetes/login HTTP/1.1");
        assert_eq!(body, json!({"role": "web", "jwt": "eyJ.sa"}));
        assert!(
            out.out.starts_with("Success! You are now authenticated."),
            "{}",
            out.out
        );
        assert!(
            out.out.ends_with(
                "token                s.abc\ntoken_accessor       acc\ntoken_duration       1h\ntoken_renewable      true\n\
                 token_policies       [\"default\" \"web\"]\nidentity_policies    []\npolicies             [\"default\" \"web\"]\n\
                 token_meta_role      web\n"
            ),
            "{}",
            out.out
        );
        assert_eq!(
            std::fs::read_to_string(home.path().join(".vault-token")).unwrap(),
            "s.abc"
        );
    }

    #[test]
    fn jwt_and_approle_logins_honour_path_stdin_and_output_flags() {
        let home = tempfile::tempdir().unwrap();
        let (address, server) = one_shot(login_response());
        let out = run(
            &address,
            home.path(),
            &[
                "login",
                "-method=jwt",
                "-path=ci-jwt",
                "-token-only",
                "jwt=-",
            ],
            "eyJ.stdin",
        );
        assert_eq!(
            (out.code, out.out.as_str(), out.err.as_str()),
            (0, "s.abc", "")
        );
        let (line, body) = server.join().unwrap();
        assert_eq!(line, "PUT /v1/auth/ci-jwt/login HTTP/1.1");
        assert_eq!(body, json!({"jwt": "eyJ.stdin"}));
        assert!(
            !home.path().join(".vault-token").exists(),
            "-token-only stores nothing"
        );

        let (address, server) = one_shot(login_response());
        let out = run(
            &address,
            home.path(),
            &[
                "login",
                "-method=approle",
                "-format=json",
                "role_id=r",
                "secret_id=s",
            ],
            "",
        );
        assert_eq!(out.code, 0, "{}", out.err);
        let (line, body) = server.join().unwrap();
        assert_eq!(line, "PUT /v1/auth/approle/login HTTP/1.1");
        assert_eq!(body, json!({"role_id": "r", "secret_id": "s"}));
        let printed: Value = serde_json::from_str(&out.out).unwrap();
        assert_eq!(printed["auth"]["client_token"], "s.abc");
        assert_eq!(
            std::fs::read_to_string(home.path().join(".vault-token")).unwrap(),
            "s.abc"
        );
    }

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
