//! Truth at the edges (issue 22): numbers, times, envelopes and encodings sniper used to misread,
//! each over real loopback HTTP (wiremock stand-ins for the backend) or through the public parse
//! API, with a clock the test controls.

use crate::support as common;

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Value, json};
use sniper::market::{Asked, DataError, MarketData, default_max_age, parse, parse_with_skew};
use sniper::module_id::ModuleId;
use sniper::resilience::breaker::BreakerState;
use sniper::resilience::class::ErrorClass;
use sniper::run::modules::Outcome;
use sniper::run::{Clock, RunResult, Runner};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// 2026-11-29T11:50:56Z.
const T0: i64 = 1_795_953_056;

/// A wall clock the test moves (seconds).
fn fake_clock(start: i64) -> (Clock, Arc<AtomicI64>) {
    let secs = Arc::new(AtomicI64::new(start));
    let s = secs.clone();
    let clock: Clock =
        Arc::new(move || jiff::Timestamp::from_second(s.load(Ordering::SeqCst)).unwrap());
    (clock, secs)
}

/// Only the order book enabled, on `server`.
fn book_only(server: &MockServer, extra: &[&str]) -> sniper::config::Config {
    let uri = server.uri();
    let mut flags = vec![
        "--py-base-url",
        uri.as_str(),
        "--feature-etf",
        "off",
        "--feature-heatmap",
        "off",
        "--feature-whale-alerts",
        "off",
        "--feature-bias",
        "off",
    ];
    flags.extend_from_slice(extra);
    common::config(&flags)
}

async fn stub_book(server: &MockServer, resp: ResponseTemplate) {
    Mock::given(path("/openapi.json"))
        .respond_with(ResponseTemplate::new(404))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/advanced/spot/orderbook"))
        .respond_with(resp)
        .mount(server)
        .await;
}

fn book_requests(reqs: &[wiremock::Request]) -> usize {
    reqs.iter()
        .filter(|r| r.url.path() == "/advanced/spot/orderbook")
        .count()
}

fn soft(r: &RunResult, m: ModuleId) -> (String, Option<ErrorClass>, String) {
    match &r.context[&m].call.outcome {
        Outcome::SoftFail {
            code,
            class,
            detail,
        } => (code.clone(), class.clone(), detail.clone()),
        o => panic!("{m}: expected a soft fail, got {o:?}"),
    }
}

/// A book without a time of its own (so only the transport and the envelope are judged).
fn book() -> Value {
    json!({"bids": [["141.30", "2.5"], ["141.20", "4"]], "asks": [["141.40", "1.5"], ["141.50", "3"]]})
}

// ---- item 1: locale numbers -------------------------------------------------------------------

#[test]
fn a_decimal_comma_is_never_read_as_a_thousands_separator() {
    let body = json!({"bids": [["151,142", "2"]], "asks": [["151,150", "1"]]});
    let e = parse(
        ModuleId::SpotOb,
        &body,
        T0 * 1000,
        default_max_age(ModuleId::SpotOb),
        &Asked::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(ModuleId::SpotOb), "SPOT_OB_BAD_PAYLOAD");
    assert!(e.to_string().contains("bids[0]"), "{e}");
    assert!(e.to_string().contains("151,142"), "{e}");
    // Where only a decimal comma fits, it is read as one: a mid of 151.14, not 151 140.
    let body = json!({"bids": [["151,13", "2"]], "asks": [["151,15", "1"]]});
    match parse(
        ModuleId::SpotOb,
        &body,
        T0 * 1000,
        default_max_age(ModuleId::SpotOb),
        &Asked::default(),
    ) {
        Ok(MarketData::OrderBook(b)) => {
            assert_eq!(b.bids[0].price, 151.13);
            assert_eq!(b.asks[0].price, 151.15);
        }
        o => panic!("{o:?}"),
    }
    // The same rule for every module's amounts: a heatmap level.
    let rows = json!([{"price_level": "140,5", "liquidation_amount": "2,500,000", "side": "long"},
                      {"price_level": "158,000", "liquidation_amount": "1", "side": "short"}]);
    let e = parse(
        ModuleId::Heatmap,
        &rows,
        T0 * 1000,
        default_max_age(ModuleId::Heatmap),
        &Asked::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(ModuleId::Heatmap), "HEATMAP_BAD_PAYLOAD", "{e}");
    assert!(e.to_string().contains("158,000"), "{e}");
}

// ---- item 2: times in the future --------------------------------------------------------------

#[test]
fn a_time_in_the_future_beyond_the_skew_is_stale() {
    let now_ms = T0 * 1000;
    let at = |ts: Value| {
        let mut b = book();
        b["timestamp"] = ts;
        parse(
            ModuleId::SpotOb,
            &b,
            now_ms,
            default_max_age(ModuleId::SpotOb),
            &Asked::default(),
        )
    };
    // One day ahead.
    let e = at(json!(now_ms + 86_400_000)).unwrap_err();
    assert_eq!(e.code(ModuleId::SpotOb), "SPOT_OB_STALE");
    assert!(matches!(e, DataError::Future { .. }), "{e:?}");
    // Naive local time (Jakarta, UTC+7) read by the one rule (naive = UTC): seven hours ahead.
    let e = at(json!("2026-11-29T18:50:56")).unwrap_err();
    assert!(matches!(e, DataError::Future { ahead_ms, .. } if ahead_ms == 7 * 3_600_000));
    // Within the default skew (5 s): fresh.
    assert!(at(json!(now_ms + 3_000)).is_ok());
    // ETF days: today's row is fresh (its age runs from the day's end); a day not begun is not.
    let etf_at = |date: &str| {
        parse(
            ModuleId::Etf,
            &json!([{"date": date, "flow_usd": 1.0e6}]),
            now_ms,
            default_max_age(ModuleId::Etf),
            &Asked::default(),
        )
    };
    assert!(etf_at("2026-11-29").is_ok());
    assert!(matches!(
        etf_at("2026-12-01"),
        Err(DataError::Future { .. })
    ));
    // The skew is a setting: 0 refuses even 1 s ahead.
    let mut b = book();
    b["timestamp"] = json!(now_ms + 1_000);
    assert!(
        parse_with_skew(
            ModuleId::SpotOb,
            &b,
            now_ms,
            default_max_age(ModuleId::SpotOb),
            std::time::Duration::ZERO,
            &Asked::default()
        )
        .is_err()
    );
}

#[tokio::test]
async fn a_book_stamped_tomorrow_is_a_stale_soft_fail_in_the_run() {
    let server = MockServer::start().await;
    let mut b = book();
    b["timestamp"] = json!((T0 + 86_400) * 1000);
    stub_book(&server, ResponseTemplate::new(200).set_body_json(b)).await;
    let (clock, _) = fake_clock(T0);
    let runner = Runner::new(book_only(&server, &[]), clock).unwrap();
    let r = runner.run_once().await.remove(0);
    let (code, class, detail) = soft(&r, ModuleId::SpotOb);
    assert_eq!(code, "SPOT_OB_STALE");
    assert_eq!(class, None);
    assert!(detail.contains("future"), "{detail}");
}

// ---- item 3: the wall clock stepping back -----------------------------------------------------

#[tokio::test]
async fn a_wall_clock_stepping_back_never_freezes_the_book() {
    let server = MockServer::start().await;
    stub_book(&server, ResponseTemplate::new(200).set_body_json(book())).await;
    let (clock, secs) = fake_clock(T0);
    let runner = Runner::new(book_only(&server, &[]), clock).unwrap();
    let first = runner.run_once().await.remove(0);
    assert!(first.used_modules.contains(&ModuleId::SpotOb));
    // NTP steps the clock back a minute; the next seven runs, a second apart, each fetch the book.
    secs.fetch_sub(60, Ordering::SeqCst);
    for i in 0..7 {
        let r = runner.run_once().await.remove(0);
        let m = &r.context[&ModuleId::SpotOb];
        assert!(m.reused.is_none(), "run {i} reused {:?}", m.reused);
        assert!(m.call.attempts > 0, "run {i}: no request");
        secs.fetch_add(1, Ordering::SeqCst);
    }
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(book_requests(&reqs), 8);
}

#[tokio::test]
async fn kept_data_ages_on_the_monotonic_clock_not_the_wall() {
    // The heatmap (refresh 60 s) kept at t0; the wall jumps back an hour and the monotonic clock
    // moves 61 s: the data is due (61 s old), not "fresh for another hour".
    let server = MockServer::start().await;
    Mock::given(path("/openapi.json"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/advanced/liquidation/heatmap"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"price_level": 140.5, "liquidation_amount": 2500000.0, "side": "long"},
            {"price_level": 158.0, "liquidation_amount": 1800000.0, "side": "short"}
        ])))
        .mount(&server)
        .await;
    let uri = server.uri();
    let cfg = common::config(&[
        "--py-base-url",
        &uri,
        "--feature-etf",
        "off",
        "--feature-spot-ob",
        "off",
        "--feature-whale-alerts",
        "off",
        "--feature-bias",
        "off",
    ]);
    let (wall, wall_secs) = fake_clock(T0);
    let mono_ms = Arc::new(AtomicI64::new(0));
    let m2 = mono_ms.clone();
    let mono: sniper::run::MonoClock =
        Arc::new(move || std::time::Duration::from_millis(m2.load(Ordering::SeqCst) as u64));
    let runner = Runner::with_clocks(cfg, wall, mono, None).unwrap();
    runner.run_once().await;
    wall_secs.fetch_add(30, Ordering::SeqCst);
    mono_ms.fetch_add(30_000, Ordering::SeqCst);
    let r = runner.run_once().await.remove(0);
    let reused = r.context[&ModuleId::Heatmap]
        .reused
        .expect("reused at 30 s");
    assert_eq!(reused.age_ms, 30_000);
    wall_secs.fetch_sub(3600, Ordering::SeqCst);
    mono_ms.fetch_add(31_000, Ordering::SeqCst);
    let r = runner.run_once().await.remove(0);
    assert!(r.context[&ModuleId::Heatmap].reused.is_none());
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        reqs.iter()
            .filter(|r| r.url.path() == "/advanced/liquidation/heatmap")
            .count(),
        2
    );
}

// ---- item 4: non-standard JSON ----------------------------------------------------------------

#[tokio::test]
async fn bare_nan_and_huge_tokens_are_a_named_bad_payload_outside_the_breaker() {
    for (token, field) in [
        ("NaN", "bids[0] price"),
        ("Infinity", "bids[0] price"),
        ("1e400", "bids[0] price"),
    ] {
        let server = MockServer::start().await;
        let body = format!(r#"{{"bids":[[{token},"2"]],"asks":[["141.4","1"]]}}"#);
        stub_book(
            &server,
            ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/json"),
        )
        .await;
        let (clock, secs) = fake_clock(T0);
        let runner = Runner::new(book_only(&server, &[]), clock).unwrap();
        let mut last = None;
        for _ in 0..6 {
            last = Some(runner.run_once().await.remove(0));
            secs.fetch_add(1, Ordering::SeqCst);
        }
        let r = last.unwrap();
        let (code, class, detail) = soft(&r, ModuleId::SpotOb);
        assert_eq!(code, "SPOT_OB_BAD_PAYLOAD", "{token}");
        assert_eq!(class, None, "{token}: outside the breaker");
        assert!(detail.contains(field), "{token}: {detail}");
        let state = r.context[&ModuleId::SpotOb]
            .breaker
            .as_ref()
            .map(|v| v.state);
        assert_eq!(state, Some(BreakerState::Closed), "{token}");
    }
}

// ---- item 5: compression nobody asked for -----------------------------------------------------

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn a_gzip_body_is_decoded_by_the_runner_with_the_cap_on_the_decoded_size() {
    let plain = serde_json::to_vec(&book()).unwrap();
    for with_header in [true, false] {
        let server = MockServer::start().await;
        let mut resp = ResponseTemplate::new(200)
            .set_body_raw(gz(&plain), "application/json")
            .append_header("x-case", "gzip");
        if with_header {
            resp = resp.append_header("content-encoding", "gzip");
        }
        stub_book(&server, resp).await;
        let (clock, _) = fake_clock(T0);
        let runner = Runner::new(book_only(&server, &[]), clock).unwrap();
        let r = runner.run_once().await.remove(0);
        assert_eq!(
            r.used_modules,
            vec![ModuleId::SpotOb],
            "header {with_header}: {:?}",
            r.errors
        );
    }
    // A bomb: 2 MB of JSON whitespace compresses to a few KB; with a 1 MiB cap it is too large.
    let mut bomb = b"{\"bids\":[[\"1\",\"1\"]],\"asks\":[[\"2\",\"1\"]]".to_vec();
    bomb.extend(std::iter::repeat_n(b' ', 2_000_000));
    bomb.push(b'}');
    let server = MockServer::start().await;
    stub_book(
        &server,
        ResponseTemplate::new(200)
            .set_body_raw(gz(&bomb), "application/json")
            .append_header("content-encoding", "gzip"),
    )
    .await;
    let (clock, _) = fake_clock(T0);
    let runner = Runner::new(book_only(&server, &["--max-body", "1048576"]), clock).unwrap();
    let r = runner.run_once().await.remove(0);
    let (code, class, _) = soft(&r, ModuleId::SpotOb);
    assert_eq!(code, "SPOT_OB_BAD_PAYLOAD");
    assert_eq!(
        class,
        Some(ErrorClass::BadPayload {
            kind: sniper::resilience::class::PayloadKind::TooLarge
        })
    );
}

#[tokio::test]
async fn the_gateway_decodes_a_gzip_answer_and_keeps_its_limit() {
    // 528 KB of JSON that gzips to a few KB.
    let rows: Vec<Value> = (0..6000)
        .map(|i| json!({"i": i, "symbol": "SOLUSDT", "note": "x".repeat(60)}))
        .collect();
    let big = serde_json::to_vec(&json!({"data": rows})).unwrap();
    assert!(big.len() > 500_000);
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/advanced/big"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(gz(&big), "application/json")
                .append_header("content-encoding", "gzip"),
        )
        .mount(&server)
        .await;
    let mut cfg = sniper::gateway::ProxyConfig::new(server.uri().parse().unwrap());
    cfg.forward_all = true;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = sniper::gateway::router(cfg);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let resp = reqwest::get(format!("http://{addr}/gpts/advanced/big"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("content-encoding").is_none());
    let body = resp.bytes().await.unwrap();
    assert!(body.len() <= 100_000, "{} bytes", body.len());
    let v: Value = serde_json::from_slice(&body).expect("decoded JSON");
    assert!(v["data"].as_array().is_some_and(|a| !a.is_empty()));
}

// ---- item 6: rate limits inside a 200 ---------------------------------------------------------

#[tokio::test]
async fn a_bybit_rate_limit_in_a_200_opens_the_circuit_until_its_reset() {
    let server = MockServer::start().await;
    let reset_ms = (T0 + 30) * 1000;
    stub_book(
        &server,
        ResponseTemplate::new(200)
            .set_body_json(json!({"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "time": T0 * 1000}))
            .append_header("X-Bapi-Limit-Reset-Timestamp", reset_ms.to_string()),
    )
    .await;
    let (clock, secs) = fake_clock(T0);
    let runner = Runner::new(book_only(&server, &[]), clock).unwrap();
    let first = runner.run_once().await.remove(0);
    let (code, class, _) = soft(&first, ModuleId::SpotOb);
    assert_eq!(code, "SPOT_OB_RATE_LIMITED");
    assert_eq!(
        class,
        Some(ErrorClass::RateLimited {
            retry_after_secs: Some(30)
        })
    );
    for _ in 0..20 {
        secs.fetch_add(1, Ordering::SeqCst);
        runner.run_once().await;
    }
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        book_requests(&reqs),
        1,
        "asked again inside the reset window"
    );
}

// ---- item 7: validation errors kept -----------------------------------------------------------

#[tokio::test]
async fn a_fastapi_422_keeps_its_status_and_the_wrong_parameter() {
    let server = MockServer::start().await;
    stub_book(
        &server,
        ResponseTemplate::new(422).set_body_json(json!({"detail": [
            {"loc": ["query", "exchange"], "msg": "value is not a valid enumeration member", "type": "type_error.enum"}
        ]})),
    )
    .await;
    let (clock, _) = fake_clock(T0);
    let runner = Runner::new(book_only(&server, &[]), clock).unwrap();
    let r = runner.run_once().await.remove(0);
    let (code, _, detail) = soft(&r, ModuleId::SpotOb);
    assert_eq!(code, "SPOT_OB_BAD_PAYLOAD");
    assert!(detail.contains("HTTP 422"), "{detail}");
    assert!(
        detail.contains("query.exchange: value is not a valid enumeration member"),
        "{detail}"
    );
}

// ---- item 10: codes keep their module ---------------------------------------------------------

#[tokio::test]
async fn every_soft_fail_code_names_its_module() {
    let server = MockServer::start().await;
    stub_book(&server, ResponseTemplate::new(503)).await;
    let (clock, _) = fake_clock(T0);
    let runner = Runner::new(book_only(&server, &[]), clock).unwrap();
    let r = runner.run_once().await.remove(0);
    assert_eq!(r.soft_fails, vec!["SPOT_OB_UPSTREAM_ERROR".to_string()]);
    assert_eq!(r.errors[0].code, "SPOT_OB_UPSTREAM_ERROR");
}

// ---- item 14: one rule for decoys ---------------------------------------------------------------

#[test]
fn the_gateway_never_publishes_what_discovery_calls_a_decoy() {
    let root = env!("CARGO_MANIFEST_DIR");
    let spec = [
        format!("{root}/../shared/fixtures/openapi/rcz87-coinglass-system.openapi.json"),
        format!("{root}/../../shared/fixtures/openapi/rcz87-coinglass-system.openapi.json"),
    ]
    .iter()
    .find_map(|p| std::fs::read(p).ok())
    .expect("fixture ../shared/fixtures/openapi");
    let doc: Value = serde_json::from_slice(&spec).unwrap();
    let published = sniper::gateway::actions::publish(
        &spec,
        &sniper::gateway::actions::PublishOptions::default(),
    )
    .unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let id = item["get"]["operationId"].as_str();
        if sniper::discovery::matcher::decoy_word(path, id).is_some() {
            assert!(
                !published.allows("GET", path),
                "{path} is a decoy for discovery but published by the gateway"
            );
        }
    }
    assert_eq!(
        sniper::discovery::matcher::decoy_word(
            "/advanced/spot/orderbook-async",
            Some("get_spot_orderbook_async_test_advanced_spot_orderbook_async_get")
        ),
        Some("test")
    );
    assert!(!published.allows("GET", "/advanced/spot/orderbook-async"));
}

// ---- item 15: ETF as the backend sends it now ---------------------------------------------------

fn etf(body: Value) -> Result<MarketData, DataError> {
    parse(
        ModuleId::Etf,
        &body,
        1_795_953_056_000,
        default_max_age(ModuleId::Etf),
        &Asked::default(),
    )
}

#[test]
fn etf_rows_with_a_per_ticker_breakdown_and_one_row_per_ticker_are_read() {
    // Today's shape: per-ticker flows per date; the day's net is their sum, and a row total that
    // disagrees is said.
    let now = json!([
        {"date": "2026-11-27", "etf_flows": [{"etf_ticker": "IBIT", "flow_usd": 120000000.0},
                                              {"etf_ticker": "FBTC", "flow_usd": -20000000.0}]},
        {"date": "2026-11-28", "flow_usd": 55000000.0,
         "etf_flows": [{"etf_ticker": "IBIT", "flow_usd": 30000000.0},
                       {"etf_ticker": "FBTC", "flow_usd": 20000000.0}]}
    ]);
    match etf(now) {
        Ok(MarketData::EtfFlows(e)) => {
            let flows: Vec<f64> = e.days.iter().map(|d| d.net_flow_usd).collect();
            assert_eq!(flows, [100_000_000.0, 50_000_000.0]);
            let note = e.note.expect("the disagreement is said");
            assert!(note.contains("2026-11-28"), "{note}");
        }
        o => panic!("{o:?}"),
    }
    // The older shape: one row per ticker and date, summed per date.
    let older = json!([
        {"date": "2026-11-27", "ticker": "IBIT", "flow_usd": 120000000.0},
        {"date": "2026-11-27", "ticker": "FBTC", "flow_usd": -20000000.0},
        {"date": "2026-11-28", "ticker": "IBIT", "flow_usd": 10000000.0}
    ]);
    match etf(older) {
        Ok(MarketData::EtfFlows(e)) => {
            let flows: Vec<f64> = e.days.iter().map(|d| d.net_flow_usd).collect();
            assert_eq!(flows, [100_000_000.0, 10_000_000.0]);
            assert_eq!(e.note, None);
        }
        o => panic!("{o:?}"),
    }
    // The same ticker twice on one day is still a bad payload.
    let twice = json!([
        {"date": "2026-11-27", "ticker": "IBIT", "flow_usd": 1.0},
        {"date": "2026-11-27", "ticker": "IBIT", "flow_usd": 2.0}
    ]);
    assert!(matches!(etf(twice), Err(DataError::BadPayload { .. })));
}

// ---- item 16: `sniper once` grades ------------------------------------------------------------

#[test]
fn once_validates_the_rules_and_prints_each_symbols_call() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let s = MockServer::start().await;
        stub_book(&s, ResponseTemplate::new(200).set_body_json(book())).await;
        s
    });
    let dir = std::env::temp_dir().join(format!("sniper-edges-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("rules.toml");
    std::fs::write(&broken, "[book]\nimbalance_actoin = 0.4\n").unwrap();
    let sniper = |rules: Option<&std::path::Path>, json: bool| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_sniper"));
        c.arg("once");
        if json {
            c.arg("--json");
        }
        c.env("PY_BASE_URL", server.uri())
            .env("FEATURE_ETF", "off")
            .env("FEATURE_HEATMAP", "off")
            .env("FEATURE_WHALE_ALERTS", "off")
            .env("FEATURE_BIAS", "off")
            .env_remove("SNIPER_RULES");
        if let Some(r) = rules {
            c.env("SNIPER_RULES", r);
        }
        c.output().unwrap()
    };
    let out = sniper(Some(&broken), false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SNIPER_RULES"), "{stderr}");
    let out = sniper(None, false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.trim_start().starts_with("call ")),
        "{stdout}"
    );
    let out = sniper(None, true);
    let v: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert!(v["call"]["level"].is_string(), "{v}");
    assert!(v["call"]["layers"].is_array(), "{v}");
}

// ---- item 11: healthy is about data ----------------------------------------------------------

#[tokio::test]
async fn modules_say_when_they_last_delivered_data_and_why_not_since() {
    let server = MockServer::start().await;
    stub_book(&server, ResponseTemplate::new(200).set_body_json(book())).await;
    Mock::given(method("GET"))
        .and(path("/advanced/etf/flows"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    // Bias answers once, then fails.
    Mock::given(method("GET"))
        .and(path_regex("^/institutional/bias"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"success": true, "bias": {"direction": "LONG", "score": 0.4}}),
            ),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/institutional/bias"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let uri = server.uri();
    let cfg = common::config(&[
        "--py-base-url",
        &uri,
        "--feature-heatmap",
        "off",
        "--feature-whale-alerts",
        "off",
    ]);
    let (clock, secs) = fake_clock(T0);
    let metrics = sniper::obs::metrics::Metrics::new();
    let runner = Runner::with_metrics(cfg, clock, metrics.clone()).unwrap();
    let window = runner.config().window.clone();
    let app = sniper::daemon::server::App::new(
        runner,
        &sniper::daemon::scheduler::SchedulerConfig::default(),
        metrics,
        None,
        window,
        sniper::daemon::server::AppOptions::default(),
    )
    .await;
    app.run_and_record().await;
    secs.fetch_add(61, Ordering::SeqCst);
    app.run_and_record().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = sniper::daemon::server::api_router(app, true);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let v: Value = serde_json::from_slice(
        &reqwest::get(format!("http://{addr}/api/modules"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let data = |m: &str| -> Value {
        let module = v["modules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["module"] == m)
            .unwrap()
            .clone();
        module["data"][0].clone()
    };
    let etf = data("etf");
    assert_eq!(etf["state"], "never", "{etf}");
    assert_eq!(etf["lastCode"], "ETF_EMPTY");
    assert!(etf["lastUsableAt"].is_null());
    let bias = data("bias");
    assert_eq!(bias["state"], "failing", "{bias}");
    assert_eq!(bias["symbol"], "SOL");
    assert!(bias["lastUsableAt"].is_string());
    assert_eq!(bias["runsWithoutData"], 1);
    assert_eq!(bias["lastCode"], "BIAS_UPSTREAM_ERROR");
    assert_eq!(data("spot_ob")["state"], "ok");
    // The breaker of ETF is closed all along: healthy breaker, no data.
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("sniper_module_last_usable_timestamp_seconds") && l.contains("spot_ob")
        })
        .unwrap_or_else(|| panic!("no last-usable series for spot_ob"));
    assert!(line.ends_with(&format!(" {}", T0 + 61)), "{line}");
    assert!(
        !text.lines().any(
            |l| l.starts_with("sniper_module_last_usable_timestamp_seconds")
                && l.contains("\"etf\"")
        ),
        "a module that never delivered has no last-usable time"
    );
}

// ---- item 12: features within what was measured -------------------------------------------------

#[test]
fn depth_bands_beyond_the_books_reach_are_absent_and_the_chart_says_its_span() {
    // 50 levels a side, 0.007 % apart: the book spans ±0.35 % around a mid of 100.
    let side = |sign: f64| -> Vec<Value> {
        (1..=50)
            .map(|i| json!([format!("{:.4}", 100.0 + sign * 0.007 * i as f64), "3"]))
            .collect()
    };
    let body = json!({"bids": side(-1.0), "asks": side(1.0)});
    let Ok(MarketData::OrderBook(b)) = parse(
        ModuleId::SpotOb,
        &body,
        T0 * 1000,
        default_max_age(ModuleId::SpotOb),
        &Asked::default(),
    ) else {
        panic!("book")
    };
    let f = sniper::market::book_features(&b).unwrap();
    let reach = f.reach_pct.unwrap();
    assert!((reach - 0.35).abs() < 1e-6, "{reach}");
    assert!(
        f.bands.is_empty(),
        "0.5/1/2 % bands beyond a ±0.35 % book: {:?}",
        f.bands
    );
    let mut market = std::collections::BTreeMap::new();
    market.insert(ModuleId::SpotOb, MarketData::OrderBook(b.clone()));
    let c = sniper::signals::charts::charts(&market, "SOL");
    assert!((c.depth_span_pct.unwrap() - 0.35).abs() < 1e-6);
    // A book reaching ±1.2 % has the 0.5 and 1 % bands, not the 2 % one.
    let side = |sign: f64| -> Vec<Value> {
        (1..=60)
            .map(|i| json!([format!("{:.3}", 100.0 + sign * 0.02 * i as f64), "1"]))
            .collect()
    };
    let Ok(MarketData::OrderBook(b)) = parse(
        ModuleId::SpotOb,
        &json!({"bids": side(-1.0), "asks": side(1.0)}),
        T0 * 1000,
        default_max_age(ModuleId::SpotOb),
        &Asked::default(),
    ) else {
        panic!("book")
    };
    let f = sniper::market::book_features(&b).unwrap();
    let pcts: Vec<f64> = f.bands.iter().map(|b| b.pct).collect();
    assert_eq!(pcts, [0.5, 1.0]);
}

// ---- item 13: numbers for people --------------------------------------------------------------

#[test]
fn numbers_for_people_in_the_cli_and_messages() {
    use sniper::numfmt::{money, price, signed};
    assert_eq!(price(91_338.665_000_000_01), "91,338.67");
    assert_eq!(money(0.94e6, true), "+$940K");
    assert_eq!(signed(-0.0, 1), "0.0");
    let call = sniper::signals::Call {
        level: sniper::signals::Level::Watch,
        direction: sniper::market::Direction::Long,
        score: 40,
        agreeing: vec![],
        layers: vec![],
        mid: Some(91_338.665_000_000_01),
    };
    let text =
        sniper::signals::engine::message_text("BTC", &call, sniper::signals::Reason::New, false);
    assert!(text.contains("price 91,338.67"), "{text}");
}
