//! The trait every secrets engine and auth method implements.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use storage::View;

use crate::{EngineError, LeaseRequest, MountInfo, PathSpec, PeriodicRequest, Request, Response};

/// Paths that bypass the usual token check.
#[derive(Debug, Clone, Default)]
pub struct SpecialPaths {
    /// Reachable without a token (login). Patterns relative to the mount; a trailing `*` is a prefix match.
    pub unauthenticated: &'static [&'static str],
    /// Need `sudo` (or root) in addition to the capability.
    pub root: &'static [&'static str],
}

/// A secrets engine or auth method. Dyn-compatible: the router holds `Arc<dyn LogicalBackend>`.
#[async_trait]
pub trait LogicalBackend: Send + Sync + 'static {
    /// The path table, checked and compiled once at mount.
    fn paths(&self) -> &'static [PathSpec];

    /// Unauthenticated and sudo-protected paths.
    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths::default()
    }

    /// Paths (relative to the mount; a trailing `*` is a prefix) whose requests issue leased secrets: a full
    /// lease-count quota refuses them before the engine creates anything.
    fn lease_paths(&self) -> &'static [&'static str] {
        &[]
    }

    /// Serves a request whose path matched `req.route`.
    async fn handle(&self, req: Request<'_>) -> Result<Response, EngineError>;

    /// For specs with `existence_check`: whether the target exists (a write to an existing one is an Update).
    async fn exists(&self, _req: Request<'_>) -> Result<bool, EngineError> {
        Ok(false)
    }

    /// Renews a lease this engine issued.
    async fn renew(&self, _lease: LeaseRequest<'_>) -> Result<Response, EngineError> {
        Err(EngineError::NotRenewable)
    }

    /// Revokes a lease this engine issued.
    async fn revoke(&self, _lease: LeaseRequest<'_>) -> Result<(), EngineError> {
        Ok(())
    }

    /// Periodic work (static-role rotation); the core calls it on the leader about every
    /// [`LogicalBackend::periodic_interval`].
    async fn periodic(&self, _req: PeriodicRequest<'_>) -> Result<(), EngineError> {
        Ok(())
    }

    /// How often [`LogicalBackend::periodic`] wants to run; `None` (the default) = never.
    fn periodic_interval(&self) -> Option<std::time::Duration> {
        None
    }

    /// Releases resources (connection pools) on unmount or seal.
    async fn cleanup(&self) {}
}

/// What a factory gets to build a backend for one mount.
#[derive(Clone)]
pub struct BackendConfig {
    /// The mount being created or restored.
    pub mount: MountInfo,
    /// The mount's private storage (for setup work such as upgrades).
    pub storage: View,
}

/// Builds a backend for a mount; registered per type name in the node's catalog.
pub type Factory =
    fn(
        BackendConfig,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<dyn LogicalBackend>, EngineError>> + Send>>;
