//! Requests stay on PY_BASE_URL's origin and under its path prefix, whatever the spec says.

use crate::support::{self as common, stub};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::{StatusCode, header};
use serde_json::json;
use sniper::module_id::ModuleId;
use sniper::run::{Runner, system_clock};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn path_prefix_is_kept_and_hostile_spec_entries_are_ignored() {
    let server = MockServer::start().await;
    let spec = json!({
        "openapi": "3.1.0",
        "servers": [{"url": "https://production.example.com"}],
        "paths": {
            "//evil.example.com/advanced/etf/flows": {"get": {}},
            "/advanced/../../etc/whale/alerts": {"get": {}},
            "/advanced/whale/alerts": {"get": {}},
        }
    });
    Mock::given(method("GET"))
        .and(path_regex("^/py/openapi.json$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(spec))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/py/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    let base = format!("{}/py", server.uri());
    let cfg = common::config(&["--py-base-url", &base]);
    let runner = Runner::new(cfg, system_clock()).unwrap();
    let r = runner.run_once().await.remove(0);
    // Every module reached the stub under the prefix; its `{"ok": true}` is no market data, so
    // each is an honest `<MODULE>_BAD_PAYLOAD`, not a route or transport failure.
    assert_eq!(r.errors.len(), 5, "{:?}", r.errors);
    assert!(
        r.errors.iter().all(|e| e.code.ends_with("_BAD_PAYLOAD")),
        "{:?}",
        r.errors
    );
    let received = server.received_requests().await.unwrap();
    assert!(!received.is_empty());
    for req in &received {
        let p = req.url.path();
        assert!(p.starts_with("/py/"), "left the prefix: {p}");
        assert!(
            !p.contains("..") && !p.contains("//"),
            "hostile path followed: {p}"
        );
    }
    assert!(
        received
            .iter()
            .any(|r| r.url.path() == "/py/advanced/whale/alerts")
    );
    let _ = ModuleId::ALL;
}

/// A backend that redirects every request to another loopback server, which would answer with
/// usable market data and counts every request it gets: the count stays 0 and no module is ok.
#[tokio::test]
async fn redirects_are_not_followed() {
    let target_hits = Arc::new(AtomicUsize::new(0));
    let hits = target_hits.clone();
    let target = stub::serve(Router::new().fallback(move || {
        let hits = hits.clone();
        async move {
            hits.fetch_add(1, Ordering::SeqCst);
            axum::Json(json!({"direction": "LONG", "score": 0.4, "confidence": 0.9}))
        }
    }))
    .await;
    let location = format!("{}/steal", target.url());
    let backend_hits = Arc::new(AtomicUsize::new(0));
    let (loc, seen) = (location.clone(), backend_hits.clone());
    let backend = stub::serve(Router::new().fallback(move || {
        let (loc, seen) = (loc.clone(), seen.clone());
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            (StatusCode::FOUND, [(header::LOCATION, loc)])
        }
    }))
    .await;
    let cfg = common::config(&["--py-base-url", &backend.url()]);
    let runner = Runner::new(cfg, system_clock()).unwrap();
    let r = runner.run_once().await.remove(0);
    assert!(
        backend_hits.load(Ordering::SeqCst) > 0,
        "the run reached the backend"
    );
    assert_eq!(
        target_hits.load(Ordering::SeqCst),
        0,
        "a redirect to {location} was followed"
    );
    assert!(!r.success, "{:?}", r.errors);
    assert!(r.used_modules.is_empty(), "{:?}", r.used_modules);
}
