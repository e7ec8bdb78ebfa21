//! The openraft type configuration and the replicated command. Nothing here leaves the crate.

use std::fmt;

use serde::{Deserialize, Serialize};

openraft::declare_raft_types!(
    /// Coffer's Raft types: u64 node ids, nodes addressed by `BasicNode { addr }`, [`Command`] as log payload.
    pub(crate) TypeConfig:
        D = Command,
        R = (),
        NodeId = u64,
        Node = openraft::BasicNode,
);

/// The openraft handle specialised to this crate's state machine.
pub(crate) type Raft = openraft::Raft<TypeConfig, crate::state_machine::StateMachine>;
/// A log id.
pub(crate) type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
/// A log entry.
pub(crate) type Entry = openraft::type_config::alias::EntryOf<TypeConfig>;
/// A vote.
pub(crate) type Vote = openraft::type_config::alias::VoteOf<TypeConfig>;
/// The membership as last applied.
pub(crate) type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
/// Snapshot metadata.
pub(crate) type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
/// Snapshot bytes travel in memory (see `codec::encode_snapshot`).
pub(crate) type SnapshotData = std::io::Cursor<Vec<u8>>;
/// A snapshot: metadata plus data.
pub(crate) type Snapshot = openraft::type_config::alias::SnapshotOf<TypeConfig, SnapshotData>;

/// What one Raft log entry asks the state machine to do. Variants may be added, never changed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Command {
    /// Apply every operation atomically, in order.
    Batch(Vec<WireOp>),
}

/// One write, as it is stored in the log. Values are base64 in the JSON log encoding (not arrays of numbers).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WireOp {
    /// Store `value` at `key`.
    Put {
        /// Storage path.
        key: String,
        /// Opaque value.
        #[serde(with = "b64")]
        value: Vec<u8>,
    },
    /// Remove `key`.
    Delete {
        /// Storage path.
        key: String,
    },
}

impl From<storage::Op> for WireOp {
    fn from(op: storage::Op) -> Self {
        match op {
            storage::Op::Put { key, value } => WireOp::Put { key, value },
            storage::Op::Delete { key } => WireOp::Delete { key },
        }
    }
}

// Values are ciphertext, but keep them out of logs anyway.
impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Batch(ops) => {
                let keys: Vec<&str> = ops
                    .iter()
                    .map(|op| match op {
                        WireOp::Put { key, .. } | WireOp::Delete { key } => key.as_str(),
                    })
                    .collect();
                write!(f, "Batch({} ops: {keys:?})", ops.len())
            }
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Batch(ops) => write!(f, "Batch({} ops)", ops.len()),
        }
    }
}

/// Serde adapter: bytes as a base64 string.
mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text.as_bytes()).map_err(D::Error::custom)
    }
}
