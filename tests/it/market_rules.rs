//! Integrity rules, one by one: each payload breaks exactly one rule (or none).

use std::time::Duration;

use serde_json::{Value, json};
use sniper::market::{Asked, DataError, MarketData, parse};
use sniper::module_id::ModuleId;

fn book(bids: Value, asks: Value) -> Result<MarketData, DataError> {
    parse(
        ModuleId::SpotOb,
        &json!({"bids": bids, "asks": asks}),
        0,
        Duration::from_secs(60),
        &Asked::default(),
    )
}

fn code(r: Result<MarketData, DataError>, m: ModuleId) -> String {
    match r {
        Ok(_) => "OK".into(),
        Err(e) => e.code(m),
    }
}

fn reason(r: Result<MarketData, DataError>) -> String {
    r.err().map(|e| e.to_string()).unwrap_or_default()
}

#[test]
fn book_rules() {
    let m = ModuleId::SpotOb;
    assert_eq!(code(book(json!([[99, 1]]), json!([[101, 1]])), m), "OK");
    // Locked is valid, crossed is not.
    assert_eq!(code(book(json!([[100, 1]]), json!([[100, 1]])), m), "OK");
    let r = book(json!([[101, 1]]), json!([[100, 1]]));
    assert!(reason(r).contains("crossed"));
    // Unsorted (and repeated) levels are rejected, not sorted.
    assert!(reason(book(json!([[98, 1], [99, 1]]), json!([[101, 1]]))).contains("unsorted bids"));
    assert!(reason(book(json!([[99, 1]]), json!([[102, 1], [101, 1]]))).contains("unsorted asks"));
    assert!(reason(book(json!([[99, 1], [99, 2]]), json!([[101, 1]]))).contains("unsorted"));
    // Negative / NaN / infinite.
    assert_eq!(
        code(book(json!([[99, -1]]), json!([[101, 1]])), m),
        "SPOT_OB_BAD_PAYLOAD"
    );
    assert_eq!(
        code(book(json!([["NaN", "1"]]), json!([[101, 1]])), m),
        "SPOT_OB_BAD_PAYLOAD"
    );
    assert_eq!(
        code(book(json!([["99", "inf"]]), json!([[101, 1]])), m),
        "SPOT_OB_BAD_PAYLOAD"
    );
    assert_eq!(
        code(book(json!([[-99, 1]]), json!([[101, 1]])), m),
        "SPOT_OB_BAD_PAYLOAD"
    );
    // Zero-size levels are dropped (also out of the sort check); none left → Empty.
    let Ok(MarketData::OrderBook(b)) =
        book(json!([[99, 0], [99.5, 1], [98, 2]]), json!([[101, 1]]))
    else {
        panic!("zero-size level not dropped")
    };
    assert!(
        reason(book(
            json!([[99.5, 1], [99.8, 0], [98, 2]]),
            json!([[101, 1]])
        ))
        .is_empty()
    );
    assert_eq!(b.bids.len(), 2);
    assert_eq!(
        code(book(json!([[99, 0]]), json!([[101, 0]])), m),
        "SPOT_OB_EMPTY"
    );
    assert_eq!(code(book(json!([]), json!([[101, 1]])), m), "SPOT_OB_EMPTY");
    // Not a book at all.
    assert_eq!(
        code(book(json!("x"), json!([[101, 1]])), m),
        "SPOT_OB_BAD_PAYLOAD"
    );
    let r = parse(
        m,
        &json!({"detail": "Not Found"}),
        0,
        Duration::from_secs(60),
        &Asked::default(),
    );
    assert_eq!(code(r, m), "SPOT_OB_BAD_PAYLOAD");
}

#[test]
fn book_objects_and_okx_time() {
    let body = json!({"code": "0", "data": [{"ts": "1795953056647",
        "bids": [{"px": "99", "sz": "1"}], "asks": [{"price": 101, "qty": 2}]}]});
    let Ok(MarketData::OrderBook(b)) = parse(
        ModuleId::SpotOb,
        &body,
        1_795_953_056_647,
        Duration::from_secs(60),
        &Asked::default(),
    ) else {
        panic!()
    };
    assert_eq!(b.time_ms, Some(1_795_953_056_647));
    assert_eq!(b.asks[0].size, 2.0);
    let stale = parse(
        ModuleId::SpotOb,
        &body,
        1_795_953_056_647 + 60_001,
        Duration::from_secs(60),
        &Asked::default(),
    );
    assert_eq!(code(stale, ModuleId::SpotOb), "SPOT_OB_STALE");
}

fn bias(body: Value) -> Result<MarketData, DataError> {
    parse(
        ModuleId::Bias,
        &body,
        0,
        Duration::from_secs(3600),
        &Asked::default(),
    )
}

#[test]
fn bias_scales() {
    let score = |r: Result<MarketData, DataError>| match r {
        Ok(MarketData::Bias(b)) => (b.score, b.confidence),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        score(bias(
            json!({"bias": "BULLISH", "score": 0.4, "confidence": 0.7})
        )),
        (0.4, Some(0.7))
    );
    assert_eq!(
        score(bias(
            json!({"direction": "Bearish", "score": -40, "confidence": 70})
        )),
        (-0.4, Some(0.7))
    );
    assert_eq!(
        code(bias(json!({"bias": "long", "score": 140})), ModuleId::Bias),
        "BIAS_BAD_PAYLOAD"
    );
    assert_eq!(
        code(
            bias(json!({"bias": "long", "score": 0.1, "confidence": -0.1})),
            ModuleId::Bias
        ),
        "BIAS_BAD_PAYLOAD"
    );
    assert_eq!(
        code(
            bias(json!({"bias": "long", "score": 0.1, "confidence": 101})),
            ModuleId::Bias
        ),
        "BIAS_BAD_PAYLOAD"
    );
    assert_eq!(
        code(
            bias(json!({"bias": "sideways?", "score": 0.1})),
            ModuleId::Bias
        ),
        "BIAS_BAD_PAYLOAD"
    );
    assert_eq!(
        code(bias(json!({"bias": "long"})), ModuleId::Bias),
        "BIAS_BAD_PAYLOAD"
    );
    assert_eq!(
        code(
            bias(json!({"success": false, "error": "boom"})),
            ModuleId::Bias
        ),
        "BIAS_BAD_PAYLOAD"
    );
}

#[test]
fn etf_and_heatmap_rules() {
    // At the end of the rows' newest day (2026-11-21): a day not yet begun would be refused as
    // in the future.
    let day_end: i64 = 1_795_305_600_000; // 2026-11-22T00:00:00Z
    let etf = |v: Value| {
        parse(
            ModuleId::Etf,
            &v,
            day_end,
            Duration::from_secs(86_400 * 4),
            &Asked::default(),
        )
    };
    let e = ModuleId::Etf;
    assert_eq!(
        code(etf(json!([{"date": "2026-11-20", "net_flow_usd": 0}])), e),
        "ETF_EMPTY"
    );
    assert_eq!(
        code(
            etf(json!([{"date": "2026-11-20", "net_flow_usd": null}])),
            e
        ),
        "ETF_EMPTY"
    );
    assert_eq!(
        code(
            etf(
                json!([{"date": "2026-11-20", "flow_usd": 1}, {"date": "2026-11-20", "flow_usd": 2}])
            ),
            e
        ),
        "ETF_BAD_PAYLOAD"
    );
    // Unordered dates are sorted (ETF lists claim no order).
    let Ok(MarketData::EtfFlows(f)) = etf(json!({"data": {"data": [
        {"date": "2026-11-21", "flow_usd": "2"}, {"date": "2026-11-20", "flow_usd": "-1"}]}}))
    else {
        panic!()
    };
    assert_eq!(f.days[0].date.to_string(), "2026-11-20");

    let heat = |v: Value| {
        parse(
            ModuleId::Heatmap,
            &v,
            0,
            Duration::from_secs(900),
            &Asked::default(),
        )
    };
    let h = ModuleId::Heatmap;
    assert_eq!(
        code(
            heat(json!([{"price_level": null, "liquidation_amount": 5}])),
            h
        ),
        "HEATMAP_EMPTY"
    );
    assert_eq!(
        code(heat(json!([{"price": 100, "liq_usd": -5}])), h),
        "HEATMAP_BAD_PAYLOAD"
    );
    assert_eq!(code(heat(json!([{"foo": 1}])), h), "HEATMAP_BAD_PAYLOAD");
    // CoinGlass heatmap model: cells summed per y index; the last candle's close is the mid.
    let model = json!({"code": "0", "data": {"y_axis": [99, 100, 101],
        "liquidation_leverage_data": [[0, 0, 5], [1, 0, 7], [3, 2, 1]],
        "price_candlesticks": [[1795953000, "100", "101", "99", "100.5", "10"]]}});
    let Ok(MarketData::Liquidations(l)) = parse(
        h,
        &model,
        1_795_953_000_000,
        Duration::from_secs(900),
        &Asked::default(),
    ) else {
        panic!()
    };
    assert_eq!(l.levels.len(), 2);
    assert_eq!((l.levels[0].price, l.levels[0].notional_usd), (99.0, 12.0));
    assert_eq!(l.mid_price, Some(100.5));
}
