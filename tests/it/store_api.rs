//! `GET /api/runs` and `GET /` over real HTTP on loopback, backed by an in-memory SqliteStore.

use crate::fixture;

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::Value;
use sniper::store::{AsyncStore, SqliteStore};

async fn start() -> String {
    let store = SqliteStore::open(":memory:").unwrap();
    fixture::fill_store(&store, Timestamp::now(), 30);
    let app = sniper::daemon::status::routes(AsyncStore::new(Arc::new(store)));
    crate::support::stub::serve(app).await.url()
}

async fn get(url: &str) -> (u16, Option<String>, String) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, ctype, resp.text().await.unwrap())
}

async fn runs(base: &str, query: &str) -> Vec<Value> {
    let (status, ctype, body) = get(&format!("{base}/api/runs{query}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ctype.as_deref(), Some("application/json"));
    let v: Value = serde_json::from_str(&body).unwrap();
    v["runs"].as_array().unwrap().clone()
}

#[tokio::test]
async fn runs_api_filters_and_limits() {
    let base = start().await;
    let all = runs(&base, "").await;
    assert_eq!(all.len(), 30);
    // Newest first.
    let ats: Vec<Timestamp> = all
        .iter()
        .map(|r| r["at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ats.windows(2).all(|w| w[0] >= w[1]));

    assert_eq!(runs(&base, "?limit=7").await.len(), 7);

    let failures = runs(&base, "?outcome=failure").await;
    assert_eq!(failures.len(), 2);
    assert!(failures.iter().all(|r| r["outcome"] == "failure"));

    // Module filter narrows each run to that module.
    let spot = runs(&base, "?module=spot_ob&outcome=partial&limit=1000").await;
    assert!(!spot.is_empty());
    for r in &spot {
        let mods = r["modules"].as_array().unwrap();
        assert_eq!(mods.len(), 1);
        assert_eq!(mods[0]["module"], "spot_ob");
        assert_eq!(r["outcome"], "partial");
    }
    // Bias is recorded as disabled in every fixture run, so it has the full history.
    assert_eq!(runs(&base, "?module=bias").await.len(), 30);
}

#[tokio::test]
async fn runs_api_rejects_bad_values_with_json_400() {
    let base = start().await;
    for (query, param) in [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=abc", "limit"),
        ("?module=ETF", "module"),
        ("?module=gpts", "module"),
        ("?outcome=ok", "outcome"),
    ] {
        let (status, ctype, body) = get(&format!("{base}/api/runs{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(ctype.as_deref(), Some("application/json"), "{query}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"], "bad_param", "{query}");
        assert_eq!(v["param"], param, "{query}");
        assert!(v["message"].as_str().unwrap().contains(param), "{query}");
    }
}

#[tokio::test]
async fn root_serves_the_self_contained_page() {
    let base = start().await;
    let resp = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let csp = h["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    let body = resp.text().await.unwrap();
    assert_eq!(body, sniper::daemon::status::STATUS_PAGE_HTML);
    // Offline: nothing is loaded from another origin, and data never goes through innerHTML.
    // The SVG namespace is an XML name, never fetched: it is the one URL the page may hold.
    let body = body.replace("\"http://www.w3.org/2000/svg\"", "\"SVG-NS\"");
    for forbidden in [
        "http://",
        "https://",
        "//cdn",
        "innerHTML",
        "outerHTML",
        "<link",
    ] {
        assert!(!body.contains(forbidden), "page contains {forbidden:?}");
    }
    for hook in [
        "id=\"error\"",
        "id=\"modules\"",
        "id=\"timeline\"",
        "id=\"sandbox\"",
    ] {
        assert!(body.contains(hook), "page lacks {hook}");
    }
}

/// `?symbol=` keeps one symbol's rows (any case); a value that cannot be a symbol is a 400
/// naming the parameter.
#[tokio::test]
async fn runs_api_filters_by_symbol() {
    let store = SqliteStore::open(":memory:").unwrap();
    let now = Timestamp::now();
    for (i, sym) in ["BTC", "SOL", "SOL"].iter().enumerate() {
        let run = sniper::store::RunRecord {
            id: None,
            at: now - jiff::SignedDuration::from_secs(i as i64),
            outcome: sniper::store::Outcome::Success,
            success: true,
            duration_ms: 10,
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
    let app = sniper::daemon::status::routes(AsyncStore::new(Arc::new(store)));
    let (addr, _task) = fixture::serve(app, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{addr}");
    let sol = runs(&base, "?symbol=sol").await;
    assert_eq!(sol.len(), 2);
    assert!(
        sol.iter()
            .all(|r| r["symbol"] == "SOL" && r["run_group"].is_string())
    );
    assert_eq!(runs(&base, "?symbol=BTC").await.len(), 1);
    assert!(runs(&base, "?symbol=DOGE").await.is_empty());
    let (status, _, body) = get(&format!("{base}/api/runs?symbol=%3Cscript%3E")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"param\":\"symbol\""), "{body}");
}
