//! Market data: each module's answer, parsed into one typed, validated model, and the features
//! computed from those models.
//!
//! This layer is pure: it never does IO, never reads the clock (callers pass `now_ms`) and never
//! logs. The run layer fetches a module's body and hands it to [`parse`]; an `Ok` means the body holds
//! usable, fresh, internally consistent data, and an `Err` is a [`DataError`] whose
//! [`code`](DataError::code) (`SPOT_OB_EMPTY`, `HEATMAP_BAD_PAYLOAD`, `ETF_STALE`, …) says why not.
//!
//! - [`read`]: lenient readers (numbers as strings, capitalised enums, times in every spelling,
//!   lists wherever they are nested);
//! - [`model`]: the five models ([`OrderBook`], [`LiquidationLevels`], [`EtfFlows`], [`WhaleAlerts`],
//!   [`Bias`]) and their integrity rules;
//! - [`features`]: pure functions from models to per-symbol features (`Option`, never a made-up zero),
//!   and [`summary_line`](features::summary_line).
//!
//! Which shapes each parser reads is listed on each model's docs; the fixtures under
//! `shared/fixtures/payloads/` and the sandbox's bodies are the reference set.

mod bias;
mod book;
mod error;
mod etf;
pub mod features;
mod liquidations;
pub mod model;
pub mod read;
mod whales;

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::module_id::ModuleId;

pub use error::DataError;
pub use features::{
    BiasFeatures, BookFeatures, Cluster, DepthBand, EtfFeatures, LiqFeatures, SymbolFeatures, Wall,
    WhaleFeatures, bias_features, book_features, etf_features, features, liq_features,
    summary_line, whale_features,
};
pub use model::{
    Bias, Direction, EtfDay, EtfFlows, Level, LiqBucket, LiqLevel, LiquidationLevels, OrderBook,
    Side, WhaleAlert, WhaleAlerts,
};

/// One module's answer, parsed and validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MarketData {
    /// From `spot_ob`.
    OrderBook(OrderBook),
    /// From `heatmap`.
    Liquidations(LiquidationLevels),
    /// From `etf`.
    EtfFlows(EtfFlows),
    /// From `whale_alerts`.
    WhaleAlerts(WhaleAlerts),
    /// From `bias`.
    Bias(Bias),
}

impl MarketData {
    /// The module this kind of data comes from.
    pub fn module(&self) -> ModuleId {
        match self {
            MarketData::OrderBook(_) => ModuleId::SpotOb,
            MarketData::Liquidations(_) => ModuleId::Heatmap,
            MarketData::EtfFlows(_) => ModuleId::Etf,
            MarketData::WhaleAlerts(_) => ModuleId::WhaleAlerts,
            MarketData::Bias(_) => ModuleId::Bias,
        }
    }
}

/// What the caller asked the module for, as sent (any spelling): used to say when an answer was
/// served for something else, e.g. `served from okx-fallback/SOL-USDT, asked binance/SOLUSDT`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    /// The `exchange`/`venue` parameter sent, if any.
    pub venue: Option<String>,
    /// The `symbol`/`instId`/`asset` parameter sent, if any.
    pub instrument: Option<String>,
}

/// Parse and validate one module's body (the JSON body only; the HTTP status and CoinGlass plan
/// errors are classified before this is called).
///
/// A CoinGlass/OKX envelope with code `"0"` is unwrapped to its `data`; any other code is
/// [`DataError::BadPayload`] carrying `msg`. The newest point older than `max_age` at `now_ms` is
/// [`DataError::Stale`]; a payload carrying no time at all is not judged stale (there is nothing to
/// judge), and its model's `time_ms` is `None`.
pub fn parse(
    module: ModuleId,
    body: &Value,
    now_ms: i64,
    max_age: Duration,
    asked: &Asked,
) -> Result<MarketData, DataError> {
    parse_with_skew(module, body, now_ms, max_age, DEFAULT_MAX_SKEW, asked)
}

/// How far ahead of `now` a point's time may be by default: a few seconds of clock skew between
/// the backend (or the exchange it relays) and this host (`SNIPER_MAX_CLOCK_SKEW`).
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(5);

/// [`parse`], with the clock skew allowed: a newest point more than `max_skew` ahead of `now_ms`
/// is [`DataError::Stale`] ("time in the future") — a book stamped tomorrow, or naive local time
/// read as UTC ([`read::time_ms`]: naive times are UTC, the one rule), never passes as fresh.
pub fn parse_with_skew(
    module: ModuleId,
    body: &Value,
    now_ms: i64,
    max_age: Duration,
    max_skew: Duration,
    asked: &Asked,
) -> Result<MarketData, DataError> {
    let (data, newest_ms) = match module {
        ModuleId::SpotOb => {
            let b = book::parse(body, asked)?;
            let t = b.time_ms;
            (MarketData::OrderBook(b), t)
        }
        ModuleId::Heatmap => {
            let l = liquidations::parse(body)?;
            let t = l.time_ms;
            (MarketData::Liquidations(l), t)
        }
        ModuleId::Etf => {
            let e = etf::parse(body)?;
            let t = e.newest_ms();
            (MarketData::EtfFlows(e), t)
        }
        ModuleId::WhaleAlerts => {
            let w = whales::parse(body)?;
            let t = w.alerts.iter().map(|a| a.time_ms).max();
            (MarketData::WhaleAlerts(w), t)
        }
        ModuleId::Bias => {
            let b = bias::parse(body)?;
            let t = b.time_ms;
            (MarketData::Bias(b), t)
        }
    };
    if let Some(t) = newest_ms {
        // ETF ages run from the end of the newest day; "in the future" means the day itself
        // has not begun.
        let own_time = match module {
            ModuleId::Etf => t - 86_400_000,
            _ => t,
        };
        check_future(own_time, now_ms, max_skew)?;
        check_fresh_skew(t, now_ms, max_age, Duration::MAX)?;
    }
    Ok(data)
}

/// [`DataError::Stale`] when `newest_ms` is more than `max_age` before `now_ms`, or more than
/// [`DEFAULT_MAX_SKEW`] after it (a time in the future).
pub fn check_fresh(newest_ms: i64, now_ms: i64, max_age: Duration) -> Result<(), DataError> {
    check_fresh_skew(newest_ms, now_ms, max_age, DEFAULT_MAX_SKEW)
}

/// [`DataError::Future`] when `time_ms` is more than `max_skew` ahead of `now_ms`.
fn check_future(time_ms: i64, now_ms: i64, max_skew: Duration) -> Result<(), DataError> {
    let ahead_ms = time_ms.saturating_sub(now_ms);
    let max_skew_ms = i64::try_from(max_skew.as_millis()).unwrap_or(i64::MAX);
    if ahead_ms > max_skew_ms {
        return Err(DataError::Future {
            ahead_ms,
            max_skew_ms,
        });
    }
    Ok(())
}

/// [`check_fresh`] with the skew allowed: within `max_skew` ahead of `now_ms` a time is fresh
/// (age 0); further ahead it is [`DataError::Future`] (code `<MODULE>_STALE`).
pub fn check_fresh_skew(
    newest_ms: i64,
    now_ms: i64,
    max_age: Duration,
    max_skew: Duration,
) -> Result<(), DataError> {
    let age_ms = now_ms.saturating_sub(newest_ms);
    let max_age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
    let max_skew_ms = i64::try_from(max_skew.as_millis()).unwrap_or(i64::MAX);
    if age_ms < 0 && age_ms.saturating_neg() > max_skew_ms {
        return Err(DataError::Future {
            ahead_ms: age_ms.saturating_neg(),
            max_skew_ms,
        });
    }
    if age_ms > max_age_ms {
        return Err(DataError::Stale { age_ms, max_age_ms });
    }
    Ok(())
}

/// How old a module's newest point may be before its answer is stale:
/// - `spot_ob` 60 s: a book is a snapshot; a minute-old book no longer describes the spread or the
///   walls near the price (exchanges answer in milliseconds, backends cache for seconds);
/// - `heatmap` 15 min: liquidation levels move with open interest and price; heatmaps are built from
///   1 h (or coarser) buckets, and 15 min still lets one cached bucket through;
/// - `whale_alerts` 2 h: the feed covers every symbol, so several alerts an hour is normal; a newest
///   alert two hours old means the feed stopped, not that whales are quiet;
/// - `etf` 4 days, measured from the end of the newest day (its next 00:00 UTC): US ETFs report
///   after each trading day's close, so Friday's flows must last over the weekend and a Monday
///   holiday until Tuesday's flows arrive;
/// - `bias` 1 h: the backend recomputes bias from its own inputs every few minutes.
pub fn default_max_age(module: ModuleId) -> Duration {
    match module {
        ModuleId::SpotOb => Duration::from_secs(60),
        ModuleId::Heatmap => Duration::from_secs(15 * 60),
        ModuleId::WhaleAlerts => Duration::from_secs(2 * 3600),
        ModuleId::Etf => Duration::from_secs(4 * 86_400),
        ModuleId::Bias => Duration::from_secs(3600),
    }
}

/// Default refresh interval per module, and why:
/// - `spot_ob` 0 (every run): a book is a snapshot that changes every second;
/// - `heatmap`, `whale_alerts`, `bias` 1 min: built from minute-or-coarser data upstream;
/// - `etf` 15 min: ETF flows change once a trading day; 15 min keeps a new day visible soon.
pub fn default_refresh(m: ModuleId) -> Duration {
    match m {
        ModuleId::SpotOb => Duration::ZERO,
        ModuleId::Heatmap | ModuleId::WhaleAlerts | ModuleId::Bias => Duration::from_secs(60),
        ModuleId::Etf => Duration::from_secs(15 * 60),
    }
}
