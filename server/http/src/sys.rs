//! Endpoints answered straight from the seal state: `sys/init`, `sys/seal-status`, `sys/unseal`, `sys/health`,
//! `sys/leader`. They are unauthenticated and not audited, as in OpenBao.

use std::collections::HashMap;

use api_spec::sys::{Health, InitRequest, InitStatus, Leader, UnsealRequest};
use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use server_core::CoreError;

use crate::logical::read_json;
use crate::{ApiError, AppState};

pub(crate) async fn init_status(State(s): State<AppState>) -> Json<InitStatus> {
    Json(InitStatus {
        initialized: s.core.is_initialized(),
    })
}

pub(crate) async fn init(State(s): State<AppState>, body: Body) -> Result<Response, ApiError> {
    let req: InitRequest = read_json(body, s.limits.max_request_size).await?;
    let resp = s.core.initialize(req).await?;
    Ok(Json(resp).into_response())
}

pub(crate) async fn seal_status(State(s): State<AppState>) -> Response {
    Json(s.core.seal_status()).into_response()
}

pub(crate) async fn unseal(
    State(s): State<AppState>,
    method: Method,
    body: Body,
) -> Result<Response, ApiError> {
    if method != Method::POST && method != Method::PUT {
        return Err(ApiError::MethodNotAllowed);
    }
    let req: UnsealRequest = read_json(body, s.limits.max_request_size).await?;
    if req.migrate {
        return Err(CoreError::InvalidRequest("seal migration is not supported".into()).into());
    }
    if !req.reset && req.key.as_deref().is_none_or(str::is_empty) {
        return Err(CoreError::InvalidRequest(
            "'key' must be specified in request body as JSON, or 'reset' set to true".into(),
        )
        .into());
    }
    let status = s.core.unseal(req.key.as_deref(), req.reset).await?;
    Ok(Json(status).into_response())
}

/// Status-code overrides `sys/health` accepts (Vault's extra codes are accepted and validated too).
const HEALTH_CODE_PARAMS: &[&str] = &[
    "activecode",
    "standbycode",
    "sealedcode",
    "uninitcode",
    "drsecondarycode",
    "performancestandbycode",
    "haunhealthycode",
    "removedcode",
];

/// `GET|HEAD sys/health` with OpenBao's status codes and override parameters (uninit > sealed > standby).
pub(crate) async fn health(
    State(s): State<AppState>,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if method != Method::GET && method != Method::HEAD {
        return Err(ApiError::MethodNotAllowed);
    }
    // Every override is validated in every state, so a typo is a 400 rather than silently ignored.
    let mut codes = HashMap::new();
    for name in HEALTH_CODE_PARAMS {
        if let Some(v) = q.get(*name) {
            let code = v
                .parse::<u16>()
                .ok()
                .and_then(|n| StatusCode::from_u16(n).ok())
                .ok_or_else(|| {
                    ApiError::BadParameter(format!(
                        "invalid value for {name}: {v:?} is not an HTTP status code"
                    ))
                })?;
            codes.insert(*name, code);
        }
    }
    let code = |name: &str, default: StatusCode| codes.get(name).copied().unwrap_or(default);
    let flag = |name: &str| {
        q.get(name).is_some_and(|v| {
            v.is_empty() || matches!(v.as_str(), "true" | "1" | "t" | "T" | "TRUE" | "True")
        })
    };

    let initialized = s.core.is_initialized();
    let sealed = s.core.is_sealed();
    let standby = !sealed && !s.core.cluster_status().is_leader;
    let status = if !initialized {
        code("uninitcode", StatusCode::NOT_IMPLEMENTED)
    } else if sealed {
        code("sealedcode", StatusCode::SERVICE_UNAVAILABLE)
    } else if standby && !flag("standbyok") {
        code("standbycode", StatusCode::TOO_MANY_REQUESTS)
    } else {
        code("activecode", StatusCode::OK)
    };
    if method == Method::HEAD {
        return Ok(status.into_response());
    }
    let identity = s.core.cluster_identity();
    let now = s
        .core
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let body = Health {
        initialized,
        sealed,
        standby,
        performance_standby: false,
        replication_performance_mode: "disabled".into(),
        replication_dr_mode: "disabled".into(),
        server_time_utc: now,
        version: api_spec::VERSION.into(),
        cluster_name: identity.as_ref().map(|i| i.0.clone()),
        cluster_id: identity.map(|i| i.1),
    };
    Ok((status, Json(body)).into_response())
}

pub(crate) async fn leader(State(s): State<AppState>) -> Result<Response, ApiError> {
    if s.core.is_sealed() {
        return Err(CoreError::Sealed.into());
    }
    let st = s.core.cluster_status();
    let ha = s.core.ha_enabled();
    let active_time = match (st.is_leader, s.core.active_since()) {
        (true, Some(t)) => time::OffsetDateTime::from(t)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        _ => "0001-01-01T00:00:00Z".into(),
    };
    let body = Leader {
        ha_enabled: ha,
        is_self: st.is_leader,
        active_time,
        leader_address: st.leader_api_addr.unwrap_or_default(),
        leader_cluster_address: st.leader_cluster_addr.unwrap_or_default(),
        performance_standby: false,
        performance_standby_last_remote_wal: 0,
        raft_committed_index: ha.then_some(st.committed_index),
        raft_applied_index: ha.then_some(st.applied_index),
    };
    Ok(Json(body).into_response())
}
