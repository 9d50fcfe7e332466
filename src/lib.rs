//! sniper: gathers market signals from a CoinGlass-style FastAPI backend.
//!
//! The folders follow the path of a run (see `ARCHITECTURE.md`): [`discovery`] finds the
//! backend's routes, [`run`] calls the five modules under [`resilience`]'s rules, the [`daemon`]
//! schedules runs and serves the page, API and metrics, [`store`] keeps history and state,
//! [`gateway`] is the `/gpts` reverse proxy, [`sandbox`] the embedded fake backend. At the root
//! only what every layer uses: [`config`], [`upstream`] (the one URL builder and HTTP pool),
//! [`module_id`].

pub mod command;
pub mod config;
pub mod daemon;
pub mod discovery;
pub mod gateway;
pub mod market;
pub mod module_id;
pub mod notify;
pub mod numfmt;
pub mod resilience;
pub mod run;
pub mod sandbox;
pub mod score;
pub mod signals;
pub mod store;
pub mod symbol;
pub mod upstream;
