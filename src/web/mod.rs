//! HTTP plumbing shared by every listener (`serve`, `demo`, `proxy`): who may reach what
//! ([`access`]), the connection server with header/idle timeouts and a connection bound
//! ([`server`]), binding a listen address, the JSON 404, and waiting for SIGTERM/SIGINT.
//! It knows no route of its own: the daemon and the gateway mount their routers on it.

pub mod access;
pub mod server;

use std::net::SocketAddr;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;
use tokio::net::TcpListener;

use crate::config::ConfigError;

/// A listen address, or an error naming the variable.
pub fn parse_addr(var: &'static str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| ConfigError::new(var, v, "an IP address and port such as 127.0.0.1:8080"))
}

/// JSON 404 for every path no route claims (`/gptsx` included).
pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": "not_found", "message": "no such path"})),
    )
        .into_response()
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
