//! The run layer: one run of every enabled module for every symbol, concurrently, under timeouts,
//! a deadline and per-module circuit breakers (`runner`), and the five modules' requests
//! (`modules`). It takes discovery's route map and the resilience layer's decisions; it never
//! touches the store, the scheduler or the HTTP server (the daemon calls it).

pub mod freshness;
pub mod health;
pub mod input;
pub mod modules;
pub mod runner;

pub use crate::clock::{Clock, MonoClock, mono_from_wall, steady, system_clock, system_mono};
pub use runner::{RunResult, Runner, Trigger};
