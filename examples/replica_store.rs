//! Store cost of replicas (issue 17), run by `bench/replicas.sh`:
//!
//! 1. tick-claim latency with 3 replicas racing for the same slots (3 threads, each its own
//!    [`PgStore`] and pool, released together per slot by a barrier): median and p99;
//! 2. the store work a scheduled run pays around its backend calls — before: claim the tick, spend
//!    the budget, read the backend facts; after: save the run (one row per symbol, 3 symbols, 5
//!    module rows each) and its signals (3 graded calls, one enqueued, claimed and marked
//!    delivered) — on PostgreSQL and on a SQLite file (whose claim/spend/facts are no-ops),
//!    median and p99.
//!
//! Usage: `cargo run --release --example replica_store -- postgres://… [rounds]`

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use sniper::store::postgres::PgStore;
use sniper::store::{
    ModuleRecord, OutboxRow, Outcome, RunRecord, SignalRecord, SqliteStore, StateStore,
};

fn record(at: Timestamp) -> RunRecord {
    RunRecord {
        id: None,
        at,
        outcome: Outcome::Partial,
        success: true,
        duration_ms: 210,
        soft_fails: vec!["ETF_PAYMENT_REQUIRED".into()],
        modules: ["etf", "heatmap", "spot_ob", "whale_alerts", "bias"]
            .iter()
            .map(|m| ModuleRecord {
                module: (*m).to_string(),
                status: "ok".into(),
                code: None,
                latency_ms: 120,
            })
            .collect(),
        payload: None,
        payload_dropped: false,
        sandbox: true,
        replica: None,
        symbol: None,
        run_group: None,
        backend: None,
        trigger: sniper::run::Trigger::Schedule,
    }
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

fn per_run(store: &dyn StateStore, rounds: i64, base_slot: i64) -> (Vec<Duration>, Vec<Duration>) {
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        let now = Timestamp::now();
        let t = Instant::now();
        let claimed = store
            .claim_tick("bench-run", base_slot + i, "bench")
            .expect("claim");
        let spent = store
            .try_spend("bench", base_slot + i, 5, 1_000_000)
            .expect("spend");
        let _facts = store.backend_facts(now).expect("facts");
        before.push(t.elapsed());
        assert!(claimed && spent);
        let t = Instant::now();
        let group = format!("bench-{base_slot}-{i}");
        for sym in ["BTC", "ETH", "SOL"] {
            let mut r = record(now);
            r.symbol = Some(sym.into());
            r.run_group = Some(group.clone());
            store.save_run(&r).expect("save");
            let key = format!("{group}-{sym}");
            let outbox = if sym == "SOL" {
                vec![OutboxRow {
                    key: key.clone(),
                    channel: "webhook".into(),
                    call_id: 0,
                    body: serde_json::json!({"symbol": sym}),
                    attempts: 0,
                    created_ms: now.as_millisecond(),
                    next_attempt_ms: now.as_millisecond(),
                    delivered_ms: None,
                    last_error: None,
                }]
            } else {
                vec![]
            };
            let call = SignalRecord {
                id: None,
                symbol: sym.into(),
                at: now,
                level: if outbox.is_empty() { "none" } else { "watch" }.into(),
                direction: "long".into(),
                score: 40,
                reason: None,
                call: serde_json::json!({"layers": []}),
                features: serde_json::json!({"mid": 1.0}),
            };
            store.record_signal(&call, None, &outbox).expect("signal");
        }
        for row in store
            .claim_outbox(now.as_millisecond(), 11_000, 32)
            .expect("claim outbox")
        {
            store
                .mark_delivered(&row.key, &row.channel, now.as_millisecond())
                .expect("delivered");
        }
        after.push(t.elapsed());
    }
    (before, after)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: replica_store postgres://… [rounds]");
        std::process::exit(2);
    };
    let rounds: i64 = args.next().and_then(|r| r.parse().ok()).unwrap_or(300);
    let base = Timestamp::now().as_millisecond();

    // 1. Three replicas race for each slot.
    let replicas: Vec<Arc<PgStore>> = (1..=3)
        .map(|i| Arc::new(PgStore::open(&url, &format!("bench{i}")).expect("open")))
        .collect();
    let barrier = Arc::new(Barrier::new(3));
    let handles: Vec<_> = replicas
        .iter()
        .map(|s| {
            let (s, b) = (s.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut won = 0u32;
                for i in 0..rounds {
                    b.wait();
                    let t = Instant::now();
                    if s.claim_tick("bench-claim", base + i, s.replica())
                        .expect("claim")
                    {
                        won += 1;
                    }
                    lat.push(t.elapsed());
                }
                (lat, won)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut wins = Vec::new();
    for h in handles {
        let (lat, won) = h.join().expect("thread");
        all.extend(lat);
        wins.push(won);
    }
    assert_eq!(
        wins.iter().sum::<u32>() as i64,
        rounds,
        "each slot won exactly once"
    );
    println!(
        "claim_tick, 3 replicas racing, {rounds} slots: median {:.2} ms, p99 {:.2} ms (wins {:?})",
        pct(&mut all, 0.5),
        pct(&mut all, 0.99),
        wins
    );

    // 2. Per-run store work, PostgreSQL vs SQLite.
    let (mut b, mut a) = per_run(replicas[0].as_ref(), rounds, base + rounds);
    println!(
        "postgres per run: before (claim+spend+facts) median {:.2} ms p99 {:.2} ms; after (3 rows + 3 signals + outbox) median {:.2} ms p99 {:.2} ms",
        pct(&mut b, 0.5),
        pct(&mut b, 0.99),
        pct(&mut a, 0.5),
        pct(&mut a, 0.99)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = SqliteStore::open(&dir.path().join("bench.db").to_string_lossy()).expect("sqlite");
    let (mut b, mut a) = per_run(&sqlite, rounds, base + rounds);
    println!(
        "sqlite   per run: before (no-ops)             median {:.3} ms p99 {:.3} ms; after (3 rows + 3 signals + outbox) median {:.2} ms p99 {:.2} ms",
        pct(&mut b, 0.5),
        pct(&mut b, 0.99),
        pct(&mut a, 0.5),
        pct(&mut a, 0.99)
    );
}
