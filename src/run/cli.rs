//! `sniper once`: one run of every enabled module for every symbol, printed.

use std::io::Write;

use crate::command::{CommandError, Doing};
use crate::config::Config;
use crate::run::{RunResult, Runner, system_clock};

/// Runs once and prints the results; returns whether at least one symbol's run succeeded
/// (the caller maps `false` to exit 1).
pub async fn once(cfg: Config, json: bool) -> Result<bool, CommandError> {
    let runner = Runner::new(cfg, system_clock()).doing(|| "building the HTTP client".into())?;
    let results = runner.run_once().await;
    print_results(&results, json, &mut std::io::stdout().lock())
        .doing(|| "writing to stdout".into())?;
    Ok(results.iter().any(|r| r.success))
}

/// Prints results: one JSON line per symbol, or the human summary.
pub fn print_results(
    results: &[RunResult],
    json: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    for r in results {
        if json {
            serde_json::to_writer(&mut *out, r)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", crate::run::runner::summary(r))?;
        }
    }
    Ok(())
}
