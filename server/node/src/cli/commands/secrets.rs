//! `secrets enable | disable | list | tune | move`.

use std::time::Duration;

use clap::Subcommand;
use clap::builder::BoolishValueParser;
use reqwest::Method;
use serde_json::{Value, json};

use super::Ctx;
use super::mounts::{
    self, ConfigFlags, EnableFlags, MountKind, enable_body, ensure_trailing_slash, list, post,
};
use super::policy::expect_args;

/// How long `secrets move` waits between migration status checks (vault's interval).
const MOVE_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// `coffer secrets ...` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum SecretsCmd {
    /// Enable a secrets engine: `enable [flags] TYPE`.
    Enable {
        /// Mount flags.
        #[command(flatten)]
        flags: EnableFlags,
        /// Disable caching of the engine's responses.
        #[arg(long = "force-no-cache", num_args = 0..=1, require_equals = true, default_missing_value = "true",
              default_value = "false", value_parser = BoolishValueParser::new())]
        force_no_cache: bool,
        /// `TYPE`.
        args: Vec<String>,
    },
    /// Disable the secrets engine at a path.
    Disable {
        /// `PATH`.
        args: Vec<String>,
    },
    /// List the enabled secrets engines.
    List {
        /// Show every mount setting.
        #[arg(long)]
        detailed: bool,
        /// Unexpected arguments (rejected like vault does).
        #[arg(hide = true)]
        args: Vec<String>,
    },
    /// Tune a secrets engine's configuration.
    Tune {
        /// Configuration flags.
        #[command(flatten)]
        config: ConfigFlags,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// `PATH`.
        args: Vec<String>,
    },
    /// Move a secrets engine to a new path: `move SOURCE DESTINATION`.
    Move {
        /// `SOURCE DESTINATION`.
        args: Vec<String>,
    },
}

/// Run a secrets subcommand.
pub(crate) async fn run(ctx: &mut Ctx<'_, '_>, cmd: SecretsCmd) -> i32 {
    match cmd {
        SecretsCmd::Enable {
            flags,
            force_no_cache,
            args,
        } => enable(ctx, &flags, force_no_cache, &args).await,
        SecretsCmd::Disable { args } => mounts::disable(ctx, MountKind::Secrets, &args).await,
        SecretsCmd::List { detailed, args } => list(ctx, MountKind::Secrets, detailed, &args).await,
        SecretsCmd::Tune {
            config,
            description,
            args,
        } => {
            mounts::tune(
                ctx,
                MountKind::Secrets,
                &config,
                description.as_deref(),
                None,
                &args,
            )
            .await
        }
        SecretsCmd::Move { args } => move_mount(ctx, &args).await,
    }
}

async fn enable(
    ctx: &mut Ctx<'_, '_>,
    flags: &EnableFlags,
    force_no_cache: bool,
    args: &[String],
) -> i32 {
    if let Err(message) = expect_args(args, 1) {
        return ctx.usage(&message);
    }
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let mut engine_type = args.first().map_or("", |a| a.trim()).to_owned();
    if engine_type == "plugin" {
        engine_type = flags.plugin_name.clone();
    }
    let mut path = flags.path.clone();
    if path.is_empty() {
        path = if engine_type == "plugin" {
            flags.plugin_name.clone()
        } else {
            engine_type.clone()
        };
    }
    let path = ensure_trailing_slash(&path);
    let body = enable_body(flags, &engine_type, force_no_cache, None);
    if let Err(message) = post(&client, &format!("sys/mounts/{path}"), &body).await {
        ctx.io.err(&format!("Error enabling: {message}"));
        return 2;
    }
    let thing = if engine_type == "plugin" {
        format!("{} plugin", flags.plugin_name)
    } else {
        format!("{engine_type} secrets engine")
    };
    ctx.io
        .out(&format!("Success! Enabled the {thing} at: {path}"));
    0
}

/// A string at `data.<key>` (or `data.<key>.<sub>`), empty when absent.
fn data_string(data: Option<&serde_json::Map<String, Value>>, path: &[&str]) -> String {
    let mut value = data.map(|d| Value::Object(d.clone()));
    for key in path {
        value = value.and_then(|v| v.get(*key).cloned());
    }
    value
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn move_mount(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    if let Err(message) = expect_args(args, 2) {
        return ctx.usage(&message);
    }
    let source = ensure_trailing_slash(args.first().map_or("", String::as_str));
    let destination = ensure_trailing_slash(args.get(1).map_or("", String::as_str));
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let started = client
        .write_method(
            Method::POST,
            "sys/remount",
            Some(&json!({"from": source, "to": destination})),
        )
        .await;
    let migration_id = match started {
        Ok(Some(secret)) if secret.data.is_some() => {
            data_string(secret.data.as_ref(), &["migration_id"])
        }
        Ok(_) => {
            ctx.io.err(&format!(
                "Error moving secrets engine {source} to {destination}: data from server response is empty"
            ));
            return 2;
        }
        Err(err) => {
            return ctx.fail(
                &format!("Error moving secrets engine {source} to {destination}"),
                &err,
            );
        }
    };
    let what =
        format!("secrets engine {source} to {destination}, with migration ID {migration_id}");
    ctx.io.out(&format!("Started moving {what}"));
    loop {
        let status = match client
            .call_secret(
                Method::GET,
                &format!("sys/remount/status/{migration_id}"),
                &[],
            )
            .await
        {
            Ok(Some(secret)) if secret.data.is_some() => {
                data_string(secret.data.as_ref(), &["migration_info", "status"])
            }
            Ok(_) => {
                ctx.io.err(&format!(
                    "Error checking migration status of secrets engine {source} to {destination}: data from server response is empty"
                ));
                return 2;
            }
            Err(err) => {
                return ctx.fail(
                    &format!(
                        "Error checking migration status of secrets engine {source} to {destination}"
                    ),
                    &err,
                );
            }
        };
        match status.as_str() {
            "success" => {
                ctx.io.out(&format!("Success! Finished moving {what}"));
                return 0;
            }
            "failure" => {
                // Vault reports a failed migration on stderr but still exits 0.
                ctx.io
                    .err(&format!("Failure! Error encountered moving {what}"));
                return 0;
            }
            _ => {
                ctx.io.out(&format!(
                    "Waiting for terminal status in migration of {what}"
                ));
                tokio::time::sleep(MOVE_POLL_INTERVAL).await;
            }
        }
    }
}
