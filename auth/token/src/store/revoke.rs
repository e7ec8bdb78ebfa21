//! Revocation (single, tree, orphaning), the accessor index and tidy.

use std::collections::HashSet;
use std::time::SystemTime;

use storage::{Op, Storage};

use super::TokenStore;
use crate::entry::TokenEntry;
use crate::{TokenError, paths};

/// What a tidy run cleaned up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TidyReport {
    /// Children whose parent no longer exists, made orphans.
    pub orphaned: usize,
    /// Children-index entries removed.
    pub parent_entries_removed: usize,
    /// Accessor-index entries pointing at no token, removed.
    pub accessors_removed: usize,
    /// Expired or used-up tokens still in storage, revoked.
    pub tokens_revoked: usize,
}

impl TokenStore {
    /// Revokes `token` and all its descendants; unknown (and batch) tokens are a no-op.
    pub async fn revoke(&self, token: &str) -> Result<(), TokenError> {
        if token.is_empty() || self.open_batch(token).await?.is_some() {
            return Ok(());
        }
        let key = self.key_of(token).await?;
        self.revoke_tree(&key).await
    }

    /// Revokes the token under `key` and all its descendants, children first. The revoke hook runs for each.
    pub async fn revoke_tree(&self, key: &str) -> Result<(), TokenError> {
        // Depth-first pre-order; revoking in reverse revokes every child before its parent.
        let mut order = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![key.to_owned()];
        while let Some(k) = stack.pop() {
            if !seen.insert(k.clone()) {
                continue;
            }
            stack.extend(self.children(&k).await?);
            order.push(k);
        }
        for k in order.iter().rev() {
            self.revoke_one(k).await?;
            // Drop index entries of children that had no entry (dangling after a crash or a race).
            let leftovers: Vec<Op> = self
                .children(k)
                .await?
                .into_iter()
                .map(|c| Op::Delete {
                    key: format!("{}{k}/{c}", paths::PARENT_PREFIX),
                })
                .collect();
            if !leftovers.is_empty() {
                self.view().batch(leftovers).await?;
            }
        }
        Ok(())
    }

    /// Revokes the token under `key` only; its children become orphans. Returns whether it existed.
    pub async fn revoke_orphan(&self, key: &str) -> Result<bool, TokenError> {
        if self.lookup_by_key(key).await?.is_none() {
            return Ok(false);
        }
        self.revoke_one(key).await?;
        for child in self.children(key).await? {
            let _guard = self.lock(&child).await;
            let mut ops = vec![Op::Delete {
                key: format!("{}{key}/{child}", paths::PARENT_PREFIX),
            }];
            if let Some(mut entry) = self.lookup_by_key(&child).await? {
                entry.parent.clear();
                ops.push(Op::Put {
                    key: format!("{}{child}", paths::ID_PREFIX),
                    value: super::encode(&entry)?,
                });
            }
            self.forget(&child);
            self.view().batch(ops).await?;
        }
        Ok(true)
    }

    /// Revokes one token: marks it (so it cannot be used while its leases go), runs the hook, then deletes the
    /// entry and its index entries.
    async fn revoke_one(&self, key: &str) -> Result<(), TokenError> {
        let entry = {
            let _guard = self.lock(key).await;
            let Some(mut entry) = self.lookup_by_key(key).await? else {
                return Ok(());
            };
            if !entry.revocation_pending {
                entry.revocation_pending = true;
                self.put_entry(key, &entry).await?;
            }
            entry
        };
        self.hook().token_revoked(key).await?;
        let mut ops = vec![Op::Delete {
            key: format!("{}{key}", paths::ID_PREFIX),
        }];
        if !entry.accessor.is_empty() {
            ops.push(Op::Delete {
                key: format!(
                    "{}{}",
                    paths::ACCESSOR_PREFIX,
                    self.accessor_key(&entry.accessor).await?
                ),
            });
        }
        if !entry.parent.is_empty() {
            ops.push(Op::Delete {
                key: format!("{}{}/{key}", paths::PARENT_PREFIX, entry.parent),
            });
        }
        let _guard = self.lock(key).await;
        self.forget(key);
        self.view().batch(ops).await?;
        Ok(())
    }

    /// Keys of the direct children of `key`.
    pub(crate) async fn children(&self, key: &str) -> Result<Vec<String>, TokenError> {
        Ok(self
            .view()
            .list(&format!("{}{key}/", paths::PARENT_PREFIX))
            .await?
            .into_iter()
            .filter(|c| !c.ends_with('/'))
            .collect())
    }

    /// The key and entry of the token with this accessor (in any state).
    pub async fn lookup_by_accessor(
        &self,
        accessor: &str,
    ) -> Result<Option<(String, TokenEntry)>, TokenError> {
        if accessor.is_empty() {
            return Ok(None);
        }
        let acc_key = self.accessor_key(accessor).await?;
        let Some(raw) = self
            .view()
            .get(&format!("{}{acc_key}", paths::ACCESSOR_PREFIX))
            .await?
        else {
            return Ok(None);
        };
        let key = String::from_utf8(raw).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        Ok(self.lookup_by_key(&key).await?.map(|e| (key, e)))
    }

    /// The entry of the token with this accessor if it is usable now (as [`TokenStore::lookup`]).
    pub async fn lookup_accessor(&self, accessor: &str) -> Result<Option<TokenEntry>, TokenError> {
        let now = SystemTime::now();
        Ok(self
            .lookup_by_accessor(accessor)
            .await?
            .map(|(_, e)| e)
            .filter(|e| !e.revocation_pending && !e.expired_at(now)))
    }

    /// Revokes the token with this accessor and its descendants. Returns whether it existed.
    pub async fn revoke_by_accessor(&self, accessor: &str) -> Result<bool, TokenError> {
        let Some((key, _)) = self.lookup_by_accessor(accessor).await? else {
            return Ok(false);
        };
        self.revoke_tree(&key).await?;
        Ok(true)
    }

    /// Every live accessor, sorted (the only way to enumerate tokens).
    pub async fn list_accessors(&self) -> Result<Vec<String>, TokenError> {
        let mut out = Vec::new();
        for acc_key in self.view().list(paths::ACCESSOR_PREFIX).await? {
            let Some(raw) = self
                .view()
                .get(&format!("{}{acc_key}", paths::ACCESSOR_PREFIX))
                .await?
            else {
                continue;
            };
            let Ok(key) = String::from_utf8(raw) else {
                continue;
            };
            if let Some(entry) = self.lookup_by_key(&key).await? {
                out.push(entry.accessor);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Revokes (with their descendants) every token created under `path_prefix` (`auth/userpass/`): what
    /// disabling an auth method does to the tokens it issued. Returns how many were revoked. Walks the accessor
    /// index: an operator action, not a request path.
    pub async fn revoke_by_path_prefix(&self, path_prefix: &str) -> Result<usize, TokenError> {
        let mut revoked = 0;
        for acc_key in self.view().list(paths::ACCESSOR_PREFIX).await? {
            let Some(raw) = self
                .view()
                .get(&format!("{}{acc_key}", paths::ACCESSOR_PREFIX))
                .await?
            else {
                continue;
            };
            let Ok(key) = String::from_utf8(raw) else {
                continue;
            };
            if self
                .lookup_by_key(&key)
                .await?
                .is_some_and(|e| e.path.starts_with(path_prefix))
            {
                self.revoke_tree(&key).await?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// Cleans the indexes: children of vanished parents become orphans, index entries of vanished children and
    /// accessors of vanished tokens go, and tokens that are expired or used up (but still stored) are revoked
    /// with their descendants.
    pub async fn tidy(&self, now: SystemTime) -> Result<TidyReport, TokenError> {
        let mut report = TidyReport::default();
        for parent in self.view().list(paths::PARENT_PREFIX).await? {
            let parent = parent.trim_end_matches('/').to_owned();
            let parent_alive = self.lookup_by_key(&parent).await?.is_some();
            for child in self.children(&parent).await? {
                let _guard = self.lock(&child).await;
                let index_key = format!("{}{parent}/{child}", paths::PARENT_PREFIX);
                match self.lookup_by_key(&child).await? {
                    // A live link: keep it.
                    Some(entry) if parent_alive && entry.parent == parent => continue,
                    Some(mut entry) if entry.parent == parent => {
                        entry.parent.clear();
                        self.forget(&child);
                        self.view()
                            .batch(vec![
                                Op::Delete { key: index_key },
                                Op::Put {
                                    key: format!("{}{child}", paths::ID_PREFIX),
                                    value: super::encode(&entry)?,
                                },
                            ])
                            .await?;
                        report.orphaned += 1;
                    }
                    // The child is gone, or points elsewhere: the index entry is stale.
                    _ => self.view().delete(&index_key).await?,
                }
                report.parent_entries_removed += 1;
            }
        }
        for acc_key in self.view().list(paths::ACCESSOR_PREFIX).await? {
            let acc_path = format!("{}{acc_key}", paths::ACCESSOR_PREFIX);
            let Some(raw) = self.view().get(&acc_path).await? else {
                continue;
            };
            let entry = match String::from_utf8(raw) {
                Ok(key) => self.lookup_by_key(&key).await?.map(|e| (key, e)),
                Err(_) => None,
            };
            match entry {
                None => {
                    self.view().delete(&acc_path).await?;
                    report.accessors_removed += 1;
                }
                Some((key, e)) if e.revocation_pending || e.expired_at(now) => {
                    self.revoke_tree(&key).await?;
                    report.tokens_revoked += 1;
                }
                Some(_) => {}
            }
        }
        Ok(report)
    }
}
