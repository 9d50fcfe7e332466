//! sniper: gathers market signals from a CoinGlass-style FastAPI backend.
//!
//! The folders follow the path of a run, in layers that only import downwards (the ordered list
//! is in `ARCHITECTURE.md`; `tests/it/layers.rs` enforces it): vocabulary ([`clock`], [`module_id`],
//! [`symbol`], [`trigger`], [`window`], [`command`]), pure rules ([`budget`], [`market`],
//! [`resilience`], [`sandbox`]), [`config`], [`obs`] (metrics) and [`upstream`] (the one URL
//! builder and HTTP pool), [`discovery`] (the backend's routes), [`run`] (the five modules), the
//! [`store`] and [`web`] (HTTP plumbing), the [`gateway`] (`/gpts` reverse proxy) and [`signals`],
//! and on top the [`daemon`] that wires them.

pub mod budget;
pub mod clock;
pub mod command;
pub mod config;
pub mod daemon;
pub mod discovery;
pub mod gateway;
pub mod market;
pub mod module_id;
pub mod notify;
pub mod numfmt;
pub mod obs;
pub mod resilience;
pub mod run;
pub mod sandbox;
pub mod score;
pub mod signals;
pub mod store;
pub mod symbol;
pub mod trigger;
pub mod upstream;
pub mod web;
pub mod window;
