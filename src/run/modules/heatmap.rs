//! Liquidation heatmap for the run's symbol, perp form by default (`SOL-USDT-SWAP`), at the
//! configured timeframe.

use crate::config::{Config, HEATMAP_TIMEFRAMES};
use crate::discovery::template::{Inputs, SymbolForm};
use crate::symbol::SymbolForms;

pub fn inputs(cfg: &Config, forms: &SymbolForms) -> Inputs {
    // The configured timeframe first; the others only if a backend allows nothing else is never
    // tried: a different timeframe is different data, so the list holds just the choice.
    debug_assert!(HEATMAP_TIMEFRAMES.contains(&cfg.heatmap_timeframe.as_str()));
    Inputs {
        timeframes: vec![cfg.heatmap_timeframe.clone()],
        ..super::symbol_inputs(forms, SymbolForm::Perp)
    }
}
