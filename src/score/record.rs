//! Recording the price path: after each run, the mid and spread of every symbol whose order book
//! was usable go to the store ([`crate::store::StateStore::save_prices`]); points older than
//! `SNIPER_PRICE_RETENTION` (default 90 days) are pruned by [`price_retention_task`].

use std::time::Duration;

use jiff::Timestamp;

use crate::module_id::ModuleId;
use crate::run::runner::RunResult;
use crate::store::{AsyncStore, PricePoint};

/// Environment variable: how long price points are kept (`90d`, `2w`, `36h`).
pub const PRICE_RETENTION_ENV: &str = "SNIPER_PRICE_RETENTION";
/// Default retention of the price path: 90 days.
pub const DEFAULT_PRICE_RETENTION_MS: i64 = 90 * 86_400_000;

/// `SNIPER_PRICE_RETENTION` parsed (unset or blank: 90 days).
pub fn price_retention_from_env() -> Result<i64, super::BadValue> {
    match std::env::var(PRICE_RETENTION_ENV) {
        Ok(v) if !v.trim().is_empty() => super::parse_span(PRICE_RETENTION_ENV, &v),
        _ => Ok(DEFAULT_PRICE_RETENTION_MS),
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

/// Prune price points older than `retention_ms` every `interval` until `shutdown`.
pub async fn price_retention_task(
    store: AsyncStore,
    retention_ms: i64,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticker.tick() => {
                let cutoff = Timestamp::now().as_millisecond().saturating_sub(retention_ms);
                match store.prune_prices(cutoff).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(pruned = n, "pruned old price points"),
                    Err(e) => tracing::warn!(error = %e, "pruning old price points failed"),
                }
            }
        }
    }
}
