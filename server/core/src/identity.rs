//! A minimal identity store: one entity per auth alias, created at the alias's first login, so tokens carry an
//! `entity_id` and templated policy paths (`{{identity.entity.id}}`, alias metadata) resolve. Groups, merging
//! and operator-written entities are not implemented; the `identity/` mount serves reads and lookups.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;
use engine_sdk::{
    Alias, EngineError, LogicalBackend, MountInfo, Operation, PathSpec, Request, Response, Storage,
    View,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::CoreError;

/// Entities by id, in the identity mount's view.
const ENTITY_PREFIX: &str = "entity/";
/// Alias index: `alias/<sha256(mount accessor, alias name)>` → entity id (names stay out of storage keys).
const ALIAS_PREFIX: &str = "alias/";

/// A stored entity with its aliases.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EntityRecord {
    v: u32,
    id: String,
    name: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    aliases: Vec<AliasRecord>,
    creation_time: String,
    last_update_time: String,
}

/// One alias of an entity on one auth mount.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AliasRecord {
    id: String,
    name: String,
    mount_accessor: String,
    mount_type: String,
    mount_path: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    creation_time: String,
    last_update_time: String,
}

/// Finds or creates entities at login and serves the compiled-policy view of them.
pub(crate) struct IdentityStore {
    view: View,
    /// Entities as policy templating sees them, by id; refreshed when a login changes one.
    cache: RwLock<HashMap<String, Arc<policy::Identity>>>,
    /// Serializes entity creation so two concurrent first logins of one alias make one entity. Only first
    /// logins (and alias metadata changes) take it.
    create: tokio::sync::Mutex<()>,
}

impl IdentityStore {
    /// A store over the identity mount's storage.
    pub(crate) fn new(view: View) -> Self {
        Self {
            view,
            cache: RwLock::new(HashMap::new()),
            create: tokio::sync::Mutex::new(()),
        }
    }

    /// The entity id for a login's alias on `mount`, creating the entity (or updating the alias metadata) as
    /// needed. Returns whether the entity changed, so compiled templated ACLs can be dropped.
    pub(crate) async fn entity_for_login(
        &self,
        mount: &MountInfo,
        alias: &Alias,
        now: SystemTime,
    ) -> Result<(String, bool), CoreError> {
        let index = alias_key(&mount.accessor, &alias.name);
        if let Some(id) = self.view.get(&index).await?
            && let Some(entity) = self.load(&String::from_utf8_lossy(&id)).await?
            && alias_current(&entity, mount, alias)
        {
            return Ok((entity.id, false));
        }
        let _guard = self.create.lock().await;
        let stamp = crate::clock::rfc3339(now);
        let existing = match self.view.get(&index).await? {
            Some(id) => self.load(&String::from_utf8_lossy(&id)).await?,
            None => None,
        };
        let entity = match existing {
            Some(mut entity) => {
                if alias_current(&entity, mount, alias) {
                    return Ok((entity.id, false));
                }
                for a in entity
                    .aliases
                    .iter_mut()
                    .filter(|a| a.mount_accessor == mount.accessor && a.name == alias.name)
                {
                    a.metadata = alias.metadata.clone();
                    a.last_update_time = stamp.clone();
                }
                entity.last_update_time = stamp;
                entity
            }
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                let name = format!("entity_{}", id.get(..8).unwrap_or_default());
                EntityRecord {
                    v: 1,
                    id,
                    name,
                    metadata: BTreeMap::new(),
                    aliases: vec![AliasRecord {
                        id: uuid::Uuid::new_v4().to_string(),
                        name: alias.name.clone(),
                        mount_accessor: mount.accessor.clone(),
                        mount_type: mount.kind.clone(),
                        mount_path: mount.path.clone(),
                        metadata: alias.metadata.clone(),
                        creation_time: stamp.clone(),
                        last_update_time: stamp.clone(),
                    }],
                    creation_time: stamp.clone(),
                    last_update_time: stamp,
                }
            }
        };
        let bytes = serde_json::to_vec(&entity).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.view
            .put(&format!("{ENTITY_PREFIX}{}", entity.id), &bytes)
            .await?;
        self.view.put(&index, entity.id.as_bytes()).await?;
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(&entity.id);
        }
        Ok((entity.id, true))
    }

    /// The entity as policy templates see it, or `None` when it does not exist (any more).
    pub(crate) async fn identity(
        &self,
        entity_id: &str,
    ) -> Result<Option<Arc<policy::Identity>>, CoreError> {
        if let Ok(cache) = self.cache.read()
            && let Some(found) = cache.get(entity_id)
        {
            return Ok(Some(found.clone()));
        }
        let Some(entity) = self.load(entity_id).await? else {
            return Ok(None);
        };
        let identity = Arc::new(to_policy_identity(&entity));
        if let Ok(mut cache) = self.cache.write() {
            // Bounded: entities beyond the cap are just reloaded.
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(entity.id.clone(), identity.clone());
        }
        Ok(Some(identity))
    }

    async fn load(&self, id: &str) -> Result<Option<EntityRecord>, CoreError> {
        read_entity(&self.view, id)
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))
    }
}

fn alias_current(entity: &EntityRecord, mount: &MountInfo, alias: &Alias) -> bool {
    entity.aliases.iter().any(|a| {
        a.mount_accessor == mount.accessor && a.name == alias.name && a.metadata == alias.metadata
    })
}

fn alias_key(mount_accessor: &str, name: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(mount_accessor.as_bytes());
    ctx.update(&[0]);
    ctx.update(name.as_bytes());
    format!("{ALIAS_PREFIX}{}", hex::encode(ctx.finish().as_ref()))
}

async fn read_entity(view: &View, id: &str) -> Result<Option<EntityRecord>, EngineError> {
    if id.is_empty() || id.contains('/') {
        return Ok(None);
    }
    match view.get(&format!("{ENTITY_PREFIX}{id}")).await? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

fn to_policy_identity(e: &EntityRecord) -> policy::Identity {
    policy::Identity {
        entity: Some(policy::Entity {
            id: e.id.clone(),
            name: e.name.clone(),
            metadata: e.metadata.clone().into_iter().collect(),
            aliases: e
                .aliases
                .iter()
                .map(|a| policy::EntityAlias {
                    mount_accessor: a.mount_accessor.clone(),
                    id: a.id.clone(),
                    name: a.name.clone(),
                    metadata: a.metadata.clone().into_iter().collect(),
                    custom_metadata: HashMap::new(),
                })
                .collect(),
        }),
        groups: Vec::new(),
    }
}

/// OpenBao's entity read shape.
fn entity_json(e: &EntityRecord) -> Map<String, Value> {
    let aliases: Vec<Value> = e
        .aliases
        .iter()
        .map(|a| alias_json(a, &e.id, &e.name))
        .collect();
    match json!({
        "id": e.id,
        "name": e.name,
        "metadata": if e.metadata.is_empty() { Value::Null } else { json!(e.metadata) },
        "aliases": aliases,
        "policies": [],
        "disabled": false,
        "creation_time": e.creation_time,
        "last_update_time": e.last_update_time,
        "direct_group_ids": [],
        "group_ids": [],
        "inherited_group_ids": [],
        "merged_entity_ids": Value::Null,
        "namespace_id": "root",
    }) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn alias_json(a: &AliasRecord, entity_id: &str, entity_name: &str) -> Value {
    json!({
        "id": a.id,
        "canonical_id": entity_id,
        "name": a.name,
        "mount_accessor": a.mount_accessor,
        "mount_type": a.mount_type,
        "mount_path": a.mount_path,
        "metadata": if a.metadata.is_empty() { Value::Null } else { json!(a.metadata) },
        "custom_metadata": Value::Null,
        "creation_time": a.creation_time,
        "last_update_time": a.last_update_time,
        "entity_name": entity_name,
        "local": false,
        "merged_from_canonical_ids": Value::Null,
        "namespace_id": "root",
    })
}

static PATHS: &[PathSpec] = &[
    PathSpec {
        pattern: "entity/id/",
        ops: &[Operation::List],
        existence_check: false,
        fields: &[],
        help: "List entity ids.",
    },
    PathSpec {
        pattern: "entity/id/{id}",
        ops: &[Operation::Read],
        existence_check: false,
        fields: &[],
        help: "Read an entity by id.",
    },
    PathSpec {
        pattern: "entity/name/",
        ops: &[Operation::List],
        existence_check: false,
        fields: &[],
        help: "List entity names.",
    },
    PathSpec {
        pattern: "entity/name/{name}",
        ops: &[Operation::Read],
        existence_check: false,
        fields: &[],
        help: "Read an entity by name.",
    },
    PathSpec {
        pattern: "entity-alias/id/{id}",
        ops: &[Operation::Read],
        existence_check: false,
        fields: &[],
        help: "Read an entity alias by id.",
    },
    PathSpec {
        pattern: "lookup/entity",
        ops: &[Operation::Update],
        existence_check: false,
        fields: &[],
        help: "Look an entity up by id, name, or alias name and mount accessor.",
    },
];

/// The `identity/` mount: reads over the entities that logins create.
pub(crate) struct IdentityBackend;

async fn all_entities(view: &View) -> Result<Vec<EntityRecord>, EngineError> {
    let mut out = Vec::new();
    for id in view.list(ENTITY_PREFIX).await? {
        if let Some(e) = read_entity(view, &id).await? {
            out.push(e);
        }
    }
    Ok(out)
}

fn keys_response(keys: Vec<String>) -> Result<Response, EngineError> {
    if keys.is_empty() {
        return Err(EngineError::NotFound);
    }
    Ok(Response::json(json!({ "keys": keys })))
}

#[async_trait]
impl LogicalBackend for IdentityBackend {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    async fn handle(&self, req: Request<'_>) -> Result<Response, EngineError> {
        let view = req.storage;
        let pattern = PATHS.get(req.route.index).map(|p| p.pattern);
        let field = |name: &str| {
            req.data
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let entity = match pattern {
            Some("entity/id/") => {
                return keys_response(view.list(ENTITY_PREFIX).await?);
            }
            Some("entity/name/") => {
                let names = all_entities(view)
                    .await?
                    .into_iter()
                    .map(|e| e.name)
                    .collect();
                return keys_response(names);
            }
            Some("entity/id/{id}") => {
                read_entity(view, req.param("id").unwrap_or_default()).await?
            }
            Some("entity/name/{name}") => {
                let name = req.param("name").unwrap_or_default();
                all_entities(view)
                    .await?
                    .into_iter()
                    .find(|e| e.name == name)
            }
            Some("entity-alias/id/{id}") => {
                let id = req.param("id").unwrap_or_default();
                for e in all_entities(view).await? {
                    if let Some(a) = e.aliases.iter().find(|a| a.id == id) {
                        return Ok(Response::json(alias_json(a, &e.id, &e.name)));
                    }
                }
                return Err(EngineError::NotFound);
            }
            Some("lookup/entity") => {
                let (id, name) = (field("id"), field("name"));
                let (alias_name, accessor) = (field("alias_name"), field("alias_mount_accessor"));
                if !id.is_empty() {
                    read_entity(view, &id).await?
                } else if !name.is_empty() {
                    all_entities(view)
                        .await?
                        .into_iter()
                        .find(|e| e.name == name)
                } else if !alias_name.is_empty() && !accessor.is_empty() {
                    match view.get(&alias_key(&accessor, &alias_name)).await? {
                        Some(id) => read_entity(view, &String::from_utf8_lossy(&id)).await?,
                        None => None,
                    }
                } else {
                    return Err(EngineError::invalid(
                        "one of id, name, or alias_name with alias_mount_accessor must be provided",
                    ));
                }
            }
            _ => return Err(EngineError::UnsupportedPath(req.path.to_owned())),
        };
        match entity {
            Some(e) => Ok(Response::data(entity_json(&e))),
            // OpenBao's lookup answers 204 when nothing matches; reads 404.
            None if pattern == Some("lookup/entity") => Ok(Response::default()),
            None => Err(EngineError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn mount() -> MountInfo {
        MountInfo {
            path: "auth/userpass/".into(),
            kind: "userpass".into(),
            accessor: "auth_userpass_1234".into(),
            ..MountInfo::default()
        }
    }

    #[tokio::test]
    async fn one_entity_per_alias_and_metadata_updates() {
        let view = View::new(storage::testing::PlainMem::shared(), "");
        let store = IdentityStore::new(view);
        let now = SystemTime::now();
        let alice = Alias {
            name: "alice".into(),
            metadata: BTreeMap::from([("team".into(), "a".into())]),
        };
        let (id1, changed) = store.entity_for_login(&mount(), &alice, now).await.unwrap();
        assert!(changed);
        let (id2, changed) = store.entity_for_login(&mount(), &alice, now).await.unwrap();
        assert_eq!(id1, id2);
        assert!(!changed);
        let bob = Alias {
            name: "bob".into(),
            metadata: BTreeMap::new(),
        };
        let (id3, _) = store.entity_for_login(&mount(), &bob, now).await.unwrap();
        assert_ne!(id1, id3);

        let ident = store.identity(&id1).await.unwrap().unwrap();
        let e = ident.entity.as_ref().unwrap();
        assert_eq!(e.aliases[0].metadata.get("team").unwrap(), "a");

        let moved = Alias {
            name: "alice".into(),
            metadata: BTreeMap::from([("team".into(), "b".into())]),
        };
        let (id4, changed) = store.entity_for_login(&mount(), &moved, now).await.unwrap();
        assert_eq!(id1, id4);
        assert!(changed);
        let ident = store.identity(&id1).await.unwrap().unwrap();
        assert_eq!(
            ident.entity.as_ref().unwrap().aliases[0]
                .metadata
                .get("team")
                .unwrap(),
            "b"
        );
        assert!(store.identity("missing").await.unwrap().is_none());
    }
}
