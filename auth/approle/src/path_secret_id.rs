//! `role/{role_name}/secret-id` (generate, LIST accessors), `custom-secret-id`, and lookup/destroy of a secret id by
//! value or by accessor.

use std::time::Duration;

use engine_sdk::token_fields::seconds;
use engine_sdk::{EngineError, Request, Response, cidr, field};
use serde_json::{Map, json};

use crate::backend::{ApproleBackend, role_name};
use crate::path_role::page;
use crate::role::{RoleEntry, count, has};
use crate::salt::{MAX_HMAC_INPUT, random_uuid};
use crate::secret_id::{self, Location, SecretIdEntry};
use crate::{ApproleError, cidr_subset, role};

/// The role of the request, which must exist.
async fn existing_role(req: &Request<'_>) -> Result<RoleEntry, ApproleError> {
    let name = role_name(req)?;
    role::load(req.storage, &name)
        .await?
        .ok_or(ApproleError::UnknownRole(name))
}

/// A secret id sent by the client: present and within the HMAC input bound.
fn secret_input(req: &Request<'_>) -> Result<String, ApproleError> {
    let s = field::string(req.data, "secret_id")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApproleError::invalid("missing secret_id"))?;
    if s.len() > MAX_HMAC_INPUT {
        return Err(ApproleError::invalid(format!(
            "secret_id is longer than maximum of {MAX_HMAC_INPUT} bytes"
        )));
    }
    Ok(s)
}

fn accessor_input(req: &Request<'_>) -> Result<String, ApproleError> {
    field::string(req.data, "secret_id_accessor")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApproleError::invalid("missing secret_id_accessor"))
}

/// POST `role/{role_name}/secret-id`: a fresh random secret id.
pub(crate) async fn generate(
    backend: &ApproleBackend,
    req: &Request<'_>,
) -> Result<Response, ApproleError> {
    issue(backend, req, random_uuid()?).await
}

/// POST `role/{role_name}/custom-secret-id`: a secret id chosen by the caller (the "push" model).
pub(crate) async fn custom(
    backend: &ApproleBackend,
    req: &Request<'_>,
) -> Result<Response, ApproleError> {
    issue(backend, req, secret_input(req)?).await
}

/// The CIDR list field `name`, canonicalized.
fn cidr_field(req: &Request<'_>, name: &str) -> Result<Vec<String>, ApproleError> {
    let raw = field::strings(req.data, name)?.unwrap_or_default();
    cidr::canonical_list(&raw)
        .map_err(|e| ApproleError::invalid(format!("failed to validate CIDR blocks: {e}")))
}

async fn issue(
    backend: &ApproleBackend,
    req: &Request<'_>,
    secret: String,
) -> Result<Response, ApproleError> {
    let salt = backend.salt.get(req.storage).await?;
    let _role_guard = backend.role_lock.read().await;
    let role = existing_role(req).await?;
    if !role.bind_secret_id {
        return Err(ApproleError::invalid(
            "bind_secret_id is not set on the role",
        ));
    }

    let cidr_list = cidr_field(req, "cidr_list")?;
    cidr_subset::check(&cidr_list, &role.secret_id_bound_cidrs)?;
    let token_bound_cidrs = cidr_field(req, "token_bound_cidrs")?;
    cidr_subset::check(&token_bound_cidrs, &role.token.token_bound_cidrs)?;

    // An override may narrow the role's defaults, never widen them (0 = unlimited counts as wider).
    let num_uses = if has(req.data, "num_uses") {
        let n = count(req.data, "num_uses")?.unwrap_or(0);
        let limit = role.secret_id_num_uses;
        if limit > 0 && (n == 0 || n > limit) {
            return Err(ApproleError::invalid(
                "num_uses cannot be higher than the role's secret_id_num_uses",
            ));
        }
        n
    } else {
        role.secret_id_num_uses
    };
    let ttl = if has(req.data, "ttl") {
        let t = seconds(req.data, "ttl")?.unwrap_or(0);
        let limit = role.secret_id_ttl;
        if limit > 0 && (t == 0 || t > limit) {
            return Err(ApproleError::invalid(
                "ttl cannot be longer than the role's secret_id_ttl",
            ));
        }
        t
    } else {
        role.secret_id_ttl
    };
    // The mount's max lease TTL caps a secret id's life, as OpenBao does.
    let max = req.mount.max_lease_ttl.as_secs();
    let ttl = if max > 0 && ttl > max { max } else { ttl };
    let metadata = secret_id::parse_metadata(req.data)?;

    let now = req.clock.now();
    let mut entry = SecretIdEntry {
        version: 0,
        accessor: random_uuid()?,
        num_uses,
        ttl,
        creation_time: now,
        expiration_time: (ttl > 0).then(|| now + Duration::from_secs(ttl)),
        last_updated_time: now,
        metadata,
        cidr_list,
        token_bound_cidrs,
    };
    let loc = Location::of(salt, &role.uuid, &secret);
    {
        let _lock = backend.secret_locks.lock(&loc.hmac).await;
        if secret_id::load(req.storage, &loc).await?.is_some() {
            return Err(ApproleError::invalid("SecretID is already registered"));
        }
        secret_id::create(req.storage, salt, &loc, &mut entry).await?;
    }

    let mut data = Map::new();
    data.insert("secret_id".into(), json!(secret));
    data.insert("secret_id_accessor".into(), json!(entry.accessor));
    data.insert("secret_id_ttl".into(), json!(ttl));
    data.insert("secret_id_num_uses".into(), json!(num_uses));
    Ok(Response::data(data))
}

/// LIST `role/{role_name}/secret-id/`: the accessors of the role's secret ids, sorted.
pub(crate) async fn list(req: &Request<'_>) -> Result<Response, ApproleError> {
    let role = existing_role(req).await?;
    let mut accessors = Vec::new();
    for hmac in secret_id::list_for_role(req.storage, &role.uuid).await? {
        let loc = Location {
            role_uuid: role.uuid.clone(),
            hmac,
        };
        if let Some(entry) = secret_id::load(req.storage, &loc).await? {
            accessors.push(entry.accessor);
        }
    }
    accessors.sort_unstable();
    page(req, accessors)
}

/// POST `role/{role_name}/secret-id/lookup {secret_id}`: its properties, or 204 when unknown or expired.
pub(crate) async fn lookup(
    backend: &ApproleBackend,
    req: &Request<'_>,
) -> Result<Response, ApproleError> {
    let secret = secret_input(req)?;
    let role = existing_role(req).await?;
    let salt = backend.salt.get(req.storage).await?;
    let loc = Location::of(salt, &role.uuid, &secret);
    let Some(entry) = secret_id::load(req.storage, &loc).await? else {
        return Ok(Response::default());
    };
    if entry.expired(req.clock.now()) {
        return Ok(Response::default());
    }
    if !secret_id::accessor_exists(req.storage, salt, &entry.accessor).await? {
        // Half-deleted: finish the job.
        let _lock = backend.secret_locks.lock(&loc.hmac).await;
        secret_id::remove_entry_only(req.storage, &loc).await?;
        return Err(ApproleError::invalid("invalid secret id"));
    }
    Ok(Response::data(entry.to_data()))
}

/// POST/DELETE `role/{role_name}/secret-id/destroy {secret_id}`.
pub(crate) async fn destroy(
    backend: &ApproleBackend,
    req: &Request<'_>,
) -> Result<Response, ApproleError> {
    let secret = secret_input(req)?;
    let role = existing_role(req).await?;
    let salt = backend.salt.get(req.storage).await?;
    let loc = Location::of(salt, &role.uuid, &secret);
    let _lock = backend.secret_locks.lock(&loc.hmac).await;
    if let Some(entry) = secret_id::load(req.storage, &loc).await? {
        secret_id::remove(req.storage, salt, &loc, &entry).await?;
    }
    Ok(Response::default())
}

/// The location an accessor of this role points at; `None` when unknown or belonging to another role.
async fn accessor_location(
    backend: &ApproleBackend,
    req: &Request<'_>,
    role: &RoleEntry,
    accessor: &str,
) -> Result<Option<Location>, ApproleError> {
    let salt = backend.salt.get(req.storage).await?;
    Ok(secret_id::locate_accessor(req.storage, salt, accessor)
        .await?
        .filter(|loc| loc.role_uuid == role.uuid))
}

/// POST `role/{role_name}/secret-id-accessor/lookup {secret_id_accessor}`: 404 for an unknown accessor.
pub(crate) async fn lookup_accessor(
    backend: &ApproleBackend,
    req: &Request<'_>,
) -> Result<Response, ApproleError> {
    let accessor = accessor_input(req)?;
    let role = existing_role(req).await?;
    let loc = accessor_location(backend, req, &role, &accessor)
        .await?
        .ok_or(EngineError::NotFound)?;
    match secret_id::load(req.storage, &loc).await? {
        Some(entry) if !entry.expired(req.clock.now()) => Ok(Response::data(entry.to_data())),
        _ => Ok(Response::default()),
    }
}

/// POST/DELETE `role/{role_name}/secret-id-accessor/destroy {secret_id_accessor}`.
pub(crate) async fn destroy_accessor(
    backend: &ApproleBackend,
    req: &Request<'_>,
) -> Result<Response, ApproleError> {
    let accessor = accessor_input(req)?;
    let role = existing_role(req).await?;
    let Some(loc) = accessor_location(backend, req, &role, &accessor).await? else {
        return Err(ApproleError::invalid(format!(
            "failed to find accessor entry for secret_id_accessor: {accessor:?}"
        )));
    };
    let salt = backend.salt.get(req.storage).await?;
    let _lock = backend.secret_locks.lock(&loc.hmac).await;
    match secret_id::load(req.storage, &loc).await? {
        Some(entry) => secret_id::remove(req.storage, salt, &loc, &entry).await?,
        None => secret_id::remove_accessor(req.storage, salt, &accessor).await?,
    }
    Ok(Response::default())
}
