//! The jwt auth method: the JWT half of OpenBao's jwt/oidc method. A client presents a signed JWT and a role; the
//! signature is checked against keys from the mount's config (static PEM keys, a JWKS URL, or an OIDC discovery
//! document's JWKS), then the issuer, audience, times and the role's bound claims, and the result is a token whose
//! identity alias is the role's `user_claim`.
//!
//! Out of scope: the browser OIDC flow (`oidc/auth_url`, `oidc/callback`, `oidc/poll`, roles with
//! `role_type=oidc`, `oidc_client_id`/`oidc_client_secret`). Those endpoints answer 400 saying so, and such roles
//! and configs are refused. Also not supported: `provider_config`, CEL roles, policy templating from claims.
#![warn(missing_docs)]

mod backend;
mod claims;
mod config;
mod error;
mod fetch;
mod jwt;
mod keys;
mod keyset;
mod path_config;
mod path_login;
mod path_oidc;
mod path_role;
mod paths;
mod role;

pub use backend::factory;
pub use error::JwtError;
