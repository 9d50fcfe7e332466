//! Failure kinds from public bug reports (issue 13 items 1–3), over real HTTP against the
//! sandbox with the fault-matrix harness and its fake clock.

use crate::support::faults;

use faults::{received, run, setup};
use sniper::module_id::ModuleId;
use sniper::resilience::breaker::BreakerState;
use sniper::resilience::class::ErrorClass;
use sniper::run::RunResult;
use sniper::run::modules::Outcome;
use sniper::sandbox::Fault;

fn class_of(r: &RunResult, m: ModuleId) -> Option<ErrorClass> {
    match &r.context[&m].call.outcome {
        Outcome::SoftFail { class, .. } => class.clone(),
        o => panic!("{m}: expected a soft fail, got {o:?}"),
    }
}

fn code_of(r: &RunResult, m: ModuleId) -> String {
    match &r.context[&m].call.outcome {
        Outcome::SoftFail { code, .. } => code.clone(),
        o => panic!("{m}: expected a soft fail, got {o:?}"),
    }
}

const BINANCE_BAN: &str =
    r#"{"code":-1003,"msg":"Way too much request weight used; IP banned until 1767225600000."}"#;

/// Item 1: a 418 with `Retry-After: 120` relaying an exchange's IP ban is a rate limit for
/// 120 s: the circuit opens at once and no request goes out for the next 20 s of runs (each
/// call would extend the ban); after 120 s one probe goes out.
#[tokio::test]
async fn teapot_with_retry_after_is_a_rate_limit_for_that_long() {
    let (sb, runner, clock) = setup(&[]).await;
    let m = ModuleId::Heatmap;
    sb.state.set_fault(
        m,
        Fault {
            status: Some(418),
            retry_after: Some("120".into()),
            body: Some(serde_json::from_str(BINANCE_BAN).expect("json")),
            ..Fault::default()
        },
    );
    let r = run(&runner).await;
    assert_eq!(
        class_of(&r, m),
        Some(ErrorClass::RateLimited {
            retry_after_secs: Some(120)
        })
    );
    assert_eq!(code_of(&r, m), "HEATMAP_RATE_LIMITED");
    let view = r.context[&m].breaker.clone().expect("view");
    assert_eq!(view.state, BreakerState::Open);
    assert_eq!(
        view.until,
        clock
            .now()
            .checked_add(jiff::SignedDuration::from_secs(120))
            .ok()
    );
    let after_first = received(&sb, m);
    assert_eq!(after_first, 1, "a rate limit is never retried");
    for _ in 0..4 {
        clock.advance(5);
        let r = run(&runner).await;
        assert_eq!(code_of(&r, m), "HEATMAP_CIRCUIT_OPEN");
    }
    assert_eq!(received(&sb, m), after_first, "no request during the ban");
    clock.advance(100);
    sb.state.clear_faults();
    let r = run(&runner).await;
    assert!(
        r.used_modules.contains(&m),
        "probe after the ban: {:?}",
        r.errors
    );
    assert_eq!(received(&sb, m), after_first + 1);
}

/// Item 1, without the header: the ban body's "until <epoch ms>" sets the open time (capped by
/// `SNIPER_BREAKER_RATE_LIMIT_CAP`), and OKX's `50011` in a 200 envelope is a rate limit.
#[tokio::test]
async fn ban_bodies_without_retry_after_are_rate_limits() {
    let (sb, runner, clock) = setup(&["--breaker-rate-limit-cap", "90s"]).await;
    // The ban ends 10 minutes after the fake clock's start.
    let until_ms = clock.now().as_millisecond() + 600_000;
    sb.state.set_fault(
        ModuleId::Heatmap,
        Fault {
            status: Some(418),
            body: Some(serde_json::json!({
                "code": -1003,
                "msg": format!("Way too much request weight used; IP banned until {until_ms}.")
            })),
            ..Fault::default()
        },
    );
    sb.state.set_fault(
        ModuleId::SpotOb,
        Fault {
            status: Some(200),
            body: Some(serde_json::json!({"code": "50011", "msg": "Rate limit reached."})),
            ..Fault::default()
        },
    );
    let r = run(&runner).await;
    assert_eq!(
        class_of(&r, ModuleId::Heatmap),
        Some(ErrorClass::RateLimited {
            retry_after_secs: Some(600)
        })
    );
    let until = r.context[&ModuleId::Heatmap]
        .breaker
        .clone()
        .and_then(|v| v.until);
    assert_eq!(
        until,
        clock
            .now()
            .checked_add(jiff::SignedDuration::from_secs(90))
            .ok(),
        "capped by SNIPER_BREAKER_RATE_LIMIT_CAP"
    );
    assert_eq!(
        class_of(&r, ModuleId::SpotOb),
        Some(ErrorClass::RateLimited {
            retry_after_secs: None
        })
    );
    assert_eq!(
        r.context[&ModuleId::SpotOb]
            .breaker
            .clone()
            .map(|v| v.state),
        Some(BreakerState::Open),
        "a rate limit opens at once"
    );
}

const SIX: &str = "SOL,AAA,BBB,CCC,DDD,EEE";
const UNKNOWN: [&str; 5] = ["AAA", "BBB", "CCC", "DDD", "EEE"];

/// Heatmap requests the sandbox received naming `symbol` (in the path or the query).
fn heatmap_hits(sb: &sniper::sandbox::Sandbox, symbol: &str) -> usize {
    sb.state
        .hits_for(ModuleId::Heatmap)
        .iter()
        .filter(|h| {
            h.path.contains(symbol) || h.query.as_deref().is_some_and(|q| q.contains(symbol))
        })
        .count()
}

fn result_for<'a>(rs: &'a [RunResult], symbol: &str) -> &'a RunResult {
    rs.iter()
        .find(|r| r.symbols.input == symbol)
        .expect("a result per symbol")
}

/// Item 2: five unknown symbols answered `400 {"detail":"symbol not supported"}` open a
/// breaker for (heatmap, that symbol) only; SOL's heatmap keeps one request per run and the
/// module's own breaker stays closed.
#[tokio::test]
async fn one_symbols_rejection_does_not_close_the_module_for_the_others() {
    let (sb, runner, clock) = setup(&["--symbol", SIX]).await;
    sb.state.set_fault(
        ModuleId::Heatmap,
        Fault {
            status: Some(400),
            body: Some(serde_json::json!({"detail": "symbol not supported"})),
            symbols: UNKNOWN.iter().map(|s| s.to_string()).collect(),
            ..Fault::default()
        },
    );
    let runs = 7; // t = 0, 5, … 30 s
    let mut last = Vec::new();
    for _ in 0..runs {
        last = runner.run_once().await;
        assert_eq!(last.len(), 6);
        clock.advance(5);
    }
    assert_eq!(heatmap_hits(&sb, "SOL"), runs, "one SOL request per run");
    let sol = result_for(&last, "SOL");
    assert!(
        sol.used_modules.contains(&ModuleId::Heatmap),
        "{:?}",
        sol.errors
    );
    for s in UNKNOWN {
        assert_eq!(
            heatmap_hits(&sb, s),
            5,
            "{s}: the threshold, then its own circuit"
        );
        let r = result_for(&last, s);
        assert_eq!(code_of(r, ModuleId::Heatmap), "HEATMAP_CIRCUIT_OPEN");
        let heatmap = &r.context[&ModuleId::Heatmap];
        let own = heatmap.symbol_breaker.clone().expect("per-symbol view");
        assert_eq!(own.state, BreakerState::Open, "{s}");
        assert_eq!(own.reason.map(|r| r.as_str()), Some("bad_payload"), "{s}");
        assert_eq!(
            heatmap.breaker.clone().map(|v| v.state),
            Some(BreakerState::Closed),
            "{s}: the module's breaker is for the backend's own failures"
        );
    }
    // The per-symbol breakers are saved under `<module>:<symbol>` keys.
    let keys: Vec<String> = runner
        .keyed_breaker_snapshots()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(keys.contains(&"heatmap:AAA".to_string()), "{keys:?}");
    assert!(keys.contains(&"heatmap".to_string()), "{keys:?}");
}

/// Item 2: a backend failure (500 for every symbol) still counts against the module: one
/// breaker for all symbols, opened after the threshold, and in half-open only one symbol probes.
#[tokio::test]
async fn backend_failures_still_open_the_module_and_one_symbol_probes() {
    let (sb, runner, clock) = setup(&["--symbol", "SOL,BTC,ETH"]).await;
    sb.state.set_fault(
        ModuleId::Heatmap,
        Fault {
            status: Some(500),
            ..Fault::default()
        },
    );
    // Each run sends 3 calls (one per symbol); 2 runs = 6 failures ≥ the threshold of 5.
    for _ in 0..2 {
        runner.run_once().await;
        clock.advance(5);
    }
    let rs = runner.run_once().await;
    for r in &rs {
        assert_eq!(code_of(r, ModuleId::Heatmap), "HEATMAP_CIRCUIT_OPEN");
    }
    let before = sb.state.hits_for(ModuleId::Heatmap).len();
    sb.state.clear_faults();
    clock.advance(30);
    let rs = runner.run_once().await;
    let probed = rs
        .iter()
        .filter(|r| r.context[&ModuleId::Heatmap].call.attempts > 0)
        .count();
    assert_eq!(
        probed, 1,
        "half-open lets exactly one symbol's call through"
    );
    assert_eq!(sb.state.hits_for(ModuleId::Heatmap).len(), before + 1);
    clock.advance(5);
    let rs = runner.run_once().await;
    assert!(
        rs.iter()
            .all(|r| r.used_modules.contains(&ModuleId::Heatmap))
    );
}

/// Item 2: once a symbol's call succeeded on a route (discovery settled: a learned shape), a 404
/// for another symbol on every shape counts against that symbol, not the module; before that,
/// a 404 is discovery's business and opens nothing.
#[tokio::test]
async fn a_404_after_discovery_settled_counts_against_the_symbol() {
    let (sb, runner, clock) = setup(&["--symbol", "SOL,AAA"]).await;
    let rs = runner.run_once().await;
    assert!(
        rs.iter()
            .all(|r| r.used_modules.contains(&ModuleId::Heatmap))
    );
    sb.state.set_fault(
        ModuleId::Heatmap,
        Fault {
            status: Some(404),
            symbols: vec!["AAA".into()],
            ..Fault::default()
        },
    );
    let mut last = Vec::new();
    for _ in 0..5 {
        clock.advance(5);
        last = runner.run_once().await;
    }
    let aaa = &result_for(&last, "AAA").context[&ModuleId::Heatmap];
    assert_eq!(
        aaa.symbol_breaker.clone().map(|v| v.state),
        Some(BreakerState::Open),
        "{aaa:?}"
    );
    assert_eq!(
        aaa.breaker.clone().map(|v| v.state),
        Some(BreakerState::Closed)
    );
    let hits = heatmap_hits(&sb, "AAA");
    clock.advance(5);
    let rs = runner.run_once().await;
    assert_eq!(heatmap_hits(&sb, "AAA"), hits, "AAA's circuit is open");
    assert!(
        result_for(&rs, "SOL")
            .used_modules
            .contains(&ModuleId::Heatmap)
    );
}

/// Issue 18: a run in which every module was refused by an open circuit sent nothing; the
/// scheduler sees `NothingSent` (no backoff growth) and the earliest half-open instant.
#[tokio::test]
async fn a_run_refused_by_every_circuit_sent_nothing() {
    use sniper::daemon::scheduler::RunVerdict;
    use sniper::daemon::server::summarize;
    let (sb, runner, clock) = setup(&[]).await;
    for m in ModuleId::ALL {
        sb.state.set_fault(
            m,
            Fault {
                status: Some(429),
                retry_after: Some(format!("{}", 10 + m as i64)),
                ..Fault::default()
            },
        );
    }
    let first = runner.run_once().await;
    assert_eq!(summarize(&first).verdict(), RunVerdict::Failure);
    let sent = sb.state.hits().len();
    clock.advance(1);
    let refused = runner.run_once().await;
    assert_eq!(sb.state.hits().len(), sent);
    let s = summarize(&refused);
    assert_eq!(s.verdict(), RunVerdict::NothingSent);
    let t0 = clock
        .now()
        .checked_sub(jiff::SignedDuration::from_secs(1))
        .ok();
    assert_eq!(
        s.next_half_open,
        t0.and_then(|t| t.checked_add(jiff::SignedDuration::from_secs(10)).ok()),
        "the first circuit to turn half-open"
    );
}
