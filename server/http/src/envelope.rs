//! Turning a core response into the Vault envelope (or a 204).

use api_spec::Envelope;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The HTTP answer for a successful logical request.
pub(crate) fn respond(request_id: String, resp: server_core::Response) -> Response {
    if resp.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let legacy = resp.legacy_top_level;
    let status = resp
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let lease = resp.lease.unwrap_or_default();
    let env = Envelope {
        request_id,
        lease_id: lease.id,
        renewable: lease.renewable,
        lease_duration: lease.duration,
        auth: resp.auth,
        data: resp.data,
        warnings: if resp.warnings.is_empty() {
            None
        } else {
            Some(resp.warnings)
        },
        ..Envelope::default()
    };
    if !legacy {
        return (status, Json(env)).into_response();
    }
    // OpenBao copies `data` to the top level for old sys routes; old clients read it there.
    let mut body = match serde_json::to_value(&env) {
        Ok(Value::Object(m)) => m,
        _ => return Json(env).into_response(),
    };
    if let Some(data) = &env.data {
        for (k, v) in data {
            body.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    (status, Json(Value::Object(body))).into_response()
}
