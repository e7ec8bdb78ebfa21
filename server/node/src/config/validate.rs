//! Step two: raw stanzas → typed [`Config`], with OpenBao's defaults and errors that name the key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use super::error::{ConfigError, Location};
use super::raw::{
    RawAudit, RawConfig, RawListener, RawRaft, RawRetryJoin, RawSeal, RawStorage, Stanza,
};

/// Vault's `DefaultMaxRequestSize`: 32 MiB.
pub const DEFAULT_MAX_REQUEST_SIZE: u64 = 32 * 1024 * 1024;
/// Vault's `DefaultMaxRequestDuration`: 90 s.
pub const DEFAULT_MAX_REQUEST_DURATION: Duration = Duration::from_secs(90);
/// Vault's system lease TTL default (and maximum): 768h, i.e. 32 days.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(768 * 3600);
/// Default listener address.
pub const DEFAULT_ADDRESS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8200);
/// Raft node id used when neither `node_id` nor `cluster_addr` is set.
pub const DEFAULT_NODE_ID: &str = "node1";
/// OpenBao's effective `performance_multiplier` when it is 0 or unset.
pub const DEFAULT_PERFORMANCE_MULTIPLIER: u32 = 5;
/// Largest `performance_multiplier` OpenBao accepts.
pub const MAX_PERFORMANCE_MULTIPLIER: u32 = 10;

/// The validated server configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// API listeners, in file order (at least one).
    pub listeners: Vec<Listener>,
    /// The storage backend.
    pub storage: StorageConfig,
    /// How the root key is protected.
    pub seal: SealConfig,
    /// URL advertised to clients and used for standby redirects.
    pub api_addr: Option<String>,
    /// URL advertised to other nodes for cluster traffic.
    pub cluster_addr: Option<String>,
    /// Cluster name; generated at init when absent.
    pub cluster_name: Option<String>,
    /// Accepted for compatibility.
    pub disable_mlock: bool,
    /// Serve the web UI.
    pub ui: bool,
    /// Log verbosity.
    pub log_level: LogLevel,
    /// Log line format.
    pub log_format: LogFormat,
    /// System default lease TTL (≤ `max_lease_ttl`).
    pub default_lease_ttl: Duration,
    /// System maximum lease TTL.
    pub max_lease_ttl: Duration,
    /// Allow enabling audit devices through the API.
    pub unsafe_allow_api_audit_creation: bool,
    /// Allow audit devices with a `prefix` option (OpenBao's `allow_audit_log_prefixing`, default false).
    pub allow_audit_log_prefixing: bool,
    /// Declarative audit devices, in file order.
    pub audit: Vec<AuditStanza>,
    /// The lease manager's revocation pool.
    pub leases: server_core::ExpirationConfig,
}

/// One `listener "tcp"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Address to bind.
    pub address: SocketAddr,
    /// Address for cluster traffic; `None` means one port above `address` (see [`Listener::cluster_address`]).
    pub cluster_address: Option<SocketAddr>,
    /// TLS settings; `None` when `tls_disable` is true.
    pub tls: Option<TlsConfig>,
    /// Largest request body in bytes; [`Listener::NO_SIZE_LIMIT`] when `max_request_size` is negative.
    pub max_request_size: u64,
    /// Longest a request may run.
    pub max_request_duration: Duration,
}

impl Listener {
    /// `max_request_size` value meaning "no limit" (a negative value in the file, as in Vault).
    pub const NO_SIZE_LIMIT: u64 = u64::MAX;

    /// A plain-HTTP listener with default limits.
    pub fn plain(address: SocketAddr) -> Listener {
        Listener {
            address,
            cluster_address: None,
            tls: None,
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            max_request_duration: DEFAULT_MAX_REQUEST_DURATION,
        }
    }

    /// The cluster address: the configured one, else `address` with the port plus one (Vault's default).
    /// `None` only when `address` uses port 65535 and no cluster address is set.
    pub fn cluster_address(&self) -> Option<SocketAddr> {
        if let Some(addr) = self.cluster_address {
            return Some(addr);
        }
        let port = self.address.port().checked_add(1)?;
        Some(SocketAddr::new(self.address.ip(), port))
    }
}

/// A listener's TLS files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM certificate chain (leaf first).
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
    /// Lowest TLS version offered.
    pub min_version: TlsVersion,
}

/// Lowest TLS version; rustls implements only 1.2 and 1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlsVersion {
    /// `tls12` (default).
    #[default]
    Tls12,
    /// `tls13`.
    Tls13,
}

/// The storage backend.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageConfig {
    /// Integrated raft storage.
    Raft(RaftStorage),
    /// Volatile in-memory storage (dev and tests).
    InMem,
}

/// `storage "raft"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftStorage {
    /// Data directory.
    pub path: PathBuf,
    /// This node's raft id. When `node_id` is absent it is derived from `cluster_addr`'s `host:port` (unique per
    /// node in any cluster OpenBao accepts, as raft requires `cluster_addr`), else [`DEFAULT_NODE_ID`]; loading
    /// warns then, because OpenBao instead persists a generated UUID and a derived id changes with the address.
    pub node_id: String,
    /// Timing multiplier, 1 (fastest) ..= 10; an unset or 0 value is stored as 5, OpenBao's default.
    pub performance_multiplier: u32,
    /// Nodes to join through when this node is uninitialized.
    pub retry_join: Vec<RetryJoin>,
}

/// One `retry_join` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryJoin {
    /// `http(s)://host:port` of a node to join through.
    pub leader_api_addr: String,
    /// CA certificate to verify that node.
    pub leader_ca_cert_file: Option<PathBuf>,
    /// Client certificate to present.
    pub leader_client_cert_file: Option<PathBuf>,
    /// Client key.
    pub leader_client_key_file: Option<PathBuf>,
    /// Server name expected in its certificate.
    pub leader_tls_servername: Option<String>,
}

/// How the root key is protected.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SealConfig {
    /// Shamir key shares entered by operators (also when no `seal` stanza is present).
    #[default]
    Shamir,
}

/// A declarative `audit "<type>" "<path>"` device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditStanza {
    /// Device type (`file`, `socket`, `syslog`, ...).
    pub kind: String,
    /// Mount path.
    pub path: String,
    /// Free text.
    pub description: String,
    /// Replicated-locally-only flag.
    pub local: bool,
    /// Device options, values as strings.
    pub options: BTreeMap<String, String>,
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogLevel {
    /// `trace`.
    Trace,
    /// `debug`.
    Debug,
    /// `info` (also `notice`, empty).
    #[default]
    Info,
    /// `warn` (also `warning`).
    Warn,
    /// `error` (also `err`).
    Error,
}

impl LogLevel {
    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl FromStr for LogLevel {
    type Err = String;

    /// Vault's `ParseLogLevel`: case-insensitive, trimmed, with its aliases.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "trace" => LogLevel::Trace,
            "debug" => LogLevel::Debug,
            "notice" | "info" | "" => LogLevel::Info,
            "warn" | "warning" => LogLevel::Warn,
            "err" | "error" => LogLevel::Error,
            _ => {
                return Err(format!(
                    "unknown log level {s:?} (trace, debug, info, warn, error)"
                ));
            }
        })
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<LogLevel> for tracing::Level {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Trace => tracing::Level::TRACE,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Error => tracing::Level::ERROR,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Standard,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    /// Vault's `ParseLogFormat`: `standard` or `json`, case-insensitive; empty means standard.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "standard" | "" => Ok(LogFormat::Standard),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("unknown log format {s:?} (standard, json)")),
        }
    }
}

impl Config {
    /// Reads and validates a config file. Returns the config and warnings (unknown or ignored keys).
    pub fn load(path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_str(&text, &path.display().to_string())
    }

    /// Parses and validates HCL text; `file_name` names it in messages.
    #[allow(
        clippy::should_implement_trait,
        reason = "takes a file name for messages, so it cannot be FromStr"
    )]
    pub fn from_str(text: &str, file_name: &str) -> Result<(Config, Vec<String>), ConfigError> {
        let (raw, mut warnings) = RawConfig::parse(text, file_name)?;
        let unnamed_raft = raw.storage.iter().find_map(|s| match &s.body {
            RawStorage::Raft(r) if r.node_id.is_none() => Some(s.line),
            _ => None,
        });
        let config = Config::try_from(raw)?;
        if let (Some(line), StorageConfig::Raft(r)) = (unnamed_raft, &config.storage) {
            warnings.push(format!(
                "{file_name}:{line}: storage \"raft\": node_id is not set; using {:?}. Set node_id explicitly: \
                 a derived id changes when cluster_addr does",
                r.node_id
            ));
        }
        Ok((config, warnings))
    }

    /// The `-dev` server's configuration: one plain-HTTP listener, in-memory storage, Shamir seal, UI on.
    pub fn dev(listen: SocketAddr) -> Config {
        Config {
            listeners: vec![Listener::plain(listen)],
            storage: StorageConfig::InMem,
            seal: SealConfig::Shamir,
            api_addr: Some(format!("http://{listen}")),
            cluster_addr: None,
            cluster_name: None,
            disable_mlock: true,
            ui: true,
            log_level: LogLevel::Info,
            log_format: LogFormat::Standard,
            default_lease_ttl: DEFAULT_LEASE_TTL,
            max_lease_ttl: DEFAULT_LEASE_TTL,
            unsafe_allow_api_audit_creation: false,
            allow_audit_log_prefixing: false,
            audit: Vec::new(),
            leases: server_core::ExpirationConfig::default(),
        }
    }
}

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Config, ConfigError> {
        let file = raw.file.as_str();
        let top = Ctx::new(file, &raw.settings, String::new());
        let s = &raw.settings.body;

        let default_request_duration = top
            .duration(
                "default_max_request_duration",
                &s.default_max_request_duration,
            )?
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_MAX_REQUEST_DURATION);

        if raw.listeners.is_empty() {
            return Err(ConfigError::Invalid {
                location: Location {
                    file: file.to_owned(),
                    line: None,
                },
                message:
                    "no listener stanza: add listener \"tcp\" { address = \"127.0.0.1:8200\" ... }"
                        .to_owned(),
            });
        }
        let listeners = raw
            .listeners
            .iter()
            .map(|l| listener(file, l, default_request_duration))
            .collect::<Result<Vec<_>, _>>()?;

        let api_addr = top.url("api_addr", &s.api_addr)?;
        let cluster_addr = top.url("cluster_addr", &s.cluster_addr)?;
        let storage = storage(file, &raw.storage, cluster_addr.as_deref())?;
        let seal = seal(file, &raw.seals)?;
        let cluster_name = top.string("cluster_name", &s.cluster_name)?;

        let log_level = match top.string("log_level", &s.log_level)? {
            Some(v) => v
                .parse()
                .map_err(|reason: String| top.invalid("log_level", &reason))?,
            None => LogLevel::Info,
        };
        let log_format = match top.string("log_format", &s.log_format)? {
            Some(v) => v
                .parse()
                .map_err(|reason: String| top.invalid("log_format", &reason))?,
            None => LogFormat::Standard,
        };

        // 0 means "use the default", as in Vault's core.
        let default_ttl = top
            .duration("default_lease_ttl", &s.default_lease_ttl)?
            .filter(|d| !d.is_zero());
        let max_lease_ttl = top
            .duration("max_lease_ttl", &s.max_lease_ttl)?
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_LEASE_TTL);
        let mut leases = server_core::ExpirationConfig::default();
        for (key, value, slot) in [
            (
                "lease_revocation_max_attempts",
                &s.lease_revocation_max_attempts,
                &mut leases.max_attempts,
            ),
            (
                "lease_revocation_rate",
                &s.lease_revocation_rate,
                &mut leases.rate_per_sec,
            ),
        ] {
            if let Some(n) = top.int(key, value)? {
                *slot = u32::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| top.invalid(key, "must be a positive integer"))?;
            }
        }
        let default_lease_ttl = match default_ttl {
            Some(d) if d > max_lease_ttl => {
                return Err(top.invalid(
                    "default_lease_ttl",
                    &format!(
                        "{} is larger than max_lease_ttl {}",
                        api_spec::duration::format(d),
                        api_spec::duration::format(max_lease_ttl)
                    ),
                ));
            }
            Some(d) => d,
            // Vault refuses a max below the implicit 768h default; following the max is kinder.
            None => DEFAULT_LEASE_TTL.min(max_lease_ttl),
        };

        let mut audit = Vec::with_capacity(raw.audit.len());
        let mut audit_paths = BTreeSet::new();
        for stanza in &raw.audit {
            let device = audit_stanza(file, stanza)?;
            // `a` and `a/` are the same device path.
            if !audit_paths.insert(device.path.trim_matches('/').to_owned()) {
                return Err(ConfigError::Invalid {
                    location: Location {
                        file: file.to_owned(),
                        line: Some(stanza.line),
                    },
                    message: format!("audit path {:?} is used by two audit stanzas", device.path),
                });
            }
            audit.push(device);
        }

        Ok(Config {
            listeners,
            storage,
            seal,
            api_addr,
            cluster_addr,
            cluster_name,
            disable_mlock: top
                .bool("disable_mlock", &s.disable_mlock)?
                .unwrap_or(false),
            ui: top.bool("ui", &s.ui)?.unwrap_or(false),
            log_level,
            log_format,
            default_lease_ttl,
            max_lease_ttl,
            unsafe_allow_api_audit_creation: top
                .bool(
                    "unsafe_allow_api_audit_creation",
                    &s.unsafe_allow_api_audit_creation,
                )?
                .unwrap_or(false),
            allow_audit_log_prefixing: top
                .bool("allow_audit_log_prefixing", &s.allow_audit_log_prefixing)?
                .unwrap_or(false),
            audit,
            leases,
        })
    }
}

fn listener(
    file: &str,
    stanza: &Stanza<RawListener>,
    default_duration: Duration,
) -> Result<Listener, ConfigError> {
    let kind = stanza.labels.first().map_or("", String::as_str);
    let ctx = Ctx::new(file, stanza, format!("listener {kind:?}"));
    if kind != "tcp" {
        return Err(ctx.unsupported(
            None,
            &format!("listener type {kind:?} is not supported (only \"tcp\")"),
        ));
    }
    let l = &stanza.body;

    let address = ctx
        .socket_addr("address", &l.address)?
        .unwrap_or(DEFAULT_ADDRESS);
    let cluster_address = ctx.socket_addr("cluster_address", &l.cluster_address)?;

    if ctx
        .bool(
            "tls_require_and_verify_client_cert",
            &l.tls_require_and_verify_client_cert,
        )?
        .unwrap_or(false)
    {
        return Err(ctx.unsupported(
            Some("tls_require_and_verify_client_cert"),
            "tls_require_and_verify_client_cert is not supported yet; refusing to start without the client \
             certificate check you asked for",
        ));
    }
    if ctx
        .string("tls_client_ca_file", &l.tls_client_ca_file)?
        .is_some()
    {
        return Err(ctx.unsupported(
            Some("tls_client_ca_file"),
            "tls_client_ca_file (client certificate verification) is not supported yet",
        ));
    }

    // Vault: TLS is on unless explicitly disabled, and then both files are required.
    let tls_disable = ctx.bool("tls_disable", &l.tls_disable)?.unwrap_or(false);
    let tls = if tls_disable {
        None
    } else {
        let hint = "is required when TLS is enabled (set tls_disable = true to serve plain HTTP)";
        let cert_file = ctx
            .path("tls_cert_file", &l.tls_cert_file)?
            .ok_or_else(|| ctx.missing("tls_cert_file", hint))?;
        let key_file = ctx
            .path("tls_key_file", &l.tls_key_file)?
            .ok_or_else(|| ctx.missing("tls_key_file", hint))?;
        let min_version = match ctx
            .string("tls_min_version", &l.tls_min_version)?
            .as_deref()
        {
            None | Some("tls12") => TlsVersion::Tls12,
            Some("tls13") => TlsVersion::Tls13,
            Some(v @ ("tls10" | "tls11")) => {
                return Err(ctx.unsupported(
                    Some("tls_min_version"),
                    &format!("tls_min_version {v:?} is not supported (TLS 1.0 and 1.1 are insecure); use \"tls12\" or \"tls13\""),
                ));
            }
            Some(v) => {
                return Err(ctx.invalid(
                    "tls_min_version",
                    &format!("{v:?}: expected \"tls12\" or \"tls13\""),
                ));
            }
        };
        Some(TlsConfig {
            cert_file,
            key_file,
            min_version,
        })
    };

    let max_request_size = match ctx.int("max_request_size", &l.max_request_size)? {
        None | Some(0) => DEFAULT_MAX_REQUEST_SIZE,
        Some(n) => u64::try_from(n).unwrap_or(Listener::NO_SIZE_LIMIT),
    };
    let max_request_duration = ctx
        .duration("max_request_duration", &l.max_request_duration)?
        .filter(|d| !d.is_zero())
        .unwrap_or(default_duration);

    Ok(Listener {
        address,
        cluster_address,
        tls,
        max_request_size,
        max_request_duration,
    })
}

fn storage(
    file: &str,
    stanzas: &[Stanza<RawStorage>],
    cluster_addr: Option<&str>,
) -> Result<StorageConfig, ConfigError> {
    let stanza = match stanzas {
        [one] => one,
        [] => {
            return Err(ConfigError::Invalid {
                location: Location {
                    file: file.to_owned(),
                    line: None,
                },
                message: "no storage stanza: add storage \"raft\" { path = \"...\" } (or storage \"inmem\" {} for tests)"
                    .to_owned(),
            });
        }
        [_, second, ..] => {
            let lines: Vec<String> = stanzas.iter().map(|s| s.line.to_string()).collect();
            return Err(ConfigError::Invalid {
                location: Location {
                    file: file.to_owned(),
                    line: Some(second.line),
                },
                message: format!(
                    "exactly one storage stanza is allowed, found {} (lines {})",
                    stanzas.len(),
                    lines.join(", ")
                ),
            });
        }
    };
    let kind = stanza.labels.first().map_or("", String::as_str);
    let ctx = Ctx::new(file, stanza, format!("storage {kind:?}"));
    match &stanza.body {
        RawStorage::Raft(raft) => Ok(StorageConfig::Raft(raft_storage(&ctx, raft, cluster_addr)?)),
        RawStorage::InMem => Ok(StorageConfig::InMem),
        RawStorage::Other => Err(ctx.unsupported(
            None,
            &format!("storage type {kind:?} is not supported (use \"raft\" or \"inmem\")"),
        )),
    }
}

/// `host:port` of `cluster_addr`, else [`DEFAULT_NODE_ID`].
fn derived_node_id(cluster_addr: Option<&str>) -> String {
    cluster_addr
        .and_then(|url| url.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.split('/').next())
        .filter(|authority| !authority.is_empty())
        .unwrap_or(DEFAULT_NODE_ID)
        .to_owned()
}

fn raft_storage(
    ctx: &Ctx<'_>,
    raft: &RawRaft,
    cluster_addr: Option<&str>,
) -> Result<RaftStorage, ConfigError> {
    let path = ctx
        .path("path", &raft.path)?
        .ok_or_else(|| ctx.missing("path", "is required"))?;
    let node_id = match ctx.string("node_id", &raft.node_id)? {
        Some(id) if id.trim().is_empty() => return Err(ctx.invalid("node_id", "must not be empty")),
        Some(id) => id,
        None => derived_node_id(cluster_addr),
    };
    let performance_multiplier =
        match ctx.int("performance_multiplier", &raft.performance_multiplier)? {
            None | Some(0) => DEFAULT_PERFORMANCE_MULTIPLIER,
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|n| *n <= MAX_PERFORMANCE_MULTIPLIER)
                .ok_or_else(|| {
                    ctx.invalid(
                        "performance_multiplier",
                        &format!("{n}: expected 0..={MAX_PERFORMANCE_MULTIPLIER}"),
                    )
                })?,
        };
    let retry_join = raft
        .retry_join
        .clone()
        .map(super::raw::OneOrMany::into_vec)
        .unwrap_or_default()
        .iter()
        .map(|rj| retry_join(ctx, rj))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RaftStorage {
        path,
        node_id,
        performance_multiplier,
        retry_join,
    })
}

fn retry_join(parent: &Ctx<'_>, rj: &RawRetryJoin) -> Result<RetryJoin, ConfigError> {
    // Keys inside retry_join share the raft stanza's line table, so point at the retry_join line.
    let ctx = Ctx {
        file: parent.file,
        what: format!("{} retry_join", parent.what),
        key_lines: &BTreeMap::new(),
        line: parent.line_of("retry_join"),
    };
    let leader_api_addr = ctx
        .url("leader_api_addr", &rj.leader_api_addr)?
        .ok_or_else(|| {
            ctx.missing(
                "leader_api_addr",
                "is required (auto_join is not supported)",
            )
        })?;
    Ok(RetryJoin {
        leader_api_addr,
        leader_ca_cert_file: ctx.path("leader_ca_cert_file", &rj.leader_ca_cert_file)?,
        leader_client_cert_file: ctx
            .path("leader_client_cert_file", &rj.leader_client_cert_file)?,
        leader_client_key_file: ctx.path("leader_client_key_file", &rj.leader_client_key_file)?,
        leader_tls_servername: ctx.string("leader_tls_servername", &rj.leader_tls_servername)?,
    })
}

fn seal(file: &str, stanzas: &[Stanza<RawSeal>]) -> Result<SealConfig, ConfigError> {
    let stanza = match stanzas {
        [] => return Ok(SealConfig::Shamir),
        [one] => one,
        [_, second, ..] => {
            return Err(ConfigError::Unsupported {
                location: Location {
                    file: file.to_owned(),
                    line: Some(second.line),
                },
                message: "several seal stanzas (seal migration) are not supported".to_owned(),
            });
        }
    };
    let kind = stanza.labels.first().map_or("", String::as_str);
    if kind == "shamir" {
        return Ok(SealConfig::Shamir);
    }
    let ctx = Ctx::new(file, stanza, String::new());
    Err(ctx.unsupported(None, &format!("seal type {kind:?} is not supported yet")))
}

fn audit_stanza(file: &str, stanza: &Stanza<RawAudit>) -> Result<AuditStanza, ConfigError> {
    let what = format!(
        "audit{}",
        stanza
            .labels
            .iter()
            .map(|l| format!(" {l:?}"))
            .collect::<String>()
    );
    let ctx = Ctx::new(file, stanza, what);
    let a = &stanza.body;
    // As in OpenBao: `type`/`path` attributes win, else the two labels.
    let kind = ctx
        .string("type", &a.kind)?
        .or_else(|| {
            (stanza.labels.len() == 2)
                .then(|| stanza.labels.first().cloned())
                .flatten()
        })
        .ok_or_else(|| ctx.missing("type", "must be given: audit \"<type>\" \"<path>\" { ... }"))?;
    let path = ctx
        .string("path", &a.path)?
        .or_else(|| {
            (stanza.labels.len() == 2)
                .then(|| stanza.labels.get(1).cloned())
                .flatten()
        })
        .ok_or_else(|| ctx.missing("path", "must be given: audit \"<type>\" \"<path>\" { ... }"))?;
    let mut options = BTreeMap::new();
    for (key, value) in a.options.iter().flatten() {
        let value = scalar_string(value).ok_or_else(|| {
            ctx.invalid(
                "options",
                &format!("option {key:?} must be a string, number or boolean"),
            )
        })?;
        options.insert(key.clone(), value);
    }
    Ok(AuditStanza {
        kind,
        path,
        description: ctx
            .string("description", &a.description)?
            .unwrap_or_default(),
        local: ctx.bool("local", &a.local)?.unwrap_or(false),
        options,
    })
}

/// A string, number or boolean as text (HCL1 and Vault decode these weakly).
fn scalar_string(value: &hcl::Value) -> Option<String> {
    match value {
        hcl::Value::String(s) => Some(s.clone()),
        hcl::Value::Number(n) => Some(n.to_string()),
        hcl::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Short description of a value for error messages.
fn describe(value: &hcl::Value) -> String {
    match value {
        hcl::Value::Null => "null".to_owned(),
        hcl::Value::Bool(b) => b.to_string(),
        hcl::Value::Number(n) => n.to_string(),
        hcl::Value::String(s) => format!("{s:?}"),
        hcl::Value::Array(_) => "a list".to_owned(),
        hcl::Value::Object(_) => "an object".to_owned(),
    }
}

/// One stanza being validated: turns values into types and builds errors that say where and which key.
struct Ctx<'a> {
    file: &'a str,
    /// `listener "tcp"`, or empty for the top level.
    what: String,
    key_lines: &'a BTreeMap<String, usize>,
    line: usize,
}

impl<'a> Ctx<'a> {
    fn new<T>(file: &'a str, stanza: &'a Stanza<T>, what: String) -> Ctx<'a> {
        Ctx {
            file,
            what,
            key_lines: &stanza.key_lines,
            line: stanza.line,
        }
    }

    fn line_of(&self, key: &str) -> usize {
        self.key_lines.get(key).copied().unwrap_or(self.line)
    }

    fn location(&self, key: Option<&str>) -> Location {
        Location {
            file: self.file.to_owned(),
            line: Some(key.map_or(self.line, |k| self.line_of(k))),
        }
    }

    fn prefix(&self) -> String {
        if self.what.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.what)
        }
    }

    /// `listener "tcp": address "abc": invalid socket address`.
    fn invalid(&self, key: &str, reason: &str) -> ConfigError {
        ConfigError::Invalid {
            location: self.location(Some(key)),
            message: format!("{}{key} {reason}", self.prefix()),
        }
    }

    fn bad_value(&self, key: &str, value: &hcl::Value, reason: &str) -> ConfigError {
        ConfigError::Invalid {
            location: self.location(Some(key)),
            message: format!("{}{key} {}: {reason}", self.prefix(), describe(value)),
        }
    }

    fn missing(&self, key: &str, reason: &str) -> ConfigError {
        ConfigError::Invalid {
            location: self.location(None),
            message: format!("{}{key} {reason}", self.prefix()),
        }
    }

    fn unsupported(&self, key: Option<&str>, message: &str) -> ConfigError {
        ConfigError::Unsupported {
            location: self.location(key),
            message: format!("{}{message}", self.prefix()),
        }
    }

    fn string(&self, key: &str, value: &Option<hcl::Value>) -> Result<Option<String>, ConfigError> {
        match value {
            None | Some(hcl::Value::Null) => Ok(None),
            Some(v) => scalar_string(v)
                .map(Some)
                .ok_or_else(|| self.bad_value(key, v, "expected a string")),
        }
    }

    fn path(&self, key: &str, value: &Option<hcl::Value>) -> Result<Option<PathBuf>, ConfigError> {
        match self.string(key, value)? {
            None => Ok(None),
            Some(s) if s.is_empty() => Err(self.invalid(key, "must not be empty")),
            Some(s) => Ok(Some(PathBuf::from(s))),
        }
    }

    /// Go's `strconv.ParseBool` for strings, non-zero for numbers (Vault's weak decoding).
    fn bool(&self, key: &str, value: &Option<hcl::Value>) -> Result<Option<bool>, ConfigError> {
        let Some(v) = value else { return Ok(None) };
        let parsed = match v {
            hcl::Value::Null => return Ok(None),
            hcl::Value::Bool(b) => Some(*b),
            hcl::Value::Number(n) => n.as_f64().map(|f| f != 0.0),
            hcl::Value::String(s) => match s.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
                _ => None,
            },
            hcl::Value::Array(_) | hcl::Value::Object(_) => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| self.bad_value(key, v, "expected a boolean"))
    }

    /// An integer, or a string holding one.
    fn int(&self, key: &str, value: &Option<hcl::Value>) -> Result<Option<i64>, ConfigError> {
        let Some(v) = value else { return Ok(None) };
        let parsed = match v {
            hcl::Value::Null => return Ok(None),
            hcl::Value::Number(n) => n.as_i64(),
            hcl::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| self.bad_value(key, v, "expected an integer"))
    }

    /// Seconds as a number, or a duration string (`"90s"`, `"768h"`, `"3600"`).
    fn duration(
        &self,
        key: &str,
        value: &Option<hcl::Value>,
    ) -> Result<Option<Duration>, ConfigError> {
        let Some(v) = value else { return Ok(None) };
        let parsed = match v {
            hcl::Value::Null => return Ok(None),
            hcl::Value::Number(n) => match n.as_u64() {
                Some(secs) => {
                    api_spec::duration::parse(&secs.to_string()).map_err(|e| e.to_string())
                }
                None => Err(
                    "expected a non-negative whole number of seconds or a duration string"
                        .to_owned(),
                ),
            },
            hcl::Value::String(s) => api_spec::duration::parse(s).map_err(|e| e.to_string()),
            _ => Err("expected a duration such as \"30m\" or a number of seconds".to_owned()),
        };
        parsed
            .map(Some)
            .map_err(|reason| self.bad_value(key, v, &reason))
    }

    fn socket_addr(
        &self,
        key: &str,
        value: &Option<hcl::Value>,
    ) -> Result<Option<SocketAddr>, ConfigError> {
        let Some(v) = value else { return Ok(None) };
        let Some(s) = self.string(key, value)? else {
            return Ok(None);
        };
        s.trim().parse().map(Some).map_err(|_| {
            self.bad_value(
                key,
                v,
                "invalid socket address (expected IP:port, e.g. 127.0.0.1:8200 or [::]:8200)",
            )
        })
    }

    /// An `http://` or `https://` URL with a host.
    fn url(&self, key: &str, value: &Option<hcl::Value>) -> Result<Option<String>, ConfigError> {
        let Some(v) = value else { return Ok(None) };
        let Some(s) = self.string(key, value)? else {
            return Ok(None);
        };
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(Some(s)),
            _ => Err(self.bad_value(key, v, "expected a full URL such as https://10.0.0.1:8200")),
        }
    }
}
