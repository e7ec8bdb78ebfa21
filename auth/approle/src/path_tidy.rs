//! `tidy/secret-id` and the periodic tidy: removes expired secret ids, secret ids of deleted roles, entries whose
//! accessor is gone and accessors whose entry is gone.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use engine_sdk::{Request, Response, View};

use crate::backend::ApproleBackend;
use crate::secret_id::{self, Location};
use crate::{ApproleError, role};

/// What one tidy pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TidyReport {
    /// Secret-id entries removed.
    pub(crate) secret_ids: usize,
    /// Dangling accessor index entries removed.
    pub(crate) accessors: usize,
}

/// POST `tidy/secret-id`. Runs the pass before answering (OpenBao starts it in the background and answers 202);
/// the answer keeps OpenBao's 202 and its warning.
pub(crate) async fn tidy_request(
    backend: &ApproleBackend,
    req: &Request<'_>,
) -> Result<Response, ApproleError> {
    let Some(report) = tidy(backend, req.storage, req.clock.now()).await? else {
        return Ok(Response::default().warn("Tidy operation already in progress."));
    };
    tracing::info!(
        request_id = req.id,
        secret_ids = report.secret_ids,
        accessors = report.accessors,
        "approle tidy finished"
    );
    let mut resp = Response::default().warn(
        "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.",
    );
    resp.status = Some(202);
    Ok(resp)
}

/// One tidy pass; `None` when another pass is running.
pub(crate) async fn tidy(
    backend: &ApproleBackend,
    storage: &View,
    now: SystemTime,
) -> Result<Option<TidyReport>, ApproleError> {
    if backend
        .tidying
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Ok(None);
    }
    // Cleared on drop, so a pass cut short (its future dropped) does not block every later tidy.
    struct Running<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for Running<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
        }
    }
    let _running = Running(&backend.tidying);
    pass(backend, storage, now).await.map(Some)
}

async fn pass(
    backend: &ApproleBackend,
    storage: &View,
    now: SystemTime,
) -> Result<TidyReport, ApproleError> {
    let salt = backend.salt.get(storage).await?;
    let mut report = TidyReport::default();

    let mut live_roles = HashSet::new();
    for name in role::list(storage).await? {
        if let Some(r) = role::load(storage, &name).await? {
            live_roles.insert(r.uuid);
        }
    }

    for role_uuid in secret_id::role_folders(storage).await? {
        let orphaned = !live_roles.contains(&role_uuid);
        for hmac in secret_id::list_for_role(storage, &role_uuid).await? {
            let loc = Location {
                role_uuid: role_uuid.clone(),
                hmac,
            };
            let _lock = backend.secret_locks.lock(&loc.hmac).await;
            let Some(entry) = secret_id::load(storage, &loc).await? else {
                continue;
            };
            if orphaned || entry.expired(now) {
                secret_id::remove(storage, salt, &loc, &entry).await?;
                report.secret_ids += 1;
            } else if !secret_id::accessor_exists(storage, salt, &entry.accessor).await? {
                secret_id::remove_entry_only(storage, &loc).await?;
                report.secret_ids += 1;
            }
        }
    }

    for key in secret_id::accessor_keys(storage).await? {
        let Some(loc) = secret_id::accessor_target(storage, &key).await? else {
            continue;
        };
        let _lock = backend.secret_locks.lock(&loc.hmac).await;
        if secret_id::load(storage, &loc).await?.is_none() {
            secret_id::delete_accessor_key(storage, &key).await?;
            report.accessors += 1;
        }
    }
    Ok(report)
}
