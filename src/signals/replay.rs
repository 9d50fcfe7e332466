//! Replay: re-grade recorded features under other rules, applying the cooldown, to see which
//! calls they would have delivered. Pure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use serde::Serialize;

use crate::market::SymbolFeatures;

use super::grade::{Layer, Level, dir_str, grade};
use super::rules::Rules;
use super::state::{LastDelivered, Reason, decide};

/// One recorded grading input.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Symbol.
    pub symbol: String,
    /// Run timestamp.
    pub at: Timestamp,
    /// The features recorded for it.
    pub features: SymbolFeatures,
}

/// A call replay would have delivered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayCall {
    /// Run timestamp.
    pub at: Timestamp,
    /// Symbol.
    pub symbol: String,
    /// `long`/`short`.
    pub direction: String,
    /// Level.
    pub level: Level,
    /// 0–100.
    pub score: u32,
    /// Why delivered.
    pub reason: Reason,
    /// Layers that agreed.
    pub agreeing: Vec<Layer>,
}

/// Re-grade `runs` (oldest first) under `rules`; the calls delivered, in order.
pub fn replay(runs: &[Recorded], rules: &Rules) -> Vec<ReplayCall> {
    let mut state: BTreeMap<(String, String), LastDelivered> = BTreeMap::new();
    let mut out = Vec::new();
    for r in runs {
        let call = grade(&r.features, rules);
        let dir = dir_str(call.direction).to_string();
        let key = (r.symbol.clone(), dir.clone());
        if let Some(reason) = decide(state.get(&key), &call, r.at, rules) {
            state.insert(
                key,
                LastDelivered {
                    level: call.level,
                    score: call.score,
                    at: r.at,
                },
            );
            out.push(ReplayCall {
                at: r.at,
                symbol: r.symbol.clone(),
                direction: dir,
                level: call.level,
                score: call.score,
                reason,
                agreeing: call.agreeing,
            });
        }
    }
    out
}

/// Text report: one line per call, then a summary line.
pub fn render(runs: usize, calls: &[ReplayCall]) -> String {
    let mut s = String::new();
    for c in calls {
        let layers: Vec<&str> = c.agreeing.iter().map(|l| l.as_str()).collect();
        let _ = writeln!(
            s,
            "{} {:<6} {:<5} {:<6} score {:>3}  {:<13} [{}]",
            c.at,
            c.symbol,
            c.direction,
            c.level.as_str(),
            c.score,
            c.reason.as_str(),
            layers.join(",")
        );
    }
    let actions = calls.iter().filter(|c| c.level == Level::Action).count();
    let _ = writeln!(
        s,
        "{} graded runs replayed: {} calls ({} action, {} watch)",
        runs,
        calls.len(),
        actions,
        calls.len() - actions
    );
    s
}

/// Re-grade `runs` (oldest first) under `rules` and score the calls it would have made — the
/// ones the cooldown lets through ([`replay`]), so a condition that lasts an hour counts once —
/// on `store`'s price path; calls carry the rule set `name`. A grading sees only its own run's
/// features.
pub fn replay_scorecard(
    store: &dyn crate::store::StateStore,
    runs: &[Recorded],
    rules: &crate::signals::Rules,
    name: &str,
    opts: crate::score::Options,
) -> Result<crate::score::Scorecard, crate::score::ScoreError> {
    let mut s = crate::score::Scorer::new(crate::score::StorePrices(store), opts);
    for c in replay(runs, rules) {
        if let Some(c) = score_call(&c, name) {
            s.push(&c)?;
        }
    }
    let mut card = s.finish();
    card.sandbox = crate::score::cli::store_is_sandbox(store);
    Ok(card)
}

/// A replayed call as the scorecard takes it (a call with no side is not scored).
pub fn score_call(c: &ReplayCall, name: &str) -> Option<crate::score::ScoreCall> {
    if c.level == Level::None {
        return None;
    }
    Some(crate::score::ScoreCall {
        at_ms: c.at.as_millisecond(),
        symbol: c.symbol.clone(),
        side: crate::score::Side::parse(&c.direction)?,
        level: Some(c.level.as_str().to_string()),
        score: Some(c.score),
        agreeing: c.agreeing.iter().map(|l| l.as_str().to_string()).collect(),
        rules: Some(name.to_string()),
    })
}
