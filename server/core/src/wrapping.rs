//! Response wrapping, as OpenBao does it: instead of a response, the client gets a single-use wrapping token
//! whose cubbyhole holds the response (`response`) and what `sys/wrapping/lookup` reports (`wrapinfo`); the
//! `sys/wrapping/{wrap,unwrap,lookup,rewrap}` handlers.
//!
//! Wrapping tokens are service tokens without a parent, with one use and a TTL (and explicit max TTL) equal to
//! the wrap TTL, carrying only the fixed `response-wrapping` policy, which no client can request.

use std::time::Duration;

use api_spec::WrapInfo;
use auth_token::{CreateToken, TokenEntry, TtlLimits};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use storage::{Op, Storage, View};

use crate::core::Unsealed;
use crate::{Core, CoreError, Operation, RawJson, Request, Response};

/// Cubbyhole key of the wrapped response (OpenBao's; the wrapping token may read it there itself).
const RESPONSE_KEY: &str = "response";
/// Cubbyhole key of the facts `sys/wrapping/lookup` reports.
const WRAPINFO_KEY: &str = "wrapinfo";
/// Format version of [`WrapRecord`].
const WRAPINFO_VERSION: u32 = 1;
/// OpenBao's answer (400) for a token that is not a live wrapping token.
const INVALID_TOKEN: &str = "wrapping token is not valid or does not exist";
/// OpenBao's warning when a wrapping token reads its cubbyhole directly.
pub(crate) const CUBBYHOLE_READ_WARNING: &str = "Reading from 'cubbyhole/response' is deprecated. Please use sys/wrapping/unwrap to unwrap responses, as it provides additional security checks and other benefits.";

/// What `sys/wrapping/lookup` reports, stored in the wrapping token's cubbyhole.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct WrapRecord {
    v: u32,
    /// Seconds the token was created with.
    creation_ttl: u64,
    /// RFC 3339 with nanoseconds.
    creation_time: String,
    /// Path of the request whose response is wrapped (kept through rewraps).
    creation_path: String,
}

/// The `sys/wrapping/*` endpoints whose wrapping token is validated before the request is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenEndpoint {
    /// `sys/wrapping/lookup`: needs no client token at all.
    Lookup,
    /// `sys/wrapping/unwrap`.
    Unwrap,
    /// `sys/wrapping/rewrap`.
    Rewrap,
}

/// Which token-taking wrapping endpoint `path` is, if any.
pub(crate) fn token_endpoint(path: &str) -> Option<TokenEndpoint> {
    match path.strip_prefix("sys/wrapping/")?.trim_end_matches('/') {
        "lookup" => Some(TokenEndpoint::Lookup),
        "unwrap" => Some(TokenEndpoint::Unwrap),
        "rewrap" => Some(TokenEndpoint::Rewrap),
        _ => None,
    }
}

/// Wraps `resp` when the request asked for it and there is something to wrap; otherwise returns it as it is.
/// `display_name` is the caller's (empty without a token).
pub(crate) async fn finish(
    core: &Core,
    u: &Unsealed,
    req: &Request,
    resp: Response,
    display_name: &str,
) -> Result<Response, CoreError> {
    let Some(ttl) = req.wrap_ttl.filter(|t| !t.is_zero()) else {
        return Ok(resp);
    };
    // Already wrapped, or a raw body (`sys/metrics` text) that has no envelope to wrap.
    if resp.wrap_info.is_some() || resp.raw_body.is_some() {
        return Ok(resp);
    }
    // An empty listing is not worth a token that unwraps to nothing (OpenBao's rule).
    if req.operation == Operation::List && !listing_has_content(&resp) {
        return Err(CoreError::UnsupportedPath(req.path.clone()));
    }
    if resp.is_empty() {
        return Ok(resp);
    }
    let wrapped_accessor = resp
        .auth
        .as_ref()
        .and_then(|a| a.get("accessor"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // What the client would have received, with this request's id.
    let response = match resp.raw_json {
        Some(raw) => raw.0,
        None => serde_json::to_string(&resp.into_envelope(req.id.clone()))
            .map_err(|e| CoreError::Internal(format!("encoding the wrapped response: {e}")))?,
    };
    create(
        core,
        u,
        Wrap {
            ttl,
            token_path: &req.path,
            creation_path: &req.path,
            display_name,
            response: &response,
            wrapped_accessor,
        },
    )
    .await
}

/// Whether a listing has keys, or at least other data or warnings.
fn listing_has_content(resp: &Response) -> bool {
    let data = resp.data.as_ref().filter(|d| !d.is_empty());
    match data.and_then(|d| d.get("keys")) {
        Some(Value::Array(keys)) => !keys.is_empty() && keys.iter().all(Value::is_string),
        Some(Value::Null) | None => data.is_some() || !resp.warnings.is_empty(),
        Some(_) => false,
    }
}

/// One wrapping token to create.
struct Wrap<'a> {
    ttl: Duration,
    /// The path the token records (the request's).
    token_path: &'a str,
    /// The `creation_path` reported (the original request's, kept through rewraps).
    creation_path: &'a str,
    display_name: &'a str,
    /// The response as the client would have received it (JSON).
    response: &'a str,
    /// Accessor of the token inside the response, if any.
    wrapped_accessor: String,
}

/// Creates the wrapping token, stores the response in its cubbyhole and returns the wrapped answer.
async fn create(core: &Core, u: &Unsealed, w: Wrap<'_>) -> Result<Response, CoreError> {
    let now = core.now();
    let secs = whole_seconds(w.ttl);
    let ttl = Duration::from_secs(secs);
    let mut create = CreateToken::new(
        now,
        TtlLimits {
            default_ttl: ttl,
            max_ttl: ttl,
        },
    );
    create.policies = vec![policy::RESPONSE_WRAPPING_POLICY_NAME.to_owned()];
    create.internal_policies = true;
    create.no_default_policy = true;
    create.display_name = w.display_name.to_owned();
    create.ttl = ttl;
    create.explicit_max_ttl = ttl;
    create.num_uses = 1;
    create.renewable = false;
    create.path = w.token_path.to_owned();
    create.orphan = true;
    let created = u.tokens.create(create).await?;
    // Expired wrapping tokens (and the response in their cubbyhole) go away on time, not at the next tidy.
    crate::pipeline::index_token_expiry(u, created.key.clone(), created.entry.expire_time);

    let creation_time = crate::clock::rfc3339(now);
    let record = WrapRecord {
        v: WRAPINFO_VERSION,
        creation_ttl: secs,
        creation_time: creation_time.clone(),
        creation_path: w.creation_path.to_owned(),
    };
    if let Err(e) = store(u, &created.key, w.response, &record).await {
        // Not usable without its response: take the token back.
        revoke_quietly(u, &created.key).await;
        return Err(e);
    }
    Ok(Response {
        wrap_info: Some(WrapInfo {
            token: created.token.to_string(),
            accessor: created.entry.accessor.clone(),
            ttl: secs,
            creation_time,
            creation_path: w.creation_path.to_owned(),
            wrapped_accessor: w.wrapped_accessor,
        }),
        ..Response::default()
    })
}

/// Writes the response and the record into the cubbyhole of the token under `key`, in one batch.
async fn store(
    u: &Unsealed,
    key: &str,
    response: &str,
    record: &WrapRecord,
) -> Result<(), CoreError> {
    let ops = vec![
        Op::Put {
            key: RESPONSE_KEY.into(),
            value: encode(&json!({ RESPONSE_KEY: response }))?,
        },
        Op::Put {
            key: WRAPINFO_KEY.into(),
            value: encode(record)?,
        },
    ];
    cubbyhole(u, key)?.batch(ops).await?;
    Ok(())
}

/// Whether `entry` is a response-wrapping token (it carries exactly the fixed `response-wrapping` policy,
/// which no client can request).
pub(crate) fn is_wrapping_token(entry: &TokenEntry) -> bool {
    matches!(entry.policies.as_slice(), [only] if only == policy::RESPONSE_WRAPPING_POLICY_NAME)
}

/// OpenBao's check before a token-taking wrapping endpoint runs: the wrapping token (body `token`, else the
/// client token) must be a live wrapping token.
pub(crate) async fn validate(core: &Core, u: &Unsealed, req: &Request) -> Result<(), CoreError> {
    let (token, _) = wrapping_token(req)?;
    let now = core.now();
    let valid = match u.tokens.lookup_tainted(&token, now).await? {
        Some((_, entry)) if !entry.revocation_pending && !entry.expired_at(now) => {
            is_wrapping_token(&entry)
        }
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(CoreError::InvalidRequest(INVALID_TOKEN.into()))
    }
}

/// The wrapping token a request names: body `token` (a third party unwraps), else the client token (the
/// wrapping token is used itself). The flag says whether it came from the body.
fn wrapping_token(req: &Request) -> Result<(String, bool), CoreError> {
    let denied = |why: &str| {
        CoreError::PermissionDeniedWith(format!("error validating wrapping token: {why}"))
    };
    match req.data.get("token") {
        None | Some(Value::Null) => {
            let token = req.token.as_ref().map(|t| t.0.as_str()).unwrap_or_default();
            if token.is_empty() {
                return Err(denied("token is empty"));
            }
            Ok((token.to_owned(), false))
        }
        Some(Value::String(s)) if s.is_empty() => Err(denied("empty token in request body")),
        Some(Value::String(s)) => Ok((s.clone(), true)),
        Some(_) => Err(denied("could not decode token in request body")),
    }
}

/// The named wrapping token's key, whatever its state (the pipeline may have spent its use already).
async fn resolve(core: &Core, u: &Unsealed, token: &str) -> Result<String, CoreError> {
    match u.tokens.lookup_tainted(token, core.now()).await? {
        Some((key, entry)) if is_wrapping_token(&entry) => Ok(key),
        _ => Err(CoreError::InvalidRequest(INVALID_TOKEN.into())),
    }
}

/// Spends the single use of a wrapping token named in the body, so that nobody else can use it.
async fn consume(core: &Core, u: &Unsealed, token: &str) -> Result<(), CoreError> {
    match u.tokens.check(token, core.now(), None).await? {
        Some(_) => Ok(()),
        // Spent already, e.g. by the same token sent as the client token (OpenBao answers 500 too).
        None => Err(CoreError::Internal(
            "error decrementing wrapping token's use-count".into(),
        )),
    }
}

/// Revokes a token, logging (not failing on) errors: tidy retries.
async fn revoke_quietly(u: &Unsealed, key: &str) {
    if let Err(e) = u.tokens.revoke_tree(key).await {
        tracing::warn!(error = %e, "revoking a wrapping token failed; tidy will retry");
    }
}

/// `POST sys/wrapping/wrap`: the body, to be wrapped.
pub(crate) fn wrap(req: &Request) -> Result<Response, CoreError> {
    if !matches!(req.operation, Operation::Update | Operation::Create) {
        return Err(CoreError::UnsupportedOperation);
    }
    if req.wrap_ttl.is_none_or(|t| t.is_zero()) {
        return Err(CoreError::InvalidRequest(
            "endpoint requires response wrapping to be used".into(),
        ));
    }
    Ok(Response::data(req.data.clone()))
}

/// `POST sys/wrapping/unwrap`: the stored response as it was, and the wrapping token is gone.
pub(crate) async fn unwrap(
    core: &Core,
    u: &Unsealed,
    req: &Request,
) -> Result<Response, CoreError> {
    if !matches!(req.operation, Operation::Update | Operation::Create) {
        return Err(CoreError::UnsupportedOperation);
    }
    let (token, third_party) = wrapping_token(req)?;
    let key = resolve(core, u, &token).await?;
    // A wrapping token used as the client token was spent by the pipeline, which revokes it afterwards.
    if third_party {
        consume(core, u, &token).await?;
    }
    let response = read_response(u, &key).await;
    if third_party {
        revoke_quietly(u, &key).await;
    }
    Ok(Response {
        raw_json: Some(RawJson(response?)),
        ..Response::default()
    })
}

/// `sys/wrapping/lookup` (read or update): when and where the wrapping token was made, and its TTL. Spends
/// nothing.
pub(crate) async fn lookup(
    core: &Core,
    u: &Unsealed,
    req: &Request,
) -> Result<Response, CoreError> {
    if !matches!(
        req.operation,
        Operation::Read | Operation::Update | Operation::Create
    ) {
        return Err(CoreError::UnsupportedOperation);
    }
    let (token, _) = wrapping_token(req)?;
    let key = resolve(core, u, &token).await?;
    let record = read_record(u, &key).await?;
    Ok(Response::json(json!({
        "creation_ttl": record.creation_ttl,
        "creation_time": record.creation_time,
        "creation_path": record.creation_path,
    })))
}

/// `POST sys/wrapping/rewrap`: the same response under a new wrapping token (same creation path, TTL at most
/// the original's); the old token is gone.
pub(crate) async fn rewrap(
    core: &Core,
    u: &Unsealed,
    req: &Request,
    display_name: &str,
) -> Result<Response, CoreError> {
    if !matches!(req.operation, Operation::Update | Operation::Create) {
        return Err(CoreError::UnsupportedOperation);
    }
    let (token, third_party) = wrapping_token(req)?;
    let key = resolve(core, u, &token).await?;
    if third_party {
        consume(core, u, &token).await?;
    }
    let result = async {
        let record = read_record(u, &key).await?;
        let response = read_response(u, &key).await?;
        let mut ttl = Duration::from_secs(record.creation_ttl);
        if let Some(asked) = req.wrap_ttl.filter(|t| !t.is_zero() && *t < ttl) {
            ttl = asked;
        }
        create(
            core,
            u,
            Wrap {
                ttl,
                token_path: &req.path,
                creation_path: &record.creation_path,
                display_name,
                response: &response,
                wrapped_accessor: String::new(),
            },
        )
        .await
    }
    .await;
    if third_party {
        revoke_quietly(u, &key).await;
    }
    result
}

async fn read_response(u: &Unsealed, key: &str) -> Result<String, CoreError> {
    let Some(bytes) = cubbyhole(u, key)?.get(RESPONSE_KEY).await? else {
        return Err(CoreError::Internal(
            "no wrapped response in the wrapping token's cubbyhole".into(),
        ));
    };
    let mut entry: Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|e| CoreError::Internal(format!("wrapped response is corrupt: {e}")))?;
    match entry.remove(RESPONSE_KEY) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(CoreError::Internal(
            "could not decode the response inside the cubbyhole".into(),
        )),
    }
}

async fn read_record(u: &Unsealed, key: &str) -> Result<WrapRecord, CoreError> {
    let Some(bytes) = cubbyhole(u, key)?.get(WRAPINFO_KEY).await? else {
        return Err(CoreError::Internal(
            "no wrapping information in the wrapping token's cubbyhole".into(),
        ));
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| CoreError::Internal(format!("wrapping information is corrupt: {e}")))
}

/// The cubbyhole of the token under `key` (the cubbyhole mount cannot be moved or removed).
fn cubbyhole(u: &Unsealed, key: &str) -> Result<View, CoreError> {
    u.mounts
        .router()
        .routes()
        .iter()
        .find(|r| r.entry.kind == "cubbyhole")
        .map(|r| r.view.sub(&format!("{key}/")))
        .ok_or_else(|| CoreError::Internal("the cubbyhole mount is missing".into()))
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, CoreError> {
    serde_json::to_vec(v).map_err(|e| CoreError::Internal(e.to_string()))
}

/// Whole seconds, rounded up and at least one: a token TTL of 0 would never expire.
fn whole_seconds(d: Duration) -> u64 {
    d.as_secs()
        .saturating_add(u64::from(d.subsec_nanos() > 0))
        .max(1)
}

#[cfg(test)]
mod tests;
