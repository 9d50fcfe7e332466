//! sniper: gathers market signals from a CoinGlass-style FastAPI backend.

pub mod breaker;
pub mod class;
pub mod classify;
pub mod module_id;
pub mod retry;
pub mod template;
