//! `sys/rotate`, `sys/rotate/keyring`, `sys/key-status`, `sys/rotate/keyring/config`.

use engine_sdk::field;
use serde_json::{Map, json};

use crate::{Core, CoreError, Operation, Request, Response};

pub(super) async fn rotate(core: &Core, req: &Request) -> Result<Response, CoreError> {
    if req.operation != Operation::Update {
        return Err(CoreError::UnsupportedOperation);
    }
    core.barrier().rotate().await?;
    Ok(Response::default())
}

pub(super) fn key_status(core: &Core, req: &Request) -> Result<Response, CoreError> {
    if req.operation != Operation::Read {
        return Err(CoreError::UnsupportedOperation);
    }
    let status = core.barrier().key_status()?;
    let mut data = Map::new();
    data.insert("term".into(), json!(status.term));
    data.insert(
        "install_time".into(),
        json!(crate::clock::rfc3339(status.install_time)),
    );
    data.insert("encryptions".into(), json!(status.encryptions));
    Ok(Response::data(data).with_legacy_top_level())
}

pub(super) async fn config(core: &Core, req: &Request) -> Result<Response, CoreError> {
    let barrier = core.barrier();
    match req.operation {
        Operation::Read => {
            let c = barrier.rotation_config().await?;
            let mut data = Map::new();
            data.insert("max_operations".into(), json!(c.max_operations));
            data.insert("interval".into(), json!(c.interval.as_secs()));
            data.insert("enabled".into(), json!(c.enabled));
            Ok(Response::data(data).with_legacy_top_level())
        }
        Operation::Update | Operation::Create => {
            let mut c = barrier.rotation_config().await?;
            if let Some(n) = field::uint(&req.data, "max_operations")? {
                c.max_operations = n;
            }
            if let Some(d) = field::duration(&req.data, "interval")? {
                c.interval = d;
            }
            if let Some(b) = field::boolean(&req.data, "enabled")? {
                c.enabled = b;
            }
            c.validate()
                .map_err(|e| CoreError::InvalidRequest(e.to_string()))?;
            barrier.set_rotation_config(c).await?;
            Ok(Response::default())
        }
        _ => Err(CoreError::UnsupportedOperation),
    }
}
