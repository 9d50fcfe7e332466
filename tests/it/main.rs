//! The integration tests, one crate over one harness ([`support`]): each former test file is a
//! module here. Tests run in parallel in one process, so none sets process environment variables
//! or other process-wide state; a test that needs different settings passes them to the code
//! under test (a `Config`, a child process's environment).

#[path = "../support/mod.rs"]
mod support;

#[path = "../browser/fixture.rs"]
mod fixture;

mod alerts_http;
mod cli;
mod cost;
mod deliver_http;
mod deploy_files;
mod discovery_io;
mod edges_truth;
mod fail_kinds;
mod fault_matrix;
mod gpts_actions;
mod layers;
mod loop_alerts;
mod market_features;
mod market_parse;
mod market_props;
mod market_rules;
mod origin;
mod proxy_http;
mod real_backend;
mod restart;
mod run;
mod sandbox_market;
mod scheduler_loop;
mod score_card;
mod serve_process;
mod server_api;
mod signals;
mod signals_process;
mod spec_fixtures;
mod spec_limits;
mod spec_props;
mod spec_sandbox;
mod spec_synth;
mod store_api;
mod store_browser;
mod store_conformance;
mod store_postgres;
mod store_sqlite;
mod symbol_cases;
mod symbol_props;
mod symbol_vectors;
mod symbols;
