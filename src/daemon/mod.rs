//! The daemon layer (`sniper serve`, `sniper demo`), the top of the library: the scheduler loop
//! in the active trading window, health and readiness, alerts on failure streaks, the status page
//! and the JSON API. It wires the layers below (run, store, signals, gateway, metrics in
//! [`crate::obs`], listeners in [`crate::web`]); nothing imports it.

pub mod alerts;
pub mod cli;
pub mod once;
pub mod recovery;
pub mod replica;
pub mod scheduler;
pub mod server;
pub mod shared_budget;
pub mod state_sync;
pub mod status;
pub mod store_health;
pub mod telegram;
