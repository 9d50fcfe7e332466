//! Whether the store is taking writes: the daemon's memory of failed store operations, for
//! `/ready`, the status API/page and logs.
//!
//! Exists because a full disk used to be silent: every save failed, runs went on, `/health` and
//! `/ready` stayed 200. Sans-IO: [`StoreHealth`] is told each outcome with the time; it never
//! reads a clock. Writes resume by themselves when space returns (each run tries again); the
//! first success clears the streak.

use jiff::Timestamp;
use serde::Serialize;

use crate::config::ConfigError;
use crate::daemon::scheduler::Probe;
use crate::obs::metrics::StoreOp;

/// Consecutive failed store writes after which `/ready` fails (with
/// [`StoreErrorPolicy::Fail`]). Three: one run writes its row and possibly breaker snapshots, so
/// a single transient lock timeout never flips readiness, but a full disk does within a run or two.
pub const STORE_NOT_READY_AFTER: u32 = 3;

/// What `/ready` does about failing store writes (`SNIPER_READY_ON_STORE_ERROR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreErrorPolicy {
    /// `/ready` fails after [`STORE_NOT_READY_AFTER`] consecutive failed writes (default).
    #[default]
    Fail,
    /// Store errors are logged, counted and shown, but `/ready` ignores them.
    Ignore,
}

impl StoreErrorPolicy {
    /// Parses `fail` or `ignore` (any case); the error names `var`.
    pub fn parse(var: &'static str, value: &str) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "fail" => Ok(StoreErrorPolicy::Fail),
            "ignore" => Ok(StoreErrorPolicy::Ignore),
            _ => Err(ConfigError::new(var, value, "fail or ignore")),
        }
    }
}

/// The store's recent record, as shown by `/api/status` (`"store"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreHealth {
    /// Failed writes in a row (0 after any successful write).
    pub consecutive_failures: u32,
    /// Failed writes since start.
    pub errors_total: u64,
    /// The last error: operation, message and when (RFC 3339).
    pub last_error: Option<StoreErrorView>,
}

/// One store failure as shown to operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreErrorView {
    /// `save_run`, `save_breaker` or `save_route`.
    pub op: &'static str,
    /// The error's message (e.g. "database or disk is full").
    pub message: String,
    /// When it happened.
    pub at: String,
}

impl StoreHealth {
    /// Records a successful write: clears the failure streak.
    pub fn on_success(&mut self, _op: StoreOp) {
        self.consecutive_failures = 0;
    }

    /// Records a failed write: extends the streak, counts it and keeps it as the last error.
    pub fn on_failure(&mut self, op: StoreOp, message: String, now: Timestamp) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.errors_total = self.errors_total.saturating_add(1);
        self.last_error = Some(StoreErrorView {
            op: op.as_str(),
            message,
            at: now.to_string(),
        });
    }

    /// The store's part of `/ready`: not ready when `policy` is `Fail` and the streak reached
    /// [`STORE_NOT_READY_AFTER`].
    pub fn readiness(&self, policy: StoreErrorPolicy) -> Probe {
        let failing = self.consecutive_failures >= STORE_NOT_READY_AFTER;
        if failing && policy == StoreErrorPolicy::Fail {
            let last = self
                .last_error
                .as_ref()
                .map(|e| format!(" (last: {} at {}: {})", e.op, e.at, e.message))
                .unwrap_or_default();
            Probe {
                ok: false,
                reason: format!(
                    "store failing: {} consecutive failed writes{last}",
                    self.consecutive_failures
                ),
            }
        } else {
            Probe {
                ok: true,
                reason: format!(
                    "store: {} consecutive failed writes (not ready at {}{})",
                    self.consecutive_failures,
                    STORE_NOT_READY_AFTER,
                    if policy == StoreErrorPolicy::Ignore {
                        ", ignored"
                    } else {
                        ""
                    }
                ),
            }
        }
    }
}

/// The owner of the store's health in the daemon: every store write's outcome goes through
/// [`StoreWrites::note`] (logged, counted in `sniper_store_errors_total{op}`, remembered); `/ready`
/// and `/api/status` read it. The policy is fixed when it is built.
pub struct StoreWrites {
    health: std::sync::Mutex<StoreHealth>,
    policy: StoreErrorPolicy,
    metrics: std::sync::Arc<crate::obs::metrics::Metrics>,
}

impl StoreWrites {
    pub fn new(
        policy: StoreErrorPolicy,
        metrics: std::sync::Arc<crate::obs::metrics::Metrics>,
    ) -> StoreWrites {
        StoreWrites {
            health: std::sync::Mutex::new(StoreHealth::default()),
            policy,
            metrics,
        }
    }

    /// Logs, counts and remembers a store write's outcome at `now`; `None` on error.
    pub fn note<T, E: std::fmt::Display>(
        &self,
        op: StoreOp,
        what: &str,
        res: Result<T, E>,
        now: Timestamp,
    ) -> Option<T> {
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        match res {
            Ok(v) => {
                if health.consecutive_failures > 0 {
                    tracing::info!(
                        op = op.as_str(),
                        after_failures = health.consecutive_failures,
                        "store writes work again"
                    );
                }
                health.on_success(op);
                Some(v)
            }
            Err(e) => {
                tracing::error!(op = op.as_str(), error = %e, "cannot {what}");
                self.metrics.record_store_error(op);
                health.on_failure(op, e.to_string(), now);
                None
            }
        }
    }

    /// The store's recent failures (for `/api/status`).
    pub fn health(&self) -> StoreHealth {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The store's part of `/ready`, by the policy.
    pub fn readiness(&self) -> Probe {
        self.health().readiness(self.policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn streak_of_writes_flips_readiness_and_a_success_restores_it() {
        let mut h = StoreHealth::default();
        let t = ts("2026-06-01T00:00:00Z");
        for (i, want_ok) in [true, true, false, false].into_iter().enumerate() {
            h.on_failure(StoreOp::SaveRun, "database or disk is full".into(), t);
            let p = h.readiness(StoreErrorPolicy::Fail);
            assert_eq!(p.ok, want_ok, "after {} failures: {}", i + 1, p.reason);
            assert!(h.readiness(StoreErrorPolicy::Ignore).ok);
        }
        let p = h.readiness(StoreErrorPolicy::Fail);
        assert!(p.reason.contains("disk is full"), "{}", p.reason);
        h.on_failure(StoreOp::SaveRoute, "x".into(), t);
        assert_eq!(h.consecutive_failures, 5);
        assert_eq!(h.errors_total, 5);
        h.on_success(StoreOp::SaveBreaker);
        assert_eq!(h.consecutive_failures, 0);
        assert_eq!(h.errors_total, 5);
        assert!(h.readiness(StoreErrorPolicy::Fail).ok);
        assert_eq!(h.last_error.as_ref().map(|e| e.op), Some("save_route"));
    }

    #[test]
    fn policy_parses() {
        let p = |v| StoreErrorPolicy::parse("SNIPER_READY_ON_STORE_ERROR", v);
        assert_eq!(p("fail"), Ok(StoreErrorPolicy::Fail));
        assert_eq!(p(" IGNORE "), Ok(StoreErrorPolicy::Ignore));
        let e = p("warn").unwrap_err();
        assert!(e.to_string().contains("SNIPER_READY_ON_STORE_ERROR"), "{e}");
    }
}
