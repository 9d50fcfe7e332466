//! The one harness of the integration tests: configuration and a runner over the sandbox (here),
//! starting `sniper` processes ([`process`]), stand-ins served on loopback ([`stub`]),
//! PostgreSQL ([`pg`]), headless Chromium ([`browser`]), and the fault matrix's cells ([`faults`]).
#![allow(dead_code)]

pub mod browser;
pub mod faults;
pub mod pg;
pub mod process;
pub mod stub;

use std::sync::Arc;

use clap::Parser;
use sniper::config::{Config, ConfigArgs};
use sniper::run::{Runner, system_clock};
use sniper::sandbox::Sandbox;

#[derive(Parser)]
struct T {
    #[command(flatten)]
    c: ConfigArgs,
}

/// A validated config from command-line style flags (as a user would give them).
pub fn config(flags: &[&str]) -> Config {
    let mut argv = vec!["t"];
    argv.extend_from_slice(flags);
    T::try_parse_from(argv).unwrap().c.validate().unwrap()
}

/// A sandbox and a runner pointed at it.
pub async fn sandbox_runner(flags: &[&str]) -> (Sandbox, Arc<Runner>) {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let url = sb.url();
    let mut f = vec!["--py-base-url", url.as_str()];
    f.extend_from_slice(flags);
    let mut cfg = config(&f);
    cfg.sandbox = true;
    let runner = Runner::new(cfg, system_clock()).unwrap();
    (sb, runner)
}
