//! Circuit breaker for one module: a pure state machine over a wall clock passed in.
//!
//! No IO and no clock reads: every method that needs the time takes `now: Timestamp`. The
//! clock is the wall clock (not `Instant`) so a snapshot of an open circuit means the same
//! thing after a restart — a paid endpoint's one-hour circuit survives `systemctl restart`.
//!
//! States: `Closed → Open → HalfOpen → Closed`, plus `ForcedOpen` and `Disabled` from
//! configuration ([`BreakerMode`]). Rules, per failure class:
//!
//! | class          | opens                     | for                                               |
//! |----------------|---------------------------|---------------------------------------------------|
//! | entitlement    | at once                   | `entitlement_open` (1 h), fixed                   |
//! | rate limited   | at once                   | `Retry-After` capped at `rate_limit_cap` (5 min); without it, the doubling schedule |
//! | auth           | at once                   | the doubling schedule                             |
//! | transient      | after `failure_threshold` (5) consecutive failures | the doubling schedule capped at `transient_max_open` (30 s) |
//! | bad payload    | like transient            | the doubling schedule                             |
//! | route missing  | never (discovery's job)   | —                                                 |
//!
//! The doubling schedule is Envoy's outlier ejection: `min(max_open, base_open · 2^n)` where
//! `n` counts the opens since the circuit last closed (30 s, 60 s, 120 s, 240 s, 300 s…); a
//! half-open probe that succeeds closes the circuit and resets `n`.
//!
//! - **Transient open time is capped at 30 s** (issue 18): an outage's circuit kept doubling to
//!   5 min, so a backend that healed was first probed up to 5 min later. With the cap, data
//!   resumes at most `transient_max_open` (+ one run interval) after the backend heals, and a
//!   10-minute outage at a 5-s cadence still sends 24 requests instead of 120 (80 % saved).
//!
//! Decisions documented here:
//! - **Auth opens at once but on the doubling schedule, not for an hour.** Bad credentials do
//!   not heal by themselves, so hammering is pointless; but they are fixed by an operator, and
//!   an hour-long circuit persisted across the restart that deploys the new key would be a
//!   surprise. The cost is one probe per ≤ 5 min.
//! - **Bad payload counts like transient.** A backend answering garbage N times in a row is
//!   broken; it is never retried ([`crate::resilience::retry`]) but does trip the breaker.
//! - **Results that arrive while Open are ignored** (they belong to requests admitted before
//!   the circuit opened and say nothing about now).
//! - **HalfOpen lets exactly one probe through.** If the probe's result never arrives (the
//!   module was cancelled), the slot expires after `base_open` and the next `admit` hands out
//!   a new probe, so the breaker cannot stay stuck half-open. A route-missing probe result
//!   frees the slot without deciding anything.
//! - **Disabled** means what Resilience4j means: always allow, never trip. **ForcedOpen**
//!   always rejects. Neither erases the underlying state, so un-forcing a module keeps its
//!   entitlement circuit.

use crate::module_id::ModuleId;
use crate::resilience::class::ErrorClass;
use crate::resilience::retry::exp_backoff;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Longest duration any breaker setting may have. Keeps typos (`--breaker-max-open-secs
/// 3000000`) from silencing a module for a month; a week is far beyond any useful circuit.
pub const MAX_SETTING: Duration = Duration::from_secs(7 * 24 * 3600);

/// Tuning of every breaker; one value for all modules. `Default` is the design's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// How long an entitlement failure (402, plan message) keeps the circuit open. The design's
    /// rule: one hour — a plan does not change by the minute.
    pub entitlement_open: Duration,
    /// Upper bound on a `Retry-After` wait. 5 min: a server asking for an hour is obeyed for
    /// five minutes, then probed.
    pub rate_limit_cap: Duration,
    /// Consecutive transient / bad-payload failures that open a closed circuit. 5: a blip or
    /// one bad run does not open it; 25 s of failures at a 5-s run cadence does.
    pub failure_threshold: u32,
    /// First open time of the doubling schedule (30 s, Envoy's default base ejection time).
    pub base_open: Duration,
    /// Cap of the doubling schedule (5 min).
    pub max_open: Duration,
    /// Cap of the doubling schedule for transient failures (30 s): how long a healed backend may
    /// wait for its first probe.
    pub transient_max_open: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            entitlement_open: Duration::from_secs(3600),
            rate_limit_cap: Duration::from_secs(300),
            failure_threshold: 5,
            base_open: Duration::from_secs(30),
            max_open: Duration::from_secs(300),
            transient_max_open: Duration::from_secs(30),
        }
    }
}

/// Why a [`BreakerConfig`] was refused. Each message names the setting and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakerConfigError {
    /// A threshold of 0 would open the circuit before any failure.
    #[error("breaker failure threshold must be at least 1 (got 0)")]
    ZeroThreshold,
    /// A zero duration would make the circuit useless (open for no time).
    #[error("breaker setting {field} must be greater than 0 s")]
    ZeroDuration {
        /// The setting's name.
        field: &'static str,
    },
    /// The doubling schedule must start at or below its cap.
    #[error("breaker base open time ({base:?}) must not exceed the max open time ({max:?})")]
    BaseOverMax {
        /// `base_open`.
        base: Duration,
        /// `max_open`.
        max: Duration,
    },
    /// Longer than [`MAX_SETTING`].
    #[error("breaker setting {field} is {got:?}, over the limit of {limit:?}; use a shorter value", limit = MAX_SETTING)]
    TooLong {
        /// The setting's name.
        field: &'static str,
        /// The value given.
        got: Duration,
    },
    /// The same module was both forced open and disabled.
    #[error("module {0} is both forced open and disabled; pick one")]
    ForcedAndDisabled(ModuleId),
}

impl BreakerConfig {
    /// Check the settings; the first problem found is returned.
    pub fn validate(&self) -> Result<(), BreakerConfigError> {
        if self.failure_threshold == 0 {
            return Err(BreakerConfigError::ZeroThreshold);
        }
        let durations = [
            ("entitlement_open", self.entitlement_open),
            ("rate_limit_cap", self.rate_limit_cap),
            ("base_open", self.base_open),
            ("max_open", self.max_open),
            ("transient_max_open", self.transient_max_open),
        ];
        for (field, d) in durations {
            if d.is_zero() {
                return Err(BreakerConfigError::ZeroDuration { field });
            }
            if d > MAX_SETTING {
                return Err(BreakerConfigError::TooLong { field, got: d });
            }
        }
        if self.base_open > self.max_open {
            return Err(BreakerConfigError::BaseOverMax {
                base: self.base_open,
                max: self.max_open,
            });
        }
        Ok(())
    }
}

/// How configuration says a module's breaker behaves, independent of traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerMode {
    /// The state machine decides.
    #[default]
    Normal,
    /// Always reject (operator switched the module off at the breaker).
    ForcedOpen,
    /// Always allow, never trip.
    Disabled,
}

/// Why a circuit is open: the label of the class that opened it, or `forced_open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenReason {
    /// Opened by an entitlement failure.
    Entitlement,
    /// Opened by an auth failure.
    Auth,
    /// Opened by a rate limit.
    RateLimited,
    /// Opened by consecutive transient failures.
    Transient,
    /// Opened by consecutive unusable payloads.
    BadPayload,
    /// Forced open by configuration.
    ForcedOpen,
}

impl OpenReason {
    /// The reason for a failure class; `None` for classes that never open the circuit.
    pub fn from_class(class: &ErrorClass) -> Option<OpenReason> {
        match class {
            ErrorClass::Entitlement { .. } => Some(OpenReason::Entitlement),
            ErrorClass::Auth { .. } => Some(OpenReason::Auth),
            ErrorClass::RateLimited { .. } => Some(OpenReason::RateLimited),
            ErrorClass::Transient { .. } => Some(OpenReason::Transient),
            ErrorClass::BadPayload { .. } => Some(OpenReason::BadPayload),
            ErrorClass::RouteMissing => None,
        }
    }

    /// Stable label: the class label (`entitlement`, `rate_limited`, …) or `forced_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            OpenReason::Entitlement => "entitlement",
            OpenReason::Auth => "auth",
            OpenReason::RateLimited => "rate_limited",
            OpenReason::Transient => "transient",
            OpenReason::BadPayload => "bad_payload",
            OpenReason::ForcedOpen => "forced_open",
        }
    }

    /// Does one failure of this kind open a closed circuit (rather than counting toward the
    /// threshold)?
    fn opens_at_once(self) -> bool {
        matches!(
            self,
            OpenReason::Entitlement | OpenReason::Auth | OpenReason::RateLimited
        )
    }
}

/// The state shown to people and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Requests flow; failures are counted.
    Closed,
    /// Requests are rejected until a time.
    Open,
    /// The next request is (or is being) a probe.
    HalfOpen,
    /// Rejected by configuration.
    ForcedOpen,
    /// Breaker switched off by configuration: always allows.
    Disabled,
}

impl BreakerState {
    /// Stable label (`closed`, `open`, `half_open`, `forced_open`, `disabled`), also a
    /// metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
            BreakerState::ForcedOpen => "forced_open",
            BreakerState::Disabled => "disabled",
        }
    }
}

/// The breaker's answer to "may this module call the network now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead; report the outcome with `on_success` / `on_failure`.
    Allow,
    /// Go ahead — this call is the half-open probe; its outcome decides the circuit.
    Probe,
    /// Do not touch the network; answer `<MODULE>_CIRCUIT_OPEN` with this reason, and `until`
    /// (when the next probe may go out; `None` when forced open).
    Reject {
        /// Why the circuit is open.
        reason: OpenReason,
        /// When a request will next be admitted, if known.
        until: Option<Timestamp>,
    },
}

/// What the run result and status page show about one module's breaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerView {
    /// Current state.
    pub state: BreakerState,
    /// Why it is open / half-open / forced open.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<OpenReason>,
    /// When it admits again (open: end of the open time; half-open with a probe out: when the
    /// probe slot expires).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub until: Option<Timestamp>,
    /// Failures (any class but route missing) since the last success.
    pub consecutive_failures: u32,
}

/// Internal phase of the state machine in `Normal` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Open {
        reason: OpenReason,
        until: Timestamp,
    },
    HalfOpen {
        reason: OpenReason,
        /// Set while a probe is out: when its slot expires.
        probe_until: Option<Timestamp>,
    },
}

/// One module's circuit breaker. Owned by whoever runs the module; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaker {
    cfg: BreakerConfig,
    mode: BreakerMode,
    phase: Phase,
    consecutive_failures: u32,
    /// Opens since the circuit last closed: the exponent of the doubling schedule.
    opens: u32,
}

impl Breaker {
    /// A closed breaker in `Normal` mode.
    pub fn new(cfg: BreakerConfig) -> Breaker {
        Breaker::with_mode(cfg, BreakerMode::Normal)
    }

    /// A breaker that always rejects.
    pub fn forced_open(cfg: BreakerConfig) -> Breaker {
        Breaker::with_mode(cfg, BreakerMode::ForcedOpen)
    }

    /// A breaker that always allows.
    pub fn disabled(cfg: BreakerConfig) -> Breaker {
        Breaker::with_mode(cfg, BreakerMode::Disabled)
    }

    /// A closed breaker in the given mode.
    pub fn with_mode(cfg: BreakerConfig, mode: BreakerMode) -> Breaker {
        Breaker {
            cfg,
            mode,
            phase: Phase::Closed,
            consecutive_failures: 0,
            opens: 0,
        }
    }

    /// Change the configured mode, keeping the underlying state (e.g. after `restore`).
    pub fn set_mode(&mut self, mode: BreakerMode) {
        self.mode = mode;
    }

    /// The configured mode.
    pub fn mode(&self) -> BreakerMode {
        self.mode
    }

    /// May a request go out at `now`? Hands out the half-open probe when its time has come.
    pub fn admit(&mut self, now: Timestamp) -> Admission {
        match self.mode {
            BreakerMode::Disabled => return Admission::Allow,
            BreakerMode::ForcedOpen => {
                return Admission::Reject {
                    reason: OpenReason::ForcedOpen,
                    until: None,
                };
            }
            BreakerMode::Normal => {}
        }
        match self.phase {
            Phase::Closed => Admission::Allow,
            Phase::Open { reason, until } if now < until => Admission::Reject {
                reason,
                until: Some(until),
            },
            Phase::HalfOpen {
                reason,
                probe_until: Some(t),
            } if now < t => Admission::Reject {
                reason,
                until: Some(t),
            },
            Phase::Open { reason, .. } | Phase::HalfOpen { reason, .. } => {
                self.phase = Phase::HalfOpen {
                    reason,
                    probe_until: Some(add(now, self.cfg.base_open)),
                };
                Admission::Probe
            }
        }
    }

    /// The admitted request produced usable data.
    pub fn on_success(&mut self, _now: Timestamp) {
        if self.mode != BreakerMode::Normal {
            return;
        }
        match self.phase {
            Phase::Closed => self.consecutive_failures = 0,
            Phase::HalfOpen { .. } => {
                self.phase = Phase::Closed;
                self.consecutive_failures = 0;
                self.opens = 0;
            }
            Phase::Open { .. } => {}
        }
    }

    /// The admitted request was answered deliberately by a healthy backend, but its failure is
    /// counted elsewhere (a per-symbol breaker: the backend refused that symbol). A half-open
    /// probe closes the circuit — the backend is up; a closed circuit is left as it is (its
    /// failure count is not reset, so one symbol's refusals cannot hide other failures).
    pub fn on_answered(&mut self, now: Timestamp) {
        if matches!(self.phase, Phase::HalfOpen { .. }) {
            self.on_success(now);
        }
    }

    /// The admitted request's outcome says nothing about this breaker (it was refused by another
    /// breaker, or failed for a reason counted elsewhere): a half-open probe's slot is freed so
    /// the next caller probes, without waiting for it to expire.
    pub fn on_no_verdict(&mut self, _now: Timestamp) {
        if self.mode != BreakerMode::Normal {
            return;
        }
        if let Phase::HalfOpen { reason, .. } = self.phase {
            self.phase = Phase::HalfOpen {
                reason,
                probe_until: None,
            };
        }
    }

    /// The admitted request failed with `class`.
    pub fn on_failure(&mut self, class: &ErrorClass, now: Timestamp) {
        if self.mode != BreakerMode::Normal {
            return;
        }
        let Some(reason) = OpenReason::from_class(class) else {
            // Route missing: no verdict on health. A probe that met it frees its slot.
            if let Phase::HalfOpen { reason, .. } = self.phase {
                self.phase = Phase::HalfOpen {
                    reason,
                    probe_until: None,
                };
            }
            return;
        };
        match self.phase {
            Phase::Open { .. } => {}
            Phase::Closed => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                if reason.opens_at_once() || self.consecutive_failures >= self.cfg.failure_threshold
                {
                    self.open(reason, class, now);
                }
            }
            Phase::HalfOpen { .. } => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                self.open(reason, class, now);
            }
        }
    }

    fn open(&mut self, reason: OpenReason, class: &ErrorClass, now: Timestamp) {
        let for_ = match class {
            ErrorClass::Entitlement { .. } => self.cfg.entitlement_open,
            ErrorClass::RateLimited {
                retry_after_secs: Some(s),
            } => Duration::from_secs(*s).min(self.cfg.rate_limit_cap),
            ErrorClass::Transient { .. } => {
                let cap = self.cfg.max_open.min(self.cfg.transient_max_open);
                exp_backoff(self.cfg.base_open.min(cap), cap, self.opens)
            }
            _ => exp_backoff(self.cfg.base_open, self.cfg.max_open, self.opens),
        };
        self.opens = self.opens.saturating_add(1);
        tracing::debug!(
            reason = reason.as_str(),
            open_secs = for_.as_secs(),
            opens = self.opens,
            "circuit opened"
        );
        self.phase = Phase::Open {
            reason,
            until: add(now, for_),
        };
    }

    /// The state at `now` (an open circuit whose time is up reads as half-open).
    pub fn state(&self, now: Timestamp) -> BreakerState {
        match self.mode {
            BreakerMode::ForcedOpen => return BreakerState::ForcedOpen,
            BreakerMode::Disabled => return BreakerState::Disabled,
            BreakerMode::Normal => {}
        }
        match self.phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { until, .. } if now < until => BreakerState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// What the run result shows for this module at `now`.
    pub fn view(&self, now: Timestamp) -> BreakerView {
        let state = self.state(now);
        let (reason, until) = match (self.mode, self.phase) {
            (BreakerMode::ForcedOpen, _) => (Some(OpenReason::ForcedOpen), None),
            (BreakerMode::Disabled, _) | (BreakerMode::Normal, Phase::Closed) => (None, None),
            (BreakerMode::Normal, Phase::Open { reason, until }) => {
                (Some(reason), (now < until).then_some(until))
            }
            (
                BreakerMode::Normal,
                Phase::HalfOpen {
                    reason,
                    probe_until,
                },
            ) => (Some(reason), probe_until.filter(|t| now < *t)),
        };
        BreakerView {
            state,
            reason,
            until,
            consecutive_failures: self.consecutive_failures,
        }
    }

    /// The state as data, to persist. The mode is configuration and is not included; an
    /// outstanding probe is not included either (after a restart no request is in flight).
    pub fn snapshot(&self) -> BreakerSnapshot {
        let phase = match self.phase {
            Phase::Closed => SnapshotPhase::Closed,
            Phase::Open { reason, until } => SnapshotPhase::Open { reason, until },
            Phase::HalfOpen { reason, .. } => SnapshotPhase::HalfOpen { reason },
        };
        BreakerSnapshot {
            phase,
            consecutive_failures: self.consecutive_failures,
            opens: self.opens,
        }
    }

    /// A `Normal`-mode breaker from a snapshot (apply the configured mode with `set_mode`).
    pub fn restore(cfg: BreakerConfig, snap: BreakerSnapshot) -> Breaker {
        let phase = match snap.phase {
            SnapshotPhase::Closed => Phase::Closed,
            SnapshotPhase::Open { reason, until } => Phase::Open { reason, until },
            SnapshotPhase::HalfOpen { reason } => Phase::HalfOpen {
                reason,
                probe_until: None,
            },
        };
        Breaker {
            cfg,
            mode: BreakerMode::Normal,
            phase,
            consecutive_failures: snap.consecutive_failures,
            opens: snap.opens,
        }
    }
}

/// A breaker's state as plain data (serde), for the store: a restart must not forget a paid
/// endpoint's open circuit. JSON: `{"phase":{"state":"open","reason":"entitlement",
/// "until":"2025-01-01T10:00:00Z"},"consecutive_failures":1,"opens":1}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerSnapshot {
    phase: SnapshotPhase,
    consecutive_failures: u32,
    opens: u32,
}

/// The phase part of a [`BreakerSnapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum SnapshotPhase {
    Closed,
    Open {
        reason: OpenReason,
        until: Timestamp,
    },
    HalfOpen {
        reason: OpenReason,
    },
}

/// `now + d`, saturating at the end of jiff's range instead of failing.
fn add(now: Timestamp, d: Duration) -> Timestamp {
    now.saturating_add(d).unwrap_or(Timestamp::MAX)
}

/// Validated breaker settings: the shared config plus each module's mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Shared tuning.
    pub config: BreakerConfig,
    /// Modules not in `Normal` mode.
    pub modes: BTreeMap<ModuleId, BreakerMode>,
}

impl BreakerSettings {
    /// The configured mode of `module`.
    pub fn mode(&self, module: ModuleId) -> BreakerMode {
        self.modes.get(&module).copied().unwrap_or_default()
    }

    /// A fresh breaker for `module` in its configured mode.
    pub fn breaker(&self, module: ModuleId) -> Breaker {
        Breaker::with_mode(self.config, self.mode(module))
    }
}

/// What a scripted replay of runs through one breaker cost the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Runs replayed.
    pub runs: u32,
    /// Requests the breaker let through (allowed + probes).
    pub sent: u32,
    /// Runs answered `CIRCUIT_OPEN` without touching the network.
    pub rejected: u32,
    /// Times at which a request went out.
    pub sent_at: Vec<Timestamp>,
    /// The first run whose request succeeded, if any.
    pub first_success: Option<Timestamp>,
}

/// Replay `runs` runs, one every `every` starting at `start`, through a fresh breaker; the
/// backend's answer at time `t` is `backend(t)`. Pure: a fake clock, no sleeping. This is what
/// the closing note's "requests saved over a 10-minute outage" figure comes from.
pub fn replay(
    cfg: BreakerConfig,
    start: Timestamp,
    every: Duration,
    runs: u32,
    mut backend: impl FnMut(Timestamp) -> Result<(), ErrorClass>,
) -> ReplayReport {
    let mut breaker = Breaker::new(cfg);
    let mut report = ReplayReport {
        runs,
        sent: 0,
        rejected: 0,
        sent_at: Vec::new(),
        first_success: None,
    };
    let mut now = start;
    for _ in 0..runs {
        match breaker.admit(now) {
            Admission::Reject { .. } => report.rejected += 1,
            Admission::Allow | Admission::Probe => {
                report.sent += 1;
                report.sent_at.push(now);
                match backend(now) {
                    Ok(()) => {
                        breaker.on_success(now);
                        report.first_success.get_or_insert(now);
                    }
                    Err(class) => breaker.on_failure(&class, now),
                }
            }
        }
        now = add(now, every);
    }
    report
}

#[cfg(test)]
mod tests;
