//! The daemon layer (`sniper serve`, `sniper demo`): the scheduler loop in the active trading
//! window, health and readiness, alerts on failure streaks, Prometheus metrics, the status page
//! and the JSON API, and the HTTP server that carries them. It drives the run layer and records
//! into the store; nothing below it imports it, except the run layer's metrics handle.

pub mod access;
pub mod alerts;
pub mod cli;
pub mod metrics;
pub mod recovery;
pub mod scheduler;
pub mod server;
pub mod status;
pub mod store_health;
pub mod telegram;
pub mod window;
