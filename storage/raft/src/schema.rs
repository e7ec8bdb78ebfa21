//! On-disk layout of the two redb files: table definitions, reserved meta keys and the data version.
//!
//! Every file carries a `meta` table with [`DATA_VERSION`] and its [`FileKind`]; a build refuses files
//! whose version it does not know rather than guess at their layout.

use redb::TableDefinition;

/// Layout version of both files. Bump it (and add a migration) whenever a table, key or encoding changes.
pub(crate) const DATA_VERSION: u64 = 1;

/// Name of the Raft log file inside the data directory.
pub(crate) const LOG_FILE: &str = "log.redb";
/// Name of the state machine file inside the data directory.
pub(crate) const SM_FILE: &str = "sm.redb";

/// Header and small records of either file: string key → bytes.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// `meta` key: [`DATA_VERSION`] as 8 little-endian bytes.
pub(crate) const KEY_DATA_VERSION: &str = "data_version";
/// `meta` key: which file this is ([`FileKind::tag`]), so swapped files are caught.
pub(crate) const KEY_FILE_KIND: &str = "file_kind";

// ---- log.redb ----

/// Raft log entries: index → encoded entry (see `codec`).
pub(crate) const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// `meta` key (log): the node id this directory belongs to, 8 little-endian bytes.
pub(crate) const KEY_NODE_ID: &str = "node_id";
/// `meta` key (log): the last saved vote, JSON.
pub(crate) const KEY_VOTE: &str = "vote";
/// `meta` key (log): the last purged log id, JSON.
pub(crate) const KEY_LAST_PURGED: &str = "last_purged";
/// `meta` key (log): the last committed log id Raft reported, JSON. Optional (older files lack it); it
/// rides along with the next durable commit, so it may trail the true committed id after a crash.
pub(crate) const KEY_COMMITTED: &str = "committed";

// ---- sm.redb ----

/// The replicated key/value data: storage path → opaque value.
pub(crate) const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
/// `meta` key (sm): id of the last applied log entry, JSON.
pub(crate) const KEY_LAST_APPLIED: &str = "last_applied";
/// `meta` key (sm): the last applied membership, JSON.
pub(crate) const KEY_MEMBERSHIP: &str = "last_membership";
/// `meta` key (sm): metadata of the current snapshot, JSON.
pub(crate) const KEY_SNAPSHOT_META: &str = "snapshot_meta";
/// The current snapshot's data, split into chunks so no single value nears redb's size limit.
pub(crate) const SNAPSHOT_CHUNKS: TableDefinition<u64, &[u8]> =
    TableDefinition::new("snapshot_chunks");
/// Size of one snapshot chunk.
pub(crate) const SNAPSHOT_CHUNK_SIZE: usize = 4 << 20;

/// Which of the two files a database is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// `log.redb`: Raft log and vote.
    Log,
    /// `sm.redb`: state machine and snapshot.
    Sm,
}

impl FileKind {
    /// The value stored under [`KEY_FILE_KIND`].
    pub(crate) fn tag(self) -> &'static [u8] {
        match self {
            FileKind::Log => b"coffer-raft-log",
            FileKind::Sm => b"coffer-raft-sm",
        }
    }

    /// The file name inside the data directory.
    pub(crate) fn file_name(self) -> &'static str {
        match self {
            FileKind::Log => LOG_FILE,
            FileKind::Sm => SM_FILE,
        }
    }
}
