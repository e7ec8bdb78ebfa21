//! Criterion benches for the barrier: AES-GCM encrypt/decrypt of 1 KiB through `put`/`get` over
//! `InMem` (with the bare `InMem` cost beside it), and Shamir split/combine 5/3.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use barrier::{Barrier, RootKey, ShamirSeal, shamir};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use storage::{Backend, InMem, Storage};

const VALUE: [u8; 1024] = [0x5A; 1024];
const KEYS: u64 = 1024;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn barrier_put_get(c: &mut Criterion) {
    let rt = runtime();
    let inmem = Arc::new(InMem::new());
    let b = Barrier::new(inmem.clone());
    rt.block_on(async {
        let root = RootKey::generate().expect("root key");
        b.initialize(&root).await.expect("initialize");
        b.unseal(&root).await.expect("unseal");
        for i in 0..KEYS {
            b.put(&format!("bench/{i}"), &VALUE).await.expect("put");
            inmem
                .put(&format!("raw/{i}"), VALUE.to_vec())
                .await
                .expect("raw put");
        }
    });
    let keys: Vec<String> = (0..KEYS).map(|i| format!("bench/{i}")).collect();
    let raw: Vec<String> = (0..KEYS).map(|i| format!("raw/{i}")).collect();

    let mut g = c.benchmark_group("barrier_1KiB");
    g.throughput(Throughput::Bytes(VALUE.len() as u64));
    let mut i = 0_usize;
    g.bench_function("put (encrypt)", |bench| {
        bench.iter(|| {
            i = (i + 1) % keys.len();
            rt.block_on(b.put(&keys[i], black_box(&VALUE))).unwrap();
        });
    });
    g.bench_function("get (decrypt)", |bench| {
        bench.iter(|| {
            i = (i + 1) % keys.len();
            black_box(rt.block_on(b.get(&keys[i])).unwrap());
        });
    });
    g.bench_function("inmem put (no barrier)", |bench| {
        bench.iter(|| {
            i = (i + 1) % raw.len();
            rt.block_on(inmem.put(&raw[i], black_box(VALUE.to_vec())))
                .unwrap();
        });
    });
    g.bench_function("inmem get (no barrier)", |bench| {
        bench.iter(|| {
            i = (i + 1) % raw.len();
            black_box(rt.block_on(inmem.get(&raw[i])).unwrap());
        });
    });
    g.finish();
}

fn shamir_5_3(c: &mut Criterion) {
    let secret = ShamirSeal::generate_kek().expect("kek");
    let shares = shamir::split(&secret, 5, 3).expect("split");
    let mut g = c.benchmark_group("shamir_5_of_3");
    g.bench_function("split", |bench| {
        bench.iter(|| black_box(shamir::split(black_box(&secret), 5, 3).unwrap()));
    });
    g.bench_function("combine", |bench| {
        bench.iter(|| black_box(shamir::combine(black_box(&shares[1..4])).unwrap()));
    });
    g.finish();
}

criterion_group!(benches, barrier_put_get, shamir_5_3);
criterion_main!(benches);
