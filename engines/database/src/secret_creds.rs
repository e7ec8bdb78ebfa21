//! The `creds` secret: what a dynamic credential's lease carries, and its renewal and revocation.
//!
//! The lease's internal data snapshots everything revocation needs — user name, role, connection name,
//! statements, TTLs and the connection settings (root credentials included; the core stores lease data
//! encrypted) — so deleting the role or the whole connection never strands a credential. The live role and
//! connection, when they still exist, win over the snapshot: they carry the current statements and the
//! current (possibly rotated) root password.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use engine_sdk::{LeaseRequest, Response, Secret, View};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::backend::DatabaseBackend;
use crate::driver::{self, DatabaseDriver, DeleteUser, RenewUser};
use crate::error::DbError;
use crate::settings::ConnectionSettings;
use crate::store;

/// The secret kind of dynamic credentials.
pub(crate) const KIND: &str = "creds";

/// Added to the database-side expiry so the credential never dies before its lease is revoked.
pub(crate) const EXPIRY_BUFFER: Duration = Duration::from_secs(5);

/// A credential's lease data.
#[derive(Serialize, Deserialize)]
pub(crate) struct Internal {
    pub(crate) username: String,
    pub(crate) role: String,
    pub(crate) db_name: String,
    #[serde(default)]
    pub(crate) plugin_name: String,
    #[serde(default)]
    pub(crate) revocation_statements: Vec<String>,
    #[serde(default)]
    pub(crate) renew_statements: Vec<String>,
    /// The role's TTLs at issue time, in seconds (0 = the mount's).
    #[serde(default)]
    pub(crate) default_ttl: u64,
    #[serde(default)]
    pub(crate) max_ttl: u64,
    /// The connection as it was at issue time, for when the config is gone.
    pub(crate) connection: Option<ConnectionSettings>,
}

impl Internal {
    pub(crate) fn to_map(&self) -> Result<Map<String, Value>, DbError> {
        match serde_json::to_value(self)? {
            Value::Object(m) => Ok(m),
            _ => Err(DbError::Internal("lease data is not an object".into())),
        }
    }

    fn from_map(map: &Map<String, Value>) -> Result<Self, DbError> {
        serde_json::from_value(Value::Object(map.clone()))
            .map_err(|e| DbError::Internal(format!("lease data is unusable: {e}")))
    }
}

/// The role's statements and TTLs as they are now, or as snapshotted when the role is gone (or now points at
/// another connection).
async fn effective_role(
    view: &View,
    internal: &Internal,
) -> Result<(Vec<String>, Vec<String>, u64, u64), DbError> {
    match store::role(view, &internal.role).await? {
        Some(role) if role.db_name == internal.db_name => Ok((
            role.statements.revocation_statements.clone(),
            role.statements.renew_statements.clone(),
            role.default_ttl,
            role.max_ttl,
        )),
        _ => Ok((
            internal.revocation_statements.clone(),
            internal.renew_statements.clone(),
            internal.default_ttl,
            internal.max_ttl,
        )),
    }
}

/// The connection's pool if the config still exists, else a one-off driver from the snapshot (the bool says
/// so; the caller closes it).
async fn lease_driver(
    b: &DatabaseBackend,
    view: &View,
    internal: &Internal,
) -> Result<(Arc<dyn DatabaseDriver>, bool), DbError> {
    if let Some(mut config) = store::config(view, &internal.db_name).await? {
        return Ok((b.driver(view, &internal.db_name, &mut config).await?, false));
    }
    let snapshot = internal.connection.as_ref().ok_or_else(|| {
        DbError::Internal(format!(
            "connection {:?} no longer exists and the lease carries no snapshot of it",
            internal.db_name
        ))
    })?;
    Ok((driver::open(snapshot)?, true))
}

pub(crate) async fn renew(
    b: &DatabaseBackend,
    lease: &LeaseRequest<'_>,
) -> Result<Response, DbError> {
    let internal = Internal::from_map(lease.internal)?;
    let (_, renew_statements, default_ttl, max_ttl) =
        effective_role(lease.storage, &internal).await?;
    let now = lease.clock.now();
    let mut ttl = match lease.increment.filter(|d| !d.is_zero()) {
        Some(inc) => inc,
        None if default_ttl > 0 => Duration::from_secs(default_ttl),
        None => lease.mount.default_lease_ttl,
    };
    let max = if max_ttl > 0 {
        Duration::from_secs(max_ttl)
    } else {
        lease.mount.max_lease_ttl
    };
    if !max.is_zero() {
        let left = (lease.issue_time + max)
            .duration_since(now)
            .unwrap_or(Duration::ZERO);
        ttl = ttl.min(left);
    }
    if !ttl.is_zero() {
        let (driver, temporary) = lease_driver(b, lease.storage, &internal).await?;
        let result = driver
            .renew_user(RenewUser {
                username: &internal.username,
                expiration: now + ttl + EXPIRY_BUFFER,
                statements: &renew_statements,
            })
            .await;
        if temporary {
            driver.close().await;
        }
        result?;
    }
    Ok(Response {
        secret: Some(Secret {
            kind: KIND.to_owned(),
            ttl,
            max_ttl: Duration::from_secs(max_ttl),
            renewable: true,
            internal: lease.internal.clone(),
            ..Secret::default()
        }),
        ..Response::default()
    })
}

pub(crate) async fn revoke(b: &DatabaseBackend, lease: &LeaseRequest<'_>) -> Result<(), DbError> {
    let revoked = revoke_internal(b, lease.storage, lease.internal).await;
    if revoked.is_err() {
        let db = lease
            .internal
            .get("db_name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        lease
            .system
            .count("database.RevokeUser.error", &[("db", db)]);
    }
    revoked
}

/// Revokes the credential described by lease data `internal` (a lease's, or a pending record's).
pub(crate) async fn revoke_internal(
    b: &DatabaseBackend,
    view: &View,
    internal: &Map<String, Value>,
) -> Result<(), DbError> {
    let internal = Internal::from_map(internal)?;
    let (revocation_statements, ..) = effective_role(view, &internal).await?;
    let (driver, temporary) = lease_driver(b, view, &internal).await?;
    let result = driver
        .delete_user(DeleteUser {
            username: &internal.username,
            statements: &revocation_statements,
        })
        .await;
    if temporary {
        driver.close().await;
    }
    result?;
    tracing::debug!(role = %internal.role, db = %internal.db_name, "database credential revoked");
    Ok(())
}

/// Unix seconds of `t` (0 before the epoch).
pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
