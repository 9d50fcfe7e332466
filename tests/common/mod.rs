//! Test support: configuration from flags (as a user would give them) and a sandbox.
#![allow(dead_code)]

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

/// A validated config from command-line style flags.
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
