//! `sys/leases/*` and the legacy `sys/renew`, `sys/revoke`, `sys/revoke-prefix`, `sys/revoke-force`.

use engine_sdk::{Operation, field};
use serde_json::{Map, Value, json};

use crate::core::Unsealed;
use crate::{CoreError, Request, Response};

/// Routes `sys/<path>` when it is a lease endpoint; `None` otherwise.
pub(crate) async fn route(
    u: &Unsealed,
    req: &Request,
    sys_path: &str,
) -> Option<Result<Response, CoreError>> {
    let path = sys_path.strip_prefix("leases/").unwrap_or(sys_path);
    let legacy = !sys_path.starts_with("leases");
    let (action, rest) = match path.split_once('/') {
        Some((a, r)) => (a, r),
        None => (path, ""),
    };
    let exp = &u.expiration;
    let op = req.operation;
    let writes = matches!(op, Operation::Update | Operation::Create);
    let result = match (action, legacy) {
        ("leases", false) if op == Operation::Read => list_irrevocable(u, req).await,
        ("count", false) if op == Operation::Read => count(u, req).await,
        ("lookup", false) if op == Operation::List => exp
            .list(rest)
            .await
            .and_then(keys_response),
        ("lookup", false) if writes && rest.is_empty() => match lease_id(req, "") {
            Ok(id) => exp.lookup(&id).await,
            Err(e) => Err(e),
        },
        ("renew", _) if writes => match lease_id(req, rest) {
            Ok(id) => match field::duration(&req.data, "increment") {
                Ok(inc) => exp.renew(u, &id, inc).await,
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e),
        },
        ("revoke", _) if writes => match (lease_id(req, rest), sync(req)) {
            (Ok(id), Ok(sync)) => exp.revoke(u, &id, sync).await.map(|()| queued(sync)),
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        ("revoke-prefix", _) if writes => match (prefix(rest), sync(req)) {
            (Ok(p), Ok(sync)) => exp
                .revoke_prefix(u, &p, false, sync)
                .await
                .map(|()| queued(sync)),
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        ("revoke-force", _) if writes => match prefix(rest) {
            Ok(p) => exp
                .revoke_prefix(u, &p, true, true)
                .await
                .map(|()| Response::default()),
            Err(e) => Err(e),
        },
        ("tidy", false) if writes => exp.tidy().await.map(|()| Response {
            warnings: vec!["Tidy operation successfully started. Any information from the operation will be printed to Coffer's server logs.".into()],
            status: Some(202),
            ..Response::default()
        }),
        ("lookup" | "renew" | "revoke" | "revoke-prefix" | "revoke-force" | "tidy" | "count", false)
        | ("renew" | "revoke" | "revoke-prefix" | "revoke-force", true)
        | ("leases", false) => Err(CoreError::UnsupportedOperation),
        _ => return None,
    };
    Some(result)
}

fn keys_response(keys: Vec<String>) -> Result<Response, CoreError> {
    if keys.is_empty() {
        return Err(CoreError::NotFound);
    }
    Ok(Response::json(json!({ "keys": keys })))
}

/// The lease id from the body, or from the URL after the endpoint (`sys/leases/renew/<id>`).
fn lease_id(req: &Request, from_url: &str) -> Result<String, CoreError> {
    let id = field::string(&req.data, "lease_id")?.unwrap_or_default();
    let id = if id.is_empty() {
        from_url.to_owned()
    } else {
        id
    };
    if id.is_empty() {
        return Err(CoreError::InvalidRequest(
            "lease_id must be specified".into(),
        ));
    }
    Ok(id)
}

fn prefix(rest: &str) -> Result<String, CoreError> {
    if rest.is_empty() {
        return Err(CoreError::InvalidRequest("prefix must be specified".into()));
    }
    Ok(rest.to_owned())
}

/// `sync` defaults to true, as OpenBao's code does (its docs say false): clients that send no `sync` (the Go
/// API, hvac) expect the revocation done, or its error, when the call returns.
fn sync(req: &Request) -> Result<bool, CoreError> {
    Ok(field::boolean(&req.data, "sync")?.unwrap_or(true))
}

/// 204 when done; 202 when queued (`sync=false`), as OpenBao.
fn queued(sync: bool) -> Response {
    if sync {
        Response::default()
    } else {
        Response {
            status: Some(202),
            warnings: vec!["revocation queued".into()],
            ..Response::default()
        }
    }
}

fn lease_type(req: &Request) -> Result<Option<String>, CoreError> {
    let t = field::string(&req.data, "type")?;
    match t.as_deref() {
        None | Some("") => Ok(None),
        Some("irrevocable") => Ok(t),
        Some(other) => Err(CoreError::InvalidRequest(format!(
            "invalid type {other:?}: only \"irrevocable\" is supported"
        ))),
    }
}

/// `GET sys/leases/count`: irrevocable leases per mount with `type=irrevocable`; without a type, every lease
/// (a Coffer addition: OpenBao requires the type).
async fn count(u: &Unsealed, req: &Request) -> Result<Response, CoreError> {
    if lease_type(req)?.is_none() {
        let n = u.expiration.count().await?;
        return Ok(Response::json(json!({
            "lease_count": n,
            "corrupt_entries": u.expiration.corrupt_entries(),
        })));
    }
    let leases = u.expiration.irrevocable().await?;
    let mut counts: Map<String, Value> = Map::new();
    for l in &leases {
        let accessor = l
            .get("mount_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let n = counts.get(&accessor).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(accessor, json!(n + 1));
    }
    Ok(Response::json(
        json!({ "lease_count": leases.len(), "counts": counts }),
    ))
}

/// `GET sys/leases?type=irrevocable`.
async fn list_irrevocable(u: &Unsealed, req: &Request) -> Result<Response, CoreError> {
    if lease_type(req)?.is_none() {
        // OpenBao answers nothing without a type.
        return Ok(Response::default());
    }
    let limit = match field::string(&req.data, "limit")?.as_deref() {
        Some("none") => usize::MAX,
        Some("") | None => 10_000,
        Some(n) => n
            .parse()
            .map_err(|_| CoreError::InvalidRequest(format!("invalid limit {n:?}")))?,
    };
    let all = u.expiration.irrevocable().await?;
    let total = all.len();
    let leases: Vec<Value> = all
        .into_iter()
        .take(limit)
        .map(|mut l| {
            let mount = mount_of(u, &l);
            if let Some(obj) = l.as_object_mut() {
                obj.insert("mount_point".into(), json!(mount));
            }
            l
        })
        .collect();
    let shown = leases.len();
    let mut resp = Response::json(json!({ "lease_count": shown, "leases": leases }));
    if total > limit {
        resp.warnings.push(format!(
            "showing {limit} of {total} irrevocable leases; set limit=none to list them all"
        ));
    }
    Ok(resp)
}

fn mount_of(u: &Unsealed, lease: &Value) -> String {
    let accessor = lease
        .get("mount_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    u.mounts
        .router()
        .routes()
        .iter()
        .find(|r| r.info.accessor == accessor)
        .map(|r| r.info.path.clone())
        .unwrap_or_default()
}
