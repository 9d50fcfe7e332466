//! The series the status page draws, cut from a run's market data (pure). The page draws exactly
//! these points, so a test can compare the page's SVG element counts with these lengths.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::market::{MarketData, Side, features::instrument_matches};
use crate::module_id::ModuleId;

/// Book levels shown: within this percent of the mid.
pub const DEPTH_PCT: f64 = 2.0;
/// Liquidation levels shown: within this percent of the mid (all when no mid).
pub const LIQ_PCT: f64 = 5.0;
/// ETF days shown.
pub const ETF_DAYS: usize = 14;
/// Whale alerts shown (newest).
pub const WHALE_ALERTS: usize = 30;

/// Every chart of one symbol; a series is empty when its module gave nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Charts {
    /// Mid price (book, else the heatmap's own).
    pub mid: Option<f64>,
    /// The span the depth series covers, percent of the mid on each side: [`DEPTH_PCT`], or less
    /// when the book reaches less far (the chart's title says this span, issue 22 item 12).
    pub depth_span_pct: Option<f64>,
    /// Cumulative bid notional from the best bid outwards: `[price, cumulative USD]`.
    pub bids: Vec<[f64; 2]>,
    /// Cumulative ask notional from the best ask outwards.
    pub asks: Vec<[f64; 2]>,
    /// Liquidation levels, price ascending: `[price, notional USD]`.
    pub liquidations: Vec<[f64; 2]>,
    /// ETF net flows of the last days, date ascending: `(YYYY-MM-DD, USD)`.
    pub etf: Vec<(String, f64)>,
    /// This symbol's whale alerts, time ascending: `[epoch ms, signed USD (long +, short −)]`.
    pub whales: Vec<[f64; 2]>,
}

/// Cut the chart series from `market` for `base` (the symbol's base asset, `SOL`).
pub fn charts(market: &BTreeMap<ModuleId, MarketData>, base: &str) -> Charts {
    let mut c = Charts::default();
    if let Some(MarketData::OrderBook(b)) = market.get(&ModuleId::SpotOb) {
        c.mid = b.mid();
        if let Some(mid) = c.mid {
            c.depth_span_pct =
                crate::market::features::book_reach_pct(b, mid).map(|r| r.min(DEPTH_PCT));
            let (lo, hi) = (
                mid * (1.0 - DEPTH_PCT / 100.0),
                mid * (1.0 + DEPTH_PCT / 100.0),
            );
            let mut cum = 0.0;
            for l in b.bids.iter().take_while(|l| l.price >= lo) {
                cum += l.price * l.size;
                c.bids.push([l.price, cum]);
            }
            cum = 0.0;
            for l in b.asks.iter().take_while(|l| l.price <= hi) {
                cum += l.price * l.size;
                c.asks.push([l.price, cum]);
            }
        }
    }
    if let Some(MarketData::Liquidations(l)) = market.get(&ModuleId::Heatmap) {
        if c.mid.is_none() {
            c.mid = l.mid_price;
        }
        c.liquidations = l
            .levels
            .iter()
            .filter(|x| match c.mid {
                Some(m) => (x.price - m).abs() <= m * LIQ_PCT / 100.0,
                None => true,
            })
            .map(|x| [x.price, x.notional_usd])
            .collect();
    }
    if let Some(MarketData::EtfFlows(e)) = market.get(&ModuleId::Etf) {
        let skip = e.days.len().saturating_sub(ETF_DAYS);
        c.etf = e.days[skip..]
            .iter()
            .map(|d| (d.date.to_string(), d.net_flow_usd))
            .collect();
    }
    if let Some(MarketData::WhaleAlerts(w)) = market.get(&ModuleId::WhaleAlerts) {
        let mine: Vec<[f64; 2]> = w
            .alerts
            .iter()
            .filter(|a| instrument_matches(&a.instrument, base))
            .map(|a| {
                let s = if a.side == Side::Long { 1.0 } else { -1.0 };
                [a.time_ms as f64, s * a.notional_usd]
            })
            .collect();
        let skip = mine.len().saturating_sub(WHALE_ALERTS);
        c.whales = mine[skip..].to_vec();
    }
    c
}
