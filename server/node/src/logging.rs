//! Tracing subscriber setup, done once in the binary.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. `COFFER_LOG`/`RUST_LOG`-style directives in `COFFER_LOG` override `level`.
pub(crate) fn init(level: &str, format: LogFormat) {
    let filter = std::env::var("COFFER_LOG")
        .ok()
        .and_then(|d| EnvFilter::try_new(d).ok())
        .unwrap_or_else(|| EnvFilter::new(level_directive(level)));
    use std::io::IsTerminal as _;
    // Colour only for a person at a terminal (and never when NO_COLOR is set); log files stay plain.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        _ => builder.try_init(),
    };
}

/// Vault's level names → tracing's; our own crates log at the level, dependencies one step quieter.
fn level_directive(level: &str) -> String {
    let l = match level.to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "warn" | "warning" => "warn",
        "error" | "err" => "error",
        _ => "info",
    };
    format!(
        "warn,coffer={l},server_node={l},server_core={l},server_http={l},raft_store={l},barrier={l},openraft=warn"
    )
}
