//! One run: discovery once, every enabled module concurrently under its own timeout, the whole run
//! under a deadline, results folded into the design's `RunResult`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::config::Config;
use crate::daemon::metrics::{BreakerState as MetricState, Metrics};
use crate::discovery::openapi::SpecLimits;
use crate::discovery::{Discovery, DiscoveryConfig, RouteMap};
use crate::module_id::ModuleId;
use crate::resilience::breaker::{
    Admission, Breaker, BreakerSnapshot, BreakerState, BreakerView, OpenReason,
};
use crate::resilience::class::{ErrorClass, TransientKind};
use crate::run::clock::Clock;
use crate::run::modules::{self, Call, Outcome};
use crate::symbol::SymbolForms;
use crate::upstream::{Base, ClientBuildError, ClientConfig, Upstream};

/// One module's entry in `context`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModuleResult {
    #[serde(flatten)]
    pub call: Call,
    pub latency_ms: u64,
    /// The module's breaker after this call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerView>,
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
}

/// Everything a run needs, built once and shared by every run.
pub struct Runner {
    cfg: Arc<Config>,
    upstream: Upstream,
    discovery: Arc<Discovery>,
    breakers: Mutex<BTreeMap<ModuleId, Breaker>>,
    clock: Clock,
    metrics: Option<Arc<Metrics>>,
    /// Backend-wide facts learned by other replicas (issue 17): module → (why, until).
    shared_blocks: Mutex<BTreeMap<ModuleId, (OpenReason, jiff::Timestamp)>>,
}

impl Runner {
    /// Build the client and discovery from a validated configuration.
    pub fn new(cfg: Config, clock: Clock) -> Result<Arc<Runner>, ClientBuildError> {
        Runner::build(cfg, clock, None)
    }

    /// Build with metrics recorded per module call and breaker change.
    pub fn with_metrics(
        cfg: Config,
        clock: Clock,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Runner>, ClientBuildError> {
        Runner::build(cfg, clock, Some(metrics))
    }

    fn build(
        cfg: Config,
        clock: Clock,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Arc<Runner>, ClientBuildError> {
        let upstream = Upstream::new(
            Base::new(&cfg.base_url),
            &ClientConfig {
                connect_timeout: cfg.connect_timeout,
                max_body: cfg.max_body,
            },
        )?;
        let discovery = Discovery::new(
            upstream.clone(),
            DiscoveryConfig {
                ttl: cfg.discovery_ttl,
                timeout: cfg.discovery_timeout,
                limits: SpecLimits {
                    max_bytes: cfg.max_body,
                    ..SpecLimits::default()
                },
                prefs: crate::discovery::prefs_from_config(&cfg),
            },
        );
        Ok(Arc::new(Runner {
            upstream,
            discovery,
            breakers: Mutex::new(
                ModuleId::ALL
                    .into_iter()
                    .map(|m| (m, cfg.breaker.breaker(m)))
                    .collect(),
            ),
            cfg: Arc::new(cfg),
            clock,
            metrics,
            shared_blocks: Mutex::new(BTreeMap::new()),
        }))
    }

    /// The wall clock this runner reads.
    pub fn now(&self) -> jiff::Timestamp {
        (self.clock)()
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn discovery(&self) -> &Arc<Discovery> {
        &self.discovery
    }

    /// Run every configured symbol; one result per symbol, in configuration order.
    pub async fn run_once(self: &Arc<Self>) -> Vec<RunResult> {
        let started = Instant::now();
        let deadline = started + self.cfg.run_deadline;
        let timestamp = (self.clock)();
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

        // Symbol-independent modules once per run; the others once per symbol.
        let mut shared = Vec::new();
        for m in ModuleId::ALL {
            if modules::symbol_independent(m) {
                shared.push((m, self.spawn_module(m, &first, &map, deadline)));
            }
        }
        let mut per_symbol = Vec::new();
        for (_, f) in &forms {
            let mut tasks = Vec::new();
            for m in ModuleId::ALL {
                if !modules::symbol_independent(m) {
                    tasks.push((m, self.spawn_module(m, f, &map, deadline)));
                }
            }
            per_symbol.push(tasks);
        }
        let mut shared_results = Vec::new();
        for (m, h) in shared {
            shared_results.push((m, join(h).await));
        }
        let mut out = Vec::new();
        for ((input, f), tasks) in forms.iter().zip(per_symbol) {
            let mut context = BTreeMap::new();
            for (m, r) in &shared_results {
                context.insert(*m, r.clone());
            }
            for (m, h) in tasks {
                context.insert(m, join(h).await);
            }
            out.push(self.fold(input, f, context, timestamp, started.elapsed()));
        }
        out
    }

    fn spawn_module(
        self: &Arc<Self>,
        m: ModuleId,
        forms: &SymbolForms,
        map: &Arc<RouteMap>,
        deadline: Instant,
    ) -> tokio::task::JoinHandle<ModuleResult> {
        let me = self.clone();
        let map = map.clone();
        let forms = forms.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let call = me.module(m, &forms, &map, deadline).await;
            let now = (me.clock)();
            let latency = started.elapsed();
            let view = me.with_breaker(m, |b| b.view(now));
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
            }
        })
    }

    async fn module(
        &self,
        m: ModuleId,
        forms: &SymbolForms,
        map: &RouteMap,
        deadline: Instant,
    ) -> Call {
        let plain = |outcome| Call {
            outcome,
            request: None,
            attempts: 0,
        };
        if !self.cfg.features.enabled(m) {
            return plain(Outcome::Disabled);
        }
        let now = (self.clock)();
        let shared = self
            .shared_blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&m)
            .copied();
        if let Some((reason, until)) = shared.filter(|(_, until)| now < *until) {
            return plain(Outcome::SoftFail {
                code: format!("{}_CIRCUIT_OPEN", m.upper()),
                class: None,
                detail: format!(
                    "circuit open until {until} ({}, learned by another replica)",
                    reason.as_str()
                ),
            });
        }
        let admission = self.with_breaker(m, |b| b.admit(now));
        if let Admission::Reject { reason, until } = admission {
            let detail = match until {
                Some(u) => format!("circuit open until {u} ({})", reason.as_str()),
                None => format!("circuit open ({})", reason.as_str()),
            };
            return plain(Outcome::SoftFail {
                code: format!("{}_CIRCUIT_OPEN", m.upper()),
                class: None,
                detail,
            });
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
                Instant::now() + budget,
                &self.clock,
            ),
        )
        .await
        {
            Ok(c) => c,
            Err(_) => Call {
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
        };
        let now = (self.clock)();
        match &call.outcome {
            Outcome::Ok { .. } => self.with_breaker(m, |b| b.on_success(now)),
            Outcome::SoftFail {
                class: Some(class), ..
            } => self.with_breaker(m, |b| b.on_failure(class, now)),
            _ => {}
        }
        call
    }

    fn with_breaker<T>(&self, m: ModuleId, f: impl FnOnce(&mut Breaker) -> T) -> T {
        let mut b = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        let breaker = b.entry(m).or_insert_with(|| self.cfg.breaker.breaker(m));
        f(breaker)
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
        let now = (self.clock)();
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
        for (m, r) in &context {
            match &r.call.outcome {
                Outcome::Ok { .. } => used.push(*m),
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
                    code: "INTERNAL".into(),
                    detail: detail.clone(),
                }),
                Outcome::Disabled => {}
            }
        }
        RunResult {
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
            sandbox: self.cfg.sandbox,
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
        },
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
            Outcome::Ok { .. } => format!("ok ({}ms)", res.latency_ms),
            Outcome::SoftFail { code, detail, .. } => format!("soft fail {code}: {detail}"),
            Outcome::HardError { detail } => format!("hard error: {detail}"),
            Outcome::Disabled => "disabled".to_string(),
        };
        s.push_str(&format!("\n  {:<13} {}", m.as_str(), line));
    }
    s
}
