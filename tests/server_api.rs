//! The daemon's App and JSON API in-process, over real HTTP on loopback, against the sandbox.

mod common;

use std::sync::Arc;

use sniper::daemon::metrics::Metrics;
use sniper::daemon::scheduler::SchedulerConfig;
use sniper::daemon::server::{App, api_router};
use sniper::store::{AsyncStore, RunQuery, SqliteStore};

async fn app(flags: &[&str]) -> (sniper::sandbox::Sandbox, Arc<App>, AsyncStore) {
    let (sb, runner) = common::sandbox_runner(flags).await;
    let store = AsyncStore::new(Arc::new(SqliteStore::open(":memory:").unwrap()));
    let window = runner.config().window.clone();
    let app = App::new(
        runner,
        &SchedulerConfig::default(),
        Metrics::new(),
        Some(store.clone()),
        window,
    )
    .await;
    (sb, app, store)
}

async fn serve(app: Arc<App>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api_router(app, true)).await });
    format!("http://{addr}")
}

async fn get_json(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    let r = client.get(url).send().await.unwrap();
    let code = r.status().as_u16();
    (
        code,
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn payloads_are_kept_only_when_asked() {
    let (_sb, app, store) = app(&[]).await;
    app.run_and_record().await;
    app.set_keep_payloads(true);
    app.run_and_record().await;
    let runs = store
        .runs(RunQuery {
            limit: 10,
            with_payload: true,
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(runs.len(), 2);
    // Newest first: the second run kept its payload, the first did not.
    let payload = runs[0].payload.as_ref().expect("payload kept");
    assert!(payload.to_string().contains("sandbox"), "{payload}");
    assert!(runs[1].payload.is_none());
}

#[tokio::test]
async fn api_reports_runs_modules_and_status() {
    let (sb, app, _store) = app(&[]).await;
    let url = serve(app).await;
    let client = reqwest::Client::new();
    let (code, _) = get_json(&client, &format!("{url}/api/runs/latest")).await;
    assert_eq!(code, 404, "no run yet");
    let r = client.post(format!("{url}/api/run")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (code, latest) = get_json(&client, &format!("{url}/api/runs/latest")).await;
    assert_eq!(code, 200);
    assert_eq!(
        latest["results"][0]["context"]["etf"]["code"],
        "ETF_PAYMENT_REQUIRED"
    );
    let (_, modules) = get_json(&client, &format!("{url}/api/modules")).await;
    let etf = &modules["modules"][0];
    assert_eq!(etf["module"], "etf");
    assert_eq!(etf["breaker"]["state"], "open");
    assert_eq!(etf["route"]["path"], "/advanced/etf/flows");
    let (_, status) = get_json(&client, &format!("{url}/api/status")).await;
    assert_eq!(status["sandbox"], true);
    assert_eq!(status["window"]["tz"], "Asia/Jakarta");
    assert_eq!(status["last_run"]["outcome"], "partial");
    // POST /api/run went through the sandbox exactly once per module.
    assert_eq!(
        sb.state.hits_for(sniper::module_id::ModuleId::Bias).len(),
        1
    );
    let (code, ready) = get_json(&client, &format!("{url}/ready")).await;
    assert_eq!(code, 200, "{ready}");
}
