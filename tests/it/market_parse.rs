//! Every payload fixture in shared/fixtures/payloads (and the sandbox's bodies) parsed into its model,
//! snapshotted, with the expectations the fixtures' README states asserted by hand.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use sniper::market::{Asked, DataError, MarketData, default_max_age, parse};
use sniper::module_id::ModuleId;
use sniper::sandbox::Shape;

/// 2026-11-29T11:51:30Z, 34 s after the rcz87 fixtures were recorded (11:50:56Z).
const NOW: i64 = 1_795_953_090_000;

fn payload_dir() -> PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    [
        format!("{root}/../../shared/fixtures/payloads"),
        format!("{root}/../shared/fixtures/payloads"),
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_dir())
    .expect("shared/fixtures/payloads not found next to the crate")
}

/// The fixture's body and what its request asked (`exchange`, `symbol`/`asset` query parameters).
fn load(name: &str) -> (Value, Asked) {
    let text = std::fs::read_to_string(payload_dir().join(name)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let mut asked = Asked::default();
    if let Some(req) = v.get("request").and_then(Value::as_str) {
        let url = url::Url::parse(&format!("http://x{req}")).unwrap();
        for (k, val) in url.query_pairs() {
            match &*k {
                "exchange" => asked.venue = Some(val.into_owned()),
                "symbol" | "asset" => asked.instrument = Some(val.into_owned()),
                _ => {}
            }
        }
    }
    (v["body"].clone(), asked)
}

fn run(module: ModuleId, name: &str) -> Result<MarketData, DataError> {
    let (body, asked) = load(name);
    if name.starts_with("rcz87") {
        return parse(module, &body, NOW, default_max_age(module), &asked);
    }
    // The public-docs examples carry the docs' own times, some after NOW: shapes are what they
    // test, so a time ahead of NOW is allowed here (a time in the future is refused by default;
    // tests/edges_truth.rs).
    sniper::market::parse_with_skew(
        module,
        &body,
        NOW,
        default_max_age(module),
        Duration::from_secs(3 * 365 * 86_400),
        &asked,
    )
}

/// What a snapshot records: the model, or the error's code and message.
fn outcome(module: ModuleId, r: &Result<MarketData, DataError>) -> Value {
    match r {
        Ok(d) => serde_json::to_value(d).unwrap(),
        Err(e) => json!({"error": e.code(module), "message": e.to_string()}),
    }
}

const FIXTURES: &[(&str, ModuleId)] = &[
    ("rcz87-coinglass-system/bias.json", ModuleId::Bias),
    ("rcz87-coinglass-system/etf.json", ModuleId::Etf),
    ("rcz87-coinglass-system/heatmap.json", ModuleId::Heatmap),
    (
        "rcz87-coinglass-system/heatmap-base-form.json",
        ModuleId::Heatmap,
    ),
    ("rcz87-coinglass-system/spot_ob.json", ModuleId::SpotOb),
    (
        "rcz87-coinglass-system/whale_alerts.json",
        ModuleId::WhaleAlerts,
    ),
    ("coinglass-v4/etf-bitcoin-flow-history.json", ModuleId::Etf),
    (
        "coinglass-v4/futures-liquidation-aggregated-history.json",
        ModuleId::Heatmap,
    ),
    (
        "coinglass-v4/futures-liquidation-history.json",
        ModuleId::Heatmap,
    ),
    (
        "coinglass-v4/hyperliquid-whale-alert.json",
        ModuleId::WhaleAlerts,
    ),
    ("coinglass-v4/plan-gated.json", ModuleId::Etf),
    ("exchanges/binance-api-v3-depth.json", ModuleId::SpotOb),
    ("exchanges/okx-api-v5-market-books.json", ModuleId::SpotOb),
];

#[test]
fn every_fixture_snapshot() {
    for (name, module) in FIXTURES {
        let r = run(*module, name);
        let snap = name.replace(['/', '.'], "_");
        insta::assert_json_snapshot!(snap, outcome(*module, &r));
    }
}

#[test]
fn every_fixture_file_is_in_the_table() {
    let dir = payload_dir();
    for sub in std::fs::read_dir(&dir).unwrap() {
        let sub = sub.unwrap().path();
        if !sub.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&sub).unwrap() {
            let p = f.unwrap().path();
            let rel = p.strip_prefix(&dir).unwrap().to_string_lossy().into_owned();
            assert!(
                FIXTURES.iter().any(|(n, _)| *n == rel),
                "{rel} has no expectation here"
            );
        }
    }
}

fn code(module: ModuleId, name: &str) -> String {
    match run(module, name) {
        Ok(d) => panic!("{name}: expected an error, got {d:?}"),
        Err(e) => e.code(module),
    }
}

#[test]
fn rcz87_empty_answers_are_empty() {
    assert_eq!(
        code(ModuleId::Heatmap, "rcz87-coinglass-system/heatmap.json"),
        "HEATMAP_EMPTY"
    );
    assert_eq!(
        code(
            ModuleId::Heatmap,
            "rcz87-coinglass-system/heatmap-base-form.json"
        ),
        "HEATMAP_EMPTY"
    );
    assert_eq!(
        code(ModuleId::Etf, "rcz87-coinglass-system/etf.json"),
        "ETF_EMPTY"
    );
}

#[test]
fn plan_gated_envelope_is_not_ok() {
    assert_eq!(
        code(ModuleId::Etf, "coinglass-v4/plan-gated.json"),
        "ETF_BAD_PAYLOAD"
    );
    let (body, _) = load("coinglass-v4/plan-gated.json");
    let e = parse(
        ModuleId::Heatmap,
        &body,
        NOW,
        Duration::from_secs(60),
        &Asked::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("Upgrade plan"), "{e}");
}

#[test]
fn spot_ob_served_from_okx_fallback_is_noted() {
    let Ok(MarketData::OrderBook(b)) = run(ModuleId::SpotOb, "rcz87-coinglass-system/spot_ob.json")
    else {
        panic!("spot_ob did not parse to a book");
    };
    assert_eq!(b.venue.as_deref(), Some("okx-fallback"));
    assert_eq!(b.instrument.as_deref(), Some("SOL-USDT"));
    assert_eq!(
        b.note.as_deref(),
        Some("served from okx-fallback/SOL-USDT, asked binance/SOLUSDT")
    );
    // 2026-11-29T11:50:56.647Z
    assert_eq!(b.time_ms, Some(1_795_953_056_647));
}

fn book(name: &str) -> sniper::market::OrderBook {
    match run(ModuleId::SpotOb, name) {
        Ok(MarketData::OrderBook(b)) => b,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn exchange_books_parse_best_first() {
    for name in [
        "exchanges/binance-api-v3-depth.json",
        "exchanges/okx-api-v5-market-books.json",
        "rcz87-coinglass-system/spot_ob.json",
    ] {
        let b = book(name);
        assert_eq!(b.bids.len(), 20, "{name}");
        assert_eq!(b.asks.len(), 20, "{name}");
        assert_eq!(b.bids[0].price, 141.3559, "{name}");
        assert_eq!(b.asks[0].price, 141.3841, "{name}");
        assert!(b.bids.windows(2).all(|w| w[0].price > w[1].price), "{name}");
        assert!(b.asks.windows(2).all(|w| w[0].price < w[1].price), "{name}");
    }
    // Binance sizes differ from OKX's by one at each level: the right column was read.
    assert_eq!(
        book("exchanges/binance-api-v3-depth.json").bids[0].size,
        3.0
    );
    assert_eq!(
        book("exchanges/okx-api-v5-market-books.json").bids[0].size,
        2.0
    );
}

#[test]
fn whale_alerts_read_both_shapes() {
    for name in [
        "rcz87-coinglass-system/whale_alerts.json",
        "coinglass-v4/hyperliquid-whale-alert.json",
    ] {
        let Ok(MarketData::WhaleAlerts(w)) = run(ModuleId::WhaleAlerts, name) else {
            panic!("{name}");
        };
        let sides: Vec<_> = w
            .alerts
            .iter()
            .map(|a| (a.instrument.as_str(), format!("{:?}", a.side)))
            .collect();
        assert_eq!(w.alerts.len(), 3, "{name}");
        assert!(
            sides.contains(&("BTC", "Short".into())),
            "{name}: {sides:?}"
        );
        assert!(sides.contains(&("SOL", "Long".into())), "{name}: {sides:?}");
    }
}

#[test]
fn bias_confidence_percent_is_scaled() {
    let Ok(MarketData::Bias(b)) = run(ModuleId::Bias, "rcz87-coinglass-system/bias.json") else {
        panic!("bias");
    };
    assert_eq!(b.score, -0.0153);
    assert!((b.confidence.unwrap() - 0.0153).abs() < 1e-12);
}

#[test]
fn old_answers_are_stale() {
    let (body, asked) = load("rcz87-coinglass-system/spot_ob.json");
    // 61 s after the book's 11:50:56.647Z with a 60 s max age.
    let e = parse(
        ModuleId::SpotOb,
        &body,
        1_795_953_117_648,
        Duration::from_secs(60),
        &asked,
    )
    .unwrap_err();
    assert_eq!(e.code(ModuleId::SpotOb), "SPOT_OB_STALE");
    assert!(
        parse(
            ModuleId::SpotOb,
            &body,
            1_795_953_116_647,
            Duration::from_secs(60),
            &asked
        )
        .is_ok()
    );
    // ETF: newest day 2026-11-26 ends 2026-11-27T00:00Z; 4 days later plus 1 ms is stale.
    let (etf, _) = load("coinglass-v4/etf-bitcoin-flow-history.json");
    let end = 1_795_737_600_000; // 2026-11-27T00:00:00Z
    let four_days = Duration::from_secs(4 * 86_400);
    assert!(parse(ModuleId::Etf, &etf, end + 4 * 86_400_000, four_days, &asked).is_ok());
    let e = parse(
        ModuleId::Etf,
        &etf,
        end + 4 * 86_400_000 + 1,
        four_days,
        &asked,
    )
    .unwrap_err();
    assert_eq!(e.code(ModuleId::Etf), "ETF_STALE");
}

/// The sandbox's bodies for a SOL run at [`NOW`], from the sandbox's own pure generator.
fn sandbox_body(m: ModuleId, shape: Shape) -> Value {
    let q: &[(&str, &str)] = match m {
        ModuleId::Etf => &[("asset", "BTC"), ("days", "30")],
        ModuleId::Heatmap => &[("symbol", "SOL-USDT-SWAP"), ("timeframe", "1h")],
        ModuleId::SpotOb => &[
            ("symbol", "SOLUSDT"),
            ("exchange", "binance"),
            ("depth", "50"),
        ],
        ModuleId::WhaleAlerts => &[],
        ModuleId::Bias => &[("symbol", "SOL")],
    };
    let params: HashMap<String, String> = q
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    sniper::sandbox::market::body(m, shape, &params, NOW)
}

#[test]
fn sandbox_bodies() {
    let asked = Asked {
        venue: Some("binance".into()),
        instrument: Some("SOLUSDT".into()),
    };
    for shape in [Shape::Real, Shape::Coinglass, Shape::Exchange] {
        for m in ModuleId::ALL {
            let r = parse(m, &sandbox_body(m, shape), NOW, default_max_age(m), &asked);
            assert!(r.is_ok(), "{shape:?} {m}: {r:?}");
            if shape == Shape::Real {
                insta::assert_json_snapshot!(format!("sandbox_{}", m.as_str()), outcome(m, &r));
            }
        }
    }
    // Whale alerts carry their time now: fresh within the last hour, several symbols.
    let Ok(MarketData::WhaleAlerts(w)) = parse(
        ModuleId::WhaleAlerts,
        &sandbox_body(ModuleId::WhaleAlerts, Shape::Real),
        NOW,
        Duration::from_secs(3600),
        &asked,
    ) else {
        panic!()
    };
    assert!(
        w.alerts
            .iter()
            .all(|a| a.time_ms > NOW - 3_600_000 && a.time_ms <= NOW)
    );
    // Same venue and instrument as asked: no note.
    let Ok(MarketData::OrderBook(b)) = parse(
        ModuleId::SpotOb,
        &sandbox_body(ModuleId::SpotOb, Shape::Real),
        NOW,
        Duration::from_secs(60),
        &asked,
    ) else {
        panic!()
    };
    assert_eq!(b.note, None);
    assert_eq!(b.bids.len(), 50);
}
