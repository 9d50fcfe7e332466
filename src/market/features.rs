//! Per-symbol features: pure functions over the models. A feature whose input is missing is absent
//! (`None`), never 0 (barter-rs's rule for derived book values).
//!
//! Units: prices in quote currency, notionals `price × size` in quote currency (USD for USDT/USD
//! quotes, which is what sniper watches), distances in basis points of the mid (1 bp = 0.01 %),
//! signed (negative below the mid).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{
    Bias, Direction, EtfFlows, LiquidationLevels, MarketData, OrderBook, Side, WhaleAlert,
    WhaleAlerts,
};

/// Depth bands of [`BookFeatures::bands`], percent of the mid on each side.
pub const BAND_PCTS: [f64; 3] = [0.5, 1.0, 2.0];
/// Band within which walls are searched, percent of the mid.
pub const WALL_BAND_PCT: f64 = 2.0;
/// Window of [`features`]'s whale features.
pub const WHALE_WINDOW: Duration = Duration::from_secs(3600);
/// Reported days summed by [`EtfFeatures::sum_7d_usd`], and prior days averaged for the ratio.
pub const ETF_DAYS: usize = 7;

/// Everything sniper knows about one symbol from the market-data modules; a module that failed or was
/// not called leaves its field `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SymbolFeatures {
    /// From the spot order book.
    pub book: Option<BookFeatures>,
    /// From the liquidation heatmap (needs a mid: the book's, or the heatmap's own).
    pub liquidations: Option<LiqFeatures>,
    /// From ETF flows.
    pub etf: Option<EtfFeatures>,
    /// From whale alerts, this symbol's only.
    pub whales: Option<WhaleFeatures>,
    /// From institutional bias.
    pub bias: Option<BiasFeatures>,
}

/// Order book features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookFeatures {
    /// `(best bid + best ask) / 2`.
    pub mid: f64,
    /// `(best ask − best bid) / mid × 10⁴`; 0 for a locked book, never negative.
    pub spread_bps: f64,
    /// Depth within 0.5 %, 1 % and 2 % of the mid ([`BAND_PCTS`]), only the bands the book
    /// reaches on both sides ([`BookFeatures::reach_pct`]): a band beyond the deepest level
    /// sent would only repeat the book's total as if it were measured (issue 22 item 12).
    pub bands: Vec<DepthBand>,
    /// How far the book reaches from the mid, percent: the nearer of the two sides' deepest
    /// levels. A band wider than this is absent from `bands`.
    #[serde(default)]
    pub reach_pct: Option<f64>,
    /// Largest bid within 2 % below the mid.
    pub bid_wall: Option<Wall>,
    /// Largest ask within 2 % above the mid.
    pub ask_wall: Option<Wall>,
    /// The venue that served the book.
    pub venue: Option<String>,
    /// The book's note (served from another venue/instrument than asked), if any.
    #[serde(default)]
    pub note: Option<String>,
}

/// Resting notional within `pct` % of the mid on each side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepthBand {
    /// Band half-width, percent of the mid.
    pub pct: f64,
    /// `Σ price × size` of bids with price ≥ mid × (1 − pct/100).
    pub bid_notional_usd: f64,
    /// `Σ price × size` of asks with price ≤ mid × (1 + pct/100).
    pub ask_notional_usd: f64,
    /// `(bid − ask) / (bid + ask)` in [−1, 1]; `None` when both are 0.
    pub imbalance: Option<f64>,
}

/// The largest level of one side within [`WALL_BAND_PCT`] of the mid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wall {
    /// Its price.
    pub price: f64,
    /// Its size, base currency.
    pub size: f64,
    /// `size / median size` of that side's levels in the same band (1 when it is the only one).
    pub ratio_to_median: f64,
    /// `(price − mid) / mid × 10⁴` (negative for bids).
    pub distance_bps: f64,
}

/// Liquidation-level features around a mid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiqFeatures {
    /// The mid the distances are measured from.
    pub mid: f64,
    /// Nearest level with price ≥ mid.
    pub nearest_above: Option<Cluster>,
    /// Nearest level with price < mid.
    pub nearest_below: Option<Cluster>,
    /// Σ notional of levels with |price − mid| ≤ 1 % of mid, USD.
    pub within_1pct_usd: f64,
    /// Σ notional of levels with |price − mid| ≤ 2 % of mid, USD.
    pub within_2pct_usd: f64,
}

/// One liquidation level, placed relative to the mid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Its price.
    pub price: f64,
    /// Liquidation notional there, USD.
    pub notional_usd: f64,
    /// `(price − mid) / mid × 10⁴`.
    pub distance_bps: f64,
}

/// ETF flow features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtfFeatures {
    /// Newest day, `YYYY-MM-DD`.
    pub latest_date: String,
    /// That day's net flow, USD.
    pub latest_net_flow_usd: f64,
    /// Σ net flow of the newest [`ETF_DAYS`] reported days, the newest included (reported days are
    /// trading days: weekends and holidays have no row). Fewer when fewer are reported: see
    /// `days_in_sum`.
    pub sum_7d_usd: f64,
    /// How many days `sum_7d_usd` adds (≤ 7).
    #[serde(default)]
    pub days_in_sum: u32,
    /// `latest / mean(|flow|)` over the 7 reported days before the newest one; `None` when fewer
    /// than 7 such days exist or all 7 were 0.
    pub ratio_to_prior_7d_mean_abs: Option<f64>,
}

/// Whale features for one symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhaleFeatures {
    /// Window length: alerts with `now − window ≤ time` count (later ones too: clock skew).
    pub window_secs: u64,
    /// Alerts of this symbol in the window.
    pub count: u32,
    /// Σ long notional − Σ short notional in the window, USD.
    pub net_notional_usd: f64,
    /// Largest alert in the window.
    pub largest: Option<WhaleAlert>,
}

/// Institutional bias, as read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BiasFeatures {
    /// Direction called.
    pub direction: Direction,
    /// Score in [−1, 1].
    pub score: f64,
    /// Confidence in [0, 1], if given.
    pub confidence: Option<f64>,
}

fn bps(price: f64, mid: f64) -> f64 {
    (price - mid) / mid * 1e4
}

/// Median of a non-empty slice (mean of the two middle values for an even count).
fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

/// Mid, spread, depth bands, walls (nautilus_trader `orderbook/analysis.rs`: quantities and
/// notionals over price bands of a sorted book). `None` when a side is empty (no mid).
pub fn book_features(book: &OrderBook) -> Option<BookFeatures> {
    let bb = book.best_bid()?.price;
    let ba = book.best_ask()?.price;
    let mid = (bb + ba) / 2.0;
    if !(mid.is_finite() && mid > 0.0) {
        return None;
    }
    let spread_bps = ((ba - bb) / mid * 1e4).max(0.0);
    let reach_pct = book_reach_pct(book, mid);
    let bands = BAND_PCTS
        .iter()
        .filter(|&&pct| reach_pct.is_some_and(|r| r >= pct))
        .map(|&pct| {
            let lo = mid * (1.0 - pct / 100.0);
            let hi = mid * (1.0 + pct / 100.0);
            let bid: f64 = book
                .bids
                .iter()
                .take_while(|l| l.price >= lo)
                .map(|l| l.price * l.size)
                .sum();
            let ask: f64 = book
                .asks
                .iter()
                .take_while(|l| l.price <= hi)
                .map(|l| l.price * l.size)
                .sum();
            let total = bid + ask;
            DepthBand {
                pct,
                bid_notional_usd: bid,
                ask_notional_usd: ask,
                imbalance: (total > 0.0).then(|| ((bid - ask) / total).clamp(-1.0, 1.0)),
            }
        })
        .collect();
    let lo = mid * (1.0 - WALL_BAND_PCT / 100.0);
    let hi = mid * (1.0 + WALL_BAND_PCT / 100.0);
    let bid_wall = wall(book.bids.iter().take_while(|l| l.price >= lo), mid);
    let ask_wall = wall(book.asks.iter().take_while(|l| l.price <= hi), mid);
    Some(BookFeatures {
        mid,
        spread_bps,
        bands,
        reach_pct,
        bid_wall,
        ask_wall,
        venue: book.venue.clone(),
        note: book.note.clone(),
    })
}

/// How far a book reaches from `mid`, percent: `min((mid − deepest bid) / mid, (deepest ask −
/// mid) / mid) × 100`. `None` when a side is empty.
pub fn book_reach_pct(book: &OrderBook, mid: f64) -> Option<f64> {
    let bid = book.bids.last()?.price;
    let ask = book.asks.last()?.price;
    let r = ((mid - bid).min(ask - mid) / mid * 100.0).max(0.0);
    r.is_finite().then_some(r)
}

/// Largest level (the one nearest the mid on ties) and its size over the band's median size.
fn wall<'a>(levels: impl Iterator<Item = &'a super::Level>, mid: f64) -> Option<Wall> {
    let in_band: Vec<&super::Level> = levels.collect();
    let best = in_band
        .iter()
        .copied()
        .reduce(|a, b| if b.size > a.size { b } else { a })?;
    let med = median(in_band.iter().map(|l| l.size).collect())?;
    Some(Wall {
        price: best.price,
        size: best.size,
        ratio_to_median: best.size / med,
        distance_bps: bps(best.price, mid),
    })
}

/// Nearest liquidation levels above and below the mid and the notional within 1 % and 2 % of it.
///
/// The mid is `mid` (pass the book's, [`OrderBook::mid`]) or, when `None`, the heatmap's own
/// [`LiquidationLevels::mid_price`]; with neither, or with no priced level (liquidation history
/// only), the result is `None`.
pub fn liq_features(liq: &LiquidationLevels, mid: Option<f64>) -> Option<LiqFeatures> {
    let mid = mid
        .or(liq.mid_price)
        .filter(|m| m.is_finite() && *m > 0.0)?;
    if liq.levels.is_empty() {
        return None;
    }
    let cluster = |l: &super::LiqLevel| Cluster {
        price: l.price,
        notional_usd: l.notional_usd,
        distance_bps: bps(l.price, mid),
    };
    let nearest_above = liq
        .levels
        .iter()
        .filter(|l| l.price >= mid)
        .min_by(|a, b| a.price.total_cmp(&b.price))
        .map(cluster);
    let nearest_below = liq
        .levels
        .iter()
        .filter(|l| l.price < mid)
        .max_by(|a, b| a.price.total_cmp(&b.price))
        .map(cluster);
    let within = |pct: f64| -> f64 {
        liq.levels
            .iter()
            .filter(|l| (l.price - mid).abs() <= mid * pct / 100.0)
            .map(|l| l.notional_usd)
            .sum()
    };
    Some(LiqFeatures {
        mid,
        nearest_above,
        nearest_below,
        within_1pct_usd: within(1.0),
        within_2pct_usd: within(2.0),
    })
}

/// Newest day's flow, the sum of the newest 7 reported days, and the newest day over the mean
/// absolute flow of the 7 reported days before it. `None` only when there is no day.
pub fn etf_features(etf: &EtfFlows) -> Option<EtfFeatures> {
    let days = &etf.days;
    let latest = days.last()?;
    let n = days.len();
    let recent = &days[n.saturating_sub(ETF_DAYS)..];
    let sum_7d_usd = recent.iter().map(|d| d.net_flow_usd).sum();
    let prior = &days[..n - 1];
    let ratio_to_prior_7d_mean_abs = if prior.len() >= ETF_DAYS {
        let window = &prior[prior.len() - ETF_DAYS..];
        let mean_abs = window.iter().map(|d| d.net_flow_usd.abs()).sum::<f64>() / ETF_DAYS as f64;
        (mean_abs > 0.0).then(|| latest.net_flow_usd / mean_abs)
    } else {
        None
    };
    Some(EtfFeatures {
        latest_date: latest.date.to_string(),
        latest_net_flow_usd: latest.net_flow_usd,
        sum_7d_usd,
        days_in_sum: recent.len() as u32,
        ratio_to_prior_7d_mean_abs,
    })
}

/// Whether `instrument` is `base` in any spelling: `SOL`, `SOLUSDT`, `SOL-USDT-SWAP`, `sol/usdt`,
/// `SOLUSD_PERP`; not `SOLV` or `SOLUSDX`.
pub fn instrument_matches(instrument: &str, base: &str) -> bool {
    let inst = instrument.trim().to_ascii_uppercase();
    let base = base.trim().to_ascii_uppercase();
    if base.is_empty() {
        return false;
    }
    let Some(rest) = inst.strip_prefix(&base) else {
        return false;
    };
    if rest.is_empty() || rest.starts_with(['-', '_', '/', ':', ' ', '.']) {
        return true;
    }
    const QUOTES: &[&str] = &[
        "USDT", "USDC", "FDUSD", "BUSD", "USD", "PERP", "EUR", "BTC", "ETH",
    ];
    QUOTES.iter().any(|q| {
        rest.strip_prefix(q).is_some_and(|r| {
            r.is_empty() || r.starts_with(['-', '_', '/', ':', '.']) || r == "PERP" || r == "M"
        })
    })
}

/// This symbol's alerts (matched by base asset, [`instrument_matches`]) with `time ≥ now − window`:
/// count, net notional (long minus short) and the largest. `None` only for an empty `base_asset`;
/// no alert in the window is `count: 0` (the feed was usable, the whales were quiet).
pub fn whale_features(
    whales: &WhaleAlerts,
    base_asset: &str,
    now_ms: i64,
    window: Duration,
) -> Option<WhaleFeatures> {
    if base_asset.trim().is_empty() {
        return None;
    }
    let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    let from = now_ms.saturating_sub(window_ms);
    let mut count = 0u32;
    let mut net = 0.0;
    let mut largest: Option<&WhaleAlert> = None;
    for a in whales
        .alerts
        .iter()
        .filter(|a| a.time_ms >= from && instrument_matches(&a.instrument, base_asset))
    {
        count += 1;
        net += match a.side {
            Side::Long => a.notional_usd,
            Side::Short => -a.notional_usd,
        };
        if largest.is_none_or(|l| a.notional_usd > l.notional_usd) {
            largest = Some(a);
        }
    }
    Some(WhaleFeatures {
        window_secs: window.as_secs(),
        count,
        net_notional_usd: net,
        largest: largest.cloned(),
    })
}

/// The bias as read (already scaled to [−1, 1] and [0, 1] by the parser).
pub fn bias_features(bias: &Bias) -> Option<BiasFeatures> {
    Some(BiasFeatures {
        direction: bias.direction,
        score: bias.score,
        confidence: bias.confidence,
    })
}

/// All features of one symbol from whatever modules answered (the first datum of each kind is used).
/// Liquidation features take the book's mid when a book is present; whale features use
/// [`WHALE_WINDOW`].
pub fn features(data: &[&MarketData], base_asset: &str, now_ms: i64) -> SymbolFeatures {
    let book = data.iter().find_map(|d| match d {
        MarketData::OrderBook(b) => Some(b),
        _ => None,
    });
    let book_f = book.and_then(book_features);
    let mid = book_f.as_ref().map(|b| b.mid);
    let mut out = SymbolFeatures {
        book: book_f,
        ..SymbolFeatures::default()
    };
    for d in data {
        match d {
            MarketData::OrderBook(_) => {}
            MarketData::Liquidations(l) if out.liquidations.is_none() => {
                out.liquidations = liq_features(l, mid);
            }
            MarketData::EtfFlows(e) if out.etf.is_none() => out.etf = etf_features(e),
            MarketData::WhaleAlerts(w) if out.whales.is_none() => {
                out.whales = whale_features(w, base_asset, now_ms, WHALE_WINDOW);
            }
            MarketData::Bias(b) if out.bias.is_none() => out.bias = bias_features(b),
            _ => {}
        }
    }
    out
}

/// `$4.1M`, `-$120M`, `+$2.4B` (with `sign`): [`crate::numfmt::money`].
fn money(x: f64, sign: bool) -> String {
    crate::numfmt::money(x, sign)
}

/// Prices for people: [`crate::numfmt::price`].
fn price(p: f64) -> String {
    crate::numfmt::price(p)
}

/// One human line (parts joined by ` · `) of what is known; absent features are left out, and a
/// symbol with none reads `no market data`.
pub fn summary_line(f: &SymbolFeatures) -> String {
    let mut parts = Vec::new();
    if let Some(b) = &f.book {
        let mut s = format!("book mid {} spread {:.1} bps", price(b.mid), b.spread_bps);
        if let Some(imb) = b
            .bands
            .iter()
            .find(|x| x.pct == 1.0)
            .and_then(|x| x.imbalance)
        {
            s.push_str(&format!(" imb(1%) {}", crate::numfmt::signed(imb, 2)));
        }
        for (name, w) in [("bid", &b.bid_wall), ("ask", &b.ask_wall)] {
            if let Some(w) = w {
                s.push_str(&format!(
                    " {name} wall {:.1}× @{} ({:+.0} bps)",
                    w.ratio_to_median,
                    price(w.price),
                    w.distance_bps
                ));
            }
        }
        if let Some(v) = &b.venue {
            s.push_str(&format!(" [{v}]"));
        }
        parts.push(s);
    }
    if let Some(l) = &f.liquidations {
        let mut s = "liq".to_string();
        for (name, c) in [("above", &l.nearest_above), ("below", &l.nearest_below)] {
            if let Some(c) = c {
                s.push_str(&format!(
                    " {name} {} {} ({:+.0} bps)",
                    price(c.price),
                    money(c.notional_usd, false),
                    c.distance_bps
                ));
            }
        }
        s.push_str(&format!(" ±1% {}", money(l.within_1pct_usd, false)));
        parts.push(s);
    }
    if let Some(e) = &f.etf {
        let mut s = format!(
            "ETF {} {} ({}d {}",
            e.latest_date,
            money(e.latest_net_flow_usd, true),
            e.days_in_sum,
            money(e.sum_7d_usd, true)
        );
        if let Some(r) = e.ratio_to_prior_7d_mean_abs {
            s.push_str(&format!(", {r:.1}× mean"));
        }
        s.push(')');
        parts.push(s);
    }
    if let Some(w) = &f.whales {
        let mut s = format!(
            "whales {} in {}h net {}",
            w.count,
            w.window_secs as f64 / 3600.0,
            money(w.net_notional_usd, true)
        );
        if let Some(a) = &w.largest {
            let side = match a.side {
                Side::Long => "long",
                Side::Short => "short",
            };
            s.push_str(&format!(" largest {side} {}", money(a.notional_usd, false)));
        }
        parts.push(s);
    }
    if let Some(b) = &f.bias {
        let dir = match b.direction {
            Direction::Long => "long",
            Direction::Short => "short",
            Direction::Neutral => "neutral",
        };
        let mut s = format!("bias {dir} {}", crate::numfmt::signed(b.score, 2));
        if let Some(c) = b.confidence {
            s.push_str(&format!(" conf {:.0}%", c * 100.0));
        }
        parts.push(s);
    }
    if parts.is_empty() {
        return "no market data".to_string();
    }
    parts.join(" · ")
}
