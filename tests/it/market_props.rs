//! Properties: no parser panics on any JSON, and feature invariants hold on any valid input.

use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use sniper::market::{
    Asked, LiqLevel, LiquidationLevels, MarketData, book_features, liq_features, parse,
};
use sniper::module_id::ModuleId;

/// Arbitrary JSON, bounded, with keys the parsers look for so deep paths are reached.
fn any_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("bids".to_string()),
        Just("asks".to_string()),
        Just("data".to_string()),
        Just("code".to_string()),
        Just("levels".to_string()),
        Just("price".to_string()),
        Just("side".to_string()),
        Just("timestamp".to_string()),
        Just("bias".to_string()),
        Just("score".to_string()),
        Just("y_axis".to_string()),
        Just("liquidation_leverage_data".to_string()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        prop_oneof![
            Just("0".to_string()),
            Just("NaN".to_string()),
            Just("-1e308".to_string()),
            Just("LONG".to_string()),
            Just("2026-11-29 18:50:56 WIB".to_string()),
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A valid book: descending bids below ascending asks, positive sizes.
fn any_book() -> impl Strategy<Value = Value> {
    (
        1.0f64..10_000.0,
        0.0f64..0.01,
        prop::collection::vec((0.0001f64..0.01, 0.001f64..1e4), 1..40),
        prop::collection::vec((0.0001f64..0.01, 0.001f64..1e4), 1..40),
    )
        .prop_map(|(mid, half_spread, bid_steps, ask_steps)| {
            let mut p = mid * (1.0 - half_spread);
            let bids: Vec<Value> = bid_steps
                .iter()
                .map(|(step, size)| {
                    let l = json!([p, size]);
                    p *= 1.0 - step;
                    l
                })
                .collect();
            let mut p = mid * (1.0 + half_spread);
            let asks: Vec<Value> = ask_steps
                .iter()
                .map(|(step, size)| {
                    let l = json!([p.to_string(), size.to_string()]);
                    p *= 1.0 + step;
                    l
                })
                .collect();
            json!({"bids": bids, "asks": asks})
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic(body in any_json(), now in any::<i64>()) {
        for m in ModuleId::ALL {
            let r = parse(m, &body, now, Duration::from_secs(60), &Asked::default());
            if let Err(e) = r {
                prop_assert!(e.code(m).starts_with(m.upper()));
            }
        }
    }

    #[test]
    fn book_invariants(body in any_book()) {
        let r = parse(ModuleId::SpotOb, &body, 0, Duration::from_secs(60), &Asked::default());
        let Ok(MarketData::OrderBook(b)) = r else {
            return Err(TestCaseError::fail(format!("valid book rejected: {r:?}")));
        };
        let f = book_features(&b).unwrap();
        prop_assert!(f.spread_bps >= 0.0);
        for band in &f.bands {
            if let Some(i) = band.imbalance {
                prop_assert!((-1.0..=1.0).contains(&i), "imbalance {}", i);
            }
            prop_assert!(band.bid_notional_usd >= 0.0 && band.ask_notional_usd >= 0.0);
        }
        for w in [&f.bid_wall, &f.ask_wall].into_iter().flatten() {
            prop_assert!(w.ratio_to_median >= 1.0 - 1e-12, "wall below median {}", w.ratio_to_median);
        }
        if let Some(w) = &f.bid_wall { prop_assert!(w.distance_bps <= 0.0); }
        if let Some(w) = &f.ask_wall { prop_assert!(w.distance_bps >= 0.0); }
    }

    #[test]
    fn liq_invariants(
        mid in 0.01f64..1e5,
        levels in prop::collection::vec((0.01f64..2e5, 1.0f64..1e9), 1..50),
    ) {
        let l = LiquidationLevels {
            symbol: None,
            time_ms: None,
            levels: levels.iter().map(|&(price, notional_usd)| LiqLevel { price, notional_usd, side: None }).collect(),
            history: vec![],
            mid_price: None,
        };
        let f = liq_features(&l, Some(mid)).unwrap();
        if let Some(a) = &f.nearest_above { prop_assert!(a.price >= mid); }
        if let Some(b) = &f.nearest_below { prop_assert!(b.price <= mid); }
        prop_assert!(f.nearest_above.is_some() || f.nearest_below.is_some());
        prop_assert!(f.within_1pct_usd <= f.within_2pct_usd);
    }
}
