//! Cost of the store's hot paths on a real file (WAL, synchronous=NORMAL): saving one run with
//! five module rows, and the status page's `runs(limit=100)` query over a week of 5-minute runs.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use sniper::store::{ModuleRecord, Outcome, RunQuery, RunRecord, SqliteStore, StateStore};

fn record(at: Timestamp) -> RunRecord {
    let modules = ["etf", "heatmap", "spot_ob", "whale_alerts", "bias"]
        .iter()
        .map(|m| ModuleRecord {
            module: (*m).to_string(),
            status: "ok".into(),
            code: None,
            latency_ms: 120,
        })
        .collect();
    RunRecord {
        id: None,
        at,
        outcome: Outcome::Success,
        success: true,
        duration_ms: 300,
        soft_fails: vec![],
        modules,
        payload: None,
        payload_dropped: false,
        sandbox: false,
        backend: Some("https://api.example.com".into()),
        trigger: sniper::run::Trigger::Schedule,
        replica: None,
        symbol: None,
        run_group: None,
    }
}

/// A week of runs every 5 minutes.
const WEEK_OF_RUNS: i64 = 7 * 24 * 12;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.db");
    let store = SqliteStore::open(path.to_str().expect("utf-8 path")).expect("open");
    let start = Timestamp::now() - SignedDuration::from_hours(7 * 24 - 1);
    for i in 0..WEEK_OF_RUNS {
        store
            .save_run(&record(start + SignedDuration::from_mins(5 * i)))
            .expect("seed");
    }
    c.bench_function("save_run (5 modules, file, WAL)", |b| {
        b.iter(|| store.save_run(black_box(&record(Timestamp::now()))))
    });
    let q = RunQuery {
        limit: 100,
        ..RunQuery::default()
    };
    c.bench_function("runs(limit=100) over a week", |b| {
        b.iter(|| store.runs(black_box(&q)).map(|r| r.len()))
    });
    let q = RunQuery {
        limit: 100,
        module: Some("etf".into()),
        outcome: Some(Outcome::Success),
        ..RunQuery::default()
    };
    c.bench_function("runs(limit=100, module, outcome) over a week", |b| {
        b.iter(|| store.runs(black_box(&q)).map(|r| r.len()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
