//! The token store over a barrier view.

use std::sync::Arc;

use ring::rand::{SecureRandom, SystemRandom};
use storage::{Op, Storage, View};
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use crate::TokenError;
use crate::entry::TokenEntry;
use crate::paths;
use crate::salt::Salt;

const ENTRY_VERSION: u32 = 1;
/// Base62 alphabet for token ids and accessors.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Creates, looks up and revokes tokens. Cheap to clone.
#[derive(Clone)]
pub struct TokenStore {
    view: View,
    salt: Arc<OnceCell<Salt>>,
}

impl TokenStore {
    /// A store keeping its entries in `view` (a barrier view dedicated to tokens).
    pub fn new(view: View) -> Self {
        Self {
            view,
            salt: Arc::new(OnceCell::new()),
        }
    }

    async fn salt(&self) -> Result<&Salt, TokenError> {
        self.salt
            .get_or_try_init(|| async {
                if let Some(bytes) = self.view.get(paths::SALT).await? {
                    return Ok(Salt::new(&bytes));
                }
                let bytes = random_bytes(32)?;
                self.view.put(paths::SALT, &bytes).await?;
                Ok(Salt::new(&bytes))
            })
            .await
    }

    /// Creates a root token (policy `root`, no expiry). With `id` the token gets exactly that id (dev mode's
    /// `-dev-root-token-id`); otherwise a random `s.`-prefixed id. Returns the id, which is stored nowhere.
    pub async fn create_root(
        &self,
        id: Option<&str>,
        now_unix: u64,
    ) -> Result<(Zeroizing<String>, TokenEntry), TokenError> {
        let token = match id {
            Some(id) if id.trim().is_empty() => {
                return Err(TokenError::InvalidRequest(
                    "token id cannot be empty".into(),
                ));
            }
            Some(id) => Zeroizing::new(id.to_owned()),
            None => Zeroizing::new(format!("s.{}", random_string(24)?)),
        };
        let entry = TokenEntry {
            v: ENTRY_VERSION,
            accessor: random_string(24)?,
            policies: vec!["root".into()],
            display_name: "root".into(),
            path: "auth/token/root".into(),
            creation_time: now_unix,
            ttl: 0,
            token_type: "service".into(),
        };
        let salt = self.salt().await?;
        let id_key = format!("{}{}", paths::ID_PREFIX, salt.hash("id", &token));
        if self.view.get(&id_key).await?.is_some() {
            return Err(TokenError::InvalidRequest(
                "cannot create a token with a duplicate ID".into(),
            ));
        }
        let acc_key = format!(
            "{}{}",
            paths::ACCESSOR_PREFIX,
            salt.hash("accessor", &entry.accessor)
        );
        let value = serde_json::to_vec(&entry).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        let id_hash = salt.hash("id", &token).into_bytes();
        self.view
            .batch(vec![
                Op::Put { key: id_key, value },
                Op::Put {
                    key: acc_key,
                    value: id_hash,
                },
            ])
            .await?;
        Ok((token, entry))
    }

    /// The entry for `token`, or `None` if no such token exists.
    pub async fn lookup(&self, token: &str) -> Result<Option<TokenEntry>, TokenError> {
        if token.is_empty() {
            return Ok(None);
        }
        let salt = self.salt().await?;
        let key = format!("{}{}", paths::ID_PREFIX, salt.hash("id", token));
        let Some(bytes) = self.view.get(&key).await? else {
            return Ok(None);
        };
        let entry: TokenEntry =
            serde_json::from_slice(&bytes).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        Ok(Some(entry))
    }

    /// Revokes `token` and its accessor; revoking an unknown token is a no-op.
    pub async fn revoke(&self, token: &str) -> Result<(), TokenError> {
        let Some(entry) = self.lookup(token).await? else {
            return Ok(());
        };
        let salt = self.salt().await?;
        self.view
            .batch(vec![
                Op::Delete {
                    key: format!("{}{}", paths::ID_PREFIX, salt.hash("id", token)),
                },
                Op::Delete {
                    key: format!(
                        "{}{}",
                        paths::ACCESSOR_PREFIX,
                        salt.hash("accessor", &entry.accessor)
                    ),
                },
            ])
            .await?;
        Ok(())
    }
}

fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, TokenError> {
    let mut buf = Zeroizing::new(vec![0u8; n]);
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| TokenError::InvalidRequest("system randomness unavailable".into()))?;
    Ok(buf)
}

/// A uniformly random base62 string (rejection sampling keeps it unbiased).
fn random_string(len: usize) -> Result<String, TokenError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A plaintext Storage over InMem for tests (the barrier is not a dependency of this crate).
    struct Plain(storage::InMem);
    #[async_trait::async_trait]
    impl Storage for Plain {
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, storage::StorageError> {
            storage::Backend::get(&self.0, key).await
        }
        async fn put(&self, key: &str, value: &[u8]) -> Result<(), storage::StorageError> {
            storage::Backend::put(&self.0, key, value.to_vec()).await
        }
        async fn delete(&self, key: &str) -> Result<(), storage::StorageError> {
            storage::Backend::delete(&self.0, key).await
        }
        async fn list(&self, prefix: &str) -> Result<Vec<String>, storage::StorageError> {
            storage::Backend::list(&self.0, prefix).await
        }
        async fn batch(&self, ops: Vec<Op>) -> Result<(), storage::StorageError> {
            storage::Backend::batch(&self.0, ops).await
        }
    }

    fn store() -> (TokenStore, Arc<Plain>) {
        let plain = Arc::new(Plain(storage::InMem::new()));
        (
            TokenStore::new(View::new(plain.clone(), "sys/token/")),
            plain,
        )
    }

    #[tokio::test]
    async fn root_token_round_trip_and_revoke() {
        let (store, _) = store();
        let (token, entry) = store.create_root(None, 1).await.unwrap();
        assert!(token.starts_with("s.") && token.len() == 26);
        assert!(entry.is_root());
        assert_eq!(store.lookup(&token).await.unwrap(), Some(entry));
        assert_eq!(store.lookup("s.nope").await.unwrap(), None);
        assert_eq!(store.lookup("").await.unwrap(), None);
        store.revoke(&token).await.unwrap();
        assert_eq!(store.lookup(&token).await.unwrap(), None);
    }

    #[tokio::test]
    async fn chosen_id_and_duplicates() {
        let (store, _) = store();
        store.create_root(Some("root"), 1).await.unwrap();
        assert!(store.lookup("root").await.unwrap().is_some());
        assert!(matches!(
            store.create_root(Some("root"), 1).await,
            Err(TokenError::InvalidRequest(_))
        ));
        assert!(matches!(
            store.create_root(Some(" "), 1).await,
            Err(TokenError::InvalidRequest(_))
        ));
    }

    #[tokio::test]
    async fn no_token_or_accessor_in_keys() {
        let (store, plain) = store();
        let (token, entry) = store.create_root(None, 1).await.unwrap();
        let mut stack = vec![String::new()];
        while let Some(prefix) = stack.pop() {
            for child in storage::Backend::list(&plain.0, &prefix).await.unwrap() {
                let full = format!("{prefix}{child}");
                assert!(
                    !full.contains(token.as_str()) && !full.contains(&entry.accessor),
                    "{full}"
                );
                if child.ends_with('/') {
                    stack.push(full);
                }
            }
        }
    }
}
