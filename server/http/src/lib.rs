//! Coffer's HTTP layer: the `/v1/` router, the Vault response envelope, and the single place where errors become
//! status codes ([`error`]).

mod envelope;
pub mod error;
mod logical;
mod serve;
mod sys;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{any, get};
use server_core::Core;

pub use error::ApiError;
pub use serve::{ServeError, serve};

/// Per-listener request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted request body (Vault's `max_request_size`, default 32 MiB).
    pub max_request_size: usize,
    /// Longest a request may run (Vault's `max_request_duration`, default 90 s).
    pub max_request_duration: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_size: 32 * 1024 * 1024,
            max_request_duration: Duration::from_secs(90),
        }
    }
}

/// Shared state of the handlers.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) core: Arc<Core>,
    pub(crate) limits: Limits,
}

/// The full `/v1/` router for one listener.
pub fn router(core: Arc<Core>, limits: Limits) -> Router {
    let state = AppState { core, limits };
    Router::new()
        // Pre-unseal endpoints: answered from the seal state, never routed through the pipeline.
        .route(
            "/v1/sys/init",
            get(sys::init_status).post(sys::init).put(sys::init),
        )
        .route("/v1/sys/seal-status", get(sys::seal_status))
        .route("/v1/sys/unseal", any(sys::unseal))
        .route("/v1/sys/health", any(sys::health))
        .route("/v1/sys/leader", get(sys::leader))
        .route("/v1/{*path}", any(logical::handle))
        .fallback(logical::not_found)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panic_response,
        ))
        .with_state(state)
}
