//! The Raft log and vote in `log.redb`.
//!
//! Every write is one redb transaction run on the blocking pool. `append` commits with
//! `Durability::Immediate` (fsync) and only then reports the IO as flushed. While it runs, openraft keeps
//! queueing client writes and hands them to the next `append` as one batch: that is the group commit.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use openraft::OptionalSend;
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use redb::{Database, Durability, ReadableDatabase, ReadableTable};
use tokio::sync::oneshot;

use crate::codec;
use crate::db::to_io;
use crate::schema::{KEY_LAST_PURGED, KEY_VOTE, LOG, META};
use crate::types::{Entry, LogId, TypeConfig, Vote};

/// Shared state of the log file.
pub(crate) struct LogDb {
    db: Database,
    path: PathBuf,
    /// Durable commits of the log file (appends, votes, truncations), for tests and benches.
    flushes: Arc<AtomicU64>,
    /// Dropped together with the database, which tells `shutdown` the file is closed.
    _closed: oneshot::Sender<()>,
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
        txn.commit().map_err(to_io)?;
        if matches!(durability, Durability::Immediate) {
            db.flushes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
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

fn bounds(range: &impl RangeBounds<u64>) -> (Bound<u64>, Bound<u64>) {
    (range.start_bound().cloned(), range.end_bound().cloned())
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let range = bounds(&range);
        self.blocking("read log", move |db| {
            let txn = db.db.begin_read().map_err(to_io)?;
            let table = txn.open_table(LOG).map_err(to_io)?;
            let mut out = Vec::new();
            for item in table.range::<u64>(range).map_err(to_io)? {
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
        .await
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

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // Encode on the caller (cheap, CPU only) so the blocking closure only does I/O.
        let mut encoded = Vec::new();
        for entry in entries {
            encoded.push((entry.index(), codec::encode_entry(&entry)?));
        }
        let res = self
            .blocking("append", move |db| {
                let txn = db.db.begin_write().map_err(to_io)?; // Durability::Immediate is the default
                {
                    let mut table = txn.open_table(LOG).map_err(to_io)?;
                    for (index, bytes) in &encoded {
                        table.insert(index, bytes.as_slice()).map_err(to_io)?;
                    }
                }
                txn.commit().map_err(to_io)?;
                db.flushes.fetch_add(1, Ordering::Relaxed);
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
        self.blocking("truncate log", move |db| {
            let txn = db.db.begin_write().map_err(to_io)?;
            txn.open_table(LOG)
                .map_err(to_io)?
                .retain_in::<u64, _>(from.., |_, _| false)
                .map_err(to_io)?;
            txn.commit().map_err(to_io)?;
            db.flushes.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let upto = log_id.index();
        let bytes = codec::to_json(&log_id)?;
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
