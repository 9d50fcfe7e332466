//! Spot order book for the run's symbol (`SOLUSDT`), on the configured exchange and depth.

use crate::config::Config;
use crate::symbol::SymbolForms;
use crate::template::{Inputs, SymbolForm};

pub fn inputs(cfg: &Config, forms: &SymbolForms) -> Inputs {
    Inputs {
        base: forms.base.clone(),
        spot: forms.spot.clone(),
        perp: forms.perp.clone(),
        default_symbol_form: Some(SymbolForm::Spot),
        exchange: Some(cfg.spot_ob_exchange.clone()),
        depth: Some(cfg.spot_ob_depth),
        ..Inputs::default()
    }
}
