//! The `coffer` binary's library: configuration, the vault-compatible CLI, and server startup.

mod catalog;
pub mod cli;
mod cluster;
pub mod config;
mod logging;
pub mod server;
mod tls;
