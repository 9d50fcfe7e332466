//! Cost benchmark: 10 minutes of schedule (120 runs 5 s apart under a fake clock) against the
//! sandbox, counting the requests the sandbox received, for 1 and 3 symbols: the default
//! configuration (per-module refresh) beside every module every run (the behaviour before).
//! Then 200 symbols × 5 modules against a sandbox that answers in 200 ms: run wall time.
//!
//! `cargo run --release --example cost`

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use sniper::config::ConfigArgs;
use sniper::module_id::ModuleId;
use sniper::run::{Clock, Runner};
use sniper::sandbox::{Fault, Sandbox};

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    c: ConfigArgs,
}

const EVERY_RUN: [&str; 8] = [
    "--refresh-heatmap",
    "0",
    "--refresh-whale-alerts",
    "0",
    "--refresh-etf",
    "0",
    "--refresh-bias",
    "0",
];

async fn schedule(
    symbols: &str,
    every_run: bool,
) -> (usize, std::collections::BTreeMap<ModuleId, u64>) {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    sb.state.set_licensed(true);
    let url = sb.url();
    let mut argv = vec!["t", "--py-base-url", url.as_str(), "--symbol", symbols];
    if every_run {
        argv.extend_from_slice(&EVERY_RUN);
    }
    let mut cfg = Flags::parse_from(argv).c.validate().expect("config");
    cfg.sandbox = true;
    let ms = Arc::new(AtomicI64::new(jiff::Timestamp::now().as_millisecond()));
    let m = ms.clone();
    let clock: Clock = Arc::new(move || {
        jiff::Timestamp::from_millisecond(m.load(Ordering::SeqCst)).expect("time")
    });
    let runner = Runner::new(cfg, clock).expect("runner");
    let mut max_age = std::collections::BTreeMap::new();
    for _ in 0..120 {
        for r in runner.run_once().await {
            for (module, res) in &r.context {
                let age = res.reused.map(|u| u.age_ms).unwrap_or(0);
                let e = max_age.entry(*module).or_insert(0);
                *e = (*e).max(age);
            }
        }
        ms.fetch_add(5_000, Ordering::SeqCst);
    }
    let module_hits = sb
        .state
        .hits()
        .iter()
        .filter(|h| h.module.is_some())
        .count();
    (module_hits, max_age)
}

#[tokio::main]
async fn main() {
    println!("10 minutes of schedule at a 5 s interval (120 runs), backend module requests:");
    for symbols in ["SOL", "SOL,BTC,ETH"] {
        let (fresh, ages) = schedule(symbols, false).await;
        let (every, _) = schedule(symbols, true).await;
        println!(
            "  {} symbol(s): default {fresh}, every module every run {every}: {:.2}x fewer",
            symbols.split(',').count(),
            every as f64 / fresh.max(1) as f64
        );
        let ages: Vec<String> = ages
            .iter()
            .map(|(m, a)| format!("{m} {:.0}s", *a as f64 / 1000.0))
            .collect();
        println!("    largest data age per module: {}", ages.join(", "));
    }

    let sb = Sandbox::start(([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    sb.state.set_licensed(true);
    for m in ModuleId::ALL {
        sb.state.set_fault(
            m,
            Fault {
                delay_ms: Some(200),
                ..Default::default()
            },
        );
    }
    let symbols: Vec<String> = (0..200).map(|i| format!("C{i:03}")).collect();
    let symbols = symbols.join(",");
    let url = sb.url();
    let mut cfg = Flags::parse_from(["t", "--py-base-url", url.as_str(), "--symbol", &symbols])
        .c
        .validate()
        .expect("config");
    cfg.sandbox = true;
    let runner = Runner::new(cfg, sniper::run::system_clock()).expect("runner");
    let started = Instant::now();
    let results = runner.run_once().await;
    let took = started.elapsed();
    let ok = results.iter().filter(|r| r.success).count();
    println!(
        "200 symbols x 5 modules, backend answering in 200 ms, SNIPER_MAX_IN_FLIGHT=64: run {:.2} s \
         ({} requests, {ok}/200 symbols with data; deadline {:?})",
        took.as_secs_f64(),
        sb.state.hits().len(),
        Duration::from_secs(5)
    );
}
