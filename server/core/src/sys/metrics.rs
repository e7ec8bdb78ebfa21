//! `GET sys/metrics`: the node's metrics as OpenBao's JSON (default) or, with `format=prometheus` (or an
//! `Accept` header asking for OpenMetrics or `prometheus/telemetry`, as OpenBao reads it), as Prometheus text.
//! Needs `read` on `sys/metrics` like any sys path.

use engine_sdk::{Operation, field};

use crate::{Core, CoreError, PROMETHEUS_CONTENT_TYPE, Request, Response};

/// Handles `sys/metrics`.
pub(crate) fn metrics(core: &Core, req: &Request) -> Result<Response, CoreError> {
    if req.operation != Operation::Read {
        return Err(CoreError::UnsupportedOperation);
    }
    let mut format = field::string(&req.data, "format")?.unwrap_or_default();
    if format.is_empty() && wants_prometheus(req) {
        "prometheus".clone_into(&mut format);
    }
    Ok(match format.as_str() {
        "prometheus" => Response::raw(200, PROMETHEUS_CONTENT_TYPE, core.metrics().prometheus()),
        "" => {
            let body = serde_json::to_vec(&core.metrics().json(core.now()))
                .map_err(|e| CoreError::Internal(e.to_string()))?;
            Response::raw(200, "application/json", body)
        }
        // OpenBao answers an unknown format with a plain-text 400.
        other => Response::raw(
            400,
            "text/plain",
            format!("metric response format {other:?} unknown"),
        ),
    })
}

/// OpenBao's content negotiation: the first `Accept` value starting with OpenMetrics' type, or any mentioning
/// `prometheus/telemetry`.
fn wants_prometheus(req: &Request) -> bool {
    let mut accept = req.headers.get_all("accept").peekable();
    if accept
        .peek()
        .is_some_and(|first| first.starts_with("application/openmetrics-text"))
    {
        return true;
    }
    accept.any(|v| v.contains("prometheus/telemetry"))
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::{Headers, Token};

    fn req(headers: &[(&str, &str)]) -> Request {
        Request {
            id: "r".into(),
            operation: Operation::Read,
            path: "sys/metrics".into(),
            data: Map::new(),
            token: Some(Token("t".into())),
            remote_addr: None,
            wrap_ttl: None,
            headers: Headers(
                headers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
        }
    }

    #[test]
    fn accept_header_negotiation() {
        assert!(!wants_prometheus(&req(&[])));
        assert!(!wants_prometheus(&req(&[("accept", "application/json")])));
        assert!(wants_prometheus(&req(&[(
            "accept",
            "application/openmetrics-text; version=1.0.0"
        )])));
        assert!(wants_prometheus(&req(&[
            ("accept", "text/plain"),
            ("accept", "prometheus/telemetry")
        ])));
        assert!(!wants_prometheus(&req(&[
            ("accept", "text/plain"),
            ("accept", "application/openmetrics-text")
        ])));
    }
}
