//! The core's view of a raft cluster.

use async_trait::async_trait;
use raft_store::RaftStore;
use server_core::{Cluster, ClusterStatus, CoreError};

/// [`Cluster`] over a [`RaftStore`].
pub(crate) struct RaftCluster {
    store: RaftStore,
    api_addr: Option<String>,
    cluster_addr: Option<String>,
}

impl RaftCluster {
    pub(crate) fn new(
        store: RaftStore,
        api_addr: Option<String>,
        cluster_addr: Option<String>,
    ) -> Self {
        Self {
            store,
            api_addr,
            cluster_addr,
        }
    }
}

#[async_trait]
impl Cluster for RaftCluster {
    fn storage_type(&self) -> &'static str {
        "raft"
    }
    fn ha_enabled(&self) -> bool {
        true
    }
    fn status(&self) -> ClusterStatus {
        let s = self.store.status();
        // Until nodes advertise their addresses to each other (cluster issue), only our own is known.
        let (api, cluster) = if s.is_leader {
            (self.api_addr.clone(), self.cluster_addr.clone())
        } else {
            (None, None)
        };
        ClusterStatus {
            is_leader: s.is_leader,
            leader_api_addr: api,
            leader_cluster_addr: cluster,
            committed_index: s.committed_index,
            applied_index: s.applied_index,
        }
    }
    async fn step_down(&self) -> Result<(), CoreError> {
        self.store
            .step_down()
            .await
            .map_err(|e| CoreError::Unavailable(e.to_string()))
    }
}
