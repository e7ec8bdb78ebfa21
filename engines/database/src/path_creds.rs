//! `creds/<role>`: a new database user with a generated name and password, under a lease.

use std::time::Duration;

use engine_sdk::{Request, Response, Secret};
use serde_json::json;
use zeroize::Zeroizing;

use crate::backend::{DatabaseBackend, name};
use crate::driver::NewUser;
use crate::error::DbError;
use crate::pending;
use crate::secret_creds::{EXPIRY_BUFFER, Internal, KIND, unix};
use crate::store;

pub(crate) async fn read(b: &DatabaseBackend, req: &Request<'_>) -> Result<Response, DbError> {
    let name = name(req)?;
    let Some(role) = store::role(req.storage, &name).await? else {
        return Err(DbError::invalid(format!("unknown role: {name}")));
    };
    let Some(mut config) = store::config(req.storage, &role.db_name).await? else {
        return Err(DbError::invalid(format!(
            "failed to find entry for connection with name: {:?}",
            role.db_name
        )));
    };
    if !config.allows_role(&name) {
        return Err(DbError::invalid(format!("{name:?} is not an allowed role")));
    }
    if role.credential_type != "password" {
        return Err(DbError::invalid(format!(
            "unsupported credential_type: {:?}",
            role.credential_type
        )));
    }

    let mount = req.mount;
    let max = if role.max_ttl > 0 {
        Duration::from_secs(role.max_ttl)
    } else {
        mount.max_lease_ttl
    };
    let mut ttl = if role.default_ttl > 0 {
        Duration::from_secs(role.default_ttl)
    } else {
        mount.default_lease_ttl
    };
    for cap in [max, mount.max_lease_ttl] {
        if !cap.is_zero() {
            ttl = ttl.min(cap);
        }
    }

    // The pool first: building it settles an interrupted root rotation and refreshes `config`, whose
    // settings the lease snapshots.
    let driver = b.driver(req.storage, &role.db_name, &mut config).await?;
    let plugin = config.plugin()?;
    let settings = config.settings()?;
    let display_name = req.caller.map(|c| c.display_name.as_str()).unwrap_or("");
    let username = settings
        .template()
        .map_err(DbError::Invalid)?
        .render(display_name, &name)
        .map_err(|e| DbError::invalid(format!("unable to generate username: {e}")))?;
    if username.is_empty() || username.len() > plugin.max_username_len() {
        return Err(DbError::invalid(format!(
            "generated username has {} characters; {} accepts 1 to {}",
            username.len(),
            plugin.name(),
            plugin.max_username_len()
        )));
    }
    let password = Zeroizing::new(
        req.system
            .generate_password(&config.password_policy)
            .await?,
    );
    let expiration = req.clock.now() + ttl + EXPIRY_BUFFER;
    let internal = Internal {
        username: username.clone(),
        role: name,
        db_name: role.db_name.clone(),
        plugin_name: config.plugin_name.clone(),
        revocation_statements: role.statements.revocation_statements.clone(),
        renew_statements: role.statements.renew_statements.clone(),
        default_ttl: role.default_ttl,
        max_ttl: role.max_ttl,
        connection: Some(settings),
    }
    .to_map()?;
    // Recorded before the user exists, so a crash before the lease commits leaves something to sweep.
    let pending_key = pending::key(&username);
    pending::record(req.storage, &pending_key, unix(req.clock.now()), &internal).await?;
    let created = driver
        .create_user(NewUser {
            username: &username,
            password: &password,
            expiration,
            creation: &role.statements.creation_statements,
            rollback: &role.statements.rollback_statements,
        })
        .await;
    if let Err(e) = created {
        req.system.count(
            "database.CreateUser.error",
            &[("db", role.db_name.as_str())],
        );
        // Rolled back (or compensated) by the driver: nothing is left to sweep.
        pending::forget(req.storage, &pending_key).await;
        return Err(e.into());
    }

    let mut resp = Response::json(json!({ "username": username, "password": password.as_str() }));
    resp.secret = Some(Secret {
        kind: KIND.to_owned(),
        ttl,
        max_ttl: Duration::from_secs(role.max_ttl),
        renewable: true,
        internal,
        pending_key: Some(pending_key),
        ..Secret::default()
    });
    Ok(resp)
}
