//! Institutional bias for the run's symbol, base form (`SOL`), as the real backend takes it.

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
