//! The five models, one per module. Every field carries its unit in its name; every model says which
//! source formats it is read from.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// A side of a position or trade. A buy (or bid) maps to [`Side::Long`], a sell (or ask) to
/// [`Side::Short`]: a whale buying adds long exposure, one selling adds short exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Long, buy, bid.
    Long,
    /// Short, sell, ask.
    Short,
}

/// One price level of a book.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Level {
    /// Price in quote currency (USDT for the symbols sniper watches).
    pub price: f64,
    /// Size in base currency.
    pub size: f64,
}

/// An order book snapshot: bids best (highest) first, asks best (lowest) first.
///
/// Read from:
/// - the rcz87 backend's `spot_ob` (`{"bids": [[price, size], …], "asks": …, "exchange", "symbol",
///   "timestamp"}`, numbers as JSON numbers, `exchange` may be `okx-fallback`);
/// - Binance `GET /api/v3/depth` (`{"lastUpdateId", "bids": [["price", "qty"], …], "asks"}`, strings,
///   no time);
/// - OKX `GET /api/v5/market/books` (`{"code": "0", "data": [{"asks": [[px, sz, "0", orders], …],
///   "bids", "ts"}]}`, four-field levels, `ts` in ms);
/// - the sandbox (the real backend's shape by default; see `sandbox::Shape` for the others);
/// - levels as objects `{"price"|"px"|"p", "size"|"qty"|"amount"|"sz"}` anywhere the above have arrays.
///
/// Integrity: the source claims its order, so levels are not sorted here: bids must strictly
/// descend and asks strictly ascend, else BadPayload `unsorted`. A crossed book (best bid > best ask)
/// is BadPayload `crossed`; a locked one (equal) is valid. Negative, NaN or infinite prices/sizes are
/// BadPayload; zero-size levels are dropped; a side left with no level is Empty (no mid exists).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderBook {
    /// The venue the answer says it came from (`binance`, `okx-fallback`), if it says.
    pub venue: Option<String>,
    /// The instrument as the answer spells it (`SOL-USDT`), if it says.
    pub instrument: Option<String>,
    /// Snapshot time, epoch ms, if the answer carries one.
    pub time_ms: Option<i64>,
    /// Bids, best (highest price) first.
    pub bids: Vec<Level>,
    /// Asks, best (lowest price) first.
    pub asks: Vec<Level>,
    /// Set when the answer is for something other than what was asked, e.g.
    /// `served from okx-fallback/SOL-USDT, asked binance/SOLUSDT`.
    pub note: Option<String>,
}

impl OrderBook {
    /// Best bid, if any.
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.first().copied()
    }
    /// Best ask, if any.
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.first().copied()
    }
    /// Mid price `(best bid + best ask) / 2`; `None` when a side is empty.
    pub fn mid(&self) -> Option<f64> {
        Some((self.best_bid()?.price + self.best_ask()?.price) / 2.0)
    }
}

/// One liquidation level of a heatmap: how much notional would be liquidated at a price.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LiqLevel {
    /// Price in quote currency.
    pub price: f64,
    /// Liquidation notional at that price, USD.
    pub notional_usd: f64,
    /// Whose positions are liquidated there, when the source says (`long`/`short`); `unknown` → None.
    pub side: Option<Side>,
}

/// Liquidations per time bucket (CoinGlass liquidation history): no price, so not a level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LiqBucket {
    /// Bucket start, epoch ms.
    pub time_ms: i64,
    /// Longs liquidated in the bucket, USD.
    pub long_usd: f64,
    /// Shorts liquidated in the bucket, USD.
    pub short_usd: f64,
}

/// Liquidation levels (heatmap) for one symbol, levels sorted by price ascending (sources claim no
/// order, so they are sorted here).
///
/// Read from:
/// - the rcz87 backend's heatmap rows `[{"price_level", "liquidation_amount", "side", "symbol",
///   "timestamp"}]` (rows whose price or amount is 0 are unusable and dropped: all-zero → Empty;
///   `[]` → Empty);
/// - `{"symbol", "levels": [{"price", "liq_usd"}]}` (the sandbox's former shape);
/// - CoinGlass v4 heatmap models `{"y_axis": [prices], "liquidation_leverage_data": [[x, y_index,
///   usd], …], "price_candlesticks": [[t, o, h, l, c, v], …]}` (summed per price; the last close is
///   `mid_price`);
/// - CoinGlass v4 liquidation history (`[{"time", "long_liquidation_usd", "short_liquidation_usd"}]`
///   and the `aggregated_…` variant): no prices, so these fill [`history`](Self::history), not
///   `levels`; no level feature can be computed from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiquidationLevels {
    /// The symbol as the answer spells it, if it says.
    pub symbol: Option<String>,
    /// Newest time in the answer, epoch ms, if any; for liquidation history, the end of the newest
    /// bucket (its start plus the spacing between the last two buckets).
    pub time_ms: Option<i64>,
    /// Price levels with non-zero notional, price ascending.
    pub levels: Vec<LiqLevel>,
    /// Time buckets (liquidation history), time ascending; empty for heatmaps.
    pub history: Vec<LiqBucket>,
    /// A current price the answer itself gives (CoinGlass heatmap candlesticks, `current_price`), used
    /// when no book mid is available.
    pub mid_price: Option<f64>,
}

/// One day of ETF net flows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EtfDay {
    /// Trading day (serialised `YYYY-MM-DD`).
    pub date: Date,
    /// Net flow across the asset's ETFs that day, USD (negative = outflow).
    pub net_flow_usd: f64,
}

/// ETF net flows per day, date ascending.
///
/// Read from:
/// - CoinGlass v4 `etf/bitcoin/flow-history` and the rcz87 backend now (`data: [{"timestamp" (ms)
///   or "date", "flow_usd"?, "price_usd", "etf_flows": [{"etf_ticker", "flow_usd"}]}]`): the day's net
///   is the sum of its tickers' flows; when the row's own total disagrees (by more than 0.1 % or
///   1 USD) the sum is used and [`EtfFlows::note`] says so;
/// - the older shape, one row per ticker and date (`[{"date", "etf_ticker"|"ticker", "flow_usd"}]`):
///   summed per date;
/// - `{"asset", "data": [{"date": "YYYY-MM-DD", "net_flow_usd"}]}` (the sandbox's former shape);
/// - the rcz87 backend's `[]` (its answer to every ETF failure, plan errors included) → Empty.
///
/// Days with a null flow are dropped; two rows for one date are BadPayload unless they are distinct
/// tickers' rows; all flows exactly 0 is Empty (a backend zero-filling a failure, not a market with
/// no flows at all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtfFlows {
    /// The asset (`BTC`), if the answer says.
    pub asset: Option<String>,
    /// Days, date ascending, dates unique.
    pub days: Vec<EtfDay>,
    /// Said when the answer disagrees with itself: per-ticker flows (`etf_flows`) that do not sum to
    /// the row's own total (the sum is used).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

impl EtfFlows {
    /// The end of the newest day (its next 00:00 UTC), epoch ms: a day's flows are complete only
    /// after it ends, so staleness is measured from there.
    pub fn newest_ms(&self) -> Option<i64> {
        let d = self.days.last()?.date.tomorrow().ok()?;
        let ts = jiff::tz::Offset::UTC
            .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
            .ok()?;
        Some(ts.as_millisecond())
    }
}

/// One large position opened or closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhaleAlert {
    /// When, epoch ms.
    pub time_ms: i64,
    /// The instrument as the answer spells it (`SOL`, `SOLUSDT`, `SOL-USDT-SWAP`).
    pub instrument: String,
    /// Long (buy) or short (sell).
    pub side: Side,
    /// Position notional, USD (always ≥ 0; the direction is `side`).
    pub notional_usd: f64,
    /// Venue, if the alert or the answer says (`hyperliquid`).
    pub venue: Option<String>,
}

/// Whale alerts, time ascending. The answers cover every symbol, not only the one asked; features
/// filter by base asset.
///
/// Read from:
/// - the rcz87 backend's `[{"exchange", "notional_value", "position_size", "side": "long"|"short",
///   "symbol", "timestamp": "2026-11-29 18:50:56 WIB"}]`;
/// - CoinGlass v4 `hyperliquid/whale-alert` (`data: [{"symbol", "position_size" (signed),
///   "position_value_usd", "position_action", "create_time" (ms)}]`): no side field, so the side is
///   the sign of `position_size` (positive long, negative short);
/// - `{"exchange", "alerts": [{"symbol", "side", "size_usd", "timestamp"}]}`.
///
/// An alert without a time, instrument, side or non-zero notional cannot be placed in a window or
/// counted and is dropped; if none is left the answer is Empty (the sandbox's former alerts carried
/// no time: that was its `1 without a time`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhaleAlerts {
    /// Alerts, time ascending.
    pub alerts: Vec<WhaleAlert>,
}

/// A directional call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Long, bullish, buy.
    Long,
    /// Short, bearish, sell.
    Short,
    /// Neutral, flat, none.
    Neutral,
}

/// Institutional bias.
///
/// Read from:
/// - the rcz87 backend's `{"success": true, "bias": {"direction": "NEUTRAL", "score": -0.0153,
///   "confidence": 1.53, "strength"}, "timestamp": naive UTC ISO}`;
/// - `{"bias": "neutral", "score": 0.12}` (direction as a string, no confidence);
/// - `direction`/`signal`/`bias` spelled long/short/neutral, bullish/bearish, buy/sell, any case.
///
/// Scales: a `score` in [−1, 1] is kept; in (1, 100] in absolute value it is read as percent and
/// divided by 100; beyond ±100 it is BadPayload. A `confidence` in [0, 1] is kept; in (1, 100] it is
/// read as percent (the rcz87 backend's 1.53 is 1.53 %, i.e. 0.0153 — it equals |score|·100 there);
/// negative or above 100 is BadPayload. A missing direction or score is BadPayload (never derived).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bias {
    /// The direction called.
    pub direction: Direction,
    /// Signed score in [−1, 1] (positive = long).
    pub score: f64,
    /// Confidence in [0, 1], if given.
    pub confidence: Option<f64>,
    /// When computed, epoch ms, if the answer says.
    pub time_ms: Option<i64>,
}
