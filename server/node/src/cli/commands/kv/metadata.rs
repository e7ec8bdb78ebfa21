//! `kv metadata get | put | delete`.

use serde_json::{Map, Value};

use super::versions::{one_arg, print_versions_write};
use super::{KvMetadataCmd, Target, resolve};
use crate::cli::client::ApiClient;
use crate::cli::commands::token::pairs_object;
use crate::cli::commands::{Ctx, sanitize_path};
use crate::cli::format::header_for_map;

/// Run a `kv metadata` subcommand.
pub(crate) async fn run(ctx: &mut Ctx<'_, '_>, cmd: KvMetadataCmd) -> i32 {
    let (mount, args) = match &cmd {
        KvMetadataCmd::Get { mount, args }
        | KvMetadataCmd::Put { mount, args, .. }
        | KvMetadataCmd::Delete { mount, args } => (mount.clone(), args.clone()),
    };
    let path = match one_arg(ctx, &args) {
        Ok(path) => path.to_owned(),
        Err(code) => return code,
    };
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let target = match resolve(ctx, &client, &mount, sanitize_path(&path)).await {
        Ok(target) => target,
        Err(code) => return code,
    };
    if !target.mount.v2 {
        return ctx.usage("Metadata not supported on KV Version 1");
    }
    match cmd {
        KvMetadataCmd::Get { .. } => get(ctx, &client, &target).await,
        KvMetadataCmd::Put {
            max_versions,
            cas_required,
            delete_version_after,
            custom_metadata,
            ..
        } => {
            let full_path = target.full_path("metadata");
            let mut data = Map::new();
            if max_versions >= 0 {
                data.insert("max_versions".into(), max_versions.into());
            }
            if delete_version_after.0 >= 0 {
                data.insert(
                    "delete_version_after".into(),
                    delete_version_after.go_string().into(),
                );
            }
            if let Some(required) = cas_required {
                data.insert("cas_required".into(), required.into());
            }
            if !custom_metadata.is_empty() {
                data.insert(
                    "custom_metadata".into(),
                    Value::Object(pairs_object(&custom_metadata)),
                );
            }
            let result = client.write(&full_path, &Value::Object(data)).await;
            print_versions_write(ctx, &full_path, result)
        }
        KvMetadataCmd::Delete { .. } => {
            let full_path = target.full_path("metadata");
            match client.delete(&full_path).await {
                Err(err) => {
                    ctx.io.err(&format!("Error deleting {full_path}: {err}"));
                    if let Some(secret) = err.secret() {
                        ctx.print_secret(secret);
                    }
                    2
                }
                Ok(_) => {
                    ctx.io.out(&format!(
                        "Success! Data deleted (if it existed) at: {full_path}"
                    ));
                    0
                }
            }
        }
    }
}

/// `kv metadata get`: the metadata table, then one table per version in numeric order.
async fn get(ctx: &mut Ctx<'_, '_>, client: &ApiClient, target: &Target) -> i32 {
    let full_path = target.full_path("metadata");
    let mut secret = match client.read(&full_path).await {
        Err(err) => {
            ctx.io.err(&format!("Error reading {full_path}: {err}"));
            return 2;
        }
        Ok(None) => {
            ctx.io.err(&format!("No value found at {full_path}"));
            return 2;
        }
        Ok(Some(secret)) => secret,
    };
    if secret.wrap_info.is_some() || ctx.json() {
        return ctx.print_secret(&secret);
    }
    let versions = secret
        .data
        .as_mut()
        .and_then(|d| d.remove("versions"))
        .filter(|v| !v.is_null());
    let Some(versions) = versions else {
        ctx.io.err(&format!("No value found at {full_path}"));
        ctx.print_secret(&secret);
        return 2;
    };
    ctx.print_path_section(&full_path, "Metadata Path");
    ctx.io
        .out(&header_for_map("Metadata", secret.data.as_ref()));
    ctx.print_secret(&secret);
    let empty = Map::new();
    let versions = versions.as_object().unwrap_or(&empty);
    let mut numbers = Vec::with_capacity(versions.len());
    for key in versions.keys() {
        let Ok(number) = key.parse::<i64>() else {
            ctx.io.err(&format!("Error parsing version {key}"));
            return 2;
        };
        numbers.push((number, key));
    }
    numbers.sort();
    for (number, key) in numbers {
        let version = versions.get(key).and_then(Value::as_object);
        ctx.io.out(&format!(
            "\n{}",
            header_for_map(&format!("Version {number}"), version)
        ));
        if let Some(version) = version {
            ctx.print_map(version);
        }
    }
    0
}
