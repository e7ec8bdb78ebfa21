//! Opening, validating and creating the two redb files. Everything here blocks: call it from
//! `spawn_blocking`.

use std::io;
use std::path::{Path, PathBuf};

use redb::{Builder, Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

use crate::codec;
use crate::error::RaftStoreError;
use crate::schema::{
    DATA_VERSION, FileKind, KEY_DATA_VERSION, KEY_FILE_KIND, KEY_LAST_APPLIED, KEY_LAST_PURGED,
    KEY_NODE_ID, KEY_SNAPSHOT_META, KV, LOG, META, SNAPSHOT_CHUNKS,
};
use crate::types::LogId;

/// redb's own page cache per file (it fills at open, when the integrity check reads every page, so it bounds the
/// resident memory of a large store). The log is read mostly right after it is written; the state machine serves
/// reads, which the kernel's page cache keeps warm beyond this.
const LOG_CACHE_BYTES: usize = 8 << 20;
const SM_CACHE_BYTES: usize = 24 << 20;

/// redb's page cache while the integrity check at open reads every page (the cache is dropped afterwards).
const CHECK_CACHE_BYTES: usize = 1 << 20;

/// Compact at open only when at least this much is dead space (and a quarter of the file).
const COMPACT_MIN_FRAGMENTED: u64 = 8 << 20;

/// Both files of a data directory, validated.
pub(crate) struct Files {
    pub(crate) log: Database,
    pub(crate) log_path: PathBuf,
    pub(crate) sm: Database,
    pub(crate) sm_path: PathBuf,
}

/// Opens (or, for a fresh directory, creates) `log.redb` and `sm.redb` in `dir` for node `node_id`.
///
/// A directory is fresh when the log file is absent or empty and the state machine holds nothing, which
/// also covers a crash during the very first open. Any other missing or empty file is corruption: a
/// state machine without its log (or the reverse) must not be served.
pub(crate) fn open_files(dir: &Path, node_id: u64) -> Result<Files, RaftStoreError> {
    std::fs::create_dir_all(dir).map_err(|e| RaftStoreError::io(dir, e))?;
    restrict_permissions(dir, 0o700)?;
    let log_path = dir.join(FileKind::Log.file_name());
    let sm_path = dir.join(FileKind::Sm.file_name());
    let log_len = file_len(&log_path)?;
    let sm_len = file_len(&sm_path)?;

    if log_len.unwrap_or(0) == 0 {
        let sm = if sm_len.unwrap_or(0) == 0 {
            create(&sm_path, FileKind::Sm, None)?
        } else {
            let sm = open_existing(&sm_path, FileKind::Sm)?;
            if !sm_is_pristine(&sm).map_err(|e| map_io(&sm_path, e))? {
                let what = if log_len.is_none() {
                    "missing"
                } else {
                    "empty (truncated?)"
                };
                return Err(RaftStoreError::corrupt(
                    &log_path,
                    format!("{what} while sm.redb holds applied data"),
                ));
            }
            sm
        };
        let log = create(&log_path, FileKind::Log, Some(node_id))?;
        sync_dir(dir)?;
        return Ok(Files {
            log,
            log_path,
            sm,
            sm_path,
        });
    }
    if sm_len.unwrap_or(0) == 0 {
        let what = if sm_len.is_none() {
            "missing"
        } else {
            "empty (truncated?)"
        };
        return Err(RaftStoreError::corrupt(
            &sm_path,
            format!("{what} while log.redb exists"),
        ));
    }

    let log = open_existing(&log_path, FileKind::Log)?;
    let stored = read_meta_u64(&log, KEY_NODE_ID).map_err(|e| map_io(&log_path, e))?;
    match stored {
        Some(id) if id == node_id => {}
        Some(id) => {
            return Err(RaftStoreError::Config(format!(
                "{} belongs to raft node {id}, not node {node_id}",
                dir.display()
            )));
        }
        None => {
            return Err(RaftStoreError::corrupt(
                &log_path,
                "no node id in meta table",
            ));
        }
    }
    let sm = open_existing(&sm_path, FileKind::Sm)?;
    Ok(Files {
        log,
        log_path,
        sm,
        sm_path,
    })
}

fn file_len(path: &Path) -> Result<Option<u64>, RaftStoreError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(Some(m.len())),
        Ok(_) => Err(RaftStoreError::corrupt(path, "not a regular file")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RaftStoreError::io(path, e)),
    }
}

fn sync_dir(dir: &Path) -> Result<(), RaftStoreError> {
    // Makes the new files' directory entries durable along with their contents.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| RaftStoreError::io(dir, e))
}

fn builder(kind: FileKind) -> Builder {
    let mut b = Builder::new();
    b.set_cache_size(match kind {
        FileKind::Log => LOG_CACHE_BYTES,
        FileKind::Sm => SM_CACHE_BYTES,
    });
    b
}

fn create(path: &Path, kind: FileKind, node_id: Option<u64>) -> Result<Database, RaftStoreError> {
    let db = builder(kind).create(path).map_err(|e| map_db(path, e))?;
    restrict_permissions(path, 0o600)?;
    let init = || -> Result<(), redb::Error> {
        let txn = db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            meta.insert(KEY_DATA_VERSION, codec::u64_bytes(DATA_VERSION).as_slice())?;
            meta.insert(KEY_FILE_KIND, kind.tag())?;
            if let Some(id) = node_id {
                meta.insert(KEY_NODE_ID, codec::u64_bytes(id).as_slice())?;
            }
            match kind {
                FileKind::Log => drop(txn.open_table(LOG)?),
                FileKind::Sm => {
                    drop(txn.open_table(KV)?);
                    drop(txn.open_table(SNAPSHOT_CHUNKS)?);
                }
            }
        }
        txn.commit()?;
        Ok(())
    };
    init().map_err(|e| map_redb(path, e))?;
    Ok(db)
}

fn open_existing(path: &Path, kind: FileKind) -> Result<Database, RaftStoreError> {
    // A plain open trusts the file and may panic on corruption: first verify every page checksum, through a
    // small cache. The check reads the whole file, and a full-size cache would keep what it read resident (a
    // 100k-lease store restarted with +68 instead of +43 MiB RSS). Then open it for use; nothing wrote in
    // between (redb locks the file, and this process opens it only here).
    {
        let mut check = Builder::new();
        check.set_cache_size(CHECK_CACHE_BYTES);
        check.set_check_integrity_on_open(true);
        drop(check.open(path).map_err(|e| map_db(path, e))?);
    }
    let mut db = builder(kind).open(path).map_err(|e| map_db(path, e))?;
    check_header(&db, path, kind)?;
    maybe_compact(&mut db, path)?;
    Ok(db)
}

fn check_header(db: &Database, path: &Path, kind: FileKind) -> Result<(), RaftStoreError> {
    let txn = db.begin_read().map_err(|e| map_redb(path, e.into()))?;
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => {
            return Err(RaftStoreError::corrupt(
                path,
                "no meta table: not a Coffer raft store file",
            ));
        }
        Err(e) => return Err(map_redb(path, e.into())),
    };
    let version = meta
        .get(KEY_DATA_VERSION)
        .map_err(|e| map_redb(path, e.into()))?;
    let Some(version) = version else {
        return Err(RaftStoreError::corrupt(
            path,
            "no data version in meta table",
        ));
    };
    let version = codec::read_u64(version.value(), "data version").map_err(|e| map_io(path, e))?;
    if version != DATA_VERSION {
        return Err(RaftStoreError::corrupt(
            path,
            format!("unknown data version {version} (this build reads version {DATA_VERSION})"),
        ));
    }
    let tag = meta
        .get(KEY_FILE_KIND)
        .map_err(|e| map_redb(path, e.into()))?;
    if tag.as_ref().map(|t| t.value()) != Some(kind.tag()) {
        return Err(RaftStoreError::corrupt(
            path,
            format!("not a {} file", kind.file_name()),
        ));
    }
    // The data tables must exist with the expected types.
    let tables = || -> Result<(), redb::Error> {
        match kind {
            FileKind::Log => drop(txn.open_table(LOG)?),
            FileKind::Sm => {
                drop(txn.open_table(KV)?);
                drop(txn.open_table(SNAPSHOT_CHUNKS)?);
            }
        }
        Ok(())
    };
    tables().map_err(|e| map_redb(path, e))
}

fn maybe_compact(db: &mut Database, path: &Path) -> Result<(), RaftStoreError> {
    let stats = {
        let txn = db.begin_write().map_err(|e| map_redb(path, e.into()))?;
        let stats = txn.stats().map_err(|e| map_redb(path, e.into()))?;
        txn.abort().map_err(|e| map_redb(path, e.into()))?;
        stats
    };
    let len = std::fs::metadata(path)
        .map_err(|e| RaftStoreError::io(path, e))?
        .len();
    let dead = stats.fragmented_bytes();
    if dead >= COMPACT_MIN_FRAGMENTED && dead.saturating_mul(4) >= len {
        tracing::info!(file = %path.display(), dead_bytes = dead, file_bytes = len, "compacting raft store file");
        db.compact().map_err(|e| map_redb(path, e.into()))?;
    }
    Ok(())
}

fn read_meta_u64(db: &Database, key: &str) -> io::Result<Option<u64>> {
    let txn = db.begin_read().map_err(to_io)?;
    let meta = txn.open_table(META).map_err(to_io)?;
    let value = meta.get(key).map_err(to_io)?;
    value.map(|v| codec::read_u64(v.value(), key)).transpose()
}

/// Index of the last entry `log.redb` holds (or has purged), 0 for an empty log.
pub(crate) fn log_last_index(db: &Database) -> io::Result<u64> {
    let txn = db.begin_read().map_err(to_io)?;
    let log = txn.open_table(LOG).map_err(to_io)?;
    if let Some((index, _)) = log.last().map_err(to_io)? {
        return Ok(index.value());
    }
    let meta = txn.open_table(META).map_err(to_io)?;
    let purged = meta.get(KEY_LAST_PURGED).map_err(to_io)?;
    let purged: Option<LogId> = purged
        .map(|v| codec::from_json(v.value(), KEY_LAST_PURGED))
        .transpose()?;
    Ok(purged.map_or(0, |id| id.index()))
}

/// True when the state machine has never applied anything (a first open that crashed half-way).
fn sm_is_pristine(db: &Database) -> io::Result<bool> {
    let txn = db.begin_read().map_err(to_io)?;
    let meta = txn.open_table(META).map_err(to_io)?;
    let kv = txn.open_table(KV).map_err(to_io)?;
    Ok(meta.get(KEY_LAST_APPLIED).map_err(to_io)?.is_none()
        && meta.get(KEY_SNAPSHOT_META).map_err(to_io)?.is_none()
        && kv.is_empty().map_err(to_io)?)
}

/// Maps a redb error raised while a file is in use to `io::Error` for openraft: corruption becomes
/// `InvalidData`, I/O stays itself.
pub(crate) fn to_io(e: impl Into<redb::Error>) -> io::Error {
    match e.into() {
        redb::Error::Io(e) => e,
        redb::Error::Corrupted(m) => {
            io::Error::new(io::ErrorKind::InvalidData, format!("redb: corrupted: {m}"))
        }
        e @ (redb::Error::TableTypeMismatch { .. }
        | redb::Error::TableDoesNotExist(_)
        | redb::Error::TypeDefinitionChanged { .. }) => {
            io::Error::new(io::ErrorKind::InvalidData, format!("redb: {e}"))
        }
        e => io::Error::other(format!("redb: {e}")),
    }
}

fn map_io(path: &Path, e: io::Error) -> RaftStoreError {
    if e.kind() == io::ErrorKind::InvalidData {
        RaftStoreError::corrupt(path, e.to_string())
    } else {
        RaftStoreError::io(path, e)
    }
}

fn map_db(path: &Path, e: redb::DatabaseError) -> RaftStoreError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen | redb::DatabaseError::LockProtocolMismatch => {
            RaftStoreError::InUse {
                path: path.to_owned(),
            }
        }
        redb::DatabaseError::RepairAborted => RaftStoreError::corrupt(path, "redb repair aborted"),
        redb::DatabaseError::UpgradeRequired(v) => RaftStoreError::corrupt(
            path,
            format!("redb file format {v} is not supported by this build"),
        ),
        e => map_redb(path, e.into()),
    }
}

fn map_redb(path: &Path, e: redb::Error) -> RaftStoreError {
    match e {
        redb::Error::DatabaseAlreadyOpen => RaftStoreError::InUse {
            path: path.to_owned(),
        },
        e => map_io(path, to_io(e)),
    }
}

/// Storage keys are readable in these files (values are ciphertext), so only the server's user may open them,
/// as OpenBao does with its raft files.
fn restrict_permissions(path: &Path, mode: u32) -> Result<(), RaftStoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| RaftStoreError::io(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_then_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let files = open_files(dir.path(), 7).unwrap();
        drop(files);
        let files = open_files(dir.path(), 7).unwrap();
        drop(files);
        let err = open_files(dir.path(), 8).err().unwrap();
        assert!(
            matches!(err, RaftStoreError::Config(ref m) if m.contains("node 7")),
            "{err}"
        );
    }

    #[test]
    fn second_open_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let _files = open_files(dir.path(), 1).unwrap();
        let err = open_files(dir.path(), 1).err().unwrap();
        assert!(matches!(err, RaftStoreError::InUse { .. }), "{err}");
    }

    #[test]
    fn unknown_version_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let files = open_files(dir.path(), 1).unwrap();
        let txn = files.sm.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert(KEY_DATA_VERSION, codec::u64_bytes(99).as_slice())
            .unwrap();
        txn.commit().unwrap();
        drop(files);
        let err = open_files(dir.path(), 1).err().unwrap();
        let msg = err.to_string();
        assert!(matches!(err, RaftStoreError::Corrupt { .. }), "{msg}");
        assert!(
            msg.contains("sm.redb") && msg.contains("data version 99"),
            "{msg}"
        );
    }

    #[test]
    fn swapped_files_rejected() {
        let dir = tempfile::tempdir().unwrap();
        drop(open_files(dir.path(), 1).unwrap());
        let log = dir.path().join("log.redb");
        let sm = dir.path().join("sm.redb");
        let tmp = dir.path().join("tmp");
        std::fs::rename(&log, &tmp).unwrap();
        std::fs::rename(&sm, &log).unwrap();
        std::fs::rename(&tmp, &sm).unwrap();
        let err = open_files(dir.path(), 1).err().unwrap();
        assert!(
            matches!(
                err,
                RaftStoreError::Corrupt { .. } | RaftStoreError::Config(_)
            ),
            "{err}"
        );
    }

    #[test]
    fn missing_log_with_data_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let files = open_files(dir.path(), 1).unwrap();
        let txn = files.sm.begin_write().unwrap();
        txn.open_table(KV)
            .unwrap()
            .insert("k", b"v".as_slice())
            .unwrap();
        txn.commit().unwrap();
        drop(files);
        std::fs::remove_file(dir.path().join("log.redb")).unwrap();
        let err = open_files(dir.path(), 1).err().unwrap();
        assert!(
            matches!(err, RaftStoreError::Corrupt { ref path, .. } if path.ends_with("log.redb")),
            "{err}"
        );
    }

    #[test]
    fn interrupted_first_open_recovers() {
        let dir = tempfile::tempdir().unwrap();
        drop(open_files(dir.path(), 1).unwrap());
        // As if the first open crashed after creating sm.redb but before log.redb.
        std::fs::remove_file(dir.path().join("log.redb")).unwrap();
        drop(open_files(dir.path(), 1).unwrap());
    }
}
