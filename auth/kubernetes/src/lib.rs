//! The kubernetes auth method: a pod logs in with its service-account JWT. The token is parsed (and, with
//! `pem_keys`, its signature checked) locally, bound to a role's service-account names and namespaces, then
//! confirmed by the cluster's TokenReview API; success becomes a token with the role's policies.
//!
//! Beyond OpenBao: every refused login is a bare 403 for the client, but its precise reason is logged at `warn`
//! with the request id and returned as a stable code in [`engine_sdk::EngineError::Denied`] for the audit log;
//! `config` can dry-run the reviewer credentials (`verify=true`); the TokenReview call has a timeout.
#![warn(missing_docs)]

mod backend;
mod config;
mod error;
mod glob;
mod jwt;
mod local;
mod path_config;
mod path_login;
mod path_role;
mod paths;
mod review;
mod review_http;
mod role;

#[cfg(test)]
mod tests;

pub use backend::{BackendOptions, factory, new_backend};
pub use error::{KubernetesError, Reason};
pub use review::{ReviewError, ReviewRequest, ReviewStatus, TokenReviewer};
pub use review_http::HttpTokenReviewer;
