//! `sniper once`: one run of every enabled module for every symbol, graded and printed.

use std::io::Write;

use crate::command::{CommandError, Doing};
use crate::config::Config;
use crate::run::{RunResult, Runner, system_clock, system_mono};
use crate::signals::{Call, Rules, grade};

/// Runs once, grades each symbol under the rules (`SNIPER_RULES`, validated first: a broken file is
/// a configuration error, exit 2, before any request) and prints the results with their calls;
/// returns whether at least one symbol's run succeeded (the caller maps `false` to exit 1).
pub async fn once(cfg: Config, json: bool, rules: Option<&str>) -> Result<bool, CommandError> {
    let rules = Rules::load(rules)?;
    let runner = Runner::with_clocks(cfg, system_clock(), system_mono(), None)
        .doing(|| "building the HTTP client".into())?;
    let results = runner.run_once().await;
    print_graded(&results, &rules, json, &mut std::io::stdout().lock())
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

/// Prints results with each symbol's graded call: in JSON the run's line gains a `call` object
/// (level, direction, score, agreeing layers, every layer's grade); in text a `call` line follows
/// the summary (`call          watch long, score 62 (book, bias)`, or `none`).
pub fn print_graded(
    results: &[RunResult],
    rules: &Rules,
    json: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    for r in results {
        let call = grade(&r.features, rules);
        if json {
            let mut v = serde_json::to_value(r).map_err(std::io::Error::other)?;
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "call".into(),
                    serde_json::to_value(&call).map_err(std::io::Error::other)?,
                );
            }
            serde_json::to_writer(&mut *out, &v)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", crate::run::runner::summary(r))?;
            let line = if r.success {
                call_line(&call)
            } else {
                // Nothing was graded: no module delivered data, which is not "no agreement".
                "none (no data: every module failed)".to_string()
            };
            writeln!(out, "  {:<13} {line}", "call")?;
        }
    }
    Ok(())
}

/// One line for people: `action long, score 81 (book, liquidations, bias)` or `none`.
pub fn call_line(c: &Call) -> String {
    if c.level == crate::signals::Level::None {
        return "none (no layers agree)".to_string();
    }
    let layers: Vec<&str> = c.agreeing.iter().map(|l| l.as_str()).collect();
    format!(
        "{} {}, score {} ({})",
        c.level.as_str(),
        crate::signals::grade::dir_str(c.direction),
        c.score,
        layers.join(", ")
    )
}
