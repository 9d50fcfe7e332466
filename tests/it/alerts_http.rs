//! Alerts delivered over real HTTP on loopback: an axum server stands in for the webhook and the
//! Telegram bot API and records what it receives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use sniper::daemon::alerts::{AlertArgs, AlertKind, Alerter, DEFAULT_TELEGRAM_API_BASE};
use sniper::obs::metrics::{DeliveryResult, Metrics};

#[derive(Debug, Clone)]
struct Received {
    path: String,
    content_type: String,
    body: serde_json::Value,
}

type Log = Arc<Mutex<Vec<Received>>>;

async fn record(State(log): State<Log>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    log.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        content_type,
        body,
    });
    StatusCode::OK
}

/// Starts the stand-in server; returns its origin and the log of requests.
async fn server() -> (String, Log) {
    let log: Log = Arc::default();
    let app = Router::new()
        .route("/hook", post(record))
        .route("/{bot}/sendMessage", post(record))
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                StatusCode::OK
            }),
        )
        .route(
            "/broken",
            post(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .with_state(log.clone());
    (crate::support::stub::serve(app).await.url(), log)
}

fn alerter(
    webhook: Option<String>,
    telegram_base: Option<String>,
    timeout_secs: u64,
    metrics: Arc<Metrics>,
) -> Alerter {
    let args = AlertArgs {
        alert_webhook_url: webhook,
        telegram_bot_token: telegram_base
            .as_ref()
            .map(|_| "123456:TEST-TOKEN".to_string()),
        telegram_chat_id: telegram_base.as_ref().map(|_| "-1001234".to_string()),
        telegram_api_base: telegram_base.unwrap_or_else(|| DEFAULT_TELEGRAM_API_BASE.to_string()),
        alert_every_n: 3,
        alert_timeout_secs: timeout_secs,
    };
    Alerter::new(args.into_config().unwrap(), Some(metrics)).unwrap()
}

fn delivery_count(metrics: &Metrics, channel: &str, result: &str) -> String {
    let needle =
        format!("sniper_alert_deliveries_total{{channel=\"{channel}\",result=\"{result}\"}} ");
    metrics
        .encode()
        .lines()
        .find_map(|l| l.strip_prefix(&needle).map(str::to_string))
        .unwrap_or_default()
}

#[tokio::test]
async fn webhook_and_telegram_receive_exact_payloads() {
    let (origin, log) = server().await;
    let metrics = Metrics::new();
    let a = alerter(
        Some(format!("{origin}/hook")),
        Some(origin.clone()),
        5,
        metrics.clone(),
    );
    let at: jiff::Timestamp = "2026-06-01T00:00:05Z".parse().unwrap();

    let report = a
        .send(
            AlertKind::Failing {
                consecutive_failures: 3,
            },
            at,
            Some("all modules: UPSTREAM_UNREACHABLE"),
        )
        .await;
    assert_eq!(report.webhook, Some(DeliveryResult::Ok));
    assert_eq!(report.telegram, Some(DeliveryResult::Ok));

    let report = a
        .send(AlertKind::Recovered { after_failures: 4 }, at, None)
        .await;
    assert_eq!(report.webhook, Some(DeliveryResult::Ok));

    let mut got = log.lock().unwrap().clone();
    got.sort_by(|x, y| {
        (x.path.clone(), x.body.to_string()).cmp(&(y.path.clone(), y.body.to_string()))
    });
    assert_eq!(got.len(), 4);
    for r in &got {
        assert_eq!(r.content_type, "application/json");
    }
    let tg: Vec<_> = got
        .iter()
        .filter(|r| r.path == "/bot123456:TEST-TOKEN/sendMessage")
        .collect();
    let hooks: Vec<_> = got.iter().filter(|r| r.path == "/hook").collect();
    assert_eq!((tg.len(), hooks.len()), (2, 2));
    assert!(hooks.iter().any(|r| r.body
        == serde_json::json!({
            "source": "sniper",
            "kind": "failing",
            "consecutive_failures": 3,
            "text": "🔴 sniper: 3 consecutive hard failures",
            "at": "2026-06-01T00:00:05Z",
            "detail": "all modules: UPSTREAM_UNREACHABLE",
        })));
    assert!(hooks.iter().any(|r| r.body
        == serde_json::json!({
            "source": "sniper",
            "kind": "recovered",
            "consecutive_failures": 4,
            "text": "🟢 sniper: recovered after 4 consecutive hard failures",
            "at": "2026-06-01T00:00:05Z",
        })));
    assert!(tg.iter().any(|r| r.body
        == serde_json::json!({
            "chat_id": "-1001234",
            "text": "🔴 sniper: 3 consecutive hard failures\nall modules: UPSTREAM_UNREACHABLE",
            "parse_mode": "HTML",
            "disable_web_page_preview": true,
        })));
    assert!(tg.iter().any(|r| r.body
        == serde_json::json!({
            "chat_id": "-1001234",
            "text": "🟢 sniper: recovered after 4 consecutive hard failures",
            "parse_mode": "HTML",
            "disable_web_page_preview": true,
        })));
    assert_eq!(delivery_count(&metrics, "webhook", "ok"), "2");
    assert_eq!(delivery_count(&metrics, "telegram", "ok"), "2");
    assert_eq!(delivery_count(&metrics, "webhook", "failed"), "0");
}

#[tokio::test]
async fn delivery_failures_return_normally_and_are_counted() {
    // A port with nothing listening: bind, note it, close.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let metrics = Metrics::new();
    let a = alerter(
        Some(format!("{dead}/hook")),
        Some(dead.clone()),
        5,
        metrics.clone(),
    );
    let report = a
        .send(
            AlertKind::Failing {
                consecutive_failures: 3,
            },
            jiff::Timestamp::UNIX_EPOCH,
            None,
        )
        .await;
    assert_eq!(report.webhook, Some(DeliveryResult::Failed));
    assert_eq!(report.telegram, Some(DeliveryResult::Failed));
    assert_eq!(delivery_count(&metrics, "webhook", "failed"), "1");
    assert_eq!(delivery_count(&metrics, "telegram", "failed"), "1");

    // A 500 and a server that never answers within the timeout: both failed, both return.
    let (origin, _log) = server().await;
    let a = alerter(Some(format!("{origin}/broken")), None, 5, metrics.clone());
    let report = a
        .send(
            AlertKind::Recovered { after_failures: 3 },
            jiff::Timestamp::UNIX_EPOCH,
            None,
        )
        .await;
    assert_eq!(report.webhook, Some(DeliveryResult::Failed));
    assert_eq!(report.telegram, None);

    let a = alerter(Some(format!("{origin}/slow")), None, 1, metrics.clone());
    let report = a
        .send(
            AlertKind::Recovered { after_failures: 3 },
            jiff::Timestamp::UNIX_EPOCH,
            None,
        )
        .await;
    assert_eq!(report.webhook, Some(DeliveryResult::Failed));
    assert_eq!(delivery_count(&metrics, "webhook", "failed"), "3");
}
