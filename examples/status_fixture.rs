//! Serve the status page against a temporary SQLite store filled with fixture runs and a fixture
//! `/api/status`, so the page can be looked at (and browser-tested) without a backend.
//!
//! `cargo run --example status_fixture [ADDR]` (default `127.0.0.1:0`); prints `listening on URL`.
//! Set `STATUS_FIXTURE_BROKEN=1` to make `/api/status` answer 500.

#[path = "../tests/browser/fixture.rs"]
mod fixture;

use std::net::SocketAddr;
use std::sync::Arc;

use sniper::store::{AsyncStore, SqliteStore};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string())
        .parse()?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("fixture.db");
    let store = SqliteStore::open(db.to_str().unwrap_or(":memory:"))?;
    let now = jiff::Timestamp::now();
    let n = fixture::fill_store(&store, now, 60);
    let status = match std::env::var("STATUS_FIXTURE_BROKEN").as_deref() {
        Ok("1") => None,
        _ => Some(fixture::status_json(now)),
    };
    let app = fixture::app(AsyncStore::new(Arc::new(store)), status);
    let (bound, server) = fixture::serve(app, addr).await?;
    println!(
        "listening on http://{bound}/ ({n} runs in {})",
        db.display()
    );
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = server => {}
    }
    Ok(())
}
