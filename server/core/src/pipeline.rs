//! The request pipeline (DESIGN.md §2): mount match → unauthenticated paths → token → ACL (with the existence
//! check deciding create vs update) → route → token creation for logins → envelope fields.

use std::sync::Arc;
use std::time::Duration;

use engine_sdk::{Caller, Operation, RouteMatch};
use policy::Acl;
use serde_json::{Map, Value, json};

use crate::audit::{AuditAuth, AuditMount, Trail};
use crate::core::Unsealed;
use crate::request::Lease;
use crate::router::Route;
use crate::{Core, CoreError, Request, Response, sys, wrapping};

pub(crate) async fn handle(core: &Core, u: &Unsealed, req: Request) -> Result<Response, CoreError> {
    let trail = Trail::new(core, &req);
    let outcome = handle_audited(core, u, &req, &trail).await;
    trail.finish(outcome).await
}

async fn handle_audited(
    core: &Core,
    u: &Unsealed,
    req: &Request,
    trail: &Trail<'_>,
) -> Result<Response, CoreError> {
    let path = req.path.as_str();
    let is_sys = path == "sys" || path.starts_with("sys/");
    let router = u.mounts.router();
    let routed = if is_sys { None } else { router.lookup(path) };
    if let Some((route, _)) = &routed {
        trail.mount(|| AuditMount::of(route));
    }

    // The wrapping token of unwrap/lookup/rewrap is checked before anything else, as OpenBao does; lookup needs
    // no client token at all.
    if is_sys && let Some(endpoint) = wrapping::token_endpoint(path) {
        wrapping::validate(core, u, req).await?;
        if endpoint == wrapping::TokenEndpoint::Lookup {
            trail.before_route().await?;
            let resp = wrapping::lookup(core, u, req).await?;
            return wrapping::finish(core, u, req, resp, "").await;
        }
    }

    // Logins and other unauthenticated paths skip the token.
    if let Some((route, rel)) = &routed
        && route.is_unauthenticated(rel)
    {
        let m = match_route(route, rel, req)?;
        let op = resolve_operation(core, u, route, rel, &m, req, None).await?;
        trail.before_route().await?;
        let resp = dispatch(core, u, route, rel, &m, req, op, None).await?;
        return wrapping::finish(core, u, req, resp, "").await;
    }

    // An auth path with nothing mounted is a 404 even without a token, as in OpenBao (logins carry none).
    if routed.is_none() && path.starts_with("auth/") {
        return Err(CoreError::UnsupportedPath(req.path.clone()));
    }
    let token = req.token.as_ref().map(|t| t.0.as_str()).unwrap_or_default();
    let remote_ip = req.remote_addr.map(|a| a.ip());
    let entry = if token.is_empty() {
        None
    } else {
        u.tokens.check(token, core.clock().now(), remote_ip).await?
    };
    let Some(entry) = entry else {
        // The mount listing is public: without a (valid) token it shows the `listing_visibility = "unauth"` mounts.
        if path.trim_end_matches('/') == "sys/internal/ui/mounts" {
            trail.before_route().await?;
            let resp = sys::route(core, u, req, &Caller::default(), &policy::Acl::new([])).await?;
            return wrapping::finish(core, u, req, resp, "").await;
        }
        return Err(CoreError::PermissionDenied);
    };
    trail.auth(|| AuditAuth {
        client_token: token.to_owned(),
        accessor: entry.accessor.clone(),
        display_name: entry.display_name.clone(),
        policies: entry.policies.clone(),
        metadata: entry.meta.clone(),
        entity_id: entry.entity_id.clone(),
        token_type: if entry.accessor.is_empty() {
            "batch"
        } else {
            "service"
        }
        .to_owned(),
        token_ttl: entry.ttl,
        allowed: None,
    });
    let token_key = u.tokens.key_of(token).await?;
    let result = match authorized(
        core,
        u,
        req,
        trail,
        routed,
        token,
        token_key.clone(),
        &entry,
    )
    .await
    {
        Ok(resp) => wrapping::finish(core, u, req, resp, &entry.display_name).await,
        Err(e) => Err(e),
    };
    // The token's last permitted use: revoke it (and its children) once the request is done.
    if entry.revocation_pending
        && let Err(e) = u.tokens.revoke_tree(&token_key).await
    {
        tracing::warn!(error = %e, "revoking a token after its last use failed; tidy will retry");
    }
    result
}

#[allow(
    clippy::too_many_arguments,
    reason = "the pipeline's state for one request"
)]
async fn authorized(
    core: &Core,
    u: &Unsealed,
    req: &Request,
    trail: &Trail<'_>,
    routed: Option<(Arc<Route>, &str)>,
    token: &str,
    token_key: String,
    entry: &auth_token::TokenEntry,
) -> Result<Response, CoreError> {
    let path = req.path.as_str();
    let is_sys = routed.is_none() && (path == "sys" || path.starts_with("sys/"));
    let wrapping_token = wrapping::is_wrapping_token(entry);
    let policies = entry.policies.clone();
    let acl = token_acl(u, &policies, &entry.entity_id).await?;
    let caller = Caller {
        accessor: entry.accessor.clone(),
        display_name: entry.display_name.clone(),
        policies,
        entity_id: entry.entity_id.clone(),
        root: entry.is_root(),
        token_key,
    };

    if is_sys {
        // The CLI's KV preflight is allowed with any capability on the mount, not on the path itself.
        if !path.starts_with("sys/internal/ui/mounts") {
            let decision = authorize(
                &acl,
                req.operation,
                path,
                &req.data,
                policy::is_sudo_path(path.trim_end_matches('/')),
                req.wrap_ttl,
            );
            trail.decided(decision.is_ok());
            decision?;
        }
        trail.before_route().await?;
        return sys::route(core, u, req, &caller, &acl).await;
    }

    let Some((route, rel)) = routed else {
        // Deny before revealing whether anything is mounted there.
        authorize(&acl, req.operation, path, &req.data, false, req.wrap_ttl)?;
        return Err(CoreError::UnsupportedPath(req.path.clone()));
    };
    // The token store's *-self endpoints act on the caller's own token, which OpenBao passes in the body.
    let with_token;
    let req = if route.entry.kind == "token"
        && matches!(rel, "lookup-self" | "renew-self")
        && !req.data.contains_key("token")
    {
        let mut r = req.clone();
        r.data
            .insert("token".into(), Value::String(token.to_owned()));
        with_token = r;
        &with_token
    } else {
        req
    };
    let m = match_route(&route, rel, req)?;
    let op = resolve_operation(core, u, &route, rel, &m, req, Some(&caller)).await?;
    let decision = authorize(
        &acl,
        op,
        path,
        &req.data,
        route.is_root_path(rel),
        req.wrap_ttl,
    );
    trail.decided(decision.is_ok());
    decision?;
    // A full lease-count quota refuses a request that would issue a lease before the engine creates anything.
    if route.issues_leases(rel) {
        u.expiration.quotas().check(path)?;
    }
    trail.before_route().await?;
    let mut resp = dispatch(core, u, &route, rel, &m, req, op, Some(&caller)).await?;
    if wrapping_token && op == Operation::Read && path == "cubbyhole/response" {
        resp.warnings.push(wrapping::CUBBYHOLE_READ_WARNING.into());
    }
    Ok(resp)
}

/// The compiled ACL of a token's policies, templated paths resolved against its entity when it has one.
pub(crate) async fn token_acl(
    u: &Unsealed,
    policies: &[String],
    entity_id: &str,
) -> Result<Arc<Acl>, CoreError> {
    if entity_id.is_empty() {
        return Ok(u.policies.acl(policies, None));
    }
    let identity = u.identity.identity(entity_id).await?;
    Ok(u.policies
        .acl(policies, identity.as_deref().map(|i| (entity_id, i))))
}

fn match_route(route: &Route, rel: &str, req: &Request) -> Result<RouteMatch, CoreError> {
    route
        .paths
        .route(rel)
        .ok_or_else(|| CoreError::UnsupportedPath(req.path.clone()))
}

/// POST/PUT become Create when the path's existence check says the target does not exist yet.
async fn resolve_operation(
    core: &Core,
    u: &Unsealed,
    route: &Route,
    rel: &str,
    m: &RouteMatch,
    req: &Request,
    caller: Option<&Caller>,
) -> Result<Operation, CoreError> {
    let spec = route
        .backend
        .paths()
        .get(m.index)
        .ok_or_else(|| CoreError::Internal("route index out of range".into()))?;
    if req.operation != Operation::Update || !spec.existence_check {
        return Ok(req.operation);
    }
    let exists = route
        .backend
        .exists(engine_request(
            core,
            u,
            route,
            rel,
            m,
            req,
            Operation::Update,
            caller,
        ))
        .await?;
    Ok(if exists {
        Operation::Update
    } else {
        Operation::Create
    })
}

/// The ACL decision for one request; sudo is required on root-protected paths, and a policy's wrapping TTL
/// bounds apply to the requested wrap TTL.
fn authorize(
    acl: &Acl,
    op: Operation,
    path: &str,
    data: &Map<String, Value>,
    needs_sudo: bool,
    wrap_ttl: Option<Duration>,
) -> Result<(), CoreError> {
    let decision = acl.decide_wrapped(policy_op(op), path, Some(data), wrap_ttl);
    if !decision.allowed || (needs_sudo && !decision.root && !decision.is_sudo) {
        return Err(CoreError::PermissionDenied);
    }
    Ok(())
}

pub(crate) fn policy_op(op: Operation) -> policy::Operation {
    match op {
        Operation::Read => policy::Operation::Read,
        Operation::List => policy::Operation::List,
        Operation::Create => policy::Operation::Create,
        Operation::Update => policy::Operation::Update,
        Operation::Delete => policy::Operation::Delete,
        Operation::Patch => policy::Operation::Patch,
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "the pipeline's state for one request"
)]
fn engine_request<'a>(
    core: &'a Core,
    u: &'a Unsealed,
    route: &'a Route,
    rel: &'a str,
    m: &'a RouteMatch,
    req: &'a Request,
    op: Operation,
    caller: Option<&'a Caller>,
) -> engine_sdk::Request<'a> {
    engine_sdk::Request {
        id: &req.id,
        operation: op,
        path: rel,
        route: m,
        data: &req.data,
        storage: &route.view,
        clock: core.clock(),
        mount: &route.info,
        caller,
        remote_addr: req.remote_addr,
        system: &u.system,
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "the pipeline's state for one request"
)]
async fn dispatch(
    core: &Core,
    u: &Unsealed,
    route: &Arc<Route>,
    rel: &str,
    m: &RouteMatch,
    req: &Request,
    op: Operation,
    caller: Option<&Caller>,
) -> Result<Response, CoreError> {
    let spec = route
        .backend
        .paths()
        .get(m.index)
        .ok_or_else(|| CoreError::Internal("route index out of range".into()))?;
    let served = spec.ops.contains(&op)
        || (op == Operation::Create && spec.ops.contains(&Operation::Update))
        || (op == Operation::Update && spec.ops.contains(&Operation::Create));
    if !served {
        return Err(CoreError::UnsupportedOperation);
    }
    if req.data.get("help").is_some() && matches!(op, Operation::Read) {
        return Ok(Response::data(help(spec)));
    }
    let resp = route
        .backend
        .handle(engine_request(core, u, route, rel, m, req, op, caller))
        .await?;
    let mut out = Response {
        data: resp.data,
        warnings: resp.warnings,
        legacy_top_level: resp.legacy_top_level,
        status: resp.status,
        ..Response::default()
    };
    if let Some(secret) = resp.secret {
        out.lease = Some(if secret.no_lease {
            // A TTL hint without a lease (KV), as in OpenBao.
            Lease {
                id: String::new(),
                duration: if secret.ttl.is_zero() {
                    route.info.default_lease_ttl
                } else {
                    secret.ttl
                }
                .as_secs(),
                renewable: secret.renewable,
            }
        } else {
            let token_key = caller.map(|c| c.token_key.as_str()).unwrap_or_default();
            u.expiration
                .register(u, route, &req.path, &secret, token_key)
                .await?
        });
    }
    if let Some(auth) = resp.auth {
        out.auth = Some(login_auth(core, u, route, &req.path, auth).await?);
    }
    Ok(out)
}

/// `?help=1`: the path's documentation from its spec.
fn help(spec: &engine_sdk::PathSpec) -> Map<String, Value> {
    let fields: Map<String, Value> = spec
        .fields
        .iter()
        .map(|f| {
            (
                f.name.to_owned(),
                json!({ "type": format!("{:?}", f.kind), "description": f.help }),
            )
        })
        .collect();
    let mut m = Map::new();
    m.insert("help".into(), json!(spec.help));
    m.insert("fields".into(), Value::Object(fields));
    m
}

/// Puts a new service token's expiry in the lease manager's index, off the request path: the record only makes
/// the expired token (and its children and leases) go away on time. An expired token is refused on use whether
/// or not the record was written, and tidy removes what a crash left behind, so the client need not wait for a
/// second durable write.
pub(crate) fn index_token_expiry(u: &Unsealed, key: String, expire_time: u64) {
    let expiration = u.expiration.clone();
    tokio::spawn(async move {
        if let Err(e) = expiration.register_token(&key, expire_time).await {
            tracing::warn!(error = %e, "indexing a token's expiry failed; tidy will clean it up");
        }
    });
}

/// Turns a backend's `Auth` into a token (unless the token store made it already) and the envelope's `auth` object.
async fn login_auth(
    core: &Core,
    u: &Unsealed,
    route: &Route,
    login_path: &str,
    auth: engine_sdk::Auth,
) -> Result<Value, CoreError> {
    // The token store creates (or renews) tokens itself; every other backend's Auth becomes a new token here.
    let (token, accessor, policies, ttl, entity_id) = if route.entry.kind != "token" {
        let now = core.clock().now();
        let mut create = auth_token::CreateToken::for_login(&auth, &route.info, now);
        create.path = login_path.to_owned();
        if let Some(alias) = &auth.alias {
            let (entity_id, changed) = u.identity.entity_for_login(&route.info, alias, now).await?;
            if changed {
                u.policies.entity_changed(&entity_id);
            }
            create.entity_id = entity_id;
        }
        let created = u.tokens.create(create).await?;
        if !created.entry.accessor.is_empty() {
            let key = u.tokens.key_of(created.token.as_str()).await?;
            index_token_expiry(u, key, created.entry.expire_time);
        }
        (
            created.token.to_string(),
            created.entry.accessor.clone(),
            created.entry.policies.clone(),
            created.entry.ttl,
            created.entry.entity_id.clone(),
        )
    } else {
        // The token store made this token (auth/token/create*): index its expiry too.
        if !auth.accessor.is_empty()
            && let Some(t) = u.tokens.lookup(&auth.client_token).await?
        {
            let key = u.tokens.key_of(&auth.client_token).await?;
            index_token_expiry(u, key, t.expire_time);
        }
        (
            auth.client_token.clone(),
            auth.accessor.clone(),
            auth.policies.clone(),
            auth.ttl.as_secs(),
            String::new(),
        )
    };
    let token_type = if auth.token_type.is_empty() {
        "service".to_owned()
    } else {
        auth.token_type.clone()
    };
    Ok(json!({
        "client_token": token,
        "accessor": accessor,
        "policies": policies,
        "token_policies": policies,
        "identity_policies": Value::Null,
        "metadata": if auth.metadata.is_empty() { Value::Null } else { json!(auth.metadata) },
        "lease_duration": ttl,
        "renewable": auth.renewable,
        "entity_id": entity_id,
        "token_type": token_type,
        "orphan": auth.orphan || route.entry.kind != "token",
        "mfa_requirement": Value::Null,
        "num_uses": auth.num_uses,
    }))
}
