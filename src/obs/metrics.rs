//! Prometheus metrics of the daemon (`/metrics`), with bounded, typed label values.
//!
//! Every label value is an enum of this crate ([`ModuleId`], [`RunOutcome`], [`BreakerState`],
//! [`RequestClass`], [`AlertChannel`], [`DeliveryResult`]): no symbol, URL or error text can ever
//! become a label, so the series count is fixed by the code (at most 5 modules × 7 classes for the
//! largest family).
//!
//! Counter names: prometheus-client appends `_total` to a counter's samples, so counters are
//! registered without it (`sniper_soft_fail` is exposed as `sniper_soft_fail_total`).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::module_id::ModuleId;
use crate::resilience::class::ErrorClass;
use crate::trigger::Trigger;

/// The `Content-Type` of [`Metrics::encode`]'s output, for the `/metrics` response.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How a whole run ended, for `sniper_runs_total{outcome}`.
///
/// Exists because "success" alone hides degraded runs: `partial` is a success (it resets backoff
/// and readiness) in which at least one module soft-failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunOutcome {
    /// Every module that ran produced data.
    Success,
    /// The run succeeded but at least one module soft-failed.
    Partial,
    /// A hard failure: the run produced nothing usable.
    Failure,
}

impl RunOutcome {
    /// All outcomes, for pre-initialising series.
    pub const ALL: [RunOutcome; 3] = [
        RunOutcome::Success,
        RunOutcome::Partial,
        RunOutcome::Failure,
    ];

    /// The label value: `success`, `partial`, `failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Success => "success",
            RunOutcome::Partial => "partial",
            RunOutcome::Failure => "failure",
        }
    }

    /// The one rule for how a run ended: `failure` when no module produced data, `partial` when
    /// it did but some module was degraded (soft-failed, or hit a hard error such as a panic),
    /// else `success`. `RunResult::outcome` (run layer) and the scheduler's run summary apply it;
    /// `/api/status`, the history and `sniper_runs_total` all read it from there.
    pub fn classify(success: bool, degraded: bool) -> RunOutcome {
        match (success, degraded) {
            (false, _) => RunOutcome::Failure,
            (true, false) => RunOutcome::Success,
            (true, true) => RunOutcome::Partial,
        }
    }
}

/// A circuit breaker's state, for `sniper_breaker_state{module,state}` (one series per state, the
/// current one at 1). Its own enum so the metric never depends on how the breaker names itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls are short-circuited.
    Open,
    /// One probe call is allowed.
    HalfOpen,
}

impl BreakerState {
    /// All states, so that setting one clears the others.
    pub const ALL: [BreakerState; 3] = [
        BreakerState::Closed,
        BreakerState::Open,
        BreakerState::HalfOpen,
    ];

    /// The label value: `closed`, `open`, `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// Parses `closed`, `open`, `half_open` (also `half-open`, `halfopen`, any case).
    pub fn parse(s: &str) -> Option<BreakerState> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "closed" => Some(BreakerState::Closed),
            "open" => Some(BreakerState::Open),
            "half_open" | "halfopen" => Some(BreakerState::HalfOpen),
            _ => None,
        }
    }
}

/// The outcome class of one upstream request, for `sniper_upstream_requests_total{module,class}`:
/// `ok` or one of [`ErrorClass::label`]'s values. Drops the variants' data (status codes,
/// Retry-After) so the label stays bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestClass {
    /// The request produced usable data.
    Ok,
    /// [`ErrorClass::Entitlement`].
    Entitlement,
    /// [`ErrorClass::Auth`].
    Auth,
    /// [`ErrorClass::RouteMissing`].
    RouteMissing,
    /// [`ErrorClass::RateLimited`].
    RateLimited,
    /// [`ErrorClass::Transient`].
    Transient,
    /// [`ErrorClass::BadPayload`].
    BadPayload,
}

impl RequestClass {
    /// All classes, for pre-initialising series.
    pub const ALL: [RequestClass; 7] = [
        RequestClass::Ok,
        RequestClass::Entitlement,
        RequestClass::Auth,
        RequestClass::RouteMissing,
        RequestClass::RateLimited,
        RequestClass::Transient,
        RequestClass::BadPayload,
    ];

    /// `ok` for success, otherwise the error's class.
    pub fn of(error: Option<&ErrorClass>) -> RequestClass {
        match error {
            None => RequestClass::Ok,
            Some(ErrorClass::Entitlement { .. }) => RequestClass::Entitlement,
            Some(ErrorClass::Auth { .. }) => RequestClass::Auth,
            Some(ErrorClass::RouteMissing) => RequestClass::RouteMissing,
            Some(ErrorClass::RateLimited { .. }) => RequestClass::RateLimited,
            Some(ErrorClass::Transient { .. }) => RequestClass::Transient,
            Some(ErrorClass::BadPayload { .. }) => RequestClass::BadPayload,
        }
    }

    /// The label value; equal to [`ErrorClass::label`] for errors.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestClass::Ok => "ok",
            RequestClass::Entitlement => "entitlement",
            RequestClass::Auth => "auth",
            RequestClass::RouteMissing => "route_missing",
            RequestClass::RateLimited => "rate_limited",
            RequestClass::Transient => "transient",
            RequestClass::BadPayload => "bad_payload",
        }
    }
}

/// Where an alert was sent, for `sniper_alert_deliveries_total{channel,result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertChannel {
    /// `ALERT_WEBHOOK_URL`.
    Webhook,
    /// Telegram's `sendMessage`.
    Telegram,
}

impl AlertChannel {
    /// The label value: `webhook`, `telegram`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertChannel::Webhook => "webhook",
            AlertChannel::Telegram => "telegram",
        }
    }
}

/// Which store operation failed, for `sniper_store_errors_total{op}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreOp {
    /// Writing a run's history row.
    SaveRun,
    /// Writing a breaker snapshot.
    SaveBreaker,
    /// Writing a learned route.
    SaveRoute,
}

impl StoreOp {
    /// All operations, for pre-initialising series.
    pub const ALL: [StoreOp; 3] = [StoreOp::SaveRun, StoreOp::SaveBreaker, StoreOp::SaveRoute];

    /// The label value: `save_run`, `save_breaker`, `save_route`.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreOp::SaveRun => "save_run",
            StoreOp::SaveBreaker => "save_breaker",
            StoreOp::SaveRoute => "save_route",
        }
    }
}

/// What one delivery attempt came to, for `sniper_alert_deliveries_total{channel,result}` and
/// `sniper_signal_deliveries_total{channel,result}` (issue 24's rules: `crate::notify::classify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryResult {
    /// A 2xx answer.
    Ok,
    /// Timeout, connection error or a non-2xx answer (retried, or given up later).
    Failed,
    /// A webhook redirect: 301/302/303 (not delivered) or a 307/308 hop refused.
    Redirected,
    /// A 429 (or a call held back while its `retry_after` runs).
    RateLimited,
    /// Telegram moved the chat (`migrate_to_chat_id`); counted once per migration followed.
    Migrated,
    /// No more attempts: the delivery failed for good (shown as `gave_up`).
    GaveUp,
    /// Not sent: muted (`/mute`) or its event kind is `off`.
    Muted,
}

impl DeliveryResult {
    /// Every result, for pre-initialising series.
    pub const ALL: [DeliveryResult; 7] = [
        DeliveryResult::Ok,
        DeliveryResult::Failed,
        DeliveryResult::Redirected,
        DeliveryResult::RateLimited,
        DeliveryResult::Migrated,
        DeliveryResult::GaveUp,
        DeliveryResult::Muted,
    ];

    /// The label value: `ok`, `failed`, `redirected`, `rate_limited`, `migrated`, `gave_up`,
    /// `muted`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryResult::Ok => "ok",
            DeliveryResult::Failed => "failed",
            DeliveryResult::Redirected => "redirected",
            DeliveryResult::RateLimited => "rate_limited",
            DeliveryResult::Migrated => "migrated",
            DeliveryResult::GaveUp => "gave_up",
            DeliveryResult::Muted => "muted",
        }
    }

    /// The result of a failed attempt, from its label (`notify::Failure::label`: the notifier
    /// sits above this layer, so it hands the label down).
    pub fn of_failure_label(label: &str) -> DeliveryResult {
        match label {
            "rate_limited" => DeliveryResult::RateLimited,
            "migrated" => DeliveryResult::Migrated,
            "redirected" => DeliveryResult::Redirected,
            _ => DeliveryResult::Failed,
        }
    }
}

/// What became of one Telegram update (`sniper_telegram_updates_total{result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TelegramUpdate {
    /// A command or button from a configured chat, answered.
    Answered,
    /// From a chat that is not configured: ignored.
    IgnoredChat,
    /// From a configured chat over its command rate: dropped.
    RateLimited,
    /// Not a command (plain text, an edit, another update kind): ignored.
    Other,
}

impl TelegramUpdate {
    /// Every result.
    pub const ALL: [TelegramUpdate; 4] = [
        TelegramUpdate::Answered,
        TelegramUpdate::IgnoredChat,
        TelegramUpdate::RateLimited,
        TelegramUpdate::Other,
    ];

    /// The label value: `answered`, `ignored_chat`, `rate_limited`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            TelegramUpdate::Answered => "answered",
            TelegramUpdate::IgnoredChat => "ignored_chat",
            TelegramUpdate::RateLimited => "rate_limited",
            TelegramUpdate::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TelegramUpdateLabels {
    result: TelegramUpdate,
}

/// Level of a signal call enqueued for delivery, for `sniper_signals_total{level,direction}`
/// (the signals layer maps its grade to this; a call graded `none` is never enqueued).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalLevel {
    /// Worth watching.
    Watch,
    /// Worth acting on.
    Action,
}

impl SignalLevel {
    /// The label value: `watch`, `action`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalLevel::Watch => "watch",
            SignalLevel::Action => "action",
        }
    }
}

/// Direction of a signal call, for `sniper_signals_total{level,direction}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SignalDirection {
    Long,
    Short,
    None,
}

impl SignalDirection {
    fn as_str(self) -> &'static str {
        match self {
            SignalDirection::Long => "long",
            SignalDirection::Short => "short",
            SignalDirection::None => "none",
        }
    }
}

macro_rules! label_value {
    ($($t:ty),*) => {$(
        impl EncodeLabelValue for $t {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
                encoder.write_str(self.as_str())
            }
        }
    )*};
}
label_value!(
    ModuleId,
    RunOutcome,
    BreakerState,
    RequestClass,
    AlertChannel,
    DeliveryResult,
    TelegramUpdate,
    StoreOp,
    Trigger,
    SignalDirection,
    SignalLevel
);

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SignalLabels {
    level: SignalLevel,
    direction: SignalDirection,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ModuleLabels {
    module: ModuleId,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabels {
    trigger: Trigger,
    outcome: RunOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StoreLabels {
    op: StoreOp,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BreakerLabels {
    module: ModuleId,
    state: BreakerState,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct UpstreamLabels {
    module: ModuleId,
    class: RequestClass,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AlertLabels {
    channel: AlertChannel,
    result: DeliveryResult,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Buckets of `sniper_run_duration_seconds`: 50 ms … ~102 s (a run is bounded by module timeouts).
fn run_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.0, 12))
}

/// Buckets of `sniper_module_duration_seconds`: 10 ms … ~20 s.
fn module_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 12))
}

/// The daemon's metrics: one registry and typed handles to every series.
///
/// Exists so the runner, scheduler and alerter record through a small typed API
/// (`record_run`, `record_module`, …) and never touch metric names or label strings; shared as
/// `Arc<Metrics>` (every handle is atomic).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    soft_fail: Family<ModuleLabels, Counter>,
    hard_fail: Counter,
    consecutive_failures: Gauge,
    modules_active: Gauge,
    runs: Family<OutcomeLabels, Counter>,
    run_duration: Histogram,
    module_duration: HistogramFamily<ModuleLabels>,
    breaker_state: Family<BreakerLabels, Gauge>,
    upstream_requests: Family<UpstreamLabels, Counter>,
    in_window: Gauge,
    alert_deliveries: Family<AlertLabels, Counter>,
    signals: Family<SignalLabels, Counter>,
    signal_deliveries: Family<AlertLabels, Counter>,
    telegram_updates: Family<TelegramUpdateLabels, Counter>,
    store_errors: Family<StoreLabels, Counter>,
    cost: CostMetrics,
    /// `sniper_module_last_usable_timestamp_seconds{module}` (issue 22 item 11).
    last_usable: Family<ModuleLabels, Gauge>,
    score: ScoreMetrics,
}

/// The scorecard's gauges (issue 23), per level, direction and horizon; set whenever the track
/// records are scored (series appear once a kind of call has been scored).
#[derive(Debug, Default)]
struct ScoreMetrics {
    /// `sniper_score_hit_rate{level,direction,horizon}`: fraction of 1.
    hit_rate: Family<ScoreLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// `sniper_score_ci95_low` / `_high`: Wilson 95 % interval of the hit rate.
    ci95_low: Family<ScoreLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    ci95_high: Family<ScoreLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// `sniper_score_resolved{…}`: resolved calls behind the rate.
    resolved: Family<ScoreLabels, Gauge>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ScoreLabels {
    level: String,
    direction: String,
    horizon: String,
}

/// What the backend budget and freshness save.
#[derive(Debug)]
struct CostMetrics {
    /// `sniper_requests_saved_total{reason="fresh|not_modified|deferred"}`.
    saved: Family<ReasonLabels, Counter>,
    /// `sniper_budget_spent_total{consumer}`.
    spent: Family<ConsumerLabels, Counter>,
    /// `sniper_budget_remaining{consumer}`: requests left in the consumer's share right now
    /// (absent while the budget is unlimited).
    remaining: Family<ConsumerLabels, Gauge>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ConsumerLabels {
    consumer: &'static str,
}

impl Metrics {
    /// A fresh registry with every metric registered. Counter series with a bounded label set are
    /// created at 0 up front, so `rate()` and `increase()` see the first event.
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::default();
        let soft_fail = Family::<ModuleLabels, Counter>::default();
        let hard_fail = Counter::default();
        let consecutive_failures = Gauge::default();
        let modules_active = Gauge::default();
        let runs = Family::<OutcomeLabels, Counter>::default();
        let run_duration = run_histogram();
        let module_duration: HistogramFamily<ModuleLabels> =
            Family::new_with_constructor(module_histogram);
        let breaker_state = Family::<BreakerLabels, Gauge>::default();
        let upstream_requests = Family::<UpstreamLabels, Counter>::default();
        let in_window = Gauge::default();
        let alert_deliveries = Family::<AlertLabels, Counter>::default();
        let store_errors = Family::<StoreLabels, Counter>::default();

        registry.register(
            "sniper_soft_fail",
            "Modules that soft-failed in a run (degraded, the run went on), by module",
            soft_fail.clone(),
        );
        registry.register(
            "sniper_hard_fail",
            "Runs that failed hard (nothing usable)",
            hard_fail.clone(),
        );
        registry.register(
            "sniper_consecutive_failures",
            "Hard failures in a row; 0 after any successful run",
            consecutive_failures.clone(),
        );
        registry.register(
            "sniper_modules_active",
            "Modules that produced data in the last run",
            modules_active.clone(),
        );
        registry.register(
            "sniper_runs",
            "Finished runs by trigger (schedule, manual, replica) and outcome (success, partial, failure)",
            runs.clone(),
        );
        registry.register(
            "sniper_run_duration_seconds",
            "Wall time of one run",
            run_duration.clone(),
        );
        registry.register(
            "sniper_module_duration_seconds",
            "Wall time of one module call, by module",
            module_duration.clone(),
        );
        registry.register(
            "sniper_breaker_state",
            "Circuit breaker state by module: 1 for the current state, 0 for the others",
            breaker_state.clone(),
        );
        registry.register(
            "sniper_upstream_requests",
            "Upstream requests by module and outcome class (ok or the error class)",
            upstream_requests.clone(),
        );
        registry.register(
            "sniper_in_active_window",
            "1 while inside the active trading window, else 0",
            in_window.clone(),
        );
        registry.register(
            "sniper_alert_deliveries",
            "Alert deliveries by channel and result",
            alert_deliveries.clone(),
        );
        registry.register(
            "sniper_store_errors",
            "Failed store operations (disk full, I/O, lock timeout) by operation",
            store_errors.clone(),
        );

        for module in ModuleId::ALL {
            let _ = soft_fail.get_or_create(&ModuleLabels { module });
            for class in RequestClass::ALL {
                let _ = upstream_requests.get_or_create(&UpstreamLabels { module, class });
            }
        }
        for trigger in Trigger::ALL {
            for outcome in RunOutcome::ALL {
                let _ = runs.get_or_create(&OutcomeLabels { trigger, outcome });
            }
        }
        for op in StoreOp::ALL {
            let _ = store_errors.get_or_create(&StoreLabels { op });
        }
        let signals = Family::<SignalLabels, Counter>::default();
        let signal_deliveries = Family::<AlertLabels, Counter>::default();
        registry.register(
            "sniper_signals",
            "Signal calls enqueued for delivery by level and direction",
            signals.clone(),
        );
        registry.register(
            "sniper_signal_deliveries",
            "Signal delivery attempts by channel and result",
            signal_deliveries.clone(),
        );
        for channel in [AlertChannel::Webhook, AlertChannel::Telegram] {
            for result in DeliveryResult::ALL {
                let _ = alert_deliveries.get_or_create(&AlertLabels { channel, result });
                let _ = signal_deliveries.get_or_create(&AlertLabels { channel, result });
            }
        }
        let telegram_updates = Family::<TelegramUpdateLabels, Counter>::default();
        registry.register(
            "sniper_telegram_updates",
            "Telegram updates (commands, buttons) by result: answered, ignored_chat, rate_limited, other",
            telegram_updates.clone(),
        );
        for result in TelegramUpdate::ALL {
            let _ = telegram_updates.get_or_create(&TelegramUpdateLabels { result });
        }
        for level in [SignalLevel::Watch, SignalLevel::Action] {
            for direction in [SignalDirection::Long, SignalDirection::Short] {
                let _ = signals.get_or_create(&SignalLabels { level, direction });
            }
        }

        let cost = CostMetrics {
            saved: Family::default(),
            spent: Family::default(),
            remaining: Family::default(),
        };
        for reason in ["fresh", "not_modified", "deferred"] {
            let _ = cost.saved.get_or_create(&ReasonLabels { reason });
        }
        for consumer in ["scheduled", "manual", "gateway"] {
            let _ = cost.spent.get_or_create(&ConsumerLabels { consumer });
        }
        let last_usable = Family::<ModuleLabels, Gauge>::default();
        registry.register(
            "sniper_module_last_usable_timestamp_seconds",
            "When each module last delivered usable market data (any symbol), Unix seconds; absent until it has",
            last_usable.clone(),
        );
        registry.register(
            "sniper_requests_saved",
            "Backend requests not sent: data still fresh, 304 Not Modified, deferred by the budget",
            cost.saved.clone(),
        );
        registry.register(
            "sniper_budget_spent",
            "Backend requests spent from the budget, by consumer",
            cost.spent.clone(),
        );
        registry.register(
            "sniper_budget_remaining",
            "Requests left in each consumer's share of SNIPER_BUDGET_PER_MIN",
            cost.remaining.clone(),
        );
        let score = ScoreMetrics::default();
        registry.register(
            "sniper_score_hit_rate",
            "Scorecard: hit rate of graded calls (last 30 days) by level, direction and horizon",
            score.hit_rate.clone(),
        );
        registry.register(
            "sniper_score_ci95_low",
            "Scorecard: lower bound of the hit rate's Wilson 95 % interval",
            score.ci95_low.clone(),
        );
        registry.register(
            "sniper_score_ci95_high",
            "Scorecard: upper bound of the hit rate's Wilson 95 % interval",
            score.ci95_high.clone(),
        );
        registry.register(
            "sniper_score_resolved",
            "Scorecard: resolved calls behind the hit rate",
            score.resolved.clone(),
        );
        Arc::new(Metrics {
            score,
            cost,
            last_usable,
            registry,
            soft_fail,
            hard_fail,
            consecutive_failures,
            modules_active,
            runs,
            run_duration,
            module_duration,
            breaker_state,
            upstream_requests,
            in_window,
            alert_deliveries,
            store_errors,
            signals,
            signal_deliveries,
            telegram_updates,
        })
    }

    /// One backend request not sent, and why (`fresh`, `not_modified`, `deferred`).
    pub fn record_saved(&self, reason: &'static str) {
        self.cost
            .saved
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// One request spent from `consumer`'s share; `remaining` in that share (`None`: unlimited).
    pub fn record_budget(&self, consumer: &'static str, remaining: Option<u32>) {
        self.cost
            .spent
            .get_or_create(&ConsumerLabels { consumer })
            .inc();
        if let Some(r) = remaining {
            self.cost
                .remaining
                .get_or_create(&ConsumerLabels { consumer })
                .set(i64::from(r));
        }
    }

    /// Records one finished scheduled run: [`Metrics::record_run_by`] with `trigger=schedule`.
    pub fn record_run(
        &self,
        outcome: RunOutcome,
        duration: Duration,
        modules_active: usize,
        soft_fails: &[ModuleId],
    ) {
        self.record_run_by(
            Trigger::Schedule,
            outcome,
            duration,
            modules_active,
            soft_fails,
        );
    }

    /// Records one finished run: its trigger and outcome (and `sniper_hard_fail_total` for a
    /// failure), its duration, how many modules produced data, and which modules soft-failed.
    pub fn record_run_by(
        &self,
        trigger: Trigger,
        outcome: RunOutcome,
        duration: Duration,
        modules_active: usize,
        soft_fails: &[ModuleId],
    ) {
        self.runs
            .get_or_create(&OutcomeLabels { trigger, outcome })
            .inc();
        if outcome == RunOutcome::Failure {
            self.hard_fail.inc();
        }
        self.run_duration.observe(duration.as_secs_f64());
        self.modules_active
            .set(i64::try_from(modules_active).unwrap_or(i64::MAX));
        for &module in soft_fails {
            self.soft_fail.get_or_create(&ModuleLabels { module }).inc();
        }
    }

    /// Records one module call: its upstream outcome class (`None` = ok) and its latency.
    pub fn record_module(&self, module: ModuleId, error: Option<&ErrorClass>, latency: Duration) {
        let class = RequestClass::of(error);
        self.upstream_requests
            .get_or_create(&UpstreamLabels { module, class })
            .inc();
        self.module_duration
            .get_or_create(&ModuleLabels { module })
            .observe(latency.as_secs_f64());
    }

    /// Sets `sniper_module_last_usable_timestamp_seconds{module}` to `at` (Unix seconds).
    pub fn set_last_usable(&self, module: ModuleId, at: jiff::Timestamp) {
        self.last_usable
            .get_or_create(&ModuleLabels { module })
            .set(at.as_second());
    }

    /// Sets `sniper_breaker_state{module,state}`: 1 for `state`, 0 for the other states.
    pub fn set_breaker_state(&self, module: ModuleId, state: BreakerState) {
        for s in BreakerState::ALL {
            self.breaker_state
                .get_or_create(&BreakerLabels { module, state: s })
                .set(i64::from(s == state));
        }
    }

    /// Sets `sniper_consecutive_failures`.
    pub fn set_consecutive_failures(&self, n: u32) {
        self.consecutive_failures.set(i64::from(n));
    }

    /// Sets `sniper_in_active_window` to 1 or 0.
    pub fn set_in_window(&self, in_window: bool) {
        self.in_window.set(i64::from(in_window));
    }

    /// Counts one failed store operation (`sniper_store_errors_total{op}`).
    pub fn record_store_error(&self, op: StoreOp) {
        self.store_errors.get_or_create(&StoreLabels { op }).inc();
    }

    /// Counts one alert delivery attempt.
    pub fn record_alert_delivery(&self, channel: AlertChannel, result: DeliveryResult) {
        self.alert_deliveries
            .get_or_create(&AlertLabels { channel, result })
            .inc();
    }

    /// Counts one signal call enqueued for delivery.
    pub fn record_signal(&self, level: SignalLevel, direction: crate::market::Direction) {
        let direction = match direction {
            crate::market::Direction::Long => SignalDirection::Long,
            crate::market::Direction::Short => SignalDirection::Short,
            crate::market::Direction::Neutral => SignalDirection::None,
        };
        self.signals
            .get_or_create(&SignalLabels { level, direction })
            .inc();
    }

    /// Set the scorecard gauges of one kind of call (`level`, `direction`) at `horizon`.
    pub fn set_score(
        &self,
        level: &str,
        direction: &str,
        horizon: &str,
        resolved: u64,
        hit_rate: Option<f64>,
        ci95: Option<[f64; 2]>,
    ) {
        let l = ScoreLabels {
            level: level.to_string(),
            direction: direction.to_string(),
            horizon: horizon.to_string(),
        };
        self.score
            .resolved
            .get_or_create(&l)
            .set(i64::try_from(resolved).unwrap_or(i64::MAX));
        if let (Some(r), Some([lo, hi])) = (hit_rate, ci95) {
            self.score.hit_rate.get_or_create(&l).set(r);
            self.score.ci95_low.get_or_create(&l).set(lo);
            self.score.ci95_high.get_or_create(&l).set(hi);
        }
    }

    /// Counts one signal delivery attempt.
    pub fn record_signal_delivery(&self, channel: AlertChannel, result: DeliveryResult) {
        self.signal_deliveries
            .get_or_create(&AlertLabels { channel, result })
            .inc();
    }

    /// Counts one Telegram update by what became of it.
    pub fn record_telegram_update(&self, result: TelegramUpdate) {
        self.telegram_updates
            .get_or_create(&TelegramUpdateLabels { result })
            .inc();
    }

    /// The OpenMetrics text exposition (serve with [`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            // Writing to a String cannot fail; a label encoder could, and a partial scrape is
            // still more useful than none.
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::class::{PayloadKind, TransientKind};
    use std::collections::{BTreeMap, BTreeSet};

    /// One parsed sample: name, labels, value.
    #[derive(Debug)]
    struct Sample {
        name: String,
        labels: BTreeMap<String, String>,
        value: f64,
    }

    /// A tiny OpenMetrics text parser: `# TYPE` lines into a family → type map, samples into
    /// [`Sample`]s. Fails the test on any line it does not understand.
    fn parse(text: &str) -> (BTreeMap<String, String>, Vec<Sample>) {
        let mut types = BTreeMap::new();
        let mut samples = Vec::new();
        let mut saw_eof = false;
        for line in text.lines() {
            assert!(!saw_eof, "content after # EOF: {line}");
            if line == "# EOF" {
                saw_eof = true;
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, ty) = rest.split_once(' ').unwrap();
                assert!(types.insert(name.to_string(), ty.to_string()).is_none());
            } else if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            } else {
                let (head, value) = line.rsplit_once(' ').unwrap();
                let value: f64 = value.parse().unwrap();
                let (name, labels) = match head.split_once('{') {
                    None => (head.to_string(), BTreeMap::new()),
                    Some((name, rest)) => {
                        let body = rest.strip_suffix('}').unwrap();
                        let labels = body
                            .split(',')
                            .filter(|kv| !kv.is_empty())
                            .map(|kv| {
                                let (k, v) = kv.split_once('=').unwrap();
                                let v = v.strip_prefix('"').unwrap().strip_suffix('"').unwrap();
                                (k.to_string(), v.to_string())
                            })
                            .collect();
                        (name.to_string(), labels)
                    }
                };
                samples.push(Sample {
                    name,
                    labels,
                    value,
                });
            }
        }
        assert!(saw_eof, "no # EOF");
        (types, samples)
    }

    fn keys(s: &Sample) -> BTreeSet<&str> {
        s.labels.keys().map(String::as_str).collect()
    }

    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let found: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.name == name && s.labels == want)
            .collect();
        assert_eq!(found.len(), 1, "{name} {labels:?}");
        found[0].value
    }

    fn populated() -> Arc<Metrics> {
        let m = Metrics::new();
        m.record_run(
            RunOutcome::Partial,
            Duration::from_millis(300),
            4,
            &[ModuleId::Etf],
        );
        m.record_run(RunOutcome::Failure, Duration::from_secs(2), 0, &[]);
        m.record_run_by(
            Trigger::Manual,
            RunOutcome::Success,
            Duration::from_millis(100),
            0,
            &[],
        );
        m.record_store_error(StoreOp::SaveRun);
        m.record_store_error(StoreOp::SaveRun);
        m.record_module(ModuleId::Heatmap, None, Duration::from_millis(40));
        m.record_module(
            ModuleId::Etf,
            Some(&ErrorClass::Entitlement { status: 402 }),
            Duration::from_millis(20),
        );
        m.set_breaker_state(ModuleId::Etf, BreakerState::Open);
        m.set_breaker_state(ModuleId::Etf, BreakerState::HalfOpen);
        m.set_consecutive_failures(1);
        m.set_in_window(true);
        m.record_alert_delivery(AlertChannel::Telegram, DeliveryResult::Failed);
        m
    }

    #[test]
    fn exposition_has_exact_names_types_and_label_sets() {
        let (types, samples) = parse(&populated().encode());
        let expected_types: BTreeMap<String, String> = [
            ("sniper_soft_fail", "counter"),
            ("sniper_hard_fail", "counter"),
            ("sniper_consecutive_failures", "gauge"),
            ("sniper_modules_active", "gauge"),
            ("sniper_runs", "counter"),
            ("sniper_run_duration_seconds", "histogram"),
            ("sniper_module_duration_seconds", "histogram"),
            ("sniper_breaker_state", "gauge"),
            ("sniper_upstream_requests", "counter"),
            ("sniper_in_active_window", "gauge"),
            ("sniper_alert_deliveries", "counter"),
            ("sniper_store_errors", "counter"),
            ("sniper_signals", "counter"),
            ("sniper_signal_deliveries", "counter"),
            ("sniper_telegram_updates", "counter"),
            ("sniper_requests_saved", "counter"),
            ("sniper_budget_spent", "counter"),
            // sniper_budget_remaining has no series until a budget is set.
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(types, expected_types);

        // Every sample name, with the label keys it carries (histograms add `le` to buckets).
        let mut shapes: BTreeMap<&str, BTreeSet<BTreeSet<&str>>> = BTreeMap::new();
        for s in &samples {
            shapes.entry(s.name.as_str()).or_default().insert(keys(s));
        }
        let set = |ks: &[&'static str]| ks.iter().copied().collect::<BTreeSet<&str>>();
        let one = |ks: &[&'static str]| BTreeSet::from([set(ks)]);
        let expected: BTreeMap<&str, BTreeSet<BTreeSet<&str>>> = [
            ("sniper_soft_fail_total", one(&["module"])),
            ("sniper_hard_fail_total", one(&[])),
            ("sniper_consecutive_failures", one(&[])),
            ("sniper_modules_active", one(&[])),
            ("sniper_runs_total", one(&["trigger", "outcome"])),
            ("sniper_run_duration_seconds_sum", one(&[])),
            ("sniper_run_duration_seconds_count", one(&[])),
            ("sniper_run_duration_seconds_bucket", one(&["le"])),
            ("sniper_module_duration_seconds_sum", one(&["module"])),
            ("sniper_module_duration_seconds_count", one(&["module"])),
            (
                "sniper_module_duration_seconds_bucket",
                one(&["module", "le"]),
            ),
            ("sniper_breaker_state", one(&["module", "state"])),
            ("sniper_upstream_requests_total", one(&["module", "class"])),
            ("sniper_in_active_window", one(&[])),
            ("sniper_alert_deliveries_total", one(&["channel", "result"])),
            ("sniper_store_errors_total", one(&["op"])),
            ("sniper_signals_total", one(&["level", "direction"])),
            (
                "sniper_signal_deliveries_total",
                one(&["channel", "result"]),
            ),
            ("sniper_telegram_updates_total", one(&["result"])),
            ("sniper_requests_saved_total", one(&["reason"])),
            ("sniper_budget_spent_total", one(&["consumer"])),
        ]
        .into_iter()
        .collect();
        assert_eq!(shapes, expected);

        // Label values are exactly the bounded enums.
        let values_of = |name: &str, key: &str| -> BTreeSet<String> {
            samples
                .iter()
                .filter(|s| s.name == name)
                .map(|s| s.labels[key].clone())
                .collect()
        };
        let modules: BTreeSet<String> = ModuleId::ALL.iter().map(|m| m.to_string()).collect();
        assert_eq!(values_of("sniper_soft_fail_total", "module"), modules);
        assert_eq!(
            values_of("sniper_upstream_requests_total", "module"),
            modules
        );
        assert_eq!(
            values_of("sniper_upstream_requests_total", "class"),
            [
                "ok",
                "entitlement",
                "auth",
                "route_missing",
                "rate_limited",
                "transient",
                "bad_payload"
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        );
        assert_eq!(
            values_of("sniper_runs_total", "outcome"),
            ["success", "partial", "failure"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
        assert_eq!(
            values_of("sniper_runs_total", "trigger"),
            ["schedule", "manual", "replica"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
        assert_eq!(
            values_of("sniper_store_errors_total", "op"),
            ["save_run", "save_breaker", "save_route"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
        assert_eq!(
            values_of("sniper_breaker_state", "state"),
            ["closed", "open", "half_open"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
    }

    #[test]
    fn recorded_values_show_up() {
        let (_, samples) = parse(&populated().encode());
        assert_eq!(
            value(
                &samples,
                "sniper_runs_total",
                &[("trigger", "schedule"), ("outcome", "partial")]
            ),
            1.0
        );
        assert_eq!(
            value(
                &samples,
                "sniper_runs_total",
                &[("trigger", "schedule"), ("outcome", "failure")]
            ),
            1.0
        );
        assert_eq!(
            value(
                &samples,
                "sniper_runs_total",
                &[("trigger", "schedule"), ("outcome", "success")]
            ),
            0.0
        );
        assert_eq!(
            value(
                &samples,
                "sniper_runs_total",
                &[("trigger", "manual"), ("outcome", "success")]
            ),
            1.0
        );
        assert_eq!(
            value(&samples, "sniper_store_errors_total", &[("op", "save_run")]),
            2.0
        );
        assert_eq!(
            value(
                &samples,
                "sniper_store_errors_total",
                &[("op", "save_route")]
            ),
            0.0
        );
        assert_eq!(value(&samples, "sniper_hard_fail_total", &[]), 1.0);
        assert_eq!(
            value(&samples, "sniper_soft_fail_total", &[("module", "etf")]),
            1.0
        );
        assert_eq!(
            value(&samples, "sniper_soft_fail_total", &[("module", "bias")]),
            0.0
        );
        // The last run reported 0 active modules.
        assert_eq!(value(&samples, "sniper_modules_active", &[]), 0.0);
        assert_eq!(
            value(&samples, "sniper_run_duration_seconds_count", &[]),
            3.0
        );
        assert!((value(&samples, "sniper_run_duration_seconds_sum", &[]) - 2.4).abs() < 1e-9);
        assert_eq!(
            value(
                &samples,
                "sniper_upstream_requests_total",
                &[("module", "etf"), ("class", "entitlement")]
            ),
            1.0
        );
        assert_eq!(
            value(
                &samples,
                "sniper_upstream_requests_total",
                &[("module", "heatmap"), ("class", "ok")]
            ),
            1.0
        );
        assert_eq!(
            value(
                &samples,
                "sniper_module_duration_seconds_count",
                &[("module", "heatmap")]
            ),
            1.0
        );
        // Only the current breaker state is 1.
        for (state, want) in [("closed", 0.0), ("open", 0.0), ("half_open", 1.0)] {
            assert_eq!(
                value(
                    &samples,
                    "sniper_breaker_state",
                    &[("module", "etf"), ("state", state)]
                ),
                want
            );
        }
        assert_eq!(value(&samples, "sniper_consecutive_failures", &[]), 1.0);
        assert_eq!(value(&samples, "sniper_in_active_window", &[]), 1.0);
        assert_eq!(
            value(
                &samples,
                "sniper_alert_deliveries_total",
                &[("channel", "telegram"), ("result", "failed")]
            ),
            1.0
        );
    }

    #[test]
    fn request_class_labels_match_error_class_labels() {
        let errors = [
            ErrorClass::Entitlement { status: 402 },
            ErrorClass::Auth { status: 401 },
            ErrorClass::RouteMissing,
            ErrorClass::RateLimited {
                retry_after_secs: Some(3),
            },
            ErrorClass::Transient {
                kind: TransientKind::Timeout,
            },
            ErrorClass::BadPayload {
                kind: PayloadKind::NotJson,
            },
        ];
        for e in &errors {
            assert_eq!(RequestClass::of(Some(e)).as_str(), e.label());
        }
        assert_eq!(RequestClass::of(None).as_str(), "ok");
    }

    #[test]
    fn outcome_and_breaker_parsing() {
        assert_eq!(RunOutcome::classify(true, false), RunOutcome::Success);
        assert_eq!(RunOutcome::classify(true, true), RunOutcome::Partial);
        assert_eq!(RunOutcome::classify(false, false), RunOutcome::Failure);
        assert_eq!(
            BreakerState::parse("Half-Open"),
            Some(BreakerState::HalfOpen)
        );
        assert_eq!(BreakerState::parse("open"), Some(BreakerState::Open));
        assert_eq!(BreakerState::parse("ajar"), None);
    }
}
