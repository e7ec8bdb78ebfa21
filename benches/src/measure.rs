//! Process figures (RSS, CPU time), percentiles, and the disk fsync baseline.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Linux `USER_HZ`: the unit of utime/stime in /proc/<pid>/stat. It is 100 on every mainstream
/// architecture, and reading it properly (sysconf) would need libc + unsafe.
const CLOCK_TICKS_PER_SEC: u64 = 100;

/// Resident set size of `pid` in KiB (`VmRSS` in /proc/<pid>/status).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("read /proc/<pid>/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/<pid>/status")
}

/// User + system CPU time consumed so far by `pid` (all threads), or by this process if `None`.
pub fn cpu_time(pid: Option<u32>) -> Result<Duration> {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |p| format!("/proc/{p}/stat"),
    );
    let stat = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    // The command name (field 2) may contain spaces; fields are counted after its closing ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed stat")?;
    let mut fields = rest.split_whitespace();
    // After ')': field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
    let utime: u64 = fields
        .nth(11)
        .and_then(|f| f.parse().ok())
        .context("utime")?;
    let stime: u64 = fields
        .next()
        .and_then(|f| f.parse().ok())
        .context("stime")?;
    let ticks = utime.saturating_add(stime);
    Ok(Duration::from_millis(
        ticks.saturating_mul(1000) / CLOCK_TICKS_PER_SEC,
    ))
}

/// Measures CPU use of a process over an interval: `cpu_percent(before, after, wall)` where 100 %
/// is one core fully busy.
#[must_use]
pub fn cpu_percent(before: Duration, after: Duration, wall: Duration) -> f64 {
    let wall = wall.as_secs_f64();
    if wall <= 0.0 {
        return 0.0;
    }
    after.saturating_sub(before).as_secs_f64() / wall * 100.0
}

/// Server CPU use below which [`wait_cpu_idle`] calls a process idle (100 = one core).
const IDLE_CPU_PCT: f64 = 5.0;
/// Window over which [`wait_cpu_idle`] samples CPU use.
const IDLE_WINDOW: Duration = Duration::from_millis(500);

/// Waits until `pid` uses less than 5 % of a core over half a second (background work done);
/// returns how long that took.
pub async fn wait_cpu_idle(pid: u32, timeout: Duration) -> Result<Duration> {
    let start = Instant::now();
    loop {
        let before = cpu_time(Some(pid))?;
        tokio::time::sleep(IDLE_WINDOW).await;
        let pct = cpu_percent(before, cpu_time(Some(pid))?, IDLE_WINDOW);
        if pct < IDLE_CPU_PCT {
            return Ok(start.elapsed());
        }
        anyhow::ensure!(
            start.elapsed() < timeout,
            "still busy ({pct:.0}% CPU) after {timeout:?}"
        );
    }
}

/// Nearest-rank percentile of an ascending-sorted slice (`q` in 0..=100).
#[must_use]
pub fn percentile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    // Nearest rank: ceil(q/100 * n), 1-based. The float-to-int cast saturates.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((q / 100.0) * n as f64).ceil() as usize;
    sorted.get(rank.clamp(1, n) - 1).copied()
}

/// Median of unsorted values (sorts a copy; NaN-free input expected).
#[must_use]
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    percentile(&v, 50.0)
}

/// Result of the single-writer fsync baseline.
#[derive(Debug, Clone)]
pub struct FsyncBaseline {
    /// Synced writes completed.
    pub ops: u64,
    /// Wall time of the loop.
    pub elapsed: Duration,
    /// Per-write latency (write + fdatasync) in microseconds, sorted ascending.
    pub latencies_us: Vec<u32>,
}

impl FsyncBaseline {
    /// Synced writes per second.
    #[must_use]
    pub fn rate(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let ops = self.ops as f64;
        ops / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Size of each synced write in the baseline (a typical small log append).
pub const FSYNC_WRITE_BYTES: usize = 4096;

/// Appends 4 KiB + `fdatasync` to a fresh file in `dir`, one writer, for about `duration`
/// (at most `max_ops` writes). This is the upper bound for any storage that syncs each commit
/// with a single writer; group commit can beat it. Blocking: call from `spawn_blocking`.
pub fn fsync_baseline(dir: &Path, duration: Duration, max_ops: u64) -> Result<FsyncBaseline> {
    let tmp = tempfile::Builder::new()
        .prefix("coffer-bench-fsync-")
        .tempdir_in(dir)
        .with_context(|| format!("create temp dir in {}", dir.display()))?;
    let path = tmp.path().join("fsync.bin");
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("open {}", path.display()))?;
    let block = vec![0xA5_u8; FSYNC_WRITE_BYTES];
    let mut latencies_us = Vec::new();
    let start = Instant::now();
    let mut ops = 0_u64;
    while ops < max_ops && start.elapsed() < duration {
        let t = Instant::now();
        file.write_all(&block).context("write")?;
        file.sync_data().context("fdatasync")?;
        latencies_us.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
        ops += 1;
    }
    let elapsed = start.elapsed();
    latencies_us.sort_unstable();
    Ok(FsyncBaseline {
        ops,
        elapsed,
        latencies_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile::<u32>(&[], 50.0), None);
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
    }

    #[test]
    fn own_process_figures_are_readable() {
        let rss = rss_kib(std::process::id()).unwrap();
        assert!(rss > 0);
        assert!(cpu_time(None).is_ok());
        assert!(cpu_time(Some(std::process::id())).is_ok());
    }

    #[test]
    fn fsync_baseline_counts_ops() {
        let dir = tempfile::tempdir().unwrap();
        let b = fsync_baseline(dir.path(), Duration::from_secs(10), 3).unwrap();
        assert_eq!(b.ops, 3);
        assert_eq!(b.latencies_us.len(), 3);
        assert!(b.rate() > 0.0);
    }
}
