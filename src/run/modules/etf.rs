//! ETF flows: one call per run for the configured asset (the design asks BTC), often behind a
//! paid plan; a 402 opens the module's circuit (see the runner).

use crate::config::Config;
use crate::discovery::template::{Inputs, SymbolForm};

pub fn inputs(cfg: &Config) -> Inputs {
    Inputs {
        base: cfg.etf_asset.clone(),
        spot: format!("{}USDT", cfg.etf_asset),
        perp: format!("{}-USDT-SWAP", cfg.etf_asset),
        default_symbol_form: Some(SymbolForm::Base),
        days: Some(30),
        ..Inputs::default()
    }
}
