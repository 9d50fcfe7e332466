//! The status page in headless Chromium (via `tests/browser/check.sh`): against a good fixture the
//! check passes and writes a screenshot; against a failing `/api/status` it fails.
//!
//! Skipped (with a message) when Chromium is missing, unless `SNIPER_REQUIRE_BROWSER=1`.
//! `SNIPER_BROWSER_OUT=DIR` keeps the DOM dump and screenshot in DIR.

use crate::fixture;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use jiff::Timestamp;
use sniper::store::{AsyncStore, SqliteStore};

fn chromium_available() -> bool {
    crate::support::browser::chromium().is_some()
}

async fn check(status: Option<serde_json::Value>, out: &Path) -> Output {
    let now = Timestamp::now();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("b.db").to_str().unwrap()).unwrap();
    fixture::fill_store(&store, now, 40);
    check_store(store, status, out).await
}

async fn check_store(store: SqliteStore, status: Option<serde_json::Value>, out: &Path) -> Output {
    let broken = status.is_none();
    let app = fixture::app(AsyncStore::new(Arc::new(store)), status);
    let (addr, server) = fixture::serve(app, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/check.sh");
    let url = format!("http://{addr}/");
    let out = out.to_path_buf();
    let output = tokio::process::Command::new(script)
        .env("CHECK_ATTEMPTS", if broken { "1" } else { "3" })
        .arg(&url)
        .arg(&out)
        .output()
        .await
        .unwrap();
    server.abort();
    output
}

fn out_dir(name: &str) -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("SNIPER_BROWSER_OUT") {
        Some(d) => (None, PathBuf::from(d).join(name)),
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_shows_modules_and_runs_in_chromium() {
    if !chromium_available() {
        return;
    }
    let (_keep, out) = out_dir("ok");
    let o = check(Some(fixture::status_json(Timestamp::now())), &out).await;
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "check.sh failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("5 modules, 40 runs"), "{stdout}");
    let png = std::fs::read(out.join("status.png")).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "screenshot is not a PNG"
    );
    let dom = std::fs::read_to_string(out.join("dom.html")).unwrap();
    assert!(dom.contains("ETF: open until"), "breaker sentence missing");
    assert!(dom.contains("payment required"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_fails_when_the_status_api_fails() {
    if !chromium_available() {
        return;
    }
    let (_keep, out) = out_dir("broken");
    let o = check(None, &out).await;
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("page shows an error"), "{stderr}");
    assert!(stderr.contains("HTTP 500"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_from_the_api_is_shown_as_text_not_markup() {
    if !chromium_available() {
        return;
    }
    let (_keep, out) = out_dir("escape");
    let mut status = fixture::status_json(Timestamp::now());
    let evil = "<img src=x id=injected onerror=alert(1)>";
    status["modules"][1]["route"]["path"] = evil.into();
    status["modules"][2]["breaker"]["reason"] = evil.into();
    let o = check(Some(status), &out).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dom = std::fs::read_to_string(out.join("dom.html")).unwrap();
    assert!(
        !dom.contains("id=\"injected\""),
        "markup from the API was parsed"
    );
    assert!(!dom.contains("<img"), "markup from the API was parsed");
    assert!(dom.contains("&lt;img src=x id=injected"), "text not shown");
}

/// A run over 3 symbols is 3 rows in `/api/runs` but one run on the page: 10 runs × 3 symbols
/// show as 10 timeline cells and "last 10" (the page said "last 30" before rows were grouped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_counts_runs_not_symbol_rows() {
    if !chromium_available() {
        return;
    }
    let (_keep, out) = out_dir("grouped");
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("g.db").to_str().unwrap()).unwrap();
    let now = Timestamp::now();
    for i in 0..10i64 {
        for (j, sym) in ["BTC", "ETH", "SOL"].iter().enumerate() {
            let failed = i == 3 && j == 0;
            let run = sniper::store::RunRecord {
                id: None,
                at: now - jiff::SignedDuration::from_secs(60 * (10 - i)),
                outcome: if failed {
                    sniper::store::Outcome::Failure
                } else {
                    sniper::store::Outcome::Success
                },
                success: !failed,
                duration_ms: 300,
                soft_fails: vec![],
                modules: vec![],
                payload: None,
                payload_dropped: false,
                sandbox: true,
                backend: None,
                trigger: sniper::run::Trigger::Schedule,
                replica: None,
                symbol: Some((*sym).to_string()),
                run_group: Some(format!("g{i}")),
            };
            sniper::store::StateStore::save_run(&store, &run).unwrap();
        }
    }
    let o = check_store(store, Some(fixture::status_json(now)), &out).await;
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "check.sh failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(", 10 runs"), "{stdout}");
    let dom = std::fs::read_to_string(out.join("dom.html")).unwrap();
    assert!(
        dom.contains("last 10: 9 ok, 1 soft fails, 0 failed"),
        "run counts: {dom}"
    );
}
