//! Locating (and if needed building) the `coffer` binary under test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// The workspace root (the parent of this crate's manifest directory).
pub fn workspace_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` (relative to the workspace when relative), else
/// `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_dir().join(dir)
            }
        }
        _ => workspace_dir().join("target"),
    }
}

/// The `coffer` binary: `COFFER_BIN` if set, else `<target>/debug/coffer`, built once per test process with
/// `cargo build -p coffer-server-node --bin coffer` when it is missing or older than the sources it is built
/// from (this crate does not depend on the binary, so `cargo test` alone would not rebuild it).
pub fn coffer_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("COFFER_BIN").filter(|b| !b.is_empty()) {
            let bin = PathBuf::from(bin);
            assert!(bin.is_file(), "COFFER_BIN={} is not a file", bin.display());
            return bin;
        }
        let bin = target_dir().join("debug").join("coffer");
        let reason = match modified(&bin) {
            None => Some("missing"),
            Some(built) if sources_newer_than(built) => Some("older than its sources"),
            Some(_) => None,
        };
        if let Some(reason) = reason {
            build_coffer(&bin, reason);
        }
        bin
    })
}

fn build_coffer(bin: &Path, reason: &str) {
    eprintln!(
        "testkit: {} is {reason}; running cargo build -p coffer-server-node --bin coffer",
        bin.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "-p", "coffer-server-node", "--bin", "coffer"])
        .current_dir(workspace_dir())
        .output()
        .expect("testkit: cannot run cargo to build the coffer binary");
    assert!(
        out.status.success(),
        "testkit: building the coffer binary failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        bin.is_file(),
        "testkit: cargo built, but {} does not exist",
        bin.display()
    );
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Whether any Rust source or manifest of the crates the server is built from changed after `built`.
fn sources_newer_than(built: SystemTime) -> bool {
    let ws = workspace_dir();
    let roots = [
        "api-spec",
        "storage",
        "auth",
        "server",
        "policy",
        "engines",
        "Cargo.toml",
        "Cargo.lock",
    ];
    roots.iter().any(|r| newer_than(&ws.join(r), built))
}

fn newer_than(path: &Path, built: SystemTime) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if meta.is_file() {
        let relevant = path
            .extension()
            .is_some_and(|e| e == "rs" || e == "toml" || e == "lock" || e == "yaml" || e == "json");
        return relevant && meta.modified().is_ok_and(|m| m > built);
    }
    if path
        .file_name()
        .is_some_and(|n| n == "target" || n == ".git")
    {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return false;
    };
    entries.flatten().any(|e| newer_than(&e.path(), built))
}
