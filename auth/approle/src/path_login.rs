//! `login {role_id, secret_id}`: checks the pair and returns the `Auth` the core turns into a token.
//!
//! Every credential mismatch (unknown role id, unknown, expired or used-up secret id) answers the same
//! `invalid role or secret ID`. The source-address checks run before a use is spent, so a login from the wrong
//! network does not burn a limited secret id.

use std::collections::BTreeMap;
use std::net::IpAddr;

use engine_sdk::{Alias, Auth, Request, Response, field};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::backend::ApproleBackend;
use crate::salt::MAX_HMAC_INPUT;
use crate::secret_id::{self, Location, SecretIdEntry};
use crate::{ApproleError, cidr_subset, role};

/// A trimmed credential field; `None` when absent or blank.
fn credential(req: &Request<'_>, name: &str) -> Result<Option<String>, ApproleError> {
    Ok(field::string(req.data, name)?
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty()))
}

/// Refuses a login from outside `blocks` (no restriction when empty).
fn check_source(
    blocks: &[String],
    remote: Option<IpAddr>,
    on: &'static str,
) -> Result<(), ApproleError> {
    if blocks.is_empty() {
        return Ok(());
    }
    let ip = remote.ok_or(ApproleError::NoRemoteAddress)?;
    if engine_sdk::cidr::allowed(blocks, ip) {
        Ok(())
    } else {
        Err(ApproleError::SourceNotAllowed {
            addr: ip.to_string(),
            on,
        })
    }
}

/// POST `login`.
pub(crate) async fn login(
    backend: &ApproleBackend,
    req: &Request<'_>,
) -> Result<Response, ApproleError> {
    let result = check(backend, req).await;
    if let Err(e) = &result {
        tracing::debug!(request_id = req.id, reason = %e, "approle login refused");
    }
    result
}

async fn check(backend: &ApproleBackend, req: &Request<'_>) -> Result<Response, ApproleError> {
    let role_id =
        credential(req, "role_id")?.ok_or_else(|| ApproleError::invalid("missing role_id"))?;
    if role_id.len() > MAX_HMAC_INPUT {
        return Err(ApproleError::InvalidCredentials);
    }
    let salt = backend.salt.get(req.storage).await?;
    let name = role::name_for_role_id(req.storage, salt, &role_id)
        .await?
        .ok_or(ApproleError::InvalidCredentials)?;
    let role = role::load(req.storage, &name)
        .await?
        .ok_or(ApproleError::InvalidCredentials)?;
    // The index is keyed by a hash; the role itself must carry the same id (a stale index must not log in).
    if !bool::from(role.role_id.as_bytes().ct_eq(role_id.as_bytes())) {
        return Err(ApproleError::InvalidCredentials);
    }

    let remote = req.remote_addr.map(|a| a.ip());
    let now = req.clock.now();
    let mut secret: Option<(Location, SecretIdEntry)> = None;
    if role.bind_secret_id {
        let value = credential(req, "secret_id")?
            .ok_or_else(|| ApproleError::invalid("missing secret_id"))?;
        if value.len() > MAX_HMAC_INPUT {
            return Err(ApproleError::InvalidCredentials);
        }
        let loc = Location::of(salt, &role.uuid, &value);
        let entry = secret_id::load(req.storage, &loc)
            .await?
            .ok_or(ApproleError::InvalidCredentials)?;
        if entry.expired(now) {
            let _lock = backend.secret_locks.lock(&loc.hmac).await;
            if let Some(current) = secret_id::load(req.storage, &loc).await? {
                secret_id::remove(req.storage, salt, &loc, &current).await?;
            }
            return Err(ApproleError::InvalidCredentials);
        }
        if !secret_id::accessor_exists(req.storage, salt, &entry.accessor).await? {
            // A secret id whose accessor is gone was being destroyed: finish and refuse.
            let _lock = backend.secret_locks.lock(&loc.hmac).await;
            secret_id::remove_entry_only(req.storage, &loc).await?;
            return Err(ApproleError::InvalidCredentials);
        }
        // The role's blocks may have narrowed since the secret id was issued.
        cidr_subset::check(&entry.cidr_list, &role.secret_id_bound_cidrs)?;
        check_source(&entry.cidr_list, remote, "secret ID")?;
        secret = Some((loc, entry));
    }
    check_source(&role.secret_id_bound_cidrs, remote, "role")?;

    if let Some((loc, entry)) = &secret
        && entry.num_uses > 0
    {
        spend_use(backend, req, salt, loc).await?;
    }

    let mut metadata: BTreeMap<String, String> = secret
        .as_ref()
        .map(|(_, e)| e.metadata.clone())
        .unwrap_or_default();
    metadata.insert("role_name".into(), name.clone());
    let mut internal = Map::new();
    internal.insert("role_name".into(), Value::String(name));
    let mut auth = Auth {
        metadata: metadata.clone(),
        alias: Some(Alias {
            name: role.role_id.clone(),
            metadata,
        }),
        internal,
        ..Auth::default()
    };
    role.token.populate_auth(&mut auth, remote)?;
    if let Some((_, entry)) = &secret
        && !entry.token_bound_cidrs.is_empty()
    {
        auth.bound_cidrs = entry.token_bound_cidrs.clone();
    }
    Ok(Response {
        auth: Some(auth),
        ..Response::default()
    })
}

/// Takes one use off a limited secret id under its lock; the last use deletes it. Fails when a concurrent login
/// took the last use first.
async fn spend_use(
    backend: &ApproleBackend,
    req: &Request<'_>,
    salt: &crate::salt::Salt,
    loc: &Location,
) -> Result<(), ApproleError> {
    let _lock = backend.secret_locks.lock(&loc.hmac).await;
    let mut current = secret_id::load(req.storage, loc)
        .await?
        .ok_or(ApproleError::InvalidCredentials)?;
    match current.num_uses {
        // Unlimited meanwhile (cannot happen today: counts only go down), nothing to spend.
        0 => Ok(()),
        1 => secret_id::remove(req.storage, salt, loc, &current).await,
        n => {
            current.num_uses = n - 1;
            current.last_updated_time = req.clock.now();
            secret_id::save(req.storage, loc, &mut current).await
        }
    }
}
