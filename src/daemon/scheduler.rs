//! The scheduler: a sans-IO decision ("what next, and when") and the tokio loop that obeys it.
//!
//! [`Scheduler`] holds the failure streak and, given `now`, the window and the outcome of the last
//! run, returns a [`Decision`]; it never reads a clock or sleeps, so it is tested with hand-made
//! instants. [`run_loop`] sleeps until the instant a decision names (no polling), runs one run at a
//! time, publishes its state in [`SchedulerStatus`] (for `/health`, `/ready` and the JSON API) and
//! tells a [`LoopHooks`] (metrics, alerts) what happened.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::watch;

use crate::daemon::alerts::{Alerter, alert_for};
use crate::module_id::ModuleId;
use crate::obs::metrics::{Metrics, RunOutcome};
use crate::window::ActiveWindow;

/// Default pause between two runs: the design's 5 s.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Default backoff base: the first retry after a hard failure waits at most this long.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Default backoff cap: the design's `min(60 s, …)`.
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(60);
/// Default number of consecutive hard failures after which `/ready` fails.
pub const DEFAULT_NOT_READY_AFTER: u32 = 3;
/// A loop whose heartbeat is older than this many intervals is reported dead by `/health`
/// (see [`stuck_after`]).
pub const STUCK_AFTER_INTERVALS: u32 = 3;
/// Smallest slack [`stuck_after`] grants past a heartbeat, whatever the interval: covers recording
/// a run (store writes, which may wait on SQLite's busy timeout) and scheduling jitter.
pub const MIN_STUCK_SLACK: Duration = Duration::from_secs(10);
/// Run budget of [`SchedulerStatus::new`]: the default `SNIPER_RUN_DEADLINE`.
pub const DEFAULT_RUN_BUDGET: Duration = Duration::from_secs(5);

/// The liveness rule, as a pure function of the loop's published state: the instant after which
/// `/health` reports the loop stuck.
///
/// `heartbeat_due` is when the loop promised to show life (its next wake-up while sleeping, the
/// start of the run while running). A run may legitimately hold the loop for `run_budget` (the
/// run deadline, which bounds discovery and every module timeout), so a running loop is granted
/// it on top. Then `slack = max(STUCK_AFTER_INTERVALS × interval, MIN_STUCK_SLACK)`:
///
/// `stuck_after = heartbeat_due + (running ? run_budget : 0) + slack`
///
/// Saturates at `heartbeat_due` plus what fits (never panics).
pub fn stuck_after(
    heartbeat_due: Timestamp,
    running: bool,
    run_budget: Duration,
    interval: Duration,
) -> Timestamp {
    let slack = interval
        .saturating_mul(STUCK_AFTER_INTERVALS)
        .max(MIN_STUCK_SLACK);
    let grant = if running {
        run_budget.saturating_add(slack)
    } else {
        slack
    };
    heartbeat_due.checked_add(grant).unwrap_or(heartbeat_due)
}
/// Default time a run in flight gets to finish after shutdown is requested.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Scheduler settings, validated. Exists so the loop takes typed durations, never env strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Pause between runs while healthy.
    pub interval: Duration,
    /// Backoff ceiling after the first hard failure; doubles per further failure.
    pub backoff_base: Duration,
    /// Upper bound of the backoff ceiling.
    pub backoff_cap: Duration,
    /// `/ready` fails after this many consecutive hard failures.
    pub not_ready_after: u32,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            interval: DEFAULT_INTERVAL,
            backoff_base: DEFAULT_BACKOFF_BASE,
            backoff_cap: DEFAULT_BACKOFF_CAP,
            not_ready_after: DEFAULT_NOT_READY_AFTER,
        }
    }
}

/// Why a scheduler setting was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchedulerConfigError {
    /// Not a duration by the one rule ([`crate::config::parse_duration`]).
    #[error(transparent)]
    Duration(#[from] crate::config::ConfigError),
    /// The backoff cap is below its base.
    #[error("SNIPER_BACKOFF_CAP ({cap:?}) must not be below SNIPER_BACKOFF_BASE ({base:?})")]
    CapBelowBase {
        /// The base.
        base: Duration,
        /// The cap.
        cap: Duration,
    },
}

/// Scheduler settings from flags and the environment, flattened into `serve` and `demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct SchedulerArgs {
    /// Pause between runs (500ms, 5s, 1m, 1h).
    #[arg(long, env = "SNIPER_INTERVAL", default_value_t = fmt_duration(DEFAULT_INTERVAL))]
    pub interval: String,
    /// First backoff ceiling after a hard failure.
    #[arg(long, env = "SNIPER_BACKOFF_BASE", default_value_t = fmt_duration(DEFAULT_BACKOFF_BASE))]
    pub backoff_base: String,
    /// Largest backoff ceiling.
    #[arg(long, env = "SNIPER_BACKOFF_CAP", default_value_t = fmt_duration(DEFAULT_BACKOFF_CAP))]
    pub backoff_cap: String,
    /// `/ready` fails after this many consecutive hard failures.
    #[arg(long, env = "SNIPER_NOT_READY_AFTER", default_value_t = DEFAULT_NOT_READY_AFTER)]
    pub not_ready_after: u32,
}

use crate::config::{fmt_duration, parse_duration};

impl SchedulerArgs {
    /// Validates the settings.
    pub fn into_config(self) -> Result<SchedulerConfig, SchedulerConfigError> {
        let interval = parse_duration("SNIPER_INTERVAL", &self.interval)?;
        let backoff_base = parse_duration("SNIPER_BACKOFF_BASE", &self.backoff_base)?;
        let backoff_cap = parse_duration("SNIPER_BACKOFF_CAP", &self.backoff_cap)?;
        if backoff_cap < backoff_base {
            return Err(SchedulerConfigError::CapBelowBase {
                base: backoff_base,
                cap: backoff_cap,
            });
        }
        Ok(SchedulerConfig {
            interval,
            backoff_base,
            backoff_cap,
            not_ready_after: self.not_ready_after,
        })
    }
}

/// The earliest a wake planned for a circuit turning half-open may be, from the end of a run: a
/// circuit whose instant has already passed is probed by the very next run, never in a busy loop.
pub const MIN_WAKE: Duration = Duration::from_secs(1);

/// What a finished run means for the backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunVerdict {
    /// Some module produced data (a partial success included): the streak ends.
    Success,
    /// Requests went out and none produced data: the streak grows.
    Failure,
    /// Every module answered circuit-open: no request went out, so the run says nothing about
    /// the backend; the streak is left as it was (issue 18).
    NothingSent,
}

/// The tick slot `at` falls in: `floor(epoch_ms / interval_ms)`. Replicas sharing a store claim
/// slots ([`TickGate`]), so every replica must compute the same number for the same instant.
pub fn slot_of(at: Timestamp, interval: Duration) -> i64 {
    let ms = i64::try_from(interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    at.as_millisecond().div_euclid(ms)
}

/// The first slot boundary strictly after `at`.
pub fn next_slot_start(at: Timestamp, interval: Duration) -> Timestamp {
    let ms = i64::try_from(interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    let next = slot_of(at, interval).saturating_add(1).saturating_mul(ms);
    Timestamp::from_millisecond(next).unwrap_or(Timestamp::MAX)
}

/// `at` if it is a slot boundary, else the next boundary.
pub fn align_up(at: Timestamp, interval: Duration) -> Timestamp {
    let ms = i64::try_from(interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    if at.as_millisecond().rem_euclid(ms) == 0 && at.subsec_nanosecond() % 1_000_000 == 0 {
        at
    } else {
        next_slot_start(at, interval)
    }
}

/// Where a replica's loop goes next, given the decision the [`Scheduler`] made at `end` (the end
/// of a run): runs start on slot boundaries and never in the slot already handled (the one
/// containing `end`). Healthy, the next run is the next slot (the slot *is* the interval); after
/// hard failures the backoff still applies: the first boundary at or after the decision's instant.
pub fn align_decision(
    d: Decision,
    end: Timestamp,
    interval: Duration,
    sched: &Scheduler,
    window: &ActiveWindow,
) -> Decision {
    match d {
        Decision::RunAt(t) => {
            let next = next_slot_start(end, interval);
            let at = if sched.consecutive_failures() == 0 {
                next
            } else {
                align_up(t, interval).max(next)
            };
            sched.decide(at, window)
        }
        other => other,
    }
}

/// Makes the loop ask before each scheduled run (replicas on a shared store): with a gate, runs
/// start on boundaries of `interval`-long slots, and the slot's run happens only if `claim(slot)`
/// answers true. A replica that loses (or cannot reach the store) waits for the next slot.
pub struct TickGate {
    /// Slot length (the scheduler's interval).
    pub interval: Duration,
    /// Claim slot `n`; true = this replica runs it.
    #[allow(clippy::type_complexity)]
    pub claim: Box<dyn FnMut(i64) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> + Send>,
}

impl std::fmt::Debug for TickGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TickGate")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// What the loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start a run at this instant (inside the window).
    RunAt(Timestamp),
    /// The window is closed then; sleep until it opens at this instant.
    SleepUntilOpen(Timestamp),
}

/// The scheduler's memory: the hard-failure streak. Sans-IO: every method takes `now`.
///
/// Exists so that the policy (interval, backoff with full jitter, readiness) is one small value
/// tested without a runtime; [`run_loop`] only sleeps until the instants it returns.
#[derive(Debug, Clone)]
pub struct Scheduler {
    config: SchedulerConfig,
    consecutive_failures: u32,
}

impl Scheduler {
    /// A scheduler with no failures.
    pub fn new(config: SchedulerConfig) -> Self {
        Scheduler {
            config,
            consecutive_failures: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// Hard failures in a row (0 after any success, partial included).
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// Ready unless the streak reached `not_ready_after`. Soft fails never count.
    pub fn is_ready(&self) -> bool {
        self.consecutive_failures < self.config.not_ready_after
    }

    /// The backoff ceiling after `failures` consecutive hard failures:
    /// `min(cap, base · 2^(failures-1))`, and 0 for no failure.
    pub fn backoff_ceiling(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
        self.config
            .backoff_base
            .checked_mul(factor)
            .unwrap_or(self.config.backoff_cap)
            .min(self.config.backoff_cap)
    }

    /// The pause before the next run, given the current streak and a uniform random `unit` in
    /// `[0, 1]` (full jitter: the pause is `unit × ceiling`). Clamped to `[0, 1]`; NaN counts as 1.
    pub fn delay(&self, unit: f64) -> Duration {
        if self.consecutive_failures == 0 {
            return self.config.interval;
        }
        let unit = if unit.is_nan() {
            1.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        self.backoff_ceiling(self.consecutive_failures)
            .mul_f64(unit)
    }

    /// The decision when nothing has just run (start-up, or waking at an opening): run now if the
    /// window is open, else sleep until it opens.
    pub fn decide(&self, now: Timestamp, window: &ActiveWindow) -> Decision {
        Self::place(now, window)
    }

    /// Records a finished run (`success == false` is a hard failure; a partial success is a
    /// success) and decides when the next run is. `unit` is the jitter draw in `[0, 1]`.
    pub fn on_run_finished(
        &mut self,
        now: Timestamp,
        success: bool,
        unit: f64,
        window: &ActiveWindow,
    ) -> Decision {
        let verdict = if success {
            RunVerdict::Success
        } else {
            RunVerdict::Failure
        };
        self.after_run(now, verdict, None, unit, window)
    }

    /// Records a finished run and decides when the next run is: at `now` + the pause
    /// ([`Scheduler::delay`]: the interval, or the jittered backoff during a streak), or at
    /// `half_open` — the earliest instant an open circuit admits a probe again — when that
    /// comes first (never sooner than [`MIN_WAKE`] after `now`). A [`RunVerdict::NothingSent`]
    /// run leaves the streak unchanged. `unit` is the jitter draw in `[0, 1]`.
    pub fn after_run(
        &mut self,
        now: Timestamp,
        verdict: RunVerdict,
        half_open: Option<Timestamp>,
        unit: f64,
        window: &ActiveWindow,
    ) -> Decision {
        match verdict {
            RunVerdict::Success => self.consecutive_failures = 0,
            RunVerdict::Failure => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1)
            }
            RunVerdict::NothingSent => {}
        }
        let mut at = now.checked_add(self.delay(unit)).unwrap_or(now);
        if let Some(h) = half_open {
            let floor = now.checked_add(MIN_WAKE).unwrap_or(now);
            at = at.min(h.max(floor));
        }
        Self::place(at, window)
    }

    fn place(at: Timestamp, window: &ActiveWindow) -> Decision {
        if window.contains(at) {
            Decision::RunAt(at)
        } else {
            Decision::SleepUntilOpen(window.next_opening(at))
        }
    }
}

/// What one run reports to the scheduler, built by `daemon::server::summarize` from the
/// runner's results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// False = hard failure (nothing usable). A partial success is `true`.
    pub success: bool,
    /// Modules that were degraded in this run: soft-failed, or hit a hard error (a panic).
    pub soft_fails: Vec<ModuleId>,
    /// Modules that produced data.
    pub modules_active: usize,
    /// A short human reason for a failure, for alerts and logs (never a metric label).
    pub detail: Option<String>,
    /// Every enabled module answered circuit-open: no request went out.
    pub nothing_sent: bool,
    /// The earliest instant an open circuit of this run admits a probe again, if any.
    pub next_half_open: Option<Timestamp>,
}

impl RunSummary {
    /// What the run means for the backoff: nothing sent, success or failure.
    pub fn verdict(&self) -> RunVerdict {
        if self.nothing_sent && !self.success {
            RunVerdict::NothingSent
        } else if self.success {
            RunVerdict::Success
        } else {
            RunVerdict::Failure
        }
    }

    /// success / partial / failure.
    pub fn outcome(&self) -> RunOutcome {
        RunOutcome::classify(self.success, !self.soft_fails.is_empty())
    }
}

/// Where the loop reads wall time. `System` in production; `Anchored` follows tokio's clock from a
/// fixed instant, so tests under paused time see the window move as time is advanced.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// `Timestamp::now()`.
    System,
    /// `at` plus the tokio time elapsed since `instant`.
    Anchored {
        /// Wall time at `instant`.
        at: Timestamp,
        /// The tokio instant corresponding to `at`.
        instant: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock anchored at `at` now (read tokio's clock once; use under `start_paused`).
    pub fn anchored(at: Timestamp) -> Clock {
        Clock::Anchored {
            at,
            instant: tokio::time::Instant::now(),
        }
    }

    /// The current wall time.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Anchored { at, instant } => at.checked_add(instant.elapsed()).unwrap_or(*at),
        }
    }
}

/// Liveness or readiness, with the reason, for `/health` and `/ready` JSON bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// True → answer 200, false → 503.
    pub ok: bool,
    /// Why, in a sentence.
    pub reason: String,
}

/// A copy of the scheduler's published state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusSnapshot {
    /// When the status was created (the daemon's start).
    #[serde(serialize_with = "ser_ts")]
    pub started_at: Timestamp,
    /// When the last run finished.
    #[serde(serialize_with = "ser_opt_ts")]
    pub last_run_at: Option<Timestamp>,
    /// `success`, `partial` or `failure` of the last run.
    pub last_outcome: Option<&'static str>,
    /// When the next run (or the next opening) is due.
    #[serde(serialize_with = "ser_opt_ts")]
    pub next_run_at: Option<Timestamp>,
    /// Hard failures in a row.
    pub consecutive_failures: u32,
    /// `/ready`'s answer.
    pub ready: bool,
    /// Inside the active window.
    pub in_window: bool,
    /// A run is in flight.
    pub running: bool,
    /// Runs finished since start.
    pub runs: u64,
    /// The loop promises to show life again by this instant (a wake-up or the start of a run);
    /// `/health` fails after [`stuck_after`] it.
    #[serde(serialize_with = "ser_ts")]
    pub heartbeat_due: Timestamp,
}

fn ser_ts<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

fn ser_opt_ts<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(t),
        None => s.serialize_none(),
    }
}

/// The scheduler's state shared with the HTTP server (`Arc<SchedulerStatus>`).
///
/// Exists so `/health`, `/ready` and `/api/*` read the loop's state without talking to it, and so
/// `POST /api/run` can take [`SchedulerStatus::run_lock`] and never overlap a scheduled run.
#[derive(Debug)]
pub struct SchedulerStatus {
    state: Mutex<StatusSnapshot>,
    run_lock: tokio::sync::Mutex<()>,
    interval: Duration,
    not_ready_after: u32,
    /// Longest a run may hold the loop (see [`stuck_after`]).
    run_budget: Duration,
}

impl SchedulerStatus {
    /// A fresh status: ready, not running, heartbeat due `now`, granting a run
    /// [`DEFAULT_RUN_BUDGET`].
    pub fn new(now: Timestamp, config: &SchedulerConfig) -> Arc<SchedulerStatus> {
        SchedulerStatus::with_run_budget(now, config, DEFAULT_RUN_BUDGET)
    }

    /// A fresh status granting a run `run_budget` (the run deadline): `/health` grants it to a
    /// loop that is running or waiting for a manual run (see [`stuck_after`]).
    pub fn with_run_budget(
        now: Timestamp,
        config: &SchedulerConfig,
        run_budget: Duration,
    ) -> Arc<SchedulerStatus> {
        Arc::new(SchedulerStatus {
            state: Mutex::new(StatusSnapshot {
                started_at: now,
                last_run_at: None,
                last_outcome: None,
                next_run_at: None,
                consecutive_failures: 0,
                ready: true,
                in_window: false,
                running: false,
                runs: 0,
                heartbeat_due: now,
            }),
            run_lock: tokio::sync::Mutex::new(()),
            interval: config.interval,
            not_ready_after: config.not_ready_after,
            run_budget,
        })
    }

    /// The run budget `/health` grants (see [`SchedulerStatus::with_run_budget`]).
    pub fn run_budget(&self) -> Duration {
        self.run_budget
    }

    fn lock(&self) -> MutexGuard<'_, StatusSnapshot> {
        // A panic while holding this lock leaves plain data behind; keep serving it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut StatusSnapshot)) {
        f(&mut self.lock());
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> StatusSnapshot {
        self.lock().clone()
    }

    /// Held by the loop for the whole of each run; `POST /api/run` should hold it too.
    pub fn run_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.run_lock
    }

    /// `/health`: the loop is alive until [`stuck_after`] its published heartbeat.
    pub fn liveness(&self, now: Timestamp) -> Probe {
        let (due, running) = {
            let s = self.lock();
            (s.heartbeat_due, s.running)
        };
        let limit = stuck_after(due, running, self.run_budget(), self.interval);
        if now <= limit {
            Probe {
                ok: true,
                reason: "scheduler loop alive".to_string(),
            }
        } else {
            let late = now.duration_since(due);
            Probe {
                ok: false,
                reason: format!(
                    "scheduler loop stuck: heartbeat due at {due}{}, {:.0} s ago (limit {:.0} s)",
                    if running { " (run in flight)" } else { "" },
                    late.as_secs_f64(),
                    limit.duration_since(due).as_secs_f64()
                ),
            }
        }
    }

    /// `/ready`: not ready after `not_ready_after` consecutive hard failures.
    pub fn readiness(&self) -> Probe {
        let s = self.lock();
        if s.ready {
            Probe {
                ok: true,
                reason: format!(
                    "{} consecutive hard failures (not ready at {})",
                    s.consecutive_failures, self.not_ready_after
                ),
            }
        } else {
            Probe {
                ok: false,
                reason: format!(
                    "{} consecutive hard failures (limit {})",
                    s.consecutive_failures, self.not_ready_after
                ),
            }
        }
    }
}

/// Callbacks from the loop, for metrics and alerts. All methods default to nothing; `()` is the
/// no-op implementation. Called on the loop's task: keep them quick (spawn IO).
pub trait LoopHooks: Send + Sync {
    /// The loop entered (`true`) or left (`false`) the active window.
    fn window_changed(&self, _in_window: bool, _now: Timestamp) {}
    /// A run finished. `prev_failures`/`new_failures` are the streak before and after it.
    fn run_finished(
        &self,
        _summary: &RunSummary,
        _duration: Duration,
        _prev_failures: u32,
        _new_failures: u32,
        _now: Timestamp,
    ) {
    }
}

impl LoopHooks for () {}

impl<H: LoopHooks + ?Sized> LoopHooks for Arc<H> {
    fn window_changed(&self, in_window: bool, now: Timestamp) {
        (**self).window_changed(in_window, now);
    }
    fn run_finished(
        &self,
        summary: &RunSummary,
        duration: Duration,
        prev_failures: u32,
        new_failures: u32,
        now: Timestamp,
    ) {
        (**self).run_finished(summary, duration, prev_failures, new_failures, now);
    }
}

/// The production hooks: metrics for every run and window change, alerts per [`alert_for`]
/// (delivered on a spawned task so a slow endpoint never delays a run).
#[derive(Debug, Clone)]
pub struct ObservingHooks {
    /// Where runs are recorded.
    pub metrics: Arc<Metrics>,
    /// Where alerts go; `None` = no alerts.
    pub alerter: Option<Alerter>,
}

impl LoopHooks for ObservingHooks {
    fn window_changed(&self, in_window: bool, _now: Timestamp) {
        self.metrics.set_in_window(in_window);
    }

    fn run_finished(
        &self,
        summary: &RunSummary,
        duration: Duration,
        prev_failures: u32,
        new_failures: u32,
        now: Timestamp,
    ) {
        self.metrics.record_run(
            summary.outcome(),
            duration,
            summary.modules_active,
            &summary.soft_fails,
        );
        self.metrics.set_consecutive_failures(new_failures);
        let Some(alerter) = self.alerter.as_ref().filter(|a| a.is_enabled()) else {
            return;
        };
        if let Some(kind) = alert_for(
            prev_failures,
            new_failures,
            summary.success,
            alerter.every_n(),
        ) {
            let alerter = alerter.clone();
            let detail = summary.detail.clone();
            tokio::spawn(async move {
                alerter.send(kind, now, detail.as_deref()).await;
            });
        }
    }
}

/// What [`run_loop`] needs besides the scheduler, the window and the run.
pub struct LoopContext<H> {
    /// Published state (shared with the HTTP server).
    pub status: Arc<SchedulerStatus>,
    /// Metrics/alerts callbacks.
    pub hooks: H,
    /// `true` (or the sender dropped) asks the loop to stop.
    pub shutdown: watch::Receiver<bool>,
    /// Wall time source.
    pub clock: Clock,
    /// Jitter draws in `[0, 1]`; [`random_unit`] in production.
    pub jitter: Box<dyn FnMut() -> f64 + Send>,
    /// How long a run in flight may go on after shutdown is requested before it is dropped.
    pub shutdown_grace: Duration,
    /// Replicas: claim each tick before running it (`None`: a private store, run every tick).
    pub gate: Option<TickGate>,
}

impl<H> LoopContext<H> {
    /// Production defaults: system clock, random jitter, 5 s grace.
    pub fn new(status: Arc<SchedulerStatus>, hooks: H, shutdown: watch::Receiver<bool>) -> Self {
        LoopContext {
            status,
            hooks,
            shutdown,
            clock: Clock::System,
            jitter: Box::new(random_unit),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            gate: None,
        }
    }
}

/// A uniform draw in `[0, 1)` from the thread RNG.
pub fn random_unit() -> f64 {
    rand::random::<f64>()
}

/// Resolves when shutdown is requested or the sender is gone.
async fn shutdown_requested(rx: &mut watch::Receiver<bool>) {
    // Err = sender dropped: nobody can ask any more, which is a request to stop.
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Sleeps until wall time `until`; returns false if shutdown came first.
async fn sleep_until(clock: &Clock, until: Timestamp, rx: &mut watch::Receiver<bool>) -> bool {
    let wait = Duration::try_from(until.duration_since(clock.now())).unwrap_or(Duration::ZERO);
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = shutdown_requested(rx) => false,
    }
}

/// The scheduler loop: runs `run` at the instants the [`Scheduler`] decides, one at a time, only
/// inside `window`, until shutdown. Returns the scheduler (its streak) when it stops.
///
/// * Outside the window it sleeps until the next opening (one timer, no polling) and logs when
///   that is; on entering the window it logs the design's line (`Active trading hours - Jakarta:
///   07:00`).
/// * A run is awaited before the next is considered, and holds [`SchedulerStatus::run_lock`].
/// * On shutdown during a run, the run gets `shutdown_grace` to finish, then is dropped
///   (cancelled); the loop returns.
pub async fn run_loop<F, Fut, H>(
    mut sched: Scheduler,
    window: ActiveWindow,
    mut run: F,
    mut ctx: LoopContext<H>,
) -> Scheduler
where
    F: FnMut() -> Fut,
    Fut: Future<Output = RunSummary>,
    H: LoopHooks,
{
    let status = ctx.status.clone();
    let mut in_window: Option<bool> = None;
    let mut next = sched.decide(ctx.clock.now(), &window);
    if let Some(g) = &ctx.gate {
        // Start on a boundary, possibly the current instant's own slot if it is one.
        if let Decision::RunAt(t) = next {
            next = sched.decide(align_up(t, g.interval), &window);
        }
    }
    if *ctx.shutdown.borrow() {
        return sched;
    }
    loop {
        match next {
            Decision::SleepUntilOpen(opening) => {
                let now = ctx.clock.now();
                if in_window != Some(false) {
                    in_window = Some(false);
                    ctx.hooks.window_changed(false, now);
                }
                let wait = opening.duration_since(now);
                tracing::info!(
                    next_opening = %window.describe(opening),
                    in_secs = wait.as_secs(),
                    "outside active trading hours; sleeping until the next opening"
                );
                status.update(|s| {
                    s.in_window = false;
                    s.next_run_at = Some(opening);
                    s.heartbeat_due = opening;
                });
                if !sleep_until(&ctx.clock, opening, &mut ctx.shutdown).await {
                    break;
                }
                next = sched.decide(ctx.clock.now(), &window);
            }
            Decision::RunAt(at) => {
                status.update(|s| {
                    s.next_run_at = Some(at);
                    s.heartbeat_due = at;
                });
                if !sleep_until(&ctx.clock, at, &mut ctx.shutdown).await {
                    break;
                }
                let start = ctx.clock.now();
                if !window.contains(start) {
                    // Woke late (suspend, clock step) past the closing.
                    next = sched.decide(start, &window);
                    continue;
                }
                if in_window != Some(true) {
                    in_window = Some(true);
                    tracing::info!("{}", window.log_line(start));
                    ctx.hooks.window_changed(true, start);
                }
                if let Some(gate) = ctx.gate.as_mut() {
                    let slot = slot_of(start, gate.interval);
                    let claimed = tokio::select! {
                        c = (gate.claim)(slot) => c,
                        _ = shutdown_requested(&mut ctx.shutdown) => break,
                    };
                    if !claimed {
                        let now = ctx.clock.now();
                        next =
                            sched.decide(next_slot_start(now.max(start), gate.interval), &window);
                        status.update(|s| s.heartbeat_due = now);
                        continue;
                    }
                }
                let (summary, stopping, duration) = {
                    // Wait for a manual run (`POST /api/run`) to finish, unless asked to stop; it
                    // holds the lock at most one run budget.
                    let budget = status.run_budget();
                    status.update(|s| {
                        s.heartbeat_due = start.checked_add(budget).unwrap_or(start);
                    });
                    let _permit = tokio::select! {
                        permit = status.run_lock().lock() => permit,
                        _ = shutdown_requested(&mut ctx.shutdown) => break,
                    };
                    status.update(|s| {
                        s.in_window = true;
                        s.running = true;
                        s.heartbeat_due = ctx.clock.now();
                    });
                    let started = tokio::time::Instant::now();
                    let fut = run();
                    tokio::pin!(fut);
                    tokio::select! {
                        summary = &mut fut => (Some(summary), false, started.elapsed()),
                        _ = shutdown_requested(&mut ctx.shutdown) => {
                            match tokio::time::timeout(ctx.shutdown_grace, &mut fut).await {
                                Ok(summary) => (Some(summary), true, started.elapsed()),
                                Err(_) => {
                                    tracing::warn!(
                                        grace_secs = ctx.shutdown_grace.as_secs_f64(),
                                        "run still in flight at shutdown; cancelled"
                                    );
                                    (None, true, started.elapsed())
                                }
                            }
                        }
                    }
                };
                let end = ctx.clock.now();
                match summary {
                    Some(summary) => {
                        let prev = sched.consecutive_failures();
                        next = sched.after_run(
                            end,
                            summary.verdict(),
                            summary.next_half_open,
                            (ctx.jitter)(),
                            &window,
                        );
                        if let Some(g) = &ctx.gate {
                            next = align_decision(next, end, g.interval, &sched, &window);
                        }
                        let new = sched.consecutive_failures();
                        let outcome = summary.outcome();
                        if summary.success {
                            tracing::info!(
                                trigger = "schedule",
                                outcome = outcome.as_str(),
                                soft_fails = summary.soft_fails.len(),
                                "run finished"
                            );
                        } else {
                            tracing::warn!(
                                trigger = "schedule",
                                consecutive_failures = new,
                                detail = summary.detail.as_deref().unwrap_or(""),
                                "run failed hard"
                            );
                        }
                        status.update(|s| {
                            s.running = false;
                            s.runs += 1;
                            s.last_run_at = Some(end);
                            s.last_outcome = Some(outcome.as_str());
                            s.consecutive_failures = new;
                            s.ready = sched.is_ready();
                        });
                        ctx.hooks.run_finished(&summary, duration, prev, new, end);
                    }
                    None => status.update(|s| s.running = false),
                }
                if stopping {
                    break;
                }
            }
        }
    }
    tracing::info!("scheduler loop stopped");
    sched
}

crate::command::config_errors!(SchedulerConfigError);

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn sched() -> Scheduler {
        Scheduler::new(SchedulerConfig::default())
    }

    #[test]
    fn healthy_runs_every_interval() {
        let w = ActiveWindow::always_open();
        let mut s = sched();
        let now = ts("2026-06-01T00:00:00Z");
        assert_eq!(s.decide(now, &w), Decision::RunAt(now));
        // The jitter draw is ignored while healthy.
        assert_eq!(
            s.on_run_finished(now, true, 0.0, &w),
            Decision::RunAt(ts("2026-06-01T00:00:05Z"))
        );
    }

    /// Issue 18: a run that sent nothing (every module circuit-open) leaves the streak alone,
    /// and the next wake is the earlier of the pause and the first circuit turning half-open.
    #[test]
    fn after_run_table() {
        use RunVerdict::*;
        let w = ActiveWindow::always_open();
        let t0 = ts("2026-06-01T00:00:00Z");
        let at = |s: i64| t0.checked_add(jiff::SignedDuration::from_secs(s)).unwrap();
        // (streak before, verdict, half-open in s from t0, jitter, streak after, wake in s)
        let cases: [(u32, RunVerdict, Option<i64>, f64, u32, i64); 11] = [
            (0, Success, None, 1.0, 0, 5),
            (0, Success, Some(2), 1.0, 0, 2),
            (4, Failure, None, 1.0, 5, 60),
            // The backoff would sleep 60 s; a circuit turns half-open at 25 s: wake then.
            (4, Failure, Some(25), 1.0, 5, 25),
            (4, Failure, Some(25), 0.1, 5, 6),
            // Nothing sent: the streak stays; wake at the half-open instant.
            (5, NothingSent, Some(12), 1.0, 5, 12),
            (5, NothingSent, None, 1.0, 5, 60),
            (0, NothingSent, Some(3600), 1.0, 0, 5),
            // A half-open instant already past: the next run comes after MIN_WAKE, not at once.
            (5, NothingSent, Some(-3), 1.0, 5, 1),
            (2, Success, Some(30), 1.0, 0, 5),
            (2, Failure, Some(1), 0.0, 3, 0),
        ];
        for (before, verdict, half_open, unit, after, wake) in cases {
            let mut s = sched();
            for _ in 0..before {
                s.on_run_finished(t0, false, 0.0, &w);
            }
            let got = s.after_run(t0, verdict, half_open.map(at), unit, &w);
            assert_eq!(
                (s.consecutive_failures(), got),
                (after, Decision::RunAt(at(wake))),
                "{before} {verdict:?} {half_open:?} {unit}"
            );
        }
    }

    #[test]
    fn backoff_ceilings_double_to_the_cap() {
        let s = sched();
        let secs: Vec<u64> = (0..10).map(|n| s.backoff_ceiling(n).as_secs()).collect();
        assert_eq!(secs, [0, 5, 10, 20, 40, 60, 60, 60, 60, 60]);
        assert_eq!(s.backoff_ceiling(u32::MAX), DEFAULT_BACKOFF_CAP);
    }

    #[test]
    fn full_jitter_scales_the_ceiling_and_success_resets() {
        let w = ActiveWindow::always_open();
        let mut s = sched();
        let now = ts("2026-06-01T00:00:00Z");
        s.on_run_finished(now, false, 0.5, &w);
        s.on_run_finished(now, false, 0.5, &w);
        // Third failure: ceiling 20 s; half of it.
        assert_eq!(
            s.on_run_finished(now, false, 0.5, &w),
            Decision::RunAt(ts("2026-06-01T00:00:10Z"))
        );
        assert_eq!(s.consecutive_failures(), 3);
        assert_eq!(s.delay(1.0), Duration::from_secs(20));
        assert_eq!(s.delay(0.0), Duration::ZERO);
        assert_eq!(s.delay(7.0), Duration::from_secs(20));
        assert_eq!(s.delay(f64::NAN), Duration::from_secs(20));
        assert!(!s.is_ready());
        assert_eq!(
            s.on_run_finished(now, true, 0.5, &w),
            Decision::RunAt(ts("2026-06-01T00:00:05Z"))
        );
        assert_eq!(s.consecutive_failures(), 0);
        assert!(s.is_ready());
    }

    #[test]
    fn readiness_flips_at_n() {
        let w = ActiveWindow::always_open();
        let mut s = sched();
        let now = ts("2026-06-01T00:00:00Z");
        for expected in [true, true, false, false] {
            s.on_run_finished(now, false, 0.1, &w);
            assert_eq!(s.is_ready(), expected);
        }
    }

    #[test]
    fn next_run_outside_window_sleeps_until_opening() {
        let w = ActiveWindow::parse("Asia/Jakarta", "07:00", "23:30").unwrap();
        let mut s = sched();
        let late = ts("2026-06-01T23:29:58+07:00");
        assert_eq!(
            s.on_run_finished(late, true, 0.0, &w),
            Decision::SleepUntilOpen(ts("2026-06-02T07:00:00+07:00"))
        );
        assert_eq!(
            s.decide(ts("2026-06-02T03:00:00+07:00"), &w),
            Decision::SleepUntilOpen(ts("2026-06-02T07:00:00+07:00"))
        );
        let early = ts("2026-06-02T07:00:00+07:00");
        assert_eq!(s.decide(early, &w), Decision::RunAt(early));
    }

    #[test]
    fn slots_are_epoch_multiples_of_the_interval() {
        let i = Duration::from_secs(5);
        let t = ts("2026-06-01T00:00:07.250Z");
        assert_eq!(slot_of(t, i), t.as_millisecond() / 5000);
        assert_eq!(next_slot_start(t, i), ts("2026-06-01T00:00:10Z"));
        assert_eq!(align_up(t, i), ts("2026-06-01T00:00:10Z"));
        let b = ts("2026-06-01T00:00:10Z");
        assert_eq!(align_up(b, i), b);
        // A boundary's next slot is the following one, never itself.
        assert_eq!(next_slot_start(b, i), ts("2026-06-01T00:00:15Z"));
        assert_eq!(slot_of(b, i) + 1, slot_of(next_slot_start(b, i), i));
    }

    #[test]
    fn aligned_runs_take_the_next_slot_not_one_interval_later() {
        let w = ActiveWindow::always_open();
        let i = Duration::from_secs(1);
        let mut s = Scheduler::new(SchedulerConfig {
            interval: i,
            ..SchedulerConfig::default()
        });
        // A run of slot 12:00:03 ends 200 ms in; the plain decision is 12:00:04.2.
        let end = ts("2026-06-01T12:00:03.200Z");
        let d = s.on_run_finished(end, true, 0.0, &w);
        assert_eq!(d, Decision::RunAt(ts("2026-06-01T12:00:04.200Z")));
        assert_eq!(
            align_decision(d, end, i, &s, &w),
            Decision::RunAt(ts("2026-06-01T12:00:04Z"))
        );
        // After a hard failure the backoff (5 s ceiling × 0.5) still wins over "next slot".
        let d = s.on_run_finished(end, false, 0.5, &w);
        assert_eq!(
            align_decision(d, end, i, &s, &w),
            Decision::RunAt(ts("2026-06-01T12:00:06Z"))
        );
        // A zero backoff never re-runs the slot just handled.
        let d = s.on_run_finished(end, false, 0.0, &w);
        assert_eq!(
            align_decision(d, end, i, &s, &w),
            Decision::RunAt(ts("2026-06-01T12:00:04Z"))
        );
    }

    #[test]
    fn durations_parse_by_the_one_rule() {
        assert_eq!(parse_duration("X", "1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("X", "500ms"), Ok(Duration::from_millis(500)));
        for bad in ["5", "0", "-5s", "fast", ""] {
            assert!(parse_duration("SNIPER_INTERVAL", bad).is_err(), "{bad}");
        }
        let bare = SchedulerArgs {
            interval: "5".into(),
            backoff_base: "5s".into(),
            backoff_cap: "60s".into(),
            not_ready_after: 3,
        };
        let e = bare.into_config().unwrap_err().to_string();
        assert!(
            e.contains("SNIPER_INTERVAL") && e.contains("500ms, 5s, 1m, 1h") && e.contains("5s"),
            "{e}"
        );
        let args = SchedulerArgs {
            interval: "5s".into(),
            backoff_base: "10s".into(),
            backoff_cap: "5s".into(),
            not_ready_after: 3,
        };
        assert!(matches!(
            args.into_config(),
            Err(SchedulerConfigError::CapBelowBase { .. })
        ));
    }

    #[test]
    fn liveness_tolerates_three_intervals() {
        let cfg = SchedulerConfig::default();
        let t0 = ts("2026-06-01T00:00:00Z");
        let status = SchedulerStatus::new(t0, &cfg);
        assert!(status.liveness(ts("2026-06-01T00:00:15Z")).ok);
        let p = status.liveness(ts("2026-06-01T00:00:16Z"));
        assert!(!p.ok);
        assert!(p.reason.contains("stuck"), "{}", p.reason);
        assert!(status.readiness().ok);
    }

    #[test]
    fn stuck_after_table() {
        let t0 = ts("2026-06-01T00:00:00Z");
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        // (running, run budget, interval, seconds after the heartbeat when it turns stuck)
        let cases = [
            // Sleeping: three intervals, at least MIN_STUCK_SLACK.
            (false, s(5), s(5), 15.0),
            (false, s(5), s(1), 10.0),
            (false, s(5), s(60), 180.0),
            // Running: the run budget on top (the 1 s interval, 5 s deadline).
            (true, s(5), s(1), 15.0),
            (true, s(30), s(5), 45.0),
            (true, ms(500), ms(100), 10.5),
        ];
        for (running, budget, interval, secs) in cases {
            let at = stuck_after(t0, running, budget, interval);
            assert_eq!(
                at.duration_since(t0).as_secs_f64(),
                secs,
                "running={running} budget={budget:?} interval={interval:?}"
            );
        }
        // Saturates instead of panicking.
        assert_eq!(
            stuck_after(Timestamp::MAX, true, s(5), s(5)),
            Timestamp::MAX
        );
    }

    /// The case: interval 1 s, a module answering in 4.5 s under a 5 s deadline. Sampled
    /// every 100 ms through the run, `/health` stays 200; a run stuck past its budget fails it.
    #[test]
    fn a_run_within_its_deadline_is_alive() {
        let cfg = SchedulerConfig {
            interval: Duration::from_secs(1),
            ..SchedulerConfig::default()
        };
        let t0 = ts("2026-06-01T00:00:00Z");
        let status = SchedulerStatus::with_run_budget(t0, &cfg, Duration::from_secs(5));
        status.update(|s| {
            s.running = true;
            s.heartbeat_due = t0;
        });
        for tenth in 0..=45 {
            let now = t0.checked_add(Duration::from_millis(100 * tenth)).unwrap();
            assert!(status.liveness(now).ok, "{now}");
        }
        let p = status.liveness(ts("2026-06-01T00:00:15.001Z"));
        assert!(!p.ok && p.reason.contains("run in flight"), "{}", p.reason);
        // Once finished and sleeping until the next run, the budget is no longer granted.
        status.update(|s| {
            s.running = false;
            s.heartbeat_due = ts("2026-06-01T00:00:05.5Z");
        });
        assert!(status.liveness(ts("2026-06-01T00:00:15.5Z")).ok);
        assert!(!status.liveness(ts("2026-06-01T00:00:15.6Z")).ok);
    }

    proptest::proptest! {
        /// Whatever the streak and the draw, the pause is within [0, min(cap, base·2^(n-1))], and
        /// exactly the interval with no failure.
        #[test]
        fn delay_is_within_the_full_jitter_bounds(failures in 0u32..200, unit in proptest::num::f64::ANY) {
            let w = ActiveWindow::always_open();
            let mut s = sched();
            let now = ts("2026-06-01T00:00:00Z");
            for _ in 0..failures {
                s.on_run_finished(now, false, 0.5, &w);
            }
            let d = s.delay(unit);
            if failures == 0 {
                proptest::prop_assert_eq!(d, DEFAULT_INTERVAL);
            } else {
                proptest::prop_assert!(d <= s.backoff_ceiling(failures));
                proptest::prop_assert!(d <= DEFAULT_BACKOFF_CAP);
            }
        }
    }
}
