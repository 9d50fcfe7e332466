//! A run result's market data and features, the input of grading.
//!
//! The runner fills `RunResult::market` and `features`; a result built without them (by hand, in
//! tests) has them derived here from the modules' `Ok` data with [`crate::market::features`].

use std::collections::BTreeMap;

use crate::market::{self, MarketData, SymbolFeatures};
use crate::module_id::ModuleId;
use crate::run::modules::Outcome;
use crate::run::runner::RunResult;

/// `(market data by module, features)` of `r`.
pub fn market_of(r: &RunResult) -> (BTreeMap<ModuleId, MarketData>, SymbolFeatures) {
    if !r.market.is_empty() || r.features != SymbolFeatures::default() {
        return (r.market.clone(), r.features.clone());
    }
    let now_ms = r.timestamp.as_millisecond();
    let mut data = BTreeMap::new();
    for (m, res) in &r.context {
        if let Outcome::Ok { data: d } = &res.call.outcome {
            data.insert(*m, d.clone());
        }
    }
    let base = crate::symbol::forms(&r.symbols.input)
        .map(|f| f.base)
        .unwrap_or_else(|_| r.symbols.input.to_uppercase());
    let refs: Vec<&MarketData> = data.values().collect();
    let f = market::features(&refs, &base, now_ms);
    (data, f)
}
