//! Turning a core response into the Vault envelope (or a 204).

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The HTTP answer for a successful logical request.
pub(crate) fn respond(request_id: String, resp: server_core::Response) -> Response {
    if resp.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    // A body with its own type (`sys/metrics`) goes out as it is, with its status.
    if let Some(raw) = resp.raw_body {
        let status = resp
            .status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::OK);
        return (status, [(header::CONTENT_TYPE, raw.content_type)], raw.body).into_response();
    }
    // An unwrapped response goes out byte for byte as it was stored.
    if let Some(raw) = resp.raw_json {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            raw.0,
        )
            .into_response();
    }
    let status = resp
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    // A wrapped answer has no data to copy to the top level.
    let legacy = resp.legacy_top_level && resp.wrap_info.is_none();
    let env = resp.into_envelope(request_id);
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
