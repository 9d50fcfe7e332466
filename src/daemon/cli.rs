//! `sniper serve` and `sniper demo`: the daemon's wiring — store, runner, app, HTTP listeners,
//! scheduler loop, retention, alerts — and its shutdown.

use std::time::Duration;

use crate::command::{CommandError, Doing};
use crate::config::Config;
use crate::daemon::metrics::Metrics;
use crate::daemon::server::{
    App, SHUTDOWN_WAIT, api_router, bind, metrics_router, serve_until, spawn_loop, termination,
};
use crate::daemon::window::ActiveWindow;
use crate::gateway::cli::parse_addr;
use crate::run::cli::print_results;
use crate::run::{Runner, system_clock};
use crate::sandbox::Sandbox;

/// Settings of the daemon (`serve`, `demo`).
#[derive(clap::Args, Clone)]
pub struct DaemonArgs {
    /// Address of the HTTP server (status page, API, health, metrics).
    #[arg(long, env = "SNIPER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Serve /metrics on this address instead of the main listener.
    #[arg(long, env = "SNIPER_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// SQLite file for run history and breaker state (`:memory:` keeps nothing), or a
    /// `postgres://user:pass@host:port/db` URL shared by several replicas (each tick runs once,
    /// backend facts and history are shared). Default ./sniper.db for serve, :memory: for demo.
    #[arg(long, env = "SNIPER_DB")]
    pub db: Option<String>,
    /// This replica's id in the shared store (tick claims, run history). Default hostname-pid.
    #[arg(long, env = "SNIPER_REPLICA_ID")]
    pub replica_id: Option<String>,
    /// GLUE(issue 17; the budget branch owns this variable): backend requests per minute that
    /// scheduled runs may spend, shared by every replica of a PostgreSQL store. 0 = no limit.
    #[arg(long, env = "SNIPER_BUDGET_PER_MIN", default_value_t = 0)]
    pub budget_per_min: u32,
    /// Keep module payloads in the run history (on/off; capped at 64 KiB per run).
    #[arg(long, env = "SNIPER_STORE_PAYLOADS", default_value = "off")]
    pub store_payloads: String,
    #[command(flatten)]
    pub gpts: crate::gateway::ProxyArgs,
    #[command(flatten)]
    pub sched: crate::daemon::scheduler::SchedulerArgs,
    #[command(flatten)]
    pub alerts: crate::daemon::alerts::AlertArgs,
}

/// Which daemon: `serve` against the configured backend, or `demo` against the embedded sandbox.
pub enum DaemonMode {
    Serve,
    Demo { respect_window: bool, json: bool },
}

/// Runs the daemon until SIGTERM/Ctrl-C, then drains.
pub async fn daemon(
    mut cfg: Config,
    daemon: DaemonArgs,
    mode: DaemonMode,
) -> Result<(), CommandError> {
    let listen = parse_addr("SNIPER_LISTEN", &daemon.listen)?;
    let metrics_listen = daemon
        .metrics_listen
        .as_deref()
        .map(|v| parse_addr("SNIPER_METRICS_LISTEN", v))
        .transpose()?;
    let sched = daemon.sched.clone().into_config()?;
    let keep_payloads = crate::config::parse_bool("SNIPER_STORE_PAYLOADS", &daemon.store_payloads)?;
    let gpts = daemon.gpts.clone().into_config(cfg.base_url.clone())?;
    let alert_cfg = daemon.alerts.clone().into_config()?;
    let (window, demo_json) = match mode {
        DaemonMode::Demo {
            respect_window,
            json,
        } => {
            let w = if respect_window {
                cfg.window.clone()
            } else {
                ActiveWindow::always_open()
            };
            (w, Some(json))
        }
        DaemonMode::Serve => (cfg.window.clone(), None),
    };
    let db_path = daemon.db.clone().unwrap_or_else(|| {
        if demo_json.is_some() {
            ":memory:".into()
        } else {
            crate::store::DEFAULT_DB_PATH.into()
        }
    });
    let replica = daemon
        .replica_id
        .clone()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(crate::daemon::server::default_replica_id);
    let store = {
        let (p, r) = (db_path.clone(), replica.clone());
        tokio::task::spawn_blocking(move || crate::store::open_store(&p, &r))
            .await
            .doing(|| "opening the store".into())?
            .doing(|| {
                format!(
                    "opening SNIPER_DB={}",
                    crate::store::postgres::redact_db(&db_path)
                )
            })?
    };
    let store = crate::store::AsyncStore::new(store);

    let mut sandbox = None;
    if demo_json.is_some() {
        let sb = Sandbox::start(([127, 0, 0, 1], 0).into())
            .await
            .doing(|| "starting the sandbox backend".into())?;
        cfg.base_url = url::Url::parse(&sb.url()).doing(|| "sandbox URL".into())?;
        cfg.sandbox = true;
        sandbox = Some(sb);
    }
    let metrics = Metrics::new();
    let runner = Runner::with_metrics(cfg.clone(), system_clock(), metrics.clone())
        .doing(|| "building the HTTP client".into())?;
    let app = App::new(
        runner,
        &sched,
        metrics.clone(),
        Some(store.clone()),
        window.clone(),
    )
    .await;
    app.set_keep_payloads(keep_payloads);
    app.set_replica(&replica);
    app.set_budget_per_min(daemon.budget_per_min);
    if store.is_shared() {
        tracing::info!(%replica, "shared store: ticks are claimed per slot, facts and history shared");
    }
    if let Some(json) = demo_json {
        app.set_on_run(Box::new(move |results| {
            let _ = print_results(results, json, &mut std::io::stdout().lock());
        }));
    }

    let listener = bind(listen)
        .await
        .doing(|| format!("binding SNIPER_LISTEN={listen}"))?;
    let local = listener
        .local_addr()
        .doing(|| "reading the bound address".into())?;
    let metrics_listener = match metrics_listen {
        Some(a) => Some(
            bind(a)
                .await
                .doing(|| format!("binding SNIPER_METRICS_LISTEN={a}"))?,
        ),
        None => None,
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    // The gateway follows the backend the runner uses (the sandbox in demo).
    let gpts = crate::gateway::ProxyConfig {
        base: cfg.base_url.clone(),
        ..gpts
    };
    let router = api_router(app.clone(), metrics_listener.is_none())
        .merge(crate::daemon::status::routes(store.clone()))
        .merge(crate::gateway::try_router(gpts)?)
        .fallback(crate::daemon::server::not_found);
    let mut tasks = Vec::new();
    {
        let mut rx = rx.clone();
        tasks.push(tokio::spawn(crate::gateway::server::serve(
            listener,
            router,
            crate::gateway::server::HEADER_READ_TIMEOUT,
            async move {
                let _ = rx.wait_for(|s| *s).await;
            },
        )));
    }
    if let Some(l) = metrics_listener {
        tasks.push(tokio::spawn(serve_until(
            l,
            metrics_router(app.clone()),
            rx.clone(),
        )));
    }
    {
        let mut rx = rx.clone();
        tokio::spawn(crate::store::retention_task(
            store.clone(),
            crate::store::DEFAULT_RETENTION,
            crate::store::DEFAULT_PRUNE_INTERVAL,
            async move {
                let _ = rx.wait_for(|s| *s).await;
            },
        ));
    }
    let alerter = crate::daemon::alerts::Alerter::new(
        reqwest::Client::builder()
            .build()
            .doing(|| "building the alert HTTP client".into())?,
        alert_cfg,
        Some(metrics.clone()),
    );
    let hooks = crate::daemon::scheduler::ObservingHooks {
        metrics: metrics.clone(),
        alerter: Some(alerter),
    };
    let looping = spawn_loop(app.clone(), sched, hooks, rx.clone());
    match &sandbox {
        Some(sb) => eprintln!(
            "sniper demo: status page http://{local}/  — SANDBOX backend (fake data) on {}; Ctrl-C to stop",
            sb.url()
        ),
        None => eprintln!(
            "sniper serve: listening on http://{local}/ (status page, /api, /health, /ready{}), backend {}",
            if metrics_listen.is_some() {
                ""
            } else {
                ", /metrics"
            },
            cfg.base_url
        ),
    }
    termination().await;
    tracing::info!("shutting down");
    let _ = tx.send(true);
    let _ = tokio::time::timeout(SHUTDOWN_WAIT, looping).await;
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    drop(sandbox);
    Ok(())
}
