//! Coffer's durable physical storage: a key/value state machine replicated with Raft (openraft), with the
//! Raft log and the state machine each persisted in its own redb file (`log.redb`, `sm.redb`).
//!
//! [`RaftStore`] implements [`storage::Backend`]. A write becomes one Raft entry and returns once it is
//! fsynced in the log, committed and applied to the state machine; concurrent writes share log appends
//! (group commit). The log is the durable record: the state machine commits without fsync (periodically,
//! at snapshots and at shutdown with one), and after a crash Raft re-applies what it lacks before reads
//! are served. Reads come straight from the local state machine file. A fresh directory bootstraps a
//! single-node cluster; no openraft type appears in this crate's public API.

mod codec;
mod db;
mod error;
mod log_store;
mod network;
mod schema;
mod state_machine;
mod store;
mod types;

pub use error::RaftStoreError;
pub use store::{RaftConfig, RaftStatus, RaftStore};

#[cfg(test)]
mod conformance {
    //! openraft's own log store + state machine suite, run against the redb-backed implementations.

    use openraft::StorageError;
    use openraft::testing::log::{StoreBuilder, Suite};
    use openraft::type_config::TypeConfigExt;
    use tempfile::TempDir;

    use crate::log_store::LogStore;
    use crate::state_machine::StateMachine;
    use crate::types::TypeConfig;

    struct RedbBuilder;

    impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for RedbBuilder {
        async fn build(
            &self,
        ) -> Result<(TempDir, LogStore, StateMachine), StorageError<TypeConfig>> {
            let err =
                |e: &dyn std::fmt::Display| StorageError::read(TypeConfig::err_from_string(e));
            let dir = tempfile::tempdir().map_err(|e| err(&e))?;
            let files = crate::db::open_files(dir.path(), 0).map_err(|e| err(&e))?;
            let (log, _, _) = LogStore::new(files.log, files.log_path);
            let (sm, _, _) = StateMachine::new(files.sm, files.sm_path);
            Ok((dir, log, sm))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn openraft_storage_suite() {
        Suite::test_all(RedbBuilder).await.unwrap();
    }
}
