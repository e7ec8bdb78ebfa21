//! `token create | lookup | renew | revoke | capabilities`.

use clap::builder::BoolishValueParser;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{Ctx, quoted};
use crate::cli::args::GoDuration;
use crate::cli::client::ApiClient;

/// `coffer token ...` subcommands. `Debug` shows only the subcommand: the arguments are tokens.
#[derive(Clone, Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once per process; boxing would only complicate clap's derive"
)]
pub enum TokenCmd {
    /// Create a token (POST auth/token/create, or auth/token/create/<role>).
    Create(TokenCreateArgs),
    /// Look up a token, an accessor (`-accessor`), or the client token.
    Lookup {
        /// Treat the argument as an accessor.
        #[arg(long)]
        accessor: bool,
        /// Print only this field, raw.
        #[arg(long)]
        field: Option<String>,
        /// Token or accessor (the client token when absent).
        args: Vec<String>,
    },
    /// Renew a token, an accessor (`-accessor`), or the client token.
    Renew {
        /// Treat the argument as an accessor.
        #[arg(long)]
        accessor: bool,
        /// Requested lease extension.
        #[arg(long, short = 'i', value_parser = GoDuration::parse, default_value = "0")]
        increment: GoDuration,
        /// Token or accessor (the client token when absent).
        args: Vec<String>,
    },
    /// Revoke a token and its children (`-mode=orphan` keeps the children, `-mode=path` revokes by prefix).
    Revoke {
        /// Treat the argument as an accessor.
        #[arg(long)]
        accessor: bool,
        /// Revoke the client token.
        #[arg(long = "self")]
        self_: bool,
        /// `orphan` or `path`.
        #[arg(long, default_value = "")]
        mode: String,
        /// Token, accessor or path prefix.
        args: Vec<String>,
    },
    /// Print a token's capabilities on a path (the client token when only the path is given).
    Capabilities {
        /// `[token] path`.
        args: Vec<String>,
    },
}

/// Flags of `token create`. `Debug` leaves out `-id` (a token value).
#[derive(Clone, Args)]
pub struct TokenCreateArgs {
    /// Token value (requires sudo).
    #[arg(long)]
    pub id: Option<String>,
    /// Display name.
    #[arg(long = "display-name", default_value = "")]
    pub display_name: String,
    /// Initial TTL.
    #[arg(long, value_parser = GoDuration::parse, default_value = "0", allow_hyphen_values = true)]
    pub ttl: GoDuration,
    /// Hard maximum lifetime.
    #[arg(long = "explicit-max-ttl", value_parser = GoDuration::parse, default_value = "0", allow_hyphen_values = true)]
    pub explicit_max_ttl: GoDuration,
    /// Renewal period of a periodic token.
    #[arg(long, value_parser = GoDuration::parse, default_value = "0", allow_hyphen_values = true)]
    pub period: GoDuration,
    /// Whether the token can be renewed.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "true", value_parser = BoolishValueParser::new())]
    pub renewable: bool,
    /// Create the token without a parent.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = BoolishValueParser::new())]
    pub orphan: bool,
    /// Do not attach the `default` policy.
    #[arg(long = "no-default-policy", num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = BoolishValueParser::new())]
    pub no_default_policy: bool,
    /// Number of uses (0 = unlimited).
    #[arg(long = "use-limit", default_value_t = 0, allow_negative_numbers = true)]
    pub use_limit: i64,
    /// Role to create the token against.
    #[arg(long, default_value = "")]
    pub role: String,
    /// `service` or `batch`.
    #[arg(long = "type", default_value = "service")]
    pub token_type: String,
    /// Metadata `key=value` (repeatable).
    #[arg(long, value_parser = parse_key_value)]
    pub metadata: Vec<(String, String)>,
    /// Policy (repeatable).
    #[arg(long)]
    pub policy: Vec<String>,
    /// Entity alias to associate with (with `-role`).
    #[arg(long = "entity-alias", default_value = "")]
    pub entity_alias: String,
    /// Print only this field, raw.
    #[arg(long)]
    pub field: Option<String>,
    /// Unexpected positional arguments (rejected like vault does).
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

impl std::fmt::Debug for TokenCmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            TokenCmd::Create(args) => return f.debug_tuple("Create").field(args).finish(),
            TokenCmd::Lookup { .. } => "Lookup",
            TokenCmd::Renew { .. } => "Renew",
            TokenCmd::Revoke { .. } => "Revoke",
            TokenCmd::Capabilities { .. } => "Capabilities",
        };
        f.debug_struct(name).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TokenCreateArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCreateArgs")
            .field("id", &self.id.as_ref().map(|_| "<redacted>"))
            .field("policy", &self.policy)
            .field("ttl", &self.ttl)
            .field("role", &self.role)
            .field("token_type", &self.token_type)
            .finish_non_exhaustive()
    }
}

/// A vault `StringMapVar` item: `key=value`, split at the first `=`.
pub(crate) fn parse_key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("missing = in KV pair: {}", quoted(text)))
}

/// Collect `key=value` flags into a JSON object (later keys win, as in a Go map).
pub(crate) fn pairs_object(pairs: &[(String, String)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect()
}

/// Run a token subcommand.
pub(crate) async fn run(ctx: &mut Ctx<'_, '_>, cmd: TokenCmd) -> i32 {
    match cmd {
        TokenCmd::Create(args) => create(ctx, args).await,
        TokenCmd::Lookup {
            accessor,
            field,
            args,
        } => lookup(ctx, accessor, field.as_deref(), &args).await,
        TokenCmd::Renew {
            accessor,
            increment,
            args,
        } => renew(ctx, accessor, increment, &args).await,
        TokenCmd::Revoke {
            accessor,
            self_,
            mode,
            args,
        } => revoke(ctx, accessor, self_, &mode, &args).await,
        TokenCmd::Capabilities { args } => capabilities(ctx, &args).await,
    }
}

/// The JSON body vault's `TokenCreateRequest` marshals to (omitempty fields left out).
fn create_body(args: &TokenCreateArgs) -> Value {
    let renewable = args.renewable && args.token_type != "batch";
    let mut body = Map::new();
    if let Some(id) = args.id.as_deref().filter(|id| !id.is_empty()) {
        body.insert("id".into(), id.into());
    }
    if !args.policy.is_empty() {
        let policies: Vec<String> = args.policy.iter().map(|p| p.trim().to_owned()).collect();
        body.insert("policies".into(), policies.into());
    }
    if !args.metadata.is_empty() {
        body.insert("meta".into(), Value::Object(pairs_object(&args.metadata)));
    }
    body.insert("ttl".into(), args.ttl.go_string().into());
    body.insert(
        "explicit_max_ttl".into(),
        args.explicit_max_ttl.go_string().into(),
    );
    body.insert("period".into(), args.period.go_string().into());
    if args.orphan {
        body.insert("no_parent".into(), true.into());
    }
    if args.no_default_policy {
        body.insert("no_default_policy".into(), true.into());
    }
    body.insert("display_name".into(), args.display_name.as_str().into());
    body.insert("num_uses".into(), args.use_limit.into());
    body.insert("renewable".into(), renewable.into());
    body.insert("type".into(), args.token_type.as_str().into());
    body.insert("entity_alias".into(), args.entity_alias.as_str().into());
    Value::Object(body)
}

async fn create(ctx: &mut Ctx<'_, '_>, args: TokenCreateArgs) -> i32 {
    if !args.extra.is_empty() {
        return ctx.usage(&format!(
            "Too many arguments (expected 0, got {})",
            args.extra.len()
        ));
    }
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let path = if args.role.is_empty() {
        "auth/token/create".to_owned()
    } else {
        format!("auth/token/create/{}", args.role)
    };
    let body = create_body(&args);
    match client.write_method(Method::POST, &path, Some(&body)).await {
        Err(err) => ctx.fail("Error creating token", &err),
        Ok(None) => 0,
        Ok(Some(secret)) => match args.field.as_deref() {
            Some(field) => ctx.print_raw_field(&secret, field),
            None => ctx.print_secret(&secret),
        },
    }
}

async fn lookup(
    ctx: &mut Ctx<'_, '_>,
    accessor: bool,
    field: Option<&str>,
    args: &[String],
) -> i32 {
    let token = match (accessor, args) {
        (true, []) => {
            return ctx.usage("Not enough arguments with -accessor (expected 1, got 0)");
        }
        (true, [_, _, ..]) => {
            return ctx.usage(&format!(
                "Too many arguments with -accessor (expected 1, got {})",
                args.len()
            ));
        }
        (false, [_, _, ..]) => {
            return ctx.usage(&format!(
                "Too many arguments (expected 0-1, got {})",
                args.len()
            ));
        }
        (_, [one]) => one.trim().to_owned(),
        (false, []) => String::new(),
    };
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let result = if token.is_empty() {
        client
            .write_method(Method::GET, "auth/token/lookup-self", None)
            .await
    } else if accessor {
        client
            .write_method(
                Method::POST,
                "auth/token/lookup-accessor",
                Some(&json!({"accessor": token})),
            )
            .await
    } else {
        client
            .write_method(
                Method::POST,
                "auth/token/lookup",
                Some(&json!({"token": token})),
            )
            .await
    };
    match result {
        Err(err) => ctx.fail("Error looking up token", &err),
        Ok(None) => 0,
        Ok(Some(secret)) => match field {
            Some(field) => ctx.print_raw_field(&secret, field),
            None => ctx.print_secret(&secret),
        },
    }
}

async fn renew(
    ctx: &mut Ctx<'_, '_>,
    accessor: bool,
    increment: GoDuration,
    args: &[String],
) -> i32 {
    let token = match args {
        [] => String::new(),
        [one] => one.trim().to_owned(),
        _ => {
            return ctx.usage(&format!(
                "Too many arguments (expected 1, got {})",
                args.len()
            ));
        }
    };
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    // Increments under a second are sent as 0, like vault's truncateToSeconds.
    let increment = increment.secs().max(0);
    let result = if token.is_empty() {
        client
            .write_method(
                Method::PUT,
                "auth/token/renew-self",
                Some(&json!({"increment": increment})),
            )
            .await
    } else if accessor {
        client
            .write_method(
                Method::POST,
                "auth/token/renew-accessor",
                Some(&json!({"accessor": token, "increment": increment})),
            )
            .await
    } else {
        client
            .write_method(
                Method::PUT,
                "auth/token/renew",
                Some(&json!({"token": token, "increment": increment})),
            )
            .await
    };
    match result {
        Err(err) => ctx.fail("Error renewing token", &err),
        Ok(None) => 0,
        Ok(Some(secret)) => ctx.print_secret(&secret),
    }
}

/// Validate `token revoke` flags exactly in vault's order; `Err` is the usage message.
fn revoke_usage(accessor: bool, self_: bool, mode: &str, args: usize) -> Result<(), String> {
    if !matches!(mode, "" | "orphan" | "path") {
        return Err(format!("Invalid mode: {mode}"));
    }
    match () {
        () if self_ && args > 0 => Err(format!(
            "Too many arguments with -self (expected 0, got {args})"
        )),
        () if !self_ && args > 1 => Err(format!(
            "Too many arguments (expected 1 or -self, got {args})"
        )),
        () if !self_ && args < 1 => Err(format!(
            "Not enough arguments (expected 1 or -self, got {args})"
        )),
        () if self_ && accessor => Err("Cannot use -self with -accessor!".to_owned()),
        () if self_ && !mode.is_empty() => Err("Cannot use -self with -mode!".to_owned()),
        () if accessor && mode == "orphan" => {
            Err("Cannot use -accessor with -mode=orphan!".to_owned())
        }
        () if accessor && mode == "path" => Err("Cannot use -accessor with -mode=path!".to_owned()),
        () => Ok(()),
    }
}

async fn revoke(
    ctx: &mut Ctx<'_, '_>,
    accessor: bool,
    self_: bool,
    mode: &str,
    args: &[String],
) -> i32 {
    if let Err(message) = revoke_usage(accessor, self_, mode, args.len()) {
        return ctx.usage(&message);
    }
    let token = args
        .first()
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let (method, path, body) = if self_ {
        (Method::PUT, "auth/token/revoke-self".to_owned(), None)
    } else if accessor {
        (
            Method::POST,
            "auth/token/revoke-accessor".to_owned(),
            Some(json!({"accessor": token})),
        )
    } else if mode == "orphan" {
        (
            Method::PUT,
            "auth/token/revoke-orphan".to_owned(),
            Some(json!({"token": token})),
        )
    } else if mode == "path" {
        (
            Method::PUT,
            format!("sys/leases/revoke-prefix/{token}"),
            None,
        )
    } else {
        (
            Method::PUT,
            "auth/token/revoke".to_owned(),
            Some(json!({"token": token})),
        )
    };
    match client.call(method, &path, &[], body.as_ref()).await {
        Err(err) => ctx.fail("Error revoking token", &err),
        Ok(_) => {
            ctx.io.out("Success! Revoked token (if it existed)");
            0
        }
    }
}

/// `sys/capabilities(-self)`: the capabilities listed under the path, else under `capabilities`.
async fn fetch_capabilities(
    client: &ApiClient,
    token: &str,
    path: &str,
) -> Result<Option<Vec<String>>, String> {
    // Vault's client sends the token in the body either way, and uses -self for its own token.
    let own = client.token().unwrap_or_default() == token;
    let endpoint = if own {
        "sys/capabilities-self"
    } else {
        "sys/capabilities"
    };
    let secret = client
        .write_method(
            Method::POST,
            endpoint,
            Some(&json!({"token": token, "path": path})),
        )
        .await
        .map_err(|e| e.to_string())?;
    let data = secret
        .and_then(|s| s.data.clone())
        .ok_or_else(|| "data from server response is empty".to_owned())?;
    let strings = |value: Option<&Value>| -> Result<Option<Vec<String>>, String> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("'' expected type 'string', got {v}"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(format!("'' expected a slice, got {other}")),
        }
    };
    let listed = strings(data.get(path))?;
    if listed.as_ref().is_some_and(|l| !l.is_empty()) {
        return Ok(listed);
    }
    match strings(data.get("capabilities"))? {
        Some(caps) => Ok(Some(caps)),
        None => Ok(listed),
    }
}

async fn capabilities(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let (token, path) = match args {
        [] => return ctx.usage("Not enough arguments (expected 1-2, got 0)"),
        [path] => (None, path.clone()),
        [token, path] => (Some(token.clone()), path.clone()),
        _ => {
            return ctx.usage(&format!(
                "Too many arguments (expected 1-2, got {})",
                args.len()
            ));
        }
    };
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let token = token.unwrap_or_else(|| client.token().unwrap_or_default().to_owned());
    let caps = match fetch_capabilities(&client, &token, &path).await {
        Ok(caps) => caps,
        Err(message) => {
            ctx.io
                .err(&format!("Error listing capabilities: {message}"));
            return 2;
        }
    };
    let Some(mut caps) = caps else {
        return ctx.usage("No capabilities found");
    };
    if ctx.json() {
        return ctx.print_json(&caps);
    }
    caps.sort();
    ctx.io.out(&caps.join(", "));
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{Cli, Command};
    use crate::cli::normalize_args;
    use clap::Parser as _;

    fn parse(args: &[&str]) -> TokenCmd {
        let argv = std::iter::once("coffer").chain(args.iter().copied());
        let cli = Cli::try_parse_from(normalize_args(argv.map(std::ffi::OsString::from))).unwrap();
        match cli.command {
            Command::Token(cmd) => cmd,
            other => panic!("not a token command: {other:?}"),
        }
    }

    #[test]
    fn create_flags_build_vaults_request() {
        let TokenCmd::Create(args) = parse(&[
            "token",
            "create",
            "-policy=a",
            "-policy",
            "b",
            "-ttl=1h",
            "-metadata",
            "k=v=w",
            "-use-limit=3",
            "-orphan",
            "-renewable=false",
            "-display-name=me",
        ]) else {
            panic!("not create")
        };
        assert_eq!(
            create_body(&args),
            json!({"policies": ["a", "b"], "meta": {"k": "v=w"}, "ttl": "1h0m0s", "explicit_max_ttl": "0s",
                   "period": "0s", "no_parent": true, "display_name": "me", "num_uses": 3, "renewable": false,
                   "type": "service", "entity_alias": ""})
        );
        let TokenCmd::Create(args) = parse(&["token", "create", "-type=batch"]) else {
            panic!("not create")
        };
        assert_eq!(create_body(&args)["renewable"], false);
        assert!(
            Cli::try_parse_from(normalize_args(
                ["coffer", "token", "create", "-metadata=novalue"].map(std::ffi::OsString::from)
            ))
            .is_err()
        );
    }

    #[test]
    fn renew_and_revoke_flags() {
        let TokenCmd::Renew {
            accessor,
            increment,
            args,
        } = parse(&["token", "renew", "-i", "30m", "-accessor", "acc"])
        else {
            panic!("not renew")
        };
        assert!(accessor);
        assert_eq!(increment.secs(), 1800);
        assert_eq!(args, ["acc"]);
        assert_eq!(
            revoke_usage(false, false, "bad", 1),
            Err("Invalid mode: bad".into())
        );
        assert_eq!(
            revoke_usage(false, true, "", 1),
            Err("Too many arguments with -self (expected 0, got 1)".into())
        );
        assert_eq!(
            revoke_usage(false, false, "", 0),
            Err("Not enough arguments (expected 1 or -self, got 0)".into())
        );
        assert_eq!(
            revoke_usage(true, true, "", 0),
            Err("Cannot use -self with -accessor!".into())
        );
        assert_eq!(
            revoke_usage(true, false, "path", 1),
            Err("Cannot use -accessor with -mode=path!".into())
        );
        assert_eq!(revoke_usage(false, false, "orphan", 1), Ok(()));
        let TokenCmd::Revoke { self_, .. } = parse(&["token", "revoke", "-self"]) else {
            panic!("not revoke")
        };
        assert!(self_);
    }
}
