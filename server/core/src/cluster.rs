//! What the core needs to know about the cluster it runs in; implemented by the node over raft-store.

use async_trait::async_trait;

use crate::CoreError;

/// A snapshot of this node's place in the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterStatus {
    /// Whether this node is the active (leader) node.
    pub is_leader: bool,
    /// The leader's API address, when known.
    pub leader_api_addr: Option<String>,
    /// The leader's cluster address, when known.
    pub leader_cluster_addr: Option<String>,
    /// Raft committed index (0 without raft).
    pub committed_index: u64,
    /// Raft applied index (0 without raft).
    pub applied_index: u64,
}

/// The cluster membership side of storage.
#[async_trait]
pub trait Cluster: Send + Sync + 'static {
    /// `raft` or `inmem`, as `sys/seal-status` reports it.
    fn storage_type(&self) -> &'static str;
    /// Whether the storage is highly available (raft).
    fn ha_enabled(&self) -> bool;
    /// Current leadership and replication indexes.
    fn status(&self) -> ClusterStatus;
    /// Gives up leadership if another node can take it.
    async fn step_down(&self) -> Result<(), CoreError>;
}

/// A single in-memory node: always the leader.
#[derive(Debug, Clone, Default)]
pub struct Standalone {
    /// This node's API address.
    pub api_addr: Option<String>,
}

#[async_trait]
impl Cluster for Standalone {
    fn storage_type(&self) -> &'static str {
        "inmem"
    }
    fn ha_enabled(&self) -> bool {
        false
    }
    fn status(&self) -> ClusterStatus {
        ClusterStatus {
            is_leader: true,
            leader_api_addr: self.api_addr.clone(),
            ..ClusterStatus::default()
        }
    }
    async fn step_down(&self) -> Result<(), CoreError> {
        Ok(())
    }
}
