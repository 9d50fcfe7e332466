//! One run: discovery once, every enabled module concurrently under its own timeout, the whole run
//! under a deadline, results folded into the design's `RunResult`.
//!
//! Breakers: one per module, for failures of the backend itself (5xx, timeouts, resets, 402,
//! 401/403, 429 and other rate limits, unusable bodies); and, for the modules called once per
//! symbol, one per (module, configured symbol) for failures caused by the request (400/422/409…,
//! a CoinGlass error envelope such as `40001` "invalid parameter", and a 404 once the module's
//! route is known to exist), so one unsupported symbol cannot close a module for every symbol
//! (issue 13 item 2). A call needs both to admit it. Per-symbol breakers are bounded by the
//! configured symbols (≤ 32) and export no metric series of their own.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::budget::{Budget, Consumer};
use crate::clock::{Clock, MonoClock, mono_from_wall, steady};
use crate::config::Config;
use crate::discovery::{Discovery, RouteMap};
use crate::market::{MarketData, SymbolFeatures, features};
use crate::module_id::ModuleId;
use crate::obs::metrics::{BreakerState as MetricState, Metrics, RunOutcome};
use crate::resilience::breaker::{
    Admission, Breaker, BreakerSnapshot, BreakerState, BreakerView, OpenReason,
};
use crate::resilience::class::{ErrorClass, PayloadKind, TransientKind};
use crate::run::freshness::{self, CacheEntry, Decision, ReuseReason, Reused};
use crate::run::modules::{self, Call, Outcome};
use crate::symbol::SymbolForms;
use crate::upstream::{Base, ClientBuildError, Upstream};

/// One module's entry in `context`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModuleResult {
    #[serde(flatten)]
    pub call: Call,
    pub latency_ms: u64,
    /// The module's breaker after this call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerView>,
    /// The breaker of this module for this symbol after this call (modules called per symbol).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub symbol_breaker: Option<BreakerView>,
    /// The call was refused by an open circuit: no request went out.
    #[serde(skip)]
    pub circuit_open: bool,
    /// The data was not fetched in this run but reused (fresh, `304`, or deferred by the budget),
    /// with its age.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reused: Option<Reused>,
}

/// One error line of a run, for `errors`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunError {
    pub module: ModuleId,
    pub code: String,
    pub detail: String,
}

/// The symbol forms sent, as in the design.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Symbols {
    pub input: String,
    pub spot: String,
    pub perp: String,
}

pub use crate::trigger::Trigger;

impl RunResult {
    /// How this run ended, by the one rule ([`RunOutcome::classify`]): degraded when a module
    /// soft-failed or hit a hard error (a panicking module makes a run `partial`, never
    /// `success`).
    pub fn outcome(&self) -> RunOutcome {
        let degraded = !self.soft_fails.is_empty()
            || !self.errors.is_empty()
            || self.context.values().any(|r| {
                matches!(
                    r.call.outcome,
                    Outcome::SoftFail { .. } | Outcome::HardError { .. }
                )
            });
        RunOutcome::classify(self.success, degraded)
    }
}

/// The result of a run for one symbol: the design's fields, plus timing and provenance.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    /// True iff at least one module succeeded.
    pub success: bool,
    pub soft_fails: Vec<String>,
    pub used_modules: Vec<ModuleId>,
    pub context: BTreeMap<ModuleId, ModuleResult>,
    pub errors: Vec<RunError>,
    pub symbols: Symbols,
    pub timestamp: jiff::Timestamp,
    pub duration_ms: u64,
    /// True when the backend is the embedded sandbox: the data is not real.
    pub sandbox: bool,
    /// What a trader reads off this run's usable data; a feature whose input is missing is absent.
    pub features: SymbolFeatures,
    /// This run's usable data per module (also in `context`; not serialised twice).
    #[serde(skip)]
    pub market: BTreeMap<ModuleId, MarketData>,
    /// The backend the run went to: `PY_BASE_URL`'s origin and path prefix, normalised
    /// ([`Base::key`], e.g. `https://api.example.com/py`).
    pub backend: String,
    /// Who started the run ([`Runner::run_once`] says `schedule`; the daemon sets the others).
    pub trigger: Trigger,
}

/// Everything a run needs, built once and shared by every run.
pub struct Runner {
    cfg: Arc<Config>,
    upstream: Upstream,
    discovery: Arc<Discovery>,
    breakers: Mutex<BTreeMap<ModuleId, Breaker>>,
    /// Per (module, symbol input) breakers for failures caused by the request.
    symbol_breakers: Mutex<BTreeMap<(ModuleId, String), Breaker>>,
    /// [`Base::key`] of the backend.
    backend: String,
    clock: Clock,
    /// The wall time at start plus the monotonic time passed ([`steady`]): what kept data's age,
    /// reuse, breakers and the budget are measured on (issue 22 item 3).
    steady: Clock,
    metrics: Option<Arc<Metrics>>,
    /// Last usable data per (module, symbol input; `""` for the modules called once per run).
    cache: Mutex<std::collections::HashMap<(ModuleId, String), CacheEntry>>,
    /// The last answer that held no usable data (EMPTY/STALE/BAD_PAYLOAD) per (module, symbol),
    /// kept for the module's refresh interval like data: an answer is an answer (issue 22 item 8).
    kept_fails: Mutex<std::collections::HashMap<(ModuleId, String), KeptFail>>,
    /// Per (module, symbol): the symbol-form search that found no form with data, backed off.
    form_search: Mutex<std::collections::HashMap<(ModuleId, String), FormSearch>>,
    /// When each module (and symbol) last delivered usable data, and why not since.
    health: Mutex<crate::run::health::DataHealth>,
    /// The backend budget shared with manual runs and the gateway.
    budget: Arc<Budget>,
    /// Backend-wide facts learned by other replicas: module → (why, until).
    shared_blocks: Mutex<BTreeMap<ModuleId, (OpenReason, jiff::Timestamp)>>,
    /// Set once any answer said it came from sniper's sandbox (`x-sandbox: true`): every result
    /// from then on says SANDBOX, even when `PY_BASE_URL` points at a `sniper sandbox` by hand.
    backend_sandbox: std::sync::atomic::AtomicBool,
}

impl Runner {
    /// Build the client and discovery from a validated configuration.
    ///
    /// Time passed is read off `clock` itself ([`mono_from_wall`]: its steps back count as
    /// nothing); use [`Runner::with_clocks`] to give a monotonic clock of its own.
    pub fn new(cfg: Config, clock: Clock) -> Result<Arc<Runner>, ClientBuildError> {
        let mono = mono_from_wall(clock.clone());
        Runner::build(cfg, clock, mono, None)
    }

    /// Build with a wall clock and a monotonic clock (production: `system_clock()` and
    /// `system_mono()`), with or without metrics.
    pub fn with_clocks(
        cfg: Config,
        clock: Clock,
        mono: MonoClock,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Arc<Runner>, ClientBuildError> {
        Runner::build(cfg, clock, mono, metrics)
    }

    /// Build with metrics recorded per module call and breaker change.
    pub fn with_metrics(
        cfg: Config,
        clock: Clock,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Runner>, ClientBuildError> {
        let mono = mono_from_wall(clock.clone());
        Runner::build(cfg, clock, mono, Some(metrics))
    }

    /// Build with both clocks, metrics and a budget made by the caller (the daemon's: shared
    /// with the gateway and, on a shared store, with the other replicas; its clock should be
    /// [`steady`] so a wall clock stepping back never refills it).
    pub fn with_budget(
        cfg: Config,
        clock: Clock,
        mono: MonoClock,
        metrics: Arc<Metrics>,
        budget: Arc<Budget>,
    ) -> Result<Arc<Runner>, ClientBuildError> {
        Runner::assemble(cfg, clock, mono, Some(metrics), budget)
    }

    fn build(
        cfg: Config,
        clock: Clock,
        mono: MonoClock,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Arc<Runner>, ClientBuildError> {
        let budget = Arc::new(Budget::new(cfg.budget, steady(&clock, mono.clone())));
        Runner::assemble(cfg, clock, mono, metrics, budget)
    }

    fn assemble(
        cfg: Config,
        clock: Clock,
        mono: MonoClock,
        metrics: Option<Arc<Metrics>>,
        budget: Arc<Budget>,
    ) -> Result<Arc<Runner>, ClientBuildError> {
        let steady_clock = steady(&clock, mono);
        let backend = Base::new(&cfg.base_url).key();
        let (upstream, discovery) = crate::discovery::from_config(&cfg)?;
        Ok(Arc::new(Runner {
            upstream,
            discovery,
            breakers: Mutex::new(
                ModuleId::ALL
                    .into_iter()
                    .map(|m| (m, cfg.breaker.breaker(m)))
                    .collect(),
            ),
            symbol_breakers: Mutex::new(BTreeMap::new()),
            backend,
            cache: Mutex::new(std::collections::HashMap::new()),
            kept_fails: Mutex::new(std::collections::HashMap::new()),
            form_search: Mutex::new(std::collections::HashMap::new()),
            health: Mutex::new(crate::run::health::DataHealth::default()),
            shared_blocks: Mutex::new(BTreeMap::new()),
            backend_sandbox: std::sync::atomic::AtomicBool::new(false),
            budget,
            cfg: Arc::new(cfg),
            clock,
            steady: steady_clock,
            metrics,
        }))
    }

    /// The wall clock this runner reads.
    pub fn now(&self) -> jiff::Timestamp {
        (self.clock)()
    }

    /// The backend this runner calls: [`Base::key`] of `PY_BASE_URL`. Saved state is keyed by it.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn discovery(&self) -> &Arc<Discovery> {
        &self.discovery
    }

    /// The backend budget (shared with the gateway and manual runs).
    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// Run every configured symbol as the scheduler; one result per symbol, in configuration order.
    pub async fn run_once(self: &Arc<Self>) -> Vec<RunResult> {
        self.run_once_as(Consumer::Scheduled).await
    }

    /// Run every configured symbol, spending `consumer`'s share of the budget.
    ///
    /// Per module and symbol, data younger than its refresh interval is reused (no request); the
    /// rest is fetched — conditionally when the last answer had validators — in priority order
    /// (order book first, then the most overdue) while the budget allows; what the budget does
    /// not allow reuses its last data marked `budget_deferred`, or is a `<MODULE>_BUDGET_DEFERRED`
    /// soft fail when there is none.
    pub async fn run_once_as(self: &Arc<Self>, consumer: Consumer) -> Vec<RunResult> {
        let started = Instant::now();
        let deadline = started + self.cfg.run_deadline;
        let timestamp = (self.clock)();
        // Kept data, breakers and the budget go by the steady clock (never back with the wall).
        let steady_now = (self.steady)();
        let map = tokio::time::timeout_at(deadline, self.discovery.routes())
            .await
            .unwrap_or_else(|_| Arc::new(RouteMap::default()));

        let forms: Vec<(String, SymbolForms)> = self
            .cfg
            .symbols
            .iter()
            .map(|s| (s.input.clone(), s.forms.clone()))
            .collect();
        let Some(first) = forms.first().map(|(_, f)| f.clone()) else {
            return Vec::new();
        };

        // Symbol-independent modules once per run (key ""); the others once per symbol.
        let mut jobs: Vec<(ModuleId, String, SymbolForms)> = Vec::new();
        for m in ModuleId::ALL {
            if modules::symbol_independent(m) {
                jobs.push((m, String::new(), first.clone()));
            }
        }
        for (input, f) in &forms {
            for m in ModuleId::ALL {
                if !modules::symbol_independent(m) {
                    jobs.push((m, input.clone(), f.clone()));
                }
            }
        }
        let mut ready: std::collections::HashMap<(ModuleId, String), ModuleResult> =
            std::collections::HashMap::new();
        let mut due = Vec::new();
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for (m, key, f) in jobs {
                if !self.cfg.features.enabled(m) {
                    due.push((m, key, f, None, u64::MAX));
                    continue;
                }
                if let Some(r) = self.kept_fail_result(m, &key, steady_now) {
                    ready.insert((m, key), r);
                    continue;
                }
                let entry = cache.get(&(m, key.clone()));
                match freshness::decide(entry, steady_now) {
                    Decision::Reuse => {
                        if let Some(e) = entry {
                            ready.insert(
                                (m, key),
                                self.reused_result(m, e, ReuseReason::Fresh, steady_now),
                            );
                        }
                    }
                    Decision::Fetch {
                        conditional,
                        overdue_ms,
                    } => {
                        let cond = conditional.and_then(|v| {
                            Some(modules::Conditional {
                                request: entry?.request.clone()?,
                                validators: v,
                            })
                        });
                        due.push((m, key, f, cond, overdue_ms));
                    }
                }
            }
        }
        // The order book first (the feature that moves fastest), then the most overdue.
        due.sort_by_key(|(m, _, _, _, overdue)| {
            (*m != ModuleId::SpotOb, std::cmp::Reverse(*overdue))
        });
        let mut tasks = Vec::new();
        for (m, key, f, cond, _) in due {
            let symbol = (!key.is_empty()).then(|| key.clone());
            // Only a request that will go out spends budget: not a disabled module, not one an
            // open circuit will refuse.
            let spends = self.cfg.features.enabled(m)
                && !self.circuit_refuses(m, symbol.as_deref(), steady_now);
            let spent = if spends {
                Some(self.budget.try_spend(consumer).await)
            } else {
                None
            };
            if let Some(Err(refused)) = spent {
                let entry = self
                    .cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&(m, key.clone()))
                    .cloned();
                let r = match entry {
                    Some(e) => self.reused_result(m, &e, ReuseReason::BudgetDeferred, steady_now),
                    None => ModuleResult {
                        call: Call {
                            outcome: Outcome::SoftFail {
                                code: format!("{}_BUDGET_DEFERRED", m.upper()),
                                class: None,
                                detail: refused.to_string(),
                            },
                            request: None,
                            attempts: 0,
                        },
                        latency_ms: 0,
                        breaker: None,
                        symbol_breaker: None,
                        circuit_open: false,
                        reused: None,
                    },
                };
                if let Some(metrics) = &self.metrics {
                    metrics.record_saved(ReuseReason::BudgetDeferred.as_str());
                }
                ready.insert((m, key), r);
                continue;
            }
            if let (Some(Ok(remaining)), Some(metrics)) = (spent, &self.metrics) {
                metrics.record_budget(consumer.as_str(), remaining);
            }
            tasks.push((
                (m, key.clone()),
                self.spawn_module(m, &f, symbol.as_deref(), key, cond, &map, deadline),
            ));
        }
        for (k, h) in tasks {
            ready.insert(k, join(h).await);
        }
        let mut out = Vec::new();
        for (input, f) in &forms {
            let mut context = BTreeMap::new();
            for m in ModuleId::ALL {
                let key = if modules::symbol_independent(m) {
                    String::new()
                } else {
                    input.clone()
                };
                if let Some(r) = ready.get(&(m, key)) {
                    context.insert(m, r.clone());
                }
            }
            out.push(self.fold(input, f, context, timestamp, started.elapsed()));
        }
        self.record_health(&out);
        out
    }

    /// Note each module's outcome per symbol (the modules called once per run, once) and export
    /// each module's last usable time.
    fn record_health(&self, results: &[RunResult]) {
        let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        for (i, r) in results.iter().enumerate() {
            for (m, res) in &r.context {
                if modules::symbol_independent(*m) {
                    if i == 0 {
                        h.record(*m, "", &res.call.outcome, r.timestamp);
                    }
                } else {
                    h.record(*m, &r.symbols.input, &res.call.outcome, r.timestamp);
                }
            }
        }
        if let Some(metrics) = &self.metrics {
            for m in ModuleId::ALL {
                if let Some(at) = h.last_usable(m) {
                    metrics.set_last_usable(m, at);
                }
            }
        }
    }

    /// Per module and symbol: when usable data was last delivered and why not since (for
    /// `/api/modules` and the status page).
    pub fn data_health(&self) -> Vec<crate::run::health::ModuleData> {
        self.health.lock().unwrap_or_else(|e| e.into_inner()).all()
    }

    /// The kept unusable answer of (module, key), as this run's result, while it is fresh.
    fn kept_fail_result(
        &self,
        m: ModuleId,
        key: &str,
        now: jiff::Timestamp,
    ) -> Option<ModuleResult> {
        let kept = self.kept_fails.lock().unwrap_or_else(|e| e.into_inner());
        let k = kept.get(&(m, key.to_string()))?;
        if !(k.fetched_at <= now && now < k.fresh_until) {
            return None;
        }
        if let Some(metrics) = &self.metrics {
            metrics.record_saved(ReuseReason::Fresh.as_str());
        }
        Some(ModuleResult {
            call: Call {
                attempts: 0,
                ..k.call.clone()
            },
            latency_ms: 0,
            breaker: Some(self.with_breaker(m, |b| b.view(now))),
            symbol_breaker: None,
            circuit_open: false,
            reused: Some(Reused {
                reason: ReuseReason::Fresh,
                age_ms: u64::try_from(now.as_millisecond() - k.fetched_at.as_millisecond())
                    .unwrap_or(0),
            }),
        })
    }

    /// May an `EMPTY` answer of (module, symbol) try the other symbol forms now? Not while a
    /// search that found no form is backed off.
    fn form_search_due(&self, m: ModuleId, key: &str, now: jiff::Timestamp) -> bool {
        let fs = self.form_search.lock().unwrap_or_else(|e| e.into_inner());
        fs.get(&(m, key.to_string()))
            .is_none_or(|f| now >= f.next_probe || now < f.since)
    }

    /// Record a symbol-form search: one that found data clears the back-off; one that found none
    /// waits 2, 4, 8… refresh intervals (at least a minute each, at most an hour) before the next.
    fn note_form_search(
        &self,
        m: ModuleId,
        key: &str,
        found: bool,
        refresh: Duration,
        now: jiff::Timestamp,
    ) {
        let mut fs = self.form_search.lock().unwrap_or_else(|e| e.into_inner());
        if found {
            fs.remove(&(m, key.to_string()));
            return;
        }
        let e = fs.entry((m, key.to_string())).or_insert(FormSearch {
            failures: 0,
            since: now,
            next_probe: now,
        });
        e.failures = e.failures.saturating_add(1);
        let unit = refresh.max(Duration::from_secs(60));
        let wait = unit
            .saturating_mul(1u32 << e.failures.min(10))
            .min(Duration::from_secs(3600));
        e.since = now;
        e.next_probe = freshness::fresh_until(now, wait, None);
    }

    /// Would an open circuit refuse this call now? (A peek: admits nothing.)
    fn circuit_refuses(&self, m: ModuleId, symbol: Option<&str>, now: jiff::Timestamp) -> bool {
        let open = |v: BreakerView| v.state == crate::resilience::breaker::BreakerState::Open;
        // A backend fact another replica shared (402 window, 429 Retry-After) refuses too.
        let shared = self
            .shared_blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&m)
            .is_some_and(|(_, until)| now < *until);
        shared
            || open(self.with_breaker(m, |b| b.view(now)))
            || symbol.is_some_and(|s| open(self.with_symbol_breaker(m, s, |b| b.view(now))))
    }

    /// A result made of kept data.
    fn reused_result(
        &self,
        m: ModuleId,
        e: &CacheEntry,
        reason: ReuseReason,
        now: jiff::Timestamp,
    ) -> ModuleResult {
        if reason == ReuseReason::Fresh
            && let Some(metrics) = &self.metrics
        {
            metrics.record_saved(reason.as_str());
        }
        ModuleResult {
            call: Call {
                outcome: Outcome::Ok {
                    data: e.data.clone(),
                },
                request: e.request.clone(),
                attempts: 0,
            },
            latency_ms: 0,
            breaker: Some(self.with_breaker(m, |b| b.view(now))),
            symbol_breaker: None,
            circuit_open: false,
            reused: Some(Reused {
                reason,
                age_ms: e.age_ms(now),
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn_module(
        self: &Arc<Self>,
        m: ModuleId,
        forms: &SymbolForms,
        symbol: Option<&str>,
        key: String,
        conditional: Option<modules::Conditional>,
        map: &Arc<RouteMap>,
        deadline: Instant,
    ) -> tokio::task::JoinHandle<ModuleResult> {
        let me = self.clone();
        let map = map.clone();
        let forms = forms.clone();
        let symbol = symbol.map(str::to_string);
        tokio::spawn(async move {
            let started = Instant::now();
            let (call, refused, meta) = me
                .module(
                    m,
                    &forms,
                    symbol.as_deref(),
                    conditional.as_ref(),
                    &map,
                    deadline,
                )
                .await;
            if meta.sandbox {
                me.backend_sandbox
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            let (call, reused) = me.keep(m, key, call, &meta);
            let now = (me.steady)();
            let latency = started.elapsed();
            let view = me.with_breaker(m, |b| b.view(now));
            let symbol_view = symbol
                .as_deref()
                .map(|s| me.with_symbol_breaker(m, s, |b| b.view(now)));
            if let Some(metrics) = &me.metrics {
                if call.attempts > 0 {
                    let class = match &call.outcome {
                        Outcome::SoftFail { class, .. } => class.as_ref(),
                        _ => None,
                    };
                    metrics.record_module(m, class, latency);
                }
                if let Some(state) = MetricState::parse(view.state.as_str()) {
                    metrics.set_breaker_state(m, state);
                }
            }
            ModuleResult {
                call,
                latency_ms: latency.as_millis() as u64,
                breaker: Some(view),
                symbol_breaker: symbol_view,
                circuit_open: refused,
                reused,
            }
        })
    }

    /// Keep usable data for reuse; turn a `304` into the kept data, fresh again.
    fn keep(
        &self,
        m: ModuleId,
        key: String,
        call: Call,
        meta: &modules::AnswerMeta,
    ) -> (Call, Option<Reused>) {
        let now = (self.steady)();
        let refresh = self
            .cfg
            .refresh
            .get(&m)
            .copied()
            .unwrap_or_else(|| crate::market::default_refresh(m));
        if let Some(found) = meta.form_search {
            self.note_form_search(m, &key, found, refresh, now);
        }
        {
            let mut kept = self.kept_fails.lock().unwrap_or_else(|e| e.into_inner());
            match &call.outcome {
                Outcome::SoftFail { .. } if meta.unusable && call.attempts > 0 => {
                    kept.insert(
                        (m, key.clone()),
                        KeptFail {
                            call: call.clone(),
                            fetched_at: now,
                            fresh_until: freshness::fresh_until(now, refresh, meta.backend_fresh),
                        },
                    );
                }
                Outcome::Ok { .. } => {
                    kept.remove(&(m, key.clone()));
                }
                _ => {}
            }
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if meta.not_modified
            && let Some(e) = cache.get_mut(&(m, key.clone()))
        {
            e.revalidated(now, refresh, meta.backend_fresh);
            if let Some(metrics) = &self.metrics {
                metrics.record_saved(ReuseReason::NotModified.as_str());
            }
            let reused = Reused {
                reason: ReuseReason::NotModified,
                age_ms: 0,
            };
            let call = Call {
                outcome: Outcome::Ok {
                    data: e.data.clone(),
                },
                ..call
            };
            return (call, Some(reused));
        }
        if let Outcome::Ok { data } = &call.outcome {
            let mut e = CacheEntry::new(
                data.clone(),
                now,
                refresh,
                meta.backend_fresh,
                meta.validators.clone(),
            );
            e.request = call.request.clone();
            cache.insert((m, key), e);
        }
        (call, None)
    }

    /// Call one module for one symbol (`symbol`: the configured input, `None` for the modules
    /// called once per run). Also returns whether an open circuit refused the call.
    async fn module(
        &self,
        m: ModuleId,
        forms: &SymbolForms,
        symbol: Option<&str>,
        conditional: Option<&modules::Conditional>,
        map: &RouteMap,
        deadline: Instant,
    ) -> (Call, bool, modules::AnswerMeta) {
        let plain = |outcome| Call {
            outcome,
            request: None,
            attempts: 0,
        };
        if !self.cfg.features.enabled(m) {
            return (plain(Outcome::Disabled), false, Default::default());
        }
        let now = (self.steady)();
        let shared = self
            .shared_blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&m)
            .copied();
        if let Some((reason, until)) = shared.filter(|(_, until)| now < *until) {
            let call = plain(Outcome::SoftFail {
                code: format!("{}_CIRCUIT_OPEN", m.upper()),
                class: None,
                detail: format!(
                    "circuit open until {until} ({}, learned by another replica)",
                    reason.as_str()
                ),
            });
            return (call, true, modules::AnswerMeta::default());
        }
        let refuse = |reason: OpenReason, until: Option<jiff::Timestamp>, whose: String| {
            let detail = match until {
                Some(u) => format!("circuit open{whose} until {u} ({})", reason.as_str()),
                None => format!("circuit open{whose} ({})", reason.as_str()),
            };
            let call = plain(Outcome::SoftFail {
                code: format!("{}_CIRCUIT_OPEN", m.upper()),
                class: None,
                detail,
            });
            (call, true, modules::AnswerMeta::default())
        };
        // The symbol's breaker first: refusing there must not spend the module's probe.
        let symbol_probe = match symbol {
            Some(s) => match self.with_symbol_breaker(m, s, |b| b.admit(now)) {
                Admission::Reject { reason, until } => {
                    return refuse(reason, until, format!(" for {s}"));
                }
                a => a == Admission::Probe,
            },
            None => false,
        };
        if let Admission::Reject { reason, until } = self.with_breaker(m, |b| b.admit(now)) {
            if symbol_probe && let Some(s) = symbol {
                self.with_symbol_breaker(m, s, |b| b.on_no_verdict(now));
            }
            return refuse(reason, until, String::new());
        }
        let inputs = modules::inputs(m, &self.cfg, forms);
        let budget = self
            .cfg
            .module_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let call = match tokio::time::timeout(
            budget,
            modules::call(
                m,
                &self.upstream,
                &self.discovery,
                map,
                &inputs,
                &modules::CallOptions {
                    max_age: self
                        .cfg
                        .max_age
                        .get(&m)
                        .copied()
                        .unwrap_or_else(|| crate::market::default_max_age(m)),
                    max_skew: self.cfg.max_clock_skew,
                    form_search: self.form_search_due(m, symbol.unwrap_or(""), now),
                },
                conditional,
                Instant::now() + budget,
                &self.clock,
            ),
        )
        .await
        {
            Ok(c) => c,
            Err(_) => (
                Call {
                    outcome: modules::soft(
                        m,
                        &ErrorClass::Transient {
                            kind: TransientKind::Timeout,
                        },
                        format!("no answer within {}ms", budget.as_millis()),
                    ),
                    request: None,
                    attempts: 1,
                },
                modules::AnswerMeta::default(),
            ),
        };
        let (call, meta) = call;
        let now = (self.steady)();
        match (&call.outcome, symbol) {
            (Outcome::Ok { .. }, _) => {
                self.with_breaker(m, |b| b.on_success(now));
                if let Some(s) = symbol {
                    self.with_symbol_breaker(m, s, |b| b.on_success(now));
                }
            }
            (
                Outcome::SoftFail {
                    class: Some(class), ..
                },
                Some(s),
            ) if let Some(own) = self.caused_by_request(m, class) => {
                // The backend answered, deliberately: it is up (a module probe closes), and this
                // symbol is what it refused.
                self.with_breaker(m, |b| b.on_answered(now));
                self.with_symbol_breaker(m, s, |b| b.on_failure(&own, now));
            }
            (
                Outcome::SoftFail {
                    class: Some(class), ..
                },
                _,
            ) => {
                self.with_breaker(m, |b| b.on_failure(class, now));
                if let Some(s) = symbol {
                    self.with_symbol_breaker(m, s, |b| b.on_no_verdict(now));
                }
            }
            // The backend answered, but not with usable data (EMPTY, STALE, BAD_PAYLOAD): not a
            // failure of the backend, so it never trips a breaker (and closes a half-open one).
            (Outcome::SoftFail { class: None, .. }, _) if call.attempts > 0 => {
                self.with_breaker(m, |b| b.on_answered(now));
                if let Some(s) = symbol {
                    self.with_symbol_breaker(m, s, |b| b.on_no_verdict(now));
                }
            }
            _ => {
                self.with_breaker(m, |b| b.on_no_verdict(now));
                if let Some(s) = symbol {
                    self.with_symbol_breaker(m, s, |b| b.on_no_verdict(now));
                }
            }
        }
        (call, false, meta)
    }

    /// Is this failure caused by the request (so it counts against the module for that symbol),
    /// and as which class? `None`: a failure of the backend itself (counts against the module).
    ///
    /// Request-caused: a refused request (400, 409, 422, …: `bad_payload`/`rejected`), a 2xx
    /// error envelope with no better class (CoinGlass `40001` "invalid parameter"), and a 404
    /// after every URL shape once discovery is settled for the module — a learned shape exists,
    /// i.e. the route answered before — which is counted as `rejected` (route-missing never
    /// trips a breaker by itself).
    fn caused_by_request(&self, m: ModuleId, class: &ErrorClass) -> Option<ErrorClass> {
        match class {
            ErrorClass::BadPayload {
                kind: PayloadKind::Rejected | PayloadKind::ErrorEnvelope,
            } => Some(class.clone()),
            ErrorClass::RouteMissing if self.discovery.learned().contains_key(&m) => {
                Some(ErrorClass::BadPayload {
                    kind: PayloadKind::Rejected,
                })
            }
            _ => None,
        }
    }

    fn with_breaker<T>(&self, m: ModuleId, f: impl FnOnce(&mut Breaker) -> T) -> T {
        let mut b = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        let breaker = b.entry(m).or_insert_with(|| self.cfg.breaker.breaker(m));
        f(breaker)
    }

    fn with_symbol_breaker<T>(
        &self,
        m: ModuleId,
        symbol: &str,
        f: impl FnOnce(&mut Breaker) -> T,
    ) -> T {
        let mut b = self
            .symbol_breakers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let breaker = b
            .entry((m, symbol.to_string()))
            .or_insert_with(|| self.cfg.breaker.breaker(m));
        f(breaker)
    }

    /// Every breaker's snapshot under its store key: `<module>` for a module's breaker,
    /// `<module>:<symbol>` for a per-symbol one ([`breaker_key`]).
    pub fn keyed_breaker_snapshots(&self) -> Vec<(String, BreakerSnapshot)> {
        let mut out: Vec<(String, BreakerSnapshot)> = self
            .breaker_snapshots()
            .into_iter()
            .map(|(m, s)| (breaker_key(m, None), s))
            .collect();
        let b = self
            .symbol_breakers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        out.extend(
            b.iter()
                .map(|((m, s), br)| (breaker_key(*m, Some(s)), br.snapshot())),
        );
        out
    }

    /// Restore a snapshot saved under `key` (see [`keyed_breaker_snapshots`]); keys of unknown
    /// modules or of symbols no longer configured are ignored (returns false).
    ///
    /// [`keyed_breaker_snapshots`]: Runner::keyed_breaker_snapshots
    pub fn restore_keyed_breaker(&self, key: &str, snap: BreakerSnapshot) -> bool {
        let (module, symbol) = match key.split_once(':') {
            Some((m, s)) => (m, Some(s)),
            None => (key, None),
        };
        let Some(m) = ModuleId::parse(module) else {
            return false;
        };
        let Some(s) = symbol else {
            self.restore_breaker(m, snap);
            return true;
        };
        if modules::symbol_independent(m) || !self.cfg.symbols.iter().any(|c| c.input == s) {
            return false;
        }
        let mut br = Breaker::restore(self.cfg.breaker.config, snap);
        br.set_mode(self.cfg.breaker.mode(m));
        self.symbol_breakers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((m, s.to_string()), br);
        true
    }

    /// Replace the backend-wide facts shared by replicas: until its instant, a listed module is
    /// not called (a `<MODULE>_CIRCUIT_OPEN` soft fail), whatever this replica's breaker says.
    /// The breaker itself is untouched, so transient-failure streaks stay per replica.
    pub fn set_shared_blocks(
        &self,
        blocks: impl IntoIterator<Item = (ModuleId, OpenReason, jiff::Timestamp)>,
    ) {
        let map = blocks.into_iter().map(|(m, r, t)| (m, (r, t))).collect();
        *self.shared_blocks.lock().unwrap_or_else(|e| e.into_inner()) = map;
    }

    /// Every module's breaker as the run result and status page show it.
    pub fn breaker_views(&self) -> BTreeMap<ModuleId, BreakerView> {
        let now = (self.steady)();
        let b = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        b.iter().map(|(m, br)| (*m, br.view(now))).collect()
    }

    /// Modules whose own breaker is open for a backend-wide reason (entitlement, rate limit), with
    /// the reason and until when: what a replica shares with the others.
    pub fn backend_wide_opens(&self) -> Vec<(ModuleId, OpenReason, jiff::Timestamp)> {
        self.breaker_views()
            .into_iter()
            .filter_map(|(m, v)| match (v.state, v.reason, v.until) {
                (
                    BreakerState::Open,
                    Some(r @ (OpenReason::Entitlement | OpenReason::RateLimited)),
                    Some(u),
                ) => Some((m, r, u)),
                _ => None,
            })
            .collect()
    }

    /// Snapshots of every breaker, for the store.
    pub fn breaker_snapshots(&self) -> BTreeMap<ModuleId, BreakerSnapshot> {
        let b = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        b.iter().map(|(m, br)| (*m, br.snapshot())).collect()
    }

    /// Restore a saved breaker (its configured mode is kept from configuration).
    pub fn restore_breaker(&self, m: ModuleId, snap: BreakerSnapshot) {
        let mut br = Breaker::restore(self.cfg.breaker.config, snap);
        br.set_mode(self.cfg.breaker.mode(m));
        self.breakers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(m, br);
    }

    fn fold(
        &self,
        input: &str,
        f: &SymbolForms,
        context: BTreeMap<ModuleId, ModuleResult>,
        timestamp: jiff::Timestamp,
        elapsed: Duration,
    ) -> RunResult {
        let mut soft_fails = Vec::new();
        let mut used = Vec::new();
        let mut errors = Vec::new();
        let mut market = BTreeMap::new();
        for (m, r) in &context {
            match &r.call.outcome {
                Outcome::Ok { data } => {
                    used.push(*m);
                    market.insert(*m, data.clone());
                }
                Outcome::SoftFail { code, detail, .. } => {
                    soft_fails.push(code.clone());
                    errors.push(RunError {
                        module: *m,
                        code: code.clone(),
                        detail: detail.clone(),
                    });
                }
                Outcome::HardError { detail } => errors.push(RunError {
                    module: *m,
                    code: format!("{}_INTERNAL", m.upper()),
                    detail: detail.clone(),
                }),
                Outcome::Disabled => {}
            }
        }
        let data: Vec<&MarketData> = market.values().collect();
        let features = features(&data, &f.base, timestamp.as_millisecond());
        RunResult {
            features,
            market,
            success: !used.is_empty(),
            soft_fails,
            used_modules: used,
            context,
            errors,
            symbols: Symbols {
                input: input.to_string(),
                spot: f.spot.clone(),
                perp: f.perp.clone(),
            },
            timestamp,
            duration_ms: elapsed.as_millis() as u64,
            sandbox: self.cfg.sandbox
                || self
                    .backend_sandbox
                    .load(std::sync::atomic::Ordering::Relaxed),
            backend: self.backend.clone(),
            trigger: Trigger::Schedule,
        }
    }
}

async fn join(h: tokio::task::JoinHandle<ModuleResult>) -> ModuleResult {
    match h.await {
        Ok(r) => r,
        Err(e) => ModuleResult {
            call: Call {
                outcome: Outcome::HardError {
                    detail: format!("module task failed: {e}"),
                },
                request: None,
                attempts: 0,
            },
            latency_ms: 0,
            breaker: None,
            symbol_breaker: None,
            circuit_open: false,
            reused: None,
        },
    }
}

/// An answer without usable data, kept for reuse.
#[derive(Debug, Clone)]
struct KeptFail {
    call: Call,
    fetched_at: jiff::Timestamp,
    fresh_until: jiff::Timestamp,
}

/// A symbol-form search that found no form with data: how many in a row, and when to probe again.
#[derive(Debug, Clone, Copy)]
struct FormSearch {
    failures: u32,
    since: jiff::Timestamp,
    next_probe: jiff::Timestamp,
}

/// The store key of a breaker: the module's wire name, or `<module>:<symbol input>`.
pub fn breaker_key(m: ModuleId, symbol: Option<&str>) -> String {
    match symbol {
        Some(s) => format!("{}:{s}", m.as_str()),
        None => m.as_str().to_string(),
    }
}

/// A short human summary of a result, one line per module.
pub fn summary(r: &RunResult) -> String {
    let mut s = format!(
        "{}{} {} ({} / {}) in {}ms: {} of {} modules ok",
        if r.sandbox { "[SANDBOX DATA] " } else { "" },
        if r.success { "OK  " } else { "FAIL" },
        r.symbols.input,
        r.symbols.spot,
        r.symbols.perp,
        r.duration_ms,
        r.used_modules.len(),
        r.context
            .values()
            .filter(|m| m.call.outcome != Outcome::Disabled)
            .count(),
    );
    for (m, res) in &r.context {
        let line = match &res.call.outcome {
            Outcome::Ok { data } => {
                // Reused data says so, with its age: it was not fetched in this run.
                let mut l = match res.reused {
                    Some(u) => format!(
                        "ok (reused: {}, {:.0}s old)",
                        u.reason.as_str(),
                        u.age_ms as f64 / 1000.0
                    ),
                    None => format!("ok ({}ms)", res.latency_ms),
                };
                if let MarketData::OrderBook(b) = data
                    && let Some(note) = &b.note
                {
                    l.push_str(" — ");
                    l.push_str(note);
                }
                if let MarketData::EtfFlows(e) = data
                    && let Some(note) = &e.note
                {
                    l.push_str(" — ");
                    l.push_str(note);
                }
                l
            }
            Outcome::SoftFail { code, detail, .. } => match res.reused {
                // A kept answer without data: not asked again within its refresh interval.
                Some(u) => format!(
                    "soft fail {code} (kept answer, {:.0}s old): {detail}",
                    u.age_ms as f64 / 1000.0
                ),
                None => format!("soft fail {code}: {detail}"),
            },
            Outcome::HardError { detail } => format!("hard error: {detail}"),
            Outcome::Disabled => "disabled".to_string(),
        };
        s.push_str(&format!("\n  {:<13} {}", m.as_str(), line));
    }
    if r.features != SymbolFeatures::default() {
        s.push_str(&format!(
            "\n  features      {}",
            crate::market::summary_line(&r.features)
        ));
    }
    s
}
