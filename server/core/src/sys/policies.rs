//! `sys/policies/acl[/<name>]` and the legacy `sys/policy[/<name>]`.

use engine_sdk::field;
use serde_json::json;

use crate::core::Unsealed;
use crate::{CoreError, Operation, Request, Response};

/// `sys/policies/acl` (`name` empty for the list) — `legacy` selects `sys/policy`'s shapes.
pub(super) async fn route(
    u: &Unsealed,
    req: &Request,
    name: &str,
    legacy: bool,
) -> Result<Response, CoreError> {
    let name = name.trim_matches('/');
    if name.is_empty() {
        return match req.operation {
            Operation::List | Operation::Read => {
                let names = u.policies.names();
                let data = if legacy {
                    json!({ "keys": names, "policies": names })
                } else {
                    json!({ "keys": names })
                };
                Ok(Response::json(data).with_legacy_top_level())
            }
            _ => Err(CoreError::UnsupportedOperation),
        };
    }
    let name = policy::normalize_name(name);
    match req.operation {
        Operation::Read => {
            let text = if name == policy::ROOT_POLICY_NAME {
                Some(String::new())
            } else {
                u.policies.get(&name)
            };
            let text = text.ok_or(CoreError::NotFound)?;
            let data = if legacy {
                json!({ "name": name, "rules": text })
            } else {
                json!({ "name": name, "policy": text })
            };
            Ok(Response::json(data).with_legacy_top_level())
        }
        Operation::Update | Operation::Create => {
            // `policy` is the current field; `rules` the legacy one. Either may be base64 as Vault allows.
            let legacy_rules = !req.data.contains_key("policy") && req.data.contains_key("rules");
            let text = field::string(&req.data, "policy")?
                .or(field::string(&req.data, "rules")?)
                .ok_or_else(|| {
                    CoreError::InvalidRequest("'policy' parameter not supplied or empty".into())
                })?;
            if text.trim().is_empty() {
                return Err(CoreError::InvalidRequest(
                    "'policy' parameter not supplied or empty".into(),
                ));
            }
            let text = decode_base64_policy(&text).unwrap_or(text);
            u.policies.put(&name, &text).await?;
            let mut resp = Response::default();
            if legacy_rules {
                resp.warnings
                    .push("'rules' is deprecated, please use 'policy' instead".into());
            }
            Ok(resp)
        }
        Operation::Delete => {
            u.policies.delete(&name).await?;
            Ok(Response::default())
        }
        _ => Err(CoreError::UnsupportedOperation),
    }
}

/// OpenBao accepts policy text base64-encoded; only text that decodes to valid UTF-8 policy syntax is taken.
fn decode_base64_policy(text: &str) -> Option<String> {
    use base64::Engine as _;
    let t = text.trim();
    if t.contains('{') || t.contains('"') {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(t).ok()?;
    String::from_utf8(bytes).ok()
}
