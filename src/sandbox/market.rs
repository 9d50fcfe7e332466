//! The sandbox's market: SANDBOX DATA a trader would recognise, as a pure function of the module,
//! the asked parameters and the time (no state, no randomness: the same request at the same
//! millisecond gets the same body).
//!
//! - price: a slow wave per symbol around BTC ≈ 95 000, ETH ≈ 3 500, SOL ≈ 150 (others from a hash
//!   of the base asset), ±1.5 % over 90 min plus small faster waves;
//! - `spot_ob`: `depth` levels a side (default 50), 1–2 ticks of spread, ~5 bps between levels,
//!   sizes varying per 5 s; in two 5-min buckets of three, one side has a wall (7–10× that side's
//!   median size) 1–2 % from the mid;
//! - `heatmap`: liquidation clusters at leverage tiers, longs at mid×(1−1/L), shorts at
//!   mid×(1+1/L) for L in 10, 25, 50, 100 (three rows each), USD millions, redrawn hourly;
//! - `whale_alerts`: one or two alerts per 10-min slot (the newest 8 of the last hour; BTC, ETH and
//!   SOL take turns, plus other coins), long/short, $0.5M–$5M; an asked `symbol` gets one too;
//! - `etf`: one row per US trading day (weekdays) before today within `days` (default 30), net
//!   flows −$500M..+$800M split across the asset's ETFs;
//! - `bias`: a slow wave per symbol, direction BULLISH/BEARISH/NEUTRAL by its sign and size.
//!
//! [`Shape`] picks the format: the real backend's (default), CoinGlass v4 envelopes, or exchange
//! formats for the order book. Every object served carries `"sandbox": true` (the elements of a
//! top-level list too).

use std::collections::HashMap;
use std::f64::consts::TAU;

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::Offset;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::module_id::ModuleId;

/// The format the sandbox answers in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// The real backend's (rcz87 coinglass-system) shapes: top-level lists for heatmap, whale
    /// alerts and ETF flows, `{"bids", "asks", "exchange", "symbol", "timestamp"}` books,
    /// `{"success", "bias": {"direction", "score", …}}` bias.
    #[default]
    Real,
    /// CoinGlass API v4 envelopes `{"code": "0", "msg": "success", "data": …}`: heatmap model
    /// (`y_axis`, `liquidation_leverage_data`, `price_candlesticks`), Hyperliquid whale alerts,
    /// ETF flow history; the book and bias in the envelope too.
    Coinglass,
    /// The order book in the venue's own format (OKX `/api/v5/market/books` when `exchange`
    /// names OKX, else Binance `/api/v3/depth`: prices and sizes as strings); the other modules as
    /// [`Shape::Coinglass`] (they come from CoinGlass).
    Exchange,
}

impl Shape {
    /// `real`, `coinglass`, `exchange`.
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Real => "real",
            Shape::Coinglass => "coinglass",
            Shape::Exchange => "exchange",
        }
    }
}

/// FNV-1a of the parts, then splitmix64: a well-mixed 64-bit value per input.
fn hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A deterministic stream of uniform draws in [0, 1).
struct Draws(u64);

impl Draws {
    fn new(parts: &[&[u8]]) -> Draws {
        Draws(hash(parts))
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// The base asset of any spelling: `SOL-USDT-SWAP`, `SOLUSDT`, `sol/usdt`, `BTC` → `SOL`, `SOL`,
/// `SOL`, `BTC`.
pub fn base_asset(symbol: &str) -> String {
    let up = symbol.trim().to_ascii_uppercase();
    let head = up
        .split(['-', '_', '/', ':', ' ', '.'])
        .find(|s| !s.is_empty())
        .unwrap_or("BTC")
        .to_string();
    for q in ["USDT", "USDC", "FDUSD", "BUSD", "USD", "PERP"] {
        if let Some(b) = head.strip_suffix(q)
            && !b.is_empty()
        {
            return b.to_string();
        }
    }
    head
}

/// The reference price of a base asset (before the wave).
fn base_price(base: &str) -> f64 {
    match base {
        "BTC" => 95_000.0,
        "ETH" => 3_500.0,
        "SOL" => 150.0,
        "BNB" => 640.0,
        "XRP" => 2.2,
        "DOGE" => 0.32,
        _ => {
            let h = hash(&[b"price", base.as_bytes()]);
            let exp = (h % 5) as i32 - 1; // 0.1 .. 1000
            let mantissa = 1.0 + ((h >> 8) % 900) as f64 / 100.0;
            mantissa * 10f64.powi(exp)
        }
    }
}

/// The sandbox mid price of `base` at `now_ms`: the reference price times a slow wave
/// (±1.2 % over 90 min, ±0.3 % over 10 min, ±0.08 % over 47 s), phases from the asset.
pub fn mid_price(base: &str, now_ms: i64) -> f64 {
    let t = now_ms as f64 / 1000.0;
    let mut d = Draws::new(&[b"phase", base.as_bytes()]);
    let (p1, p2, p3) = (d.unit() * TAU, d.unit() * TAU, d.unit() * TAU);
    base_price(base)
        * (1.0
            + 0.012 * (TAU * t / 5400.0 + p1).sin()
            + 0.003 * (TAU * t / 600.0 + p2).sin()
            + 0.0008 * (TAU * t / 47.0 + p3).sin())
}

/// Decimals of the tick: 10^(⌊log10 price⌋ − 5) (BTC 0.1, ETH 0.01, SOL 0.001), at most 8.
fn tick_decimals(price: f64) -> i32 {
    (5 - price.log10().floor() as i32).clamp(0, 8)
}

/// Decimals of sizes: coarser for cheap coins.
fn size_decimals(price: f64) -> i32 {
    if price >= 1000.0 {
        4
    } else if price >= 10.0 {
        2
    } else {
        0
    }
}

/// `x` rounded to `decimals` places (negative: to tens, hundreds…), without float noise in print.
fn round_to(x: f64, decimals: i32) -> f64 {
    if decimals >= 0 {
        let k = 10f64.powi(decimals);
        (x * k).round() / k
    } else {
        let k = 10f64.powi(-decimals);
        (x / k).round() * k
    }
}

fn iso_z(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

fn iso_naive(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.6f").to_string())
        .unwrap_or_default()
}

/// `2026-11-29 18:50:56 WIB` (UTC+7, the real backend's whale-alert time text).
fn wib_text(ms: i64) -> String {
    let Ok(ts) = Timestamp::from_millisecond(ms) else {
        return String::new();
    };
    let Ok(wib) = Offset::from_hours(7) else {
        return String::new();
    };
    format!("{} WIB", wib.to_datetime(ts).strftime("%Y-%m-%d %H:%M:%S"))
}

fn first<'a>(params: &'a HashMap<String, String>, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| params.get(*n).map(String::as_str))
}

fn tag(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("sandbox".into(), Value::Bool(true));
    }
    v
}

fn tag_all(rows: Vec<Value>) -> Value {
    Value::Array(rows.into_iter().map(tag).collect())
}

fn envelope(data: Value) -> Value {
    json!({"code": "0", "msg": "success", "data": data, "sandbox": true})
}

/// The 200 body of `module` for the request's `params` (path captures and query), in `shape`, at
/// `now_ms` (epoch ms). Pure: the same inputs give the same body.
pub fn body(
    module: ModuleId,
    shape: Shape,
    params: &HashMap<String, String>,
    now_ms: i64,
) -> Value {
    let asked = first(
        params,
        &["symbol", "asset", "coin", "instId", "pair", "ticker"],
    );
    match module {
        ModuleId::SpotOb => book_body(shape, params, asked.unwrap_or("BTCUSDT"), now_ms),
        ModuleId::Heatmap => heatmap_body(shape, asked.unwrap_or("BTC"), now_ms),
        ModuleId::WhaleAlerts => whales_body(shape, params, asked, now_ms),
        ModuleId::Etf => etf_body(shape, params, asked.unwrap_or("BTC"), now_ms),
        ModuleId::Bias => bias_body(shape, asked.unwrap_or("BTC"), now_ms),
    }
}

/// One side of a book: `(price, size)` with prices as tick counts.
struct BookSides {
    tick_decimals: i32,
    size_decimals: i32,
    bids: Vec<(i64, f64)>,
    asks: Vec<(i64, f64)>,
}

fn book(base: &str, depth: usize, now_ms: i64) -> BookSides {
    let mid = mid_price(base, now_ms);
    let td = tick_decimals(mid);
    let sd = size_decimals(mid);
    let per_tick = 10f64.powi(td);
    let mid_ticks = mid * per_tick;
    let slot = (now_ms.div_euclid(5_000)).to_le_bytes();
    let mut d = Draws::new(&[b"book", base.as_bytes(), &slot]);
    let spread = 1 + (d.next_u64() % 2) as i64;
    let best_bid = mid_ticks.floor() as i64;
    let best_ask = best_bid + spread;
    // ~5 bps between levels: 50 levels span about 2.5 %.
    let step = (mid_ticks * 0.0005).max(1.0);
    // Per-level notional: about $25k at the top for SOL, more for majors.
    let scale = match base {
        "BTC" => 8.0,
        "ETH" => 4.0,
        "SOL" => 1.0,
        _ => 0.5,
    };
    let level_usd = 25_000.0 * scale;
    let unit = 10f64.powi(-sd);
    let side = |start: i64, dir: i64, d: &mut Draws| -> Vec<(i64, f64)> {
        let mut out = Vec::with_capacity(depth);
        let mut p = start;
        for i in 0..depth {
            if i > 0 {
                let gap = (step * d.range(0.5, 1.5)).round().max(1.0) as i64;
                p += dir * gap;
                if p <= 0 {
                    break;
                }
            }
            let price = p as f64 / per_tick;
            let usd = level_usd * d.range(0.4, 1.6) * (1.0 + 0.02 * i as f64);
            let size = round_to(usd / price, sd).max(unit);
            out.push((p, size));
        }
        out
    };
    let mut bids = side(best_bid, -1, &mut d);
    let mut asks = side(best_ask, 1, &mut d);
    // A wall in two 5-min buckets of three, 1–2 % from the mid, on one side.
    let bucket = (now_ms.div_euclid(300_000)).to_le_bytes();
    let mut w = Draws::new(&[b"wall", base.as_bytes(), &bucket]);
    if !w.next_u64().is_multiple_of(3) {
        let on_bids = w.next_u64().is_multiple_of(2);
        let dist = w.range(0.011, 0.019);
        let ratio = w.range(7.0, 10.0);
        let (levels, target) = if on_bids {
            (&mut bids, mid_ticks * (1.0 - dist))
        } else {
            (&mut asks, mid_ticks * (1.0 + dist))
        };
        let mut sizes: Vec<f64> = levels.iter().map(|l| l.1).collect();
        sizes.sort_by(f64::total_cmp);
        if let Some(median) = sizes.get(sizes.len() / 2).copied()
            && let Some(l) = levels.iter_mut().min_by(|a, b| {
                (a.0 as f64 - target)
                    .abs()
                    .total_cmp(&(b.0 as f64 - target).abs())
            })
        {
            l.1 = round_to(median * ratio, sd);
        }
    }
    BookSides {
        tick_decimals: td,
        size_decimals: sd,
        bids,
        asks,
    }
}

fn book_body(shape: Shape, params: &HashMap<String, String>, symbol: &str, now_ms: i64) -> Value {
    let depth: usize = first(params, &["depth", "limit", "sz"])
        .and_then(|d| d.parse().ok())
        .unwrap_or(50)
        .clamp(1, 500);
    let exchange = first(params, &["exchange", "ex", "venue"]).unwrap_or("binance");
    let base = base_asset(symbol);
    let b = book(&base, depth, now_ms);
    let per_tick = 10f64.powi(b.tick_decimals);
    let nums = |side: &[(i64, f64)]| -> Vec<Value> {
        side.iter()
            .map(|(p, s)| json!([*p as f64 / per_tick, s]))
            .collect()
    };
    let (td, sd) = (b.tick_decimals as usize, b.size_decimals as usize);
    let texts = |side: &[(i64, f64)], extra: Option<u64>| -> Vec<Value> {
        side.iter()
            .enumerate()
            .map(|(i, (p, s))| {
                let px = format!("{:.td$}", *p as f64 / per_tick);
                let sz = format!("{s:.sd$}");
                match extra {
                    Some(seed) => {
                        json!([px, sz, "0", (1 + (mix(seed ^ i as u64) % 9)).to_string()])
                    }
                    None => json!([px, sz]),
                }
            })
            .collect()
    };
    match shape {
        Shape::Real => json!({
            "sandbox": true,
            "symbol": symbol,
            "exchange": exchange,
            "bids": nums(&b.bids),
            "asks": nums(&b.asks),
            "timestamp": iso_z(now_ms),
        }),
        Shape::Coinglass => envelope(json!({
            "symbol": symbol,
            "exchange": exchange,
            "time": now_ms,
            "bids": nums(&b.bids),
            "asks": nums(&b.asks),
        })),
        Shape::Exchange if exchange.to_ascii_lowercase().contains("okx") => json!({
            "code": "0",
            "msg": "",
            "data": [{
                "asks": texts(&b.asks, Some(hash(&[b"okx-asks"]))),
                "bids": texts(&b.bids, Some(hash(&[b"okx-bids"]))),
                "ts": now_ms.to_string(),
            }],
            "sandbox": true,
        }),
        Shape::Exchange => json!({
            "lastUpdateId": now_ms / 100,
            "bids": texts(&b.bids, None),
            "asks": texts(&b.asks, None),
            "sandbox": true,
        }),
    }
}

/// Liquidation clusters: `(price, usd, side)`, price ascending.
fn clusters(base: &str, now_ms: i64) -> Vec<(f64, f64, &'static str)> {
    let mid = mid_price(base, now_ms);
    let td = tick_decimals(mid);
    let hour = now_ms.div_euclid(3_600_000).to_le_bytes();
    let mut d = Draws::new(&[b"liq", base.as_bytes(), &hour]);
    let scale = match base {
        "BTC" => 10.0,
        "ETH" => 4.0,
        "SOL" => 1.0,
        _ => 0.3,
    };
    let mut out = Vec::new();
    for (lev, lo, hi) in [
        (10.0, 2.0, 6.0),
        (25.0, 4.0, 12.0),
        (50.0, 3.0, 9.0),
        (100.0, 1.0, 4.0),
    ] {
        for (side, sign) in [("long", -1.0), ("short", 1.0)] {
            let center = mid * (1.0 + sign / lev);
            for k in [-1.0, 0.0, 1.0] {
                let price = round_to(center * (1.0 + k * 0.0015), td);
                let weight = if k == 0.0 { 1.0 } else { 0.35 };
                let usd = round_to(d.range(lo, hi) * weight * scale * 1e6, -3);
                out.push((price, usd, side));
            }
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

fn heatmap_body(shape: Shape, symbol: &str, now_ms: i64) -> Value {
    let base = base_asset(symbol);
    let rows = clusters(&base, now_ms);
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1.0);
    match shape {
        Shape::Real => tag_all(
            rows.iter()
                .map(|(p, usd, side)| {
                    json!({
                        "exchange": null,
                        "intensity": round_to(usd / max, 4),
                        "liquidation_amount": usd,
                        "price_level": p,
                        "side": side,
                        "symbol": symbol,
                        "timestamp": iso_z(now_ms),
                    })
                })
                .collect(),
        ),
        Shape::Coinglass | Shape::Exchange => {
            // Four time columns; each price's notional spread over them.
            let mut cells = Vec::new();
            for (y, (_, usd, _)) in rows.iter().enumerate() {
                for x in 0..4 {
                    cells.push(json!([x, y, round_to(usd / 4.0, 0)]));
                }
            }
            let td = tick_decimals(mid_price(&base, now_ms));
            let minute = now_ms.div_euclid(60_000) * 60_000;
            let candles: Vec<Value> = (0..4)
                .rev()
                .map(|i| {
                    let t = minute - i * 900_000;
                    let c = round_to(mid_price(&base, t), td);
                    let o = round_to(mid_price(&base, t - 900_000), td);
                    json!([t / 1000, o, o.max(c), o.min(c), c, 0])
                })
                .collect();
            envelope(json!({
                "y_axis": rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                "liquidation_leverage_data": cells,
                "price_candlesticks": candles,
            }))
        }
    }
}

/// One whale alert: `(time_ms, base, signed size, notional usd)`.
type Alert = (i64, String, f64, f64);

fn alerts(asked: Option<&str>, now_ms: i64) -> Vec<Alert> {
    const SLOT_MS: i64 = 600_000;
    const TURNS: [&str; 3] = ["BTC", "ETH", "SOL"];
    const OTHERS: [&str; 7] = ["BTC", "ETH", "SOL", "XRP", "DOGE", "HYPE", "SUI"];
    let from = now_ms - 3_600_000;
    let last = now_ms.div_euclid(SLOT_MS);
    let mut out: Vec<Alert> = Vec::new();
    let make = |t: i64, base: &str, d: &mut Draws| -> Alert {
        let notional = d.range(0.5e6, 5e6);
        let price = mid_price(base, t);
        let long = d.next_u64().is_multiple_of(2);
        let size = round_to(notional / price, size_decimals(price).max(2));
        let size = if long { size } else { -size };
        (t, base.to_string(), size, round_to(size.abs() * price, 2))
    };
    for k in (last - 6)..=last {
        let mut d = Draws::new(&[b"whale", &k.to_le_bytes()]);
        let n = if d.next_u64().is_multiple_of(3) { 2 } else { 1 };
        for j in 0..n {
            let t = k * SLOT_MS + (d.next_u64() % SLOT_MS as u64) as i64;
            if t <= from || t > now_ms {
                continue;
            }
            let base = if j == 0 {
                TURNS[k.rem_euclid(3) as usize]
            } else {
                OTHERS[(d.next_u64() % OTHERS.len() as u64) as usize]
            };
            out.push(make(t, base, &mut d));
        }
    }
    out.sort_by_key(|a| std::cmp::Reverse(a.0));
    out.truncate(8);
    if let Some(s) = asked {
        let base = base_asset(s);
        if !out.iter().any(|a| a.1 == base) {
            let mut d = Draws::new(&[b"whale-asked", base.as_bytes(), &(last).to_le_bytes()]);
            let t = now_ms - (d.next_u64() % 1_800_000) as i64;
            out.push(make(t, &base, &mut d));
            out.sort_by_key(|a| std::cmp::Reverse(a.0));
        }
    }
    out
}

fn whales_body(
    shape: Shape,
    params: &HashMap<String, String>,
    asked: Option<&str>,
    now_ms: i64,
) -> Value {
    let exchange = first(params, &["exchange"]).unwrap_or("hyperliquid");
    let list = alerts(asked, now_ms);
    match shape {
        Shape::Real => tag_all(
            list.iter()
                .map(|(t, base, size, usd)| {
                    json!({
                        "exchange": exchange,
                        "meta": {},
                        "notional_value": usd,
                        "position_size": size,
                        "side": if *size > 0.0 { "long" } else { "short" },
                        "symbol": base,
                        "timestamp": wib_text(*t),
                    })
                })
                .collect(),
        ),
        Shape::Coinglass | Shape::Exchange => envelope(Value::Array(
            list.iter()
                .map(|(t, base, size, usd)| {
                    let h = hash(&[b"user", base.as_bytes(), &t.to_le_bytes()]);
                    let entry = usd / size.abs();
                    let liq = if *size > 0.0 {
                        entry * 0.8
                    } else {
                        entry * 1.2
                    };
                    json!({
                        "user": format!("0x{h:016x}{:016x}{:08x}", mix(h), mix(h ^ 1) as u32),
                        "symbol": base,
                        "position_size": size,
                        "entry_price": round_to(entry, tick_decimals(entry)),
                        "liq_price": round_to(liq, tick_decimals(liq)),
                        "position_value_usd": usd,
                        "position_action": 1 + h % 2,
                        "create_time": t,
                    })
                })
                .collect(),
        )),
    }
}

/// US trading days (weekdays) strictly before `today`, within `days` calendar days, ascending.
fn trading_days(today: Date, days: i64) -> Vec<Date> {
    let mut out = Vec::new();
    let mut d = today;
    for _ in 0..days {
        let Ok(prev) = d.yesterday() else { break };
        d = prev;
        if !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) {
            out.push(d);
        }
    }
    out.reverse();
    out
}

fn etf_body(shape: Shape, params: &HashMap<String, String>, asset: &str, now_ms: i64) -> Value {
    let days: i64 = first(params, &["days", "limit"])
        .and_then(|d| d.parse().ok())
        .unwrap_or(30)
        .clamp(1, 365);
    let asset = base_asset(asset);
    let tickers: &[&str] = match asset.as_str() {
        "ETH" => &["ETHA", "FETH", "ETHE", "ETH"],
        _ => &["IBIT", "FBTC", "GBTC", "ARKB", "BITB"],
    };
    let today = Timestamp::from_millisecond(now_ms)
        .map(|t| Offset::UTC.to_datetime(t).date())
        .unwrap_or_default();
    let rows: Vec<Value> = trading_days(today, days)
        .into_iter()
        .map(|date| {
            let ms = Offset::UTC
                .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
                .map(|t| t.as_millisecond())
                .unwrap_or(0);
            let key = date.to_string();
            let mut d = Draws::new(&[b"etf", asset.as_bytes(), key.as_bytes()]);
            let total = round_to(d.range(-500e6, 800e6), -5);
            let weights: Vec<f64> = tickers.iter().map(|_| d.range(0.1, 1.0)).collect();
            let wsum: f64 = weights.iter().sum();
            let mut left = total;
            let per: Vec<Value> = tickers
                .iter()
                .zip(&weights)
                .enumerate()
                .map(|(i, (t, w))| {
                    let f = if i + 1 == tickers.len() {
                        left
                    } else {
                        round_to(total * w / wsum, -5)
                    };
                    left -= f;
                    json!({"etf_ticker": t, "flow_usd": round_to(f, 0)})
                })
                .collect();
            let close = mid_price(&asset, ms + 86_400_000 - 3_600_000 * 4);
            json!({
                "timestamp": ms,
                "flow_usd": total,
                "price_usd": round_to(close, 2),
                "etf_flows": per,
            })
        })
        .collect();
    match shape {
        Shape::Real => tag_all(rows),
        Shape::Coinglass | Shape::Exchange => envelope(Value::Array(rows)),
    }
}

fn bias_body(shape: Shape, symbol: &str, now_ms: i64) -> Value {
    let base = base_asset(symbol);
    let mut d = Draws::new(&[b"bias", base.as_bytes()]);
    let phase = d.unit() * TAU;
    let bucket = now_ms.div_euclid(300_000).to_le_bytes();
    let mut n = Draws::new(&[b"bias-noise", base.as_bytes(), &bucket]);
    let t = now_ms as f64 / 1000.0;
    let score = round_to(
        (0.45 * (TAU * t / 7200.0 + phase).sin() + n.range(-0.08, 0.08)).clamp(-1.0, 1.0),
        4,
    );
    let (direction, rec) = if score > 0.15 {
        ("BULLISH", "long")
    } else if score < -0.15 {
        ("BEARISH", "short")
    } else {
        ("NEUTRAL", "neutral")
    };
    let strength = match score.abs() {
        a if a > 0.4 => "STRONG",
        a if a > 0.15 => "MODERATE",
        _ => "WEAK",
    };
    let mut f = Draws::new(&[b"bias-factors", base.as_bytes(), &bucket]);
    let factors = json!({
        "funding_pressure_bias": round_to(score * 0.5 + f.range(-0.05, 0.05), 4),
        "market_maker_bias": round_to(f.range(-0.1, 0.1), 4),
        "smart_money_bias": round_to(score * 1.2 + f.range(-0.1, 0.1), 4),
        "volume_profile_bias": round_to(f.range(-0.25, 0.25), 4),
        "whale_flow_bias": round_to(score * 0.8, 4),
    });
    let inner = json!({
        "bias": {
            "confidence": round_to(score.abs() * 100.0, 2),
            "direction": direction,
            "score": score,
            "strength": strength,
        },
        "factors": factors,
        "insights": [format!("SANDBOX DATA: {direction} institutional positioning in {base}")],
        "phase": "1_activated",
        "recommendation": rec,
        "symbol": symbol,
        "timestamp": iso_naive(now_ms),
    });
    match shape {
        Shape::Real => {
            let mut v = tag(inner);
            v["success"] = Value::Bool(true);
            v
        }
        Shape::Coinglass | Shape::Exchange => envelope(inner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-29T11:50:56Z (a Sunday).
    const T: i64 = 1_795_953_056_000;

    #[test]
    fn base_assets() {
        assert_eq!(base_asset("SOL-USDT-SWAP"), "SOL");
        assert_eq!(base_asset("SOLUSDT"), "SOL");
        assert_eq!(base_asset("btc/usdt"), "BTC");
        assert_eq!(base_asset("ETH"), "ETH");
        assert_eq!(base_asset("1000PEPEUSDT"), "1000PEPE");
    }

    #[test]
    fn prices_stay_near_their_reference_and_move_slowly() {
        for (b, p) in [("BTC", 95_000.0), ("ETH", 3_500.0), ("SOL", 150.0)] {
            let m = mid_price(b, T);
            assert!((m / p - 1.0).abs() < 0.02, "{b} {m}");
            let later = mid_price(b, T + 1_000);
            assert!((later / m - 1.0).abs() < 0.001, "{b} moved {m} -> {later}");
        }
        assert!(mid_price("ZZZ", T) > 0.0);
    }

    #[test]
    fn trading_days_skip_weekends() {
        let sunday = Date::constant(2026, 11, 29);
        let days = trading_days(sunday, 30);
        assert!(
            days.iter()
                .all(|d| !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday))
        );
        assert_eq!(days.last(), Some(&Date::constant(2026, 11, 27)));
        assert!(days.len() >= 20, "{}", days.len());
    }

    #[test]
    fn books_are_sorted_uncrossed_and_as_deep_as_asked() {
        for t in (0..40).map(|i| T + i * 97_000) {
            let b = book("SOL", 50, t);
            assert_eq!(b.bids.len(), 50);
            assert_eq!(b.asks.len(), 50);
            assert!(b.bids.windows(2).all(|w| w[0].0 > w[1].0));
            assert!(b.asks.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(b.bids[0].0 < b.asks[0].0);
            assert!(b.bids.iter().chain(&b.asks).all(|l| l.1 > 0.0));
        }
    }
}
