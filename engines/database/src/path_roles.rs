//! `roles/<name>` (create, update, read, delete) and the role lists.

use engine_sdk::{EngineError, Request, Response, Storage as _};
use serde_json::json;

use crate::backend::name;
use crate::error::DbError;
use crate::fields;
use crate::paths;
use crate::store::{self, ENTRY_VERSION, RoleEntry, Statements};

/// `LIST roles/` and `LIST static-roles/`, with OpenBao's `after`/`limit` pagination.
pub(crate) async fn list(req: &Request<'_>, prefix: &str) -> Result<Response, DbError> {
    let after = fields::string(req.data, "after")?.unwrap_or_default();
    let limit = engine_sdk::field::uint(req.data, "limit")?.unwrap_or(0);
    let keys = store::list_page(
        req.storage,
        prefix,
        &after,
        usize::try_from(limit).unwrap_or(usize::MAX),
    )
    .await?;
    list_response(keys)
}

/// A LIST answer; an empty one is a 404, as OpenBao answers it.
pub(crate) fn list_response(keys: Vec<String>) -> Result<Response, DbError> {
    if keys.is_empty() {
        return Err(EngineError::NotFound.into());
    }
    Ok(Response::json(json!({ "keys": keys })))
}

pub(crate) async fn read(req: &Request<'_>) -> Result<Response, DbError> {
    let name = name(req)?;
    let Some(role) = store::role(req.storage, &name).await? else {
        return Err(EngineError::NotFound.into());
    };
    let s = &role.statements;
    Ok(Response::json(json!({
        "db_name": role.db_name,
        "creation_statements": s.creation_statements,
        "revocation_statements": s.revocation_statements,
        "rollback_statements": s.rollback_statements,
        "renew_statements": s.renew_statements,
        "default_ttl": role.default_ttl,
        "max_ttl": role.max_ttl,
        "credential_type": role.credential_type,
    })))
}

/// Validates a `credential_type`: only passwords are generated here.
pub(crate) fn credential_type(value: Option<String>) -> Result<Option<String>, DbError> {
    match value.as_deref() {
        None => Ok(None),
        Some("password") => Ok(Some("password".to_owned())),
        Some(t @ ("rsa_private_key" | "client_certificate")) => Err(DbError::invalid(format!(
            "unsupported credential_type: {t:?}"
        ))),
        Some(t) => Err(DbError::invalid(format!("invalid credential_type {t:?}"))),
    }
}

pub(crate) async fn write(req: &Request<'_>) -> Result<Response, DbError> {
    let name = name(req)?;
    let data = req.data;
    if store::static_role(req.storage, &name).await?.is_some() {
        return Err(DbError::invalid(
            "Role and Static Role names must be unique",
        ));
    }
    let existing = store::role(req.storage, &name).await?;
    let mut role = existing.unwrap_or_else(|| RoleEntry {
        version: ENTRY_VERSION,
        db_name: String::new(),
        statements: Statements::default(),
        default_ttl: 0,
        max_ttl: 0,
        credential_type: store::password_type(),
    });
    if let Some(db) = fields::string(data, "db_name")? {
        role.db_name = db;
    }
    if role.db_name.is_empty() {
        return Err(DbError::invalid("database name is required"));
    }
    if let Some(t) = credential_type(fields::string(data, "credential_type")?)? {
        role.credential_type = t;
    }
    if data
        .get("credential_config")
        .is_some_and(|v| !v.is_null() && v != &json!({}))
    {
        return Err(DbError::invalid(
            "credential_config validation failed: password policies are set on the connection \
             (password_policy), not per role",
        ));
    }
    let s = &mut role.statements;
    for (field, target) in [
        ("creation_statements", &mut s.creation_statements),
        ("revocation_statements", &mut s.revocation_statements),
        ("rollback_statements", &mut s.rollback_statements),
        ("renew_statements", &mut s.renew_statements),
    ] {
        if let Some(v) = fields::string_slice(data, field)? {
            *target = v;
        }
    }
    s.revocation_statements.retain(|x| !x.trim().is_empty());
    if role
        .statements
        .creation_statements
        .iter()
        .all(|x| x.trim().is_empty())
    {
        return Err(DbError::invalid("empty creation statements"));
    }
    if let Some(ttl) = fields::seconds(data, "default_ttl")? {
        role.default_ttl = ttl;
    }
    if let Some(ttl) = fields::seconds(data, "max_ttl")? {
        role.max_ttl = ttl;
    }

    // The connection must exist, and its username template must produce names the database accepts.
    let Some(config) = store::config(req.storage, &role.db_name).await? else {
        return Err(DbError::invalid(format!(
            "database connection {:?} does not exist",
            role.db_name
        )));
    };
    let plugin = config.plugin()?;
    let settings = config.settings()?;
    let sample = settings
        .template()
        .map_err(DbError::Invalid)?
        .render("", &name)
        .map_err(|e| DbError::invalid(format!("invalid username template: {e}")))?;
    if sample.len() > plugin.max_username_len() {
        return Err(DbError::invalid(format!(
            "the username template of connection {:?} renders {} characters for this role, longer than \
             the {} that {} accepts",
            role.db_name,
            sample.len(),
            plugin.max_username_len(),
            plugin.name()
        )));
    }

    role.version = ENTRY_VERSION;
    store::save(req.storage, &format!("{}{name}", paths::ROLE_PREFIX), &role).await?;
    Ok(Response::default())
}

pub(crate) async fn delete(req: &Request<'_>) -> Result<Response, DbError> {
    let name = name(req)?;
    req.storage
        .delete(&format!("{}{name}", paths::ROLE_PREFIX))
        .await?;
    Ok(Response::default())
}
