//! Testkit for Coffer's end-to-end suites: throwaway `coffer` servers ([`TestServer`]), a raw HTTP client
//! ([`Api`]), a polling helper ([`wait_until`]), throwaway PostgreSQL and MariaDB servers ([`PgServer`],
//! [`MariaServer`]), and drivers for the real OpenBao CLI ([`Bao`]) and hvac
//! ([`Hvac`]).
//!
//! Fixtures fail the calling test loudly (panic with the server log) instead of returning errors the test would
//! only unwrap; that is why this crate allows `panic`/`expect` outside `#[cfg(test)]`.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "testkit: a broken fixture must fail the test at once, with context"
)]

pub mod bao;
pub mod bin;
pub mod db;
pub mod http;
pub mod hvac;
pub mod k8s;
pub mod net;
pub mod server;
pub mod wait;

pub use bao::{Bao, Cli, CmdOutput};
pub use bin::{coffer_bin, target_dir, workspace_dir};
pub use db::{MariaServer, PgServer};
pub use http::{Api, Resp};
pub use hvac::Hvac;
pub use net::{free_port, free_port_pair};
pub use server::{ExitOutput, InitResult, ServerBuilder, Target, TestServer, TlsFiles};
pub use wait::{poll_blocking, wait_until, wait_until_true};

/// How long a fixture waits for a server to come up, answer or exit before failing the test.
pub const FIXTURE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
