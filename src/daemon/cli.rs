//! `sniper serve` and `sniper demo`: the daemon's wiring — store, runner, app, HTTP listeners,
//! scheduler loop, retention, alerts — and its shutdown.

use std::time::Duration;

use crate::command::{CommandError, Doing};
use crate::config::Config;
use crate::daemon::once::print_results;
use crate::daemon::server::{
    App, AppOptions, SHUTDOWN_WAIT, api_router, metrics_router, serve_until, spawn_loop,
};
use crate::obs::metrics::Metrics;
use crate::run::{Runner, system_clock};
use crate::sandbox::Sandbox;
use crate::web::{bind, parse_addr, termination};
use crate::window::ActiveWindow;

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
    /// Keep module payloads in the run history (on/off; capped at 64 KiB per run).
    #[arg(long, env = "SNIPER_STORE_PAYLOADS", default_value = "off")]
    pub store_payloads: String,
    /// What /ready does when store writes keep failing (disk full…): `fail` (503 after 3 failed
    /// writes in a row) or `ignore` (logged, counted and shown only).
    #[arg(long, env = "SNIPER_READY_ON_STORE_ERROR", default_value = "fail")]
    pub ready_on_store_error: String,
    /// Most open HTTP connections; at the limit a new one closes the longest-idle one, or is
    /// closed itself when every connection has a request in flight.
    #[arg(long, env = "SNIPER_MAX_CONNECTIONS", default_value_t = crate::web::server::MAX_CONNECTIONS.to_string())]
    pub max_connections: String,
    /// An HTTP connection with no request in flight and no byte for this long is closed (before
    /// its first request too), e.g. 500ms, 15s, 1m.
    #[arg(long, env = "SNIPER_IDLE_TIMEOUT", default_value_t = crate::config::fmt_duration(crate::web::server::IDLE_TIMEOUT))]
    pub idle_timeout: String,
    #[command(flatten)]
    pub gpts: crate::gateway::ProxyArgs,
    #[command(flatten)]
    pub access: crate::web::access::AccessArgs,
    #[command(flatten)]
    pub sched: crate::daemon::scheduler::SchedulerArgs,
    #[command(flatten)]
    pub alerts: crate::daemon::alerts::AlertArgs,
    #[command(flatten)]
    pub signals: crate::signals::delivery::SignalArgs,
    #[command(flatten)]
    pub telegram: crate::daemon::telegram::TelegramArgs,
    /// The scorecard of the track records, `/api/scorecard` and the gauges.
    #[command(flatten)]
    pub score: crate::score::cli::ScoreOpts,
    /// How long the price path is kept for scoring (`90d`, `2w`, `36h`) [default: 90d].
    #[arg(long, env = crate::score::record::PRICE_RETENTION_ENV)]
    pub price_retention: Option<String>,
    /// Longest wait at start-up for a database lock (PostgreSQL's migration lock, SQLite's write
    /// lock), e.g. 30s [default: 30s].
    #[arg(long, env = crate::store::LOCK_TIMEOUT_ENV)]
    pub db_lock_timeout: Option<String>,
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
    let serve_opts = crate::web::server::ServeOptions {
        idle_timeout: crate::config::parse_duration("SNIPER_IDLE_TIMEOUT", &daemon.idle_timeout)?,
        max_connections: parse_max_connections(&daemon.max_connections)?,
        ..crate::web::server::ServeOptions::default()
    };
    let keep_payloads = crate::config::parse_bool("SNIPER_STORE_PAYLOADS", &daemon.store_payloads)?;
    let store_policy = crate::daemon::store_health::StoreErrorPolicy::parse(
        "SNIPER_READY_ON_STORE_ERROR",
        &daemon.ready_on_store_error,
    )?;
    let gpts = daemon.gpts.clone().into_config(cfg.base_url.clone())?;
    let public_reads =
        crate::config::parse_bool("SNIPER_API_PUBLIC_READS", &daemon.access.api_public_reads)?;
    let api_key = match daemon.access.api_key.as_deref().map(str::trim) {
        Some("") => {
            return Err(crate::config::ConfigError::new(
                "SNIPER_API_KEY",
                "",
                "a non-empty key (unset it to leave the API open)",
            )
            .into());
        }
        k => k.map(str::to_owned),
    };
    let policy = crate::web::access::AccessPolicy {
        hosts: crate::web::access::HostRule::new(
            daemon.gpts.allowed_hosts.as_deref(),
            listen,
            gpts.public_url.as_ref(),
        )?,
        api_key,
        public_reads,
        gpts_prefix: gpts.prefix.trim_end_matches('/').to_owned(),
    };
    crate::gateway::cli::warn_public_url(&gpts);
    let alert_cfg = daemon.alerts.clone().into_config()?;
    let tg_settings = daemon.telegram.into_settings()?;
    let alerter_chat = alert_cfg.telegram.as_ref().map(|t| t.chat_id.clone());
    let rules = crate::signals::Rules::load(daemon.signals.rules.as_deref())?;
    let price_retention_ms =
        crate::score::record::price_retention(daemon.price_retention.as_deref())
            .map_err(|e| CommandError::Config(Box::new(e)))?;
    let score_opts = daemon.score.clone();
    score_opts
        .options(0)
        .map_err(|e| CommandError::Config(Box::new(e)))?;
    let signal_cfg = daemon.signals.into_config(
        daemon.alerts.telegram_bot_token.as_deref(),
        &daemon.alerts.telegram_api_base,
    )?;
    let deliverer_chat = signal_cfg.telegram.as_ref().map(|t| t.chat_id.clone());
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
        .unwrap_or_else(crate::daemon::replica::default_replica_id);
    // A bad SNIPER_DB_LOCK_TIMEOUT is bad configuration (exit 2), not a store failure.
    let store_options =
        crate::store::StoreOptions::with_lock_timeout(daemon.db_lock_timeout.as_deref())?;
    let store = {
        let (p, r) = (db_path.clone(), replica.clone());
        tokio::task::spawn_blocking(move || crate::store::open_store_with(&p, &r, store_options))
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
        // The demo shows every feature, ETF included.
        sb.state.set_licensed(true);
        cfg.base_url = url::Url::parse(&sb.url()).doing(|| "sandbox URL".into())?;
        cfg.sandbox = true;
        sandbox = Some(sb);
    }
    let metrics = Metrics::new();
    // One budget for the three shares (scheduled, manual, gateway); on a shared store every
    // replica spends the same quota. Time passed is monotonic (a wall clock stepping back never
    // refills it).
    let mono = crate::clock::system_mono();
    let budget = std::sync::Arc::new(crate::daemon::shared_budget::budget_for(
        cfg.budget,
        crate::clock::steady(&system_clock(), mono.clone()),
        &store,
    ));
    let runner = Runner::with_budget(
        cfg.clone(),
        system_clock(),
        mono,
        metrics.clone(),
        budget.clone(),
    )
    .doing(|| "building the HTTP client".into())?;
    let engine = crate::signals::SignalEngine::new(
        rules,
        signal_cfg.channels(),
        store.clone(),
        Some(metrics.clone()),
    )
    .await
    .doing(|| "loading the signal state".into())?;
    engine.set_score_opts(score_opts);
    if store.is_shared() {
        tracing::info!(%replica, "shared store: ticks are claimed per slot, facts and history shared");
    }
    let on_run: Option<crate::daemon::server::OnRun> = demo_json.map(|json| {
        Box::new(move |results: &[crate::run::RunResult]| {
            let _ = print_results(results, json, &mut std::io::stdout().lock());
        }) as crate::daemon::server::OnRun
    });
    let app = App::new(
        runner,
        &sched,
        metrics.clone(),
        Some(store.clone()),
        window.clone(),
        AppOptions {
            keep_payloads,
            store_policy,
            signals: Some(engine.clone()),
            replica: std::sync::Arc::from(replica.as_str()),
            on_run,
        },
    )
    .await;

    crate::web::server::raise_nofile_limit();
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
        match_prefs: Some(crate::discovery::prefs_from_config(&cfg)),
        budget: Some(budget),
        ..gpts
    };
    // The bound address (port 0 is chosen now) is what clients send as Host.
    let mut policy = policy;
    policy.hosts = crate::web::access::HostRule::new(
        daemon.gpts.allowed_hosts.as_deref(),
        local,
        gpts.public_url.as_ref(),
    )?;
    let open = policy.open_surfaces(gpts.api_key.is_some(), metrics_listener.is_none());
    crate::gateway::cli::warn_open(local, &open);
    crate::gateway::cli::warn_hosts(
        local,
        daemon.gpts.allowed_hosts.as_deref(),
        gpts.public_url.as_ref(),
    );
    let alerter = crate::daemon::alerts::Alerter::new(alert_cfg, Some(metrics.clone()))
        .doing(|| "building the alert HTTP client".into())?
        .with_prefs(tg_settings.prefs);
    let deliverer = crate::signals::delivery::Deliverer::new(
        signal_cfg,
        crate::signals::delivery::DEFAULT_TIMEOUT,
        Some(metrics.clone()),
    )
    .doing(|| "building the signal HTTP client".into())?
    .with_prefs(tg_settings.prefs, tg_settings.commands);
    let (alerter, deliverer, bots) = crate::daemon::telegram::share_bots(
        alerter,
        deliverer,
        alerter_chat,
        deliverer_chat,
        &store,
    )
    .await;
    let router = api_router(app.clone(), metrics_listener.is_none())
        .merge(crate::daemon::status::routes(store.clone()))
        .merge(crate::signals::api::routes(engine.clone(), store.clone()))
        .merge(crate::daemon::telegram::routes(
            crate::daemon::telegram::TelegramView {
                bots: bots.iter().map(|(b, _)| b.clone()).collect(),
                commands: tg_settings.commands,
                prefs: tg_settings.prefs,
                store: store.clone(),
            },
        ))
        .merge(crate::gateway::try_router(gpts)?)
        .fallback(crate::web::not_found);
    let router = crate::web::access::layer(router, policy);
    let mut tasks = Vec::new();
    {
        let mut rx = rx.clone();
        tasks.push(tokio::spawn(crate::web::server::serve_with(
            listener,
            router,
            serve_opts,
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
        // The scorecard's price path has its own retention (SNIPER_PRICE_RETENTION, 90d).
        let retention = crate::store::Retention {
            prices: jiff::SignedDuration::from_millis(price_retention_ms),
            ..crate::store::Retention::default()
        };
        tokio::spawn(crate::store::retention_task(
            store.clone(),
            retention,
            crate::store::DEFAULT_PRUNE_INTERVAL,
            async move {
                let _ = rx.wait_for(|s| *s).await;
            },
        ));
    }
    let signal_worker = tokio::spawn(crate::signals::delivery::worker(
        store.clone(),
        deliverer,
        engine.notify.clone(),
        rx.clone(),
    ));
    let listeners = crate::daemon::telegram::spawn_listeners(
        &bots,
        &tg_settings,
        &store,
        &app,
        &engine,
        &metrics,
        &replica,
        &rx,
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
    tracing::info!(
        drain_secs = serve_opts.drain.as_secs_f64(),
        "shutting down: no new connections; draining requests in flight"
    );
    let _ = tx.send(true);
    // The loop's run in flight and the servers' requests in flight drain side by side; the
    // servers bound their own drain, the extra second covers closing.
    let looping = tokio::time::timeout(SHUTDOWN_WAIT, looping);
    let servers = tokio::time::timeout(
        serve_opts.drain + Duration::from_secs(1),
        futures_util::future::join_all(tasks),
    );
    let worker = tokio::time::timeout(
        Duration::from_secs(2),
        futures_util::future::join_all(std::iter::once(signal_worker).chain(listeners)),
    );
    let _ = tokio::join!(looping, servers, worker);
    drop(sandbox);
    tracing::info!("stopped");
    Ok(())
}

/// `SNIPER_MAX_CONNECTIONS`: a whole number of at least 1.
fn parse_max_connections(v: &str) -> Result<usize, crate::config::ConfigError> {
    match v.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(crate::config::ConfigError::new(
            "SNIPER_MAX_CONNECTIONS",
            v,
            "a whole number of at least 1 (e.g. 512)",
        )),
    }
}
