//! Criterion benches for the ACL: `decide` on a compiled ACL of 10 policies × 100 rules (exact hits, glob
//! hits, `+` hits, misses, a parameter-constrained write), plus the one-off costs of parsing and compiling.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use policy::{Acl, Operation, Policy};
use serde_json::{Map, Value, json};

const POLICIES: usize = 10;
const RULES: usize = 100;

/// Policy `p`: 60 exact rules, 30 globs, 10 `+` patterns, one with parameter constraints.
fn policy_text(p: usize) -> String {
    let mut text = String::new();
    for r in 0..RULES {
        let (path, caps) = match r % 10 {
            0..=5 => (
                format!("secret/data/team{p}/app{r}/config"),
                r#""read", "list""#,
            ),
            6..=8 => (format!("kv{p}/app{r}/*"), r#""create", "read", "update""#),
            _ => (format!("svc/+/team{p}/r{r}/*"), r#""read""#),
        };
        text.push_str(&format!(
            "path \"{path}\" {{\n  capabilities = [{caps}]\n}}\n"
        ));
    }
    text.push_str(&format!(
        "path \"transit/keys/k{p}\" {{\n  capabilities = [\"update\"]\n  \
         allowed_parameters = {{ \"auto_rotate_period\" = [\"8h\", \"24h\"], \"*\" = [] }}\n  \
         denied_parameters = {{ \"exportable\" = [true] }}\n}}\n"
    ));
    text
}

fn policies() -> Vec<Policy> {
    (0..POLICIES)
        .map(|p| Policy::parse(&format!("p{p}"), &policy_text(p)).expect("parse"))
        .collect()
}

fn decide(c: &mut Criterion) {
    let policies = policies();
    let acl = Acl::new(&policies);
    let exact = "secret/data/team7/app43/config";
    let glob = "kv4/app37/some/deep/key";
    let plus = "svc/eu-west/team3/r29/creds";
    let miss = "secret/data/team7/app43/other";
    let body: Map<String, Value> = match json!({"auto_rotate_period": "24h", "deletion_allowed": true})
    {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    assert!(acl.decide(Operation::Read, exact, None).allowed);
    assert!(acl.decide(Operation::Update, glob, None).allowed);
    assert!(acl.decide(Operation::Read, plus, None).allowed);
    assert!(!acl.decide(Operation::Read, miss, None).allowed);
    assert!(
        acl.decide(Operation::Update, "transit/keys/k5", Some(&body))
            .allowed
    );

    let mut g = c.benchmark_group("acl_decide_10x100");
    g.bench_function("exact hit", |b| {
        b.iter(|| black_box(acl.decide(Operation::Read, black_box(exact), None)));
    });
    g.bench_function("glob hit", |b| {
        b.iter(|| black_box(acl.decide(Operation::Update, black_box(glob), None)));
    });
    g.bench_function("plus hit", |b| {
        b.iter(|| black_box(acl.decide(Operation::Read, black_box(plus), None)));
    });
    g.bench_function("miss", |b| {
        b.iter(|| black_box(acl.decide(Operation::Read, black_box(miss), None)));
    });
    g.bench_function("params check", |b| {
        b.iter(|| {
            black_box(acl.decide(
                Operation::Update,
                black_box("transit/keys/k5"),
                Some(black_box(&body)),
            ))
        });
    });
    g.bench_function("capabilities()", |b| {
        b.iter(|| black_box(acl.capabilities(black_box(exact))));
    });
    g.finish();

    let mut g = c.benchmark_group("acl_build_10x100");
    let texts: Vec<String> = (0..POLICIES).map(policy_text).collect();
    g.bench_function("parse one 100-rule policy", |b| {
        b.iter(|| black_box(Policy::parse("p", black_box(&texts[0])).unwrap()));
    });
    g.bench_function("compile 10 policies", |b| {
        b.iter(|| black_box(Acl::new(black_box(&policies))));
    });
    g.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
