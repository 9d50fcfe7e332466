//! For test files at the top of `tests/` (added by branches before they join `tests/it/`): the
//! one harness is `tests/support/`; `mod common;` still reaches it.
#![allow(dead_code, unused_imports)]

#[path = "../support/mod.rs"]
mod support;

pub use support::*;
