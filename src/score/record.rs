//! Recording the price path: after each run, the mid and spread of every symbol whose order book
//! was usable go to the store ([`crate::store::StateStore::save_prices`]); points older than
//! `SNIPER_PRICE_RETENTION` (default 90 days) are pruned by [`crate::store::retention_task`].

use crate::module_id::ModuleId;
use crate::run::runner::RunResult;
use crate::store::{AsyncStore, PricePoint};

/// Environment variable: how long price points are kept (`90d`, `2w`, `36h`).
pub const PRICE_RETENTION_ENV: &str = "SNIPER_PRICE_RETENTION";
/// The price path's retention in ms from `--price-retention`/`SNIPER_PRICE_RETENTION` (unset or
/// blank: [`crate::store::DEFAULT_PRICE_RETENTION`]).
pub fn price_retention(value: Option<&str>) -> Result<i64, super::BadValue> {
    match value {
        Some(v) if !v.trim().is_empty() => super::parse_span(PRICE_RETENTION_ENV, v),
        _ => Ok(
            i64::try_from(crate::store::DEFAULT_PRICE_RETENTION.as_millis()).unwrap_or(i64::MAX),
        ),
    }
}

/// The price point of a run: the order book's mid and spread, observed at the run's time minus
/// the age of a reused book (a reused book is the older observation, never restamped as new).
/// `None` without a usable book.
pub fn price_point(r: &RunResult) -> Option<PricePoint> {
    let (_, features) = crate::run::input::market_of(r);
    let b = features.book?;
    if !(b.mid.is_finite() && b.mid > 0.0) {
        return None;
    }
    let age = r
        .context
        .get(&ModuleId::SpotOb)
        .and_then(|m| m.reused.as_ref())
        .map_or(0, |x| i64::try_from(x.age_ms).unwrap_or(i64::MAX));
    Some(PricePoint {
        at_ms: r.timestamp.as_millisecond().saturating_sub(age),
        mid: b.mid,
        spread_bps: b.spread_bps.is_finite().then_some(b.spread_bps),
    })
}

/// Save the price point of every result that has one. Store errors are logged, never fail the run.
pub async fn record_prices(store: &AsyncStore, results: &[RunResult]) {
    for r in results {
        if let Some(p) = price_point(r) {
            let symbol = r.symbols.input.clone();
            if let Err(e) = store.save_prices(symbol.clone(), vec![p]).await {
                tracing::warn!(symbol = %symbol, error = %e, "cannot record the price point");
            }
        }
    }
}
