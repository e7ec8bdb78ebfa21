//! Stored secret ids and their accessor index. A secret id is kept only as the key of its entry
//! (`secret_id/<role uuid>/<hmac>`); its accessor is kept as `accessor/<hmac>` pointing at that key.

use std::collections::BTreeMap;
use std::time::SystemTime;

use engine_sdk::{Storage, View};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::ApproleError;
use crate::paths::{ACCESSOR_PREFIX, PURPOSE_ACCESSOR, PURPOSE_SECRET_ID, SECRET_ID_PREFIX};
use crate::salt::Salt;

/// Format version of [`SecretIdEntry`].
const SECRET_ID_ENTRY_VERSION: u32 = 1;

/// What is known about one secret id. Holds no secret: `Debug` is safe.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SecretIdEntry {
    /// Format version of this record.
    pub(crate) version: u32,
    /// The public handle of the secret id.
    pub(crate) accessor: String,
    /// Logins left (0 = unlimited).
    pub(crate) num_uses: u64,
    /// Life in seconds as granted (0 = forever).
    pub(crate) ttl: u64,
    /// When it was issued.
    pub(crate) creation_time: SystemTime,
    /// When it stops working, if ever.
    pub(crate) expiration_time: Option<SystemTime>,
    /// When its use count last changed.
    pub(crate) last_updated_time: SystemTime,
    /// Copied onto the tokens it logs in.
    pub(crate) metadata: BTreeMap<String, String>,
    /// Blocks a login with it must come from.
    pub(crate) cidr_list: Vec<String>,
    /// Blocks its tokens may be used from (overrides the role's).
    pub(crate) token_bound_cidrs: Vec<String>,
}

impl SecretIdEntry {
    /// Whether it has expired at `now`.
    pub(crate) fn expired(&self, now: SystemTime) -> bool {
        self.expiration_time.is_some_and(|t| now >= t)
    }

    /// The lookup response (OpenBao's shape; a never-expiring id shows Go's zero time).
    pub(crate) fn to_data(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("secret_id_accessor".into(), json!(self.accessor));
        m.insert("secret_id_num_uses".into(), json!(self.num_uses));
        m.insert("secret_id_ttl".into(), json!(self.ttl));
        m.insert("creation_time".into(), json!(rfc3339(self.creation_time)));
        m.insert(
            "expiration_time".into(),
            json!(
                self.expiration_time
                    .map(rfc3339)
                    .unwrap_or_else(|| "0001-01-01T00:00:00Z".into())
            ),
        );
        m.insert(
            "last_updated_time".into(),
            json!(rfc3339(self.last_updated_time)),
        );
        m.insert("metadata".into(), json!(self.metadata));
        m.insert("cidr_list".into(), json!(self.cidr_list));
        m.insert("token_bound_cidrs".into(), json!(self.token_bound_cidrs));
        m
    }
}

/// RFC 3339 in UTC, as Go prints `time.Time` in JSON.
fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Where a secret id lives: its role's folder and its own HMAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Location {
    /// The role's uuid.
    pub(crate) role_uuid: String,
    /// HMAC of the secret id.
    pub(crate) hmac: String,
}

impl Location {
    /// The location of `secret_id` for the role with `role_uuid`.
    pub(crate) fn of(salt: &Salt, role_uuid: &str, secret_id: &str) -> Self {
        Self {
            role_uuid: role_uuid.to_owned(),
            hmac: salt.hash(PURPOSE_SECRET_ID, secret_id),
        }
    }

    fn key(&self) -> String {
        format!("{SECRET_ID_PREFIX}{}/{}", self.role_uuid, self.hmac)
    }
}

fn accessor_key(salt: &Salt, accessor: &str) -> String {
    format!("{ACCESSOR_PREFIX}{}", salt.hash(PURPOSE_ACCESSOR, accessor))
}

/// The entry at `loc`, if stored.
pub(crate) async fn load(
    storage: &View,
    loc: &Location,
) -> Result<Option<SecretIdEntry>, ApproleError> {
    match storage.get(&loc.key()).await? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Writes the entry at `loc` (the caller holds its stripe lock).
pub(crate) async fn save(
    storage: &View,
    loc: &Location,
    entry: &mut SecretIdEntry,
) -> Result<(), ApproleError> {
    entry.version = SECRET_ID_ENTRY_VERSION;
    storage.put(&loc.key(), &serde_json::to_vec(entry)?).await?;
    Ok(())
}

/// Stores a new secret id: the accessor index first, so an entry never exists without one.
pub(crate) async fn create(
    storage: &View,
    salt: &Salt,
    loc: &Location,
    entry: &mut SecretIdEntry,
) -> Result<(), ApproleError> {
    let index = serde_json::to_vec(loc)?;
    storage
        .put(&accessor_key(salt, &entry.accessor), &index)
        .await?;
    save(storage, loc, entry).await
}

/// Removes the entry at `loc` and its accessor (accessor first, as OpenBao does; a lone entry is refused at
/// login and tidied).
pub(crate) async fn remove(
    storage: &View,
    salt: &Salt,
    loc: &Location,
    entry: &SecretIdEntry,
) -> Result<(), ApproleError> {
    storage.delete(&accessor_key(salt, &entry.accessor)).await?;
    storage.delete(&loc.key()).await?;
    Ok(())
}

/// Removes the entry at `loc` whose accessor is unknown or already gone.
pub(crate) async fn remove_entry_only(storage: &View, loc: &Location) -> Result<(), ApproleError> {
    storage.delete(&loc.key()).await?;
    Ok(())
}

/// Drops the index entry of `accessor`.
pub(crate) async fn remove_accessor(
    storage: &View,
    salt: &Salt,
    accessor: &str,
) -> Result<(), ApproleError> {
    storage.delete(&accessor_key(salt, accessor)).await?;
    Ok(())
}

/// Where the accessor points, if it exists.
pub(crate) async fn locate_accessor(
    storage: &View,
    salt: &Salt,
    accessor: &str,
) -> Result<Option<Location>, ApproleError> {
    match storage.get(&accessor_key(salt, accessor)).await? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Whether the accessor of `entry` is still indexed.
pub(crate) async fn accessor_exists(
    storage: &View,
    salt: &Salt,
    accessor: &str,
) -> Result<bool, ApproleError> {
    Ok(storage.get(&accessor_key(salt, accessor)).await?.is_some())
}

/// The HMACs of the secret ids stored for the role with `role_uuid`.
pub(crate) async fn list_for_role(
    storage: &View,
    role_uuid: &str,
) -> Result<Vec<String>, ApproleError> {
    let mut keys = storage
        .list(&format!("{SECRET_ID_PREFIX}{role_uuid}/"))
        .await?;
    keys.retain(|k| !k.ends_with('/'));
    Ok(keys)
}

/// The role uuids that have a secret-id folder.
pub(crate) async fn role_folders(storage: &View) -> Result<Vec<String>, ApproleError> {
    Ok(storage
        .list(SECRET_ID_PREFIX)
        .await?
        .into_iter()
        .filter_map(|k| k.strip_suffix('/').map(str::to_owned))
        .collect())
}

/// The stored accessor index keys (hashes), for tidying.
pub(crate) async fn accessor_keys(storage: &View) -> Result<Vec<String>, ApproleError> {
    let mut keys = storage.list(ACCESSOR_PREFIX).await?;
    keys.retain(|k| !k.ends_with('/'));
    Ok(keys)
}

/// Where the accessor index entry with hash `key` points.
pub(crate) async fn accessor_target(
    storage: &View,
    key: &str,
) -> Result<Option<Location>, ApproleError> {
    match storage.get(&format!("{ACCESSOR_PREFIX}{key}")).await? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Drops the accessor index entry with hash `key`.
pub(crate) async fn delete_accessor_key(storage: &View, key: &str) -> Result<(), ApproleError> {
    storage.delete(&format!("{ACCESSOR_PREFIX}{key}")).await?;
    Ok(())
}

/// Parses `metadata`: a JSON object of strings, sent as a JSON string (OpenBao's form) or as an object.
pub(crate) fn parse_metadata(
    data: &Map<String, Value>,
) -> Result<BTreeMap<String, String>, ApproleError> {
    let bad =
        |e: &dyn std::fmt::Display| ApproleError::invalid(format!("failed to parse metadata: {e}"));
    let object = match data.get("metadata") {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(BTreeMap::new()),
        Some(Value::String(s)) => {
            serde_json::from_str::<Map<String, Value>>(s).map_err(|e| bad(&e))?
        }
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(bad(&"expected a JSON object of strings")),
    };
    object
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => Err(bad(&format!("value of {k:?} is not a string: {other}"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn metadata_forms() {
        let md = parse_metadata(&m(json!({"metadata": "{\"a\":\"1\",\"b\":\"x\"}"}))).unwrap();
        assert_eq!(md.get("a").map(String::as_str), Some("1"));
        assert_eq!(md.len(), 2);
        assert!(parse_metadata(&m(json!({}))).unwrap().is_empty());
        assert!(
            parse_metadata(&m(json!({"metadata": ""})))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            parse_metadata(&m(json!({"metadata": {"k": "v"}}))).unwrap()["k"],
            "v"
        );
        for bad in [json!("{not json"), json!("{\"a\":1}"), json!(5)] {
            let err = parse_metadata(&m(json!({ "metadata": bad }))).unwrap_err();
            assert!(
                err.to_string().starts_with("failed to parse metadata"),
                "{err}"
            );
        }
    }

    #[test]
    fn lookup_shape() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_676_053_047);
        let e = SecretIdEntry {
            version: 1,
            accessor: "acc".into(),
            num_uses: 3,
            ttl: 0,
            creation_time: t,
            expiration_time: None,
            last_updated_time: t,
            metadata: BTreeMap::new(),
            cidr_list: vec![],
            token_bound_cidrs: vec![],
        };
        let d = e.to_data();
        assert_eq!(d["creation_time"], json!("2023-02-10T18:17:27Z"));
        assert_eq!(d["expiration_time"], json!("0001-01-01T00:00:00Z"));
        assert_eq!(d["token_bound_cidrs"], json!([]));
        assert!(!e.expired(t));
        let mut e2 = e.clone();
        e2.expiration_time = Some(t);
        assert!(e2.expired(t));
    }
}
