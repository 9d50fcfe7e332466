//! The `sniper` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use sniper::command::{CommandError, Doing};
use sniper::config::ConfigArgs;
use sniper::daemon::cli::{self as daemon_cli, DaemonArgs, DaemonMode};

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
        /// Rules file the calls are graded with (TOML; unset keys keep their defaults).
        #[arg(long = "rules", env = "SNIPER_RULES")]
        rules: Option<String>,
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
    /// GPT Actions tools.
    Gpts {
        #[command(subcommand)]
        cmd: GptsCmd,
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
    /// Print the effective signal rules (compiled-in defaults overlaid by SNIPER_RULES) as TOML.
    /// Exit 2 when the rules file is bad (the message names the key).
    Rules {
        /// Rules file (TOML).
        #[arg(long = "rules", env = "SNIPER_RULES")]
        rules: Option<String>,
    },
    /// Signal calls from the store (SNIPER_DB), newest first.
    Signals {
        #[command(flatten)]
        args: sniper::signals::cli::SignalsArgs,
        /// SQLite file.
        #[arg(long, env = "SNIPER_DB", default_value = sniper::store::DEFAULT_DB_PATH)]
        db: String,
    },
    /// Re-grade the stored runs' features with other rules and print the calls they would have
    /// made (cooldown applied), to tune thresholds on recorded data.
    Replay {
        #[command(flatten)]
        args: sniper::signals::cli::ReplayArgs,
        /// SQLite file.
        #[arg(long, env = "SNIPER_DB", default_value = sniper::store::DEFAULT_DB_PATH)]
        db: String,
    },
    /// The scorecard: every graded call measured against what the price did next (hit rate with
    /// its 95 % interval, returns, excursions, per group, next to chance). Own calls and price path
    /// from SNIPER_DB, or --calls/--prices files. Exit 2 on a bad flag or file (line and column).
    Score {
        #[command(flatten)]
        args: sniper::score::cli::ScoreArgs,
        /// SQLite file or postgres:// URL.
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
        /// Answer format: `real` (the real backend's shapes), `coinglass` (CoinGlass v4
        /// envelopes), `exchange` (order book as Binance/OKX depth, the rest as coinglass).
        #[arg(long, value_enum, default_value = "real")]
        shape: sniper::sandbox::Shape,
    },
}

#[derive(Subcommand)]
enum GptsCmd {
    /// Print every GPT Actions rule a spec breaks (30 operations, operationId form, text
    /// lengths, https servers, inline parameters, security). Exit 1 when there is one.
    Check {
        /// Spec URL (http/https) or file.
        #[arg(default_value = "http://127.0.0.1:8080/gpts/openapi.json")]
        target: String,
    },
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
            eprintln!("sniper: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn real_main(cli: Cli) -> Result<ExitCode, CommandError> {
    let rt = |multi: bool| {
        let mut b = if multi {
            tokio::runtime::Builder::new_multi_thread()
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        b.enable_all()
            .build()
            .doing(|| "starting the async runtime".into())
    };
    match cli.cmd {
        Cmd::Once { cfg, json, rules } => {
            let cfg = cfg.validate()?;
            let ok = rt(true)?.block_on(sniper::daemon::once::once(cfg, json, rules.as_deref()))?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Serve { cfg, daemon } => {
            let cfg = cfg.validate()?;
            rt(true)?.block_on(daemon_cli::daemon(cfg, daemon, DaemonMode::Serve))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Demo {
            cfg,
            daemon,
            respect_window,
            json,
        } => {
            let cfg = cfg.validate()?;
            let mode = DaemonMode::Demo {
                respect_window,
                json,
            };
            rt(true)?.block_on(daemon_cli::daemon(cfg, daemon, mode))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Proxy {
            py_base_url,
            listen,
            gpts,
        } => {
            // One current-thread runtime: measured fastest for the gateway.
            rt(false)?.block_on(sniper::gateway::cli::proxy(&py_base_url, &listen, gpts))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Gpts {
            cmd: GptsCmd::Check { target },
        } => {
            let mut out = std::io::stdout().lock();
            let ok = rt(false)?.block_on(sniper::gateway::cli::check(&target, &mut out))?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Discover { cfg, json } => {
            let cfg = cfg.validate()?;
            let mut out = std::io::stdout().lock();
            rt(true)?.block_on(sniper::discovery::cli::discover(cfg, json, &mut out))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::History { args, db } => {
            let options = sniper::store::StoreOptions::from_env()?;
            let store = sniper::store::open_existing_store(&db, "cli", options).doing(|| {
                format!(
                    "opening SNIPER_DB={}",
                    sniper::store::postgres::redact_db(&db)
                )
            })?;
            let mut out = std::io::stdout().lock();
            sniper::store::run_history_cli(store.as_ref(), &args, &mut out)
                .doing(|| "reading the history".into())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Rules { rules } => {
            sniper::signals::cli::rules(rules.as_deref(), &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Signals { args, db } => {
            sniper::signals::cli::signals(&db, &args, &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Score { args, db } => {
            sniper::score::cli::score(&db, &args, &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Replay { args, db } => {
            sniper::signals::cli::replay(&db, &args, &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
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
            shape,
        } => {
            rt(true)?.block_on(sniper::sandbox::cli::serve(
                listen, delay_ms, licensed, shape,
            ))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
