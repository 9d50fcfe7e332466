//! Institutional bias for the run's symbol, base form (`SOL`), as the real backend takes it.

use crate::config::Config;
use crate::discovery::template::{Inputs, SymbolForm};
use crate::symbol::SymbolForms;

pub fn inputs(_cfg: &Config, forms: &SymbolForms) -> Inputs {
    super::symbol_inputs(forms, SymbolForm::Base)
}
