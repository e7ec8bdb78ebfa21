//! `kv delete`, `kv undelete` and `kv destroy`.

use serde_json::json;

use super::{Target, add_prefix, parse_versions, preflight, resolve};
use crate::cli::client::ApiError;
use crate::cli::commands::{Ctx, sanitize_path};
use crate::cli::secret::Secret;

/// Exactly one path argument, or vault's usage message.
pub(crate) fn one_arg<'a>(ctx: &mut Ctx<'_, '_>, args: &'a [String]) -> Result<&'a str, i32> {
    match args {
        [one] => Ok(one),
        _ => {
            let word = if args.is_empty() {
                "Not enough"
            } else {
                "Too many"
            };
            Err(ctx.usage(&format!(
                "{word} arguments (expected 1, got {})",
                args.len()
            )))
        }
    }
}

/// `kv delete [-mount=M] [-versions=N,...] PATH`.
pub(crate) async fn delete(
    ctx: &mut Ctx<'_, '_>,
    mount: &str,
    versions: &[String],
    field: Option<&str>,
    args: &[String],
) -> i32 {
    let path = match one_arg(ctx, args) {
        Ok(path) => path,
        Err(code) => return code,
    };
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let target = match resolve(ctx, &client, mount, sanitize_path(path)).await {
        Ok(target) => target,
        Err(code) => return code,
    };
    let full_path = target.full_path("data");
    let result = if target.mount.v2 && !versions.is_empty() {
        let delete_path = target.full_path("delete");
        client
            .write(&delete_path, &json!({"versions": parse_versions(versions)}))
            .await
    } else {
        client.delete(&full_path).await
    };
    match result {
        Err(err) => {
            ctx.io.err(&format!("Error deleting {full_path}: {err}"));
            if let Some(secret) = err.secret() {
                ctx.print_secret(secret);
            }
            2
        }
        Ok(None) => {
            if !ctx.json() {
                ctx.io.out(&format!(
                    "Success! Data deleted (if it existed) at: {full_path}"
                ));
            }
            0
        }
        Ok(Some(secret)) => match field {
            Some(field) => ctx.print_raw_field(&secret, field),
            None => ctx.print_secret(&secret),
        },
    }
}

/// Print the outcome of a `versions` write (`undelete`, `destroy`, `metadata put`).
pub(crate) fn print_versions_write(
    ctx: &mut Ctx<'_, '_>,
    path: &str,
    result: Result<Option<Secret>, ApiError>,
) -> i32 {
    match result {
        Err(err) => {
            ctx.io.err(&format!("Error writing data to {path}: {err}"));
            if let Some(secret) = err.secret() {
                ctx.print_secret(secret);
            }
            2
        }
        Ok(None) => {
            ctx.print_written(path);
            0
        }
        Ok(Some(secret)) => ctx.print_secret(&secret),
    }
}

/// `kv undelete -versions=N,... [-mount=M] PATH`.
pub(crate) async fn undelete(
    ctx: &mut Ctx<'_, '_>,
    mount: &str,
    versions: &[String],
    args: &[String],
) -> i32 {
    versions_op(ctx, mount, versions, args, "undelete").await
}

/// `kv destroy -versions=N,... [-mount=M] PATH`.
pub(crate) async fn destroy(
    ctx: &mut Ctx<'_, '_>,
    mount: &str,
    versions: &[String],
    args: &[String],
) -> i32 {
    versions_op(ctx, mount, versions, args, "destroy").await
}

async fn versions_op(
    ctx: &mut Ctx<'_, '_>,
    mount: &str,
    versions: &[String],
    args: &[String],
    op: &str,
) -> i32 {
    let path = match one_arg(ctx, args) {
        Ok(path) => path,
        Err(code) => return code,
    };
    if versions.is_empty() {
        return ctx.usage(&format!(
            "No versions provided, use the \"-versions\" flag to specify the version to {op}."
        ));
    }
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let partial = sanitize_path(path);
    let target = if op == "undelete" && !mount.is_empty() {
        // Vault's undelete keeps the flag's mount path and the bare secret path.
        let mount_path = sanitize_path(mount);
        match preflight(&client, &mount_path).await {
            Ok(found) => Target {
                mount: super::Mount {
                    path: mount_path,
                    v2: found.v2,
                },
                partial,
                mount_flag: true,
            },
            Err(message) => {
                ctx.io.err(&message);
                return 2;
            }
        }
    } else {
        match resolve(ctx, &client, mount, partial).await {
            Ok(target) => target,
            Err(code) => return code,
        }
    };
    if !target.mount.v2 {
        let name = if op == "undelete" {
            "Undelete"
        } else {
            "Destroy"
        };
        return ctx.usage(&format!("{name} not supported on KV Version 1"));
    }
    let op_path = add_prefix(&target.partial, &target.mount.path, op);
    let result = client
        .write(&op_path, &json!({"versions": parse_versions(versions)}))
        .await;
    print_versions_write(ctx, &op_path, result)
}
