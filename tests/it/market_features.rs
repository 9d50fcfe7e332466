//! Features computed by hand for small inputs (the arithmetic is in the comments), and the rule that
//! a missing input gives an absent feature.

use std::time::Duration;

use jiff::civil::date;
use sniper::market::{
    Bias, Direction, EtfDay, EtfFlows, Level, LiqLevel, LiquidationLevels, MarketData, OrderBook,
    Side, SymbolFeatures, WhaleAlert, WhaleAlerts, book_features, etf_features, features,
    liq_features, summary_line, whale_features,
};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

fn l(price: f64, size: f64) -> Level {
    Level { price, size }
}

/// bids 99.6×1, 99.2×4, 97×2; asks 100.4×2, 100.8×1, 103×10.
fn small_book() -> OrderBook {
    OrderBook {
        venue: Some("binance".into()),
        instrument: Some("SOLUSDT".into()),
        time_ms: None,
        bids: vec![l(99.6, 1.0), l(99.2, 4.0), l(97.0, 2.0)],
        asks: vec![l(100.4, 2.0), l(100.8, 1.0), l(103.0, 10.0)],
        note: None,
    }
}

#[test]
fn book_features_by_hand() {
    let f = book_features(&small_book()).unwrap();
    // mid = (99.6 + 100.4) / 2 = 100; spread = 0.8 / 100 × 10⁴ = 80 bps.
    assert!(close(f.mid, 100.0), "{}", f.mid);
    assert!(close(f.spread_bps, 80.0), "{}", f.spread_bps);
    assert_eq!(f.bands.len(), 3);
    // 0.5 %: [99.5, 100.5] → bids 99.6×1 = 99.6; asks 100.4×2 = 200.8;
    // imbalance (99.6 − 200.8) / 300.4 = −0.336884…
    let b = &f.bands[0];
    assert_eq!(b.pct, 0.5);
    assert!(close(b.bid_notional_usd, 99.6));
    assert!(close(b.ask_notional_usd, 200.8));
    assert!(close(b.imbalance.unwrap(), -101.2 / 300.4));
    // 1 %: [99, 101] → bids 99.6 + 99.2×4 = 496.4; asks 200.8 + 100.8 = 301.6;
    // imbalance 194.8 / 798 = 0.244110…
    let b = &f.bands[1];
    assert!(close(b.bid_notional_usd, 496.4));
    assert!(close(b.ask_notional_usd, 301.6));
    assert!(close(b.imbalance.unwrap(), 194.8 / 798.0));
    // 2 %: [98, 102] → same levels (97 and 103 are outside).
    assert!(close(f.bands[2].bid_notional_usd, 496.4));
    assert!(close(f.bands[2].ask_notional_usd, 301.6));
    // Bid wall within 2 %: sizes {1, 4} → 4 @ 99.2, median 2.5 → ratio 1.6, −80 bps.
    let w = f.bid_wall.unwrap();
    assert_eq!((w.price, w.size), (99.2, 4.0));
    assert!(close(w.ratio_to_median, 1.6));
    assert!(close(w.distance_bps, -80.0));
    // Ask wall: sizes {2, 1} → 2 @ 100.4, median 1.5 → ratio 1.333…, +40 bps.
    let w = f.ask_wall.unwrap();
    assert_eq!((w.price, w.size), (100.4, 2.0));
    assert!(close(w.ratio_to_median, 2.0 / 1.5));
    assert!(close(w.distance_bps, 40.0));
    assert_eq!(f.venue.as_deref(), Some("binance"));
}

#[test]
fn empty_band_has_no_imbalance_and_one_sided_book_no_features() {
    // Only levels 3 % away: every band is empty on both sides.
    let mut b = small_book();
    b.bids = vec![l(97.0, 1.0)];
    b.asks = vec![l(103.0, 1.0)];
    let f = book_features(&b).unwrap();
    assert!(f.bands.iter().all(|x| x.imbalance.is_none()));
    assert!(f.bid_wall.is_none() && f.ask_wall.is_none());
    b.asks.clear();
    assert!(book_features(&b).is_none());
}

fn liq(levels: &[(f64, f64)], mid_price: Option<f64>) -> LiquidationLevels {
    LiquidationLevels {
        symbol: Some("SOL".into()),
        time_ms: None,
        levels: levels
            .iter()
            .map(|&(price, notional_usd)| LiqLevel {
                price,
                notional_usd,
                side: None,
            })
            .collect(),
        history: vec![],
        mid_price,
    }
}

#[test]
fn liq_features_by_hand() {
    let x = liq(
        &[(95.0, 1e6), (99.5, 2e6), (101.5, 3e6), (110.0, 4e6)],
        None,
    );
    let f = liq_features(&x, Some(100.0)).unwrap();
    // above: 101.5 (3 M, +150 bps); below: 99.5 (2 M, −50 bps).
    let a = f.nearest_above.unwrap();
    assert_eq!((a.price, a.notional_usd), (101.5, 3e6));
    assert!(close(a.distance_bps, 150.0));
    let b = f.nearest_below.unwrap();
    assert_eq!((b.price, b.notional_usd), (99.5, 2e6));
    assert!(close(b.distance_bps, -50.0));
    // ±1 % = [99, 101]: 99.5 only → 2 M; ±2 % = [98, 102]: 99.5 + 101.5 → 5 M.
    assert!(close(f.within_1pct_usd, 2e6));
    assert!(close(f.within_2pct_usd, 5e6));
    // No mid from the caller nor the payload: absent. The payload's own mid is used otherwise.
    assert!(liq_features(&x, None).is_none());
    let own = liq(&[(99.5, 2e6)], Some(100.0));
    assert_eq!(liq_features(&own, None).unwrap().mid, 100.0);
    // Levels all above the mid: nothing below.
    let up = liq(&[(105.0, 1e6)], None);
    assert!(
        liq_features(&up, Some(100.0))
            .unwrap()
            .nearest_below
            .is_none()
    );
}

#[test]
fn etf_features_by_hand() {
    // 15 reported days: 1..7 flow 1000 each, 8..14 [100, −200, 300, −400, 500, −600, 700], 15: −1000.
    let flows = [
        1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 100.0, -200.0, 300.0, -400.0,
        500.0, -600.0, 700.0, -1000.0,
    ];
    let days: Vec<EtfDay> = flows
        .iter()
        .enumerate()
        .map(|(i, &f)| EtfDay {
            date: date(2026, 11, 1 + i as i8),
            net_flow_usd: f,
        })
        .collect();
    let e = etf_features(&EtfFlows {
        asset: Some("BTC".into()),
        days: days.clone(),
        note: None,
    })
    .unwrap();
    assert_eq!(e.latest_date, "2026-11-15");
    assert_eq!(e.latest_net_flow_usd, -1000.0);
    // Newest 7: days 9..15 = −200 + 300 − 400 + 500 − 600 + 700 − 1000 = −700.
    assert!(close(e.sum_7d_usd, -700.0));
    assert_eq!(e.days_in_sum, 7);
    // Prior 7 = days 8..14, mean |flow| = 2800 / 7 = 400 → −1000 / 400 = −2.5.
    assert!(close(e.ratio_to_prior_7d_mean_abs.unwrap(), -2.5));
    // With only 7 prior days missing one, the ratio is absent; the sum covers what is there.
    let e = etf_features(&EtfFlows {
        asset: None,
        days: days[9..].to_vec(),
        note: None,
    })
    .unwrap();
    assert!(e.ratio_to_prior_7d_mean_abs.is_none());
    assert_eq!(e.days_in_sum, 6);
    assert!(
        etf_features(&EtfFlows {
            asset: None,
            days: vec![],
            note: None,
        })
        .is_none()
    );
}

const NOW: i64 = 1_795_953_090_000;

fn alert(min_ago: i64, inst: &str, side: Side, usd: f64) -> WhaleAlert {
    WhaleAlert {
        time_ms: NOW - min_ago * 60_000,
        instrument: inst.into(),
        side,
        notional_usd: usd,
        venue: Some("hyperliquid".into()),
    }
}

fn whales() -> WhaleAlerts {
    WhaleAlerts {
        alerts: vec![
            alert(120, "SOL-USDT-SWAP", Side::Long, 1e6), // outside the 1 h window
            alert(30, "SOLUSDT", Side::Short, 0.5e6),
            alert(10, "SOL", Side::Long, 2e6),
            alert(5, "SOLV", Side::Long, 9e6), // another asset
            alert(1, "BTC", Side::Short, 5e6),
        ],
    }
}

#[test]
fn whale_features_by_hand() {
    let w = whale_features(&whales(), "sol", NOW, Duration::from_secs(3600)).unwrap();
    // In window and SOL: SOLUSDT short 0.5 M, SOL long 2 M → count 2, net +1.5 M, largest 2 M.
    assert_eq!(w.count, 2);
    assert!(close(w.net_notional_usd, 1.5e6));
    assert_eq!(w.largest.unwrap().notional_usd, 2e6);
    assert_eq!(w.window_secs, 3600);
    // 3 h window picks the SOL-USDT-SWAP alert too.
    let w = whale_features(&whales(), "SOL", NOW, Duration::from_secs(3 * 3600)).unwrap();
    assert_eq!(w.count, 3);
    assert!(close(w.net_notional_usd, 2.5e6));
    // Quiet symbol: usable feed, zero count.
    let w = whale_features(&whales(), "DOGE", NOW, Duration::from_secs(3600)).unwrap();
    assert_eq!((w.count, w.largest), (0, None));
}

#[test]
fn features_of_a_symbol_and_its_summary() {
    let book = MarketData::OrderBook(small_book());
    let heat = MarketData::Liquidations(liq(&[(99.5, 2e6), (101.5, 3e6)], None));
    let bias = MarketData::Bias(Bias {
        direction: Direction::Long,
        score: 0.6,
        confidence: Some(0.8),
        time_ms: None,
    });
    let w = MarketData::WhaleAlerts(whales());
    let f = features(&[&heat, &book, &bias, &w], "SOL", NOW);
    // The heatmap took the book's mid (it has none of its own).
    assert_eq!(
        f.liquidations.as_ref().unwrap().mid,
        f.book.as_ref().unwrap().mid
    );
    assert!(f.etf.is_none());
    assert_eq!(f.whales.as_ref().unwrap().count, 2);
    let s = summary_line(&f);
    for part in [
        "book mid 100.00 spread 80.0 bps imb(1%) +0.24",
        "bid wall 1.6× @99.20 (-80 bps)",
        "liq above 101.50 $3M (+150 bps) below 99.50 $2M (-50 bps)",
        "whales 2 in 1h net +$1.5M largest long $2M",
        "bias long +0.60 conf 80%",
    ] {
        assert!(s.contains(part), "{part:?} not in {s:?}");
    }
    assert!(!s.contains("ETF"));
    // Without the book the heatmap has no mid: its features are absent, not zero.
    let f = features(&[&heat], "SOL", NOW);
    assert_eq!(f, SymbolFeatures::default());
    assert_eq!(summary_line(&f), "no market data");
}
