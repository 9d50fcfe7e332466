//! [`Trigger`]: who started a run — a word every layer shares (the run records it, the store
//! keeps it, metrics label by it, the daemon decides it), so it lives below them all.

use serde::Serialize;

/// Who started a run: recorded in `RunResult::trigger` (run layer), the history (`runs.triggered_by`), the
/// run's log line and `sniper_runs_total{trigger}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The scheduler loop.
    #[default]
    Schedule,
    /// `POST /api/run`.
    Manual,
    /// Another sniper instance asked (reserved for replication; nothing sends it yet).
    Replica,
}

impl Trigger {
    /// Every trigger, for pre-initialising metric series.
    pub const ALL: [Trigger; 3] = [Trigger::Schedule, Trigger::Manual, Trigger::Replica];

    /// The label / column value: `schedule`, `manual`, `replica`.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Replica => "replica",
        }
    }

    /// The inverse of [`Trigger::as_str`]; `None` for anything else.
    pub fn parse(s: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == s)
    }
}
