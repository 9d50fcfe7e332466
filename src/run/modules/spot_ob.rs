//! Spot order book for the run's symbol (`SOLUSDT`), on the configured exchange and depth.

use crate::config::Config;
use crate::discovery::template::{Inputs, SymbolForm};
use crate::symbol::SymbolForms;

pub fn inputs(cfg: &Config, forms: &SymbolForms) -> Inputs {
    Inputs {
        exchange: Some(cfg.spot_ob_exchange.clone()),
        depth: Some(cfg.spot_ob_depth),
        ..super::symbol_inputs(forms, SymbolForm::Spot)
    }
}
