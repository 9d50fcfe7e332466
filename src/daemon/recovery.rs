//! How fast data resumes after an outage: the scheduler's decision and one module's breaker
//! replayed together over a fake clock (issue 18). Pure: no IO, no sleeping.
//!
//! [`crate::resilience::breaker::replay`] runs at a fixed cadence; this replay lets the
//! [`Scheduler`] pick every next instant (backoff with a fixed jitter draw, wake at the first
//! half-open circuit), as `sniper serve` does. Every module is assumed to share the backend's
//! fate, so one breaker stands for all five.

use std::time::Duration;

use jiff::Timestamp;

use crate::daemon::scheduler::{Decision, RunVerdict, Scheduler, SchedulerConfig};
use crate::resilience::breaker::{Admission, Breaker, BreakerConfig, BreakerState};
use crate::resilience::class::ErrorClass;
use crate::window::ActiveWindow;

/// What a [`replay_loop`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopReplay {
    /// Runs started.
    pub runs: u32,
    /// Runs whose request went out.
    pub sent: u32,
    /// Start of the first run whose request succeeded.
    pub first_success: Option<Timestamp>,
    /// Longest pause between two run starts before the first success.
    pub longest_pause: Duration,
}

/// Replay the loop from `start` until the first success or `until`, whichever comes first.
/// Each run takes `run_time` (its result is recorded at its end); `unit` is the jitter draw used
/// for every backoff; `backend(t)` answers a request sent at `t`.
///
/// `legacy` replays the loop as it was before issue 18, for comparison: a run refused by an open
/// circuit counts as a hard failure and the loop never wakes early for a half-open circuit.
#[allow(clippy::too_many_arguments)] // a replay script: every knob is one of its inputs
pub fn replay_loop(
    sched: SchedulerConfig,
    breaker: BreakerConfig,
    start: Timestamp,
    until: Timestamp,
    run_time: Duration,
    unit: f64,
    legacy: bool,
    mut backend: impl FnMut(Timestamp) -> Result<(), ErrorClass>,
) -> LoopReplay {
    let window = ActiveWindow::always_open();
    let mut s = Scheduler::new(sched);
    let mut b = Breaker::new(breaker);
    let mut out = LoopReplay {
        runs: 0,
        sent: 0,
        first_success: None,
        longest_pause: Duration::ZERO,
    };
    let mut now = start;
    while now < until {
        out.runs += 1;
        let end = now.checked_add(run_time).unwrap_or(now);
        let verdict = match b.admit(now) {
            Admission::Reject { .. } if legacy => RunVerdict::Failure,
            Admission::Reject { .. } => RunVerdict::NothingSent,
            Admission::Allow | Admission::Probe => {
                out.sent += 1;
                match backend(now) {
                    Ok(()) => {
                        b.on_success(end);
                        out.first_success = Some(now);
                        return out;
                    }
                    Err(class) => {
                        b.on_failure(&class, end);
                        RunVerdict::Failure
                    }
                }
            }
        };
        let view = b.view(end);
        let half_open = matches!(view.state, BreakerState::Open | BreakerState::HalfOpen)
            .then_some(view.until)
            .flatten()
            .filter(|_| !legacy);
        let next = match s.after_run(end, verdict, half_open, unit, &window) {
            Decision::RunAt(t) | Decision::SleepUntilOpen(t) => t,
        };
        let pause = Duration::try_from(now.duration_until(next)).unwrap_or(Duration::ZERO);
        out.longest_pause = out.longest_pause.max(pause);
        now = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::class::TransientKind;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_767_225_600 + s).unwrap()
    }

    fn outage_until(heal: Timestamp) -> impl FnMut(Timestamp) -> Result<(), ErrorClass> {
        move |now| {
            if now < heal {
                Err(ErrorClass::Transient {
                    kind: TransientKind::Status(500),
                })
            } else {
                Ok(())
            }
        }
    }

    /// Heal→first-success over the jitter draws 0.00, 0.05, … 1.00: the worst one, in seconds.
    fn worst_lag(breaker: BreakerConfig, legacy: bool) -> f64 {
        let heal = t(120);
        (0..=20)
            .map(|i| {
                let r = replay_loop(
                    SchedulerConfig::default(),
                    breaker,
                    t(0),
                    t(3600),
                    Duration::from_millis(300),
                    f64::from(i) / 20.0,
                    legacy,
                    outage_until(heal),
                );
                let first = r.first_success.expect("recovers");
                heal.duration_until(first).as_secs_f64()
            })
            .fold(0.0, f64::max)
    }

    /// Issue 18's short case, default settings: every module answers 500 for 120 s, then heals.
    /// Over every jitter draw, data resumes within 35 s of the heal.
    #[test]
    fn a_120s_outage_heals_within_35s_for_every_jitter_draw() {
        let worst = worst_lag(BreakerConfig::default(), false);
        assert!(worst <= 35.0, "worst heal→first success {worst} s");
    }

    /// The same script through the loop as it was (no half-open wake, refused runs as failures,
    /// transient circuits doubling to 5 min) misses the goal — what issue 18 measured.
    #[test]
    fn the_legacy_loop_misses_the_goal() {
        let legacy_breaker = BreakerConfig {
            transient_max_open: Duration::from_secs(300),
            ..BreakerConfig::default()
        };
        let worst = worst_lag(legacy_breaker, true);
        assert!(worst > 35.0, "worst heal→first success {worst} s");
    }
}
