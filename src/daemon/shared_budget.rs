//! The shared store as the budget's [`MinuteCounter`]: on PostgreSQL every replica spends the
//! one quota of `SNIPER_BUDGET_PER_MIN` (`StateStore::try_spend`, one row per consumer and
//! minute, atomic across replicas), through [`AsyncStore`] so the I/O runs off the runtime.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::budget::{Budget, BudgetConfig, Consumer, CounterError, MinuteCounter};
use crate::clock::Clock;
use crate::store::AsyncStore;

/// The store's per-minute counter, keyed `budget:<consumer>` (`budget:scheduled`, …).
#[derive(Clone)]
pub struct StoreCounter(pub AsyncStore);

impl MinuteCounter for StoreCounter {
    fn try_spend(
        &self,
        consumer: Consumer,
        minute: i64,
        n: u32,
        limit: u32,
    ) -> BoxFuture<'_, Result<bool, CounterError>> {
        Box::pin(async move {
            self.0
                .try_spend(format!("budget:{}", consumer.as_str()), minute, n, limit)
                .await
                .map_err(|e| CounterError(e.to_string()))
        })
    }
}

/// The daemon's one budget: counted by the store when it is shared between replicas, in this
/// process otherwise.
pub fn budget_for(cfg: BudgetConfig, clock: Clock, store: &AsyncStore) -> Budget {
    if store.is_shared() {
        Budget::shared(cfg, clock, Arc::new(StoreCounter(store.clone())))
    } else {
        Budget::new(cfg, clock)
    }
}
