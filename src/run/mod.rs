//! The run layer: one run of every enabled module for every symbol, concurrently, under timeouts,
//! a deadline and per-module circuit breakers (`runner`), and the five modules' requests
//! (`modules`). It takes discovery's route map and the resilience layer's decisions; it never
//! touches the store, the scheduler or the HTTP server (the daemon calls it).

pub mod cli;
pub mod freshness;
pub mod modules;
pub mod runner;

pub use crate::clock::{Clock, system_clock};
pub use runner::{RunResult, Runner, Trigger};
