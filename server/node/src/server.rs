//! `coffer server`: load the config, open storage, build the core, serve every listener until a signal.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use server_core::{Cluster, Core, CoreOptions, Standalone};
use storage::Backend;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cli::ServerArgs;
use crate::cluster::RaftCluster;
use crate::config::{Config, StorageConfig};
use crate::{logging, tls};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The configuration is invalid.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// Command-line flags contradict each other.
    #[error("{0}")]
    Usage(String),
    /// Storage could not be opened.
    #[error("storage: {0}")]
    Storage(String),
    /// The core could not start.
    #[error("core: {0}")]
    Core(#[from] server_core::CoreError),
    /// A listener could not be set up.
    #[error("listener {addr}: {reason}")]
    Listener {
        /// The configured address.
        addr: SocketAddr,
        /// What went wrong.
        reason: String,
    },
    /// TLS material could not be loaded.
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
}

/// The default dev listener, as Vault's.
const DEV_LISTEN: &str = "127.0.0.1:8200";

/// Entry point of `coffer server`.
pub async fn main(args: ServerArgs) -> Result<(), NodeError> {
    let config = load_config(&args)?;
    logging::init(
        args.log_level
            .as_deref()
            .unwrap_or(config.log_level.as_str()),
        config.log_format,
    );
    for w in &config_warnings(&args) {
        tracing::warn!("{w}");
    }
    // A dev server has no file to re-read on SIGHUP.
    let reload_from = if args.dev {
        None
    } else {
        args.config.first().cloned()
    };
    serve(
        config,
        args.dev.then_some(args.dev_root_token_id.as_deref()),
        reload_from,
        shutdown_signal(),
    )
    .await
}

fn load_config(args: &ServerArgs) -> Result<Config, NodeError> {
    if args.dev {
        let listen = args.dev_listen_address.as_deref().unwrap_or(DEV_LISTEN);
        let addr: SocketAddr = listen.parse().map_err(|_| {
            NodeError::Usage(format!(
                "-dev-listen-address {listen:?} is not a host:port address"
            ))
        })?;
        return Ok(Config::dev(addr));
    }
    match args.config.as_slice() {
        [] => Err(NodeError::Usage(
            "a configuration file must be given with -config (or use -dev)".into(),
        )),
        [one] => Ok(Config::load(one)?.0),
        _ => Err(NodeError::Usage(
            "only one -config file is supported".into(),
        )),
    }
}

/// Warnings are collected before logging is set up, so load once more only to report them.
fn config_warnings(args: &ServerArgs) -> Vec<String> {
    match (args.dev, args.config.first()) {
        (false, Some(path)) => Config::load(path).map(|(_, w)| w).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Runs a server from a validated config until `shutdown` resolves. `dev` carries the chosen root token id
/// (or `None` for a random one) when the server runs in dev mode.
pub async fn run(
    config: Config,
    dev: Option<Option<&str>>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), NodeError> {
    serve(config, dev, None, shutdown).await
}

/// [`run`], re-reading `reload_from` (the file `config` came from) on SIGHUP.
async fn serve(
    config: Config,
    dev: Option<Option<&str>>,
    reload_from: Option<PathBuf>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), NodeError> {
    let (physical, cluster, raft): (
        Arc<dyn Backend>,
        Arc<dyn Cluster>,
        Option<raft_store::RaftStore>,
    ) = match &config.storage {
        StorageConfig::InMem => (
            Arc::new(storage::InMem::new()),
            Arc::new(Standalone {
                api_addr: config.api_addr.clone(),
            }),
            None,
        ),
        StorageConfig::Raft(r) => {
            let node_id = numeric_node_id(&r.node_id);
            let store = raft_store::RaftStore::open(raft_store::RaftConfig {
                dir: PathBuf::from(&r.path),
                node_id,
                performance_multiplier: r.performance_multiplier,
            })
            .await
            .map_err(|e| NodeError::Storage(e.to_string()))?;
            let cluster = RaftCluster::new(
                store.clone(),
                config.api_addr.clone(),
                config.cluster_addr.clone(),
            );
            (Arc::new(store.clone()), Arc::new(cluster), Some(store))
        }
    };
    // Dev servers are for trying things out: their audit devices may be enabled through the API.
    let audit = config.reloadable(dev.is_some());
    let core = Core::new(
        physical,
        cluster,
        CoreOptions {
            cluster_name: config.cluster_name.clone(),
            api_addr: config.api_addr.clone(),
            cluster_addr: config.cluster_addr.clone(),
            catalog: std::sync::Arc::new(crate::catalog::builtin()),
            default_lease_ttl: config.default_lease_ttl,
            max_lease_ttl: config.max_lease_ttl,
            expiration: config.leases,
            allow_api_audit_creation: audit.allow_api_audit_creation,
            allow_audit_log_prefixing: audit.allow_audit_log_prefixing,
            declared_audit: audit.declared_audit,
            ..CoreOptions::default()
        },
    )
    .await?;
    spawn_hangup_handler(core.clone(), config.clone(), reload_from);

    // Dev mode is ready (unsealed, root token and secret/ in place) before any listener answers.
    if let Some(root_token_id) = dev {
        let (key, token) = core.dev_init(root_token_id).await?;
        let scheme = if config.listeners.first().is_some_and(|l| l.tls.is_some()) {
            "https"
        } else {
            "http"
        };
        let addr = config
            .listeners
            .first()
            .map(|l| l.address.to_string())
            .unwrap_or_default();
        print_dev_banner(&format!("{scheme}://{addr}"), &key, &token);
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut servers = Vec::new();
    for l in &config.listeners {
        let listener = TcpListener::bind(l.address)
            .await
            .map_err(|e| NodeError::Listener {
                addr: l.address,
                reason: e.to_string(),
            })?;
        let tls = match &l.tls {
            Some(t) => Some(tls::server_config(t)?),
            None => None,
        };
        let local = listener.local_addr().map_err(|e| NodeError::Listener {
            addr: l.address,
            reason: e.to_string(),
        })?;
        tracing::info!(address = %local, tls = tls.is_some(), "listening");
        let router = server_http::router(
            core.clone(),
            server_http::Limits {
                max_request_size: usize::try_from(l.max_request_size).unwrap_or(usize::MAX),
                max_request_duration: l.max_request_duration,
            },
        );
        let mut rx = stop_rx.clone();
        servers.push(tokio::spawn(server_http::serve(
            listener,
            tls,
            router,
            async move {
                let _ = rx.wait_for(|stop| *stop).await;
            },
        )));
    }

    tracing::info!(version = api_spec::VERSION, storage = ?storage_kind(&config), "coffer server started");

    shutdown.await;
    tracing::info!("shutting down: draining in-flight requests");
    let _ = stop_tx.send(true);
    for s in servers {
        match s.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "listener stopped with an error"),
            Err(e) => tracing::error!(error = %e, "listener task failed"),
        }
    }
    if let Some(store) = raft {
        store
            .shutdown()
            .await
            .map_err(|e| NodeError::Storage(e.to_string()))?;
    }
    tracing::info!("shutdown complete");
    Ok(())
}

fn storage_kind(c: &Config) -> &'static str {
    match c.storage {
        StorageConfig::InMem => "inmem",
        StorageConfig::Raft(_) => "raft",
    }
}

/// Raft needs a numeric id; OpenBao's node ids are strings. A numeric string is used as is, anything else is
/// hashed (stable across restarts, which is all a single node needs; the cluster issue maps ids explicitly).
fn numeric_node_id(id: &str) -> u64 {
    if let Ok(n) = id.parse::<u64>() {
        return n;
    }
    // FNV-1a: stable, dependency-free.
    id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn print_dev_banner(addr: &str, unseal_key: &str, root_token: &str) {
    use std::io::Write as _;
    let banner = format!(
        "WARNING! dev mode is enabled! In this mode, Coffer runs entirely in-memory
and starts unsealed with a single unseal key. The root token is already
authenticated to the CLI, so you can immediately begin using Coffer.

You may need to set the following environment variables:

    $ export VAULT_ADDR='{addr}'

The unseal key and root token are displayed below in case you want to
seal/unseal the Vault or re-authenticate.

Unseal Key: {unseal_key}
Root Token: {root_token}

Development mode should NOT be used in production installations!
"
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(banner.as_bytes());
    let _ = out.flush();
}

/// SIGHUP, as in OpenBao: re-reads the config file the server started with (when it has one) and applies its
/// audit settings, then reopens the audit files (after logrotate moved them).
fn spawn_hangup_handler(core: Arc<Core>, running: Config, reload_from: Option<PathBuf>) {
    // Registered before returning, so a SIGHUP right after start does not kill the process.
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; audit files will not be reopened on it");
        return;
    };
    tokio::spawn(async move {
        let mut running = running;
        while hup.recv().await.is_some() {
            match &reload_from {
                Some(path) => {
                    tracing::info!(path = %path.display(), "SIGHUP: reloading the configuration and reopening audit files");
                    running = reload(&core, running, path).await;
                }
                None => tracing::info!("SIGHUP: reopening audit files"),
            }
            core.reopen_audit_files();
        }
    });
}

/// Re-reads `path` and applies what a running server can (only the audit settings: the `audit` stanzas,
/// `unsafe_allow_api_audit_creation` and `allow_audit_log_prefixing`; everything else needs a restart).
/// Returns the configuration now running: `running` itself when the file does not load.
async fn reload(core: &Core, running: Config, path: &Path) -> Config {
    let (newer, warnings) = match Config::load(path) {
        Ok(loaded) => loaded,
        Err(e) => {
            tracing::error!(error = %e, "SIGHUP: the configuration file is invalid; the running configuration is kept");
            return running;
        }
    };
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let restart_only = running.restart_only_changes(&newer);
    if !restart_only.is_empty() {
        tracing::info!(
            keys = %restart_only.join(", "),
            "SIGHUP: changed settings not applied; they take effect after a restart"
        );
    }
    let applied = running.with_reloaded(&newer);
    let report = core.reload_config(applied.reloadable(false)).await;
    tracing::info!(
        enabled = ?report.enabled,
        disabled = ?report.disabled,
        adopted = ?report.adopted,
        problems = report.errors.len(),
        "SIGHUP: audit settings applied"
    );
    applied
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_ids_are_stable() {
        assert_eq!(super::numeric_node_id("7"), 7);
        assert_eq!(
            super::numeric_node_id("node1"),
            super::numeric_node_id("node1")
        );
        assert_ne!(
            super::numeric_node_id("node1"),
            super::numeric_node_id("node2")
        );
    }
}
