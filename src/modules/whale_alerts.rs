//! Whale alerts: market-wide, fetched once per run (the real backend filters by exchange only).

use crate::config::Config;
use crate::symbol::SymbolForms;
use crate::template::{Inputs, SymbolForm};

pub fn inputs(_cfg: &Config, forms: &SymbolForms) -> Inputs {
    Inputs {
        base: forms.base.clone(),
        spot: forms.spot.clone(),
        perp: forms.perp.clone(),
        default_symbol_form: Some(SymbolForm::Base),
        ..Inputs::default()
    }
}
