//! Cost over real HTTP on loopback: freshness per module, conditional revalidation, the gateway's
//! budget share, and many symbols under the in-flight bound. The clock is a fake one the test
//! moves; nothing sleeps to pass time.

use crate::support as common;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use sniper::budget::{Budget, BudgetConfig};
use sniper::module_id::ModuleId;
use sniper::run::freshness::ReuseReason;
use sniper::run::modules::Outcome;
use sniper::run::{Clock, Runner};
use sniper::sandbox::Sandbox;

fn fake_clock() -> (Clock, Arc<AtomicI64>) {
    // Starts at the real now: the sandbox stamps its data with the real time (staleness).
    let ms = Arc::new(AtomicI64::new(jiff::Timestamp::now().as_millisecond()));
    let m = ms.clone();
    let clock: Clock =
        Arc::new(move || jiff::Timestamp::from_millisecond(m.load(Ordering::SeqCst)).unwrap());
    (clock, ms)
}

async fn serve(app: Router) -> String {
    crate::support::stub::serve(app).await.url()
}

#[tokio::test]
async fn a_one_minute_module_is_requested_once_in_12_runs_5s_apart() {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let (clock, ms) = fake_clock();
    let url = sb.url();
    let mut cfg = common::config(&["--py-base-url", &url]);
    cfg.sandbox = true;
    let runner = Runner::new(cfg, clock).unwrap();
    let mut max_age_ms = 0;
    for _ in 0..12 {
        let r = runner.run_once().await.remove(0);
        assert!(
            r.used_modules.contains(&ModuleId::Heatmap),
            "{:?}",
            r.errors
        );
        if let Some(reused) = r.context[&ModuleId::Heatmap].reused {
            assert_eq!(reused.reason, ReuseReason::Fresh);
            max_age_ms = max_age_ms.max(reused.age_ms);
        }
        ms.fetch_add(5_000, Ordering::SeqCst);
    }
    assert_eq!(
        sb.state.hits_for(ModuleId::Heatmap).len(),
        1,
        "heatmap: 1 min refresh"
    );
    assert_eq!(
        sb.state.hits_for(ModuleId::Bias).len(),
        1,
        "bias: 1 min refresh"
    );
    assert_eq!(
        sb.state.hits_for(ModuleId::SpotOb).len(),
        12,
        "order book: every run"
    );
    assert_eq!(max_age_ms, 55_000, "reused data says its age");
    // The 13th run, 60 s after the first fetch, fetches again.
    runner.run_once().await;
    assert_eq!(sb.state.hits_for(ModuleId::Heatmap).len(), 2);
}

#[tokio::test]
async fn a_304_answer_is_counted_as_fresh_data() {
    let seen_conditional = Arc::new(AtomicUsize::new(0));
    let bias_hits = Arc::new(AtomicUsize::new(0));
    let (c, h) = (seen_conditional.clone(), bias_hits.clone());
    let app = Router::new().route(
        "/institutional/bias",
        axum::routing::get(move |headers: HeaderMap| {
            let (c, h) = (c.clone(), h.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                if headers.get(header::IF_NONE_MATCH).map(|v| v.as_bytes()) == Some(b"\"v1\"") {
                    c.fetch_add(1, Ordering::SeqCst);
                    return (StatusCode::NOT_MODIFIED, [(header::ETAG, "\"v1\"")], "")
                        .into_response();
                }
                (
                    [(header::ETAG, "\"v1\"")],
                    axum::Json(serde_json::json!({"direction": "LONG", "score": 0.4})),
                )
                    .into_response()
            }
        }),
    );
    let url = serve(app).await;
    let (clock, ms) = fake_clock();
    let cfg = common::config(&[
        "--py-base-url",
        &url,
        "--feature-etf",
        "off",
        "--feature-heatmap",
        "off",
        "--feature-spot-ob",
        "off",
        "--feature-whale-alerts",
        "off",
    ]);
    let runner = Runner::new(cfg, clock).unwrap();
    let first = runner.run_once().await.remove(0);
    assert!(first.success, "{:?}", first.errors);
    ms.fetch_add(61_000, Ordering::SeqCst);
    let second = runner.run_once().await.remove(0);
    assert!(second.success, "{:?}", second.errors);
    let bias = &second.context[&ModuleId::Bias];
    assert!(matches!(bias.call.outcome, Outcome::Ok { .. }));
    assert_eq!(
        bias.reused.map(|r| r.reason),
        Some(ReuseReason::NotModified)
    );
    assert_eq!(
        seen_conditional.load(Ordering::SeqCst),
        1,
        "If-None-Match sent"
    );
    // Fresh again for a minute: no request at +30 s.
    ms.fetch_add(30_000, Ordering::SeqCst);
    let third = runner.run_once().await.remove(0);
    assert_eq!(
        third.context[&ModuleId::Bias].reused.map(|r| r.reason),
        Some(ReuseReason::Fresh)
    );
    assert_eq!(bias_hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_gateway_answers_429_with_retry_after_when_its_share_is_spent() {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let (clock, ms) = fake_clock();
    // 10 a minute, gateway 30 % = 3 a minute.
    let budget = Arc::new(Budget::new(
        BudgetConfig {
            per_min: NonZeroU32::new(10),
            shares_pct: [60, 10, 30],
        },
        clock,
    ));
    let mut cfg = sniper::gateway::ProxyConfig::new(sb.url().parse().unwrap());
    cfg.forward_all = true;
    cfg.budget = Some(budget);
    let url = serve(sniper::gateway::try_router(cfg).unwrap()).await;
    let client = reqwest::Client::new();
    let get = || {
        client
            .get(format!("{url}/gpts/institutional/bias?symbol=SOL"))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(get().await.unwrap().status().as_u16(), 200);
    }
    let r = get().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()[header::RETRY_AFTER], "20");
    let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["error"], "budget_spent");
    assert_eq!(
        sb.state.hits_for(ModuleId::Bias).len(),
        3,
        "the refused call never reached the backend"
    );
    ms.fetch_add(20_000, Ordering::SeqCst);
    assert_eq!(get().await.unwrap().status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_symbols_finish_within_the_deadline_under_the_in_flight_bound() {
    // A backend that answers every request after 200 ms, counting requests in flight.
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    let (n, p, t) = (now.clone(), peak.clone(), total.clone());
    let app = Router::new().fallback(move || {
        let (n, p, t) = (n.clone(), p.clone(), t.clone());
        async move {
            t.fetch_add(1, Ordering::SeqCst);
            let cur = n.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(cur, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(200)).await;
            n.fetch_sub(1, Ordering::SeqCst);
            axum::Json(serde_json::json!({"direction": "LONG", "score": 0.1}))
        }
    });
    let url = serve(app).await;
    let symbols: Vec<String> = (0..200).map(|i| format!("C{i:03}")).collect();
    let symbols = symbols.join(",");
    let cfg = common::config(&[
        "--py-base-url",
        &url,
        "--symbol",
        &symbols,
        "--max-in-flight",
        "64",
        "--discovery-timeout",
        "300ms",
    ]);
    let deadline = cfg.run_deadline;
    let runner = Runner::new(cfg, sniper::run::system_clock()).unwrap();
    let started = std::time::Instant::now();
    let results = runner.run_once().await;
    let took = started.elapsed();
    assert_eq!(results.len(), 200);
    assert!(took <= deadline + Duration::from_millis(500), "{took:?}");
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= 64, "peak in flight {peak} > 64");
    assert!(peak > 8, "requests ran concurrently (peak {peak})");
    // Every per-symbol module of every symbol reached the backend (3 × 200) plus the two
    // run-wide ones and the spec request.
    assert!(total.load(Ordering::SeqCst) >= 3 * 200 + 2);
    for r in &results {
        assert!(
            r.context[&ModuleId::Bias].call.attempts >= 1,
            "{}: {:?}",
            r.symbols.input,
            r.errors
        );
    }
}

/// Two replicas (two `PgStore`s on one real PostgreSQL, each the counter of its own daemon
/// budget) spend one scheduled share between them. The server is the harness's throwaway one
/// (`tests/support/pg.rs`); without PostgreSQL the test says so and returns, unless
/// `SNIPER_REQUIRE_POSTGRES=1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_postgres_store_spend_one_budget() {
    use sniper::budget::{Consumer, Refused};
    use sniper::store::AsyncStore;
    use sniper::store::postgres::PgStore;
    // The harness's sync client must not run on an async worker.
    let Some(url) = tokio::task::spawn_blocking(crate::support::pg::url)
        .await
        .unwrap()
    else {
        return;
    };
    let open = |replica: &'static str| {
        let url = url.clone();
        async move {
            let st = tokio::task::spawn_blocking(move || PgStore::open(&url, replica))
                .await
                .unwrap()
                .unwrap();
            AsyncStore::new(Arc::new(st))
        }
    };
    let (sa, sb) = (open("budget-a").await, open("budget-b").await);
    assert!(sa.is_shared());
    // A minute no earlier run of this test used (the server may be shared between runs).
    let minute =
        3_000_000_000 + i64::from(jiff::Timestamp::now().subsec_nanosecond()) % 1_000_000_000;
    let (clock, ms) = fake_clock();
    ms.store(minute * 60_000 + 10_000, Ordering::SeqCst);
    let cfg = BudgetConfig {
        per_min: NonZeroU32::new(10),
        shares_pct: [60, 10, 30],
    };
    let budgets = [
        Arc::new(sniper::daemon::shared_budget::budget_for(
            cfg,
            clock.clone(),
            &sa,
        )),
        Arc::new(sniper::daemon::shared_budget::budget_for(
            cfg,
            clock.clone(),
            &sb,
        )),
    ];
    assert!(budgets.iter().all(|b| b.is_shared()));
    let tasks: Vec<_> = budgets
        .iter()
        .map(|b| {
            let b = b.clone();
            tokio::spawn(async move {
                let mut ok = 0;
                for _ in 0..10 {
                    if b.try_spend(Consumer::Scheduled).await.is_ok() {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let mut spent = 0;
    for t in tasks {
        spent += t.await.unwrap();
    }
    assert_eq!(
        spent, 6,
        "both replicas together spent the scheduled share of 6 once"
    );
    match budgets[1].try_spend(Consumer::Scheduled).await {
        Err(Refused::Spent { retry_after, .. }) => assert_eq!(retry_after, Duration::from_secs(50)),
        other => panic!("expected the share spent, got {other:?}"),
    }
    // The next minute refills it.
    ms.fetch_add(60_000, Ordering::SeqCst);
    assert!(budgets[0].try_spend(Consumer::Scheduled).await.is_ok());
}

/// A module another replica found closed (a shared 402 window) spends no budget: only a request
/// that goes out is counted. The sandbox sees no request for it either.
#[tokio::test]
async fn a_module_closed_by_a_shared_fact_spends_no_budget() {
    use sniper::budget::Consumer;
    use sniper::resilience::breaker::OpenReason;
    let (sb, runner) = common::sandbox_runner(&["--budget-per-min", "100"]).await;
    let until = runner.now() + jiff::SignedDuration::from_secs(600);
    runner.set_shared_blocks([(ModuleId::Etf, OpenReason::Entitlement, until)]);
    let r = runner.run_once().await.remove(0);
    assert!(
        matches!(&r.context[&ModuleId::Etf].call.outcome, Outcome::SoftFail { code, .. } if code == "ETF_CIRCUIT_OPEN"),
        "{:?}",
        r.context[&ModuleId::Etf].call.outcome
    );
    assert_eq!(sb.state.hits_for(ModuleId::Etf).len(), 0);
    let sent: usize = ModuleId::ALL
        .into_iter()
        .map(|m| sb.state.hits_for(m).len())
        .sum();
    assert_eq!(sent, 4, "the four open modules went out");
    // Scheduled share: 60 of 100; the run spent exactly its 4 requests, this spend is the 5th.
    assert_eq!(
        runner.budget().try_spend(Consumer::Scheduled).await,
        Ok(Some(60 - 4 - 1))
    );
}
