//! sniper: gathers market signals from a CoinGlass-style FastAPI backend.
//!
//! See `ARCHITECTURE.md` for the map. Entry points: [`runner::Runner`] (one run),
//! [`sandbox`] (the embedded fake backend), [`config::ConfigArgs`] (configuration).

pub mod alerts;
pub mod breaker;
pub mod class;
pub mod classify;
pub mod config;
pub mod defaults;
pub mod discovery;
pub mod market;
pub mod matcher;
pub mod metrics;
pub mod module_id;
pub mod modules;
pub mod openapi;
pub mod proxy;
pub mod retry;
pub mod runner;
pub mod sandbox;
pub mod scheduler;
pub mod server;
pub mod status;
pub mod store;
pub mod symbol;
pub mod template;
pub mod upstream;
pub mod window;
