//! The daemon's [`App`] (wiring over small owners, built once), its JSON API (`/health`,
//! `/ready`, `/api/*`, `/metrics`) and the scheduler loop over it. Shutdown is one `watch` channel
//! handed to the loop, the servers and the retention task.

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
use crate::daemon::replica::{Replica, default_replica_id};
use crate::daemon::scheduler::{
    LoopContext, ObservingHooks, RunSummary, Scheduler, SchedulerConfig, SchedulerStatus, TickGate,
    run_loop,
};
use crate::daemon::state_sync::StateSync;
use crate::daemon::store_health::{StoreErrorPolicy, StoreHealth, StoreWrites};
use crate::module_id::ModuleId;
use crate::obs::metrics::StoreOp;
use crate::obs::metrics::{self, Metrics};
use crate::resilience::breaker::BreakerState;
use crate::run::modules::Outcome;
use crate::run::runner::{RunResult, Runner, Trigger};
use crate::store::{AsyncStore, RunRecord};
use crate::window::ActiveWindow;

/// Settings of the [`App`] decided once at start-up (nothing is set after construction).
pub struct AppOptions {
    /// Keep module payloads in the history (`SNIPER_STORE_PAYLOADS`; the store caps them).
    pub keep_payloads: bool,
    /// What `/ready` does about failing store writes (`SNIPER_READY_ON_STORE_ERROR`).
    pub store_policy: StoreErrorPolicy,
    /// Grades each run's results into signal calls.
    pub signals: Option<Arc<crate::signals::SignalEngine>>,
    /// This process's replica id (`SNIPER_REPLICA_ID`), used to claim ticks on a shared store.
    pub replica: Arc<str>,
    /// Called after every run with its results (the demo prints them).
    pub on_run: Option<OnRun>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            keep_payloads: false,
            store_policy: StoreErrorPolicy::default(),
            signals: None,
            replica: Arc::from(default_replica_id().as_str()),
            on_run: None,
        }
    }
}

/// The daemon's wiring, shared by the loop and the HTTP handlers: the runner, the scheduler's
/// published status, the metrics, the window and the store, and the small owners of one job
/// each — the store's health ([`StoreWrites`]), saved breaker/route state ([`StateSync`]), this
/// replica's tick claims and backend facts ([`Replica`]), and the manual run in flight
/// ([`ManualRuns`]). Built once by [`App::new`].
pub struct App {
    pub runner: Arc<Runner>,
    pub status: Arc<SchedulerStatus>,
    pub metrics: Arc<Metrics>,
    pub store: Option<AsyncStore>,
    pub window: ActiveWindow,
    latest: RwLock<Vec<RunResult>>,
    writes: StoreWrites,
    state: StateSync,
    replica: Replica,
    manual: ManualRuns,
    keep_payloads: bool,
    signals: Option<Arc<crate::signals::SignalEngine>>,
    on_run: Option<OnRun>,
}

/// The manual run in flight, shared by every `POST /api/run` that arrives meanwhile.
#[derive(Default)]
pub struct ManualRuns {
    slot: Mutex<Option<SharedRun>>,
}

/// A manual run's result as awaited by every request that joined it (`Err`: the run's task
/// panicked or was cancelled).
type SharedRun = futures_util::future::Shared<
    futures_util::future::BoxFuture<'static, Result<Arc<Vec<RunResult>>, String>>,
>;

/// Called after every run with its results (the demo prints them).
pub type OnRun = Box<dyn Fn(&[RunResult]) + Send + Sync>;

impl App {
    /// Builds the app; restores the breaker state and learned routes saved for this runner's
    /// backend ([`Runner::backend`]) from the store if there is one.
    pub async fn new(
        runner: Arc<Runner>,
        sched: &SchedulerConfig,
        metrics: Arc<Metrics>,
        store: Option<AsyncStore>,
        window: ActiveWindow,
        opts: AppOptions,
    ) -> Arc<App> {
        let state = match &store {
            Some(store) => StateSync::restore(&runner, store).await,
            None => StateSync::default(),
        };
        // The runner bounds discovery and every module timeout by the run deadline.
        let status =
            SchedulerStatus::with_run_budget(runner.now(), sched, runner.config().run_deadline);
        Arc::new(App {
            writes: StoreWrites::new(opts.store_policy, metrics.clone()),
            state,
            replica: Replica::new(opts.replica),
            manual: ManualRuns::default(),
            keep_payloads: opts.keep_payloads,
            signals: opts.signals,
            on_run: opts.on_run,
            status,
            runner,
            metrics,
            store,
            window,
            latest: RwLock::new(Vec::new()),
        })
    }

    /// The store's recent failures (for `/api/status`).
    pub fn store_health(&self) -> StoreHealth {
        self.writes.health()
    }

    /// `/ready`: the scheduler's readiness, then the store's (per the policy).
    pub fn readiness(&self) -> crate::daemon::scheduler::Probe {
        let sched = self.status.readiness();
        if !sched.ok {
            return sched;
        }
        let store = self.writes.readiness();
        if store.ok { sched } else { store }
    }

    /// A manual run (`POST /api/run`): joins the manual run in flight if there is one, else starts
    /// one (after any scheduled run in flight, never beside it). At most one manual run exists at
    /// a time, however many requests arrive; it runs on its own task, so it completes and is
    /// recorded even if every requester hangs up (or the server drains).
    pub async fn run_manual(self: &Arc<Self>) -> Result<Arc<Vec<RunResult>>, String> {
        let shared = {
            let mut slot = self.manual.slot.lock().unwrap_or_else(|e| e.into_inner());
            match slot.as_ref() {
                Some(run) => {
                    tracing::debug!("manual run requested while one is in flight; joining it");
                    run.clone()
                }
                None => {
                    let app = self.clone();
                    let task = tokio::spawn(async move {
                        let results = {
                            let _guard = app.status.run_lock().lock().await;
                            app.run_and_record_as(Trigger::Manual).await
                        };
                        *app.manual.slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
                        Arc::new(results)
                    });
                    use futures_util::FutureExt as _;
                    let run = async move { task.await.map_err(|e| e.to_string()) }
                        .boxed()
                        .shared();
                    *slot = Some(run.clone());
                    run
                }
            }
        };
        shared.await
    }

    /// One scheduled run: [`App::run_and_record_as`] with [`Trigger::Schedule`].
    pub async fn run_and_record(&self) -> Vec<RunResult> {
        self.run_and_record_as(Trigger::Schedule).await
    }

    /// One run: results (marked with `trigger`) kept as the latest, written to the store with
    /// changed breakers. Store failures are logged as errors, counted and remembered for `/ready`;
    /// the run goes on. A run not started by the scheduler is logged and counted here (the
    /// scheduler's hooks count its own).
    pub async fn run_and_record_as(&self, trigger: Trigger) -> Vec<RunResult> {
        let started = tokio::time::Instant::now();
        let shared = self.store.as_ref().filter(|s| s.is_shared());
        if let Some(store) = shared {
            self.replica.load_facts(&self.runner, store).await;
        }
        let consumer = match trigger {
            Trigger::Manual => crate::budget::Consumer::Manual,
            _ => crate::budget::Consumer::Scheduled,
        };
        let mut results = self.runner.run_once_as(consumer).await;
        if let Some(store) = shared {
            self.replica.write_facts(&self.runner, store).await;
        }
        for r in &mut results {
            r.trigger = trigger;
        }
        if let Some(store) = &self.store {
            for r in &results {
                match RunRecord::from_run_result(r, self.keep_payloads) {
                    Ok(rec) => {
                        let res = store.save_run(rec).await;
                        self.writes
                            .note(StoreOp::SaveRun, "save the run", res, self.runner.now());
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot record the run"),
                }
            }
            self.state
                .save_changed(&self.runner, store, &self.writes)
                .await;
        }
        if trigger != Trigger::Schedule {
            let summary = summarize(&results);
            let outcome = summary.outcome();
            tracing::info!(
                trigger = trigger.as_str(),
                outcome = outcome.as_str(),
                soft_fails = summary.soft_fails.len(),
                "run finished"
            );
            self.metrics.record_run_by(
                trigger,
                outcome,
                started.elapsed(),
                summary.modules_active,
                &summary.soft_fails,
            );
        }
        // The scorecard's price path (issue 23): mid and spread of every usable book.
        if let Some(store) = &self.store {
            crate::score::record::record_prices(store, &results).await;
        }
        if let Some(engine) = &self.signals {
            engine.after_run(&results).await;
        }
        if let Some(f) = &self.on_run {
            f(&results);
        }
        *self.latest.write().unwrap_or_else(|e| e.into_inner()) = results.clone();
        results
    }

    /// May this replica run the tick of `slot`? Always on a private store; on a shared one, when
    /// this replica claimed it ([`Replica::claim_tick`]). The run's requests then spend the
    /// shared budget one by one.
    pub async fn claim_tick(&self, slot: i64) -> bool {
        match &self.store {
            Some(store) => self.replica.claim_tick(store, slot).await,
            None => true,
        }
    }

    /// This process's replica id.
    pub fn replica(&self) -> Arc<str> {
        self.replica.id()
    }

    /// The latest results (empty before the first run).
    pub fn latest(&self) -> Vec<RunResult> {
        self.latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// What the scheduler learns from a run's results (several symbols fold into one).
pub fn summarize(results: &[RunResult]) -> RunSummary {
    let mut soft: Vec<ModuleId> = Vec::new();
    let mut active = 0;
    for r in results {
        active = active.max(r.used_modules.len());
        for (m, res) in &r.context {
            let degraded = matches!(
                res.call.outcome,
                Outcome::SoftFail { .. } | Outcome::HardError { .. }
            );
            if degraded && !soft.contains(m) {
                soft.push(*m);
            }
        }
    }
    let success = results.iter().any(|r| r.success);
    let calls = || {
        results
            .iter()
            .flat_map(|r| r.context.values())
            .filter(|m| m.call.outcome != Outcome::Disabled)
    };
    // Every enabled module of every symbol refused by an open circuit: nothing went out.
    let nothing_sent = calls().next().is_some() && calls().all(|m| m.circuit_open);
    // The earliest instant a circuit seen in this run admits a probe again.
    let next_half_open = calls()
        .flat_map(|m| [m.breaker.as_ref(), m.symbol_breaker.as_ref()])
        .flatten()
        .filter(|v| matches!(v.state, BreakerState::Open | BreakerState::HalfOpen))
        .filter_map(|v| v.until)
        .min();
    RunSummary {
        success,
        soft_fails: soft,
        modules_active: active,
        nothing_sent,
        next_half_open,
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
    json_probe(app.readiness())
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
    // Never two runs at once (a scheduled run in flight is waited for), and concurrent requests
    // share one manual run.
    match app.run_manual().await {
        Ok(results) => axum::Json(json!({"results": *results})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "manual run failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": "run_failed", "message": e})),
            )
                .into_response()
        }
    }
}

fn modules_json(app: &App) -> Vec<Value> {
    let views = app.runner.breaker_views();
    let health = app.runner.data_health();
    ModuleId::ALL
        .iter()
        .map(|m| {
            let route = app.runner.discovery().current_route(*m);
            // Issue 22 item 11: when usable data last came, per symbol, and why not since.
            let data: Vec<&crate::run::health::ModuleData> =
                health.iter().filter(|d| d.module == *m).collect();
            json!({
                "module": m,
                "enabled": app.runner.config().features.enabled(*m),
                "breaker": views.get(m),
                "route": {"method": route.method, "path": route.path, "source": route.source},
                "data": data,
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
        let outcome = r.outcome();
        json!({
            "at": r.timestamp,
            "outcome": outcome.as_str(),
            "success": r.success,
            "duration_ms": r.duration_ms,
            "soft_fails": r.soft_fails,
            "trigger": r.trigger,
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
        "store": app.store.as_ref().map(|_| app.store_health()),
        "last_run": last_run,
    }))
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

/// How long shutdown waits for the loop's run in flight (the loop itself cancels after its grace).
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(6);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::market::{Bias, Direction, MarketData};
    use crate::run::modules::Call;
    use crate::run::runner::{ModuleResult, RunError, Symbols};

    fn module(outcome: Outcome) -> ModuleResult {
        ModuleResult {
            call: Call {
                outcome,
                request: None,
                attempts: 1,
            },
            latency_ms: 3,
            breaker: None,
            symbol_breaker: None,
            circuit_open: false,
            reused: None,
        }
    }

    /// A run whose order book module panicked while the bias module answered.
    fn run_with_a_panicked_module() -> RunResult {
        let bias = MarketData::Bias(Bias {
            direction: Direction::Long,
            score: 0.4,
            confidence: None,
            time_ms: None,
        });
        RunResult {
            success: true,
            soft_fails: vec![],
            used_modules: vec![ModuleId::Bias],
            context: BTreeMap::from([
                (ModuleId::Bias, module(Outcome::Ok { data: bias })),
                (
                    ModuleId::SpotOb,
                    module(Outcome::HardError {
                        detail: "module task failed: panicked".into(),
                    }),
                ),
            ]),
            errors: vec![RunError {
                module: ModuleId::SpotOb,
                code: "INTERNAL".into(),
                detail: "module task failed: panicked".into(),
            }],
            symbols: Symbols {
                input: "SOL".into(),
                spot: "SOLUSDT".into(),
                perp: "SOL-USDT-SWAP".into(),
            },
            timestamp: jiff::Timestamp::UNIX_EPOCH,
            duration_ms: 5,
            sandbox: false,
            features: Default::default(),
            market: Default::default(),
            backend: "http://127.0.0.1:8000".into(),
            trigger: Trigger::Schedule,
        }
    }

    #[test]
    fn a_panicked_module_makes_the_run_partial_everywhere() {
        let r = run_with_a_panicked_module();
        // /api/status reads RunResult::outcome, the loop's metrics and alerts the summary,
        // the history the stored record: one rule, one answer.
        assert_eq!(r.outcome(), metrics::RunOutcome::Partial);
        let summary = summarize(std::slice::from_ref(&r));
        assert_eq!(summary.outcome(), metrics::RunOutcome::Partial);
        assert_eq!(summary.soft_fails, vec![ModuleId::SpotOb]);
        let rec = RunRecord::from_run_result(&r, false).expect("record");
        assert_eq!(rec.outcome, crate::store::Outcome::Partial);
        // Without the panic the same run is a success in all three.
        let clean = RunResult {
            context: BTreeMap::from([(ModuleId::Bias, r.context[&ModuleId::Bias].clone())]),
            errors: vec![],
            ..r
        };
        assert_eq!(clean.outcome(), metrics::RunOutcome::Success);
        assert_eq!(
            summarize(std::slice::from_ref(&clean)).outcome(),
            metrics::RunOutcome::Success
        );
        assert_eq!(
            RunRecord::from_run_result(&clean, false)
                .expect("record")
                .outcome,
            crate::store::Outcome::Success
        );
    }
}
