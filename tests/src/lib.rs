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

/// Debugging slow e2e runs: when `COFFER_TEST_SLOW_LOG` names a file, a fixture step (an external command, a
/// server start) that took more than 5 s appends a line there. nextest hides a passing test's output, so a
/// test that passes slowly would otherwise not say which step was slow.
pub fn note_slow(what: &str, took: std::time::Duration) {
    use std::io::Write as _;
    if took < std::time::Duration::from_secs(5) {
        return;
    }
    let Some(path) = std::env::var_os("COFFER_TEST_SLOW_LOG") else {
        return;
    };
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{:.1}s {test}: {}", took.as_secs_f64(), step_name(what));
    }
}

/// The command and its subcommand/path words (`bao write auth/approle/role/ci`), without flags, `key=value`
/// arguments or positional values: those can hold test passwords and tokens, and this goes to the CI log.
fn step_name(what: &str) -> String {
    let mut words = what.split_whitespace().filter(|w| !w.starts_with('-'));
    let mut out: Vec<&str> = words.next().into_iter().collect();
    out.extend(
        words
            .take_while(|w| {
                !w.contains('=')
                    && (w.contains('/') || w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
            })
            .take(3),
    );
    out.join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn step_names_keep_paths_and_drop_values() {
        assert_eq!(
            super::step_name(
                "bao write auth/approle/role/ci token_policies=default secret_id_num_uses=1"
            ),
            "bao write auth/approle/role/ci"
        );
        assert_eq!(super::step_name("bao login s.Secret123"), "bao login");
        assert_eq!(
            super::step_name("bao read -format=json database/creds/ro"),
            "bao read database/creds/ro"
        );
        assert_eq!(super::step_name("python3 (hvac)"), "python3");
        assert_eq!(super::step_name("server start"), "server start");
    }
}
