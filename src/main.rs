//! The `sniper` command line.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sniper::config::{Config, ConfigArgs};
use sniper::runner::{RunResult, Runner, system_clock};
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
    /// Start the embedded SANDBOX backend (fake data) on a free loopback port and run against it
    /// every few seconds, printing each result.
    Demo {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Seconds between runs.
        #[arg(long, env = "SNIPER_INTERVAL", default_value = "5s")]
        interval: String,
        /// Stop after this many runs (0 = until Ctrl-C).
        #[arg(long, default_value_t = 0)]
        runs: u32,
        /// Print JSON lines instead of a summary.
        #[arg(long)]
        json: bool,
    },
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
        Cmd::Demo {
            cfg,
            interval,
            runs,
            json,
        } => {
            let mut cfg = match config_or_exit(&cfg) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let interval = match sniper::config::parse_duration("SNIPER_INTERVAL", &interval) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("sniper: configuration error: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            rt.block_on(demo(&mut cfg, interval, runs, json))
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

async fn demo(
    cfg: &mut Config,
    interval: Duration,
    runs: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into())
        .await
        .context("starting the sandbox backend")?;
    cfg.base_url = url::Url::parse(&sandbox.url()).context("sandbox URL")?;
    cfg.sandbox = true;
    eprintln!(
        "sniper demo: SANDBOX backend (fake data) on {} — runs every {}s, Ctrl-C to stop",
        sandbox.url(),
        interval.as_secs_f64()
    );
    let runner = Runner::new(cfg.clone(), system_clock())?;
    let mut n = 0;
    loop {
        let results = runner.run_once().await;
        print_results(&results, json)?;
        n += 1;
        if runs != 0 && n >= runs {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
    }
}

fn print_results(results: &[RunResult], json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for r in results {
        if json {
            serde_json::to_writer(&mut out, r)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", sniper::runner::summary(r))?;
        }
    }
    Ok(())
}
