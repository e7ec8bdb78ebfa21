//! `sys/audit` (list), `sys/audit/:path` (enable, disable) and `sys/audit-hash/:path`; all sudo (the ACL step
//! checks it). Enabling through the API needs `unsafe_allow_api_audit_creation` (or `-dev`), as in OpenBao:
//! otherwise devices come from the config file's `audit` stanzas. Those paths belong to the config file: the
//! API can neither enable a device there nor disable a declared one (OpenBao refuses the latter with a 400).

use std::collections::BTreeMap;

use engine_sdk::{Operation, field};
use serde_json::{Map, Value, json};

use crate::audit::core_error;
use crate::{Core, CoreError, Request, Response};

/// Routes `sys/audit` and `sys/audit/<path>`.
pub(crate) async fn route(core: &Core, req: &Request, rest: &str) -> Result<Response, CoreError> {
    let devices = core.audit_devices();
    let path = rest.trim_matches('/');
    if path.is_empty() {
        if req.operation != Operation::Read {
            return Err(CoreError::UnsupportedOperation);
        }
        let mut data = Map::new();
        for d in devices.list() {
            data.insert(
                d.path.clone(),
                json!({
                    "type": d.kind,
                    "description": d.description,
                    "options": d.options,
                    "local": d.local,
                    "path": d.path,
                }),
            );
        }
        return Ok(Response::data(data).with_legacy_top_level());
    }
    match req.operation {
        Operation::Create | Operation::Update => {
            if !core.allow_api_audit_creation() {
                return Err(CoreError::InvalidRequest(
                    "cannot enable an audit device through the API: declare it with an `audit` stanza in the \
                     config file, or set unsafe_allow_api_audit_creation = true"
                        .into(),
                ));
            }
            if let Some(declared) = core.declared_audit_overlapping(path) {
                return Err(CoreError::InvalidRequest(format!(
                    "cannot enable an audit device at {path:?} through the API: the server configuration \
                     declares the audit device {declared}"
                )));
            }
            let kind = field::string(&req.data, "type")?
                .filter(|t| !t.is_empty())
                .ok_or_else(|| CoreError::InvalidRequest("missing audit device type".into()))?;
            let description = field::string(&req.data, "description")?.unwrap_or_default();
            let local = field::boolean(&req.data, "local")?.unwrap_or(false);
            let options = options(req.data.get("options"))?;
            devices
                .enable(
                    core.plain_storage(),
                    path,
                    &kind,
                    &description,
                    options,
                    local,
                )
                .await
                .map_err(core_error)?;
            tracing::info!(path = %path, kind = %kind, "audit device enabled");
            Ok(Response::default())
        }
        // A declared device is refused by the broker (under its lock), with a message naming the config file.
        Operation::Delete => {
            devices
                .disable(core.plain_storage(), path)
                .await
                .map_err(core_error)?;
            tracing::info!(path = %path, "audit device disabled");
            Ok(Response::default())
        }
        _ => Err(CoreError::UnsupportedOperation),
    }
}

/// `sys/audit-hash/<path>`: the HMAC a device would write for `input`.
pub(crate) async fn hash(core: &Core, req: &Request, path: &str) -> Result<Response, CoreError> {
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return Err(CoreError::UnsupportedOperation);
    }
    let input = field::string(&req.data, "input")?
        .ok_or_else(|| CoreError::InvalidRequest("missing input".into()))?;
    let hash = core
        .audit_devices()
        .hash(core.plain_storage(), path.trim_matches('/'), &input)
        .await
        .map_err(core_error)?;
    Ok(Response::json(json!({ "hash": hash })).with_legacy_top_level())
}

/// Device options: a JSON object of strings (numbers and booleans are accepted as their text).
fn options(v: Option<&Value>) -> Result<BTreeMap<String, String>, CoreError> {
    let Some(v) = v else {
        return Ok(BTreeMap::new());
    };
    let Some(obj) = v.as_object() else {
        return Err(CoreError::InvalidRequest(
            "options must be an object".into(),
        ));
    };
    obj.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                _ => {
                    return Err(CoreError::InvalidRequest(format!(
                        "option {k:?} must be a string"
                    )));
                }
            };
            Ok((k.clone(), text))
        })
        .collect()
}

/// `GET sys/audit-verify-key/<path>` (Coffer, sudo): the key that checks the hash chain of a file device's log,
/// for `coffer audit verify`.
pub(crate) async fn verify_key(
    core: &Core,
    req: &Request,
    path: &str,
) -> Result<Response, CoreError> {
    if req.operation != Operation::Read {
        return Err(CoreError::UnsupportedOperation);
    }
    let key = core
        .audit_devices()
        .chain_key(core.plain_storage(), path.trim_matches('/'))
        .await
        .map_err(core_error)?;
    Ok(Response::json(
        json!({ "key": hex::encode(key.as_slice()) }),
    ))
}
