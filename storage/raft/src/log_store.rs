//! The Raft log and vote in `log.redb`.
//!
//! Every write is one redb transaction run on the blocking pool. `append` commits with
//! `Durability::Immediate` (fsync) and only then reports the IO as flushed. While it runs, openraft keeps
//! queueing client writes and hands them to the next `append` as one batch: that is the group commit.
//!
//! The durable tail of the log is also kept in memory (up to [`CACHE_MAX_BYTES`]), so the state machine
//! reads the entries it applies without a trip through redb and JSON.
//!
//! `save_committed` only records the committed log id in memory; the next durable commit of the file
//! (normally the next `append`) writes it. At startup openraft re-applies the entries between the state
//! machine's last applied id and this one, which the state machine needs because it applies without
//! fsync (see `state_machine`). It refers only to entries that were durable when it was saved, and redb
//! commits are ordered, so it never points past the durable log.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{EntryPayload, OptionalSend};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, WriteTransaction};
use tokio::sync::oneshot;

use crate::codec;
use crate::db::to_io;
use crate::schema::{KEY_COMMITTED, KEY_LAST_PURGED, KEY_VOTE, LOG, META};
use crate::types::{Command, Entry, LogId, TypeConfig, Vote, WireOp};

/// Durable entries the log keeps in memory for readers, at most (roughly).
const CACHE_MAX_BYTES: usize = 8 << 20;

/// Shared state of the log file.
pub(crate) struct LogDb {
    db: Database,
    path: PathBuf,
    /// Durable commits of the log file (appends, votes, truncations), for tests and benches.
    flushes: Arc<AtomicU64>,
    /// The last committed log id saved by Raft, and whether the file lacks it yet.
    committed: Mutex<Committed>,
    /// The log's durable tail.
    cache: Mutex<Cache>,
    /// Dropped together with the database, which tells `shutdown` the file is closed.
    _closed: oneshot::Sender<()>,
}

/// The committed log id as last saved.
#[derive(Default)]
struct Committed {
    latest: Option<LogId>,
    unwritten: bool,
}

/// Consecutive entries at the end of the log, all durable: every entry of the log from the first one
/// here on is here.
#[derive(Default)]
struct Cache {
    entries: VecDeque<(Entry, usize)>,
    bytes: usize,
}

impl Cache {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(e, _)| e.index())
    }

    /// Adds entries just made durable.
    fn extend(&mut self, entries: Vec<Entry>) {
        let Some(first) = entries.first().map(RaftEntry::index) else {
            return;
        };
        self.truncate_from(first);
        if self
            .entries
            .back()
            .is_some_and(|(e, _)| e.index() + 1 != first)
        {
            // Not consecutive (openraft never does this): start over rather than leave a hole.
            self.entries.clear();
            self.bytes = 0;
        }
        for entry in entries {
            let size = approx_size(&entry);
            self.bytes += size;
            self.entries.push_back((entry, size));
        }
        while self.bytes > CACHE_MAX_BYTES {
            let Some((_, size)) = self.entries.pop_front() else {
                break;
            };
            self.bytes = self.bytes.saturating_sub(size);
        }
    }

    /// Drops entries at `from` and after.
    fn truncate_from(&mut self, from: u64) {
        while let Some((e, size)) = self.entries.back() {
            if e.index() < from {
                break;
            }
            self.bytes = self.bytes.saturating_sub(*size);
            self.entries.pop_back();
        }
    }

    /// Drops entries up to and including `upto`.
    fn purge(&mut self, upto: u64) {
        while let Some((e, size)) = self.entries.front() {
            if e.index() > upto {
                break;
            }
            self.bytes = self.bytes.saturating_sub(*size);
            self.entries.pop_front();
        }
    }

    /// Clones of the cached entries in `[start, end)`.
    fn get(&self, start: u64, end: u64) -> Vec<Entry> {
        let Some(first) = self.first_index() else {
            return Vec::new();
        };
        let skip = usize::try_from(start.saturating_sub(first)).unwrap_or(usize::MAX);
        self.entries
            .iter()
            .skip(skip)
            .take_while(|(e, _)| e.index() < end)
            .map(|(e, _)| e.clone())
            .collect()
    }
}

/// Memory an entry takes in the cache, roughly.
fn approx_size(entry: &Entry) -> usize {
    let payload = match &entry.payload {
        EntryPayload::Normal(Command::Batch(ops)) => ops
            .iter()
            .map(|op| match op {
                WireOp::Put { key, value } => key.len() + value.len() + 48,
                WireOp::Delete { key } => key.len() + 24,
            })
            .sum(),
        EntryPayload::Blank | EntryPayload::Membership(_) => 256,
    };
    payload + 96
}

/// `range` as a half-open `[start, end)`.
fn half_open(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.saturating_add(1),
        Bound::Excluded(&e) => e,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

/// The log store handed to openraft; clones share one file.
#[derive(Clone)]
pub(crate) struct LogStore {
    inner: Arc<LogDb>,
}

impl LogStore {
    /// Wraps an opened, validated `log.redb`. Returns the store, its flush counter and a receiver that
    /// completes once the file is closed.
    pub(crate) fn new(
        db: Database,
        path: PathBuf,
    ) -> (Self, Arc<AtomicU64>, oneshot::Receiver<()>) {
        let flushes = Arc::new(AtomicU64::new(0));
        let (tx, rx) = oneshot::channel();
        let inner = LogDb {
            db,
            path,
            flushes: flushes.clone(),
            committed: Mutex::default(),
            cache: Mutex::default(),
            _closed: tx,
        };
        (
            Self {
                inner: Arc::new(inner),
            },
            flushes,
            rx,
        )
    }

    /// Runs `f` against the database on the blocking pool, naming the file in errors.
    async fn blocking<T, F>(&self, what: &'static str, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&LogDb) -> io::Result<T> + Send + 'static,
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

    fn write_meta(
        db: &LogDb,
        key: &'static str,
        value: &[u8],
        durability: Durability,
    ) -> io::Result<()> {
        let mut txn = db.db.begin_write().map_err(to_io)?;
        txn.set_durability(durability)
            .map_err(|e| io::Error::other(e.to_string()))?;
        txn.open_table(META)
            .map_err(to_io)?
            .insert(key, value)
            .map_err(to_io)?;
        if matches!(durability, Durability::Immediate) {
            db.commit_durably(txn)
        } else {
            txn.commit().map_err(to_io)
        }
    }

    fn read_meta<T: serde::de::DeserializeOwned>(
        db: &LogDb,
        key: &'static str,
    ) -> io::Result<Option<T>> {
        let txn = db.db.begin_read().map_err(to_io)?;
        let meta = txn.open_table(META).map_err(to_io)?;
        let value = meta.get(key).map_err(to_io)?;
        value.map(|v| codec::from_json(v.value(), key)).transpose()
    }
}

impl LogDb {
    /// Every entry in the file in `[start, end)`, bypassing the cache.
    #[cfg(test)]
    fn read_file_for_test(&self, start: u64, end: u64) -> Vec<Entry> {
        let txn = self.db.begin_read().unwrap();
        let table = txn.open_table(LOG).unwrap();
        table
            .range::<u64>(start..end)
            .unwrap()
            .map(|item| codec::decode_entry(item.unwrap().1.value()).unwrap())
            .collect()
    }

    /// Commits `txn` durably (the default durability), writing the saved committed log id along with it.
    fn commit_durably(&self, txn: WriteTransaction) -> io::Result<()> {
        let committed = {
            let mut c = self.committed.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut c.unwritten).then_some(c.latest)
        };
        let res = (|| {
            if let Some(Some(id)) = &committed {
                txn.open_table(META)
                    .map_err(to_io)?
                    .insert(KEY_COMMITTED, codec::to_json(id)?.as_slice())
                    .map_err(to_io)?;
            }
            txn.commit().map_err(to_io)
        })();
        match res {
            Ok(()) => {
                self.flushes.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                if committed.is_some() {
                    // Not written after all: the next durable commit tries again (unless newer).
                    let mut c = self.committed.lock().unwrap_or_else(|p| p.into_inner());
                    c.unwritten = true;
                }
                Err(e)
            }
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let (start, end) = half_open(&range);
        // Every entry from the cache's first index on is in the cache; only older ones need the file.
        let (cached, file_end) = {
            let cache = self.inner.cache.lock().unwrap_or_else(|p| p.into_inner());
            match cache.first_index() {
                Some(first) => (cache.get(start.max(first), end), end.min(first)),
                None => (Vec::new(), end),
            }
        };
        if start >= file_end {
            return Ok(cached);
        }
        let mut out = self
            .blocking("read log", move |db| {
                let txn = db.db.begin_read().map_err(to_io)?;
                let table = txn.open_table(LOG).map_err(to_io)?;
                let mut out = Vec::new();
                for item in table.range::<u64>(start..file_end).map_err(to_io)? {
                    let (index, bytes) = item.map_err(to_io)?;
                    let entry = codec::decode_entry(bytes.value())?;
                    if entry.index() != index.value() {
                        return Err(codec::invalid(format!(
                            "entry at {} claims index {}",
                            index.value(),
                            entry.index()
                        )));
                    }
                    out.push(entry);
                }
                Ok(out)
            })
            .await?;
        out.extend(cached);
        Ok(out)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        self.blocking("read vote", |db| Self::read_meta(db, KEY_VOTE))
            .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        self.blocking("log state", |db| {
            let last_purged: Option<LogId> = Self::read_meta(db, KEY_LAST_PURGED)?;
            let txn = db.db.begin_read().map_err(to_io)?;
            let table = txn.open_table(LOG).map_err(to_io)?;
            let last = match table.last().map_err(to_io)? {
                Some((_, bytes)) => Some(codec::decode_entry(bytes.value())?.log_id()),
                None => last_purged,
            };
            Ok(LogState {
                last_purged_log_id: last_purged,
                last_log_id: last,
            })
        })
        .await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let bytes = codec::to_json(vote)?;
        self.blocking("save vote", move |db| {
            Self::write_meta(db, KEY_VOTE, &bytes, Durability::Immediate)
        })
        .await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        // No I/O here: this runs on Raft's main loop between appends, and the next append (which
        // follows soon under load) writes it for free. Losing it in a crash only means less is
        // re-applied at startup; reads then wait for the state machine to catch up (see `RaftStore`).
        let mut c = self
            .inner
            .committed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if committed > c.latest {
            c.latest = committed;
            c.unwritten = true;
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        let latest = self
            .inner
            .committed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .latest;
        if latest.is_some() {
            return Ok(latest);
        }
        self.blocking("read committed", |db| Self::read_meta(db, KEY_COMMITTED))
            .await
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let res = self
            .blocking("append", move |db| {
                let txn = db.db.begin_write().map_err(to_io)?; // Durability::Immediate is the default
                {
                    let mut table = txn.open_table(LOG).map_err(to_io)?;
                    for entry in &entries {
                        let bytes = codec::encode_entry(entry)?;
                        table
                            .insert(entry.index(), bytes.as_slice())
                            .map_err(to_io)?;
                    }
                }
                db.commit_durably(txn)?;
                db.cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(entries);
                Ok(())
            })
            .await;
        // The entries are durable (or the write failed): only now may openraft count them as persisted.
        match res {
            Ok(()) => {
                callback.io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.io_completed(Err(io::Error::new(e.kind(), e.to_string())));
                Err(e)
            }
        }
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = last_log_id.map_or(0, |id| id.index() + 1);
        // Cache first, so it never holds an entry the file no longer has.
        self.inner
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .truncate_from(from);
        self.blocking("truncate log", move |db| {
            let txn = db.db.begin_write().map_err(to_io)?;
            txn.open_table(LOG)
                .map_err(to_io)?
                .retain_in::<u64, _>(from.., |_, _| false)
                .map_err(to_io)?;
            db.commit_durably(txn)
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let upto = log_id.index();
        let bytes = codec::to_json(&log_id)?;
        self.inner
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .purge(upto);
        self.blocking("purge log", move |db| {
            let mut txn = db.db.begin_write().map_err(to_io)?;
            // Purging is not on the write path and losing it in a crash only leaves extra entries behind,
            // so it rides along with the next durable commit instead of paying for an fsync.
            txn.set_durability(Durability::None)
                .map_err(|e| io::Error::other(e.to_string()))?;
            txn.open_table(META)
                .map_err(to_io)?
                .insert(KEY_LAST_PURGED, bytes.as_slice())
                .map_err(to_io)?;
            txn.open_table(LOG)
                .map_err(to_io)?
                .retain_in::<u64, _>(..=upto, |_, _| false)
                .map_err(to_io)?;
            txn.commit().map_err(to_io)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use openraft::storage::IOFlushed;
    use openraft::type_config::TypeConfigExt;

    use super::*;

    fn entry(term: u64, index: u64, bytes: usize) -> Entry {
        Entry::new_normal(
            openraft::testing::log_id::<TypeConfig>(term, 1, index),
            Command::Batch(vec![WireOp::Put {
                key: format!("k{index}"),
                value: vec![term as u8; bytes],
            }]),
        )
    }

    async fn append(log: &mut LogStore, entries: Vec<Entry>) {
        let (tx, rx) = TypeConfig::oneshot();
        log.append(entries, IOFlushed::signal(tx)).await.unwrap();
        rx.await.unwrap().unwrap();
    }

    fn ids(entries: &[Entry]) -> Vec<(u64, u64)> {
        entries
            .iter()
            .map(|e| (e.log_id().leader_id.term, e.index()))
            .collect()
    }

    /// Reads that start before the cached tail combine the file and the cache; truncation and purge keep
    /// both in step.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_combine_file_and_cache() {
        let dir = tempfile::tempdir().unwrap();
        let files = crate::db::open_files(dir.path(), 1).unwrap();
        let (mut log, _, _closed) = LogStore::new(files.log, files.log_path);
        append(&mut log, (1..=10).map(|i| entry(1, i, 8)).collect()).await;
        append(&mut log, (11..=20).map(|i| entry(1, i, 8)).collect()).await;
        // As if the first ten had been evicted.
        log.inner.cache.lock().unwrap().purge(10);
        assert_eq!(log.inner.cache.lock().unwrap().first_index(), Some(11));

        let got = log.try_get_log_entries(5..15).await.unwrap();
        assert_eq!(ids(&got), (5..15).map(|i| (1, i)).collect::<Vec<_>>());
        let got = log.try_get_log_entries(..).await.unwrap();
        assert_eq!(ids(&got), (1..=20).map(|i| (1, i)).collect::<Vec<_>>());

        log.truncate_after(Some(openraft::testing::log_id::<TypeConfig>(1, 1, 12)))
            .await
            .unwrap();
        append(&mut log, vec![entry(2, 13, 8)]).await;
        let got = log.try_get_log_entries(11..).await.unwrap();
        assert_eq!(ids(&got), vec![(1, 11), (1, 12), (2, 13)]);
        assert_eq!(
            log.get_log_state()
                .await
                .unwrap()
                .last_log_id
                .map(|id| id.index()),
            Some(13)
        );

        log.purge(openraft::testing::log_id::<TypeConfig>(1, 1, 11))
            .await
            .unwrap();
        let got = log.try_get_log_entries(..).await.unwrap();
        assert_eq!(ids(&got), vec![(1, 12), (2, 13)]);

        // The file agrees with the cache.
        let file = log.inner.read_file_for_test(0, u64::MAX);
        assert_eq!(ids(&file), vec![(1, 12), (2, 13)]);
    }

    #[test]
    fn cache_stays_within_budget_and_consecutive() {
        let mut cache = Cache::default();
        let big = 1 << 20;
        for i in 1..=40 {
            cache.extend(vec![entry(1, i, big)]);
        }
        assert!(cache.bytes <= CACHE_MAX_BYTES, "{} bytes", cache.bytes);
        let first = cache.first_index().unwrap();
        assert!(first > 1);
        let got = cache.get(0, u64::MAX);
        assert_eq!(ids(&got), (first..=40).map(|i| (1, i)).collect::<Vec<_>>());
        // Overwriting from an earlier index drops what followed it.
        cache.extend(vec![entry(2, 39, 8)]);
        assert_eq!(ids(&cache.get(38, u64::MAX)), vec![(1, 38), (2, 39)]);
        // A hole restarts the cache instead of leaving one.
        cache.extend(vec![entry(2, 45, 8)]);
        assert_eq!(cache.first_index(), Some(45));
    }
}
