//! Healthy is about data, not the breaker (issue 22 item 11): per module and symbol, when usable
//! market data was last delivered, and why not since. A breaker stays closed while a backend
//! answers `[]` for hours; this says "no usable data since 09:12 (ETF_EMPTY, 240 runs)" instead, and
//! tells a fresh failure of a module that worked (`failing`) from one that never has (`never`).
//!
//! Pure: the time is a parameter; the runner records every run's outcomes.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::module_id::ModuleId;
use crate::run::modules::Outcome;

/// Where a module's data stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataState {
    /// The last run delivered usable data.
    Ok,
    /// It delivered usable data before, but not in the last run(s): a failure to look at.
    Failing,
    /// It has never delivered usable data since sniper started.
    Never,
}

impl DataState {
    /// `ok`, `failing`, `never`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataState::Ok => "ok",
            DataState::Failing => "failing",
            DataState::Never => "never",
        }
    }
}

/// One module's data health for one symbol (`symbol` absent: a module called once for all).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleData {
    pub module: ModuleId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    pub state: DataState,
    /// When it last delivered usable data (fetched or still-fresh kept data), if ever.
    pub last_usable_at: Option<Timestamp>,
    /// The first run without usable data since then (or since start).
    pub failing_since: Option<Timestamp>,
    /// Runs without usable data since then.
    pub runs_without_data: u32,
    /// Why not, in the last run: its code (`ETF_EMPTY`) and detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_detail: Option<String>,
}

/// Data health of every (module, symbol) seen.
#[derive(Debug, Default)]
pub struct DataHealth {
    entries: BTreeMap<(ModuleId, String), ModuleData>,
}

impl DataHealth {
    /// Record one module's outcome for `symbol` (`""`: all symbols) in a run at `at`. A disabled
    /// module is forgotten.
    pub fn record(&mut self, m: ModuleId, symbol: &str, outcome: &Outcome, at: Timestamp) {
        let key = (m, symbol.to_string());
        let (code, detail) = match outcome {
            Outcome::Disabled => {
                self.entries.remove(&key);
                return;
            }
            Outcome::Ok { .. } => (None, None),
            Outcome::SoftFail { code, detail, .. } => (Some(code.clone()), Some(detail.clone())),
            Outcome::HardError { detail } => (
                Some(format!("{}_INTERNAL", m.upper())),
                Some(detail.clone()),
            ),
        };
        let e = self.entries.entry(key).or_insert_with(|| ModuleData {
            module: m,
            symbol: (!symbol.is_empty()).then(|| symbol.to_string()),
            state: DataState::Never,
            last_usable_at: None,
            failing_since: None,
            runs_without_data: 0,
            last_code: None,
            last_detail: None,
        });
        match code {
            None => {
                e.state = DataState::Ok;
                e.last_usable_at = Some(at);
                e.failing_since = None;
                e.runs_without_data = 0;
                e.last_code = None;
                e.last_detail = None;
            }
            Some(code) => {
                e.state = if e.last_usable_at.is_some() {
                    DataState::Failing
                } else {
                    DataState::Never
                };
                e.failing_since.get_or_insert(at);
                e.runs_without_data = e.runs_without_data.saturating_add(1);
                e.last_code = Some(code);
                e.last_detail = detail;
            }
        }
    }

    /// Every entry, by module then symbol.
    pub fn all(&self) -> Vec<ModuleData> {
        self.entries.values().cloned().collect()
    }

    /// The newest usable time of a module over its symbols.
    pub fn last_usable(&self, m: ModuleId) -> Option<Timestamp> {
        self.entries
            .iter()
            .filter(|((mm, _), _)| *mm == m)
            .filter_map(|(_, e)| e.last_usable_at)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn fail(code: &str) -> Outcome {
        Outcome::SoftFail {
            code: code.into(),
            class: None,
            detail: "no usable data: empty list".into(),
        }
    }

    fn ok() -> Outcome {
        Outcome::Ok {
            data: crate::market::MarketData::Bias(crate::market::Bias {
                direction: crate::market::Direction::Long,
                score: 0.5,
                confidence: None,
                time_ms: None,
            }),
        }
    }

    #[test]
    fn a_module_that_never_worked_differs_from_a_fresh_failure() {
        let mut h = DataHealth::default();
        for i in 0..3 {
            h.record(ModuleId::Etf, "", &fail("ETF_EMPTY"), t(i));
        }
        h.record(ModuleId::Bias, "SOL", &ok(), t(0));
        h.record(ModuleId::Bias, "SOL", &fail("BIAS_TIMEOUT"), t(60));
        h.record(ModuleId::Bias, "SOL", &fail("BIAS_TIMEOUT"), t(120));
        let all = h.all();
        let etf = all.iter().find(|e| e.module == ModuleId::Etf).unwrap();
        assert_eq!(etf.state, DataState::Never);
        assert_eq!(etf.failing_since, Some(t(0)));
        assert_eq!(etf.runs_without_data, 3);
        assert_eq!(etf.symbol, None);
        let bias = all.iter().find(|e| e.module == ModuleId::Bias).unwrap();
        assert_eq!(bias.state, DataState::Failing);
        assert_eq!(bias.last_usable_at, Some(t(0)));
        assert_eq!(bias.failing_since, Some(t(60)));
        assert_eq!(bias.last_code.as_deref(), Some("BIAS_TIMEOUT"));
        h.record(ModuleId::Bias, "SOL", &ok(), t(180));
        assert_eq!(h.last_usable(ModuleId::Bias), Some(t(180)));
        let bias = h
            .all()
            .into_iter()
            .find(|e| e.module == ModuleId::Bias)
            .unwrap();
        assert_eq!((bias.state, bias.failing_since), (DataState::Ok, None));
    }
}
