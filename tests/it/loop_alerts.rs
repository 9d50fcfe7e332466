//! The loop with the production hooks ([`ObservingHooks`]): metrics are recorded per run, alerts
//! reach a loopback stand-in for the webhook, and a dead alert endpoint does not stop the loop.
//! Real (not paused) time with millisecond intervals, since delivery does real socket IO.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use sniper::daemon::alerts::{AlertArgs, Alerter, DEFAULT_TELEGRAM_API_BASE};
use sniper::daemon::scheduler::{
    LoopContext, ObservingHooks, RunSummary, Scheduler, SchedulerConfig, SchedulerStatus, run_loop,
};
use sniper::obs::metrics::Metrics;
use sniper::window::ActiveWindow;
use tokio::sync::watch;

fn fast() -> SchedulerConfig {
    SchedulerConfig {
        interval: Duration::from_millis(10),
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(40),
        not_ready_after: 3,
    }
}

fn alerter(webhook: String, metrics: Arc<Metrics>) -> Alerter {
    let args = AlertArgs {
        alert_webhook_url: Some(webhook),
        telegram_bot_token: None,
        telegram_chat_id: None,
        telegram_api_base: DEFAULT_TELEGRAM_API_BASE.into(),
        alert_every_n: 3,
        alert_timeout_secs: 2,
    };
    Alerter::new(args.into_config().unwrap(), Some(metrics)).unwrap()
}

/// Runs the loop over `script` with the production hooks; returns when the script is done.
async fn drive(script: Vec<bool>, hooks: ObservingHooks) -> Arc<SchedulerStatus> {
    let cfg = fast();
    let status = SchedulerStatus::new(jiff::Timestamp::now(), &cfg);
    let (tx, rx) = watch::channel(false);
    let tx = Arc::new(tx);
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let run = {
        let (script, tx) = (script.clone(), tx.clone());
        move || {
            let (script, tx) = (script.clone(), tx.clone());
            async move {
                let (success, last) = {
                    let mut s = script.lock().unwrap();
                    (s.pop_front().unwrap_or(true), s.is_empty())
                };
                if last {
                    let _ = tx.send(true);
                }
                RunSummary {
                    success,
                    soft_fails: vec![],
                    modules_active: if success { 5 } else { 0 },
                    detail: (!success).then(|| "all modules unreachable".to_string()),
                    ..RunSummary::default()
                }
            }
        }
    };
    let ctx = LoopContext::new(status.clone(), hooks, rx);
    let sched = tokio::time::timeout(
        Duration::from_secs(20),
        run_loop(Scheduler::new(cfg), ActiveWindow::always_open(), run, ctx),
    )
    .await
    .expect("loop finished its script");
    assert_eq!(sched.consecutive_failures(), 0);
    status
}

fn sample(metrics: &Metrics, prefix: &str) -> Option<f64> {
    metrics
        .encode()
        .lines()
        .find_map(|l| l.strip_prefix(prefix).and_then(|v| v.trim().parse().ok()))
}

/// Waits (bounded) until `metrics` shows `want` for `prefix`: alerts are delivered on spawned tasks.
async fn eventually(metrics: &Metrics, prefix: &str, want: f64) {
    for _ in 0..200 {
        if sample(metrics, prefix) == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "{prefix} never reached {want}: {:?}",
        sample(metrics, prefix)
    );
}

#[tokio::test]
async fn alerts_reach_the_webhook_from_the_loop() {
    let received: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let app = Router::new()
        .route(
            "/hook",
            post(
                |State(r): State<Arc<Mutex<Vec<serde_json::Value>>>>, body: Bytes| async move {
                    r.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap_or_default());
                },
            ),
        )
        .with_state(received.clone());
    let addr = crate::support::stub::serve(app).await.addr;

    let metrics = Metrics::new();
    let hooks = ObservingHooks {
        metrics: metrics.clone(),
        alerter: Some(alerter(format!("http://{addr}/hook"), metrics.clone())),
    };
    // Four hard failures (one alert at 3), then recovery (one alert), then more successes.
    drive(vec![false, false, false, false, true, true], hooks).await;

    eventually(
        &metrics,
        "sniper_alert_deliveries_total{channel=\"webhook\",result=\"ok\"} ",
        2.0,
    )
    .await;
    let mut got = received.lock().unwrap().clone();
    // Deliveries run on their own tasks: order of arrival is not guaranteed.
    got.sort_by_key(|b| b["kind"].as_str().unwrap_or("").to_string());
    let kinds: Vec<(&str, u64)> = got
        .iter()
        .map(|b| {
            (
                b["kind"].as_str().unwrap(),
                b["consecutive_failures"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, [("failing", 3), ("recovered", 4)]);
    assert_eq!(got[0]["detail"], "all modules unreachable");

    assert_eq!(
        sample(
            &metrics,
            "sniper_runs_total{trigger=\"schedule\",outcome=\"failure\"} "
        ),
        Some(4.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "sniper_runs_total{trigger=\"schedule\",outcome=\"success\"} "
        ),
        Some(2.0)
    );
    assert_eq!(sample(&metrics, "sniper_hard_fail_total "), Some(4.0));
    assert_eq!(sample(&metrics, "sniper_consecutive_failures "), Some(0.0));
    assert_eq!(sample(&metrics, "sniper_modules_active "), Some(5.0));
    assert_eq!(sample(&metrics, "sniper_in_active_window "), Some(1.0));
}

#[tokio::test]
async fn a_dead_alert_endpoint_does_not_stop_the_loop() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let metrics = Metrics::new();
    let hooks = ObservingHooks {
        metrics: metrics.clone(),
        alerter: Some(alerter(dead, metrics.clone())),
    };
    // Six failures (alerts at 3 and 6), recovery, then two more runs: the loop gets through all.
    let status = drive(
        vec![false, false, false, false, false, false, true, true, true],
        hooks,
    )
    .await;
    assert_eq!(status.snapshot().runs, 9);
    assert!(status.readiness().ok);
    eventually(
        &metrics,
        "sniper_alert_deliveries_total{channel=\"webhook\",result=\"failed\"} ",
        3.0,
    )
    .await;
}
