//! `sys/capabilities`, `sys/capabilities-self`, `sys/capabilities-accessor`, `sys/internal/ui/resultant-acl`.

use engine_sdk::{Caller, field};
use policy::Acl;
use serde_json::{Map, Value, json};

use crate::core::Unsealed;
use crate::{CoreError, Operation, Request, Response};

/// Which token the capabilities are asked for.
pub(super) enum Whose {
    /// The caller's own token.
    Own,
    /// A token given in the body (`token`).
    Token,
    /// A token given by accessor (`accessor`).
    Accessor,
}

pub(super) async fn capabilities(
    u: &Unsealed,
    req: &Request,
    acl: &Acl,
    whose: Whose,
) -> Result<Response, CoreError> {
    if !matches!(req.operation, Operation::Update | Operation::Create) {
        return Err(CoreError::UnsupportedOperation);
    }
    let paths = field::strings(&req.data, "paths")?
        .or(field::strings(&req.data, "path")?)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| CoreError::InvalidRequest("missing paths".into()))?;
    let target = match whose {
        Whose::Own => None,
        Whose::Token => {
            let token = field::string(&req.data, "token")?
                .ok_or_else(|| CoreError::InvalidRequest("missing token".into()))?;
            let entry = u
                .tokens
                .lookup(&token)
                .await?
                .ok_or_else(|| CoreError::InvalidRequest("invalid token".into()))?;
            Some(crate::pipeline::token_acl(u, &entry.policies, &entry.entity_id).await?)
        }
        Whose::Accessor => {
            let accessor = field::string(&req.data, "accessor")?
                .ok_or_else(|| CoreError::InvalidRequest("missing accessor".into()))?;
            let entry = u
                .tokens
                .lookup_accessor(&accessor)
                .await?
                .ok_or_else(|| CoreError::InvalidRequest("invalid accessor".into()))?;
            Some(crate::pipeline::token_acl(u, &entry.policies, &entry.entity_id).await?)
        }
    };
    let acl = target.as_deref().unwrap_or(acl);
    let mut data = Map::new();
    let mut all = Vec::new();
    for p in &paths {
        let caps = acl.capabilities(p.trim_start_matches('/'));
        if paths.len() == 1 {
            all = caps.iter().map(|c| (*c).to_owned()).collect();
        }
        data.insert(p.clone(), json!(caps));
    }
    // Old clients read `capabilities` for a single path.
    if paths.len() == 1 {
        data.insert("capabilities".into(), json!(all));
    }
    Ok(Response::data(data).with_legacy_top_level())
}

/// `sys/internal/ui/resultant-acl`: the caller's effective rules, as the UI reads them.
pub(super) fn resultant_acl(u: &Unsealed, caller: &Caller) -> Result<Response, CoreError> {
    if caller.root {
        return Ok(Response::json(
            json!({ "root": true, "exact_paths": {}, "glob_paths": {} }),
        ));
    }
    let mut exact = Map::new();
    let mut glob = Map::new();
    for name in &caller.policies {
        let Some(p) = u.policies.parsed(name) else {
            continue;
        };
        for rule in p.paths() {
            let caps: Vec<Value> = rule.capabilities.names().map(|c| json!(c)).collect();
            let entry = json!({ "capabilities": caps });
            match rule.path.strip_suffix('*') {
                Some(prefix) => glob.insert(prefix.to_owned(), entry),
                None => exact.insert(rule.path.clone(), entry),
            };
        }
    }
    Ok(Response::json(
        json!({ "root": false, "exact_paths": exact, "glob_paths": glob }),
    ))
}
