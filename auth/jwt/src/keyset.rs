//! The keys a mount verifies signatures with, and when remote keys are fetched again.
//!
//! Remote keys (a JWKS URL, or the `jwks_uri` of a discovery document) are fetched when the key set is built, and
//! again when a token names a `kid` that is not cached, when a token without `kid` matches no key, or when the
//! cache is older than [`MAX_KEY_AGE`] (so a key removed from the JWKS stops working). Fetches triggered by tokens
//! are at most one per [`MIN_REFRESH_INTERVAL`], so a flood of forged `kid`s cannot hammer the issuer. Time comes
//! from the request's clock.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::sync::Mutex;

use crate::config::JwtConfig;
use crate::fetch;
use crate::jwt::{Alg, Token};
use crate::keys::PublicKey;

/// At most one token-triggered fetch per this interval.
pub(crate) const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// Cached remote keys older than this are fetched again before use.
pub(crate) const MAX_KEY_AGE: Duration = Duration::from_secs(3600);
/// Timeout of each HTTP request to the key source.
pub(crate) const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where remote keys come from.
struct Remote {
    client: reqwest::Client,
    jwks_url: String,
}

/// The fetch bookkeeping, under one lock.
#[derive(Default)]
struct FetchState {
    /// When the last fetch was attempted (successful or not).
    attempted: Option<SystemTime>,
    /// When the cached keys were fetched.
    fetched: Option<SystemTime>,
}

/// The verification keys of one configuration.
pub(crate) struct KeySet {
    remote: Option<Remote>,
    keys: RwLock<Arc<Vec<PublicKey>>>,
    state: Mutex<FetchState>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("remote", &self.remote.as_ref().map(|r| &r.jwks_url))
            .field("keys", &self.snapshot().len())
            .finish()
    }
}

/// Why a signature did not verify; `detail` goes to the log only.
#[derive(Debug)]
pub(crate) struct VerifyFailure {
    /// What went wrong, for the server log.
    pub(crate) detail: String,
}

impl KeySet {
    /// Builds the key set of `config`, fetching remote keys once. The error says why, for the config write.
    pub(crate) async fn build(config: &JwtConfig, now: SystemTime) -> Result<Self, String> {
        if !config.jwt_validation_pubkeys.is_empty() {
            let keys = config
                .jwt_validation_pubkeys
                .iter()
                .map(|pem| PublicKey::from_pem(pem))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("error parsing public key: {e}"))?;
            return Ok(Self::new(None, keys, None));
        }
        let remote = if !config.jwks_url.is_empty() {
            fetch::check_url(&config.jwks_url)?;
            Remote {
                client: fetch::client(&config.jwks_ca_pem, HTTP_TIMEOUT)?,
                jwks_url: config.jwks_url.clone(),
            }
        } else if !config.oidc_discovery_url.is_empty() {
            let client = fetch::client(&config.oidc_discovery_ca_pem, HTTP_TIMEOUT)?;
            let jwks_url = discover(&client, &config.oidc_discovery_url).await?;
            Remote { client, jwks_url }
        } else {
            return Err("no key source configured".into());
        };
        let keys = fetch_jwks(&remote).await?;
        Ok(Self::new(Some(remote), keys, Some(now)))
    }

    fn new(remote: Option<Remote>, keys: Vec<PublicKey>, fetched: Option<SystemTime>) -> Self {
        Self {
            remote,
            keys: RwLock::new(Arc::new(keys)),
            state: Mutex::new(FetchState {
                attempted: fetched,
                fetched,
            }),
        }
    }

    fn snapshot(&self) -> Arc<Vec<PublicKey>> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, keys: Vec<PublicKey>) {
        let keys = Arc::new(keys);
        match self.keys.write() {
            Ok(mut k) => *k = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
    }

    /// Checks the token's signature with `alg`, fetching the keys again when the rules above call for it.
    pub(crate) async fn verify(
        &self,
        token: &Token<'_>,
        alg: Alg,
        now: SystemTime,
    ) -> Result<(), VerifyFailure> {
        if self.remote.is_some() && self.stale(now).await {
            // Best effort: on failure the cached keys are still used.
            let _ = self.refresh(now, false).await;
        }
        let first = check(&self.snapshot(), token, alg);
        let retry = match &first {
            Outcome::Verified => return Ok(()),
            // The key named by the kid does not verify: forged or corrupted, new keys will not help. Without a kid
            // the issuer may have rotated to a key we have not seen.
            Outcome::BadSignature => token.kid.is_none(),
            Outcome::UnknownKid | Outcome::NoKey => true,
        } && self.remote.is_some();
        if !retry {
            return Err(VerifyFailure {
                detail: first.describe(token),
            });
        }
        // The failure names what the keys in use said: the fresh ones when fetched, with why no fetch happened
        // otherwise (a kid unknown "after fetching" is not the same problem as one unknown because fetching failed).
        let detail = match self.refresh(now, true).await {
            Ok(true) => match check(&self.snapshot(), token, alg) {
                Outcome::Verified => return Ok(()),
                again => format!("{} (after fetching the keys again)", again.describe(token)),
            },
            Ok(false) => format!(
                "{} (keys were fetched less than {}s ago; not fetched again yet)",
                first.describe(token),
                MIN_REFRESH_INTERVAL.as_secs()
            ),
            Err(e) => format!("{}; fetching keys again failed: {e}", first.describe(token)),
        };
        Err(VerifyFailure { detail })
    }

    async fn stale(&self, now: SystemTime) -> bool {
        let state = self.state.lock().await;
        state
            .fetched
            .is_none_or(|t| now.duration_since(t).unwrap_or_default() >= MAX_KEY_AGE)
    }

    /// Fetches the remote keys again, unless a fetch was attempted within [`MIN_REFRESH_INTERVAL`] or, for the age
    /// check (`for_kid` false), another caller fetched meanwhile. `Ok(true)` when new keys are in place.
    async fn refresh(&self, now: SystemTime, for_kid: bool) -> Result<bool, String> {
        let Some(remote) = &self.remote else {
            return Ok(false);
        };
        let mut state = self.state.lock().await;
        let since = |t: Option<SystemTime>| t.map(|t| now.duration_since(t).unwrap_or_default());
        if since(state.attempted).is_some_and(|d| d < MIN_REFRESH_INTERVAL) {
            return Ok(false);
        }
        if !for_kid && since(state.fetched).is_some_and(|d| d < MAX_KEY_AGE) {
            return Ok(false);
        }
        state.attempted = Some(now);
        let keys = fetch_jwks(remote).await.inspect_err(|e| {
            tracing::warn!(jwks_url = %remote.jwks_url, error = %e, "could not fetch JWKS again; keeping the cached keys");
        })?;
        tracing::info!(jwks_url = %remote.jwks_url, keys = keys.len(), "fetched JWKS");
        self.replace(keys);
        state.fetched = Some(now);
        Ok(true)
    }
}

/// The result of trying the cached keys.
enum Outcome {
    Verified,
    /// Some key with the token's kid (or, without kid, some key of the right type) did not verify.
    BadSignature,
    /// The token names a kid no cached key has.
    UnknownKid,
    /// No cached key fits the algorithm.
    NoKey,
}

impl Outcome {
    fn describe(&self, token: &Token<'_>) -> String {
        match self {
            Outcome::Verified => "verified".into(),
            Outcome::BadSignature => "signature does not verify with the matching key(s)".into(),
            Outcome::UnknownKid => format!(
                "no key with kid {:?}",
                token.kid.as_deref().unwrap_or_default()
            ),
            Outcome::NoKey => format!("no key for algorithm {}", token.alg),
        }
    }
}

/// Tries the keys that match the token: by kid when it has one (only keys with that kid, as OpenBao does), else
/// every key of the right type.
fn check(keys: &[PublicKey], token: &Token<'_>, alg: Alg) -> Outcome {
    let candidates: Vec<&PublicKey> = keys
        .iter()
        .filter(|k| match &token.kid {
            Some(kid) => k.kid.as_deref() == Some(kid.as_str()) || k.kid.is_none(),
            None => true,
        })
        .filter(|k| k.fits(alg))
        .collect();
    let message = token.signing_input.as_bytes();
    if candidates
        .iter()
        .any(|k| k.verifies(alg, message, &token.signature))
    {
        return Outcome::Verified;
    }
    // A key without kid (a static PEM key) answers to any kid.
    let kid_known = token.kid.as_ref().is_none_or(|kid| {
        keys.iter()
            .any(|k| k.kid.as_deref().is_none_or(|own| own == kid))
    });
    if !kid_known {
        Outcome::UnknownKid
    } else if candidates.is_empty() {
        Outcome::NoKey
    } else {
        Outcome::BadSignature
    }
}

/// Reads the discovery document under `base` and returns its `jwks_uri`; its `issuer` must be `base` (trailing
/// slashes aside).
async fn discover(client: &reqwest::Client, base: &str) -> Result<String, String> {
    fetch::check_url(base)?;
    let url = format!(
        "{}/.well-known/openid-configuration",
        base.trim_end_matches('/')
    );
    let doc = fetch::get_json(client, &url).await?;
    let issuer = doc
        .get("issuer")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if issuer.trim_end_matches('/') != base.trim_end_matches('/') {
        return Err(format!(
            "issuer did not match the issuer returned by provider, expected {base:?} got {issuer:?}"
        ));
    }
    doc.get("jwks_uri")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| format!("{url} has no jwks_uri"))
}

/// Fetches and parses the JWKS; keys of other types are skipped, a malformed key fails the whole set.
async fn fetch_jwks(remote: &Remote) -> Result<Vec<PublicKey>, String> {
    let doc = fetch::get_json(&remote.client, &remote.jwks_url).await?;
    let Some(entries) = doc.get("keys").and_then(Value::as_array) else {
        return Err(format!(
            "{} is not a JWKS (no \"keys\" array)",
            remote.jwks_url
        ));
    };
    let mut keys = Vec::with_capacity(entries.len());
    for entry in entries {
        if let Some(k) = PublicKey::from_jwk(entry)? {
            keys.push(k);
        }
    }
    if keys.is_empty() {
        return Err(format!("{} holds no usable signing key", remote.jwks_url));
    }
    Ok(keys)
}
