//! sniper: gathers market signals from a CoinGlass-style FastAPI backend.

pub mod class;
pub mod module_id;
pub mod proxy;
pub mod template;
