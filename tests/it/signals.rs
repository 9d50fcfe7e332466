//! Signals in process: the outbox in SQLite, the engine's once-only enqueue, delivery to loopback
//! stand-ins (webhook and Telegram API), a crash after enqueue, and a replay snapshot.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use jiff::Timestamp;
use serde_json::Value;
use sniper::market::{BiasFeatures, Direction, SymbolFeatures, WhaleFeatures};
use sniper::obs::metrics::Metrics;
use sniper::run::runner::{RunResult, Symbols};
use sniper::signals::delivery::{Deliverer, SignalArgs, deliver_due};
use sniper::signals::{Rules, SignalEngine};
use sniper::store::{AsyncStore, SqliteStore};

/// A fixed time in 2030: never pruned by the store's 7-day retention, stable in snapshots.
fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(1_900_000_000 + s).unwrap()
}

/// An hour ago plus `s`: due for delivery now.
fn recent(s: i64) -> Timestamp {
    Timestamp::now() - jiff::SignedDuration::from_secs(3600 - s)
}

fn feats(bias: f64, whales: f64) -> SymbolFeatures {
    SymbolFeatures {
        bias: Some(BiasFeatures {
            direction: Direction::Neutral,
            score: bias,
            confidence: None,
        }),
        whales: Some(WhaleFeatures {
            window_secs: 3600,
            count: 3,
            net_notional_usd: whales,
            largest: None,
        }),
        ..Default::default()
    }
}

fn result(symbol: &str, at: Timestamp, f: SymbolFeatures) -> RunResult {
    RunResult {
        success: true,
        soft_fails: vec![],
        used_modules: vec![],
        context: BTreeMap::new(),
        errors: vec![],
        symbols: Symbols {
            input: symbol.into(),
            spot: format!("{symbol}USDT"),
            perp: format!("{symbol}-USDT-SWAP"),
        },
        timestamp: at,
        duration_ms: 1,
        sandbox: true,
        features: f,
        market: BTreeMap::new(),
        backend: "http://127.0.0.1:8000".into(),
        trigger: sniper::run::Trigger::Schedule,
    }
}

/// What a stub received: (path, Idempotency-Key header, body).
type Seen = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

/// A loopback stub answering `status` to every POST, recording each request.
async fn stub(status: Arc<Mutex<StatusCode>>) -> (String, Seen) {
    let seen: Seen = Arc::default();
    async fn handle(
        State((seen, status)): State<(Seen, Arc<Mutex<StatusCode>>)>,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: String,
    ) -> StatusCode {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let v = serde_json::from_str(&body).unwrap_or(Value::Null);
        seen.lock().unwrap().push((uri.path().to_string(), key, v));
        *status.lock().unwrap()
    }
    let app = Router::new()
        .route("/{*p}", post(handle))
        .with_state((seen.clone(), status));
    (crate::support::stub::serve(app).await.url(), seen)
}

fn store(path: &std::path::Path) -> AsyncStore {
    AsyncStore::new(Arc::new(SqliteStore::open(path.to_str().unwrap()).unwrap()))
}

fn easy_rules() -> Rules {
    // Bias and whales agreeing is a watch call (the default needs 2 agreeing layers).
    Rules::default()
}

#[tokio::test]
async fn engine_enqueues_once_then_after_cooldown_escalation_and_rise() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(&dir.path().join("s.db"));
    let engine = SignalEngine::new(easy_rules(), vec!["webhook"], st.clone(), None)
        .await
        .unwrap();
    // watch long (bias 0.3 watch, whales 2M watch), every 5 s for 2 minutes: one call.
    for i in 0..24 {
        engine
            .after_run(&[result("SOL", ts(i * 5), feats(0.3, 2e6))])
            .await;
    }
    assert_eq!(st.outbox().await.unwrap().len(), 1);
    // Escalation: whales 6M is action but 2 agreeing layers stay watch; bias 0.6 + whales 6M,
    // still 2 layers → watch. A third agreeing layer is needed for action: none here, so the
    // score rises instead: watch 0.5+0.5 = 20 → action-strength layers 1+1 = 40 (+20 ≥ step 15).
    engine
        .after_run(&[result("SOL", ts(125), feats(0.6, 6e6))])
        .await;
    let rows = st.outbox().await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(rows[1].body["reason"], "score_rise");
    assert_eq!(rows[1].body["score"], 40);
    // A short call for another symbol is independent.
    engine
        .after_run(&[result("BTC", ts(130), feats(-0.3, -2e6))])
        .await;
    // After the cooldown (900 s since the last SOL long delivery at 125 s): again.
    engine
        .after_run(&[result("SOL", ts(125 + 899), feats(0.6, 6e6))])
        .await;
    assert_eq!(st.outbox().await.unwrap().len(), 3);
    engine
        .after_run(&[result("SOL", ts(125 + 900), feats(0.6, 6e6))])
        .await;
    let rows = st.outbox().await.unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[2].body["symbol"], "BTC");
    assert_eq!(rows[2].body["direction"], "short");
    assert_eq!(rows[3].body["reason"], "cooldown_over");
    // Every grading is kept with its features (replay input), delivered or not.
    let all = st
        .signals(sniper::store::SignalQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 24 + 4);
    assert!(all.iter().all(|r| r.features["bias"]["score"].is_number()));

    // The cooldown state survives a restart: a new engine on the same store does not resend.
    let again = SignalEngine::new(easy_rules(), vec!["webhook"], st.clone(), None)
        .await
        .unwrap();
    again
        .after_run(&[result("SOL", ts(1100), feats(0.6, 6e6))])
        .await;
    assert_eq!(st.outbox().await.unwrap().len(), 4);
}

#[tokio::test]
async fn delivery_to_webhook_and_telegram_with_retry_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(&dir.path().join("d.db"));
    let status = Arc::new(Mutex::new(StatusCode::INTERNAL_SERVER_ERROR));
    let (base, seen) = stub(status.clone()).await;
    let cfg = SignalArgs {
        rules: None,
        signal_webhook_url: Some(format!("{base}/hook")),
        telegram_signal_chat_id: Some("-100".into()),
        telegram_signal_bot_token: None,
    }
    .into_config(Some("123:TOKEN"), &base)
    .unwrap();
    let metrics = Metrics::new();
    let engine = SignalEngine::new(Rules::default(), cfg.channels(), st.clone(), None)
        .await
        .unwrap();
    engine
        .after_run(&[result("SOL", recent(0), feats(0.3, 2e6))])
        .await;
    let d = Deliverer::new(cfg, Duration::from_secs(5), Some(metrics.clone())).unwrap();
    // First attempt: both channels answer 500 → rescheduled 2 s later, not before.
    let now = Timestamp::now();
    assert_eq!(deliver_due(&st, &d, now).await, 0);
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(
        deliver_due(&st, &d, now + Duration::from_millis(1999)).await,
        0
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
    *status.lock().unwrap() = StatusCode::OK;
    assert_eq!(deliver_due(&st, &d, now + Duration::from_secs(2)).await, 2);
    assert_eq!(
        deliver_due(&st, &d, now + Duration::from_secs(3600)).await,
        0
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    let hooks: Vec<_> = seen.iter().filter(|s| s.0 == "/hook").collect();
    let tg: Vec<_> = seen
        .iter()
        .filter(|s| s.0 == "/bot123:TOKEN/sendMessage")
        .collect();
    assert_eq!((hooks.len(), tg.len()), (2, 2));
    // The same key on the retry, in the header and the body.
    let key = hooks[0].1.clone().unwrap();
    assert!(key.starts_with("sig-"));
    assert_eq!(hooks[1].1.as_deref(), Some(key.as_str()));
    assert_eq!(hooks[1].2["key"], key.as_str());
    assert_eq!(hooks[1].2["direction"], "long");
    assert_eq!(hooks[1].2["level"], "watch");
    assert!(hooks[1].2["layers"].as_array().unwrap().len() == 5);
    assert_eq!(tg[1].2["chat_id"], "-100");
    let text = tg[1].2["text"].as_str().unwrap();
    assert!(
        text.contains("SOL LONG") && text.contains("whales: watch long"),
        "{text}"
    );
    let rows = st.outbox().await.unwrap();
    assert!(
        rows.iter()
            .all(|r| r.delivered_ms.is_some() && r.attempts == 2)
    );
    let m = metrics.encode();
    for line in [
        "sniper_signal_deliveries_total{channel=\"webhook\",result=\"failed\"} 1",
        "sniper_signal_deliveries_total{channel=\"webhook\",result=\"ok\"} 1",
        "sniper_signal_deliveries_total{channel=\"telegram\",result=\"ok\"} 1",
    ] {
        assert!(m.contains(line), "{line} missing in\n{m}");
    }
}

#[tokio::test]
async fn crash_after_enqueue_resends_once_with_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let status = Arc::new(Mutex::new(StatusCode::OK));
    let (base, seen) = stub(status).await;
    let args = SignalArgs {
        rules: None,
        signal_webhook_url: Some(format!("{base}/hook")),
        telegram_signal_chat_id: None,
        telegram_signal_bot_token: None,
    };
    {
        // Process 1: grades and enqueues, claims the row (lease), then "dies" before sending.
        let st = store(&path);
        let engine = SignalEngine::new(Rules::default(), vec!["webhook"], st.clone(), None)
            .await
            .unwrap();
        engine
            .after_run(&[result("SOL", recent(0), feats(0.3, 2e6))])
            .await;
        let claimed = st
            .claim_outbox(Timestamp::now().as_millisecond(), 60_000, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
    }
    assert!(seen.lock().unwrap().is_empty());
    // Process 2: same file. Its worker releases the dead process's lease and delivers.
    let st = store(&path);
    assert_eq!(st.release_outbox_claims().await.unwrap(), 1);
    let d = Deliverer::new(
        args.into_config(None, "https://api.telegram.org").unwrap(),
        Duration::from_secs(5),
        None,
    )
    .unwrap();
    let engine = SignalEngine::new(Rules::default(), vec!["webhook"], st.clone(), None)
        .await
        .unwrap();
    // The same call graded again after restart is within the cooldown: not enqueued again.
    engine
        .after_run(&[result("SOL", recent(5), feats(0.3, 2e6))])
        .await;
    assert_eq!(deliver_due(&st, &d, Timestamp::now()).await, 1);
    assert_eq!(deliver_due(&st, &d, Timestamp::now()).await, 0);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let row = &st.outbox().await.unwrap()[0];
    assert_eq!(seen[0].1.as_deref(), Some(row.key.as_str()));
}

#[tokio::test]
async fn replay_under_other_rules_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let st = store(&path);
    let engine = SignalEngine::new(Rules::default(), vec![], st.clone(), None)
        .await
        .unwrap();
    // 40 runs a minute apart: bias drifting from −0.5 to +0.5, whales flipping sign at run 20.
    for i in 0..40i64 {
        let bias = -0.5 + i as f64 / 39.0;
        let whales = if i < 20 { -3e6 } else { 7e6 };
        engine
            .after_run(&[result("SOL", ts(i * 60), feats(bias, whales))])
            .await;
    }
    drop(engine);
    drop(st);
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[bias]\nwatch_score = 0.1\naction_score = 0.3\n[delivery]\ncooldown_secs = 600\nscore_step = 10\n",
    )
    .unwrap();
    let mut out = Vec::new();
    sniper::signals::cli::replay(
        path.to_str().unwrap(),
        &sniper::signals::cli::ReplayArgs {
            rules: vec![rules.to_str().unwrap().into()],
            symbol: None,
            since: None,
            json: false,
            score: Default::default(),
        },
        &mut out,
    )
    .unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}

#[test]
fn rules_command_prints_effective_toml_and_bad_file_is_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.toml");
    std::fs::write(&p, "[delivery]\ncooldown_secs = 60\n").unwrap();
    let mut out = Vec::new();
    sniper::signals::cli::rules(Some(p.to_str().unwrap()), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let back = Rules::from_toml(&text, "printed").unwrap();
    assert_eq!(back.delivery.cooldown_secs, 60);
    assert_eq!(back.book, Rules::default().book);
    std::fs::write(&p, "[delivery]\ncooldown = 60\n").unwrap();
    let e = sniper::signals::cli::rules(Some(p.to_str().unwrap()), &mut Vec::new()).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("cooldown"), "{e}");
}
