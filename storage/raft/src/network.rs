//! Raft RPC to other nodes.
//!
//! Multi-node clusters are not wired yet: every peer is [`Unreachable`]. A single-node cluster never calls
//! these. An HTTP transport slots in here: `NetworkFactory` will hold the client (and TLS config), and
//! `PeerClient` will post each RPC, JSON-encoded, to the peer's `BasicNode::addr`, with the receiving side
//! feeding it to `Raft::{append_entries, vote, pre_vote, install_full_snapshot, handle_transfer_leader}`.
//! Keep every openraft type on this side of that boundary.

use std::future::Future;

use openraft::errors::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, OptionalSend};

use crate::types::{Snapshot, SnapshotData, TypeConfig, Vote};

/// Builds a client per peer.
#[derive(Clone, Debug, Default)]
pub(crate) struct NetworkFactory;

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerClient {
        PeerClient {
            target,
            addr: node.addr.clone(),
        }
    }
}

/// RPC client for one peer.
#[derive(Debug)]
pub(crate) struct PeerClient {
    target: u64,
    addr: String,
}

impl PeerClient {
    fn unreachable(&self) -> Unreachable<TypeConfig> {
        Unreachable::from_string(format!(
            "raft node {} ({:?}) is unreachable: no raft transport is configured on this node",
            self.target, self.addr
        ))
    }
}

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        Err(RPCError::Unreachable(self.unreachable()))
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        Err(RPCError::Unreachable(self.unreachable()))
    }

    async fn pre_vote(
        &mut self,
        _rpc: VoteRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        Err(RPCError::Unreachable(self.unreachable()))
    }

    async fn full_snapshot(
        &mut self,
        _vote: Vote,
        _snapshot: Snapshot,
        _cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        Err(StreamingError::Unreachable(self.unreachable()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn peers_are_unreachable() {
        let mut factory = NetworkFactory;
        let mut client = factory
            .new_client(2, &BasicNode::new("10.0.0.2:8201"))
            .await;
        let vote = Vote::new(1, 1);
        let req = VoteRequest::new(vote, None);
        let err = RaftNetworkV2::vote(
            &mut client,
            req,
            RPCOption::new(std::time::Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, RPCError::Unreachable(_)), "{err}");
        assert!(err.to_string().contains("raft node 2"), "{err}");
    }
}
