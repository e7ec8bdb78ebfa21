//! `read`, `write`, `list`, `delete`.

use serde_json::Value;

use super::{Ctx, sanitize_path};
use crate::cli::client::ApiClient;
use crate::cli::format::{table, to_json};
use crate::cli::kv::parse_kv_args;

/// Build the client or print why not (exit 2, as vault does outside `status`).
fn client_or_exit(ctx: &mut Ctx<'_, '_>) -> Result<ApiClient, i32> {
    ctx.client().map_err(|err| {
        ctx.io.err(&err.to_string());
        2
    })
}

/// `read <path> [-field=x]`: 404 prints "No value found at <path>" and exits 2.
pub(crate) async fn read(ctx: &mut Ctx<'_, '_>, path: &str, field: Option<&str>) -> i32 {
    let client = match client_or_exit(ctx) {
        Ok(client) => client,
        Err(code) => return code,
    };
    let path = sanitize_path(path);
    match client.read(&path).await {
        Err(err) => {
            ctx.io.err(&format!("Error reading {path}: {err}"));
            2
        }
        Ok(None) => {
            ctx.io.err(&format!("No value found at {path}"));
            2
        }
        Ok(Some(secret)) => match field {
            Some(field) => ctx.print_raw_field(&secret, field),
            None => ctx.print_secret(&secret),
        },
    }
}

/// `write <path> k=v...`: 204 prints "Success! Data written to: <path>".
pub(crate) async fn write(
    ctx: &mut Ctx<'_, '_>,
    path: &str,
    kvs: &[String],
    force: bool,
    field: Option<&str>,
) -> i32 {
    if kvs.is_empty() && !force {
        ctx.io.err("Must supply data or use -force");
        return 1;
    }
    let path = sanitize_path(path);
    let data = match parse_kv_args(kvs, &mut *ctx.io.stdin) {
        Ok(data) => Value::Object(data),
        Err(err) => {
            ctx.io.err(&format!("Failed to parse K=V data: {err}"));
            return 1;
        }
    };
    let client = match client_or_exit(ctx) {
        Ok(client) => client,
        Err(code) => return code,
    };
    match client.write(&path, &data).await {
        Err(err) => {
            ctx.io.err(&format!("Error writing data to {path}: {err}"));
            if let Some(secret) = err.secret() {
                ctx.print_secret(secret);
            }
            2
        }
        Ok(None) => {
            if !ctx.json() {
                ctx.io.out(&format!("Success! Data written to: {path}"));
            }
            0
        }
        Ok(Some(secret)) => match field {
            Some(field) => ctx.print_raw_field(&secret, field),
            None => ctx.print_secret(&secret),
        },
    }
}

/// `list <path>`: prints the sorted `Keys` column; nothing there exits 2.
pub(crate) async fn list(ctx: &mut Ctx<'_, '_>, path: &str) -> i32 {
    let client = match client_or_exit(ctx) {
        Ok(client) => client,
        Err(code) => return code,
    };
    let path = sanitize_path(path);
    let secret = match client.list(&path).await {
        Ok(secret) => secret,
        Err(err) => {
            ctx.io.err(&format!("Error listing {path}: {err}"));
            return 2;
        }
    };
    if let Some(secret) = &secret
        && secret
            .wrap_info
            .as_ref()
            .and_then(|w| w.get("ttl"))
            .and_then(Value::as_i64)
            .is_some_and(|ttl| ttl != 0)
    {
        return ctx.print_secret(secret);
    }
    let keys = secret
        .as_ref()
        .and_then(|s| s.data.as_ref())
        .and_then(|d| d.get("keys"))
        .and_then(Value::as_array)
        .cloned();
    if ctx.json() && keys.is_none() {
        ctx.io.out("{}");
        return 2;
    }
    let Some(secret) = secret else {
        ctx.io.err(&format!("No value found at {path}"));
        return 2;
    };
    if secret.data.is_none() {
        // Only warnings (or non-data fields) came back: show them.
        return ctx.print_secret(&secret);
    }
    let Some(keys) = keys else {
        ctx.io.err(&format!("No entries found at {path}"));
        return 2;
    };
    if ctx.json() {
        ctx.io.out(&to_json(&keys));
        return 0;
    }
    ctx.print_warnings(&secret);
    let mut names = Vec::with_capacity(keys.len());
    for key in &keys {
        let Some(name) = key.as_str() else {
            ctx.io
                .err(&format!("Could not parse output: {key} is not a string"));
            return 1;
        };
        names.push(name.to_owned());
    }
    if !names.is_empty() {
        names.sort();
        ctx.io.out(&table(
            &["Keys"],
            names.into_iter().map(|n| vec![n]).collect(),
        ));
    }
    0
}

/// `delete <path>`: "Success! Data deleted (if it existed) at: <path>".
pub(crate) async fn delete(ctx: &mut Ctx<'_, '_>, path: &str) -> i32 {
    let client = match client_or_exit(ctx) {
        Ok(client) => client,
        Err(code) => return code,
    };
    let path = sanitize_path(path);
    match client.delete(&path).await {
        Err(err) => {
            ctx.io.err(&format!("Error deleting {path}: {err}"));
            if let Some(secret) = err.secret() {
                ctx.print_secret(secret);
            }
            2
        }
        Ok(None) => {
            if !ctx.json() {
                ctx.io
                    .out(&format!("Success! Data deleted (if it existed) at: {path}"));
            }
            0
        }
        Ok(Some(secret)) => ctx.print_secret(&secret),
    }
}
