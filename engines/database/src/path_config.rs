//! `config/<name>` (create, update, read, delete), `LIST config/` and `reset/<name>`.

use engine_sdk::{Request, Response, Storage as _};
use serde_json::{Map, Value, json};

use crate::backend::{DatabaseBackend, name};
use crate::driver::{self, Plugin};
use crate::error::DbError;
use crate::fields;
use crate::paths;
use crate::settings::ConnectionSettings;
use crate::store::{self, DatabaseConfig, ENTRY_VERSION};

/// Request fields that configure the engine rather than the plugin: everything else goes to
/// `connection_details`, as OpenBao stores it.
const ENGINE_FIELDS: &[&str] = &[
    "name",
    "plugin_name",
    "plugin_version",
    "allowed_roles",
    "verify_connection",
    "root_rotation_statements",
    "password_policy",
];

/// Details never shown on read.
const SECRET_DETAILS: &[&str] = &["password", "private_key"];

pub(crate) async fn write(b: &DatabaseBackend, req: &Request<'_>) -> Result<Response, DbError> {
    let name = name(req)?;
    let data = req.data;
    let lock = b.root_locks.get(&name);
    let _guard = lock.lock().await;

    let existing = store::config(req.storage, &name).await?;
    let create = existing.is_none();
    let mut config = existing.unwrap_or_else(|| DatabaseConfig {
        version: ENTRY_VERSION,
        plugin_name: String::new(),
        plugin_version: String::new(),
        connection_details: Map::new(),
        allowed_roles: Vec::new(),
        root_credentials_rotate_statements: Vec::new(),
        password_policy: String::new(),
        verify_connection: true,
        generation: String::new(),
    });
    let verify = fields::boolean(data, "verify_connection")?.unwrap_or(true);
    if let Some(p) = fields::string(data, "plugin_name")? {
        config.plugin_name = p;
    }
    if config.plugin_name.is_empty() {
        return Err(DbError::invalid("empty plugin name"));
    }
    let plugin = Plugin::from_name(&config.plugin_name).ok_or_else(|| {
        DbError::invalid(format!(
            "error creating database object: unknown database plugin {:?}",
            config.plugin_name
        ))
    })?;
    if let Some(v) = fields::string(data, "plugin_version")? {
        // Only the builtin plugins exist; OpenBao spells their versions `v<x>+builtin`.
        if !v.is_empty() && !v.ends_with("+builtin") {
            return Err(DbError::invalid(format!(
                "database plugin {:?}, version {v} not found",
                config.plugin_name
            )));
        }
        config.plugin_version = String::new();
    }
    if let Some(roles) = fields::comma_list(data, "allowed_roles")? {
        config.allowed_roles = roles;
    }
    if let Some(stmts) = fields::string_slice(data, "root_rotation_statements")? {
        config.root_credentials_rotate_statements = stmts;
    }
    if let Some(policy) = fields::string(data, "password_policy")? {
        config.password_policy = policy;
    }
    let mut details = if create {
        Map::new()
    } else {
        std::mem::take(&mut config.connection_details)
    };
    for (k, v) in data {
        if !ENGINE_FIELDS.contains(&k.as_str()) {
            details.insert(k.clone(), v.clone());
        }
    }
    config.connection_details = details;

    let settings = ConnectionSettings::from_details(plugin, &config.connection_details)
        .map_err(|e| DbError::invalid(format!("error creating database object: {e}")))?;
    let driver = driver::open(&settings)
        .map_err(|e| DbError::invalid(format!("error creating database object: {e}")))?;
    if verify && let Err(e) = driver.verify().await {
        driver.close().await;
        return Err(DbError::invalid(format!(
            "error creating database object: error verifying connection: {e}"
        )));
    }
    config.verify_connection = verify;
    config.version = ENTRY_VERSION;
    config.generation = uuid::Uuid::new_v4().to_string();
    store::save(
        req.storage,
        &format!("{}{name}", paths::CONFIG_PREFIX),
        &config,
    )
    .await?;
    // An explicit password (or settings) supersedes an interrupted root rotation.
    req.storage
        .delete(&format!("{}{name}", paths::ROOT_PENDING_PREFIX))
        .await?;
    b.install(&name, &config.generation, driver);

    let mut resp = Response::default();
    if url_password(&settings.connection_url).is_some_and(|p| p != "{{password}}") {
        resp = resp.warn(
            "connection_url contains a password: use {{username}} and {{password}} placeholders with the \
             username and password fields, so the root password can be rotated and is never shown on read",
        );
    }
    Ok(resp)
}

pub(crate) async fn read(req: &Request<'_>) -> Result<Response, DbError> {
    let name = name(req)?;
    let Some(config) = store::config(req.storage, &name).await? else {
        return Err(engine_sdk::EngineError::NotFound.into());
    };
    let mut details = config.connection_details.clone();
    for k in SECRET_DETAILS {
        details.remove(*k);
    }
    if let Some(Value::String(url)) = details.get_mut("connection_url")
        && let Some(redacted) = redact_url(url)
    {
        *url = redacted;
    }
    Ok(Response::json(json!({
        "plugin_name": config.plugin_name,
        "plugin_version": config.plugin_version,
        "connection_details": details,
        "allowed_roles": config.allowed_roles,
        "root_credentials_rotate_statements": config.root_credentials_rotate_statements,
        "password_policy": config.password_policy,
    })))
}

pub(crate) async fn delete(b: &DatabaseBackend, req: &Request<'_>) -> Result<Response, DbError> {
    let name = name(req)?;
    let lock = b.root_locks.get(&name);
    let _guard = lock.lock().await;
    req.storage
        .delete(&format!("{}{name}", paths::CONFIG_PREFIX))
        .await?;
    req.storage
        .delete(&format!("{}{name}", paths::ROOT_PENDING_PREFIX))
        .await?;
    b.forget(&name);
    Ok(Response::default())
}

pub(crate) async fn list(req: &Request<'_>) -> Result<Response, DbError> {
    let keys = store::list_page(req.storage, paths::CONFIG_PREFIX, "", 0).await?;
    crate::path_roles::list_response(keys)
}

pub(crate) async fn reset(b: &DatabaseBackend, req: &Request<'_>) -> Result<Response, DbError> {
    let name = name(req)?;
    let Some(mut config) = store::config(req.storage, &name).await? else {
        return Err(DbError::invalid(format!(
            "failed to find entry for connection with name: {name:?}"
        )));
    };
    b.forget(&name);
    let driver = b.driver(req.storage, &name, &mut config).await?;
    driver.verify().await?;
    Ok(Response::default())
}

/// The password inside a URL's user info (`scheme://user:password@host`), if any.
fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    Some(password)
}

/// The URL with a literal password replaced by `xxxxx` (templated URLs are left alone), as OpenBao shows it.
fn redact_url(url: &str) -> Option<String> {
    let password = url_password(url)?;
    if password.is_empty() || password == "{{password}}" {
        return None;
    }
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let (userinfo, host) = authority.rsplit_once('@')?;
    let (user, _) = userinfo.split_once(':')?;
    let after = rest.get(authority.len()..).unwrap_or_default();
    Some(format!("{scheme}://{user}:xxxxx@{host}{after}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_redaction() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db?sslmode=disable").as_deref(),
            Some("postgres://u:xxxxx@h:5432/db?sslmode=disable")
        );
        assert_eq!(
            redact_url("postgresql://{{username}}:{{password}}@h/db"),
            None
        );
        assert_eq!(redact_url("{{username}}:{{password}}@tcp(h:3306)/"), None);
        assert_eq!(redact_url("postgres://u@h/db"), None);
        assert_eq!(url_password("mysql://a:b@c/d"), Some("b"));
    }
}
