//! A restart keeps what matters: `kill -9` the daemon, start it again on the same SQLite file,
//! and the ETF circuit opened by a 402 is still open (the backend gets no ETF request) and the
//! run finished before the kill is in the history.

use std::time::Duration;

use sniper::module_id::ModuleId;
use sniper::sandbox::Sandbox;

use crate::support::process;

fn start(db: &str, backend: &str) -> (process::Daemon, String) {
    process::serve(
        backend,
        &[
            ("SNIPER_DB", db),
            ("SNIPER_INTERVAL", "200ms"),
            // Every run asks for the heatmap (its default refresh is 1 min).
            ("SNIPER_REFRESH_HEATMAP", "0"),
        ],
    )
}

async fn json(url: &str) -> Option<serde_json::Value> {
    let r = reqwest::get(url).await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    serde_json::from_slice(&r.bytes().await.ok()?).ok()
}

/// Wait until the daemon has finished `n` runs (bounded, so a bug fails instead of hanging).
async fn wait_runs(url: &str, n: u64) -> serde_json::Value {
    for _ in 0..200 {
        if let Some(v) = json(&format!("{url}/api/status")).await
            && v["scheduler"]["runs"].as_u64().unwrap_or(0) >= n
        {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("daemon did not finish {n} runs");
}

#[tokio::test(flavor = "multi_thread")]
async fn etf_circuit_survives_kill_9() {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sniper.db");
    let db = db.to_str().unwrap();

    let (mut first, url) = start(db, &sb.url());
    wait_runs(&url, 2).await;
    assert_eq!(
        sb.state.hits_for(ModuleId::Etf).len(),
        1,
        "402 opened the circuit"
    );
    first.kill().unwrap(); // SIGKILL: no graceful shutdown, nothing flushed on exit
    first.wait().unwrap();

    let (mut second, url) = start(db, &sb.url());
    let status = wait_runs(&url, 3).await;
    assert_eq!(
        sb.state.hits_for(ModuleId::Etf).len(),
        1,
        "no ETF request after the restart while the circuit is open"
    );
    let etf = status["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["module"] == "etf")
        .unwrap()
        .clone();
    assert_eq!(etf["breaker"]["state"], "open", "{etf}");
    assert_eq!(etf["breaker"]["reason"], "entitlement", "{etf}");
    // The history holds the runs of the first process, including its 402.
    let runs = json(&format!("{url}/api/runs?limit=1000&module=etf"))
        .await
        .unwrap();
    let codes: Vec<String> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["modules"][0]["code"].as_str().map(str::to_string))
        .collect();
    assert!(
        codes.contains(&"ETF_PAYMENT_REQUIRED".to_string()),
        "{codes:?}"
    );
    assert!(codes.iter().filter(|c| *c == "ETF_CIRCUIT_OPEN").count() >= 2);
    second.kill().unwrap();
    second.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn learned_url_shape_survives_a_restart() {
    // No spec, and the heatmap only answers on the design's second shape (path parameter).
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    sb.state.set_spec(sniper::sandbox::SpecMode::Status(404));
    let mut routes = sniper::sandbox::default_routes();
    for r in &mut routes {
        if r.module == ModuleId::Heatmap {
            r.path = "/advanced/liquidation/heatmap/{symbol}".into();
            r.params[0].location = "path".into();
        }
    }
    sb.state.set_routes(routes);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sniper.db");
    let db = db.to_str().unwrap();

    let (mut first, url) = start(db, &sb.url());
    wait_runs(&url, 2).await;
    first.kill().unwrap();
    first.wait().unwrap();
    let heatmap_paths = |sb: &Sandbox| -> Vec<String> {
        sb.state
            .hits()
            .into_iter()
            .filter(|h| h.path.contains("heatmap"))
            .map(|h| h.path)
            .collect()
    };
    // First process: probed the query shape (404), then the path shape; then only the path shape.
    let before = heatmap_paths(&sb);
    assert_eq!(before[0], "/advanced/liquidation/heatmap");
    assert_eq!(before[1], "/advanced/liquidation/heatmap/SOL");
    assert_eq!(before[2], "/advanced/liquidation/heatmap/SOL");
    sb.state.clear_hits();

    let (mut second, url) = start(db, &sb.url());
    wait_runs(&url, 1).await;
    let after = heatmap_paths(&sb);
    assert_eq!(
        after.first().map(String::as_str),
        Some("/advanced/liquidation/heatmap/SOL"),
        "the restarted daemon went straight to the learned shape: {after:?}"
    );
    assert!(!after.iter().any(|p| p == "/advanced/liquidation/heatmap"));
    second.kill().unwrap();
    second.wait().unwrap();
}

/// Issue 13 item 3: saved state belongs to one backend. A staging backend's 402 must not keep
/// production's ETF circuit open after sniper is pointed at production with the same
/// `SNIPER_DB`; pointed back at staging, staging's circuit is still open. The API says which
/// backend each run went to.
#[tokio::test(flavor = "multi_thread")]
async fn saved_state_belongs_to_one_backend() {
    let staging = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let production = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    production.state.set_licensed(true);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sniper.db");
    let db = db.to_str().unwrap();
    let key = |sb: &Sandbox| sb.url().trim_end_matches('/').to_string();

    let (mut first, url) = start(db, &staging.url());
    wait_runs(&url, 2).await;
    assert_eq!(staging.state.hits_for(ModuleId::Etf).len(), 1, "402 opened");
    first.kill().unwrap();
    first.wait().unwrap();

    let (mut second, url) = start(db, &production.url());
    wait_runs(&url, 2).await;
    assert!(
        !production.state.hits_for(ModuleId::Etf).is_empty(),
        "staging's circuit was restored against production"
    );
    let latest = json(&format!("{url}/api/runs/latest")).await.unwrap();
    assert_eq!(
        latest["results"][0]["backend"],
        key(&production),
        "{latest}"
    );
    let runs = json(&format!("{url}/api/runs?limit=1000")).await.unwrap();
    let backends: std::collections::BTreeSet<String> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["backend"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        backends,
        [key(&staging), key(&production)].into_iter().collect(),
        "{runs}"
    );
    second.kill().unwrap();
    second.wait().unwrap();

    let (mut third, url) = start(db, &staging.url());
    wait_runs(&url, 2).await;
    assert_eq!(
        staging.state.hits_for(ModuleId::Etf).len(),
        1,
        "staging's own circuit is still open after the round trip"
    );
    third.kill().unwrap();
    third.wait().unwrap();
}
