//! `sniper proxy`: only the `/gpts/*` gateway (with `/health`), on the runtime `main` builds for it
//! (a current-thread runtime: measured fastest for the gateway, no cross-thread wake-ups between
//! the client and backend connection tasks).

use std::net::SocketAddr;

use crate::command::{CommandError, Doing};
use crate::config::{ConfigError, parse_base_url};
use crate::daemon::server::{bind, not_found, termination};

use super::ProxyArgs;

/// A listen address, or an error naming the variable.
pub fn parse_addr(var: &'static str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| ConfigError::new(var, v, "an IP address and port such as 127.0.0.1:8080"))
}

/// Serves the gateway to `base` on `listen` until SIGTERM/Ctrl-C.
pub async fn proxy(base: &str, listen: &str, gpts: ProxyArgs) -> Result<(), CommandError> {
    let base = parse_base_url("PY_BASE_URL", base)?;
    let listen = parse_addr("SNIPER_LISTEN", listen)?;
    let cfg = gpts.into_config(base.clone())?;
    let app = super::try_router(cfg)?
        .route(
            "/health",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"ok": true})) }),
        )
        .fallback(not_found);
    super::server::raise_nofile_limit();
    let listener = bind(listen)
        .await
        .doing(|| format!("binding SNIPER_LISTEN={listen}"))?;
    let local = listener
        .local_addr()
        .doing(|| "reading the bound address".into())?;
    eprintln!("sniper proxy: listening on http://{local}/ — /gpts/* → {base}");
    super::server::serve(
        listener,
        app,
        super::server::HEADER_READ_TIMEOUT,
        termination(),
    )
    .await
    .doing(|| "serving the gateway".into())
}
