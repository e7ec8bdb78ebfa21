//! The persisted state: the device table (one JSON value) and the per-device keys (salt, chain key).

use std::collections::BTreeMap;

use engine_sdk::Storage;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::AuditError;
use crate::paths::AUDIT_TABLE;
use crate::random::KEY_LEN;

const TABLE_VERSION: u32 = 1;
/// First byte of a stored key: the format version.
const KEY_VERSION: u8 = 1;

/// Every enabled device, as persisted at [`AUDIT_TABLE`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Table {
    pub(crate) version: u32,
    pub(crate) entries: Vec<TableEntry>,
}

/// One enabled device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TableEntry {
    /// Path with a trailing slash.
    pub(crate) path: String,
    /// Device type.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) description: String,
    /// Options as given (minus `skip_test`, which only matters at enable).
    pub(crate) options: BTreeMap<String, String>,
    pub(crate) local: bool,
    /// `Some(true)`: declared by an `audit` stanza of the server configuration; `Some(false)`: enabled through
    /// `sys/audit`; `None`: written by a build that did not record where devices came from (absent in the JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) declared: Option<bool>,
}

impl Table {
    /// The stored table (empty when none).
    pub(crate) async fn load(storage: &dyn Storage) -> Result<Self, AuditError> {
        let Some(raw) = storage.get(AUDIT_TABLE).await? else {
            return Ok(Self {
                version: TABLE_VERSION,
                entries: Vec::new(),
            });
        };
        let table: Self = serde_json::from_slice(&raw)
            .map_err(|e| AuditError::Internal(format!("the audit device table is corrupt: {e}")))?;
        if table.version != TABLE_VERSION {
            return Err(AuditError::Internal(format!(
                "the audit device table has version {}, this build reads {TABLE_VERSION}",
                table.version
            )));
        }
        Ok(table)
    }

    /// The entry at `path` (with its trailing slash).
    pub(crate) fn find_mut(&mut self, path: &str) -> Option<&mut TableEntry> {
        self.entries.iter_mut().find(|e| e.path == path)
    }

    /// The bytes to store.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, AuditError> {
        let mut t = self.clone();
        t.version = TABLE_VERSION;
        serde_json::to_vec(&t)
            .map_err(|e| AuditError::Internal(format!("encoding the audit table: {e}")))
    }
}

/// A key as stored: a version byte, then the key.
pub(crate) fn encode_key(key: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + key.len());
    v.push(KEY_VERSION);
    v.extend_from_slice(key);
    v
}

/// Reads a key stored by [`encode_key`] at `storage_key`.
pub(crate) async fn load_key(
    storage: &dyn Storage,
    storage_key: &str,
) -> Result<Option<Zeroizing<Vec<u8>>>, AuditError> {
    let Some(raw) = storage.get(storage_key).await?.map(Zeroizing::new) else {
        return Ok(None);
    };
    match raw.split_first() {
        Some((&KEY_VERSION, key)) if key.len() == KEY_LEN => Ok(Some(Zeroizing::new(key.to_vec()))),
        _ => Err(AuditError::Internal(format!(
            "the audit key at {storage_key} is corrupt"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_written_before_origins_were_recorded_loads_with_unknown_origin() {
        let old = br#"{"version":1,"entries":[{"path":"f/","type":"file","description":"",
            "options":{"file_path":"discard"},"local":false}]}"#;
        let t: Table = serde_json::from_slice(old).unwrap();
        assert_eq!(t.entries[0].declared, None);
        let mut t = t;
        t.entries[0].declared = Some(true);
        let again: Table = serde_json::from_slice(&t.encode().unwrap()).unwrap();
        assert_eq!(again.entries[0].declared, Some(true));
    }
}
