//! The token store over a barrier view: tokens, accessors and the children index, all keyed by salted hashes.

mod create;
mod renew;
mod revoke;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use ring::aead::NONCE_LEN;
use ring::rand::{SecureRandom, SystemRandom};
use storage::{Op, Storage, View};
use tokio::sync::{Mutex, MutexGuard, OnceCell};
use zeroize::Zeroizing;

pub use create::{CreateToken, Created, Parent};
pub use renew::Renewed;
pub use revoke::TidyReport;

use crate::batch::{self, BatchKey};
use crate::entry::{ENTRY_VERSION, TokenEntry};
use crate::hook::{NoopHook, RevokeHook};
use crate::salt::Salt;
use crate::{TokenError, cidr, paths};

/// Base62 alphabet for token ids and accessors.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Random characters in a service token after `s.`, and in an accessor (OpenBao's `TokenLength`).
pub(crate) const TOKEN_LENGTH: usize = 24;
/// Lock stripes serialising read-modify-write of one token (use counts, renewals, revocation).
const LOCK_STRIPES: usize = 64;
/// Entries kept in the checked-token cache before it is emptied (a bound, not a tuning knob).
const CACHE_LIMIT: usize = 50_000;

/// Creates, checks, renews and revokes tokens. Cheap to clone (all clones share one store).
#[derive(Clone)]
pub struct TokenStore {
    inner: Arc<Inner>,
}

struct Inner {
    view: View,
    salt: OnceCell<Salt>,
    batch_key: OnceCell<BatchKey>,
    hook: RwLock<Arc<dyn RevokeHook>>,
    /// Entries of tokens that passed [`TokenStore::check`], by key, so a request does not read and decrypt its
    /// token's entry again. Filled only by `check` under the token's lock stripe; every write of an entry
    /// happens under that lock and drops the cached copy, so a cached entry is never older than storage.
    cache: RwLock<std::collections::HashMap<String, TokenEntry>>,
    locks: Vec<Mutex<()>>,
    /// Never used in practice: what `lock` falls back to if a stripe index were out of range.
    spare: Mutex<()>,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("prefix", &self.inner.view.prefix())
            .finish_non_exhaustive()
    }
}

impl TokenStore {
    /// A store keeping its entries in `view` (a barrier view dedicated to tokens), with a no-op revoke hook.
    pub fn new(view: View) -> Self {
        Self {
            inner: Arc::new(Inner {
                view,
                salt: OnceCell::new(),
                batch_key: OnceCell::new(),
                hook: RwLock::new(Arc::new(NoopHook)),
                cache: RwLock::new(std::collections::HashMap::new()),
                locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
                spare: Mutex::new(()),
            }),
        }
    }

    /// Installs the hook called for every revoked token (the lease manager's).
    pub fn set_revoke_hook(&self, hook: Arc<dyn RevokeHook>) {
        if let Ok(mut h) = self.inner.hook.write() {
            *h = hook;
        }
    }

    pub(crate) fn hook(&self) -> Arc<dyn RevokeHook> {
        match self.inner.hook.read() {
            Ok(h) => h.clone(),
            Err(_) => Arc::new(NoopHook),
        }
    }

    pub(crate) fn view(&self) -> &View {
        &self.inner.view
    }

    async fn salt(&self) -> Result<&Salt, TokenError> {
        self.inner
            .salt
            .get_or_try_init(|| async {
                if let Some(bytes) = self.inner.view.get(paths::SALT).await? {
                    return Ok(Salt::new(&bytes));
                }
                let bytes = random_bytes(32)?;
                self.inner.view.put(paths::SALT, &bytes).await?;
                Ok(Salt::new(&bytes))
            })
            .await
    }

    pub(crate) async fn batch_key(&self) -> Result<&BatchKey, TokenError> {
        self.inner
            .batch_key
            .get_or_try_init(|| async {
                if let Some(bytes) = self.inner.view.get(paths::BATCH_KEY).await? {
                    let bytes = Zeroizing::new(bytes);
                    return BatchKey::new(&bytes);
                }
                let bytes = random_bytes(32)?;
                self.inner.view.put(paths::BATCH_KEY, &bytes).await?;
                BatchKey::new(&bytes)
            })
            .await
    }

    /// The token's salted hash: the key of its entry and of its per-token data elsewhere (cubbyhole, leases).
    /// The core passes it to engines as `Caller.token_key`.
    pub async fn key_of(&self, token: &str) -> Result<String, TokenError> {
        Ok(self.salt().await?.hash("id", token))
    }

    pub(crate) async fn accessor_key(&self, accessor: &str) -> Result<String, TokenError> {
        Ok(self.salt().await?.hash("accessor", accessor))
    }

    /// The lock stripe of one token key.
    pub(crate) async fn lock(&self, key: &str) -> MutexGuard<'_, ()> {
        let h = key.bytes().fold(0usize, |a, b| {
            a.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        self.inner
            .locks
            .get(h % LOCK_STRIPES)
            .unwrap_or(&self.inner.spare)
            .lock()
            .await
    }

    /// The stored entry under `key`, whatever its state (expired or pending revocation included). Batch tokens
    /// are never stored, so their keys find nothing.
    pub async fn lookup_by_key(&self, key: &str) -> Result<Option<TokenEntry>, TokenError> {
        if key.is_empty() {
            return Ok(None);
        }
        // A cached entry is never older than storage (every write drops it under the token's lock).
        if let Some(entry) = self.cached(key) {
            return Ok(Some(entry));
        }
        let Some(bytes) = self
            .inner
            .view
            .get(&format!("{}{key}", paths::ID_PREFIX))
            .await?
        else {
            return Ok(None);
        };
        let mut entry: TokenEntry =
            serde_json::from_slice(&bytes).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        if entry.v < 2 {
            // Version 1 (root tokens only) had no expiry fields; TTL 0 means none anyway.
            entry.lease_ttl = entry.ttl;
            entry.v = ENTRY_VERSION;
        }
        Ok(Some(entry))
    }

    pub(crate) async fn put_entry(&self, key: &str, entry: &TokenEntry) -> Result<(), TokenError> {
        let value = encode(entry)?;
        self.forget(key);
        self.inner
            .view
            .put(&format!("{}{key}", paths::ID_PREFIX), &value)
            .await?;
        Ok(())
    }

    /// Drops the cached entry of `key`; called (under the key's lock) by every path that writes the entry.
    pub(crate) fn forget(&self, key: &str) {
        if let Ok(mut cache) = self.inner.cache.write() {
            cache.remove(key);
        }
    }

    fn cached(&self, key: &str) -> Option<TokenEntry> {
        self.inner.cache.read().ok()?.get(key).cloned()
    }

    fn remember(&self, key: &str, entry: &TokenEntry) {
        if let Ok(mut cache) = self.inner.cache.write() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(key.to_owned(), entry.clone());
        }
    }

    /// Resolves a token to its key and entry: stored entries in any state, batch tokens only while valid at
    /// `now` (unexpired, parent alive), as OpenBao's tainted lookup.
    pub async fn lookup_tainted(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<Option<(String, TokenEntry)>, TokenError> {
        if token.is_empty() {
            return Ok(None);
        }
        let key = self.key_of(token).await?;
        if let Some(entry) = self.open_batch(token).await? {
            return Ok(self.batch_valid(&entry, now).await?.then_some((key, entry)));
        }
        Ok(self.lookup_by_key(&key).await?.map(|e| (key, e)))
    }

    /// The entry a batch token carries; `None` for anything else. A `b.` token that does not open is looked up
    /// in storage like any other (a dev-mode root id may start with `b.`).
    pub(crate) async fn open_batch(&self, token: &str) -> Result<Option<TokenEntry>, TokenError> {
        if !token.starts_with(batch::PREFIX) {
            return Ok(None);
        }
        Ok(self.batch_key().await?.open(token))
    }

    async fn batch_valid(&self, entry: &TokenEntry, now: SystemTime) -> Result<bool, TokenError> {
        if entry.expired_at(now) {
            return Ok(false);
        }
        if entry.parent.is_empty() {
            return Ok(true);
        }
        Ok(self
            .lookup_by_key(&entry.parent)
            .await?
            .is_some_and(|p| !p.revocation_pending && !p.expired_at(now)))
    }

    /// The entry for `token` if it is usable now (exists, unexpired, not used up). No use is counted and no
    /// CIDR check is made: requests go through [`TokenStore::check`].
    pub async fn lookup(&self, token: &str) -> Result<Option<TokenEntry>, TokenError> {
        let now = SystemTime::now();
        Ok(self
            .lookup_tainted(token, now)
            .await?
            .map(|(_, e)| e)
            .filter(|e| !e.revocation_pending && !e.expired_at(now)))
    }

    /// Authenticates one request: `None` if the token is unknown, expired, used up or bound to CIDRs that do not
    /// contain `remote`. Counts a use of limited-use tokens; when the last use is spent the returned entry has
    /// `revocation_pending` set and the caller must revoke it ([`TokenStore::revoke_tree`]) once the request is
    /// done, as OpenBao does.
    pub async fn check(
        &self,
        token: &str,
        now: SystemTime,
        remote: Option<IpAddr>,
    ) -> Result<Option<TokenEntry>, TokenError> {
        if token.is_empty() {
            return Ok(None);
        }
        if let Some(entry) = self.open_batch(token).await? {
            let ok =
                self.batch_valid(&entry, now).await? && cidr::allows(&entry.bound_cidrs, remote);
            return Ok(ok.then_some(entry));
        }
        let key = self.key_of(token).await?;
        let _guard = self.lock(&key).await;
        let cached = self.cached(&key);
        let from_cache = cached.is_some();
        let Some(mut entry) = (match cached {
            Some(e) => Some(e),
            None => self.lookup_by_key(&key).await?,
        }) else {
            return Ok(None);
        };
        if entry.revocation_pending
            || entry.expired_at(now)
            || !cidr::allows(&entry.bound_cidrs, remote)
        {
            return Ok(None);
        }
        if entry.num_uses > 0 {
            entry.num_uses -= 1;
            if entry.num_uses == 0 {
                entry.revocation_pending = true;
            }
            self.put_entry(&key, &entry).await?;
        } else if !from_cache {
            self.remember(&key, &entry);
        }
        Ok(Some(entry))
    }

    /// Creates a root token (policy `root`, no expiry, orphan). With `id` the token gets exactly that id (dev
    /// mode's `-dev-root-token-id`); otherwise a random `s.` token. Returns the token, which is stored nowhere.
    pub async fn create_root(
        &self,
        id: Option<&str>,
        now_unix: u64,
    ) -> Result<(Zeroizing<String>, TokenEntry), TokenError> {
        let token = match id {
            Some(id) if id.trim().is_empty() => {
                return Err(TokenError::invalid("token id cannot be empty"));
            }
            Some(id) => Zeroizing::new(id.to_owned()),
            None => new_service_token()?,
        };
        let entry = TokenEntry {
            v: ENTRY_VERSION,
            accessor: random_string(TOKEN_LENGTH)?,
            policies: vec!["root".into()],
            display_name: "root".into(),
            path: "auth/token/root".into(),
            creation_time: now_unix,
            ..TokenEntry::default()
        };
        self.insert_service(&token, &entry, true).await?;
        Ok((token, entry))
    }

    /// Persists a new service token: entry, accessor index and children index, atomically. Returns its key.
    pub(crate) async fn insert_service(
        &self,
        token: &str,
        entry: &TokenEntry,
        check_duplicate: bool,
    ) -> Result<String, TokenError> {
        let key = self.key_of(token).await?;
        if check_duplicate && self.lookup_by_key(&key).await?.is_some() {
            return Err(TokenError::invalid(
                "cannot create a token with a duplicate ID",
            ));
        }
        let mut ops = vec![
            Op::Put {
                key: format!("{}{key}", paths::ID_PREFIX),
                value: encode(entry)?,
            },
            Op::Put {
                key: format!(
                    "{}{}",
                    paths::ACCESSOR_PREFIX,
                    self.accessor_key(&entry.accessor).await?
                ),
                value: key.clone().into_bytes(),
            },
        ];
        if !entry.parent.is_empty() {
            let alive = self
                .lookup_by_key(&entry.parent)
                .await?
                .is_some_and(|p| !p.revocation_pending);
            if !alive {
                return Err(TokenError::invalid("parent token not found"));
            }
            ops.push(Op::Put {
                key: format!("{}{}/{key}", paths::PARENT_PREFIX, entry.parent),
                value: Vec::new(),
            });
        }
        self.inner.view.batch(ops).await?;
        Ok(key)
    }
}

pub(crate) fn encode(entry: &TokenEntry) -> Result<Vec<u8>, TokenError> {
    serde_json::to_vec(entry).map_err(|e| TokenError::Internal(e.to_string()))
}

pub(crate) fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, TokenError> {
    let mut buf = Zeroizing::new(vec![0u8; n]);
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| TokenError::Internal("system randomness unavailable".into()))?;
    Ok(buf)
}

pub(crate) fn random_nonce() -> Result<[u8; NONCE_LEN], TokenError> {
    let mut n = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut n)
        .map_err(|_| TokenError::Internal("system randomness unavailable".into()))?;
    Ok(n)
}

/// A uniformly random base62 string (rejection sampling keeps it unbiased).
pub(crate) fn random_string(len: usize) -> Result<String, TokenError> {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let bytes = random_bytes(len * 2)?;
        for &b in bytes.iter() {
            if out.len() == len {
                break;
            }
            // 248 = 62 * 4: values above it would favour the first characters.
            if b < 248 {
                out.push(char::from(
                    *ALPHABET.get(usize::from(b % 62)).unwrap_or(&b'0'),
                ));
            }
        }
    }
    Ok(out)
}

/// A new service token: `s.` + 24 base62 characters.
pub(crate) fn new_service_token() -> Result<Zeroizing<String>, TokenError> {
    let mut t = Zeroizing::new(String::with_capacity(2 + TOKEN_LENGTH));
    t.push_str("s.");
    t.push_str(&random_string(TOKEN_LENGTH)?);
    Ok(t)
}
