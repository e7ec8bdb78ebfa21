//! The replicated key/value state machine and its snapshots in `sm.redb`.
//!
//! `apply` commits each batch of committed entries in one redb transaction before answering the waiting
//! clients. The Raft log is the durable record of every acknowledged write, so most applies commit with
//! `Durability::None` (visible to readers at once, no fsync); one every [`SYNC_EVERY_ENTRIES`] entries or
//! [`SYNC_INTERVAL`] is durable, as is every snapshot and [`SmDb::sync`] at shutdown. A durable commit also
//! persists every non-durable one before it, so on disk the state machine is always a consistent prefix
//! of the log, never ahead of it. After a crash it may lag the log: openraft re-applies the committed
//! entries it lacks (see `LogStore::save_committed`), and `RaftStore` holds reads until it has caught up.
//! Snapshots are the whole `kv` table serialised (see `codec::SnapshotWriter`) and kept in the same file,
//! so installing one is a single atomic transaction.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend};
use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction,
};
use tokio::sync::oneshot;

use crate::codec::{self, SnapshotWriter};
use crate::db::to_io;
use crate::schema::{
    KEY_LAST_APPLIED, KEY_MEMBERSHIP, KEY_SNAPSHOT_META, KV, META, SNAPSHOT_CHUNK_SIZE,
    SNAPSHOT_CHUNKS,
};
use crate::types::{
    Command, Entry, LogId, Snapshot, SnapshotData, SnapshotMeta, StoredMembership, TypeConfig,
    WireOp,
};

/// An apply commits durably once this many entries were applied since the last durable commit: bounds
/// what a crash makes openraft re-apply, and the dead pages redb cannot reuse until a durable commit.
const SYNC_EVERY_ENTRIES: u64 = 1024;
/// ... or once this long has passed since the last durable commit (a lightly written store).
const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Shared state of the state machine file; also what [`crate::RaftStore`] reads from.
pub(crate) struct SmDb {
    db: Database,
    path: PathBuf,
    /// Durable commits of the state machine file, for tests and benches.
    flushes: Arc<AtomicU64>,
    /// Highest log index applied here (visible to readers, durable or not). Raft's metrics catch up a
    /// little later; this is exact as soon as a write returns.
    applied: Arc<AtomicU64>,
    /// Entries applied since the last durable commit, and when that was.
    unsynced: Mutex<Unsynced>,
    /// Dropped together with the database, which tells `shutdown` the file is closed.
    _closed: oneshot::Sender<()>,
}

/// Counters the state machine keeps for [`crate::RaftStore`], readable after the file is closed.
pub(crate) struct SmCounters {
    /// Durable commits of `sm.redb`.
    pub(crate) flushes: Arc<AtomicU64>,
    /// Highest applied log index.
    pub(crate) applied: Arc<AtomicU64>,
}

/// What has been applied without an fsync.
struct Unsynced {
    entries: u64,
    since: Instant,
}

/// The state machine handed to openraft; clones (e.g. the snapshot builder) share one file.
#[derive(Clone)]
pub(crate) struct StateMachine {
    inner: Arc<SmDb>,
}

impl StateMachine {
    /// Wraps an opened, validated `sm.redb`. Returns the state machine, its counters and a receiver that
    /// completes once the file is closed.
    pub(crate) fn new(db: Database, path: PathBuf) -> (Self, SmCounters, oneshot::Receiver<()>) {
        let counters = SmCounters {
            flushes: Arc::default(),
            applied: Arc::default(),
        };
        let (tx, rx) = oneshot::channel();
        let inner = SmDb {
            db,
            path,
            flushes: counters.flushes.clone(),
            applied: counters.applied.clone(),
            unsynced: Mutex::new(Unsynced {
                entries: 0,
                since: Instant::now(),
            }),
            _closed: tx,
        };
        (
            Self {
                inner: Arc::new(inner),
            },
            counters,
            rx,
        )
    }

    /// A handle for local reads.
    pub(crate) fn reader(&self) -> Arc<SmDb> {
        self.inner.clone()
    }

    async fn blocking<T, F>(&self, what: &'static str, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&SmDb) -> io::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        let res = tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| io::Error::other(format!("{what}: blocking task failed: {e}")))?;
        res.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{} ({what}): {e}", self.inner.path.display()),
            )
        })
    }
}

impl SmDb {
    /// Prefixes an error with this file's path.
    pub(crate) fn annotate(&self, e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("{}: {e}", self.path.display()))
    }

    /// The value at `key`.
    pub(crate) fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(to_io)?;
        let kv = txn.open_table(KV).map_err(to_io)?;
        let value = kv.get(key).map_err(to_io)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    /// Vault's one-level listing of `prefix`, skipping over each sub-folder's contents instead of
    /// walking every key below it.
    pub(crate) fn list(&self, prefix: &str) -> io::Result<Vec<String>> {
        let txn = self.db.begin_read().map_err(to_io)?;
        let kv = txn.open_table(KV).map_err(to_io)?;
        // One representative key per child, in key order; `storage::children` turns them into names.
        let mut reps: Vec<String> = Vec::new();
        let mut start = prefix.to_owned();
        'seek: loop {
            for item in kv.range::<&str>(start.as_str()..).map_err(to_io)? {
                let (key, _) = item.map_err(to_io)?;
                let key = key.value();
                let Some(rest) = key.strip_prefix(prefix) else {
                    break 'seek;
                };
                let Some(slash) = rest.find('/') else {
                    reps.push(key.to_owned());
                    continue;
                };
                reps.push(key.to_owned());
                // '0' sorts right after '/', so this jumps past every key inside the folder.
                let folder = key.get(..prefix.len() + slash).unwrap_or(key);
                start = format!("{folder}0");
                continue 'seek;
            }
            break;
        }
        Ok(storage::children(prefix, reps.iter().map(String::as_str)))
    }

    /// Last applied log id and membership.
    fn applied_state(&self) -> io::Result<(Option<LogId>, StoredMembership)> {
        let txn = self.db.begin_read().map_err(to_io)?;
        read_applied(&txn)
    }

    /// Index of the last applied entry (0 before any), as the file holds it.
    pub(crate) fn applied_index(&self) -> io::Result<u64> {
        Ok(self.applied_state()?.0.map_or(0, |id| id.index()))
    }

    /// Makes every applied entry durable: one empty durable commit, which persists the non-durable
    /// ones before it.
    pub(crate) fn sync(&self) -> io::Result<()> {
        let txn = self.db.begin_write().map_err(to_io)?; // Durability::Immediate is the default
        txn.commit().map_err(to_io)?;
        self.synced();
        Ok(())
    }

    /// Records a durable commit of this file.
    fn synced(&self) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        let mut u = self.unsynced.lock().unwrap_or_else(|p| p.into_inner());
        u.entries = 0;
        u.since = Instant::now();
    }

    /// Whether an apply of `n` more entries should commit durably.
    fn sync_due(&self, n: u64) -> bool {
        let u = self.unsynced.lock().unwrap_or_else(|p| p.into_inner());
        u.entries.saturating_add(n) >= SYNC_EVERY_ENTRIES || u.since.elapsed() >= SYNC_INTERVAL
    }

    fn apply(&self, entries: Vec<Entry>) -> io::Result<()> {
        let n = entries.len() as u64;
        let durable = self.sync_due(n);
        let mut txn = self.db.begin_write().map_err(to_io)?;
        if !durable {
            // The log already holds these entries durably; see the module docs.
            txn.set_durability(Durability::None)
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
        let mut last_index = 0;
        {
            let mut kv = txn.open_table(KV).map_err(to_io)?;
            let mut meta = txn.open_table(META).map_err(to_io)?;
            let mut last = None;
            let mut membership = None;
            for entry in entries {
                match entry.payload {
                    EntryPayload::Blank => {}
                    EntryPayload::Normal(Command::Batch(ops)) => {
                        for op in ops {
                            match op {
                                WireOp::Put { key, value } => {
                                    kv.insert(key.as_str(), value.as_slice()).map_err(to_io)?;
                                }
                                WireOp::Delete { key } => {
                                    kv.remove(key.as_str()).map_err(to_io)?;
                                }
                            }
                        }
                    }
                    EntryPayload::Membership(m) => {
                        membership = Some(StoredMembership::new(Some(entry.log_id), m));
                    }
                }
                last = Some(entry.log_id);
            }
            if let Some(last) = &last {
                meta.insert(KEY_LAST_APPLIED, codec::to_json(last)?.as_slice())
                    .map_err(to_io)?;
                last_index = last.index();
            }
            if let Some(m) = membership {
                meta.insert(KEY_MEMBERSHIP, codec::to_json(&m)?.as_slice())
                    .map_err(to_io)?;
            }
        }
        txn.commit().map_err(to_io)?;
        if durable {
            self.synced();
        } else {
            let mut u = self.unsynced.lock().unwrap_or_else(|p| p.into_inner());
            u.entries = u.entries.saturating_add(n);
        }
        self.applied.fetch_max(last_index, Ordering::Relaxed);
        Ok(())
    }

    fn build_snapshot(&self) -> io::Result<Snapshot> {
        // One read transaction: data and applied state come from the same point in time.
        let (meta, data) = {
            let txn = self.db.begin_read().map_err(to_io)?;
            let (last_log_id, last_membership) = read_applied(&txn)?;
            let kv = txn.open_table(KV).map_err(to_io)?;
            let mut w = SnapshotWriter::new();
            for item in kv.iter().map_err(to_io)? {
                let (k, v) = item.map_err(to_io)?;
                w.push(k.value(), v.value())?;
            }
            (
                SnapshotMeta {
                    last_log_id,
                    last_membership,
                },
                w.finish(),
            )
        };
        let txn = self.db.begin_write().map_err(to_io)?;
        // A snapshot installed meanwhile may be newer: never replace it with an older one.
        let current = read_snapshot_meta(&txn)?;
        if current
            .as_ref()
            .is_none_or(|c| c.last_log_id <= meta.last_log_id)
        {
            // Durable (the default): this also persists every apply the snapshot covers, so the log
            // Raft purges after it is never needed to rebuild this state.
            store_snapshot(&txn, &meta, &data)?;
            txn.commit().map_err(to_io)?;
            self.synced();
        } else {
            txn.abort().map_err(to_io)?;
        }
        Ok(Snapshot {
            meta,
            snapshot: SnapshotData::new(data),
        })
    }

    fn install_snapshot(&self, meta: &SnapshotMeta, data: &[u8]) -> io::Result<()> {
        let pairs = codec::decode_snapshot(data)?;
        let txn = self.db.begin_write().map_err(to_io)?;
        {
            txn.delete_table(KV).map_err(to_io)?;
            let mut kv = txn.open_table(KV).map_err(to_io)?;
            for (key, value) in pairs {
                kv.insert(key, value).map_err(to_io)?;
            }
            let mut m = txn.open_table(META).map_err(to_io)?;
            match &meta.last_log_id {
                Some(id) => m
                    .insert(KEY_LAST_APPLIED, codec::to_json(id)?.as_slice())
                    .map_err(to_io)?,
                None => m.remove(KEY_LAST_APPLIED).map_err(to_io)?,
            };
            m.insert(
                KEY_MEMBERSHIP,
                codec::to_json(&meta.last_membership)?.as_slice(),
            )
            .map_err(to_io)?;
        }
        store_snapshot(&txn, meta, data)?;
        txn.commit().map_err(to_io)?;
        self.synced();
        self.applied.fetch_max(
            meta.last_log_id.as_ref().map_or(0, |id| id.index()),
            Ordering::Relaxed,
        );
        Ok(())
    }

    fn current_snapshot(&self) -> io::Result<Option<Snapshot>> {
        let txn = self.db.begin_read().map_err(to_io)?;
        let meta = txn.open_table(META).map_err(to_io)?;
        let Some(raw) = meta.get(KEY_SNAPSHOT_META).map_err(to_io)? else {
            return Ok(None);
        };
        let snap_meta: SnapshotMeta = codec::from_json(raw.value(), "snapshot meta")?;
        let chunks = txn.open_table(SNAPSHOT_CHUNKS).map_err(to_io)?;
        let mut data = Vec::new();
        for (expected, item) in (0u64..).zip(chunks.iter().map_err(to_io)?) {
            let (n, chunk) = item.map_err(to_io)?;
            if n.value() != expected {
                return Err(codec::invalid(format!("snapshot chunk {expected} missing")));
            }
            data.extend_from_slice(chunk.value());
        }
        Ok(Some(Snapshot {
            meta: snap_meta,
            snapshot: SnapshotData::new(data),
        }))
    }
}

fn read_applied(txn: &ReadTransaction) -> io::Result<(Option<LogId>, StoredMembership)> {
    let meta = txn.open_table(META).map_err(to_io)?;
    let last = meta.get(KEY_LAST_APPLIED).map_err(to_io)?;
    let last = last
        .map(|v| codec::from_json(v.value(), "last applied"))
        .transpose()?;
    let membership = meta.get(KEY_MEMBERSHIP).map_err(to_io)?;
    let membership = membership
        .map(|v| codec::from_json(v.value(), "membership"))
        .transpose()?
        .unwrap_or_default();
    Ok((last, membership))
}

fn read_snapshot_meta(txn: &WriteTransaction) -> io::Result<Option<SnapshotMeta>> {
    let meta = txn.open_table(META).map_err(to_io)?;
    let raw = meta.get(KEY_SNAPSHOT_META).map_err(to_io)?;
    raw.map(|v| codec::from_json(v.value(), "snapshot meta"))
        .transpose()
}

/// Replaces the stored snapshot with `meta` + `data` inside `txn`.
fn store_snapshot(txn: &WriteTransaction, meta: &SnapshotMeta, data: &[u8]) -> io::Result<()> {
    let mut chunks = txn.open_table(SNAPSHOT_CHUNKS).map_err(to_io)?;
    chunks.retain(|_, _| false).map_err(to_io)?;
    for (n, chunk) in (0u64..).zip(data.chunks(SNAPSHOT_CHUNK_SIZE)) {
        chunks.insert(n, chunk).map_err(to_io)?;
    }
    txn.open_table(META)
        .map_err(to_io)?
        .insert(KEY_SNAPSHOT_META, codec::to_json(meta)?.as_slice())
        .map_err(to_io)?;
    Ok(())
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        self.blocking("build snapshot", |db| db.build_snapshot())
            .await
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        self.blocking("applied state", |db| db.applied_state())
            .await
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        let mut batch = Vec::new();
        let mut responders = Vec::new();
        while let Some((entry, responder)) = entries.try_next().await? {
            batch.push(entry);
            responders.extend(responder);
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.blocking("apply", move |db| db.apply(batch)).await?;
        // Visible to readers (and durable in the log): now the clients may be told.
        for responder in responders {
            responder.send(());
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotData,
    ) -> Result<(), io::Error> {
        let meta = meta.clone();
        let data = snapshot.into_inner();
        self.blocking("install snapshot", move |db| {
            db.install_snapshot(&meta, &data)
        })
        .await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        self.blocking("read snapshot", |db| db.current_snapshot())
            .await
    }
}
