//! Signals with a real `sniper demo` process: `kill -9` while a call is being delivered, restart,
//! and the call is delivered exactly once with its idempotency key; and the status page's market
//! charts in headless Chromium, their element counts compared with `/api/market/latest`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

use crate::support::EASY_RULES;
use crate::support::process;

/// A running demo (killed when dropped) and its status page URL (with a trailing `/`).
struct Demo {
    child: process::Daemon,
    url: String,
}

fn demo(db: &Path, envs: &[(&str, String)]) -> Demo {
    let mut cmd = process::sniper();
    cmd.arg("demo")
        .arg("--db")
        .arg(db)
        .env("SNIPER_LISTEN", "127.0.0.1:0")
        .env("SNIPER_LOG", "warn,sniper=info");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let (child, url) = process::start(cmd);
    Demo {
        child,
        url: format!("{url}/"),
    }
}

/// (key, answered with 200) per request.
type Seen = Arc<Mutex<Vec<(String, bool)>>>;

async fn webhook(hang: Arc<Mutex<bool>>) -> (String, Seen) {
    let seen: Seen = Arc::default();
    async fn handle(
        State((seen, hang)): State<(Seen, Arc<Mutex<bool>>)>,
        headers: HeaderMap,
        _body: String,
    ) -> StatusCode {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if *hang.lock().unwrap() {
            seen.lock().unwrap().push((key, false));
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        seen.lock().unwrap().push((key, true));
        StatusCode::OK
    }
    let app = Router::new()
        .route("/hook", post(handle))
        .with_state((seen.clone(), hang));
    (
        format!("{}/hook", crate::support::stub::serve(app).await.url()),
        seen,
    )
}

async fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_grading_and_delivery_then_delivered_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, EASY_RULES).unwrap();
    let hang = Arc::new(Mutex::new(true));
    let (hook, seen) = webhook(hang.clone()).await;
    let envs = vec![
        ("SIGNAL_WEBHOOK_URL", hook),
        ("SNIPER_RULES", rules.to_str().unwrap().to_string()),
        ("SNIPER_INTERVAL", "1s".to_string()),
    ];
    // Process 1: grades, enqueues, starts delivering (the webhook never answers): kill -9.
    let mut first = demo(&db, &envs);
    let key = wait_for("the first delivery attempt", 60, || {
        seen.lock().unwrap().first().map(|s| s.0.clone())
    })
    .await;
    assert!(key.starts_with("sig-"), "{key}");
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    drop(first);
    *hang.lock().unwrap() = false;
    // Process 2 on the same database: resends the undelivered call with the same key.
    let second = demo(&db, &envs);
    wait_for("the resent call", 60, || {
        seen.lock()
            .unwrap()
            .iter()
            .any(|(k, ok)| *ok && *k == key)
            .then_some(())
    })
    .await;
    // Let it run a few more 1 s runs: the same call is within its cooldown.
    tokio::time::sleep(Duration::from_secs(4)).await;
    drop(second);
    let seen = seen.lock().unwrap().clone();
    let delivered: Vec<&String> = seen.iter().filter(|s| s.1).map(|s| &s.0).collect();
    let mut unique = delivered.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        delivered.len(),
        "a key was delivered twice: {seen:?}"
    );
    assert_eq!(delivered.iter().filter(|k| ***k == key).count(), 1);
    // And the store agrees: that row is delivered, after two attempts at most.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (delivered_ms, n): (Option<i64>, i64) = conn
        .query_row(
            "SELECT delivered_ms, (SELECT count(*) FROM signal_outbox WHERE key = ?1)
             FROM signal_outbox WHERE key = ?1",
            [&key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(delivered_ms.is_some());
    assert_eq!(n, 1);
}

use crate::support::browser::{chromium, run_chromium};

/// Count `needle` inside the `<svg … data-chart="kind"` element of `block`.
fn count_in_chart(block: &str, kind: &str, needle: &str) -> usize {
    let start = block
        .find(&format!("data-chart=\"{kind}\""))
        .unwrap_or_else(|| panic!("no {kind} chart"));
    let end = block[start..].find("</svg>").unwrap() + start;
    block[start..end].matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_draws_market_charts_matching_the_api() {
    let Some(bin) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    // One run only (the next is an hour away), so the page and the API see the same data.
    let d = demo(
        &dir.path().join("b.db"),
        &[("SNIPER_INTERVAL", "3600s".to_string())],
    );
    let client = reqwest::Client::new();
    let api = format!("{}api/market/latest", d.url);
    let mut latest = Value::Null;
    for _ in 0..300 {
        latest =
            serde_json::from_str(&client.get(&api).send().await.unwrap().text().await.unwrap())
                .unwrap_or(Value::Null);
        if latest["symbols"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let symbols = latest["symbols"].as_array().expect("symbols").clone();
    assert!(!symbols.is_empty(), "no graded symbol: {latest}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    std::fs::create_dir_all(&out).unwrap();
    let dom = run_chromium(&bin, &["--dump-dom".into(), d.url.clone()]);
    let dom = String::from_utf8_lossy(&dom.stdout).to_string();
    std::fs::write(out.join("market-dom.html"), &dom).unwrap();
    assert!(dom.contains("data-loaded=\"true\""), "page never loaded");
    let err_tag = dom
        .split("id=\"error\"")
        .next()
        .and_then(|before| before.rfind("<div").map(|i| &dom[i..]))
        .and_then(|s| s.split('>').next())
        .unwrap_or("");
    assert!(err_tag.contains("hidden"), "page shows an error: {err_tag}");
    let mut drawn = 0;
    for s in &symbols {
        let name = s["symbol"].as_str().unwrap();
        let c = &s["charts"];
        let len = |k: &str| c[k].as_array().map_or(0, Vec::len);
        let at = dom
            .find(&format!("data-symbol=\"{name}\""))
            .unwrap_or_else(|| panic!("symbol {name} not shown"));
        let block = &dom[at..];
        let block = &block[..block[1..]
            .find("data-symbol=\"")
            .map_or(block.len(), |i| i + 1)];
        assert_eq!(
            count_in_chart(block, "depth", "<circle class=\"pt "),
            len("bids") + len("asks"),
            "{name} depth"
        );
        assert_eq!(
            count_in_chart(block, "liquidations", "<rect class=\"bar "),
            len("liquidations"),
            "{name} liquidations"
        );
        assert_eq!(
            count_in_chart(block, "etf", "<rect class=\"bar "),
            len("etf"),
            "{name} etf"
        );
        assert!(len("etf") <= 14);
        assert_eq!(
            count_in_chart(block, "whales", "<rect class=\"bar "),
            len("whales"),
            "{name} whales"
        );
        if c["mid"].is_number() {
            assert!(count_in_chart(block, "depth", "class=\"midline\"") == 1);
        }
        assert_eq!(block.matches("class=\"layer\"").count(), 5, "{name} layers");
        drawn += len("bids") + len("asks") + len("liquidations") + len("etf") + len("whales");
    }
    assert!(drawn > 0, "the sandbox gave no chart data at all: {latest}");
    let shot = out.join("market.png");
    let o = run_chromium(
        &bin,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=412,2600".into(),
            d.url.clone(),
        ],
    );
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}
