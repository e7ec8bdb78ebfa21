//! ACL policies: stored through the barrier, parsed once, and compiled into ACLs cached per policy set. A policy
//! write clears the compiled cache, so a request never parses policy text.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use policy::{Acl, Policy};
use serde::{Deserialize, Serialize};
use storage::Storage;

use crate::{CoreError, paths};

const VERSION: u32 = 1;

/// How a policy is persisted: its name and the text as written (so reads return it verbatim).
#[derive(Serialize, Deserialize)]
struct Stored {
    v: u32,
    name: String,
    text: String,
}

/// Compiled ACLs by sorted policy set, and the generation of the policies they were compiled from.
#[derive(Default)]
struct AclCache {
    /// Without identity, with whether any of the set's policies has templated paths.
    map: HashMap<Vec<String>, (Arc<Acl>, bool)>,
    /// Sets with templated paths, compiled for one entity.
    by_entity: HashMap<(Vec<String>, String), Arc<Acl>>,
    generation: u64,
}

/// Parsed policies and compiled ACLs.
pub(crate) struct PolicyStore {
    storage: Arc<dyn Storage>,
    /// Parsed policies by name (root is implicit).
    policies: ArcSwap<HashMap<String, Arc<(Policy, String)>>>,
    /// Compiled ACLs by sorted policy set. A std mutex: held only for a map lookup or insert.
    acls: Mutex<AclCache>,
    /// Serializes policy writes (read-modify-store of the parsed map).
    writes: tokio::sync::Mutex<()>,
}

impl PolicyStore {
    /// Loads every stored policy; creates the default policy on first use.
    pub(crate) async fn load(storage: Arc<dyn Storage>) -> Result<Self, CoreError> {
        let mut map = HashMap::new();
        for name in storage.list(paths::POLICY_PREFIX).await? {
            let Some(bytes) = storage
                .get(&format!("{}{name}", paths::POLICY_PREFIX))
                .await?
            else {
                continue;
            };
            let stored: Stored = match serde_json::from_slice(&bytes) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(policy = %name, error = %e, "stored policy is corrupt; skipped");
                    continue;
                }
            };
            match Policy::parse(&stored.name, &stored.text) {
                Ok(p) => {
                    map.insert(stored.name, Arc::new((p, stored.text)));
                }
                Err(e) => {
                    tracing::error!(policy = %name, error = %e, "stored policy no longer parses; skipped")
                }
            }
        }
        // The fixed response-wrapping policy lives in memory only: it cannot change, so storing it would only
        // mean a write at unseal.
        let wrapping = Policy::parse(
            policy::RESPONSE_WRAPPING_POLICY_NAME,
            policy::RESPONSE_WRAPPING_POLICY,
        )
        .map_err(|e| CoreError::Internal(format!("built-in response-wrapping policy: {e}")))?;
        map.insert(
            policy::RESPONSE_WRAPPING_POLICY_NAME.to_owned(),
            Arc::new((wrapping, policy::RESPONSE_WRAPPING_POLICY.to_owned())),
        );
        let store = Self {
            storage,
            policies: ArcSwap::from_pointee(map),
            acls: Mutex::new(AclCache::default()),
            writes: tokio::sync::Mutex::new(()),
        };
        if store.get(policy::DEFAULT_POLICY_NAME).is_none() {
            store
                .put(policy::DEFAULT_POLICY_NAME, policy::DEFAULT_POLICY)
                .await?;
        }
        Ok(store)
    }

    /// Policy names, sorted (with `root`, and without the non-assignable `response-wrapping`, as OpenBao lists
    /// them).
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .policies
            .load()
            .keys()
            .filter(|n| *n != policy::RESPONSE_WRAPPING_POLICY_NAME)
            .cloned()
            .collect();
        names.push(policy::ROOT_POLICY_NAME.into());
        names.sort();
        names
    }

    /// The stored text of a policy.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.policies.load().get(name).map(|p| p.1.clone())
    }

    /// A parsed policy.
    pub(crate) fn parsed(&self, name: &str) -> Option<Policy> {
        self.policies.load().get(name).map(|p| p.0.clone())
    }

    /// Parses, stores and activates a policy.
    pub(crate) async fn put(&self, name: &str, text: &str) -> Result<(), CoreError> {
        let _write = self.writes.lock().await;
        let name = policy::normalize_name(name);
        policy::validate_name(&name).map_err(|e| CoreError::InvalidRequest(e.to_string()))?;
        if name == policy::ROOT_POLICY_NAME || name == policy::RESPONSE_WRAPPING_POLICY_NAME {
            return Err(CoreError::InvalidRequest(format!(
                "cannot update {name:?} policy"
            )));
        }
        let parsed =
            Policy::parse(&name, text).map_err(|e| CoreError::InvalidRequest(e.to_string()))?;
        let stored = Stored {
            v: VERSION,
            name: name.clone(),
            text: text.to_owned(),
        };
        let bytes = serde_json::to_vec(&stored).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.storage
            .put(&format!("{}{name}", paths::POLICY_PREFIX), &bytes)
            .await?;
        let mut map = (**self.policies.load()).clone();
        map.insert(name, Arc::new((parsed, text.to_owned())));
        self.policies.store(Arc::new(map));
        self.invalidate();
        Ok(())
    }

    /// Deletes a policy (root and default cannot be deleted).
    pub(crate) async fn delete(&self, name: &str) -> Result<(), CoreError> {
        let _write = self.writes.lock().await;
        let name = policy::normalize_name(name);
        // OpenBao's exact wording for each.
        if name == policy::ROOT_POLICY_NAME || name == policy::RESPONSE_WRAPPING_POLICY_NAME {
            return Err(CoreError::InvalidRequest(format!(
                "cannot delete {name:?} policy"
            )));
        }
        if name == policy::DEFAULT_POLICY_NAME {
            return Err(CoreError::InvalidRequest(
                "cannot delete default policy".into(),
            ));
        }
        self.storage
            .delete(&format!("{}{name}", paths::POLICY_PREFIX))
            .await?;
        let mut map = (**self.policies.load()).clone();
        map.remove(&name);
        self.policies.store(Arc::new(map));
        self.invalidate();
        Ok(())
    }

    /// The compiled ACL for a token's policies (cached per sorted set; unknown names are ignored as in OpenBao).
    /// Templated paths resolve against `identity` (the token's entity id and entity); without one they are
    /// skipped.
    pub(crate) fn acl(
        &self,
        names: &[String],
        identity: Option<(&str, &policy::Identity)>,
    ) -> Arc<Acl> {
        let mut key: Vec<String> = names.to_vec();
        key.sort();
        key.dedup();
        // The generation is read before the policies: an ACL compiled from a map that a concurrent write has
        // since replaced is returned but not cached.
        let generation = match self.acls.lock() {
            Ok(cache) => {
                match cache.map.get(&key) {
                    Some((acl, false)) => return acl.clone(),
                    Some((acl, true)) => match identity {
                        None => return acl.clone(),
                        Some((entity_id, _)) => {
                            if let Some(acl) =
                                cache.by_entity.get(&(key.clone(), entity_id.to_owned()))
                            {
                                return acl.clone();
                            }
                        }
                    },
                    None => {}
                }
                cache.generation
            }
            Err(_) => u64::MAX,
        };
        let map = self.policies.load();
        let root = Policy::root();
        let mut selected: Vec<&Policy> = Vec::new();
        for n in &key {
            if n == policy::ROOT_POLICY_NAME {
                selected.push(&root);
            } else if let Some(p) = map.get(n) {
                selected.push(&p.0);
            }
        }
        let templated = selected.iter().any(|p| p.is_templated());
        let plain = Arc::new(Acl::new(selected.iter().copied()));
        let with_identity = match identity {
            Some((entity_id, ident)) if templated => Some((
                entity_id,
                Arc::new(Acl::new_with_identity(selected.iter().copied(), ident)),
            )),
            _ => None,
        };
        if let Ok(mut cache) = self.acls.lock()
            && cache.generation == generation
        {
            // Bounded: a pathological number of distinct policy sets only costs recompiles.
            if cache.map.len() > 10_000 {
                cache.map.clear();
            }
            if cache.by_entity.len() > 100_000 {
                cache.by_entity.clear();
            }
            cache.map.insert(key.clone(), (plain.clone(), templated));
            if let Some((entity_id, acl)) = &with_identity {
                cache
                    .by_entity
                    .insert((key, (*entity_id).to_owned()), acl.clone());
            }
        }
        match with_identity {
            Some((_, acl)) => acl,
            None => plain,
        }
    }

    /// Drops the ACLs compiled for an entity whose aliases changed.
    pub(crate) fn entity_changed(&self, entity_id: &str) {
        if let Ok(mut cache) = self.acls.lock() {
            cache.by_entity.retain(|(_, id), _| id != entity_id);
        }
    }

    fn invalidate(&self) {
        if let Ok(mut cache) = self.acls.lock() {
            cache.map.clear();
            cache.by_entity.clear();
            cache.generation = cache.generation.wrapping_add(1);
        }
    }
}
