//! Serving a router on loopback: stand-ins for third parties (a backend, a webhook receiver,
//! Telegram) and sniper's own routers under test.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;

/// A router served on `127.0.0.1:<free port>` until the test's runtime ends.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    pub addr: SocketAddr,
}

impl Served {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Serves `app` with `axum::serve` (each request carries `ConnectInfo<SocketAddr>`).
pub async fn serve(app: Router) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        {
            eprintln!("stub server stopped: {e}");
        }
    });
    Served { addr }
}

/// Serves `app` with sniper's own connection server (`web::server::serve`: header timeout, idle
/// timeout, connection bound), as `serve`, `demo` and `proxy` do.
pub async fn serve_as_sniper(app: Router) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(sniper::web::server::serve(
        listener,
        app,
        sniper::web::server::HEADER_READ_TIMEOUT,
        std::future::pending(),
    ));
    Served { addr }
}
