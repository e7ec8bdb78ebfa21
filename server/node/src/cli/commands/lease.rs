//! `coffer lease lookup|renew|revoke`: the vault CLI's lease commands over `sys/leases/*`.

use clap::Subcommand;
use clap::builder::BoolishValueParser;
use reqwest::Method;
use serde_json::{Value, json};

use super::Ctx;
use crate::cli::args::GoDuration;

/// `coffer lease ...` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum LeaseCmd {
    /// Print a lease's issue and expiry times and TTL.
    Lookup {
        /// `ID`.
        args: Vec<String>,
    },
    /// Extend a lease.
    Renew {
        /// Requested extension (the engine's default when 0).
        #[arg(long, short = 'i', value_parser = GoDuration::parse, default_value = "0")]
        increment: GoDuration,
        /// `ID`.
        args: Vec<String>,
    },
    /// Revoke a lease, or every lease under a prefix.
    Revoke {
        /// Forget the leases even when the engine cannot revoke them (needs -prefix).
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
              default_value = "false", value_parser = BoolishValueParser::new())]
        force: bool,
        /// Treat the argument as a prefix.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
              default_value = "false", value_parser = BoolishValueParser::new())]
        prefix: bool,
        /// Wait for the revocation instead of queueing it.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
              default_value = "false", value_parser = BoolishValueParser::new())]
        sync: bool,
        /// `ID` or prefix.
        args: Vec<String>,
    },
}

/// Runs a `lease` subcommand.
pub(crate) async fn run(ctx: &mut Ctx<'_, '_>, cmd: LeaseCmd) -> i32 {
    match cmd {
        LeaseCmd::Lookup { args } => lookup(ctx, &args).await,
        LeaseCmd::Renew { increment, args } => renew(ctx, increment, &args).await,
        LeaseCmd::Revoke {
            force,
            prefix,
            sync,
            args,
        } => revoke(ctx, force, prefix, sync, &args).await,
    }
}

fn one_arg(args: &[String]) -> Result<String, String> {
    match args {
        [one] => Ok(one.trim().to_owned()),
        [] => Err("Missing ID: lease ID is required".to_owned()),
        _ => Err(format!(
            "Too many arguments (expected 1, got {})",
            args.len()
        )),
    }
}

async fn lookup(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let id = match one_arg(args) {
        Ok(id) => id,
        Err(e) => return ctx.usage(&e),
    };
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    match client
        .write_method(
            Method::PUT,
            "sys/leases/lookup",
            Some(&json!({"lease_id": id})),
        )
        .await
    {
        Err(err) => ctx.fail(&format!("error looking up lease id {id}"), &err),
        Ok(None) => 0,
        Ok(Some(secret)) => ctx.print_secret(&secret),
    }
}

async fn renew(ctx: &mut Ctx<'_, '_>, increment: GoDuration, args: &[String]) -> i32 {
    let id = match one_arg(args) {
        Ok(id) => id,
        Err(e) => return ctx.usage(&e),
    };
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let body = json!({"lease_id": id, "increment": increment.secs().max(0)});
    match client
        .write_method(Method::PUT, "sys/leases/renew", Some(&body))
        .await
    {
        Err(err) => ctx.fail("Error renewing lease", &err),
        Ok(None) => 0,
        Ok(Some(secret)) => ctx.print_secret(&secret),
    }
}

async fn revoke(
    ctx: &mut Ctx<'_, '_>,
    force: bool,
    prefix: bool,
    sync: bool,
    args: &[String],
) -> i32 {
    let id = match one_arg(args) {
        Ok(id) => id,
        Err(e) => return ctx.usage(&e),
    };
    if force && !prefix {
        return ctx.usage("Specifying -force requires also specifying -prefix");
    }
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let (path, body, what) = if force {
        (
            format!("sys/leases/revoke-force/{id}"),
            Value::Null,
            format!("Success! Force revoked any leases with prefix: {id}"),
        )
    } else if prefix {
        (
            format!("sys/leases/revoke-prefix/{id}"),
            json!({"sync": sync}),
            format!("Success! Revoked any leases with prefix: {id}"),
        )
    } else {
        (
            "sys/leases/revoke".to_owned(),
            json!({"lease_id": id, "sync": sync}),
            format!("Success! Revoked lease: {id}"),
        )
    };
    let body = (!body.is_null()).then_some(body);
    match client.write_method(Method::PUT, &path, body.as_ref()).await {
        Err(err) if force => ctx.fail(
            &format!("Error force revoking leases with prefix {id}"),
            &err,
        ),
        Err(err) if prefix => ctx.fail(&format!("Error revoking leases with prefix {id}"), &err),
        Err(err) => ctx.fail(&format!("Error revoking lease {id}"), &err),
        Ok(_) => {
            if !ctx.json() {
                if sync || force {
                    ctx.io.out(&what);
                } else {
                    ctx.io.out("All revocation operations queued successfully!");
                }
            }
            0
        }
    }
}
