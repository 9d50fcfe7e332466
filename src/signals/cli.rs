//! Bodies of `sniper rules`, `sniper signals` and `sniper replay`.

use std::io::Write;

use crate::command::{CommandError, Doing};
use crate::market::SymbolFeatures;
use crate::store::{SignalQuery, StateStore, StoreOptions};

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
    /// Only calls graded at or after this time: RFC 3339, or a span before now (`1h`, `30d`).
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// `sniper replay` options.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// Rules file to re-grade with (TOML; unset keys keep their defaults). Repeat it to score
    /// several rule sets side by side on the same price path.
    #[arg(long = "rules", env = "SNIPER_RULES")]
    pub rules: Vec<String>,
    /// Only this symbol.
    #[arg(long)]
    pub symbol: Option<String>,
    /// Only runs at or after this time: RFC 3339, or a span before now (`1h`, `30d`).
    #[arg(long)]
    pub since: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// How the re-graded calls are scored (horizons, cost, max gap).
    #[command(flatten)]
    pub score: crate::score::cli::ScoreOpts,
}

/// `--since` parsed; a bad value is a configuration error naming the flag.
#[derive(Debug, thiserror::Error)]
#[error("--since={0:?}: expected {forms}", forms = super::api::SINCE_FORMS)]
pub struct BadSince(pub String);

fn since(s: &Option<String>) -> Result<Option<jiff::Timestamp>, BadSince> {
    s.as_deref()
        .map(|v| {
            super::api::parse_since(v, jiff::Timestamp::now())
                .ok_or_else(|| BadSince(v.to_string()))
        })
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

/// Open `SNIPER_DB` (a SQLite path or a `postgres://` URL) for a command that reads it; the URL's
/// password never appears in the error. A bad `SNIPER_DB_LOCK_TIMEOUT` is a configuration error.
fn open(db: &str) -> Result<std::sync::Arc<dyn StateStore>, CommandError> {
    let options = StoreOptions::from_env()?;
    crate::store::open_existing_store(db, "cli", options).doing(|| {
        format!(
            "opening SNIPER_DB={}",
            crate::store::postgres::redact_db(db)
        )
    })
}

/// List stored calls.
pub fn signals(db: &str, a: &SignalsArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let since = since(&a.since)?;
    let store = open(db)?;
    let rows = store
        .signals(&SignalQuery {
            symbol: a.symbol.clone(),
            since,
            calls_only: true,
            made_only: false,
            limit: a.limit.max(1),
            ascending: false,
        })
        .doing(|| "reading the signals".into())?;
    let outbox = store
        .outbox()
        .doing(|| "reading the signal outbox".into())?;
    let rows = super::api::with_deliveries(rows, &outbox);
    let w = |out: &mut dyn Write| -> std::io::Result<()> {
        if a.json {
            writeln!(out, "{}", serde_json::json!({ "signals": rows }))?;
            return Ok(());
        }
        if rows.is_empty() {
            writeln!(out, "no signal calls stored")?;
        }
        for r in &rows {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            writeln!(
                out,
                "{} {:<6} {:<5} {:<6} score {:>3}  {}{}",
                s("at"),
                s("symbol"),
                s("direction"),
                s("level"),
                r["score"].as_u64().unwrap_or(0),
                r["reason"].as_str().unwrap_or("not delivered (cooldown)"),
                delivery_summary(&r["deliveries"])
            )?;
        }
        Ok(())
    };
    w(out).doing(|| "writing the signals".into())
}

/// `  [telegram delivered, webhook gave_up: HTTP 302 …]` — each channel's delivery state.
fn delivery_summary(d: &serde_json::Value) -> String {
    let Some(list) = d.as_array().filter(|l| !l.is_empty()) else {
        return String::new();
    };
    let parts: Vec<String> = list
        .iter()
        .map(|x| {
            let mut p = format!(
                "{} {}",
                x["channel"].as_str().unwrap_or("?"),
                x["state"].as_str().unwrap_or("?")
            );
            if let Some(r) = x["reason"].as_str() {
                p.push_str(": ");
                p.push_str(r);
            }
            p
        })
        .collect();
    format!("  [{}]", parts.join(", "))
}

/// Re-grade the stored features with other rules and print the calls they would have made, then
/// the scorecard of every re-graded watch/action call on the stored price path: with one rule set
/// after its calls, with several side by side (one column per rule set).
pub fn replay(db: &str, a: &ReplayArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let mut sets = Vec::new();
    for path in &a.rules {
        let name = std::path::Path::new(path)
            .file_name()
            .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned());
        sets.push((name, Rules::load(Some(path))?));
    }
    if sets.is_empty() {
        sets.push(("defaults".to_string(), Rules::default()));
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let score_opts = a
        .score
        .options(now)
        .map_err(|e| CommandError::Config(Box::new(e)))?;
    let rules = sets[0].1.clone();
    let since = since(&a.since)?;
    let store = open(db)?;
    let rows = store
        .signals(&SignalQuery {
            symbol: a.symbol.clone(),
            since,
            calls_only: false,
            made_only: false,
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
    let mut cards = Vec::new();
    for (name, r) in &sets {
        let card =
            super::replay::replay_scorecard(store.as_ref(), &runs, r, name, score_opts.clone())
                .doing(|| format!("scoring the rule set {name}"))?;
        cards.push((name.clone(), card));
    }
    let text = if a.json {
        let scorecards: Vec<_> = cards
            .iter()
            .map(|(n, c)| serde_json::json!({"rules": n, "scorecard": c}))
            .collect();
        format!(
            "{}\n",
            serde_json::json!({"runs": runs.len(), "calls": calls, "scorecards": scorecards})
        )
    } else if cards.len() == 1 {
        format!(
            "{}\n{}",
            render(runs.len(), &calls),
            crate::score::cli::render(&cards[0].1)
        )
    } else {
        format!(
            "{} graded runs re-graded under {} rule sets; scorecards on the same price path\n{}",
            runs.len(),
            cards.len(),
            crate::score::cli::render_side_by_side(&cards)
        )
    };
    out.write_all(text.as_bytes())
        .doing(|| "writing the replay".into())
}

crate::command::config_errors!(BadSince);
