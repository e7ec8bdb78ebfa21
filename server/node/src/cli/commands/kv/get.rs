//! `kv get` and `kv list`.

use serde_json::Value;

use super::{is_wrapped, resolve};
use crate::cli::commands::{Ctx, sanitize_path};

/// `kv get [-mount=M] [-version=N] [-field=F] PATH`.
pub(crate) async fn get(
    ctx: &mut Ctx<'_, '_>,
    mount: &str,
    version: i64,
    field: Option<&str>,
    args: &[String],
) -> i32 {
    let arg = match args {
        [one] => one,
        _ => {
            let word = if args.is_empty() {
                "Not enough"
            } else {
                "Too many"
            };
            return ctx.usage(&format!(
                "{word} arguments (expected 1, got {})",
                args.len()
            ));
        }
    };
    let client = match ctx.api() {
        Ok(client) => client,
        Err(code) => return code,
    };
    // Only one leading slash is ignored here, as in vault.
    let partial = arg.strip_prefix('/').unwrap_or(arg).to_owned();
    let target = match resolve(ctx, &client, mount, partial).await {
        Ok(target) => target,
        Err(code) => return code,
    };
    let v2 = target.mount.v2;
    let full_path = target.full_path("data");
    let version_text = version.to_string();
    let query: Vec<(&str, &str)> = if v2 && version > 0 {
        vec![("version", version_text.as_str())]
    } else {
        Vec::new()
    };
    let secret = match client.read_with(&full_path, &query).await {
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
    if let Some(field) = field {
        if !v2 {
            return ctx.print_raw_field(&secret, field);
        }
        let data = secret
            .data
            .as_ref()
            .and_then(|d| d.get("data"))
            .filter(|d| !d.is_null());
        let Some(data) = data else {
            ctx.io.err(&format!("No data found at {full_path}"));
            return 2;
        };
        let Some(map) = data.as_object() else {
            ctx.io.err(&format!(
                "{} is not supported by PrintRawField",
                go_type(data)
            ));
            return 1;
        };
        // A literal "data" field means the inner data block unless the secret has a key called "data".
        if field == "data" && !map.contains_key("data") {
            return ctx.print_raw_field(&secret, field);
        }
        return ctx.print_map_field(map, field);
    }
    if secret.wrap_info.is_some() || ctx.json() {
        return ctx.print_secret(&secret);
    }
    ctx.print_warnings(&secret);
    if v2 {
        ctx.print_path_section(&full_path, "Secret Path");
    }
    let data = secret.data.as_ref();
    if let Some(metadata) = data
        .and_then(|d| d.get("metadata"))
        .and_then(Value::as_object)
    {
        ctx.print_map_section("Metadata", Some(metadata));
        ctx.io.out("");
    }
    let shown = if v2 {
        data.and_then(|d| d.get("data")).and_then(Value::as_object)
    } else {
        data
    };
    if let Some(shown) = shown {
        ctx.print_map_section("Data", Some(shown));
    }
    0
}

/// The Go type name vault would report for a non-map value.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
        Value::Null => "<nil>",
    }
}

/// `kv list [-mount=M] [PATH]`.
pub(crate) async fn list(ctx: &mut Ctx<'_, '_>, mount: &str, args: &[String]) -> i32 {
    let arg = match args {
        [] if mount.is_empty() => {
            return ctx.usage("Not enough arguments (expected 1, got 0)");
        }
        [] => String::new(),
        [one] => one.clone(),
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
    let target = match resolve(ctx, &client, mount, sanitize_path(&arg)).await {
        Ok(target) => target,
        Err(code) => return code,
    };
    let full_path = target.full_path("metadata");
    let secret = match client.list(&full_path).await {
        Ok(secret) => secret,
        Err(err) => {
            ctx.io.err(&format!("Error listing {full_path}: {err}"));
            return 2;
        }
    };
    if let Some(secret) = secret.as_ref().filter(|s| is_wrapped(s)) {
        return ctx.print_secret(secret);
    }
    let has_data = secret.as_ref().is_some_and(|s| s.data.is_some());
    let has_keys = secret
        .as_ref()
        .and_then(|s| s.data.as_ref())
        .and_then(|d| d.get("keys"))
        .is_some_and(Value::is_array);
    if ctx.json() && !(has_data && has_keys) {
        ctx.io.out("{}");
        return 2;
    }
    let Some(secret) = secret.filter(|_| has_data) else {
        ctx.io.err(&format!("No value found at {full_path}"));
        return 2;
    };
    if !has_keys {
        ctx.io.err(&format!("No entries found at {full_path}"));
        return 2;
    }
    ctx.print_list(&secret)
}
