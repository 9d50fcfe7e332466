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

/// Re-grade `runs` (oldest first) under `rules` and score every watch/action call on `store`'s
/// price path; calls carry the rule set `name`. A grading sees only its own run's features.
pub fn replay_scorecard(
    store: &dyn crate::store::StateStore,
    runs: &[Recorded],
    rules: &crate::signals::Rules,
    name: &str,
    opts: crate::score::Options,
) -> Result<crate::score::Scorecard, crate::score::ScoreError> {
    let mut s = crate::score::Scorer::new(crate::score::StorePrices(store), opts);
    for r in runs {
        if let Some(c) = graded_call(r, rules, name) {
            s.push(&c)?;
        }
    }
    let mut card = s.finish();
    card.sandbox = crate::score::cli::store_is_sandbox(store);
    Ok(card)
}

/// The call `rules` grade from one recorded run, when it is watch or action with a side.
pub fn graded_call(
    r: &Recorded,
    rules: &crate::signals::Rules,
    name: &str,
) -> Option<crate::score::ScoreCall> {
    let call = crate::signals::grade(&r.features, rules);
    if call.level == crate::signals::Level::None {
        return None;
    }
    let side = match call.direction {
        crate::market::Direction::Long => crate::score::Side::Long,
        crate::market::Direction::Short => crate::score::Side::Short,
        crate::market::Direction::Neutral => return None,
    };
    Some(crate::score::ScoreCall {
        at_ms: r.at.as_millisecond(),
        symbol: r.symbol.clone(),
        side,
        level: Some(call.level.as_str().to_string()),
        score: Some(call.score),
        agreeing: call
            .agreeing
            .iter()
            .map(|l| l.as_str().to_string())
            .collect(),
        rules: Some(name.to_string()),
    })
}
