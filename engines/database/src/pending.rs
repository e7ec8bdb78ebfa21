//! Credentials that exist in the database but have no lease yet. `creds/` records each one before creating the
//! user; the core deletes the record in the same write that commits the lease ([`engine_sdk::Secret::pending_key`]).
//! A record that outlives [`GRACE`] belongs to a request that never committed its lease (a crash, a failed
//! write, a dropped request): the periodic sweep revokes the user from the record's snapshot, so no credential
//! is left in the database without a lease to end it.

use std::time::Duration;

use engine_sdk::{PeriodicRequest, Storage as _, View};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::backend::DatabaseBackend;
use crate::error::DbError;
use crate::paths::PENDING_PREFIX;
use crate::secret_creds::{self, unix};
use crate::store;

/// How long a request may take from creating the user to committing its lease; far above the HTTP request
/// timeout (90 s), after which the request is gone.
pub(crate) const GRACE: Duration = Duration::from_secs(300);

/// A credential waiting for its lease.
#[derive(Serialize, Deserialize)]
struct Pending {
    #[serde(default = "store::entry_version")]
    version: u32,
    /// Unix seconds when the record was written.
    created: u64,
    /// The lease data the credential will carry (what revocation needs).
    internal: Map<String, Value>,
}

/// The record's key for `username`: a digest, since user names may hold characters storage keys refuse.
pub(crate) fn key(username: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, username.as_bytes());
    format!(
        "{PENDING_PREFIX}{}",
        hex::encode(digest.as_ref().get(..16).unwrap_or_default())
    )
}

/// Records a credential about to be created.
pub(crate) async fn record(
    view: &View,
    key: &str,
    created: u64,
    internal: &Map<String, Value>,
) -> Result<(), DbError> {
    store::save(
        view,
        key,
        &Pending {
            version: store::ENTRY_VERSION,
            created,
            internal: internal.clone(),
        },
    )
    .await
}

/// Drops the record of a credential whose creation failed (and was rolled back).
pub(crate) async fn forget(view: &View, key: &str) {
    if let Err(e) = view.delete(key).await {
        tracing::warn!(error = %e, "could not drop the record of a failed credential; the sweep will retry its revocation");
    }
}

/// Revokes the users of records older than [`GRACE`] and drops the records; a failure is logged and retried on
/// the next tick.
pub(crate) async fn sweep(b: &DatabaseBackend, req: &PeriodicRequest<'_>) -> Result<(), DbError> {
    let now = unix(req.clock.now());
    for name in req.storage.list(PENDING_PREFIX).await? {
        let key = format!("{PENDING_PREFIX}{name}");
        let pending = match store::load::<Pending>(req.storage, &key).await {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(key = %key, error = %e, "unreadable record of a credential without a lease");
                continue;
            }
        };
        if pending.created.saturating_add(GRACE.as_secs()) > now {
            continue;
        }
        match secret_creds::revoke_internal(b, req.storage, &pending.internal).await {
            Ok(()) => {
                tracing::warn!(
                    role = pending
                        .internal
                        .get("role")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default(),
                    "revoked a database credential whose lease was never committed"
                );
                req.storage.delete(&key).await?;
            }
            Err(e) => {
                tracing::warn!(error = %e, "revoking a database credential without a lease failed; will retry");
            }
        }
    }
    Ok(())
}
