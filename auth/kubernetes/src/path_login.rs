//! `login`: a service-account JWT becomes a token, following OpenBao's algorithm (local JWT checks, role
//! bindings, then the TokenReview). Every refusal is a bare 403 for the client; the precise reason is logged with
//! the request id and carried in [`engine_sdk::EngineError::Denied`] for the audit entry.

use std::collections::BTreeMap;

use engine_sdk::{Alias, Auth, Request, Response, field};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::backend::KubernetesBackend;
use crate::config::{self, ConfigEntry};
use crate::error::Denial;
use crate::jwt::{self, DEFAULT_ISSUER, Expectations, ServiceAccount};
use crate::review::{ReviewRequest, ReviewStatus};
use crate::role::{self, Binding, RoleEntry};
use crate::{KubernetesError, Reason};

/// POST `login` with `role` and `jwt`.
pub(crate) async fn login(
    backend: &KubernetesBackend,
    req: &Request<'_>,
) -> Result<Response, KubernetesError> {
    let role_raw = field::string(req.data, "role")?.unwrap_or_default();
    if role_raw.is_empty() {
        return Err(KubernetesError::Missing("role"));
    }
    let token = Zeroizing::new(field::string(req.data, "jwt")?.unwrap_or_default());
    if token.is_empty() {
        return Err(KubernetesError::Missing("jwt"));
    }
    let Some(name) = role::normalize_name(&role_raw) else {
        return Err(KubernetesError::UnknownRole(role_raw));
    };
    let Some(entry) = role::load(req.storage, &name).await? else {
        return Err(KubernetesError::UnknownRole(role_raw));
    };

    match authenticate(backend, req, &entry, &token).await {
        Ok(Ok(sa)) => {
            tracing::debug!(
                request_id = req.id,
                mount = %req.mount.path,
                role = %name,
                namespace = %sa.namespace,
                service_account = %sa.name,
                "kubernetes login accepted"
            );
            issue(req, &role_raw, &name, &entry, &sa)
        }
        Ok(Err(d)) => {
            tracing::warn!(
                request_id = req.id,
                mount = %req.mount.path,
                role = %name,
                reason = d.reason.code(),
                detail = %d.detail,
                "kubernetes login denied"
            );
            Err(KubernetesError::denied(d))
        }
        Err(e) => Err(e),
    }
}

/// Everything that decides the login. The outer `Err` is a failure of Coffer itself (storage); the inner one a
/// refusal with its reason.
async fn authenticate(
    backend: &KubernetesBackend,
    req: &Request<'_>,
    entry: &RoleEntry,
    token: &Zeroizing<String>,
) -> Result<Result<ServiceAccount, Denial>, KubernetesError> {
    let remote = req.remote_addr.map(|a| a.ip());
    if !entry.token.token_bound_cidrs.is_empty() {
        let allowed =
            remote.is_some_and(|ip| engine_sdk::cidr::allowed(&entry.token.token_bound_cidrs, ip));
        if !allowed {
            let from = remote.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string());
            return Ok(Err(Denial::new(
                Reason::SourceAddressNotAllowed,
                format!("login from {from} is outside the role's token_bound_cidrs"),
            )));
        }
    }
    let Some(config) = config::load(req.storage).await? else {
        return Ok(Err(Denial::new(
            Reason::NotConfigured,
            "the auth method has no config yet",
        )));
    };
    let keys = config.public_keys()?;
    let expected_issuer = if config.issuer.is_empty() {
        DEFAULT_ISSUER
    } else {
        config.issuer.as_str()
    };
    let issuer = (!config.disable_iss_validation).then_some(expected_issuer);
    let want = Expectations {
        keys: &keys,
        issuer,
        audience: (!entry.audience.is_empty()).then_some(entry.audience.as_str()),
        now: req.clock.now(),
    };
    let sa = match jwt::validate(token, &want) {
        Ok(sa) => sa,
        Err(d) => return Ok(Err(d)),
    };
    match entry.binds(&sa.namespace, &sa.name) {
        Ok(()) => {}
        Err(Binding::Name) => {
            return Ok(Err(Denial::new(
                Reason::NameNotAuthorized,
                format!(
                    "service account name {:?} (namespace {:?}) is not in bound_service_account_names",
                    sa.name, sa.namespace
                ),
            )));
        }
        Err(Binding::Namespace) => {
            return Ok(Err(Denial::new(
                Reason::NamespaceNotAuthorized,
                format!(
                    "namespace {:?} (service account {:?}) is not in bound_service_account_namespaces",
                    sa.namespace, sa.name
                ),
            )));
        }
    }
    Ok(review(backend, &config, entry, token, &sa)
        .await
        .map(|()| sa))
}

/// The TokenReview and the checks on its answer (OpenBao's order).
async fn review(
    backend: &KubernetesBackend,
    config: &ConfigEntry,
    entry: &RoleEntry,
    token: &Zeroizing<String>,
    sa: &ServiceAccount,
) -> Result<(), Denial> {
    let reviewer = backend
        .reviewer_for(config)
        .await
        .map_err(|e| Denial::new(Reason::ReviewTls, e))?;
    // The role's audience when set, else the JWT's own: the API server then checks the token against them.
    let audiences = if entry.audience.is_empty() {
        sa.audiences.clone()
    } else {
        vec![entry.audience.clone()]
    };
    let bearer = backend
        .reviewer_jwt(config)
        .await
        .unwrap_or_else(|| token.clone());
    let request = ReviewRequest {
        token: token.clone(),
        audiences,
        bearer: Some(bearer),
    };
    let status = reviewer
        .review(&request)
        .await
        .map_err(|e| Denial::new(e.reason(), e.to_string()))?;
    check_status(&status, &request.audiences, sa)
}

/// The answer must authenticate the token, for one of the requested audiences, as the very service account
/// (namespace, name and UID) the JWT names.
fn check_status(
    status: &ReviewStatus,
    wanted: &[String],
    sa: &ServiceAccount,
) -> Result<(), Denial> {
    if !status.error.is_empty() {
        return Err(Denial::new(
            Reason::NotAuthenticated,
            format!("the API server rejected the token: {}", status.error),
        ));
    }
    if !status.authenticated {
        return Err(Denial::new(
            Reason::NotAuthenticated,
            "the API server says the token is not authenticated",
        ));
    }
    if !wanted.is_empty() && !wanted.iter().any(|a| status.audiences.contains(a)) {
        return Err(Denial::new(
            Reason::ReviewAudienceMismatch,
            format!(
                "the token is valid for audiences {:?}, but {wanted:?} were wanted",
                status.audiences
            ),
        ));
    }
    let parts: Vec<&str> = status.username.split(':').collect();
    let [system, kind, namespace, name] = parts.as_slice() else {
        return Err(Denial::new(
            Reason::ReviewIdentityMismatch,
            format!("unexpected username format {:?}", status.username),
        ));
    };
    if *system != "system" || *kind != "serviceaccount" {
        return Err(Denial::new(
            Reason::ReviewIdentityMismatch,
            format!("user {:?} is not a service account", status.username),
        ));
    }
    if *name != sa.name || *namespace != sa.namespace || status.uid != sa.uid {
        return Err(Denial::new(
            Reason::ReviewIdentityMismatch,
            format!(
                "the API server reviewed {namespace}/{name} (uid {:?}), but the JWT claims {}/{} (uid {:?})",
                status.uid, sa.namespace, sa.name, sa.uid
            ),
        ));
    }
    Ok(())
}

/// The `Auth` of an accepted login: OpenBao's metadata (with the role name as sent) and alias, the role's token
/// settings; `internal` keeps the normalized role name for renewals.
fn issue(
    req: &Request<'_>,
    role_sent: &str,
    role_name: &str,
    entry: &RoleEntry,
    sa: &ServiceAccount,
) -> Result<Response, KubernetesError> {
    let sa_fields = BTreeMap::from([
        ("service_account_name".to_owned(), sa.name.clone()),
        ("service_account_namespace".to_owned(), sa.namespace.clone()),
        ("service_account_uid".to_owned(), sa.uid.clone()),
        (
            "service_account_secret_name".to_owned(),
            sa.secret_name.clone(),
        ),
    ]);
    let mut metadata = sa_fields.clone();
    metadata.insert("role".to_owned(), role_sent.to_owned());
    let mut internal = Map::new();
    internal.insert("role".into(), Value::String(role_name.to_owned()));
    let mut auth = Auth {
        // The core prefixes the mount path: `kubernetes-<namespace>-<name>`.
        display_name: format!("{}-{}", sa.namespace, sa.name),
        metadata,
        alias: Some(Alias {
            name: entry.alias_name(&sa.namespace, &sa.name, &sa.uid),
            metadata: sa_fields,
        }),
        internal,
        ..Auth::default()
    };
    entry
        .token
        .populate_auth(&mut auth, req.remote_addr.map(|a| a.ip()))?;
    Ok(Response {
        auth: Some(auth),
        ..Response::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa() -> ServiceAccount {
        ServiceAccount {
            name: "app".into(),
            namespace: "ns".into(),
            uid: "u1".into(),
            ..ServiceAccount::default()
        }
    }

    fn ok_status() -> ReviewStatus {
        ReviewStatus {
            authenticated: true,
            username: "system:serviceaccount:ns:app".into(),
            uid: "u1".into(),
            audiences: vec!["a".into()],
            error: String::new(),
        }
    }

    #[test]
    fn review_answers_are_checked() {
        let reason = |s: ReviewStatus, wanted: &[&str]| {
            let wanted: Vec<String> = wanted.iter().map(|s| s.to_string()).collect();
            check_status(&s, &wanted, &sa()).err().map(|d| d.reason)
        };
        assert_eq!(reason(ok_status(), &["a"]), None);
        assert_eq!(reason(ok_status(), &[]), None);
        assert_eq!(
            reason(ok_status(), &["b"]),
            Some(Reason::ReviewAudienceMismatch)
        );
        let mut s = ok_status();
        s.authenticated = false;
        assert_eq!(reason(s, &[]), Some(Reason::NotAuthenticated));
        let mut s = ok_status();
        s.error = "expired".into();
        assert_eq!(reason(s, &[]), Some(Reason::NotAuthenticated));
        for (user, uid) in [
            ("system:serviceaccount:ns:other", "u1"),
            ("system:serviceaccount:other:app", "u1"),
            ("system:serviceaccount:ns:app", "u2"),
            ("system:node:ns:app", "u1"),
            ("alice", "u1"),
        ] {
            let mut s = ok_status();
            s.username = user.into();
            s.uid = uid.into();
            assert_eq!(
                reason(s, &[]),
                Some(Reason::ReviewIdentityMismatch),
                "{user} {uid}"
            );
        }
    }
}
