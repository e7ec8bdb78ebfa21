//! Side-by-side load harness: starts Coffer and OpenBao on this machine, runs the same figures
//! against both, and prints each figure, p50/p99 and Coffer's advantage.
//!
//! `cargo run -p coffer-benches --release --bin load -- --help`

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use coffer_benches::db::DbOptions;
use coffer_benches::harness::{self, Config};
use coffer_benches::workload::LoadOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Only {
    Coffer,
    Openbao,
}

/// Measure Coffer and OpenBao side by side (start time, idle RSS, request rates).
#[derive(Debug, Parser)]
#[command(name = "load")]
struct Args {
    /// Coffer binary [default: target/release/coffer, from the current dir or the workspace].
    #[arg(long)]
    coffer: Option<PathBuf>,
    /// OpenBao binary (path, or name looked up on PATH).
    #[arg(long, default_value = "bao")]
    bao: PathBuf,
    /// Run only one side.
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// Figures to run, comma-separated [default: all but lease-restore; see the README].
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<String>,
    /// Measured seconds per load workload.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Unmeasured warm-up seconds before each load workload.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Concurrent clients (one keep-alive connection each) for load workloads.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Cap on requests per load workload, a backstop to --duration.
    #[arg(long, default_value_t = 50_000_000)]
    max_requests: u64,
    /// Start-time runs per server (the median is reported).
    #[arg(long, default_value_t = 5)]
    start_runs: usize,
    /// Seconds to idle after unseal before reading RSS.
    #[arg(long, default_value_t = 2.0)]
    idle: f64,
    /// Seconds of the fsync baseline loop.
    #[arg(long, default_value_t = 2.0)]
    fsync_duration: f64,
    /// Worker threads of the client runtime [default: one per core].
    #[arg(long)]
    client_threads: Option<usize>,
    /// Where server data dirs and the fsync test file go [default: the system temp dir].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Concurrent clients of the database figures (pg-creds, mysql-creds, revoke-one, pgbench-baseline).
    #[arg(long, default_value_t = DbOptions::default().concurrency)]
    db_concurrency: usize,
    /// Credentials issued before revoke-one and revoke-prefix.
    #[arg(long, default_value_t = DbOptions::default().revoke_leases)]
    revoke_leases: usize,
    /// Live leases created for lease-restore.
    #[arg(long, default_value_t = DbOptions::default().leases)]
    leases: usize,
}

fn secs(name: &str, v: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(v)
        .with_context(|| format!("--{name} must be a non-negative number of seconds"))
}

fn default_coffer() -> PathBuf {
    let local = PathBuf::from("target/release/coffer");
    if local.is_file() {
        return local;
    }
    let workspace = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/release/coffer"
    ));
    if workspace.is_file() {
        workspace
    } else {
        local
    }
}

fn config(args: Args) -> Result<Config> {
    let known = harness::all_figures();
    let figures = if args.workloads.is_empty() {
        harness::default_figures()
    } else {
        args.workloads
    };
    for f in &figures {
        if !known.contains(f) {
            bail!("unknown workload {f:?}; known: {}", known.join(","));
        }
    }
    let client_threads = args
        .client_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    if [
        args.concurrency,
        client_threads,
        args.start_runs,
        args.db_concurrency,
        args.revoke_leases,
        args.leases,
    ]
    .contains(&0)
    {
        bail!(
            "--concurrency, --client-threads, --start-runs, --db-concurrency, --revoke-leases and --leases must be at least 1"
        );
    }
    Ok(Config {
        coffer: (args.only != Some(Only::Openbao))
            .then(|| args.coffer.unwrap_or_else(default_coffer)),
        openbao: (args.only != Some(Only::Coffer)).then_some(args.bao),
        figures,
        start_runs: args.start_runs,
        idle: secs("idle", args.idle)?,
        load: LoadOptions {
            concurrency: args.concurrency,
            warmup: secs("warmup", args.warmup)?,
            duration: secs("duration", args.duration)?,
            max_requests: args.max_requests,
        },
        fsync_duration: secs("fsync-duration", args.fsync_duration)?,
        data_dir: args.data_dir.unwrap_or_else(std::env::temp_dir),
        client_threads,
        db: DbOptions {
            concurrency: args.db_concurrency,
            revoke_leases: args.revoke_leases,
            leases: args.leases,
        },
    })
}

fn main() -> Result<()> {
    let cfg = config(Args::parse())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.client_threads)
        .enable_all()
        .build()
        .context("build tokio runtime")?;
    let report = rt.block_on(async {
        tokio::select! {
            r = harness::run(&cfg) => r.map(Some),
            // Dropping the run kills the servers (kill_on_drop) and removes their temp dirs.
            _ = tokio::signal::ctrl_c() => Ok(None),
        }
    })?;
    match report {
        Some(r) => print!("{}", r.render()),
        None => println!("interrupted; servers stopped"),
    }
    Ok(())
}
