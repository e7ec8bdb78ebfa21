//! Command-line types (clap) and vault-style flag normalization.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

use super::commands::{
    AuditCmd, AuthCmd, KvCmd, LeaseCmd, LoginArgs, PolicyCmd, SecretsCmd, TokenCmd,
};

/// Vault's default API address.
pub const DEFAULT_ADDRESS: &str = "https://127.0.0.1:8200";

/// The `coffer` command line: global client flags plus one subcommand.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "coffer",
    version,
    about = "Coffer: a Vault-compatible secrets server and client"
)]
pub struct Cli {
    /// Client flags accepted before or after the subcommand.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Client flags shared by every subcommand (vault's "HTTP Options" and output format).
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Address of the server.
    #[arg(long, global = true, env = "VAULT_ADDR", default_value = DEFAULT_ADDRESS)]
    pub address: String,
    /// PEM file of CA certificates used to verify the server (replaces the system roots).
    #[arg(long = "ca-cert", global = true, env = "VAULT_CACERT")]
    pub ca_cert: Option<PathBuf>,
    /// Disable TLS certificate verification (insecure).
    #[arg(
        long = "tls-skip-verify",
        global = true,
        env = "VAULT_SKIP_VERIFY",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = BoolishValueParser::new()
    )]
    pub tls_skip_verify: bool,
    /// Output format.
    #[arg(long, global = true, env = "VAULT_FORMAT", value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Timeout of each request (vault duration syntax; a bare integer is seconds).
    #[arg(
        long = "client-timeout",
        global = true,
        env = "VAULT_CLIENT_TIMEOUT",
        default_value = "60s",
        value_parser = parse_duration,
        hide = true
    )]
    pub client_timeout: Duration,
    /// Ask the server to wrap every response in a token with this TTL.
    #[arg(long = "wrap-ttl", global = true, env = "VAULT_WRAP_TTL", value_parser = GoDuration::parse_or_zero)]
    pub wrap_ttl: Option<GoDuration>,
}

/// Output formats supported by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned key/value tables (vault's default).
    Table,
    /// Indented JSON.
    Json,
}

/// Subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Start a coffer server.
    Server(ServerArgs),
    /// Print the seal and HA status (exit 0 unsealed, 2 sealed, 1 error).
    Status,
    /// Operator commands (init, unseal, seal, ...).
    #[command(subcommand)]
    Operator(OperatorCmd),
    /// Read data at a path.
    Read {
        /// Path to read (without the /v1/ prefix).
        path: String,
        /// Print only this field, raw.
        #[arg(long)]
        field: Option<String>,
    },
    /// Write data (`k=v`, `k=@file`, `k=-`, or `-` for a JSON object on stdin) to a path.
    Write {
        /// Path to write.
        path: String,
        /// Data as `key=value` pairs.
        kvs: Vec<String>,
        /// Allow a write with no data.
        #[arg(long, short = 'f')]
        force: bool,
        /// Print only this field of the response, raw.
        #[arg(long)]
        field: Option<String>,
    },
    /// List the keys under a path.
    List {
        /// Path to list.
        path: String,
    },
    /// Delete the data at a path.
    Delete {
        /// Path to delete.
        path: String,
    },
    /// Authenticate (token or userpass) and store the token in ~/.vault-token.
    Login(LoginArgs),
    /// Create, look up, renew and revoke tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Manage ACL policies.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Look up, renew and revoke leases.
    #[command(subcommand)]
    Lease(LeaseCmd),
    /// Enable, disable, list audit devices; verify a file device's log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Enable, tune, move and disable secrets engines.
    #[command(subcommand)]
    Secrets(SecretsCmd),
    /// Enable, tune and disable auth methods.
    #[command(subcommand)]
    Auth(AuthCmd),
    /// Work with key/value secrets (versions 1 and 2).
    #[command(subcommand)]
    Kv(KvCmd),
    /// Unwrap a response-wrapping token (the client token when absent).
    Unwrap(UnwrapArgs),
    /// Print the client version.
    Version,
}

/// Arguments of `unwrap`. `Debug` leaves out the wrapping token.
#[derive(Clone, Args)]
pub struct UnwrapArgs {
    /// `[TOKEN]`: the wrapping token.
    pub args: Vec<String>,
}

impl std::fmt::Debug for UnwrapArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnwrapArgs").finish_non_exhaustive()
    }
}

/// `coffer operator ...` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum OperatorCmd {
    /// Initialize a new server.
    Init {
        /// Number of unseal key shares.
        #[arg(long = "key-shares", short = 'n', default_value_t = 5)]
        key_shares: u32,
        /// Number of shares needed to unseal.
        #[arg(long = "key-threshold", short = 't', default_value_t = 3)]
        key_threshold: u32,
        /// Recovery key shares (auto-unseal seals only).
        #[arg(long = "recovery-shares", default_value_t = 5)]
        recovery_shares: u32,
        /// Recovery key threshold (auto-unseal seals only).
        #[arg(long = "recovery-threshold", default_value_t = 3)]
        recovery_threshold: u32,
        /// Only print whether the server is initialized (exit 0 yes, 2 no, 1 error).
        #[arg(long)]
        status: bool,
    },
    /// Submit one unseal key share (prompted for when absent).
    Unseal {
        /// The key share (hex or base64).
        key: Option<String>,
        /// Discard the shares submitted so far.
        #[arg(long)]
        reset: bool,
    },
    /// Seal the server.
    Seal,
    /// Make the active node give up leadership.
    StepDown,
    /// Print the barrier key term and install time.
    KeyStatus,
    /// Rotate the barrier encryption key.
    Rotate,
}

/// Flags of `coffer server` (run by the binary's server entry point, not by the client).
#[derive(Debug, Clone, Default, Args)]
pub struct ServerArgs {
    /// Run an in-memory, unsealed development server.
    #[arg(long)]
    pub dev: bool,
    /// Configuration files or directories (repeatable).
    #[arg(long)]
    pub config: Vec<PathBuf>,
    /// Root token id of the dev server.
    #[arg(long = "dev-root-token-id", env = "VAULT_DEV_ROOT_TOKEN_ID")]
    pub dev_root_token_id: Option<String>,
    /// Listen address of the dev server.
    #[arg(long = "dev-listen-address", env = "VAULT_DEV_LISTEN_ADDRESS")]
    pub dev_listen_address: Option<String>,
    /// Log level (trace, debug, info, warn, error).
    #[arg(long = "log-level", env = "VAULT_LOG_LEVEL")]
    pub log_level: Option<String>,
}

/// Rewrite vault's single-dash long flags (`-name`, `-name=value`) into clap's `--name` form.
///
/// Left alone: `-` (stdin), one-letter flags (`-n`), tokens already starting with `--`,
/// negative numbers, anything not starting with `-`, and everything after a bare `--`.
pub fn normalize_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut passthrough = false;
    for arg in args {
        if passthrough {
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        if is_single_dash_long_flag(text) {
            let mut rewritten = OsString::from("-");
            rewritten.push(text);
            out.push(rewritten);
        } else {
            out.push(arg);
        }
    }
    out
}

fn is_single_dash_long_flag(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('-') else {
        return false;
    };
    if rest.starts_with('-') {
        return false;
    }
    let name = rest.split_once('=').map_or(rest, |(name, _)| name);
    // A single dash plus at least two characters; `-n=3` stays a short flag.
    if name.chars().count() < 2 {
        return false;
    }
    !looks_like_number(rest)
}

fn looks_like_number(text: &str) -> bool {
    !text.is_empty()
        && text.chars().any(|c| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E')
        && text.starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

/// A Go `time.Duration` flag value in nanoseconds; may be negative (`system` is -1s, as in vault).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoDuration(pub i64);

impl GoDuration {
    /// Parse vault's duration flag syntax: a bare integer is seconds, else Go syntax with an optional sign.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let trimmed = text.trim();
        if trimmed == "system" {
            return Ok(Self(-1_000_000_000));
        }
        let (negative, unsigned) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
        };
        let duration =
            parse_duration(unsigned).map_err(|_| DurationError::Invalid(text.to_owned()))?;
        let nanos = i64::try_from(duration.as_nanos())
            .map_err(|_| DurationError::Invalid(text.to_owned()))?;
        Ok(Self(if negative { -nanos } else { nanos }))
    }

    /// Like [`Self::parse`], but empty text (an empty environment variable) is zero, i.e. unset.
    pub fn parse_or_zero(text: &str) -> Result<Self, DurationError> {
        if text.trim().is_empty() {
            return Ok(Self(0));
        }
        Self::parse(text)
    }

    /// Whole seconds, truncated toward zero.
    pub fn secs(self) -> i64 {
        self.0 / 1_000_000_000
    }

    /// Go's `Duration.String()`: `0s`, `1h0m0s`, `1m30s`, `1.5s`, `500ms`, `-1s`.
    pub fn go_string(self) -> String {
        const SEC: u64 = 1_000_000_000;
        let sign = if self.0 < 0 { "-" } else { "" };
        let u = self.0.unsigned_abs();
        if u == 0 {
            return "0s".to_owned();
        }
        if u < SEC {
            let (unit, scale, digits) = if u < 1_000 {
                ("ns", 1, 0)
            } else if u < 1_000_000 {
                ("µs", 1_000, 3)
            } else {
                ("ms", 1_000_000, 6)
            };
            return format!("{sign}{}{}{unit}", u / scale, fraction(u % scale, digits));
        }
        let secs = u / SEC;
        let seconds = format!("{}{}s", secs % 60, fraction(u % SEC, 9));
        let (h, m) = (secs / 3600, (secs / 60) % 60);
        if h > 0 {
            format!("{sign}{h}h{m}m{seconds}")
        } else if m > 0 {
            format!("{sign}{m}m{seconds}")
        } else {
            format!("{sign}{seconds}")
        }
    }
}

/// `.ddd` with trailing zeros removed (nothing when zero), for `digits` fractional digits.
fn fraction(value: u64, digits: usize) -> String {
    if value == 0 || digits == 0 {
        return String::new();
    }
    let text = format!("{value:0digits$}");
    format!(".{}", text.trim_end_matches('0'))
}

impl std::fmt::Display for GoDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.go_string())
    }
}

/// Errors of [`parse_duration`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationError {
    /// The text is not a duration.
    #[error("invalid duration {0:?}")]
    Invalid(String),
}

/// Parse a vault duration: a bare integer is seconds, otherwise Go syntax such as `90s`, `1m30s`, `1.5h`, `2d`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid(text.to_owned());
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(invalid());
    }
    if let Ok(secs) = trimmed.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0f64;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        let value: f64 = num.parse().map_err(|_| invalid())?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(invalid()),
        };
        total += value * scale;
        rest = next;
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        normalize_args(args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn normalize_rewrites_single_dash_long_flags() {
        assert_eq!(
            norm(&[
                "coffer",
                "operator",
                "unseal",
                "-reset",
                "-format=json",
                "-address=http://x:1"
            ]),
            [
                "coffer",
                "operator",
                "unseal",
                "--reset",
                "--format=json",
                "--address=http://x:1"
            ]
        );
        assert_eq!(
            norm(&["coffer", "server", "-dev", "-dev-root-token-id=root"]),
            ["coffer", "server", "--dev", "--dev-root-token-id=root"]
        );
    }

    #[test]
    fn normalize_leaves_other_tokens_alone() {
        assert_eq!(
            norm(&[
                "coffer",
                "write",
                "kv/x",
                "-",
                "a=-b",
                "-n",
                "-t=2",
                "--already",
                "-5",
                "-1.5",
                "x=-y"
            ]),
            [
                "coffer",
                "write",
                "kv/x",
                "-",
                "a=-b",
                "-n",
                "-t=2",
                "--already",
                "-5",
                "-1.5",
                "x=-y"
            ]
        );
    }

    #[test]
    fn normalize_stops_after_double_dash() {
        assert_eq!(
            norm(&["coffer", "-format=json", "read", "--", "-notaflag"]),
            ["coffer", "--format=json", "read", "--", "-notaflag"]
        );
    }

    #[test]
    fn parse_vault_style_command_lines() {
        let cli = Cli::try_parse_from(normalize_args(
            [
                "coffer",
                "-address=http://127.0.0.1:1",
                "operator",
                "init",
                "-key-shares=1",
                "-t",
                "1",
                "-format=json",
            ]
            .map(OsString::from),
        ))
        .unwrap();
        assert_eq!(cli.global.address, "http://127.0.0.1:1");
        assert_eq!(cli.global.format, OutputFormat::Json);
        let Command::Operator(OperatorCmd::Init {
            key_shares,
            key_threshold,
            status,
            ..
        }) = cli.command
        else {
            panic!("wrong command: {:?}", cli.command);
        };
        assert_eq!((key_shares, key_threshold, status), (1, 1, false));

        let cli = Cli::try_parse_from(normalize_args(
            [
                "coffer",
                "server",
                "-dev",
                "-dev-root-token-id=root",
                "-config=/a.hcl",
                "-config",
                "/b.hcl",
            ]
            .map(OsString::from),
        ))
        .unwrap();
        let Command::Server(server) = cli.command else {
            panic!("not server")
        };
        assert!(server.dev);
        assert_eq!(server.dev_root_token_id.as_deref(), Some("root"));
        assert_eq!(
            server.config,
            [PathBuf::from("/a.hcl"), PathBuf::from("/b.hcl")]
        );

        let cli = Cli::try_parse_from(normalize_args(
            [
                "coffer",
                "write",
                "-tls-skip-verify",
                "kv/a",
                "a=1",
                "-",
                "-field=x",
            ]
            .map(OsString::from),
        ))
        .unwrap();
        assert!(cli.global.tls_skip_verify);
        let Command::Write {
            path,
            kvs,
            force,
            field,
        } = cli.command
        else {
            panic!("not write")
        };
        assert_eq!(
            (path.as_str(), kvs, force, field.as_deref()),
            (
                "kv/a",
                vec!["a=1".to_owned(), "-".to_owned()],
                false,
                Some("x")
            )
        );
    }

    #[test]
    fn command_definitions_are_valid() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }

    #[test]
    fn go_durations() {
        let go = |t: &str| GoDuration::parse(t).unwrap().go_string();
        assert_eq!(go("0"), "0s");
        assert_eq!(go("1h"), "1h0m0s");
        assert_eq!(go("90"), "1m30s");
        assert_eq!(go("1.5s"), "1.5s");
        assert_eq!(go("500ms"), "500ms");
        assert_eq!(go("1500us"), "1.5ms");
        assert_eq!(go("-1"), "-1s");
        assert_eq!(go("system"), "-1s");
        assert_eq!(go("768h"), "768h0m0s");
        assert_eq!(GoDuration::parse("-90m").unwrap().secs(), -5400);
        assert!(GoDuration::parse("x").is_err());
        assert!(GoDuration::parse("").is_err());
        assert_eq!(GoDuration::parse_or_zero(" "), Ok(GoDuration(0)));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("s").is_err());
    }
}
