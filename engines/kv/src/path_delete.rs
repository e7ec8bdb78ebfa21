//! Version 2 `delete/`, `undelete/` and `destroy/{*path}`: act on listed versions of a key.

use engine_sdk::{EngineError, Op, Request, Response, Storage};

use crate::backend::KvV2;
use crate::error::KvError;
use crate::path_data::path_of;
use crate::store::{
    check_leaf, deletion_time, load_config, load_meta, meta_key, now_ns, to_bytes, version_key,
    versions_field,
};

/// POST `delete/`: soft-deletes the listed versions (missing, destroyed or already deleted ones are skipped).
pub(crate) async fn delete_versions(b: &KvV2, req: &Request<'_>) -> Result<Response, EngineError> {
    let path = path_of(req);
    check_leaf(path)?;
    let versions = versions_field(req.data)?;
    if versions.is_empty() {
        return Err(KvError::NoVersion.into());
    }
    let _guard = b.locks.get(path)?.write().await;
    let Some(mut meta) = load_meta(req.storage, path).await? else {
        return Ok(Response::default());
    };
    let now = now_ns(req.clock);
    for n in versions {
        if let Some(vm) = meta.versions.get_mut(&n)
            && !vm.destroyed
            && !vm.is_deleted(now)
        {
            vm.deletion_time = Some(now);
        }
    }
    req.storage.put(&meta_key(path), &to_bytes(&meta)?).await?;
    Ok(Response::default())
}

/// POST `undelete/`: clears the deletion of the listed versions (a `delete_version_after` restarts from now).
pub(crate) async fn undelete_versions(
    b: &KvV2,
    req: &Request<'_>,
) -> Result<Response, EngineError> {
    let path = path_of(req);
    check_leaf(path)?;
    let versions = versions_field(req.data)?;
    if versions.is_empty() {
        return Err(KvError::NoVersion.into());
    }
    let config = load_config(req.storage).await?;
    let _guard = b.locks.get(path)?.write().await;
    let Some(mut meta) = load_meta(req.storage, path).await? else {
        return Ok(Response::default());
    };
    let now = now_ns(req.clock);
    let deletion = deletion_time(now, &config, &meta);
    for n in versions {
        if let Some(vm) = meta.versions.get_mut(&n)
            && !vm.destroyed
        {
            vm.deletion_time = deletion;
        }
    }
    req.storage.put(&meta_key(path), &to_bytes(&meta)?).await?;
    Ok(Response::default())
}

/// PUT/POST `destroy/`: removes the listed versions' data for good and marks them destroyed.
pub(crate) async fn destroy_versions(b: &KvV2, req: &Request<'_>) -> Result<Response, EngineError> {
    let path = path_of(req);
    check_leaf(path)?;
    let versions = versions_field(req.data)?;
    if versions.is_empty() {
        return Err(KvError::NoVersionDestroy.into());
    }
    let _guard = b.locks.get(path)?.write().await;
    let Some(mut meta) = load_meta(req.storage, path).await? else {
        return Ok(Response::default());
    };
    for n in &versions {
        if let Some(vm) = meta.versions.get_mut(n) {
            vm.destroyed = true;
        }
    }
    let mut ops = vec![Op::Put {
        key: meta_key(path),
        value: to_bytes(&meta)?,
    }];
    ops.extend(versions.iter().filter(|n| **n > 0).map(|n| Op::Delete {
        key: version_key(path, *n),
    }));
    req.storage.batch(ops).await?;
    Ok(Response::default())
}
