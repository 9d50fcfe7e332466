//! sniper: gathers market signals from a CoinGlass-style FastAPI backend.

pub mod class;
