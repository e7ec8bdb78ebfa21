//! `static-roles/<name>` (create, update, read, delete), `static-creds/<name>` and `rotate-role/<name>`.

use std::time::{Duration, SystemTime};

use engine_sdk::{EngineError, Request, Response, Storage as _};
use serde_json::{Map, Value, json};

use crate::backend::{DatabaseBackend, name};
use crate::cron::Schedule;
use crate::error::DbError;
use crate::fields;
use crate::path_roles::credential_type;
use crate::rotation::{self, key, next_rotation};
use crate::secret_creds::unix;
use crate::store::{self, ENTRY_VERSION, StaticRoleEntry};

/// The shortest rotation period (OpenBao's queue tick).
const MIN_ROTATION_PERIOD: u64 = 5;
/// The shortest rotation window.
const MIN_ROTATION_WINDOW: u64 = 3600;

/// RFC 3339 with nanoseconds, as Go encodes a `time.Time`.
fn rfc3339(ms: u64) -> String {
    let t = SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn unix_rfc3339(secs: u64) -> String {
    rfc3339(secs.saturating_mul(1000))
}

pub(crate) async fn read(req: &Request<'_>) -> Result<Response, DbError> {
    let name = name(req)?;
    let Some(role) = store::static_role(req.storage, &name).await? else {
        return Err(EngineError::NotFound.into());
    };
    let mut data = Map::new();
    data.insert("db_name".into(), json!(role.db_name));
    data.insert("username".into(), json!(role.username));
    data.insert(
        "rotation_statements".into(),
        json!(role.rotation_statements),
    );
    data.insert("credential_type".into(), json!(role.credential_type));
    schedule_fields(&role, &mut data);
    if role.last_rotation_ms > 0 {
        data.insert(
            "last_vault_rotation".into(),
            json!(rfc3339(role.last_rotation_ms)),
        );
    }
    Ok(Response::data(data))
}

/// `rotation_period`, or `rotation_schedule` and `rotation_window`, whichever the role uses.
fn schedule_fields(role: &StaticRoleEntry, data: &mut Map<String, Value>) {
    if role.rotation_schedule.is_empty() {
        data.insert("rotation_period".into(), json!(role.rotation_period));
    } else {
        data.insert("rotation_schedule".into(), json!(role.rotation_schedule));
        data.insert("rotation_window".into(), json!(role.rotation_window));
    }
}

pub(crate) async fn write(b: &DatabaseBackend, req: &Request<'_>) -> Result<Response, DbError> {
    let name = name(req)?;
    let data = req.data;
    if store::role(req.storage, &name).await?.is_some() {
        return Err(DbError::invalid(
            "Role and Static Role names must be unique",
        ));
    }
    let lock = b.static_locks.get(&name);
    let _guard = lock.lock().await;
    let existing = store::static_role(req.storage, &name).await?;
    let create = existing.is_none();
    let mut role = existing.unwrap_or_else(|| StaticRoleEntry {
        version: ENTRY_VERSION,
        db_name: String::new(),
        username: String::new(),
        rotation_statements: Vec::new(),
        rotation_period: 0,
        rotation_schedule: String::new(),
        rotation_window: 0,
        credential_type: store::password_type(),
        password: String::new(),
        last_rotation_ms: 0,
        next_rotation: 0,
        rotation_started: 0,
        last_error: String::new(),
        failures: 0,
    });

    if let Some(db) = fields::string(data, "db_name")? {
        role.db_name = db;
    }
    if role.db_name.is_empty() {
        return Err(DbError::invalid("database name is a required field"));
    }
    let username = fields::string(data, "username")?.unwrap_or_default();
    if create {
        if username.is_empty() {
            return Err(DbError::invalid(
                "username is a required field to create a static account",
            ));
        }
        role.username = username;
    } else if !username.is_empty() && username != role.username {
        return Err(DbError::invalid("cannot update static account username"));
    }

    let period = fields::seconds(data, "rotation_period")?;
    let schedule = fields::string(data, "rotation_schedule")?.filter(|s| !s.trim().is_empty());
    let window = fields::seconds(data, "rotation_window")?;
    if period.is_some() && schedule.is_some() {
        return Err(DbError::invalid(
            "rotation_period and rotation_schedule are mutually exclusive: set only one",
        ));
    }
    if create && period.is_none() && schedule.is_none() {
        return Err(DbError::invalid(
            "one of rotation_schedule or rotation_period must be provided to create a static account",
        ));
    }
    let timing_changed = period.is_some() || schedule.is_some() || window.is_some();
    if let Some(p) = period {
        if p < MIN_ROTATION_PERIOD {
            return Err(DbError::invalid(format!(
                "rotation_period must be {MIN_ROTATION_PERIOD} seconds or more"
            )));
        }
        role.rotation_period = p;
        role.rotation_schedule.clear();
        role.rotation_window = 0;
    }
    if let Some(s) = schedule {
        Schedule::parse(&s)
            .map_err(|e| DbError::invalid(format!("could not parse rotation_schedule: {e}")))?;
        role.rotation_schedule = s.trim().to_owned();
        role.rotation_period = 0;
    }
    if let Some(w) = window {
        if role.rotation_schedule.is_empty() {
            return Err(DbError::invalid(
                "rotation_window is only valid together with rotation_schedule",
            ));
        }
        if w != 0 && w < MIN_ROTATION_WINDOW {
            return Err(DbError::invalid(format!(
                "rotation_window must be at least {MIN_ROTATION_WINDOW} seconds"
            )));
        }
        role.rotation_window = w;
    }
    if let Some(stmts) = fields::string_slice(data, "rotation_statements")? {
        role.rotation_statements = stmts;
    }
    if let Some(t) = credential_type(fields::string(data, "credential_type")?)? {
        role.credential_type = t;
    }
    let skip_import = fields::boolean(data, "skip_import_rotation")?.unwrap_or(false);

    let Some(config) = store::config(req.storage, &role.db_name).await? else {
        return Err(DbError::invalid(format!(
            "database connection {:?} does not exist",
            role.db_name
        )));
    };
    if !config.allows_role(&name) {
        return Err(DbError::invalid(format!("{name:?} is not an allowed role")));
    }

    let now = req.clock.now();
    role.version = ENTRY_VERSION;
    if create && !skip_import {
        // OpenBao rotates on creation so that it knows the password; a failure leaves no role behind.
        if let Err(e) =
            rotation::rotate_locked(b, req.storage, req.system, req.clock, &name, &mut role).await
        {
            req.storage.delete(&key(&name)).await?;
            return Err(e);
        }
        return Ok(Response::default());
    }
    if create || timing_changed {
        let base = if role.last_rotation_ms > 0 {
            SystemTime::UNIX_EPOCH + Duration::from_millis(role.last_rotation_ms)
        } else {
            now
        };
        role.next_rotation = next_rotation(&role, base)?;
    }
    store::save(req.storage, &key(&name), &role).await?;
    Ok(Response::default())
}

pub(crate) async fn delete(b: &DatabaseBackend, req: &Request<'_>) -> Result<Response, DbError> {
    let name = name(req)?;
    let lock = b.static_locks.get(&name);
    let _guard = lock.lock().await;
    // The database user stays: it was defined outside the engine.
    req.storage.delete(&key(&name)).await?;
    Ok(Response::default())
}

pub(crate) async fn creds(req: &Request<'_>) -> Result<Response, DbError> {
    let name = name(req)?;
    let Some(role) = store::static_role(req.storage, &name).await? else {
        return Err(DbError::invalid(format!("unknown role: {name}")));
    };
    let Some(config) = store::config(req.storage, &role.db_name).await? else {
        return Err(DbError::invalid(format!(
            "failed to find entry for connection with name: {:?}",
            role.db_name
        )));
    };
    if !config.allows_role(&name) {
        return Err(DbError::invalid(format!("{name:?} is not an allowed role")));
    }
    let now = unix(req.clock.now());
    let mut data = Map::new();
    data.insert("username".into(), json!(role.username));
    data.insert("password".into(), json!(role.password));
    data.insert("ttl".into(), json!(role.next_rotation.saturating_sub(now)));
    schedule_fields(&role, &mut data);
    data.insert(
        "last_vault_rotation".into(),
        if role.last_rotation_ms > 0 {
            json!(rfc3339(role.last_rotation_ms))
        } else {
            Value::Null
        },
    );
    if !role.last_error.is_empty() {
        data.insert("last_rotation_error".into(), json!(role.last_error));
        data.insert(
            "next_rotation_attempt".into(),
            json!(unix_rfc3339(role.next_rotation)),
        );
    }
    Ok(Response::data(data))
}

pub(crate) async fn rotate(b: &DatabaseBackend, req: &Request<'_>) -> Result<Response, DbError> {
    let name = name(req)?;
    match rotation::rotate_now(b, req.storage, req.system, req.clock, &name).await {
        Ok(()) => Ok(Response::default()),
        Err(DbError::Driver(e)) => {
            let retryable = e.retryable();
            let message = format!(
                "unable to rotate the password of static role {name:?} (it will be retried in the \
                 background; retrying now is safe too): {e}"
            );
            Err(DbError::Engine(EngineError::Upstream {
                message,
                retryable,
            }))
        }
        Err(e) => Err(e),
    }
}
