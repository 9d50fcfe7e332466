//! sniper: gathers market signals from a CoinGlass-style FastAPI backend.

pub mod alerts;
pub mod class;
pub mod metrics;
pub mod module_id;
pub mod scheduler;
pub mod template;
pub mod window;
