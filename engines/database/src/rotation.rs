//! Static-role password rotation: on demand (`rotate-role`, role creation) and from the periodic tick when a
//! role is due. A failed rotation is retried with exponential backoff, each time with a fresh password. Before
//! the database is changed the role is marked `rotation_started` in storage; a crash before the new password
//! is stored leaves that mark, and the next tick rotates the role again (no rotation statement needs the old
//! password), so the stored password is never wrong for longer than one tick after a restart. A rotation whose
//! statements fail after the database took the new password (MySQL commits each statement) keeps that
//! password, since it is the one that logs in, and records the error.

use std::time::{Duration, SystemTime};

use engine_sdk::{Clock, PeriodicRequest, SystemView, View};
use zeroize::Zeroizing;

use crate::backend::DatabaseBackend;
use crate::cron::Schedule;
use crate::driver::{DriverError, SetPassword};
use crate::error::DbError;
use crate::paths;
use crate::secret_creds::unix;
use crate::store::{self, StaticRoleEntry};

/// First retry delay after a failed rotation; doubles per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Seconds to wait after `failures` consecutive failures.
pub(crate) fn backoff(failures: u32) -> u64 {
    let exp = failures.saturating_sub(1).min(16);
    FIRST_BACKOFF
        .as_secs()
        .saturating_mul(1u64 << exp)
        .min(MAX_BACKOFF.as_secs())
}

/// When the role should next rotate after a successful rotation at `now` (Unix seconds).
pub(crate) fn next_rotation(role: &StaticRoleEntry, now: SystemTime) -> Result<u64, DbError> {
    if role.rotation_schedule.is_empty() {
        return Ok(unix(now).saturating_add(role.rotation_period));
    }
    let schedule = Schedule::parse(&role.rotation_schedule)
        .map_err(|e| DbError::invalid(format!("could not parse rotation_schedule: {e}")))?;
    schedule
        .next_after(time::OffsetDateTime::from(now))
        .and_then(|t| u64::try_from(t.unix_timestamp()).ok())
        .ok_or_else(|| DbError::invalid("rotation_schedule never fires"))
}

pub(crate) fn key(name: &str) -> String {
    format!("{}{name}", paths::STATIC_ROLE_PREFIX)
}

/// Rotates `role` (already loaded; the caller holds the role's lock): a fresh password is set in the database
/// and stored. On failure the role records the error and its next retry, and the error is returned.
pub(crate) async fn rotate_locked(
    b: &DatabaseBackend,
    view: &View,
    system: &dyn SystemView,
    clock: &dyn Clock,
    name: &str,
    role: &mut StaticRoleEntry,
) -> Result<(), DbError> {
    let attempt = async {
        let mut config = store::config(view, &role.db_name).await?.ok_or_else(|| {
            DbError::invalid(format!(
                "failed to find entry for connection with name: {:?}",
                role.db_name
            ))
        })?;
        let driver = b.driver(view, &role.db_name, &mut config).await?;
        let password = Zeroizing::new(system.generate_password(&config.password_policy).await?);
        role.rotation_started = unix(clock.now());
        store::save(view, &key(name), &*role).await?;
        let set = driver
            .set_password(SetPassword {
                username: &role.username,
                password: &password,
                statements: &role.rotation_statements,
            })
            .await;
        match set {
            Ok(()) => Ok::<_, DbError>((password, None)),
            // The database may have applied the change before the error (MySQL commits each statement, and a
            // timeout can come after the commit). If the new password logs in, it is the account's password
            // now and must be stored: otherwise static-creds would hand out one that no longer works, and every
            // retry would change it again and fail the same way.
            // Unusable settings (a config error) cannot log anyone in: no need to try.
            Err(e)
                if !matches!(e, DriverError::Config(_))
                    && logs_in(&config, &role.username, &password).await =>
            {
                Ok((password, Some(e.to_string())))
            }
            Err(e) => Err(e.into()),
        }
    };
    match attempt.await {
        Ok((password, applied_despite)) => {
            let now = clock.now();
            password.as_str().clone_into(&mut role.password);
            role.last_rotation_ms = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0);
            role.next_rotation = next_rotation(role, now)?;
            role.rotation_started = 0;
            role.failures = 0;
            role.last_error.clear();
            if let Some(e) = applied_despite {
                tracing::warn!(role = %name, error = %e, "static role rotation statements failed after the new password took effect; it is stored");
                role.last_error = format!("the new password took effect despite: {e}");
            } else {
                tracing::info!(role = %name, "static role password rotated");
            }
            store::save(view, &key(name), &*role).await?;
            Ok(())
        }
        Err(e) => {
            system.count(
                "database.static_role.rotation_failure",
                &[("role", name), ("db", role.db_name.as_str())],
            );
            role.rotation_started = 0;
            role.failures = role.failures.saturating_add(1);
            role.last_error = e.to_string();
            let retry = backoff(role.failures);
            role.next_rotation = unix(clock.now()).saturating_add(retry);
            tracing::warn!(
                role = %name,
                error = %e,
                failures = role.failures,
                retry_in_secs = retry,
                "static role password rotation failed"
            );
            // Keep the caller's error even if recording the failure fails too.
            if let Err(save_err) = store::save(view, &key(name), &*role).await {
                tracing::warn!(role = %name, error = %save_err, "could not record the failed rotation");
            }
            Err(e)
        }
    }
}

/// Whether `username` can log in with `password` on `config`'s database. Only a connection URL that takes the
/// user from its `{{username}}`/`{{password}}` templates can log in as another user than the root one.
async fn logs_in(config: &store::DatabaseConfig, username: &str, password: &str) -> bool {
    let Ok(settings) = config.settings() else {
        return false;
    };
    if !(settings.connection_url.contains("{{username}}")
        && settings.connection_url.contains("{{password}}"))
    {
        return false;
    }
    let mut login = settings.with_password(password);
    username.clone_into(&mut login.username);
    crate::path_rotate_root::check(&login).await.is_ok()
}

/// Rotates static role `name` now (waiting for a rotation already running).
pub(crate) async fn rotate_now(
    b: &DatabaseBackend,
    view: &View,
    system: &dyn SystemView,
    clock: &dyn Clock,
    name: &str,
) -> Result<(), DbError> {
    let lock = b.static_locks.get(name);
    let _guard = lock.lock().await;
    let Some(mut role) = store::static_role(view, name).await? else {
        return Err(DbError::invalid("no static role found for role name"));
    };
    rotate_locked(b, view, system, clock, name, &mut role).await
}

/// The periodic tick: settles interrupted root rotations, then rotates every static role that is due
/// (skipping roles being rotated right now).
pub(crate) async fn periodic(
    b: &DatabaseBackend,
    req: &PeriodicRequest<'_>,
) -> Result<(), DbError> {
    crate::path_rotate_root::recover_all(b, req.storage, req.clock).await?;
    let now = unix(req.clock.now());
    for name in store::list_page(req.storage, paths::STATIC_ROLE_PREFIX, "", 0).await? {
        let lock = b.static_locks.get(&name);
        let Ok(_guard) = lock.try_lock() else {
            continue;
        };
        let Some(mut role) = store::static_role(req.storage, &name).await? else {
            continue;
        };
        let interrupted = role.rotation_started != 0;
        let due = role.next_rotation != 0 && role.next_rotation <= now;
        if !interrupted && !due {
            continue;
        }
        if !interrupted && role.failures == 0 && missed_window(&role, now) {
            // A scheduled rotation whose window has passed waits for the next scheduled time.
            if let Ok(next) = next_rotation(&role, req.clock.now()) {
                role.next_rotation = next;
                store::save(req.storage, &key(&name), &role).await?;
            }
            continue;
        }
        // Failures are recorded on the role and logged; the tick goes on with the other roles.
        let _ = rotate_locked(b, req.storage, req.system, req.clock, &name, &mut role).await;
    }
    Ok(())
}

fn missed_window(role: &StaticRoleEntry, now: u64) -> bool {
    !role.rotation_schedule.is_empty()
        && role.rotation_window > 0
        && role.next_rotation.saturating_add(role.rotation_window) < now
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), 10);
        assert_eq!(backoff(2), 20);
        assert_eq!(backoff(4), 80);
        assert_eq!(backoff(30), 3600);
    }
}
