//! `login {role, jwt}`: verifies the token against the mount's keys and the role's bounds, and returns the `Auth`
//! the core turns into a token.
//!
//! Refusals carry OpenBao's 400 texts (`error validating token: ...`, `error validating claims: ...`), or 403 for a
//! source address outside `token_bound_cidrs`. Each refusal is logged at warn with the request id and the precise
//! reason (which key, which claim); the token itself is never logged.

use std::collections::BTreeMap;

use engine_sdk::{Alias, Auth, Request, Response, field};
use serde_json::{Map, Value, json};

use crate::backend::JwtBackend;
use crate::jwt::{self, Alg};
use crate::{JwtError, claims, config, role};

/// Logs a refused login and builds the client's answer.
fn refuse(req: &Request<'_>, client: String, detail: &str) -> JwtError {
    tracing::warn!(request_id = req.id, reason = %detail, "jwt login refused");
    JwtError::InvalidRequest(client)
}

/// A refusal whose client message is the reason itself.
fn refuse_plain(req: &Request<'_>, msg: String) -> JwtError {
    tracing::warn!(request_id = req.id, reason = %msg, "jwt login refused");
    JwtError::InvalidRequest(msg)
}

/// POST `login`.
pub(crate) async fn login(backend: &JwtBackend, req: &Request<'_>) -> Result<Response, JwtError> {
    let config = config::load(req.storage)
        .await?
        .ok_or_else(|| JwtError::invalid("could not load configuration"))?;
    let name = field::string(req.data, "role")?
        .map(|r| r.trim().to_lowercase())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| config.default_role.clone());
    if name.is_empty() {
        return Err(JwtError::invalid("missing role"));
    }
    let role = match role::normalize_name(&name) {
        Some(n) => role::load(req.storage, &n).await?,
        None => None,
    }
    .ok_or_else(|| JwtError::invalid(format!("role {name:?} could not be found")))?;
    if role.role_type == "oidc" {
        return Err(JwtError::invalid("role with oidc role_type is not allowed"));
    }
    let token = field::string(req.data, "jwt")?.unwrap_or_default();
    let token = token.trim();
    if token.is_empty() {
        return Err(JwtError::invalid("missing token"));
    }

    let remote = req.remote_addr.map(|a| a.ip());
    if !role.token.token_bound_cidrs.is_empty() {
        let allowed =
            remote.is_some_and(|ip| engine_sdk::cidr::allowed(&role.token.token_bound_cidrs, ip));
        if !allowed {
            tracing::warn!(
                request_id = req.id,
                remote = ?remote,
                "jwt login refused: source address outside the role's token_bound_cidrs"
            );
            return Err(JwtError::PermissionDenied);
        }
    }

    let parsed =
        jwt::parse(token).map_err(|e| refuse(req, format!("error validating token: {e}"), &e))?;
    let Some(alg) = Alg::parse(&parsed.alg).filter(|a| config.algorithms().contains(a)) else {
        return Err(refuse(
            req,
            "error validating token: invalid algorithm (alg) header parameter: token signed with unexpected algorithm"
                .into(),
            &format!("algorithm {:?} is not accepted", parsed.alg),
        ));
    };
    let now = req.clock.now();
    let keys = backend.keyset(&config, now).await.inspect_err(|e| {
        tracing::warn!(request_id = req.id, error = %e, "jwt login failed: no verification keys");
    })?;
    if let Err(failure) = keys.verify(&parsed, alg, now).await {
        return Err(refuse(
            req,
            "error validating token: error verifying token signature".into(),
            &failure.detail,
        ));
    }

    let claims = Value::Object(parsed.claims);
    claims::validate_standard(&claims, &config.bound_issuer, &role, now)
        .map_err(|e| refuse(req, format!("error validating token: {e}"), &e))?;
    if !claims::audiences(&claims).is_empty() && role.bound_audiences.is_empty() {
        return Err(refuse_plain(
            req,
            "audience claim found in JWT but no audiences bound to the role".into(),
        ));
    }

    let user = claims::user(&claims, &role).map_err(|e| refuse_plain(req, e))?;
    let mut metadata: BTreeMap<String, String> =
        claims::metadata(&claims, &role).map_err(|e| refuse_plain(req, e))?;
    let groups = claims::groups(&claims, &role).map_err(|e| refuse_plain(req, e))?;
    claims::validate_bound(&claims, &role)
        .map_err(|e| refuse(req, format!("error validating claims: {e}"), &e))?;
    metadata.insert("role".into(), name.clone());

    let mut internal = Map::new();
    internal.insert("role".into(), Value::String(name));
    // The SDK's Auth has no group aliases yet: the names travel with the token for a core that wants them.
    if let Some(groups) = groups {
        internal.insert("groups".into(), json!(groups));
    }
    let mut auth = Auth {
        display_name: user.clone(),
        metadata: metadata.clone(),
        alias: Some(Alias {
            name: user,
            metadata,
        }),
        internal,
        ..Auth::default()
    };
    role.token.populate_auth(&mut auth, remote)?;
    Ok(Response {
        auth: Some(auth),
        ..Response::default()
    })
}
