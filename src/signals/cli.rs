//! Bodies of `sniper rules`, `sniper signals` and `sniper replay`.

use std::io::Write;

use crate::command::{CommandError, Doing};
use crate::market::SymbolFeatures;
use crate::store::{SignalQuery, SqliteStore, StateStore};

use super::replay::{Recorded, render, replay as replay_runs};
use super::rules::Rules;

/// `sniper signals` options.
#[derive(Debug, Clone, clap::Args)]
pub struct SignalsArgs {
    /// Print JSON (one object with `signals`).
    #[arg(long)]
    pub json: bool,
    /// Only this symbol.
    #[arg(long)]
    pub symbol: Option<String>,
    /// Only calls graded at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// `sniper replay` options.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// Rules file to re-grade with (TOML; unset keys keep their defaults).
    #[arg(long = "rules", env = "SNIPER_RULES")]
    pub rules: Option<String>,
    /// Only this symbol.
    #[arg(long)]
    pub symbol: Option<String>,
    /// Only runs at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--since` parsed; a bad value is a configuration error naming the flag.
#[derive(Debug, thiserror::Error)]
#[error("--since={0:?} is not an RFC 3339 time, e.g. 2026-11-29T12:00:00Z")]
pub struct BadSince(pub String);

fn since(s: &Option<String>) -> Result<Option<jiff::Timestamp>, BadSince> {
    s.as_deref()
        .map(|v| v.parse().map_err(|_| BadSince(v.to_string())))
        .transpose()
}

/// Print the effective rules (defaults overlaid by the file) as TOML.
pub fn rules(path: Option<&str>, out: &mut dyn Write) -> Result<(), CommandError> {
    let r = Rules::load(path)?;
    let src = path
        .filter(|p| !p.trim().is_empty())
        .unwrap_or("compiled-in defaults");
    writeln!(out, "# effective sniper rules ({src})\n{}", r.to_toml())
        .doing(|| "writing the rules".into())
}

/// List stored calls.
pub fn signals(db: &str, a: &SignalsArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let since = since(&a.since)?;
    let store = SqliteStore::open(db).doing(|| format!("opening SNIPER_DB={db}"))?;
    let rows = store
        .signals(&SignalQuery {
            symbol: a.symbol.clone(),
            since,
            calls_only: true,
            limit: a.limit.max(1),
            ascending: false,
        })
        .doing(|| "reading the signals".into())?;
    let w = |out: &mut dyn Write| -> std::io::Result<()> {
        if a.json {
            writeln!(out, "{}", serde_json::json!({ "signals": rows }))?;
            return Ok(());
        }
        if rows.is_empty() {
            writeln!(out, "no signal calls stored")?;
        }
        for r in &rows {
            writeln!(
                out,
                "{} {:<6} {:<5} {:<6} score {:>3}  {}",
                r.at,
                r.symbol,
                r.direction,
                r.level,
                r.score,
                r.reason.as_deref().unwrap_or("not delivered (cooldown)")
            )?;
        }
        Ok(())
    };
    w(out).doing(|| "writing the signals".into())
}

/// Re-grade the stored features with other rules and print the calls they would have made.
pub fn replay(db: &str, a: &ReplayArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let rules = Rules::load(a.rules.as_deref())?;
    let since = since(&a.since)?;
    let store = SqliteStore::open(db).doing(|| format!("opening SNIPER_DB={db}"))?;
    let rows = store
        .signals(&SignalQuery {
            symbol: a.symbol.clone(),
            since,
            calls_only: false,
            limit: usize::MAX,
            ascending: true,
        })
        .doing(|| "reading the recorded runs".into())?;
    let mut runs = Vec::with_capacity(rows.len());
    for r in rows {
        match serde_json::from_value::<SymbolFeatures>(r.features) {
            Ok(features) => runs.push(Recorded {
                symbol: r.symbol,
                at: r.at,
                features,
            }),
            Err(e) => {
                tracing::warn!(id = ?r.id, error = %e, "recorded features unreadable; skipped")
            }
        }
    }
    let calls = replay_runs(&runs, &rules);
    let text = if a.json {
        format!(
            "{}\n",
            serde_json::json!({"runs": runs.len(), "calls": calls})
        )
    } else {
        render(runs.len(), &calls)
    };
    out.write_all(text.as_bytes())
        .doing(|| "writing the replay".into())
}

crate::command::config_errors!(BadSince);
