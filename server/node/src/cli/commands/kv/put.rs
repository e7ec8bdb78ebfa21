//! `kv put`, `kv patch` and `kv rollback`.

use serde_json::{Map, Value, json};

use super::{is_wrapped, resolve};
use crate::cli::client::ApiClient;
use crate::cli::commands::{Ctx, sanitize_path};
use crate::cli::kv::parse_kv_args;
use crate::cli::secret::Secret;

/// Parse `K=V` arguments, printing vault's message on failure (exit 1).
fn parse_data(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Result<Map<String, Value>, i32> {
    parse_kv_args(args, &mut *ctx.io.stdin).map_err(|err| {
        ctx.io.err(&format!("Failed to parse K=V data: {err}"));
        1
    })
}

/// What `put` and `patch` print after a successful write that returned a secret.
fn print_write_result(
    ctx: &mut Ctx<'_, '_>,
    secret: &Secret,
    full_path: &str,
    field: Option<&str>,
) -> i32 {
    if let Some(field) = field {
        return ctx.print_raw_field(secret, field);
    }
    if is_wrapped(secret) || ctx.json() {
        return ctx.print_secret(secret);
    }
    ctx.print_path_section(full_path, "Secret Path");
    ctx.print_map_section("Metadata", secret.data.as_ref());
    0
}

/// `kv put [-mount=M] [-cas=N] PATH K=V...`.
pub(crate) async fn put(
    ctx: &mut Ctx<'_, '_>,
    mount: &str,
    cas: i64,
    field: Option<&str>,
    args: &[String],
) -> i32 {
    let (path, kvs) = match args {
        [] => return ctx.usage("Not enough arguments (expected >1, got 0)"),
        [_] => return ctx.usage("Must supply data"),
        [path, kvs @ ..] => (path, kvs),
    };
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let mut data = match parse_data(ctx, kvs) {
        Ok(data) => Value::Object(data),
        Err(code) => return code,
    };
    let target = match resolve(ctx, &client, mount, sanitize_path(path)).await {
        Ok(target) => target,
        Err(code) => return code,
    };
    let full_path = target.full_path("data");
    if target.mount.v2 {
        let mut options = Map::new();
        if cas > -1 {
            options.insert("cas".into(), cas.into());
        }
        data = json!({"data": data, "options": options});
    }
    match client.write(&full_path, &data).await {
        Err(err) => {
            ctx.io
                .err(&format!("Error writing data to {full_path}: {err}"));
            if let Some(secret) = err.secret() {
                ctx.print_secret(secret);
            }
            2
        }
        Ok(None) => {
            ctx.print_written(&full_path);
            0
        }
        Ok(Some(secret)) => print_write_result(ctx, &secret, &full_path, field),
    }
}

/// Flags of `kv patch`.
pub(crate) struct PatchOptions {
    pub(crate) cas: i64,
    pub(crate) method: String,
    pub(crate) remove_data: Vec<String>,
    pub(crate) field: Option<String>,
}

/// `kv patch [-mount=M] [-cas=N] [-method=patch|rw] [-remove-data=K] PATH K=V...`.
pub(crate) async fn patch(
    ctx: &mut Ctx<'_, '_>,
    mount: &str,
    opts: &PatchOptions,
    args: &[String],
) -> i32 {
    let (path, kvs) = match args {
        [] => return ctx.usage("Not enough arguments (expected >1, got 0)"),
        [_] if opts.remove_data.is_empty() => return ctx.usage("Must supply data"),
        [path, kvs @ ..] => (path, kvs),
    };
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let mut new_data = match parse_data(ctx, kvs) {
        Ok(data) => data,
        Err(code) => return code,
    };
    let target = match resolve(ctx, &client, mount, sanitize_path(path)).await {
        Ok(target) => target,
        Err(code) => return code,
    };
    if !target.mount.v2 {
        ctx.io
            .err("K/V engine mount must be version 2 for patch support");
        return 2;
    }
    let full_path = target.full_path("data");
    // A null in a JSON merge patch removes the key.
    for key in &opts.remove_data {
        new_data.insert(key.clone(), Value::Null);
    }
    let result = match opts.method.as_str() {
        "rw" => read_then_write(ctx, &client, &full_path, new_data).await,
        "patch" => merge_patch(ctx, &client, &full_path, new_data, opts.cas, false).await,
        "" => merge_patch(ctx, &client, &full_path, new_data, opts.cas, true).await,
        other => {
            ctx.io.err(&format!(
                "Unsupported method provided to -method flag: {other}"
            ));
            return 2;
        }
    };
    match result {
        Err(code) => code,
        Ok(None) => 0,
        Ok(Some(secret)) => print_write_result(ctx, &secret, &full_path, opts.field.as_deref()),
    }
}

/// PATCH with a JSON merge patch; without `-method`, a 405 or 403 falls back to read-then-write.
async fn merge_patch(
    ctx: &mut Ctx<'_, '_>,
    client: &ApiClient,
    path: &str,
    new_data: Map<String, Value>,
    cas: i64,
    rw_fallback: bool,
) -> Result<Option<Secret>, i32> {
    let mut options = Map::new();
    if cas > 0 {
        options.insert("cas".into(), cas.into());
    }
    let body = json!({"data": new_data, "options": options});
    match client.merge_patch(path, &body).await {
        Ok(None) => {
            ctx.print_written(path);
            Ok(None)
        }
        Ok(Some(secret)) => Ok(Some(secret)),
        Err(err) if rw_fallback && err.status() == Some(405) => {
            read_then_write(ctx, client, path, new_data).await
        }
        Err(err) if rw_fallback && err.status() == Some(403) => {
            ctx.io.err(&format!(
                "Data was written to {path} but we recommend that you add the \"patch\" capability to your ACL policy in order to use HTTP PATCH in the future."
            ));
            read_then_write(ctx, client, path, new_data).await
        }
        Err(err) => {
            ctx.io.err(&format!("Error writing data to {path}: {err}"));
            Err(2)
        }
    }
}

/// Read a KV v2 secret (optionally a version) and return its metadata and data maps, checking them like
/// vault's `kv patch -method=rw` and `kv rollback` do; `purpose` is `patch` or `rollback`.
async fn read_existing(
    ctx: &mut Ctx<'_, '_>,
    client: &ApiClient,
    path: &str,
    version: Option<&str>,
    purpose: &str,
) -> Result<(Map<String, Value>, Option<Value>), i32> {
    let query: Vec<(&str, &str)> = version.map(|v| ("version", v)).into_iter().collect();
    let fail = |ctx: &mut Ctx<'_, '_>, message: String| {
        ctx.io.err(&message);
        Err(2)
    };
    let secret = match client.read_with(path, &query).await {
        Err(err) => return fail(ctx, format!("Error doing pre-read at {path}: {err}")),
        Ok(secret) => secret,
    };
    let Some(data) = secret.and_then(|s| s.data) else {
        return fail(ctx, format!("No value found at {path}"));
    };
    let metadata = match data.get("metadata") {
        None | Some(Value::Null) => {
            return fail(
                ctx,
                format!("No metadata found at {path}; {purpose} only works on existing data"),
            );
        }
        Some(Value::Object(meta)) => meta.clone(),
        Some(_) => {
            return fail(
                ctx,
                format!("Metadata found at {path} is not the expected type (JSON object)"),
            );
        }
    };
    Ok((metadata, data.get("data").cloned()))
}

/// The data map of a read, checked like vault (`No data found at ...`).
fn existing_data(
    ctx: &mut Ctx<'_, '_>,
    path: &str,
    data: Option<Value>,
    purpose: &str,
) -> Result<Map<String, Value>, i32> {
    match data {
        None | Some(Value::Null) => {
            ctx.io.err(&format!(
                "No data found at {path}; {purpose} only works on existing data"
            ));
            Err(2)
        }
        Some(Value::Object(map)) => Ok(map),
        Some(_) => {
            ctx.io.err(&format!(
                "Data found at {path} is not the expected type (JSON object)"
            ));
            Err(2)
        }
    }
}

/// Read the secret, merge the new keys over it locally, and write it back with check-and-set.
async fn read_then_write(
    ctx: &mut Ctx<'_, '_>,
    client: &ApiClient,
    path: &str,
    new_data: Map<String, Value>,
) -> Result<Option<Secret>, i32> {
    let (metadata, data) = read_existing(ctx, client, path, None, "patch").await?;
    let mut data = existing_data(ctx, path, data, "patch")?;
    data.extend(new_data);
    let cas = metadata.get("version").cloned().unwrap_or(Value::Null);
    let body = json!({"data": data, "options": {"cas": cas}});
    match client.write(path, &body).await {
        Err(err) => {
            ctx.io.err(&format!("Error writing data to {path}: {err}"));
            Err(2)
        }
        Ok(None) => {
            ctx.print_written(path);
            Ok(None)
        }
        Ok(Some(secret)) => Ok(Some(secret)),
    }
}

/// `kv rollback -version=N [-mount=M] PATH`.
pub(crate) async fn rollback(
    ctx: &mut Ctx<'_, '_>,
    mount: &str,
    version: Option<i64>,
    args: &[String],
) -> i32 {
    let [path] = args else {
        return ctx.usage(&format!(
            "Invalid number of arguments (expected 1, got {})",
            args.len()
        ));
    };
    let Some(version) = version else {
        return ctx.usage("Version flag must be specified");
    };
    if version <= 0 {
        return ctx.usage(&format!("Invalid value {version} for the version flag"));
    }
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let target = match resolve(ctx, &client, mount, sanitize_path(path)).await {
        Ok(target) => target,
        Err(code) => return code,
    };
    if !target.mount.v2 {
        ctx.io
            .err("K/V engine mount must be version 2 for rollback support");
        return 2;
    }
    let full_path = target.full_path("data");
    let cas = match read_existing(ctx, &client, &full_path, None, "rollback").await {
        Ok((metadata, _)) => metadata.get("version").cloned().unwrap_or(Value::Null),
        Err(code) => return code,
    };
    let version_text = version.to_string();
    let (metadata, data) =
        match read_existing(ctx, &client, &full_path, Some(&version_text), "rollback").await {
            Ok(found) => found,
            Err(code) => return code,
        };
    if metadata
        .get("deletion_time")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
    {
        ctx.io
            .err("Cannot roll back to a version that has been deleted");
        return 2;
    }
    if metadata.get("destroyed").and_then(Value::as_bool) == Some(true) {
        ctx.io
            .err("Cannot roll back to a version that has been destroyed");
        return 2;
    }
    let data = match existing_data(ctx, &full_path, data, "rollback") {
        Ok(data) => data,
        Err(code) => return code,
    };
    let body = json!({"data": data, "options": {"cas": cas}});
    match client.write(&full_path, &body).await {
        Err(err) => {
            ctx.io
                .err(&format!("Error writing data to {full_path}: {err}"));
            2
        }
        Ok(None) => {
            ctx.print_written(&full_path);
            0
        }
        Ok(Some(secret)) => ctx.print_secret(&secret),
    }
}
