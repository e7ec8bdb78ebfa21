//! Runs every selected figure against Coffer and OpenBao and assembles the [`Report`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::db::{self, DbOptions, MysqlBaseline, Pgbench};
use crate::db_figures;
use crate::measure::{self, FsyncBaseline, median, percentile};
use crate::report::{Better, Cell, Goal, Measured, Report, Row};
use crate::server::{self, Mode, Server, ServerBin};
use crate::workload::{LoadOptions, LoadResult, Target, Workload, load_workloads, run_load};

/// Figures that are not HTTP load workloads.
pub const FIXED_FIGURES: &[&str] = &["start", "start-durable", "rss", "fsync"];

/// Figures run only when named in `--workloads`.
pub const EXPENSIVE_FIGURES: &[&str] = &["lease-restore"];

/// Figures that do not depend on the server under test (run once).
const SERVERLESS_FIGURES: &[&str] = &["fsync", "pgbench-baseline", "mysql-baseline"];

/// `pg-creds` as a share of `pgbench` (in %) the issue asks Coffer to reach.
const PGBENCH_SHARE_GOAL: f64 = 70.0;

/// The most a file audit device may cost Coffer's KV rates, in % of the rate without one.
const AUDIT_COST_GOAL: f64 = 10.0;

/// (plain figure, the same requests with a file audit device on): shown with an audit cost row.
const AUDITED_FIGURES: &[(&str, &str)] = &[
    ("kv-write", "kv-write-audited"),
    ("kv-read", "kv-read-audited"),
];

/// How long a server may take to answer at all before the attempt counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What the issue asks of Coffer, per figure.
fn target_for(figure: &str) -> Option<Goal> {
    let advantage = match figure {
        "start" => 10.0,
        "rss" | "revoke-one" | "revoke-prefix" | "kv-write" | "token-create" => 5.0,
        "pg-creds" => 4.0,
        "health" => 2.5,
        "kv-read" | "token-lookup-self" | "mysql-creds" | "kv-write-audited" | "login-approle"
        | "login-jwt" | "login-kubernetes" => 3.0,
        "kv-write audit cost %" | "kv-read audit cost %" => {
            return Some(Goal::AtMost(AUDIT_COST_GOAL));
        }
        "lease-restore" => return Some(Goal::AtMost(1000.0)),
        "lease-restore rss+" => return Some(Goal::AtMost(64.0)),
        _ => return None,
    };
    Some(Goal::Advantage(advantage))
}

/// Unit and direction of a figure's headline value.
fn shape(figure: &str) -> (&'static str, Better) {
    match figure {
        "start" | "start-durable" | "lease-restore" => ("ms", Better::Lower),
        "rss" | "lease-restore rss+" => ("MiB", Better::Lower),
        "revoke-prefix" => ("s", Better::Lower),
        _ => ("req/s", Better::Higher),
    }
}

/// Every figure name the harness knows, in report order.
#[must_use]
pub fn all_figures() -> Vec<String> {
    let mut v: Vec<String> = FIXED_FIGURES.iter().map(|s| (*s).to_owned()).collect();
    v.extend(load_workloads().iter().map(|w| w.name().to_owned()));
    v.extend(
        db_figures::load_workloads(&DbOptions::default())
            .iter()
            .map(|w| w.name().to_owned()),
    );
    v.extend(db_figures::ONE_SHOT_FIGURES.iter().map(|s| (*s).to_owned()));
    v
}

/// The figures run when `--workloads` is not given: all but the expensive ones.
#[must_use]
pub fn default_figures() -> Vec<String> {
    all_figures()
        .into_iter()
        .filter(|f| !EXPENSIVE_FIGURES.contains(&f.as_str()))
        .collect()
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
    /// Shape of the database figures.
    pub db: DbOptions,
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

    fn value_of(&self, figure: &str) -> Option<f64> {
        self.cells.iter().find_map(|(f, c)| match c {
            Cell::Value(m) if f == figure => Some(m.value),
            _ => None,
        })
    }

    fn take(&mut self, figure: &str) -> Cell {
        self.cells
            .iter()
            .position(|(f, _)| f == figure)
            .map_or(Cell::NotRun, |i| self.cells.swap_remove(i).1)
    }

    fn fail_all(&mut self, figures: &[String], why: &str) {
        for f in figures
            .iter()
            .filter(|f| !SERVERLESS_FIGURES.contains(&f.as_str()))
        {
            self.set(f, Cell::Failed(why.to_owned()));
        }
        if figures.iter().any(|f| f == "lease-restore") {
            self.set("lease-restore rss+", Cell::Failed(why.to_owned()));
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

    let pgbench = if cfg.wants("pgbench-baseline") {
        let res = db::pgbench(cfg.db.concurrency, cfg.load.duration).await;
        if let Ok(b) = &res {
            report.notes.push(pgbench_note(b, cfg));
        }
        Some(res)
    } else {
        None
    };

    let mysql_baseline = if cfg.wants("mysql-baseline") {
        let res = db::mysql_baseline(cfg.db.concurrency, cfg.load.duration).await;
        if let Ok(b) = &res {
            report.notes.push(format!(
                "mysql-baseline: CREATE USER + GRANT (mysql-creds' statements) from {} mysql clients: {} users, \
                 {:.0}/s (users dropped afterwards); MariaDB held {} accounts before (thousands slow CREATE USER)",
                cfg.db.concurrency, b.users, b.rate, b.accounts_before
            ));
        }
        Some(res)
    } else {
        None
    };

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

    // Built before any cell is taken (the plain figure's row comes first), shown after the audited figure's rows.
    let mut audit_rows: Vec<(&str, Row)> = AUDITED_FIGURES
        .iter()
        .filter(|(plain, audited)| cfg.wants(plain) && cfg.wants(audited))
        .map(|&(plain, audited)| (audited, audit_cost_row(plain, audited, &coffer, &openbao)))
        .collect();
    for figure in &cfg.figures {
        match figure.as_str() {
            "fsync" => continue,
            // Shown next to pg-creds when that runs too.
            "pgbench-baseline" if cfg.wants("pg-creds") => continue,
            "pgbench-baseline" => {
                report.rows.extend(pgbench.as_ref().map(pgbench_row));
                continue;
            }
            "mysql-baseline" if cfg.wants("mysql-creds") => continue,
            "mysql-baseline" => {
                report
                    .rows
                    .extend(mysql_baseline.as_ref().map(mysql_baseline_row));
                continue;
            }
            _ => {}
        }
        // Built before the pg-creds cells are taken, shown after their rows.
        let pgbench_rows = match (figure.as_str(), &pgbench, &mysql_baseline) {
            ("pg-creds", Some(b), _) => vec![
                pgbench_row(b),
                share_row(
                    "pg-creds % of pgbench",
                    "pg-creds",
                    b.as_ref().ok().map(|b| b.tps),
                    Some(Goal::AtLeast(PGBENCH_SHARE_GOAL)),
                    (&coffer, &openbao),
                ),
            ],
            // No goal: the issue sets none for MySQL's share.
            ("mysql-creds", _, Some(b)) => vec![
                mysql_baseline_row(b),
                share_row(
                    "mysql-creds % of baseline",
                    "mysql-creds",
                    b.as_ref().ok().map(|b| b.rate),
                    None,
                    (&coffer, &openbao),
                ),
            ],
            _ => Vec::new(),
        };
        let (unit, better) = shape(figure);
        report.rows.push(Row {
            workload: figure.clone(),
            unit,
            better,
            target: target_for(figure),
            coffer: coffer.take(figure),
            openbao: openbao.take(figure),
        });
        if figure == "lease-restore" {
            let rss = "lease-restore rss+";
            report.rows.push(Row {
                workload: rss.to_owned(),
                unit: "MiB",
                better: Better::Lower,
                target: target_for(rss),
                coffer: coffer.take(rss),
                openbao: openbao.take(rss),
            });
        }
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
        report.rows.extend(pgbench_rows);
        if let Some(i) = audit_rows.iter().position(|(f, _)| f == figure) {
            report.rows.push(audit_rows.swap_remove(i).1);
        }
    }
    report.notes.append(&mut coffer.notes);
    report.notes.append(&mut openbao.notes);
    Ok(report)
}

/// The `pgbench` row: one value for both servers, no advantage.
fn pgbench_row(res: &Result<Pgbench>) -> Row {
    baseline_row(
        "pgbench-baseline",
        res.as_ref().map(|b| {
            let (p50_ms, p99_ms) = b.p50_p99_ms();
            Measured {
                value: b.tps,
                p50_ms,
                p99_ms,
            }
        }),
    )
}

/// The raw MariaDB row: one value for both servers, no advantage.
fn mysql_baseline_row(res: &Result<MysqlBaseline>) -> Row {
    baseline_row(
        "mysql-baseline",
        res.as_ref().map(|b| Measured {
            value: b.rate,
            p50_ms: None,
            p99_ms: None,
        }),
    )
}

/// A database's own rate (measured once, without a server): the same cell in both columns.
fn baseline_row(workload: &str, measured: Result<Measured, &anyhow::Error>) -> Row {
    let cell = match measured {
        Ok(m) => Cell::Value(m),
        Err(e) => Cell::Failed(format!("{e:#}")),
    };
    Row {
        workload: workload.to_owned(),
        unit: "req/s",
        better: Better::Neither,
        target: None,
        coffer: cell.clone(),
        openbao: cell,
    }
}

/// Each server's `figure` rate as a percentage of the database's own rate `baseline` (when measured).
fn share_row(
    workload: &str,
    figure: &str,
    baseline: Option<f64>,
    target: Option<Goal>,
    (coffer, openbao): (&SideResults, &SideResults),
) -> Row {
    let share = |side: &SideResults| match (baseline, side.value_of(figure)) {
        (Some(base), Some(rate)) if base > 0.0 => value(rate / base * 100.0),
        _ => Cell::NotRun,
    };
    Row {
        workload: workload.to_owned(),
        unit: "%",
        better: Better::Neither,
        target,
        coffer: share(coffer),
        openbao: share(openbao),
    }
}

/// Each server's audit cost: how much lower its `audited` rate is than its `plain` rate, in %.
fn audit_cost_row(plain: &str, audited: &str, coffer: &SideResults, openbao: &SideResults) -> Row {
    let cost = |side: &SideResults| match (side.value_of(plain), side.value_of(audited)) {
        (Some(p), Some(a)) if p > 0.0 => value((1.0 - a / p) * 100.0),
        _ => Cell::NotRun,
    };
    let workload = format!("{plain} audit cost %");
    Row {
        target: target_for(&workload),
        workload,
        unit: "%",
        better: Better::Neither,
        coffer: cost(coffer),
        openbao: cost(openbao),
    }
}

fn pgbench_note(b: &Pgbench, cfg: &Config) -> String {
    format!(
        "pgbench-baseline: CREATE ROLE + GRANT in one transaction, {} clients, {} threads: {} transactions, \
         {:.0}/s (roles dropped afterwards)",
        cfg.db.concurrency, b.threads, b.transactions, b.tps
    )
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
         client: {} runtime threads, {} connections ({} for the database figures)",
        cfg.client_threads, cfg.load.concurrency, cfg.db.concurrency
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

    durable_figures(cfg, http, &bin, side).await;
    if cfg.wants("lease-restore") {
        match db_figures::lease_restore(http, &bin, &cfg.data_dir, &cfg.db, START_TIMEOUT).await {
            Ok(r) => {
                side.notes.push(format!("{label}: {}", r.note));
                side.set("lease-restore", value(ms(r.serving)));
                side.set("lease-restore rss+", value(r.rss_growth_mib));
            }
            Err(e) => {
                let why = format!("{e:#}");
                side.set("lease-restore", Cell::Failed(why.clone()));
                side.set("lease-restore rss+", Cell::Failed(why));
            }
        }
    }
}

/// The figures measured on one shared durable server: RSS, load workloads, `revoke-prefix`.
async fn durable_figures(
    cfg: &Config,
    http: &reqwest::Client,
    bin: &ServerBin,
    side: &mut SideResults,
) {
    let label = bin.label.clone();
    let loads: Vec<Box<dyn Workload>> = load_workloads()
        .into_iter()
        .chain(db_figures::load_workloads(&cfg.db))
        .filter(|w| cfg.wants(w.name()))
        .collect();
    let mut figures: Vec<&str> = loads.iter().map(|w| w.name()).collect();
    figures.extend(
        ["rss", "revoke-prefix"]
            .into_iter()
            .filter(|f| cfg.wants(f)),
    );
    if figures.is_empty() {
        return;
    }
    let mut srv = match Server::spawn(bin, Mode::Durable, &cfg.data_dir) {
        Ok(s) => s,
        Err(e) => {
            let why = format!("durable start failed: {e:#}");
            for f in figures {
                side.set(f, Cell::Failed(why.clone()));
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
            for f in figures {
                side.set(f, Cell::Failed(why.clone()));
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
        let setup = w.setup(&target).await;
        // After setup: a workload's cap may depend on the fixtures it made.
        let opts = LoadOptions {
            concurrency: w.concurrency().unwrap_or(cfg.load.concurrency),
            max_requests: w
                .max_requests()
                .map_or(cfg.load.max_requests, |m| m.min(cfg.load.max_requests)),
            ..cfg.load
        };
        let w: Arc<dyn Workload> = Arc::from(w);
        let cell = match setup {
            Err(e) => Cell::Failed(format!("setup: {e:#}")),
            Ok(()) => match run_load(Arc::clone(&w), &target, srv.pid(), &opts).await {
                Err(e) => Cell::Failed(format!("{e:#}")),
                Ok(r) => {
                    side.notes.push(load_note(cfg, &label, name, &opts, &r));
                    if let Some(us) = r.server_cpu_us_per_request() {
                        side.set(&cpu_figure(name), value(us));
                    }
                    load_cell(&r)
                }
            },
        };
        side.set(name, cell);
        if let Err(e) = w.teardown(&target).await {
            side.notes
                .push(format!("{label}: {name}: clean-up failed: {e:#}"));
        }
    }
    if cfg.wants("revoke-prefix") {
        let cell = match db_figures::revoke_prefix(&target, &cfg.db).await {
            Ok((secs, note)) => {
                side.notes.push(format!("{label}: {note}"));
                value(secs)
            }
            Err(e) => Cell::Failed(format!("{e:#}")),
        };
        side.set("revoke-prefix", cell);
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

fn load_note(cfg: &Config, label: &str, name: &str, opts: &LoadOptions, r: &LoadResult) -> String {
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
    // A capped workload (e.g. revoke-one) may use up its fixtures before the window ends.
    let early = if r.window < opts.duration.mul_f64(0.9) {
        format!(
            " (stopped early: all {} requests used; raise the fixture count for a full window)",
            opts.max_requests
        )
    } else {
        String::new()
    };
    format!(
        "{label}: {name}: {} ok in {:.2} s{early}{errors}, {} clients; cpu: server {:.0}%, client {:.0}% (100% = one core){warn}",
        r.ok,
        r.window.as_secs_f64(),
        opts.concurrency,
        r.server_cpu_pct,
        r.client_cpu_pct
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(cells: &[(&str, f64)]) -> SideResults {
        let mut s = SideResults::default();
        for (f, v) in cells {
            s.set(f, value(*v));
        }
        s
    }

    #[test]
    fn audit_cost_is_each_servers_drop_against_its_own_plain_rate() {
        let coffer = side(&[("kv-write", 4000.0), ("kv-write-audited", 3800.0)]);
        let openbao = side(&[("kv-write", 800.0)]);
        let row = audit_cost_row("kv-write", "kv-write-audited", &coffer, &openbao);
        assert_eq!(row.workload, "kv-write audit cost %");
        assert_eq!(row.target, Some(Goal::AtMost(AUDIT_COST_GOAL)));
        let Cell::Value(m) = row.coffer else {
            panic!("coffer cost missing: {:?}", row.coffer)
        };
        assert!((m.value - 5.0).abs() < 1e-9, "{}", m.value);
        assert_eq!(row.openbao, Cell::NotRun, "no audited figure, no cost");
    }

    #[test]
    fn new_figures_are_listed_run_by_default_and_have_goals() {
        let defaults = default_figures();
        for f in [
            "kv-write-audited",
            "kv-read-audited",
            "login-approle",
            "login-jwt",
            "login-kubernetes",
        ] {
            assert!(defaults.iter().any(|d| d == f), "{f} not run by default");
        }
        for f in [
            "kv-write-audited",
            "login-approle",
            "login-jwt",
            "login-kubernetes",
        ] {
            assert_eq!(target_for(f), Some(Goal::Advantage(3.0)), "{f}");
        }
        let all = all_figures();
        let pos = |f: &str| all.iter().position(|x| x == f).unwrap();
        assert!(pos("kv-write") < pos("kv-write-audited"));
        assert!(pos("kv-read") < pos("kv-read-audited"));
    }
}
