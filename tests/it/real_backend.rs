//! The real backend's answers (`../shared/fixtures/payloads/rcz87-coinglass-system`) replayed
//! through a loopback stub: `ok` means usable market data, not "2xx with JSON".

use crate::support as common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sniper::module_id::ModuleId;
use sniper::run::Runner;
use sniper::run::modules::Outcome;
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture(name: &str) -> Value {
    let root = env!("CARGO_MANIFEST_DIR");
    for dir in [
        format!("{root}/../shared/fixtures/payloads/rcz87-coinglass-system"),
        format!("{root}/../../shared/fixtures/payloads/rcz87-coinglass-system"),
    ] {
        if let Ok(text) = std::fs::read_to_string(format!("{dir}/{name}")) {
            let v: Value = serde_json::from_str(&text).unwrap();
            return v["body"].clone();
        }
    }
    panic!("fixture {name} not found (../shared beside the repository)");
}

/// A stub answering like the real backend: no spec, the fixtures on the design's paths.
async fn real_backend() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/openapi.json"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/advanced/etf/flows"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("etf.json")))
        .mount(&server)
        .await;
    // The base form gets all-zero rows, any other form `[]` (the backend passes it to CoinGlass
    // as a coin).
    Mock::given(method("GET"))
        .and(path("/advanced/liquidation/heatmap"))
        .and(query_param("symbol", "SOL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("heatmap-base-form.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/advanced/liquidation/heatmap"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("heatmap.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/advanced/spot/orderbook"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("spot_ob.json")))
        .mount(&server)
        .await;
    server
}

/// The clock at the order book fixture's time, so its freshness is judged as when it was served.
fn fixture_clock() -> sniper::run::Clock {
    let at: jiff::Timestamp = fixture("spot_ob.json")["timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    Arc::new(move || at + Duration::from_secs(1))
}

fn code(r: &sniper::run::RunResult, m: ModuleId) -> Option<String> {
    match &r.context[&m].call.outcome {
        Outcome::SoftFail { code, .. } => Some(code.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn the_real_backends_empty_answers_are_not_ok_and_its_fallback_book_says_so() {
    let server = real_backend().await;
    let cfg = common::config(&[
        "--py-base-url",
        &server.uri(),
        "--feature-whale-alerts",
        "off",
        "--feature-bias",
        "off",
    ]);
    let runner = Runner::new(cfg, fixture_clock()).unwrap();
    let r = runner.run_once().await.remove(0);
    assert_eq!(code(&r, ModuleId::Etf).as_deref(), Some("ETF_EMPTY"));
    assert_eq!(
        code(&r, ModuleId::Heatmap).as_deref(),
        Some("HEATMAP_EMPTY")
    );
    match &r.context[&ModuleId::SpotOb].call.outcome {
        Outcome::Ok {
            data: sniper::market::MarketData::OrderBook(b),
        } => {
            assert_eq!(b.venue.as_deref(), Some("okx-fallback"));
            let note = b.note.as_deref().unwrap_or_default();
            assert!(
                note.contains("okx-fallback") && note.contains("binance"),
                "{note}"
            );
        }
        o => panic!("order book not ok: {o:?}"),
    }
    assert_eq!(r.used_modules, vec![ModuleId::SpotOb]);
    assert!(r.features.book.is_some() && r.features.etf.is_none());
    // Empty answers never trip a breaker.
    for m in [ModuleId::Etf, ModuleId::Heatmap] {
        let state = r.context[&m].breaker.as_ref().map(|v| v.state);
        assert_eq!(
            state,
            Some(sniper::resilience::breaker::BreakerState::Closed),
            "{m}"
        );
    }
}

#[test]
fn only_the_empty_modules_enabled_exits_1() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(real_backend());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sniper"))
        .args(["once", "--json"])
        .env("PY_BASE_URL", server.uri())
        .env("FEATURE_SPOT_OB", "off")
        .env("FEATURE_WHALE_ALERTS", "off")
        .env("FEATURE_BIAS", "off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let v: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(v["success"], false);
    assert_eq!(
        v["softFails"],
        serde_json::json!(["ETF_EMPTY", "HEATMAP_EMPTY"])
    );
}

/// A backend that answers `[]` to the perp form and rows to the base form: with the form not
/// pinned by any spec, the other forms are tried within the module's time, and the one with data
/// is learned (the next run asks it first).
#[tokio::test]
async fn an_empty_answer_tries_the_other_symbol_forms_and_learns_the_one_with_data() {
    let server = MockServer::start().await;
    Mock::given(path("/openapi.json"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/advanced/liquidation/heatmap"))
        .and(query_param("symbol", "SOL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([
            {"symbol": "SOL", "price_level": 140.5, "liquidation_amount": 2500000.0, "side": "long"},
            {"symbol": "SOL", "price_level": 158.0, "liquidation_amount": 1800000.0, "side": "short"}
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/advanced/liquidation/heatmap"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&server)
        .await;
    let cfg = common::config(&[
        "--py-base-url",
        &server.uri(),
        "--heatmap-symbol-form",
        "perp",
        "--refresh-heatmap",
        "0",
        "--feature-etf",
        "off",
        "--feature-spot-ob",
        "off",
        "--feature-whale-alerts",
        "off",
        "--feature-bias",
        "off",
    ]);
    let runner = Runner::new(cfg, sniper::run::system_clock()).unwrap();
    let first = runner.run_once().await.remove(0);
    assert!(
        first.used_modules.contains(&ModuleId::Heatmap),
        "{:?}",
        first.errors
    );
    let symbols = |reqs: &[wiremock::Request]| -> Vec<String> {
        reqs.iter()
            .filter(|r| r.url.path() == "/advanced/liquidation/heatmap")
            .filter_map(|r| {
                r.url
                    .query_pairs()
                    .find(|(k, _)| k == "symbol")
                    .map(|(_, v)| v.into_owned())
            })
            .collect()
    };
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        symbols(&reqs),
        ["SOL-USDT-SWAP", "SOL"],
        "perp first (configured), then base"
    );
    let second = runner.run_once().await.remove(0);
    assert!(second.used_modules.contains(&ModuleId::Heatmap));
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        symbols(&reqs),
        ["SOL-USDT-SWAP", "SOL", "SOL"],
        "the learned form is asked first"
    );
}

/// A wall clock at the order book fixture's time (+1 s), moved by the test.
fn moving_fixture_clock() -> (sniper::run::Clock, Arc<std::sync::atomic::AtomicI64>) {
    let at: jiff::Timestamp = fixture("spot_ob.json")["timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let ms = Arc::new(std::sync::atomic::AtomicI64::new(
        at.as_millisecond() + 1000,
    ));
    let m = ms.clone();
    let clock: sniper::run::Clock = Arc::new(move || {
        jiff::Timestamp::from_millisecond(m.load(std::sync::atomic::Ordering::SeqCst)).unwrap()
    });
    (clock, ms)
}

fn count(reqs: &[wiremock::Request], p: &str) -> usize {
    reqs.iter().filter(|r| r.url.path() == p).count()
}

/// Issue 22 items 8, 9, 10: the real backend's `[]` answers (ETF, whales) and empty heatmap rows
/// over 20 one-second runs. An answer is an answer: each unusable module is asked once and its
/// answer kept for the module's refresh interval (heatmap/whales 1 min, ETF 15 min); the heatmap's
/// symbol-form search runs once, then is backed off (the next due fetch asks the configured form
/// only). The order book (refresh 0) is asked every run. Codes name their module; the heatmap's
/// report comes from one attempt (its request and detail) and lists the other forms tried.
#[tokio::test]
async fn empty_answers_are_kept_like_data_and_the_form_search_is_backed_off() {
    let server = real_backend().await;
    Mock::given(method("GET"))
        .and(path("/advanced/whale/alerts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&server)
        .await;
    let cfg = common::config(&["--py-base-url", &server.uri(), "--feature-bias", "off"]);
    let (clock, ms) = moving_fixture_clock();
    let runner = Runner::new(cfg, clock).unwrap();
    let mut results = Vec::new();
    for _ in 0..20 {
        results.push(runner.run_once().await.remove(0));
        ms.fetch_add(1000, std::sync::atomic::Ordering::SeqCst);
    }
    let reqs = server.received_requests().await.unwrap();
    let counts = [
        "/advanced/spot/orderbook",
        "/advanced/etf/flows",
        "/advanced/whale/alerts",
        "/advanced/liquidation/heatmap",
    ]
    .map(|p| count(&reqs, p));
    // Before: 20, 20 × 3, 20, 20 × 3. Now the book every run; ETF and the heatmap one search of
    // three symbol forms (BTC/BTCUSDT/BTC-USDT-SWAP, SOL-USDT-SWAP/SOL/SOLUSDT), then their answer
    // is kept; whale alerts (no symbol parameter) one request.
    assert_eq!(counts, [20, 3, 1, 3], "book, etf, whales, heatmap");
    for r in &results {
        assert_eq!(
            r.soft_fails,
            ["ETF_EMPTY", "HEATMAP_EMPTY", "WHALE_ALERTS_EMPTY"],
            "{:?}",
            r.errors
        );
    }
    // Kept answers say so, with their age.
    let last = &results[19].context[&ModuleId::Etf];
    assert_eq!(last.reused.map(|u| u.age_ms), Some(19_000));
    assert_eq!(last.call.attempts, 0);
    // The heatmap report: request and detail of the first form's answer (the module's default,
    // base: all-zero rows), the other forms listed with their codes.
    let h = &results[0].context[&ModuleId::Heatmap];
    let request = h.call.request.as_deref().unwrap_or_default();
    assert!(request.contains("symbol=SOL&"), "{request}");
    let Outcome::SoftFail { detail, .. } = &h.call.outcome else {
        panic!("{:?}", h.call.outcome)
    };
    let (own, others) = detail
        .split_once("; other symbol forms tried: ")
        .unwrap_or_else(|| panic!("{detail}"));
    assert!(!own.contains("symbol="), "{own}");
    assert!(
        others.contains("symbol=SOLUSDT&timeframe=1h → HEATMAP_EMPTY")
            && others.contains("symbol=SOL-USDT-SWAP&timeframe=1h → HEATMAP_EMPTY")
            && !others.contains("symbol=SOL&"),
        "{others}"
    );
    // A minute on, the kept answer is due: the configured form only (the search is backed off).
    ms.fetch_add(45_000, std::sync::atomic::Ordering::SeqCst);
    runner.run_once().await;
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        count(&reqs, "/advanced/liquidation/heatmap"),
        4,
        "the configured form only"
    );
    // After the back-off (2 min from the search) and the kept answer's minute, one more search.
    ms.fetch_add(120_000, std::sync::atomic::Ordering::SeqCst);
    runner.run_once().await;
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(count(&reqs, "/advanced/liquidation/heatmap"), 7);
}
