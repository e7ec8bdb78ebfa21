//! `rotate-root/<name>`: replace the root user's password with a generated one that only the engine knows.
//!
//! The order makes a crash at any point recoverable:
//! 1. a `rotate-root-pending/<name>` entry with the old and the new password is stored (write-ahead);
//! 2. the database changes the password (over a dedicated connection that uses the old one);
//! 3. a fresh connection proves the new password works;
//! 4. the config is stored with the new password (new generation, so every cached pool is rebuilt);
//! 5. the pending entry is deleted.
//!
//! If the process dies between 1 and 5, the next use of the connection (building its pool, a `rotate-root`,
//! or the periodic tick) finds the pending entry and tries both passwords: if the new one logs in, the config
//! is rolled forward to it; if the old one does, the entry is dropped (rolled back); if neither (database
//! down), the entry stays for the next attempt. A config write replaces the password explicitly and drops any
//! pending entry.

use engine_sdk::{Clock, Request, Response, Storage as _, View};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::backend::{DatabaseBackend, name};
use crate::driver::{self, DriverError, SetPassword};
use crate::error::DbError;
use crate::paths;
use crate::secret_creds::unix;
use crate::settings::ConnectionSettings;
use crate::store::{self, DatabaseConfig, ENTRY_VERSION, RootRotationPending};

/// A pending entry older than this, with no rotation holding the lock, is settled by the periodic tick.
const STALE_PENDING_SECS: u64 = 30;

fn pending_key(name: &str) -> String {
    format!("{}{name}", paths::ROOT_PENDING_PREFIX)
}

/// Whether `settings` can log in (a one-off connection, closed afterwards).
pub(crate) async fn check(settings: &ConnectionSettings) -> Result<(), DriverError> {
    let d = driver::open(settings)?;
    let result = d.verify().await;
    d.close().await;
    result
}

/// Stores `config` with `password` as the root password and a new generation; drops the cached pool.
async fn store_password(
    b: &DatabaseBackend,
    view: &View,
    name: &str,
    config: &mut DatabaseConfig,
    password: &str,
) -> Result<(), DbError> {
    config
        .connection_details
        .insert("password".into(), Value::String(password.to_owned()));
    config.generation = uuid::Uuid::new_v4().to_string();
    store::save(view, &format!("{}{name}", paths::CONFIG_PREFIX), config).await?;
    b.forget(name);
    Ok(())
}

pub(crate) async fn rotate(b: &DatabaseBackend, req: &Request<'_>) -> Result<Response, DbError> {
    let name = name(req)?;
    let lock = b.root_locks.get(&name);
    let _guard = lock.lock().await;
    let mut config = match recover_locked(b, req.storage, &name).await? {
        Some(c) => c,
        None => store::config(req.storage, &name).await?.ok_or_else(|| {
            DbError::invalid(format!(
                "failed to find entry for connection with name: {name:?}"
            ))
        })?,
    };
    let settings = config.settings()?;
    if settings.username.is_empty() {
        return Err(DbError::invalid(
            "unable to rotate root credentials: no username in configuration",
        ));
    }
    if settings.password.is_empty() {
        return Err(DbError::invalid(
            "unable to rotate root credentials: no password in configuration",
        ));
    }
    if !settings.connection_url.contains("{{password}}") {
        return Err(DbError::invalid(
            "unable to rotate root credentials: connection_url must use the {{password}} placeholder",
        ));
    }
    let new_password = Zeroizing::new(
        req.system
            .generate_password(&config.password_policy)
            .await?,
    );

    let pending = RootRotationPending {
        version: ENTRY_VERSION,
        username: settings.username.clone(),
        old_password: settings.password.clone(),
        new_password: new_password.to_string(),
        started: unix(req.clock.now()),
    };
    store::save(req.storage, &pending_key(&name), &pending).await?;

    let current = driver::open(&settings)?;
    let changed = current
        .set_password(SetPassword {
            username: &settings.username,
            password: &new_password,
            statements: &config.root_credentials_rotate_statements,
        })
        .await;
    current.close().await;
    if let Err(e) = changed {
        // Nothing changed if the old password still works; otherwise the outcome is unknown and the pending
        // entry stays for recovery.
        if check(&settings).await.is_ok() {
            req.storage.delete(&pending_key(&name)).await?;
        }
        return Err(e.into());
    }
    if let Err(e) = check(&settings.with_password(&new_password)).await {
        if check(&settings).await.is_ok() {
            req.storage.delete(&pending_key(&name)).await?;
            return Err(DriverError::Database(format!(
                "the new root password was set but does not log in; the old one still does and is kept: {e}"
            ))
            .into());
        }
        return Err(DriverError::Unavailable(format!(
            "could not confirm the new root password (the rotation will be settled on next use): {e}"
        ))
        .into());
    }
    store_password(b, req.storage, &name, &mut config, &new_password).await?;
    if let Err(e) = req.storage.delete(&pending_key(&name)).await {
        // Harmless: recovery finds the stored password already current.
        tracing::warn!(connection = %name, error = %e, "could not delete the pending root rotation entry");
    }
    tracing::info!(connection = %name, "root credentials rotated");
    Ok(Response::default())
}

/// Settles an interrupted root rotation of `name` (the caller holds its root lock). Returns the config when
/// it was rolled forward to the new password, `None` when nothing changed.
pub(crate) async fn recover_locked(
    b: &DatabaseBackend,
    view: &View,
    name: &str,
) -> Result<Option<DatabaseConfig>, DbError> {
    let Some(pending) = store::load::<RootRotationPending>(view, &pending_key(name)).await? else {
        return Ok(None);
    };
    let Some(mut config) = store::config(view, name).await? else {
        view.delete(&pending_key(name)).await?;
        return Ok(None);
    };
    let settings = config.settings()?;
    if settings.password == pending.new_password {
        // Stored already; only the cleanup was lost.
        view.delete(&pending_key(name)).await?;
        return Ok(None);
    }
    if check(&settings.with_password(&pending.new_password))
        .await
        .is_ok()
    {
        store_password(b, view, name, &mut config, &pending.new_password).await?;
        view.delete(&pending_key(name)).await?;
        tracing::info!(connection = %name, "interrupted root rotation rolled forward");
        return Ok(Some(config));
    }
    if check(&settings.with_password(&pending.old_password))
        .await
        .is_ok()
    {
        view.delete(&pending_key(name)).await?;
        tracing::info!(connection = %name, "interrupted root rotation rolled back");
        return Ok(None);
    }
    tracing::warn!(
        connection = %name,
        "interrupted root rotation cannot be settled yet: neither password logs in"
    );
    Ok(None)
}

/// The periodic tick's share: settles pending root rotations older than [`STALE_PENDING_SECS`] whose lock is
/// free (a running rotation holds it).
pub(crate) async fn recover_all(
    b: &DatabaseBackend,
    view: &View,
    clock: &dyn Clock,
) -> Result<(), DbError> {
    let now = unix(clock.now());
    for name in store::list_page(view, paths::ROOT_PENDING_PREFIX, "", 0).await? {
        let lock = b.root_locks.get(&name);
        let Ok(_guard) = lock.try_lock() else {
            continue;
        };
        let Some(pending) = store::load::<RootRotationPending>(view, &pending_key(&name)).await?
        else {
            continue;
        };
        if now.saturating_sub(pending.started) < STALE_PENDING_SECS {
            continue;
        }
        if let Err(e) = recover_locked(b, view, &name).await {
            tracing::warn!(connection = %name, error = %e, "settling an interrupted root rotation failed");
        }
    }
    Ok(())
}
