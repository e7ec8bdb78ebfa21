//! `sys/config/auditing/request-headers` (read all) and `.../request-headers/:name` (read, write `hmac`,
//! delete): which request headers audit entries carry. Sudo (the ACL step checks it), as in OpenBao.

use engine_sdk::{Operation, field};
use serde_json::json;

use crate::{Core, CoreError, Request, Response};

/// Routes `sys/config/auditing/<rest>`.
pub(crate) async fn route(core: &Core, req: &Request, rest: &str) -> Result<Response, CoreError> {
    let unknown = || CoreError::UnsupportedPath(req.path.clone());
    let Some(name) = rest.strip_prefix("request-headers") else {
        return Err(unknown());
    };
    let headers = core.audited_headers();
    if name.is_empty() {
        // OpenBao serves only reads here; a LIST (`request-headers/`) matches no path there: 404.
        if req.operation != Operation::Read {
            return Err(if req.operation == Operation::List {
                unknown()
            } else {
                CoreError::UnsupportedOperation
            });
        }
        let all = headers.all();
        return Ok(Response::json(json!({ "headers": *all })).with_legacy_top_level());
    }
    let Some(name) = name.strip_prefix('/') else {
        return Err(unknown());
    };
    if name.is_empty() {
        // `request-headers/` (a LIST, or a trailing slash) matches no path in OpenBao either.
        return Err(unknown());
    }
    if !is_header_name(name) {
        return Err(CoreError::InvalidRequest(format!(
            "{name:?} is not a valid HTTP header name"
        )));
    }
    match req.operation {
        Operation::Read => {
            let all = headers.all();
            let Some(setting) = all.get(&name.to_ascii_lowercase()) else {
                return Err(CoreError::InvalidRequest(
                    "Could not find header in config".into(),
                ));
            };
            // Keyed by the name as asked, as OpenBao answers.
            let mut data = serde_json::Map::new();
            data.insert(name.to_owned(), json!(setting));
            Ok(Response::data(data).with_legacy_top_level())
        }
        Operation::Create | Operation::Update => {
            let hmac = field::boolean(&req.data, "hmac")?.unwrap_or(false);
            let kept = headers.set(core.plain_storage(), name, hmac).await?;
            tracing::info!(header = %name.to_ascii_lowercase(), hmac = kept.hmac, "audited request header set");
            if kept.hmac != hmac {
                let mut resp = Response::default();
                resp.warnings.push(format!(
                    "header {:?} carries credentials: its values are always HMAC'd in audit entries",
                    name.to_ascii_lowercase()
                ));
                return Ok(resp);
            }
            Ok(Response::default())
        }
        Operation::Delete => {
            headers.remove(core.plain_storage(), name).await?;
            tracing::info!(header = %name.to_ascii_lowercase(), "audited request header removed");
            Ok(Response::default())
        }
        _ => Err(CoreError::UnsupportedOperation),
    }
}

/// An HTTP field name (RFC 9110 `token`).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names() {
        assert!(is_header_name("X-Forwarded-For"));
        assert!(is_header_name("x_custom.1"));
        assert!(!is_header_name(""));
        assert!(!is_header_name("a/b"));
        assert!(!is_header_name("a b"));
        assert!(!is_header_name("a:b"));
    }
}
