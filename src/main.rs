//! The `sniper` command line.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::sync::Arc;

use sniper::config::{Config, ConfigArgs, ConfigError};
use sniper::daemon::metrics::Metrics;
use sniper::daemon::server::{
    App, SHUTDOWN_WAIT, api_router, bind, metrics_router, serve_until, spawn_loop, termination,
};
use sniper::daemon::window::ActiveWindow;
use sniper::run::{RunResult, Runner, system_clock};
use sniper::sandbox::Sandbox;

/// sniper: market signals from a CoinGlass-style backend, gathered concurrently, degraded gracefully.
///
/// Every flag can also be set by the environment variable shown with it; a flag beats the variable.
#[derive(Parser)]
#[command(name = "sniper", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run every enabled module once against PY_BASE_URL and print the result.
    /// Exit 0 when at least one module worked, 1 when every module failed, 2 on bad configuration.
    Once {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Print one JSON line per symbol instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// The daemon: the scheduler (active hours, backoff), health, metrics, the JSON API and the
    /// status page on one listener.
    Serve {
        #[command(flatten)]
        cfg: ConfigArgs,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// `serve` over the embedded SANDBOX backend (fake data) on a free loopback port: the status
    /// page's address is printed first, then every run. Active hours are ignored unless
    /// --respect-window is given. Ctrl-C stops it.
    Demo {
        #[command(flatten)]
        cfg: ConfigArgs,
        #[command(flatten)]
        daemon: DaemonArgs,
        /// Run only inside the active trading window, as `serve` does.
        #[arg(long)]
        respect_window: bool,
        /// Print JSON lines instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Only the `/gpts/*` gateway to PY_BASE_URL (prefix stripped), with /health.
    Proxy {
        /// Backend base URL (plain http), optionally with a path prefix.
        #[arg(long, env = "PY_BASE_URL", default_value = "http://127.0.0.1:8000")]
        py_base_url: String,
        /// Address to listen on.
        #[arg(long, env = "SNIPER_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        #[command(flatten)]
        gpts: sniper::gateway::ProxyArgs,
    },
    /// Show what discovery chose on PY_BASE_URL's /openapi.json: per module the operation, its
    /// request template, its score, and the alternatives with why each lost.
    Discover {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run history from the store (SNIPER_DB, default ./sniper.db).
    History {
        #[command(flatten)]
        args: sniper::store::HistoryArgs,
        /// SQLite file.
        #[arg(long, env = "SNIPER_DB", default_value = sniper::store::DEFAULT_DB_PATH)]
        db: String,
    },
    /// Parse a symbol in any common form and print it for a venue (alone on one line), or with
    /// --json the parsed instrument and its form on every venue. Exit 2 on a rejected symbol.
    Symbol(sniper::symbol::SymbolArgs),
    /// Serve only the SANDBOX backend (fake data), e.g. for benchmarks or to poke at by hand.
    Sandbox {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8000")]
        listen: std::net::SocketAddr,
        /// Delay every module's answer by this many milliseconds.
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
        /// Answer ETF flows with 200 instead of 402.
        #[arg(long)]
        licensed: bool,
    },
}

/// Settings of the daemon (`serve`, `demo`).
#[derive(clap::Args, Clone)]
struct DaemonArgs {
    /// Address of the HTTP server (status page, API, health, metrics).
    #[arg(long, env = "SNIPER_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Serve /metrics on this address instead of the main listener.
    #[arg(long, env = "SNIPER_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// SQLite file for run history and breaker state (`:memory:` keeps nothing).
    /// Default ./sniper.db for serve, :memory: for demo.
    #[arg(long, env = "SNIPER_DB")]
    db: Option<String>,
    /// Keep module payloads in the run history (on/off; capped at 64 KiB per run).
    #[arg(long, env = "SNIPER_STORE_PAYLOADS", default_value = "off")]
    store_payloads: String,
    #[command(flatten)]
    gpts: sniper::gateway::ProxyArgs,
    #[command(flatten)]
    sched: sniper::daemon::scheduler::SchedulerArgs,
    #[command(flatten)]
    alerts: sniper::daemon::alerts::AlertArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SNIPER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sniper=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match real_main(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sniper: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn config_or_exit(args: &ConfigArgs) -> Result<Config, ExitCode> {
    args.validate().map_err(|e| {
        eprintln!("sniper: configuration error: {e}");
        ExitCode::from(2)
    })
}

fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Cmd::Proxy {
        py_base_url,
        listen,
        gpts,
    } = cli.cmd
    {
        return proxy_main(&py_base_url, &listen, gpts);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.cmd {
        Cmd::Once { cfg, json } => {
            let cfg = match config_or_exit(&cfg) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            rt.block_on(async move {
                let runner = Runner::new(cfg, system_clock())?;
                let results = runner.run_once().await;
                print_results(&results, json)?;
                let ok = results.iter().any(|r| r.success);
                Ok(if ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            })
        }
        Cmd::Serve { cfg, daemon } => {
            let cfg = match config_or_exit(&cfg) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            rt.block_on(daemon_main(cfg, daemon, DaemonMode::Serve))
        }
        Cmd::Demo {
            cfg,
            daemon,
            respect_window,
            json,
        } => {
            let cfg = match config_or_exit(&cfg) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            rt.block_on(daemon_main(
                cfg,
                daemon,
                DaemonMode::Demo {
                    respect_window,
                    json,
                },
            ))
        }
        Cmd::Discover { cfg, json } => {
            let cfg = match config_or_exit(&cfg) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            rt.block_on(async move {
                let runner = Runner::new(cfg, system_clock())?;
                let map = runner.discovery().routes().await;
                let report = runner.discovery().report();
                let mut out = std::io::stdout().lock();
                use std::io::Write;
                if json {
                    let v = serde_json::json!({
                        "from_spec": map.from_spec,
                        "note": map.note,
                        "report": report.as_deref(),
                        "routes": sniper::module_id::ModuleId::ALL.iter().map(|m| (m.as_str(), runner.discovery().current_route(*m))).collect::<std::collections::BTreeMap<_, _>>(),
                    });
                    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
                } else {
                    match (&report, map.from_spec) {
                        (Some(r), true) => write!(out, "{}", sniper::discovery::matcher::render_report(r))?,
                        _ => writeln!(
                            out,
                            "no usable spec ({}); modules use the design's default paths and URL shapes",
                            map.note.as_deref().unwrap_or("unknown reason")
                        )?,
                    }
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        Cmd::History { args, db } => {
            let store = sniper::store::SqliteStore::open(&db)
                .with_context(|| format!("opening SNIPER_DB={db}"))?;
            let mut out = std::io::stdout().lock();
            sniper::store::run_history_cli(&store, &args, &mut out)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Proxy { .. } => unreachable!("handled before the runtime is built"),
        Cmd::Symbol(args) => {
            let mut out = std::io::stdout().lock();
            match sniper::symbol::run_symbol_cli(&args, &mut out) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("sniper: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Cmd::Sandbox {
            listen,
            delay_ms,
            licensed,
        } => rt.block_on(async move {
            let sb = Sandbox::start(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            sb.state.set_licensed(licensed);
            if delay_ms > 0 {
                for m in sniper::module_id::ModuleId::ALL {
                    sb.state.set_fault(
                        m,
                        sniper::sandbox::Fault {
                            delay_ms: Some(delay_ms),
                            ..Default::default()
                        },
                    );
                }
            }
            eprintln!(
                "sniper sandbox: SANDBOX backend (fake data) on {}",
                sb.url()
            );
            tokio::signal::ctrl_c()
                .await
                .context("waiting for Ctrl-C")?;
            Ok(ExitCode::SUCCESS)
        }),
    }
}

/// `sniper proxy`: one current-thread runtime (measured fastest for the gateway: no cross-thread
/// wake-ups between the client and backend connection tasks).
fn proxy_main(
    base: &str,
    listen: &str,
    gpts: sniper::gateway::ProxyArgs,
) -> anyhow::Result<ExitCode> {
    let base = match sniper::config::parse_base_url("PY_BASE_URL", base) {
        Ok(b) => b,
        Err(e) => return bad_config(e),
    };
    let listen = match parse_addr("SNIPER_LISTEN", listen) {
        Ok(a) => a,
        Err(e) => return bad_config(e),
    };
    let cfg = match gpts.into_config(base.clone()) {
        Ok(c) => c,
        Err(e) => return bad_config(e),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let app = sniper::gateway::try_router(cfg)?
            .route(
                "/health",
                axum::routing::get(|| async { axum::Json(serde_json::json!({"ok": true})) }),
            )
            .fallback(sniper::daemon::server::not_found);
        let listener = bind(listen)
            .await
            .with_context(|| format!("binding SNIPER_LISTEN={listen}"))?;
        eprintln!(
            "sniper proxy: listening on http://{}/ — /gpts/* → {base}",
            listener.local_addr()?
        );
        sniper::gateway::server::serve(
            listener,
            app,
            sniper::gateway::server::HEADER_READ_TIMEOUT,
            termination(),
        )
        .await?;
        Ok(ExitCode::SUCCESS)
    })
}

enum DaemonMode {
    Serve,
    Demo { respect_window: bool, json: bool },
}

fn bad_config(e: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    eprintln!("sniper: configuration error: {e}");
    Ok(ExitCode::from(2))
}

fn parse_addr(var: &'static str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| ConfigError::new(var, v, "an IP address and port such as 127.0.0.1:8080"))
}

async fn daemon_main(
    mut cfg: Config,
    daemon: DaemonArgs,
    mode: DaemonMode,
) -> anyhow::Result<ExitCode> {
    let listen = match parse_addr("SNIPER_LISTEN", &daemon.listen) {
        Ok(a) => a,
        Err(e) => return bad_config(e),
    };
    let metrics_listen = match daemon
        .metrics_listen
        .as_deref()
        .map(|v| parse_addr("SNIPER_METRICS_LISTEN", v))
    {
        Some(Err(e)) => return bad_config(e),
        Some(Ok(a)) => Some(a),
        None => None,
    };
    let sched = match daemon.sched.clone().into_config() {
        Ok(s) => s,
        Err(e) => return bad_config(e),
    };
    let keep_payloads =
        match sniper::config::parse_bool("SNIPER_STORE_PAYLOADS", &daemon.store_payloads) {
            Ok(b) => b,
            Err(e) => return bad_config(e),
        };
    let gpts = match daemon.gpts.clone().into_config(cfg.base_url.clone()) {
        Ok(g) => g,
        Err(e) => return bad_config(e),
    };
    let alert_cfg = match daemon.alerts.clone().into_config() {
        Ok(a) => a,
        Err(e) => return bad_config(e),
    };
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
            sniper::store::DEFAULT_DB_PATH.into()
        }
    });
    let store = {
        let p = db_path.clone();
        tokio::task::spawn_blocking(move || sniper::store::SqliteStore::open(&p))
            .await
            .context("opening the store")?
            .with_context(|| format!("opening SNIPER_DB={db_path}"))?
    };
    let store = sniper::store::AsyncStore::new(Arc::new(store));

    let mut sandbox = None;
    if demo_json.is_some() {
        let sb = Sandbox::start(([127, 0, 0, 1], 0).into())
            .await
            .context("starting the sandbox backend")?;
        cfg.base_url = url::Url::parse(&sb.url()).context("sandbox URL")?;
        cfg.sandbox = true;
        sandbox = Some(sb);
    }
    let metrics = Metrics::new();
    let runner = Runner::with_metrics(cfg.clone(), system_clock(), metrics.clone())?;
    let app = App::new(
        runner,
        &sched,
        metrics.clone(),
        Some(store.clone()),
        window.clone(),
    )
    .await;
    app.set_keep_payloads(keep_payloads);
    if let Some(json) = demo_json {
        app.set_on_run(Box::new(move |results| {
            let _ = print_results(results, json);
        }));
    }

    let listener = bind(listen)
        .await
        .with_context(|| format!("binding SNIPER_LISTEN={listen}"))?;
    let local = listener.local_addr()?;
    let metrics_listener = match metrics_listen {
        Some(a) => Some(
            bind(a)
                .await
                .with_context(|| format!("binding SNIPER_METRICS_LISTEN={a}"))?,
        ),
        None => None,
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    // The gateway follows the backend the runner uses (the sandbox in demo).
    let gpts = sniper::gateway::ProxyConfig {
        base: cfg.base_url.clone(),
        ..gpts
    };
    let router = api_router(app.clone(), metrics_listener.is_none())
        .merge(sniper::daemon::status::routes(store.clone()))
        .merge(sniper::gateway::try_router(gpts)?)
        .fallback(sniper::daemon::server::not_found);
    let mut tasks = Vec::new();
    {
        let mut rx = rx.clone();
        tasks.push(tokio::spawn(sniper::gateway::server::serve(
            listener,
            router,
            sniper::gateway::server::HEADER_READ_TIMEOUT,
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
        tokio::spawn(sniper::store::retention_task(
            store.clone(),
            sniper::store::DEFAULT_RETENTION,
            sniper::store::DEFAULT_PRUNE_INTERVAL,
            async move {
                let _ = rx.wait_for(|s| *s).await;
            },
        ));
    }
    let alerter = sniper::daemon::alerts::Alerter::new(
        reqwest::Client::builder()
            .build()
            .context("building the alert HTTP client")?,
        alert_cfg,
        Some(metrics.clone()),
    );
    let hooks = sniper::daemon::scheduler::ObservingHooks {
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
    Ok(ExitCode::SUCCESS)
}

fn print_results(results: &[RunResult], json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for r in results {
        if json {
            serde_json::to_writer(&mut out, r)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", sniper::run::runner::summary(r))?;
        }
    }
    Ok(())
}
