//! `sys/policies/password/:name` (create/update, read, delete, LIST) and `.../:name/generate`.

use base64::Engine as _;
use engine_sdk::{Operation, field};
use serde_json::json;

use crate::core::Unsealed;
use crate::system::{StoredPasswordPolicy, load_password_policy};
use crate::{CoreError, Request, Response, paths};

/// Passwords a new policy must be able to produce before it is saved (OpenBao's check against policies that
/// are impossible or too slow to satisfy).
const TRIAL_GENERATIONS: usize = 10;

/// Routes `sys/policies/password/<rest>`.
pub(crate) async fn route(u: &Unsealed, req: &Request, rest: &str) -> Result<Response, CoreError> {
    let storage = u.system.storage.as_ref();
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        if req.operation != Operation::List {
            return Err(CoreError::UnsupportedOperation);
        }
        let keys = storage.list(paths::PASSWORD_POLICY_PREFIX).await?;
        if keys.is_empty() {
            return Err(CoreError::NotFound);
        }
        return Ok(Response::json(json!({ "keys": keys })));
    }
    if let Some(name) = rest.strip_suffix("/generate") {
        if req.operation != Operation::Read {
            return Err(CoreError::UnsupportedOperation);
        }
        let Some((_, policy)) = load_password_policy(storage, name).await? else {
            return Err(CoreError::InvalidRequest(format!(
                "no password policy found for name {name:?}"
            )));
        };
        let password = policy
            .generate()
            .map_err(|e| CoreError::Internal(format!("password generation failed: {e}")))?;
        return Ok(Response::json(json!({ "password": password.as_str() })));
    }
    let name = rest;
    if name.contains('/') {
        return Err(CoreError::UnsupportedPath(req.path.clone()));
    }
    let key = format!("{}{name}", paths::PASSWORD_POLICY_PREFIX);
    match req.operation {
        Operation::Read => match load_password_policy(storage, name).await? {
            Some((text, _)) => Ok(Response::json(json!({ "policy": text }))),
            None => Err(CoreError::NotFound),
        },
        Operation::Create | Operation::Update => {
            let raw = field::string(&req.data, "policy")?
                .filter(|p| !p.is_empty())
                .ok_or_else(|| CoreError::InvalidRequest("missing policy".into()))?;
            // The policy may be sent base64-encoded to avoid escaping.
            let text = base64::engine::general_purpose::STANDARD
                .decode(raw.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or(raw);
            let policy = policy::password::PasswordPolicy::parse(&text)
                .map_err(|e| CoreError::InvalidRequest(format!("invalid password policy: {e}")))?;
            for _ in 0..TRIAL_GENERATIONS {
                policy.generate().map_err(|e| {
                    CoreError::InvalidRequest(format!(
                        "unable to generate passwords from the policy: {e}"
                    ))
                })?;
            }
            let bytes = serde_json::to_vec(&StoredPasswordPolicy { v: 1, policy: text })
                .map_err(|e| CoreError::Internal(e.to_string()))?;
            storage.put(&key, &bytes).await?;
            Ok(Response::default())
        }
        Operation::Delete => {
            storage.delete(&key).await?;
            Ok(Response::default())
        }
        _ => Err(CoreError::UnsupportedOperation),
    }
}
