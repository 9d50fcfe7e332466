//! The daemon's App and JSON API in-process, over real HTTP on loopback, against the sandbox.

use crate::support as common;

use std::sync::Arc;

use sniper::daemon::scheduler::SchedulerConfig;
use sniper::daemon::server::{App, AppOptions, api_router};
use sniper::daemon::store_health::StoreErrorPolicy;
use sniper::module_id::ModuleId;
use sniper::obs::metrics::Metrics;
use sniper::run::Trigger;
use sniper::sandbox::Fault;
use sniper::store::{AsyncStore, RunQuery, SqliteStore};

async fn app(flags: &[&str]) -> (sniper::sandbox::Sandbox, Arc<App>, AsyncStore) {
    app_on(flags, ":memory:").await
}

async fn app_on(flags: &[&str], db: &str) -> (sniper::sandbox::Sandbox, Arc<App>, AsyncStore) {
    let (sb, runner) = common::sandbox_runner(flags).await;
    let store = AsyncStore::new(Arc::new(SqliteStore::open(db).unwrap()));
    let window = runner.config().window.clone();
    let app = App::new(
        runner,
        &SchedulerConfig::default(),
        Metrics::new(),
        Some(store.clone()),
        window,
        AppOptions::default(),
    )
    .await;
    (sb, app, store)
}

async fn serve(app: Arc<App>) -> String {
    crate::support::stub::serve(api_router(app, true))
        .await
        .url()
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
    // The same runner and store, wired with SNIPER_STORE_PAYLOADS=on.
    let keeping = App::new(
        app.runner.clone(),
        &SchedulerConfig::default(),
        Metrics::new(),
        Some(store.clone()),
        app.window.clone(),
        AppOptions {
            keep_payloads: true,
            ..AppOptions::default()
        },
    )
    .await;
    keeping.run_and_record().await;
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

/// Concurrent `POST /api/run`s while a manual run is in flight share it: one run reaches the
/// backend, every request gets its result, and the run is logged in history and metrics as
/// `manual`.
#[tokio::test]
async fn concurrent_manual_runs_share_one_run() {
    // Bias due every run, so each run that reaches the backend shows as a request.
    let (sb, app, store) = app(&["--refresh-bias", "0"]).await;
    // Keep the first run in flight long enough for every request to arrive.
    sb.state.set_fault(
        ModuleId::Bias,
        Fault {
            delay_ms: Some(1000),
            ..Fault::default()
        },
    );
    let metrics = app.metrics.clone();
    let url = serve(app).await;
    let client = reqwest::Client::new();
    let answers = futures_util::future::join_all((0..8).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let r = client.post(format!("{url}/api/run")).send().await.unwrap();
            let code = r.status().as_u16();
            let body: serde_json::Value =
                serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            (code, body)
        }
    }))
    .await;
    for (code, body) in &answers {
        assert_eq!(*code, 200, "{body}");
        assert_eq!(body, &answers[0].1, "every request got the same run");
    }
    assert_eq!(answers[0].1["results"][0]["trigger"], "manual");
    assert_eq!(
        sb.state.hits_for(ModuleId::Bias).len(),
        1,
        "one run reached the backend"
    );
    let runs = store.runs(RunQuery::default()).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].trigger, Trigger::Manual);
    let text = metrics.encode();
    let manual: f64 = text
        .lines()
        .filter(|l| l.starts_with("sniper_runs_total{trigger=\"manual\""))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum();
    assert_eq!(manual, 1.0, "{text}");
    // A request after it finished starts a new run.
    let r = client.post(format!("{url}/api/run")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(sb.state.hits_for(ModuleId::Bias).len(), 2);
}

/// Make every store write fail the way a full disk does (SQLite's own error), from another
/// connection on the same file.
fn fill_disk(path: &std::path::Path, full: bool) {
    let conn = rusqlite::Connection::open(path).unwrap();
    for table in ["runs", "breakers", "routes"] {
        let sql = if full {
            format!(
                "CREATE TRIGGER full_{table} BEFORE INSERT ON {table} \
                 BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;"
            )
        } else {
            format!("DROP TRIGGER full_{table};")
        };
        conn.execute_batch(&sql).unwrap();
    }
}

/// Store writes failing: logged, counted in `sniper_store_errors_total{op}`, shown in
/// `/api/status`, and `/ready` fails after three in a row (policy `fail`) — or not (`ignore`).
/// Writes resume by themselves once space returns.
#[tokio::test]
async fn failing_store_writes_are_counted_shown_and_fail_ready() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.db");
    let (_sb, app, store) = app_on(&[], path.to_str().unwrap()).await;
    let url = serve(app.clone()).await;
    let client = reqwest::Client::new();
    fill_disk(&path, true);
    for _ in 0..3 {
        app.run_and_record().await;
    }
    let (code, ready) = get_json(&client, &format!("{url}/ready")).await;
    assert_eq!(code, 503, "{ready}");
    assert!(
        ready["reason"].as_str().unwrap().contains("disk is full"),
        "{ready}"
    );
    let (_, status) = get_json(&client, &format!("{url}/api/status")).await;
    // Every write of the three runs failed: its history row, and the breaker snapshots and
    // learned routes (retried each run until they are written).
    let failures = status["store"]["consecutive_failures"].as_u64().unwrap();
    assert!(failures >= 3, "{status}");
    assert_eq!(status["store"]["errors_total"], failures, "{status}");
    assert!(
        status["store"]["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("disk is full"),
        "{status}"
    );
    let text = app.metrics.encode();
    assert!(
        text.contains("sniper_store_errors_total{op=\"save_run\"} 3"),
        "{text}"
    );
    // The same runner and store wired with SNIPER_READY_ON_STORE_ERROR=ignore: the failures are
    // counted and shown, /ready stays 200.
    let ignoring = App::new(
        app.runner.clone(),
        &SchedulerConfig::default(),
        Metrics::new(),
        Some(store.clone()),
        app.window.clone(),
        AppOptions {
            store_policy: StoreErrorPolicy::Ignore,
            ..AppOptions::default()
        },
    )
    .await;
    for _ in 0..3 {
        ignoring.run_and_record().await;
    }
    assert!(ignoring.store_health().consecutive_failures >= 3);
    let ignoring_url = serve(ignoring).await;
    let (code, ready) = get_json(&client, &format!("{ignoring_url}/ready")).await;
    assert_eq!(code, 200, "{ready}");

    fill_disk(&path, false);
    app.run_and_record().await;
    let (code, ready) = get_json(&client, &format!("{url}/ready")).await;
    assert_eq!(code, 200, "{ready}");
    assert_eq!(store.runs(RunQuery::default()).await.unwrap().len(), 1);
}
