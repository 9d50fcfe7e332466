//! Runs only the `/gpts` gateway, for benchmarks before `sniper proxy` is wired.
//!
//! `LISTEN=127.0.0.1:8080 PY_BASE_URL=http://127.0.0.1:8000 cargo run --release --example proxy`
//! `PROXY_THREADS=0` (default) uses one worker per core; `1` a current-thread runtime.
//! `PROXY_WORKERS=N` instead runs N threads, each a current-thread runtime with its own
//! `SO_REUSEPORT` listener and backend pool (nginx-style workers, no cross-thread wake-ups).

use std::net::SocketAddr;

use axum::serve::ListenerExt as _;
use clap::Parser;
use sniper::gateway::{self as proxy, ProxyArgs};

#[derive(Debug, Parser)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Listener loop: `sniper` (sniper::web::server::serve) or `axum` (axum::serve), to compare.
    #[arg(long, env = "PROXY_SERVER", default_value = "sniper")]
    server: String,
    /// Runtime worker threads: 0 = one per core, 1 = current-thread runtime.
    #[arg(long, env = "PROXY_THREADS", default_value_t = 0)]
    threads: usize,
    /// Use the multi-thread scheduler even for one thread (it has the LIFO slot).
    #[arg(long, env = "PROXY_MULTI", default_value_t = false)]
    multi: bool,
    /// If > 0: N single-threaded workers sharing the port via SO_REUSEPORT (ignores threads).
    #[arg(long, env = "PROXY_WORKERS", default_value_t = 0)]
    workers: usize,
    /// Backend origin.
    #[arg(long, env = "PY_BASE_URL", default_value = "http://127.0.0.1:8000")]
    py_base_url: url::Url,
    #[command(flatten)]
    proxy: ProxyArgs,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let cfg = cli.proxy.clone().into_config(cli.py_base_url.clone())?;
    if cli.workers > 0 {
        return run_workers(cli.listen, cli.workers, cfg);
    }
    let rt = match cli.threads {
        1 if !cli.multi => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        0 => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build()?,
    };
    rt.block_on(async move {
        let app = proxy::try_router(cfg)?;
        let listener = tokio::net::TcpListener::bind(cli.listen).await?;
        tracing::info!(listen = %cli.listen, server = %cli.server, "gateway listening");
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        if cli.server == "axum" {
            let listener = listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::warn!(error = %e, "cannot set TCP_NODELAY");
                }
            });
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(ctrl_c)
            .await?;
        } else {
            sniper::web::server::serve(
                listener,
                app,
                sniper::web::server::HEADER_READ_TIMEOUT,
                ctrl_c,
            )
            .await?;
        }
        anyhow::Ok(())
    })
}

/// N current-thread runtimes, one per OS thread, each accepting on its own SO_REUSEPORT socket.
fn run_workers(listen: SocketAddr, n: usize, cfg: proxy::ProxyConfig) -> anyhow::Result<()> {
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let cfg = cfg.clone();
            std::thread::Builder::new()
                .name(format!("gateway-{i}"))
                .spawn(move || -> anyhow::Result<()> {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    rt.block_on(async move {
                        let socket = if listen.is_ipv4() {
                            tokio::net::TcpSocket::new_v4()?
                        } else {
                            tokio::net::TcpSocket::new_v6()?
                        };
                        socket.set_reuseport(true)?;
                        socket.set_reuseaddr(true)?;
                        socket.bind(listen)?;
                        let listener = socket.listen(1024)?;
                        let app = proxy::try_router(cfg)?;
                        let ctrl_c = async {
                            let _ = tokio::signal::ctrl_c().await;
                        };
                        sniper::web::server::serve(
                            listener,
                            app,
                            sniper::web::server::HEADER_READ_TIMEOUT,
                            ctrl_c,
                        )
                        .await?;
                        anyhow::Ok(())
                    })
                })
        })
        .collect::<Result<_, _>>()?;
    for t in threads {
        t.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
    }
    Ok(())
}
