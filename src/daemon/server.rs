//! `sniper serve`: the scheduler loop and the HTTP server in one process.
//!
//! The [`App`] owns the runner, the scheduler's published status, the metrics and the store; the
//! loop and the HTTP handlers only talk to it. Shutdown is one `watch` channel handed to the loop,
//! the servers and the retention task.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::daemon::metrics::{self, Metrics};
use crate::daemon::scheduler::{
    LoopContext, ObservingHooks, RunSummary, Scheduler, SchedulerConfig, SchedulerStatus, TickGate,
    run_loop,
};
use crate::daemon::window::ActiveWindow;
use crate::module_id::ModuleId;
use crate::run::modules::Outcome;
use crate::run::runner::{RunResult, Runner};
use crate::store::{AsyncStore, RunRecord};

/// Everything the loop and the handlers share.
pub struct App {
    pub runner: Arc<Runner>,
    pub status: Arc<SchedulerStatus>,
    pub metrics: Arc<Metrics>,
    pub store: Option<AsyncStore>,
    pub window: ActiveWindow,
    latest: RwLock<Vec<RunResult>>,
    /// Breaker snapshots and learned routes as last saved, so only changes are written.
    saved_breakers: Mutex<BTreeMap<ModuleId, Value>>,
    saved_routes: Mutex<BTreeMap<ModuleId, Value>>,
    on_run: RwLock<Option<OnRun>>,
    /// Keep module payloads in the history (capped by the store).
    keep_payloads: std::sync::atomic::AtomicBool,
    /// This process's replica id (`SNIPER_REPLICA_ID`), used to claim ticks on a shared store.
    replica: RwLock<Arc<str>>,
    /// Backend-wide facts this replica already wrote: module → until.
    written_facts: Mutex<BTreeMap<ModuleId, jiff::Timestamp>>,
    /// GLUE(issue 17, until the budget branch lands): per-minute request limit, 0 = none.
    budget_per_min: std::sync::atomic::AtomicU32,
}

/// The job name under which scheduled runs claim their ticks.
pub const RUN_JOB: &str = "run";
/// GLUE(issue 17): the consumer name scheduled runs spend the shared budget under.
pub const BUDGET_CONSUMER: &str = "runs";

/// Called after every run with its results (the demo prints them).
pub type OnRun = Box<dyn Fn(&[RunResult]) + Send + Sync>;

impl App {
    /// Build the app; restores breaker state from the store if there is one.
    pub async fn new(
        runner: Arc<Runner>,
        sched: &SchedulerConfig,
        metrics: Arc<Metrics>,
        store: Option<AsyncStore>,
        window: ActiveWindow,
    ) -> Arc<App> {
        let (mut saved_breakers, mut saved_routes) = (BTreeMap::new(), BTreeMap::new());
        if let Some(store) = &store {
            let breakers = store.breakers().await;
            for (m, snap, json) in decode_rows(breakers, "breaker") {
                runner.restore_breaker(m, snap);
                saved_breakers.insert(m, json);
                tracing::info!(module = %m, "breaker state restored");
            }
            let routes = store.routes().await;
            for (m, learned, json) in decode_rows(routes, "learned route") {
                runner.discovery().restore_learned(m, learned);
                saved_routes.insert(m, json);
            }
        }
        Arc::new(App {
            saved_routes: Mutex::new(saved_routes),
            status: SchedulerStatus::new(runner.now(), sched),
            runner,
            metrics,
            store,
            window,
            latest: RwLock::new(Vec::new()),
            saved_breakers: Mutex::new(saved_breakers),
            on_run: RwLock::new(None),
            keep_payloads: std::sync::atomic::AtomicBool::new(false),
            replica: RwLock::new(Arc::from(default_replica_id().as_str())),
            written_facts: Mutex::new(BTreeMap::new()),
            budget_per_min: std::sync::atomic::AtomicU32::new(0),
        })
    }

    /// One run: results kept as the latest, written to the store with changed breakers. On a
    /// shared store the backend-wide facts are read once before the run and this run's new ones
    /// written after it.
    pub async fn run_and_record(&self) -> Vec<RunResult> {
        if let Some(store) = self.store.as_ref().filter(|s| s.is_shared()) {
            self.load_shared_facts(store).await;
        }
        let results = self.runner.run_once().await;
        if let Some(store) = self.store.as_ref().filter(|s| s.is_shared()) {
            self.write_shared_facts(store).await;
        }
        if let Some(store) = &self.store {
            for r in &results {
                match RunRecord::from_run_result(
                    r,
                    self.keep_payloads
                        .load(std::sync::atomic::Ordering::Relaxed),
                ) {
                    Ok(rec) => {
                        if let Err(e) = store.save_run(rec).await {
                            tracing::warn!(error = %e, "cannot save the run");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot record the run"),
                }
            }
            let snaps = self
                .runner
                .breaker_snapshots()
                .into_iter()
                .filter_map(|(m, snap)| Some((m, serde_json::to_value(&snap).ok()?)));
            let changed = take_changed(&self.saved_breakers, snaps);
            for (m, v) in changed {
                if let Err(e) = store.save_breaker(m.as_str().to_string(), v).await {
                    tracing::warn!(module = %m, error = %e, "cannot save breaker state");
                }
            }
            let learned = self
                .runner
                .discovery()
                .learned()
                .into_iter()
                .filter_map(|(m, l)| Some((m, serde_json::to_value(&l).ok()?)));
            let changed = take_changed(&self.saved_routes, learned);
            for (m, v) in changed {
                if let Err(e) = store.save_route(m.as_str().to_string(), v).await {
                    tracing::warn!(module = %m, error = %e, "cannot save learned route");
                }
            }
        }
        if let Some(f) = self
            .on_run
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            f(&results);
        }
        *self.latest.write().unwrap_or_else(|e| e.into_inner()) = results.clone();
        results
    }

    async fn load_shared_facts(&self, store: &AsyncStore) {
        match store.backend_facts(self.runner.now()).await {
            Ok(facts) => self
                .runner
                .set_shared_blocks(facts.into_iter().filter_map(|f| {
                    let m = ModuleId::parse(&f.module)?;
                    let reason = serde_json::from_value(Value::String(f.kind)).ok()?;
                    Some((m, reason, f.until))
                })),
            // Keep the previous facts: a store hiccup must not reopen a paid endpoint.
            Err(e) => tracing::warn!(error = %e, "cannot read shared backend facts"),
        }
    }

    async fn write_shared_facts(&self, store: &AsyncStore) {
        let fresh: Vec<_> = {
            let mut written = self.written_facts.lock().unwrap_or_else(|e| e.into_inner());
            self.runner
                .backend_wide_opens()
                .into_iter()
                .filter(|(m, _, until)| written.insert(*m, *until) != Some(*until))
                .collect()
        };
        for (m, reason, until) in fresh {
            let fact = crate::store::BackendFact {
                module: m.as_str().to_string(),
                kind: reason.as_str().to_string(),
                until,
            };
            match store.save_backend_fact(fact).await {
                Ok(()) => {
                    tracing::info!(module = %m, kind = reason.as_str(), %until, "shared a backend fact with the other replicas")
                }
                Err(e) => tracing::warn!(module = %m, error = %e, "cannot share a backend fact"),
            }
        }
    }

    /// May this replica run the tick of `slot`? Claims it on the store (`tick_claims`), then (glue)
    /// spends the per-minute budget. Any store error answers false: without the store no replica
    /// can know the tick is its own, and running it anyway could run it twice.
    pub async fn claim_tick(&self, slot: i64) -> bool {
        let Some(store) = &self.store else {
            return true;
        };
        let replica = self.replica();
        match store.claim_tick(RUN_JOB, slot, replica.clone()).await {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                tracing::warn!(slot, error = %e, "cannot claim the tick; skipping it");
                return false;
            }
        }
        // GLUE(issue 17): a simple shared per-minute limit until the budget branch lands.
        let limit = self
            .budget_per_min
            .load(std::sync::atomic::Ordering::Relaxed);
        if limit > 0 {
            let n = self.requests_per_run();
            let minute = self.runner.now().as_millisecond().div_euclid(60_000);
            match store
                .try_spend(BUDGET_CONSUMER.to_string(), minute, n, limit)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(slot, n, limit, "budget for this minute spent; tick skipped");
                    return false;
                }
                Err(e) => {
                    tracing::warn!(slot, error = %e, "cannot spend the budget; tick skipped");
                    return false;
                }
            }
        }
        tracing::debug!(slot, %replica, "tick claimed");
        true
    }

    /// GLUE(issue 17): the most backend requests one run makes without retries or fallbacks:
    /// each enabled module once, symbol-dependent ones once per symbol.
    fn requests_per_run(&self) -> u32 {
        let cfg = self.runner.config();
        let symbols = u32::try_from(cfg.symbols.len()).unwrap_or(u32::MAX);
        ModuleId::ALL
            .into_iter()
            .filter(|m| cfg.features.enabled(*m))
            .map(|m| {
                if crate::run::modules::symbol_independent(m) {
                    1
                } else {
                    symbols
                }
            })
            .fold(0u32, u32::saturating_add)
    }

    /// Set this process's replica id (default: hostname-pid).
    pub fn set_replica(&self, id: &str) {
        *self.replica.write().unwrap_or_else(|e| e.into_inner()) = Arc::from(id);
    }

    /// This process's replica id.
    pub fn replica(&self) -> Arc<str> {
        self.replica
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// GLUE(issue 17): limit scheduled runs to `limit` backend requests per minute across every
    /// replica of a shared store (0 = no limit).
    pub fn set_budget_per_min(&self, limit: u32) {
        self.budget_per_min
            .store(limit, std::sync::atomic::Ordering::Relaxed);
    }

    /// Store module payloads with each run (off by default; the store caps their size).
    pub fn set_keep_payloads(&self, yes: bool) {
        self.keep_payloads
            .store(yes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Set the per-run callback.
    pub fn set_on_run(&self, f: OnRun) {
        *self.on_run.write().unwrap_or_else(|e| e.into_inner()) = Some(f);
    }

    /// The latest results (empty before the first run).
    pub fn latest(&self) -> Vec<RunResult> {
        self.latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Decode `(module, json)` rows saved in the store; unreadable rows are logged and skipped (the
/// module then starts fresh).
fn decode_rows<T: serde::de::DeserializeOwned>(
    rows: Result<Vec<(String, Value)>, crate::store::StoreError>,
    what: &str,
) -> Vec<(ModuleId, T, Value)> {
    let rows = match rows {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read saved {what}s");
            return Vec::new();
        }
    };
    rows.into_iter()
        .filter_map(|(module, json)| {
            let m = ModuleId::parse(&module)?;
            match serde_json::from_value(json.clone()) {
                Ok(v) => Some((m, v, json)),
                Err(e) => {
                    tracing::warn!(module = %m, error = %e, "saved {what} unreadable; starting fresh");
                    None
                }
            }
        })
        .collect()
}

/// The entries of `current` that differ from `saved`; `saved` is updated to match.
fn take_changed(
    saved: &Mutex<BTreeMap<ModuleId, Value>>,
    current: impl Iterator<Item = (ModuleId, Value)>,
) -> Vec<(ModuleId, Value)> {
    let mut saved = saved.lock().unwrap_or_else(|e| e.into_inner());
    let mut changed = Vec::new();
    for (m, v) in current {
        if saved.get(&m) != Some(&v) {
            saved.insert(m, v.clone());
            changed.push((m, v));
        }
    }
    changed
}

/// What the scheduler learns from a run's results (several symbols fold into one).
pub fn summarize(results: &[RunResult]) -> RunSummary {
    let mut soft: Vec<ModuleId> = Vec::new();
    let mut active = 0;
    for r in results {
        active = active.max(r.used_modules.len());
        for (m, res) in &r.context {
            if matches!(res.call.outcome, Outcome::SoftFail { .. }) && !soft.contains(m) {
                soft.push(*m);
            }
        }
    }
    let success = results.iter().any(|r| r.success);
    RunSummary {
        success,
        soft_fails: soft,
        modules_active: active,
        detail: (!success).then(|| {
            let codes: Vec<String> = results
                .iter()
                .flat_map(|r| r.soft_fails.iter().cloned())
                .collect();
            format!("every module failed: {}", codes.join(", "))
        }),
    }
}

fn json_probe(p: crate::daemon::scheduler::Probe) -> Response {
    let code = if p.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(json!({"ok": p.ok, "reason": p.reason}))).into_response()
}

async fn health(State(app): State<Arc<App>>) -> Response {
    json_probe(app.status.liveness(app.runner.now()))
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    json_probe(app.status.readiness())
}

async fn metrics_handler(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        app.metrics.encode(),
    )
        .into_response()
}

async fn latest(State(app): State<Arc<App>>) -> Response {
    let l = app.latest();
    if l.is_empty() {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "no_run_yet", "message": "no run has finished yet"})),
        )
            .into_response();
    }
    axum::Json(json!({"results": l})).into_response()
}

async fn run_now(State(app): State<Arc<App>>) -> Response {
    // Never two runs at once: wait for a scheduled run in flight.
    let _guard = app.status.run_lock().lock().await;
    let results = app.run_and_record().await;
    axum::Json(json!({"results": results})).into_response()
}

fn modules_json(app: &App) -> Vec<Value> {
    let views = app.runner.breaker_views();
    ModuleId::ALL
        .iter()
        .map(|m| {
            let route = app.runner.discovery().current_route(*m);
            json!({
                "module": m,
                "enabled": app.runner.config().features.enabled(*m),
                "breaker": views.get(m),
                "route": {"method": route.method, "path": route.path, "source": route.source},
            })
        })
        .collect()
}

async fn modules(State(app): State<Arc<App>>) -> Response {
    axum::Json(json!({"modules": modules_json(&app)})).into_response()
}

async fn status(State(app): State<Arc<App>>) -> Response {
    let now = app.runner.now();
    let snap = app.status.snapshot();
    let last = app.latest();
    let last_run = last.first().map(|r| {
        let outcome = metrics::RunOutcome::classify(r.success, r.soft_fails.len());
        json!({
            "at": r.timestamp,
            "outcome": outcome.as_str(),
            "success": r.success,
            "duration_ms": r.duration_ms,
            "soft_fails": r.soft_fails,
        })
    });
    let cfg: &Config = app.runner.config();
    axum::Json(json!({
        "sandbox": cfg.sandbox,
        "modules": modules_json(&app),
        "next_run_at": snap.next_run_at.map(|t| t.to_string()),
        "window": {
            "tz": app.window.tz_name(),
            "start": app.window.start().strftime("%H:%M").to_string(),
            "end": app.window.end().strftime("%H:%M").to_string(),
            "in_window": app.window.contains(now),
            "next_opening": app.window.next_opening(now).to_string(),
        },
        "scheduler": snap,
        "last_run": last_run,
    }))
    .into_response()
}

/// JSON 404 for every path no route claims (`/gptsx` included).
pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": "not_found", "message": "no such path"})),
    )
        .into_response()
}

/// `/health`, `/ready`, `/api/*` (and `/metrics` unless it has its own listener).
pub fn api_router(app: Arc<App>, with_metrics: bool) -> Router {
    let mut r = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/api/runs/latest", get(latest))
        .route("/api/run", post(run_now))
        .route("/api/modules", get(modules))
        .route("/api/status", get(status));
    if with_metrics {
        r = r.route("/metrics", get(metrics_handler));
    }
    r.with_state(app)
}

/// `/metrics` alone, for `SNIPER_METRICS_LISTEN`.
pub fn metrics_router(app: Arc<App>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .with_state(app)
}

/// Serve `router` on `listener` until `shutdown` turns true.
pub async fn serve_until(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|s| *s).await;
        })
        .await
}

/// Start the scheduler loop over `app`; returns its task.
pub fn spawn_loop(
    app: Arc<App>,
    sched: SchedulerConfig,
    hooks: ObservingHooks,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let window = app.window.clone();
    let mut ctx = LoopContext::new(app.status.clone(), hooks, shutdown);
    if app.store.as_ref().is_some_and(|s| s.is_shared()) {
        let a = app.clone();
        ctx.gate = Some(TickGate {
            interval: sched.interval,
            claim: Box::new(move |slot| {
                let a = a.clone();
                Box::pin(async move { a.claim_tick(slot).await })
            }),
        });
    }
    tokio::spawn(async move {
        let a = app.clone();
        run_loop(
            Scheduler::new(sched),
            window,
            move || {
                let a = a.clone();
                async move { summarize(&a.run_and_record().await) }
            },
            ctx,
        )
        .await;
    })
}

/// The default replica id: `hostname-pid` (hostname from the kernel, else `$HOSTNAME`, else
/// `host`).
pub fn default_replica_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_string());
    format!("{host}-{}", std::process::id())
}

/// Bind an address with a clear error.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Resolves on SIGTERM or SIGINT.
pub async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// How long shutdown waits for the loop's run in flight (the loop itself cancels after its grace).
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(6);
