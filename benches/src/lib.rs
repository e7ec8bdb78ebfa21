//! Benchmarks for Coffer: the side-by-side load harness against OpenBao (`--bin load`) and,
//! under `benches/`, criterion benches for the hot functions. See `benches/README.md`.

pub mod db;
pub mod db_figures;
pub mod harness;
pub mod http;
pub mod login_workloads;
pub mod measure;
pub mod report;
pub mod server;
pub mod workload;
pub mod workloads;
