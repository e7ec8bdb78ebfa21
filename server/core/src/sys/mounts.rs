//! `sys/mounts`, `sys/auth`, their `/tune` sub-paths, and `sys/remount`.

use std::collections::BTreeMap;
use std::time::Duration;

use engine_sdk::field;
use serde_json::{Map, Value, json};

use crate::core::Unsealed;
use crate::mount_table::{MountConfig, MountEntry, Table, normalize_path};
use crate::mounts::MountRequest;
use crate::{CoreError, Operation, Request, Response};

/// `sys/mounts[/<path>[/tune]]` or `sys/auth[/<path>[/tune]]`; `rest` is what follows `mounts`/`auth`.
pub(super) async fn route(
    u: &Unsealed,
    req: &Request,
    table: Table,
    rest: &str,
) -> Result<Response, CoreError> {
    let rest = rest.trim_start_matches('/');
    if rest.is_empty() {
        return match req.operation {
            Operation::Read => list(u, table).await,
            _ => Err(CoreError::UnsupportedOperation),
        };
    }
    if let Some(path) = rest
        .strip_suffix("/tune")
        .or_else(|| rest.strip_suffix("/tune/"))
    {
        // `sys/mounts/auth/<path>/tune` tunes an auth method, as the CLI's `auth tune` calls it.
        let (table, path) = match path.strip_prefix("auth/") {
            Some(p) if table == Table::Secrets => (Table::Auth, p),
            _ => (table, path),
        };
        let path = normalize_path(path)?;
        return match req.operation {
            Operation::Read => read_tune(u, table, &path).await,
            Operation::Update | Operation::Create => tune(u, req, table, &path).await,
            _ => Err(CoreError::UnsupportedOperation),
        };
    }
    let path = normalize_path(rest)?;
    match req.operation {
        Operation::Read => {
            let entries = u.mounts.entries(table).await;
            let e = entries
                .iter()
                .find(|e| e.path == path)
                .ok_or(CoreError::NotFound)?;
            Ok(Response::json(e.to_json(table == Table::Auth)).with_legacy_top_level())
        }
        Operation::Update | Operation::Create => enable(u, req, table, &path).await,
        Operation::Delete => {
            // The mount's leases are revoked first; if some cannot be, the mount stays (unless `force`, a
            // Coffer addition, forgets them) so no credential is stranded.
            crate::mounts::Mounts::ensure_removable(table, &path)?;
            let force = engine_sdk::field::boolean(&req.data, "force")?.unwrap_or(false);
            let prefix = table.route_prefix(&path);
            if u.expiration.any_under(&prefix).await? {
                u.expiration
                    .revoke_prefix(u, &prefix, false, true)
                    .await
                    .or_else(|e| {
                        if force {
                            Ok(())
                        } else {
                            Err(CoreError::InvalidRequest(format!(
                                "cannot disable {prefix:?}: {e}; fix the cause or disable with force=true to forget the leases"
                            )))
                        }
                    })?;
                if force {
                    u.expiration.revoke_prefix(u, &prefix, true, true).await?;
                }
            }
            // Tokens issued by an auth method go with it, as in OpenBao.
            if table == Table::Auth {
                let n = u.tokens.revoke_by_path_prefix(&prefix).await?;
                if n > 0 {
                    tracing::info!(path = %prefix, tokens = n, "revoked the tokens of a disabled auth method");
                }
            }
            u.mounts.unmount(table, &path).await?;
            Ok(Response::default())
        }
        _ => Err(CoreError::UnsupportedOperation),
    }
}

async fn list(u: &Unsealed, table: Table) -> Result<Response, CoreError> {
    let data: Map<String, Value> = u
        .mounts
        .entries(table)
        .await
        .iter()
        .map(|e| (e.path.clone(), e.to_json(table == Table::Auth)))
        .collect();
    Ok(Response::data(data).with_legacy_top_level())
}

async fn enable(
    u: &Unsealed,
    req: &Request,
    table: Table,
    path: &str,
) -> Result<Response, CoreError> {
    let kind = field::string(&req.data, "type")?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| CoreError::InvalidRequest("missing type".into()))?;
    let mut config = MountConfig::default();
    if let Some(Value::Object(c)) = req.data.get("config") {
        apply_config(&mut config, c)?;
    }
    let options = string_map(req.data.get("options"))?;
    let mount = MountRequest {
        kind,
        description: field::string(&req.data, "description")?.unwrap_or_default(),
        config,
        options,
        local: field::boolean(&req.data, "local")?.unwrap_or(false),
        seal_wrap: field::boolean(&req.data, "seal_wrap")?.unwrap_or(false),
    };
    u.mounts.mount(table, path, mount).await?;
    Ok(Response::default())
}

async fn read_tune(u: &Unsealed, table: Table, path: &str) -> Result<Response, CoreError> {
    let (d, m) = u.mounts.system_ttls();
    let entries = u.mounts.entries(table).await;
    let e = entries
        .iter()
        .find(|e| e.path == path)
        .ok_or_else(|| CoreError::InvalidRequest(format!("no mount at \"{path}\"")))?;
    let (default, max) = e.ttls(d, m);
    let mut data = Map::new();
    data.insert("default_lease_ttl".into(), json!(default.as_secs()));
    data.insert("max_lease_ttl".into(), json!(max.as_secs()));
    data.insert("force_no_cache".into(), json!(e.config.force_no_cache));
    data.insert("description".into(), json!(e.description));
    if table == Table::Auth {
        data.insert("token_type".into(), json!("default-service"));
    }
    if !e.options.is_empty() {
        data.insert("options".into(), json!(e.options));
    }
    if !e.config.listing_visibility.is_empty() {
        data.insert(
            "listing_visibility".into(),
            json!(e.config.listing_visibility),
        );
    }
    Ok(Response::data(data).with_legacy_top_level())
}

async fn tune(
    u: &Unsealed,
    req: &Request,
    table: Table,
    path: &str,
) -> Result<Response, CoreError> {
    let data = req.data.clone();
    let description = field::string(&data, "description")?;
    let options = match data.get("options") {
        Some(v) => Some(string_map(Some(v))?),
        None => None,
    };
    u.mounts
        .tune(table, path, move |e: &mut MountEntry| {
            apply_config(&mut e.config, &data)?;
            if let Some(d) = description {
                e.description = d;
            }
            if let Some(opts) = options {
                // A KV mount can be upgraded from v1 to v2, never back.
                if e.kind == "kv"
                    && let Some(v) = opts.get("version")
                {
                    let current = e.options.get("version").map(String::as_str).unwrap_or("1");
                    if current == "2" && v != "2" {
                        return Err(CoreError::InvalidRequest(
                            "cannot downgrade mount from version 2".into(),
                        ));
                    }
                }
                e.options.extend(opts);
            }
            Ok(())
        })
        .await?;
    Ok(Response::default())
}

/// Applies the tunable fields present in `c` (TTLs as seconds or duration strings; `system` resets a TTL).
fn apply_config(config: &mut MountConfig, c: &Map<String, Value>) -> Result<(), CoreError> {
    for (name, slot) in [
        ("default_lease_ttl", &mut config.default_lease_ttl),
        ("max_lease_ttl", &mut config.max_lease_ttl),
    ] {
        match c.get(name) {
            Some(Value::String(s)) if s == "system" || s.is_empty() => *slot = 0,
            Some(_) => {
                *slot = field::duration(c, name)?
                    .unwrap_or(Duration::ZERO)
                    .as_secs()
            }
            None => {}
        }
    }
    if config.max_lease_ttl != 0 && config.default_lease_ttl > config.max_lease_ttl {
        return Err(CoreError::InvalidRequest(
            "default lease TTL cannot be greater than maximum lease TTL".into(),
        ));
    }
    if let Some(b) = field::boolean(c, "force_no_cache")? {
        config.force_no_cache = b;
    }
    if let Some(v) = field::string(c, "listing_visibility")? {
        if !matches!(v.as_str(), "" | "hidden" | "unauth") {
            return Err(CoreError::InvalidRequest(
                "listing_visibility must be one of \"\", \"hidden\" or \"unauth\"".into(),
            ));
        }
        config.listing_visibility = v;
    }
    for (name, slot) in [
        (
            "audit_non_hmac_request_keys",
            &mut config.audit_non_hmac_request_keys,
        ),
        (
            "audit_non_hmac_response_keys",
            &mut config.audit_non_hmac_response_keys,
        ),
        (
            "passthrough_request_headers",
            &mut config.passthrough_request_headers,
        ),
        (
            "allowed_response_headers",
            &mut config.allowed_response_headers,
        ),
    ] {
        if let Some(v) = field::strings(c, name)? {
            *slot = v;
        }
    }
    Ok(())
}

fn string_map(v: Option<&Value>) -> Result<BTreeMap<String, String>, CoreError> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Number(_) | Value::Bool(_) => Ok((k.clone(), v.to_string())),
                _ => Err(CoreError::InvalidRequest(format!(
                    "options.{k} must be a string"
                ))),
            })
            .collect(),
        Some(_) => Err(CoreError::InvalidRequest(
            "options must be a map of strings".into(),
        )),
    }
}

/// `sys/remount {from, to}`: moves a secrets engine or (with an `auth/` prefix) an auth method.
pub(super) async fn remount(u: &Unsealed, req: &Request) -> Result<Response, CoreError> {
    if !matches!(req.operation, Operation::Update | Operation::Create) {
        return Err(CoreError::UnsupportedOperation);
    }
    let from = field::string(&req.data, "from")?.ok_or_else(|| {
        CoreError::InvalidRequest("both 'from' and 'to' path must be specified as a string".into())
    })?;
    let to = field::string(&req.data, "to")?.ok_or_else(|| {
        CoreError::InvalidRequest("both 'from' and 'to' path must be specified as a string".into())
    })?;
    let (table, from, to) = match (from.strip_prefix("auth/"), to.strip_prefix("auth/")) {
        (Some(f), Some(t)) => (Table::Auth, normalize_path(f)?, normalize_path(t)?),
        (None, None) => (Table::Secrets, normalize_path(&from)?, normalize_path(&to)?),
        _ => {
            return Err(CoreError::InvalidRequest(
                "cannot remount between secrets engines and auth methods".into(),
            ));
        }
    };
    u.mounts.remount(table, &from, &to).await?;
    // Moves are synchronous here (data is keyed by mount uuid), so the migration is done when this returns;
    // the id is kept so `sys/remount/status/<id>` (which the CLI polls) can report it.
    let id = uuid::Uuid::new_v4().to_string();
    let (from_full, to_full) = (table.route_prefix(&from), table.route_prefix(&to));
    u.mounts.record_migration(&id, &from_full, &to_full);
    Ok(Response::json(json!({ "migration_id": id })))
}

/// `sys/remount/status/<id>`.
pub(super) fn remount_status(u: &Unsealed, req: &Request, id: &str) -> Result<Response, CoreError> {
    if req.operation != Operation::Read {
        return Err(CoreError::UnsupportedOperation);
    }
    let (from, to) = u.mounts.migration(id).ok_or(CoreError::NotFound)?;
    Ok(Response::json(json!({
        "migration_id": id,
        "migration_info": { "source_mount": from, "target_mount": to, "status": "success" },
    })))
}
