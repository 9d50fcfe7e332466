//! Whale alerts: market-wide, fetched once per run (the real backend filters by exchange only).

use crate::config::Config;
use crate::discovery::template::{Inputs, SymbolForm};
use crate::symbol::SymbolForms;

pub fn inputs(_cfg: &Config, forms: &SymbolForms) -> Inputs {
    super::symbol_inputs(forms, SymbolForm::Base)
}
