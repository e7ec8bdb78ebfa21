//! `oidc/auth_url`, `oidc/callback`, `oidc/poll`: the browser OIDC flow, which this server does not implement.
//! They exist so a client gets a clear 400 instead of a 404 that looks like a wrong mount path.

use engine_sdk::Response;

use crate::JwtError;

/// The answer of every OIDC endpoint.
pub(crate) fn unsupported() -> Result<Response, JwtError> {
    Err(JwtError::invalid(
        "the OIDC browser login flow is not supported by this server; log in with a signed JWT at the \
         mount's 'login' endpoint using a role with role_type=jwt",
    ))
}
