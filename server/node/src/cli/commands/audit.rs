//! `coffer audit enable|disable|list` (the vault CLI's audit commands over `sys/audit`) and `coffer audit
//! verify` (Coffer: checks a file device's hash chain offline).

use std::collections::BTreeMap;
use std::io::BufReader;

use clap::Subcommand;
use clap::builder::BoolishValueParser;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::Ctx;
use crate::cli::format::table;

/// `coffer audit ...` subcommands.
#[derive(Clone, Subcommand)]
pub enum AuditCmd {
    /// Enable an audit device: `TYPE [K=V...]` (options such as `file_path=/var/log/audit.log`).
    Enable {
        /// Where to enable it (default: the type).
        #[arg(long, default_value = "")]
        path: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
        /// Do not replicate.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
              default_value = "false", value_parser = BoolishValueParser::new())]
        local: bool,
        /// `TYPE` then `K=V` options.
        args: Vec<String>,
    },
    /// Disable the audit device at `PATH`.
    Disable {
        /// `PATH`.
        args: Vec<String>,
    },
    /// List the enabled audit devices.
    List {
        /// Show options and replication.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
              default_value = "false", value_parser = BoolishValueParser::new())]
        detailed: bool,
    },
    /// Check a file device's log for edited, deleted, reordered or truncated entries.
    Verify {
        /// The chain key in hex (default: fetched from `sys/audit-verify-key/<device>` with the client token).
        /// A key on the command line is visible to other local users: prefer the default or the environment.
        #[arg(
            long,
            default_value = "",
            env = "COFFER_AUDIT_VERIFY_KEY",
            hide_env_values = true
        )]
        key: String,
        /// The device whose key to fetch.
        #[arg(long, default_value = "file")]
        device: String,
        /// The `prev` value the file's first entry must carry (the last hash of the previous file).
        #[arg(long, default_value = "")]
        prev: String,
        /// `FILE`.
        args: Vec<String>,
    },
}

// The verification key is a secret: Debug names the subcommand only.
impl std::fmt::Debug for AuditCmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            AuditCmd::Enable { .. } => "Enable",
            AuditCmd::Disable { .. } => "Disable",
            AuditCmd::List { .. } => "List",
            AuditCmd::Verify { .. } => "Verify",
        };
        f.debug_struct(name).finish_non_exhaustive()
    }
}

/// Runs an `audit` subcommand.
pub(crate) async fn run(ctx: &mut Ctx<'_, '_>, cmd: AuditCmd) -> i32 {
    match cmd {
        AuditCmd::Enable {
            path,
            description,
            local,
            args,
        } => enable(ctx, &path, &description, local, &args).await,
        AuditCmd::Disable { args } => disable(ctx, &args).await,
        AuditCmd::List { detailed } => list(ctx, detailed).await,
        AuditCmd::Verify {
            key,
            device,
            prev,
            args,
        } => verify(ctx, &key, &device, &prev, &args).await,
    }
}

async fn enable(
    ctx: &mut Ctx<'_, '_>,
    path: &str,
    description: &str,
    local: bool,
    args: &[String],
) -> i32 {
    let Some((kind, opts)) = args.split_first() else {
        return ctx.usage("Not enough arguments (expected 1, got 0)");
    };
    let mut options = Map::new();
    for kv in opts {
        let Some((k, v)) = kv.split_once('=') else {
            return ctx.usage(&format!(
                "Invalid key/value pair \"{kv}\": format must be key=value"
            ));
        };
        options.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    let path = if path.is_empty() { kind.as_str() } else { path };
    let path = format!("{}/", path.trim_matches('/'));
    let client = match ctx.api() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let body =
        json!({"type": kind, "description": description, "local": local, "options": options});
    match client
        .write_method(Method::PUT, &format!("sys/audit/{path}"), Some(&body))
        .await
    {
        Err(err) => ctx.fail("Error enabling audit device", &err),
        Ok(_) => {
            ctx.io.out(&format!(
                "Success! Enabled the {kind} audit device at: {path}"
            ));
            0
        }
    }
}

async fn disable(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let [path] = args else {
        return ctx.usage(&format!(
            "{} arguments (expected 1, got {})",
            if args.is_empty() {
                "Not enough"
            } else {
                "Too many"
            },
            args.len()
        ));
    };
    let path = format!("{}/", path.trim_matches('/'));
    let client = match ctx.api() {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client.delete(&format!("sys/audit/{path}")).await {
        Err(err) => ctx.fail("Error disabling audit device", &err),
        Ok(_) => {
            ctx.io.out(&format!(
                "Success! Disabled audit device (if it was enabled) at: {path}"
            ));
            0
        }
    }
}

async fn list(ctx: &mut Ctx<'_, '_>, detailed: bool) -> i32 {
    let client = match ctx.api() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let secret = match client.read("sys/audit").await {
        Err(err) => return ctx.fail("Error listing audits", &err),
        Ok(s) => s,
    };
    let devices: BTreeMap<String, Value> = secret
        .and_then(|s| s.data)
        .map(|d| d.into_iter().collect())
        .unwrap_or_default();
    if ctx.json() {
        return ctx.print_json(&devices);
    }
    if devices.is_empty() {
        ctx.io.out("No audit devices are enabled.");
        return 2;
    }
    let field = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("n/a")
            .to_owned()
    };
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|(path, d)| {
            let mut row = vec![path.clone(), field(d, "type"), field(d, "description")];
            if detailed {
                let local = d.get("local").and_then(Value::as_bool).unwrap_or(false);
                row.push(if local { "local" } else { "replicated" }.to_owned());
                let opts = d
                    .get("options")
                    .and_then(Value::as_object)
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                row.push(opts);
            }
            row
        })
        .collect();
    let header: &[&str] = if detailed {
        &["Path", "Type", "Description", "Replication", "Options"]
    } else {
        &["Path", "Type", "Description"]
    };
    ctx.io.out(&table(header, rows));
    0
}

async fn verify(
    ctx: &mut Ctx<'_, '_>,
    key: &str,
    device: &str,
    prev: &str,
    args: &[String],
) -> i32 {
    let [file] = args else {
        return ctx.usage(&format!("expected one FILE argument, got {}", args.len()));
    };
    let key_hex = if key.is_empty() {
        let client = match ctx.api() {
            Ok(c) => c,
            Err(code) => return code,
        };
        let path = format!("sys/audit-verify-key/{}", device.trim_matches('/'));
        match client.read(&path).await {
            Err(err) => return ctx.fail("Error reading the audit verification key", &err),
            Ok(s) => zeroize::Zeroizing::new(
                s.and_then(|s| s.data)
                    .and_then(|d| d.get("key").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_default(),
            ),
        }
    } else {
        zeroize::Zeroizing::new(key.to_owned())
    };
    let key = match hex::decode(key_hex.trim()) {
        Ok(k) if !k.is_empty() => zeroize::Zeroizing::new(k),
        _ => return ctx.usage("the verification key must be non-empty hex"),
    };
    let reader = match std::fs::File::open(file) {
        Ok(f) => BufReader::new(f),
        Err(e) => {
            ctx.io.err(&format!("Error opening {file}: {e}"));
            return 2;
        }
    };
    let report = server_audit::verify(reader, &key, (!prev.is_empty()).then_some(prev));
    if report.is_ok() {
        ctx.io.out(&report.to_string());
        0
    } else {
        ctx.io.err(&format!("{file}: {report}"));
        2
    }
}
