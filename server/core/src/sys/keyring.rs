//! `sys/rotate`, `sys/rotate/keyring`, `sys/key-status`, `sys/rotate/keyring/config`.

use std::time::Duration;

use serde_json::{Map, Value, json};

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
    data.insert("install_time".into(), json!(rfc3339(status.install_time)));
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
            if let Some(v) = req.data.get("max_operations") {
                c.max_operations = as_u64(v).ok_or_else(|| {
                    CoreError::InvalidRequest("max_operations must be an integer".into())
                })?;
            }
            if let Some(v) = req.data.get("interval") {
                let d = match v {
                    Value::String(s) => api_spec::duration::parse(s)
                        .map_err(|e| CoreError::InvalidRequest(format!("interval: {e}")))?,
                    other => Duration::from_secs(as_u64(other).ok_or_else(|| {
                        CoreError::InvalidRequest("interval must be a duration".into())
                    })?),
                };
                c.interval = d;
            }
            if let Some(v) = req.data.get("enabled") {
                c.enabled = as_bool(v)
                    .ok_or_else(|| CoreError::InvalidRequest("enabled must be a boolean".into()))?;
            }
            c.validate()
                .map_err(|e| CoreError::InvalidRequest(e.to_string()))?;
            barrier.set_rotation_config(c).await?;
            Ok(Response::default())
        }
        _ => Err(CoreError::UnsupportedOperation),
    }
}

/// JSON numbers or numeric strings, as Vault's field decoding accepts both.
fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim() {
            "true" | "1" | "t" | "T" | "TRUE" | "True" => Some(true),
            "false" | "0" | "f" | "F" | "FALSE" | "False" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn rfc3339(t: std::time::SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    dt.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
