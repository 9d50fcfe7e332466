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

/// Rules under which the sandbox's data makes watch calls and never action ones, and the score
/// never re-delivers: a call repeats only for a new direction.
pub const EASY_RULES: &str = "
[book]
imbalance_watch = 0.0001
imbalance_action = 1.0
wall_ratio = 1e9
[bias]
watch_score = 0.0001
action_score = 1.0
[whales]
watch_usd = 1
action_usd = 1e15
[etf]
action_ratio = 1e12
[liquidations]
action_bps = 0
[confluence]
watch_min_agree = 1
action_min_agree = 5
[delivery]
score_step = 0
";
