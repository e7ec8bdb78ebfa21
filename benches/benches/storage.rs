//! Durable write throughput: writers put 1 KiB values through the barrier over a single-node
//! `RaftStore` in a temp dir (fsync on every commit), compared with the disk's single-writer
//! fsync baseline measured on the same directory.
//!
//! `cargo bench -p coffer-benches --bench storage` (set `COFFER_BENCH_DIR` to choose the disk).
//! Without `--bench` (e.g. `cargo test --benches`) it runs a short smoke pass.

#![allow(clippy::print_stdout, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use barrier::{Barrier, RootKey};
use coffer_benches::measure::{fsync_baseline, percentile};
use raft_store::{RaftConfig, RaftStore};
use storage::{Backend, Storage};

const VALUE: [u8; 1024] = [0x5A; 1024];
const CONCURRENT_WRITERS: usize = 32;

struct WriteRun {
    writes: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl WriteRun {
    fn rate(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let w = self.writes as f64;
        w / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    fn line(&self, label: &str, baseline: f64) -> String {
        let p = |q| percentile(&self.latencies_us, q).map_or(0.0, |us| f64::from(us) / 1000.0);
        format!(
            "{label:<28} {:>9.0} writes/s  p50 {:>7.2} ms  p99 {:>7.2} ms  {:>6.2}x the fsync baseline",
            self.rate(),
            p(50.0),
            p(99.0),
            self.rate() / baseline.max(f64::EPSILON)
        )
    }
}

/// `writers` tasks each put in a loop until `duration` passes (or `max` writes in total).
async fn write_load(
    b: &Arc<Barrier>,
    writers: usize,
    duration: Duration,
    max: u64,
) -> Result<WriteRun> {
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = Vec::with_capacity(writers);
    for _ in 0..writers {
        let (b, counter) = (Arc::clone(b), Arc::clone(&counter));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < end {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                if i >= max {
                    break;
                }
                let t = Instant::now();
                b.put(&format!("bench/w/{}", i % 4096), &VALUE).await?;
                lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
            }
            anyhow::Ok(lat)
        }));
    }
    let mut latencies_us = Vec::new();
    for t in tasks {
        latencies_us.extend(t.await.context("writer task")??);
    }
    let elapsed = start.elapsed();
    latencies_us.sort_unstable();
    Ok(WriteRun {
        writes: latencies_us.len() as u64,
        elapsed,
        latencies_us,
    })
}

async fn run(quick: bool) -> Result<()> {
    let (base_len, run_len) = if quick {
        (Duration::from_millis(200), Duration::from_millis(300))
    } else {
        (Duration::from_secs(2), Duration::from_secs(4))
    };
    let parent = std::env::var_os("COFFER_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let base_dir = parent.clone();
    let baseline =
        tokio::task::spawn_blocking(move || fsync_baseline(&base_dir, base_len, 10_000_000))
            .await
            .context("fsync task")??;

    let dir = tempfile::Builder::new()
        .prefix("coffer-bench-raft-")
        .tempdir_in(&parent)?;
    let store = RaftStore::open(RaftConfig {
        dir: dir.path().join("raft"),
        node_id: 1,
        performance_multiplier: 0,
    })
    .await
    .context("open raft store")?;
    let physical: Arc<dyn Backend> = Arc::new(store.clone());
    let b = Arc::new(Barrier::new(physical));
    let root = RootKey::generate()?;
    b.initialize(&root).await?;
    b.unseal(&root).await?;

    // Unmeasured warm-up: file growth and first allocations.
    write_load(&b, CONCURRENT_WRITERS, run_len / 4, u64::MAX).await?;
    let single = write_load(&b, 1, run_len, u64::MAX).await?;
    let many = write_load(&b, CONCURRENT_WRITERS, run_len, u64::MAX).await?;
    store.shutdown().await?;

    let p = |q| percentile(&baseline.latencies_us, q).map_or(0.0, |us| f64::from(us) / 1000.0);
    println!(
        "durable writes of 1 KiB: barrier over single-node RaftStore in {}",
        parent.display()
    );
    println!(
        "{:<28} {:>9.0} writes/s  p50 {:>7.2} ms  p99 {:>7.2} ms  (4 KiB write + fdatasync, one writer)",
        "disk fsync baseline",
        baseline.rate(),
        p(50.0),
        p(99.0)
    );
    println!("{}", single.line("1 writer", baseline.rate()));
    println!(
        "{}",
        many.line(
            &format!("{CONCURRENT_WRITERS} concurrent writers"),
            baseline.rate()
        )
    );
    if quick {
        println!("(smoke pass: run with `cargo bench` for real figures)");
    }
    Ok(())
}

fn main() -> Result<()> {
    let quick = !std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(quick))
}
