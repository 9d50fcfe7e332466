//! sniper: gathers market signals from a CoinGlass-style FastAPI backend.

pub mod class;
pub mod matcher;
pub mod module_id;
pub mod openapi;
pub mod template;
