//! Discovery over real HTTP: bounded wait, single flight, conditional requests, stale-if-error,
//! refresh on a 404 from a spec route. Asserts on what the backend received.

use crate::support as common;

use std::time::Duration;

use serde_json::json;
use sniper::module_id::ModuleId;
use sniper::run::modules::Outcome;
use sniper::run::{Runner, system_clock};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn spec_with_whale(p: &str) -> serde_json::Value {
    json!({"openapi": "3.1.0", "paths": {p: {"get": {"parameters": []}}}})
}

/// Every GET answers 200: a module's route with the sandbox's body for it (usable data in the
/// real backend's shape, made at request time), anything else `{"ok": true}`.
async fn ok_routes(server: &MockServer) {
    Mock::given(method("GET"))
        .respond_with(|req: &wiremock::Request| {
            let path = req.url.path();
            let module = [
                ("etf", ModuleId::Etf),
                ("heatmap", ModuleId::Heatmap),
                ("orderbook", ModuleId::SpotOb),
                ("whale", ModuleId::WhaleAlerts),
                ("bias", ModuleId::Bias),
            ]
            .into_iter()
            .find(|(k, _)| path.contains(k));
            let body = match module {
                Some((_, m)) => {
                    let params = req.url.query_pairs().into_owned().collect();
                    let now = jiff::Timestamp::now().as_millisecond();
                    sniper::sandbox::market::body(m, sniper::sandbox::Shape::Real, &params, now)
                }
                None => json!({"ok": true}),
            };
            ResponseTemplate::new(200).set_body_json(body)
        })
        .with_priority(10)
        .mount(server)
        .await;
}

fn spec_hits(reqs: &[wiremock::Request]) -> usize {
    reqs.iter()
        .filter(|r| r.url.path() == "/openapi.json")
        .count()
}

#[tokio::test]
async fn a_slow_spec_does_not_delay_the_run() {
    let server = MockServer::start().await;
    Mock::given(path("/openapi.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(spec_with_whale("/v9/whale/alerts"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    ok_routes(&server).await;
    let cfg = common::config(&[
        "--py-base-url",
        &server.uri(),
        "--discovery-timeout",
        "200ms",
    ]);
    let runner = Runner::new(cfg, system_clock()).unwrap();
    let r = runner.run_once().await.remove(0);
    assert_eq!(r.used_modules.len(), 5, "{:?}", r.errors);
    // Defaults were used: the spec had not arrived.
    assert_eq!(
        r.context[&ModuleId::WhaleAlerts].call.request.as_deref(),
        Some("/advanced/whale/alerts")
    );
    assert!(
        r.duration_ms < 2500,
        "waited for the spec: {}ms",
        r.duration_ms
    );
}

#[tokio::test]
async fn concurrent_runs_share_one_spec_fetch() {
    let server = MockServer::start().await;
    Mock::given(path("/openapi.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(spec_with_whale("/v9/whale/alerts"))
                .set_delay(Duration::from_millis(300)),
        )
        .mount(&server)
        .await;
    ok_routes(&server).await;
    let cfg = common::config(&["--py-base-url", &server.uri()]);
    let runner = Runner::new(cfg, system_clock()).unwrap();
    let runs: Vec<_> = (0..5)
        .map(|_| {
            let r = runner.clone();
            tokio::spawn(async move { r.run_once().await })
        })
        .collect();
    for r in runs {
        let r = r.await.unwrap().remove(0);
        assert_eq!(
            r.context[&ModuleId::WhaleAlerts].call.request.as_deref(),
            Some("/v9/whale/alerts")
        );
    }
    assert_eq!(spec_hits(&server.received_requests().await.unwrap()), 1);
}

#[tokio::test]
async fn etag_revalidation_and_stale_if_error() {
    let server = MockServer::start().await;
    // Revalidation with the ETag answers 304; anything else gets the spec once, then 500s.
    Mock::given(path("/openapi.json"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(304))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/openapi.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"v1\"")
                .set_body_json(spec_with_whale("/v9/whale/alerts")),
        )
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(path("/openapi.json"))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(3)
        .mount(&server)
        .await;
    ok_routes(&server).await;
    let cfg = common::config(&["--py-base-url", &server.uri(), "--discovery-ttl", "1ms"]);
    let runner = Runner::new(cfg, system_clock()).unwrap();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let r = runner.run_once().await.remove(0);
        // First: fetched; second: 304 revalidated; third: 500, the last good map is kept.
        assert_eq!(
            r.context[&ModuleId::WhaleAlerts].call.request.as_deref(),
            Some("/v9/whale/alerts")
        );
    }
    let reqs = server.received_requests().await.unwrap();
    let spec_reqs: Vec<_> = reqs
        .iter()
        .filter(|r| r.url.path() == "/openapi.json")
        .collect();
    assert_eq!(spec_reqs.len(), 3);
    assert!(spec_reqs[0].headers.get("if-none-match").is_none());
    assert_eq!(spec_reqs[1].headers.get("if-none-match").unwrap(), "\"v1\"");
}

#[tokio::test]
async fn a_404_on_a_spec_route_refreshes_the_spec_once() {
    let server = MockServer::start().await;
    Mock::given(path("/openapi.json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(spec_with_whale("/old/whale/alerts")),
        )
        .mount(&server)
        .await;
    Mock::given(path("/old/whale/alerts"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    ok_routes(&server).await;
    let cfg = common::config(&["--py-base-url", &server.uri()]);
    let runner = Runner::new(cfg, system_clock()).unwrap();
    let r = runner.run_once().await.remove(0);
    // The stale route 404s; the default shape answers in the same run.
    assert!(matches!(
        r.context[&ModuleId::WhaleAlerts].call.outcome,
        Outcome::Ok { .. }
    ));
    runner.run_once().await;
    runner.run_once().await;
    // One refresh after the 404 (the TTL alone would not have refetched), not one per run.
    assert_eq!(spec_hits(&server.received_requests().await.unwrap()), 2);
}
