//! The vault-compatible command line client.
//!
//! `main` parses with [`parse_cli`] (which applies [`normalize_args`]), runs `Command::Server` itself
//! and hands every other command to [`run_client`], whose return value is the process exit code.
//! Exit codes follow the vault CLI: 0 success, 1 usage/local error, 2 API error (and "sealed" for `status`).

mod args;
mod client;
mod commands;
mod format;
mod hclfmt;
mod kv;
mod secret;

#[cfg(test)]
mod bao_tests;

use std::ffi::OsString;
use std::fmt;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use zeroize::Zeroizing;

pub use args::GoDuration;
pub use args::{
    Cli, Command, DEFAULT_ADDRESS, DurationError, GlobalArgs, OperatorCmd, OutputFormat,
    ServerArgs, UnwrapArgs, normalize_args, parse_duration,
};
pub use client::{ApiClient, ApiError, ClientConfig, RawResponse, Wrapping};
pub use commands::{
    AuthCmd, KvCmd, KvMetadataCmd, LoginArgs, PolicyCmd, SecretsCmd, TokenCmd, TokenCreateArgs,
};
pub use commands::{ConfigFlags, EnableFlags};
pub use hclfmt::{FmtError, format_policy};
pub use kv::{KvError, parse_kv_args};
pub use secret::{Secret, SecretAuth};

/// Name of the token file in the home directory (the same file vault and bao use).
pub const TOKEN_FILE_NAME: &str = ".vault-token";

/// The streams a client command reads and writes.
pub struct Io<'a> {
    /// Standard input (tokens, keys, `k=-` values).
    pub stdin: &'a mut dyn BufRead,
    /// Standard output (tables, JSON).
    pub stdout: &'a mut dyn Write,
    /// Standard error (errors, warnings, prompts).
    pub stderr: &'a mut dyn Write,
}

impl Io<'_> {
    /// Write a line to stdout; a closed pipe is not worth failing over.
    pub(crate) fn out(&mut self, text: &str) {
        let _ = writeln!(self.stdout, "{text}");
    }

    /// Write text to stdout without a newline.
    pub(crate) fn out_raw(&mut self, text: &str) {
        let _ = write!(self.stdout, "{text}");
        let _ = self.stdout.flush();
    }

    /// Write a line to stderr.
    pub(crate) fn err(&mut self, text: &str) {
        let _ = writeln!(self.stderr, "{text}");
    }

    /// Write text to stderr without a newline (prompts).
    pub(crate) fn err_raw(&mut self, text: &str) {
        let _ = write!(self.stderr, "{text}");
        let _ = self.stderr.flush();
    }
}

/// What the client takes from its process besides flags; tests build it by hand.
pub struct ClientEnv {
    /// `VAULT_TOKEN`, which wins over the token file.
    pub token: Option<Zeroizing<String>>,
    /// The token file (`~/.vault-token`): read when no `VAULT_TOKEN`, written by `login`.
    pub token_file: Option<PathBuf>,
    /// Whether stdin is a terminal (prompts and hidden input).
    pub stdin_is_tty: bool,
    /// Whether stdout is a terminal (`-field` output gets a newline only then, like vault).
    pub stdout_is_tty: bool,
}

impl fmt::Debug for ClientEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientEnv")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("stdin_is_tty", &self.stdin_is_tty)
            .field("stdout_is_tty", &self.stdout_is_tty)
            .finish()
    }
}

impl ClientEnv {
    /// Read `VAULT_TOKEN` and `HOME` from the process environment.
    pub fn from_process() -> Self {
        let token = std::env::var("VAULT_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(Zeroizing::new);
        let token_file = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|home| PathBuf::from(home).join(TOKEN_FILE_NAME));
        Self {
            token,
            token_file,
            stdin_is_tty: std::io::stdin().is_terminal(),
            stdout_is_tty: std::io::stdout().is_terminal(),
        }
    }
}

/// Parse the process arguments vault-style. On failure clap's message is printed and the exit code
/// is returned: 0 for `--help`/`--version`, 1 for usage errors (vault's code, not clap's 2).
pub fn parse_cli(args: impl IntoIterator<Item = OsString>) -> Result<Cli, i32> {
    use clap::Parser as _;
    Cli::try_parse_from(normalize_args(args)).map_err(|err| {
        let _ = err.print();
        if err.use_stderr() { 1 } else { 0 }
    })
}

/// Run a client command against the process's real stdin/stdout/stderr and environment; returns the exit code.
///
/// Builds its own single-threaded tokio runtime, so call it outside any runtime.
pub fn run_client(global: &GlobalArgs, command: Command) -> i32 {
    let env = ClientEnv::from_process();
    let stdin = std::io::stdin();
    let mut stdin = stdin.lock();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let mut io = Io {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
    };
    run_client_with(global, command, &env, &mut io)
}

/// Run a client command with explicit streams and environment (blocking); returns the exit code.
pub fn run_client_with(
    global: &GlobalArgs,
    command: Command,
    env: &ClientEnv,
    io: &mut Io<'_>,
) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            io.err(&format!("Error starting the client runtime: {err}"));
            return 1;
        }
    };
    runtime.block_on(execute(global, command, env, io))
}

/// Run a client command inside an existing async context; returns the exit code.
pub async fn execute(
    global: &GlobalArgs,
    command: Command,
    env: &ClientEnv,
    io: &mut Io<'_>,
) -> i32 {
    commands::dispatch(global, command, env, io).await
}
