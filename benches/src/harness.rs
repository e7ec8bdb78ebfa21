//! Runs every selected figure against Coffer and OpenBao and assembles the [`Report`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::measure::{self, FsyncBaseline, median, percentile};
use crate::report::{Better, Cell, Measured, Report, Row};
use crate::server::{self, Mode, Server, ServerBin};
use crate::workload::{LoadOptions, LoadResult, Target, load_workloads, run_load};

/// Figures that are not HTTP load workloads.
pub const FIXED_FIGURES: &[&str] = &["start", "start-durable", "rss", "fsync"];

/// How long a server may take to answer at all before the attempt counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Coffer's advantage asked for by the issue, per figure.
fn target_for(figure: &str) -> Option<f64> {
    match figure {
        "start" => Some(10.0),
        "rss" => Some(5.0),
        "health" => Some(2.5),
        "kv-write" => Some(5.0),
        "kv-read" | "token-lookup-self" => Some(3.0),
        "token-create" => Some(5.0),
        _ => None,
    }
}

/// Every figure name the harness knows, in report order.
#[must_use]
pub fn all_figures() -> Vec<String> {
    let mut v: Vec<String> = FIXED_FIGURES.iter().map(|s| (*s).to_owned()).collect();
    v.extend(load_workloads().iter().map(|w| w.name().to_owned()));
    v
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Coffer binary; `None` when not selected.
    pub coffer: Option<PathBuf>,
    /// OpenBao binary (path or name on PATH); `None` when not selected.
    pub openbao: Option<PathBuf>,
    /// Selected figure names (see [`all_figures`]).
    pub figures: Vec<String>,
    /// Start-time runs per server (median reported).
    pub start_runs: usize,
    /// Idle time after unseal before reading RSS.
    pub idle: Duration,
    /// Shape of each load run.
    pub load: LoadOptions,
    /// Length of the fsync baseline loop.
    pub fsync_duration: Duration,
    /// Directory under which server data dirs and the fsync file are created.
    pub data_dir: PathBuf,
    /// Client runtime worker threads (reported next to client CPU).
    pub client_threads: usize,
}

impl Config {
    fn wants(&self, figure: &str) -> bool {
        self.figures.iter().any(|f| f == figure)
    }
}

/// One server's results, keyed by figure name.
#[derive(Default)]
struct SideResults {
    cells: Vec<(String, Cell)>,
    notes: Vec<String>,
}

impl SideResults {
    fn set(&mut self, figure: &str, cell: Cell) {
        self.cells.push((figure.to_owned(), cell));
    }

    fn take(&mut self, figure: &str) -> Cell {
        self.cells
            .iter()
            .position(|(f, _)| f == figure)
            .map_or(Cell::NotRun, |i| self.cells.swap_remove(i).1)
    }

    fn fail_all(&mut self, figures: &[String], why: &str) {
        for f in figures.iter().filter(|f| f.as_str() != "fsync") {
            self.set(f, Cell::Failed(why.to_owned()));
        }
    }
}

fn value(v: f64) -> Cell {
    Cell::Value(Measured {
        value: v,
        p50_ms: None,
        p99_ms: None,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs everything in `cfg` and returns the report.
pub async fn run(cfg: &Config) -> Result<Report> {
    server::install_crypto_provider();
    let http = server::control_client()?;
    let mut report = Report::default();
    report.notes.push(machine_note(cfg));

    if cfg.wants("fsync") {
        let dir = cfg.data_dir.clone();
        let dur = cfg.fsync_duration;
        let res =
            tokio::task::spawn_blocking(move || measure::fsync_baseline(&dir, dur, 10_000_000))
                .await
                .context("fsync baseline task")?;
        report.notes.push(match res {
            Ok(b) => fsync_note(&b, &cfg.data_dir),
            Err(e) => format!("fsync baseline FAILED: {e:#}"),
        });
    }

    let mut coffer = SideResults::default();
    let mut openbao = SideResults::default();
    for (label, program, side) in [
        ("coffer", &cfg.coffer, &mut coffer),
        ("openbao", &cfg.openbao, &mut openbao),
    ] {
        let Some(program) = program else { continue };
        match server::resolve_program(program) {
            None => {
                let why = format!(
                    "binary {} not found (build it, or pass its path)",
                    program.display()
                );
                side.fail_all(&cfg.figures, &why);
            }
            Some(resolved) => {
                let bin = ServerBin {
                    label: label.to_owned(),
                    program: resolved,
                };
                measure_side(cfg, &http, bin, side).await;
            }
        }
    }

    for figure in &cfg.figures {
        if figure == "fsync" {
            continue;
        }
        let (unit, better) = match figure.as_str() {
            "start" | "start-durable" => ("ms", Better::Lower),
            "rss" => ("MiB", Better::Lower),
            _ => ("req/s", Better::Higher),
        };
        report.rows.push(Row {
            workload: figure.clone(),
            unit,
            better,
            target: target_for(figure),
            coffer: coffer.take(figure),
            openbao: openbao.take(figure),
        });
        if unit == "req/s" {
            let cpu = cpu_figure(figure);
            report.rows.push(Row {
                workload: cpu.clone(),
                unit: "µs",
                better: Better::Lower,
                target: None,
                coffer: coffer.take(&cpu),
                openbao: openbao.take(&cpu),
            });
        }
    }
    report.notes.append(&mut coffer.notes);
    report.notes.append(&mut openbao.notes);
    Ok(report)
}

fn machine_note(cfg: &Config) -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "machine: {cores} cores, load average before the run {load} (other busy processes skew every figure); \
         client: {} runtime threads, {} connections",
        cfg.client_threads, cfg.load.concurrency
    )
}

fn fsync_note(b: &FsyncBaseline, dir: &Path) -> String {
    let p = |q| percentile(&b.latencies_us, q).map_or(0.0, |us| f64::from(us) / 1000.0);
    format!(
        "fsync baseline (disk holding {}): {:.0} synced {} B writes/s, single writer, p50 {:.2} ms, p99 {:.2} ms ({} writes)",
        dir.display(),
        b.rate(),
        measure::FSYNC_WRITE_BYTES,
        p(50.0),
        p(99.0),
        b.ops
    )
}

/// Start-up figures, RSS and load workloads for one server; failures land in the cells.
async fn measure_side(
    cfg: &Config,
    http: &reqwest::Client,
    mut bin: ServerBin,
    side: &mut SideResults,
) {
    let label = bin.label.clone();
    let wants_start = cfg.wants("start") || cfg.wants("start-durable");
    if wants_start {
        // Unmeasured warm-up: fills the page cache, and finds the real binary when the name on
        // PATH is a wrapper that execs it (pip's `bao` is bash -> python -> exec), so the
        // wrapper's own start-up is not charged to the server.
        let mut warm_up_failed = None;
        match warm_up(http, &bin, &cfg.data_dir).await {
            Ok(Some(real)) => {
                side.notes.push(format!(
                    "{label}: {} execs {}; timing the latter directly",
                    bin.program.display(),
                    real.display()
                ));
                bin.program = real;
            }
            Ok(None) => {}
            // Dev mode does not work: no point repeating it; durable mode is still tried.
            Err(e) => warm_up_failed = Some(format!("dev-mode start: {e:#}")),
        }
        if cfg.wants("start") {
            let cell = match warm_up_failed {
                Some(why) => Cell::Failed(why),
                None => start_runs(cfg, http, &bin, Mode::Dev, side).await,
            };
            side.set("start", cell);
        }
    }
    if cfg.wants("start-durable") {
        let cell = start_runs(cfg, http, &bin, Mode::Durable, side).await;
        side.set("start-durable", cell);
    }

    let loads: Vec<_> = load_workloads()
        .into_iter()
        .filter(|w| cfg.wants(w.name()))
        .collect();
    if !cfg.wants("rss") && loads.is_empty() {
        return;
    }
    let mut srv = match Server::spawn(&bin, Mode::Durable, &cfg.data_dir) {
        Ok(s) => s,
        Err(e) => {
            let why = format!("durable start failed: {e:#}");
            side.set("rss", Cell::Failed(why.clone()));
            for w in &loads {
                side.set(w.name(), Cell::Failed(why.clone()));
            }
            return;
        }
    };
    let token = match async {
        srv.wait_health(http, |_| true, START_TIMEOUT).await?;
        srv.init_unseal(http).await
    }
    .await
    {
        Ok(t) => t,
        Err(e) => {
            let why = format!("durable init/unseal failed: {e:#}");
            side.set("rss", Cell::Failed(why.clone()));
            for w in &loads {
                side.set(w.name(), Cell::Failed(why.clone()));
            }
            let _ = srv.stop().await;
            return;
        }
    };
    if cfg.wants("rss") {
        tokio::time::sleep(cfg.idle).await;
        let cell = match measure::rss_kib(srv.pid()) {
            #[allow(clippy::cast_precision_loss)]
            Ok(kib) => value(kib as f64 / 1024.0),
            Err(e) => Cell::Failed(format!("{e:#}")),
        };
        side.set("rss", cell);
    }
    let target = Target {
        label: label.clone(),
        addr: srv.addr(),
        token,
        http: http.clone(),
    };
    for mut w in loads {
        let name = w.name();
        let cell = match w.setup(&target).await {
            Err(e) => Cell::Failed(format!("setup: {e:#}")),
            Ok(()) => match run_load(Arc::from(w), &target, srv.pid(), &cfg.load).await {
                Err(e) => Cell::Failed(format!("{e:#}")),
                Ok(r) => {
                    side.notes.push(load_note(cfg, &label, name, &r));
                    if let Some(us) = r.server_cpu_us_per_request() {
                        side.set(&cpu_figure(name), value(us));
                    }
                    load_cell(&r)
                }
            },
        };
        side.set(name, cell);
    }
    if let Err(e) = srv.stop().await {
        side.notes
            .push(format!("{label}: stopping the durable server: {e:#}"));
    }
}

/// Starts once in dev mode, unmeasured. Returns the real binary if `bin.program` is a wrapper
/// that exec'd a binary of the same file name.
async fn warm_up(http: &reqwest::Client, bin: &ServerBin, base: &Path) -> Result<Option<PathBuf>> {
    let mut srv = Server::spawn(bin, Mode::Dev, base)?;
    let res = srv.wait_health(http, |s| s == 200, START_TIMEOUT).await;
    let exe = srv.exe();
    srv.stop().await?;
    res?;
    let program = std::fs::canonicalize(&bin.program).unwrap_or_else(|_| bin.program.clone());
    Ok(exe.filter(|e| *e != program && e.file_name() == bin.program.file_name()))
}

/// `cfg.start_runs` starts in `mode`: spawn until `/v1/sys/health` answers 200 (dev: ready to
/// serve) or anything at all (durable: listener up; a fresh node answers 501 "not initialised").
async fn start_runs(
    cfg: &Config,
    http: &reqwest::Client,
    bin: &ServerBin,
    mode: Mode,
    side: &mut SideResults,
) -> Cell {
    let mut times = Vec::with_capacity(cfg.start_runs);
    for _ in 0..cfg.start_runs {
        let res = async {
            let mut srv = Server::spawn(bin, mode, &cfg.data_dir)?;
            let t = match mode {
                Mode::Dev => srv.wait_health(http, |s| s == 200, START_TIMEOUT).await,
                Mode::Durable => srv.wait_health(http, |_| true, START_TIMEOUT).await,
            };
            srv.stop().await?;
            t
        }
        .await;
        match res {
            Ok(t) => times.push(ms(t)),
            Err(e) => return Cell::Failed(format!("{} start: {e:#}", mode_name(mode))),
        }
    }
    let figure = if mode == Mode::Dev {
        "start"
    } else {
        "start-durable"
    };
    let runs: Vec<String> = times.iter().map(|t| format!("{t:.1}")).collect();
    side.notes.push(format!(
        "{}: {figure} runs (ms): {}",
        bin.label,
        runs.join(" ")
    ));
    median(&times).map_or_else(|| Cell::Failed("no runs".into()), value)
}

/// The row showing server CPU time per request for load workload `name`.
fn cpu_figure(name: &str) -> String {
    format!("{name} cpu/req")
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Dev => "dev-mode",
        Mode::Durable => "durable",
    }
}

fn load_cell(r: &LoadResult) -> Cell {
    let p = |q| percentile(&r.latencies_us, q).map(|us| f64::from(us) / 1000.0);
    if r.ok == 0 {
        return Cell::Failed(format!(
            "no successful requests ({} errors; first: {})",
            r.errors,
            r.first_error.as_deref().unwrap_or("-")
        ));
    }
    Cell::Value(Measured {
        value: r.rate(),
        p50_ms: p(50.0),
        p99_ms: p(99.0),
    })
}

fn load_note(cfg: &Config, label: &str, name: &str, r: &LoadResult) -> String {
    #[allow(clippy::cast_precision_loss)]
    let client_cap = cfg.client_threads as f64 * 100.0;
    let warn = if r.client_cpu_pct > 0.8 * client_cap {
        " -- client threads near saturation: the client may be the bottleneck"
    } else {
        ""
    };
    let errors = if r.errors == 0 {
        String::new()
    } else {
        format!(
            ", {} errors (first: {})",
            r.errors,
            r.first_error.as_deref().unwrap_or("-")
        )
    };
    format!(
        "{label}: {name}: {} ok in {:.2} s{errors}; cpu: server {:.0}%, client {:.0}% (100% = one core){warn}",
        r.ok,
        r.window.as_secs_f64(),
        r.server_cpu_pct,
        r.client_cpu_pct
    )
}
