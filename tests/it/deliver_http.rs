//! Issue 24 over real HTTP on loopback: an axum stand-in for the Telegram Bot API
//! (`TELEGRAM_API_BASE`) and a webhook receiver, a real SQLite file, the real outbox worker step
//! (`deliver_due`) under a clock passed in, and a real `sniper demo` process for the commands
//! (allowed chat, other chat, the update offset across `kill -9`).

use std::collections::VecDeque;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use jiff::Timestamp;
use serde_json::{Value, json};
use sniper::notify::SendOptions;
use sniper::obs::metrics::Metrics;
use sniper::signals::delivery::{Deliverer, DeliveryState, SignalArgs, deliver_due, view};
use sniper::store::{AsyncStore, OutboxRow, SignalRecord, SqliteStore};

// ---------------------------------------------------------------------------------------------
// Bot API stand-in

#[derive(Default)]
struct BotState {
    /// (method, body) of every call, in order.
    calls: Vec<(String, Value)>,
    /// Scripted answers of `sendMessage`, used first; then `default`.
    script: VecDeque<(u16, Value)>,
    /// Answer of `sendMessage` once the script is empty (None = 200 ok).
    default: Option<(u16, Value)>,
    /// Updates served by `getUpdates` (those with `update_id >= offset`).
    updates: Vec<Value>,
    next_message_id: i64,
    /// `getUpdates` in flight now, and how many overlapped another (Telegram answers one of two
    /// overlapping pollers 409; the stand-in answers the newcomer and counts it).
    polling: usize,
    conflicts: usize,
}

type Bot = Arc<Mutex<BotState>>;

async fn bot_api(
    State(bot): State<Bot>,
    UrlPath((_token, method)): UrlPath<(String, String)>,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (status, answer) = {
        let mut b = bot.lock().unwrap();
        b.calls.push((method.clone(), body.clone()));
        match method.as_str() {
            "sendMessage" => match b.script.pop_front().or_else(|| b.default.clone()) {
                Some(a) => a,
                None => {
                    b.next_message_id += 1;
                    (
                        200,
                        json!({"ok": true, "result": {"message_id": b.next_message_id}}),
                    )
                }
            },
            "getUpdates" if b.polling > 0 => {
                b.conflicts += 1;
                (
                    409,
                    json!({"ok": false, "error_code": 409,
                           "description": "Conflict: terminated by other getUpdates request"}),
                )
            }
            "getUpdates" => {
                b.polling += 1;
                let offset = body["offset"].as_i64().unwrap_or(0);
                let ups: Vec<Value> = b
                    .updates
                    .iter()
                    .filter(|u| u["update_id"].as_i64().unwrap_or(0) >= offset)
                    .cloned()
                    .collect();
                (200, json!({"ok": true, "result": ups}))
            }
            _ => (200, json!({"ok": true, "result": true})),
        }
    };
    if method == "getUpdates" && status == 200 {
        // Ends this poll even when the client goes away mid-wait (a killed process).
        let _done = PollDone(bot.clone());
        // A short long-poll: hold a little before answering "nothing new" (not with timeout 0).
        if answer["result"].as_array().is_some_and(|a| a.is_empty())
            && body["timeout"].as_u64().unwrap_or(0) > 0
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        answer.to_string(),
    )
        .into_response()
}

/// Counts a `getUpdates` as finished when dropped.
struct PollDone(Bot);

impl Drop for PollDone {
    fn drop(&mut self) {
        if let Ok(mut b) = self.0.lock() {
            b.polling = b.polling.saturating_sub(1);
        }
    }
}

async fn start_bot() -> (String, Bot) {
    let bot: Bot = Arc::default();
    let app = Router::new()
        .route("/{token}/{method}", post(bot_api))
        .with_state(bot.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}"), bot)
}

fn sends(bot: &Bot) -> Vec<Value> {
    bot.lock()
        .unwrap()
        .calls
        .iter()
        .filter(|(m, _)| m == "sendMessage")
        .map(|(_, b)| b.clone())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Webhook receiver stand-in

/// (method, path, Idempotency-Key, body) of every request.
type Hooks = Arc<Mutex<Vec<(String, String, String, String)>>>;

async fn hook(
    State(seen): State<Hooks>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let path = uri.path().to_string();
    seen.lock()
        .unwrap()
        .push((method.to_string(), path.clone(), key, body));
    match path.as_str() {
        "/moved" => (StatusCode::FOUND, [(header::LOCATION, "/landing")]).into_response(),
        "/old" => (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, "/new")]).into_response(),
        "/away" => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, "http://elsewhere.invalid/in")],
        )
            .into_response(),
        _ => StatusCode::OK.into_response(),
    }
}

async fn start_hooks() -> (String, Hooks) {
    let seen: Hooks = Arc::default();
    let app = Router::new()
        .route("/{*p}", any(hook))
        .with_state(seen.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

// ---------------------------------------------------------------------------------------------
// Store and outbox helpers

fn store(path: &Path) -> AsyncStore {
    AsyncStore::new(Arc::new(SqliteStore::open(path.to_str().unwrap()).unwrap()))
}

/// "Now" for the clock passed in, on a whole millisecond (the outbox keeps milliseconds).
fn t0() -> Timestamp {
    Timestamp::from_millisecond(Timestamp::now().as_millisecond()).unwrap()
}

fn plus(t: Timestamp, secs: f64) -> Timestamp {
    t.checked_add(jiff::SignedDuration::from_secs_f64(secs))
        .unwrap()
}

/// Enqueue one call of `symbol` for `channels`, as the engine does (one transaction).
async fn enqueue(
    st: &AsyncStore,
    key: &str,
    symbol: &str,
    text: &str,
    at: Timestamp,
    channels: &[&str],
) {
    let body = json!({
        "source": "sniper", "kind": "signal", "key": key, "symbol": symbol,
        "direction": "long", "level": "watch", "score": 60, "text": text,
    });
    let rec = SignalRecord {
        id: None,
        symbol: symbol.into(),
        at,
        level: "watch".into(),
        direction: "long".into(),
        score: 60,
        reason: Some("new".into()),
        call: json!({}),
        features: json!({}),
    };
    let rows = channels
        .iter()
        .map(|ch| OutboxRow {
            key: key.into(),
            channel: (*ch).into(),
            call_id: 0,
            body: body.clone(),
            attempts: 0,
            created_ms: at.as_millisecond(),
            next_attempt_ms: at.as_millisecond(),
            delivered_ms: None,
            last_error: None,
        })
        .collect();
    st.record_signal(rec, None, rows).await.unwrap();
}

fn deliverer(hook: Option<String>, api_base: &str, metrics: Option<Arc<Metrics>>) -> Deliverer {
    let cfg = SignalArgs {
        rules: None,
        signal_webhook_url: hook,
        telegram_signal_chat_id: Some("-100".into()),
        telegram_signal_bot_token: None,
    }
    .into_config(Some("123:TOKEN"), api_base)
    .unwrap();
    Deliverer::new(cfg, Duration::from_secs(5), metrics).unwrap()
}

async fn row_of(st: &AsyncStore, key: &str, channel: &str) -> OutboxRow {
    st.outbox()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.key == key && r.channel == channel)
        .unwrap()
}

fn metric(m: &Metrics, name: &str, channel: &str, result: &str) -> String {
    let needle = format!("{name}{{channel=\"{channel}\",result=\"{result}\"}} ");
    m.encode()
        .lines()
        .find_map(|l| l.strip_prefix(&needle).map(str::to_string))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Telegram delivery rules

#[tokio::test]
async fn telegram_429_waits_retry_after_with_no_call_inside_then_delivers_once() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(&dir.path().join("a.db"));
    let (base, bot) = start_bot().await;
    bot.lock().unwrap().script.push_back((
        429,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 30",
               "parameters": {"retry_after": 30}}),
    ));
    let metrics = Metrics::new();
    let d = deliverer(None, &base, Some(metrics.clone()));
    let now = t0();
    enqueue(&st, "sig-a", "SOL", "SOL LONG", now, &["telegram"]).await;

    assert_eq!(deliver_due(&st, &d, now).await, 0);
    assert_eq!(sends(&bot).len(), 1);
    let r = row_of(&st, "sig-a", "telegram").await;
    let v = view(&r);
    assert_eq!(v.state, DeliveryState::Failed);
    assert_eq!(
        v.reason.as_deref(),
        Some("HTTP 429: Too Many Requests: retry after 30")
    );
    // Due again exactly at +30 s, not before (the old backoff retried at +2 s).
    assert_eq!(r.next_attempt_ms, plus(now, 30.0).as_millisecond());

    // Inside the wait: the row is not due, and any other message of this bot (an alert, a
    // command answer) is held back locally — no call reaches Telegram.
    enqueue(
        &st,
        "sig-b",
        "BTC",
        "BTC LONG",
        plus(now, 5.0),
        &["telegram"],
    )
    .await;
    assert_eq!(deliver_due(&st, &d, plus(now, 10.0)).await, 0);
    let held = d
        .telegram_bot()
        .unwrap()
        .send_text("-100", "an alert", &SendOptions::default(), plus(now, 29.9))
        .await
        .unwrap_err();
    assert!(held.reason.contains("flood control"), "{}", held.reason);
    assert_eq!(sends(&bot).len(), 1, "a call went out inside the wait");

    // At +30 s both go, once each.
    assert_eq!(deliver_due(&st, &d, plus(now, 30.0)).await, 2);
    assert_eq!(deliver_due(&st, &d, plus(now, 3600.0)).await, 0);
    let s = sends(&bot);
    assert_eq!(s.len(), 3);
    assert_eq!(s.iter().filter(|b| b["text"] == "SOL LONG").count(), 2);
    assert_eq!(
        view(&row_of(&st, "sig-a", "telegram").await).state,
        DeliveryState::Delivered
    );
    assert_eq!(
        metric(
            &metrics,
            "sniper_signal_deliveries_total",
            "telegram",
            "rate_limited"
        ),
        "2"
    );
    assert_eq!(
        metric(&metrics, "sniper_signal_deliveries_total", "telegram", "ok"),
        "2"
    );
}

#[tokio::test]
async fn migrate_to_chat_id_is_followed_kept_and_used_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let st = store(&path);
    let (base, bot) = start_bot().await;
    bot.lock().unwrap().script.push_back((
        400,
        json!({"ok": false, "error_code": 400,
               "description": "Bad Request: group chat was upgraded to a supergroup chat",
               "parameters": {"migrate_to_chat_id": -1_009_999_i64}}),
    ));
    let metrics = Metrics::new();
    let now = t0();
    {
        let d = deliverer(None, &base, Some(metrics.clone()));
        let b = d
            .telegram_bot()
            .unwrap()
            .clone()
            .with_store(st.clone())
            .await;
        let d = d.with_telegram_bot(b);
        enqueue(&st, "sig-m1", "SOL", "first", now, &["telegram"]).await;
        assert_eq!(deliver_due(&st, &d, now).await, 1);
    }
    let s = sends(&bot);
    assert_eq!(s.len(), 2);
    assert_eq!(
        (s[0]["chat_id"].clone(), s[1]["chat_id"].clone()),
        (json!("-100"), json!("-1009999"))
    );
    assert_eq!(
        st.setting("telegram.chat_migrated.-100".into())
            .await
            .unwrap()
            .as_deref(),
        Some("-1009999")
    );
    assert_eq!(
        metric(
            &metrics,
            "sniper_signal_deliveries_total",
            "telegram",
            "migrated"
        ),
        "1"
    );

    // A new process on the same file: the first call already goes to the new id.
    let st = store(&path);
    let d = deliverer(None, &base, None);
    let b = d
        .telegram_bot()
        .unwrap()
        .clone()
        .with_store(st.clone())
        .await;
    assert_eq!(b.migrations().len(), 1);
    let d = d.with_telegram_bot(b);
    enqueue(
        &st,
        "sig-m2",
        "SOL",
        "second",
        plus(now, 1.0),
        &["telegram"],
    )
    .await;
    assert_eq!(deliver_due(&st, &d, plus(now, 1.0)).await, 1);
    let s = sends(&bot);
    assert_eq!(s.len(), 3);
    assert_eq!(s[2]["chat_id"], "-1009999");
    assert_eq!(s[2]["text"], "second");
}

#[tokio::test]
async fn forbidden_403_stops_after_bounded_attempts_as_gave_up() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(&dir.path().join("f.db"));
    let (base, bot) = start_bot().await;
    bot.lock().unwrap().default = Some((
        403,
        json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
    ));
    let metrics = Metrics::new();
    let d = deliverer(None, &base, Some(metrics.clone()));
    let now = t0();
    enqueue(&st, "sig-f", "SOL", "x", now, &["telegram"]).await;
    // Walk a minute in 1 s steps, then an hour later: attempts at 0, +2 s, +6 s, never again.
    for i in 0..60 {
        deliver_due(&st, &d, plus(now, f64::from(i))).await;
    }
    deliver_due(&st, &d, plus(now, 3600.0)).await;
    assert_eq!(
        sends(&bot).len(),
        sniper::notify::classify::MAX_PERMANENT_ATTEMPTS as usize
    );
    let v = view(&row_of(&st, "sig-f", "telegram").await);
    assert_eq!(v.state, DeliveryState::GaveUp);
    assert_eq!(
        v.reason.as_deref(),
        Some("HTTP 403: Forbidden: bot was blocked by the user")
    );
    assert_eq!(v.attempts, 3);
    assert_eq!(
        metric(
            &metrics,
            "sniper_signal_deliveries_total",
            "telegram",
            "gave_up"
        ),
        "1"
    );
    assert_eq!(
        metric(
            &metrics,
            "sniper_signal_deliveries_total",
            "telegram",
            "failed"
        ),
        "3"
    );
}

#[tokio::test]
async fn a_5000_character_message_with_entities_is_split_escaped_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(&dir.path().join("s.db"));
    let (base, bot) = start_bot().await;
    let d = deliverer(None, &base, None);
    // Backend strings with every character HTML and Markdown care about.
    let symbol = "A<B>&C_*[`]";
    let line = format!("{symbol} on ex<change> & co — *bold* _it_ [link](x) `code`");
    let mut text = String::new();
    while text.chars().count() < 5000 {
        text.push_str(&line);
        text.push('\n');
    }
    let text = text.trim_end().to_string();
    assert!(text.chars().count() >= 5000);
    let now = t0();
    enqueue(&st, "sig-long", "SOL", &text, now, &["telegram"]).await;
    assert_eq!(deliver_due(&st, &d, now).await, 1);
    let s = sends(&bot);
    assert!(s.len() >= 2, "not split: {} part(s)", s.len());
    let mut rebuilt = Vec::new();
    for p in &s {
        assert_eq!(p["parse_mode"], "HTML");
        let part = p["text"].as_str().unwrap();
        assert!(
            part.encode_utf16().count() <= 4096,
            "{} units",
            part.encode_utf16().count()
        );
        // Valid for HTML mode: no raw tag characters, every & starts one of the three escapes.
        assert!(!part.contains('<') && !part.contains('>'));
        for (i, _) in part.match_indices('&') {
            let rest = &part[i..];
            assert!(
                rest.starts_with("&lt;") || rest.starts_with("&gt;") || rest.starts_with("&amp;"),
                "broken entity at {i}"
            );
        }
        rebuilt.push(
            part.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"),
        );
    }
    // Split on line boundaries, nothing dropped.
    assert_eq!(rebuilt.join("\n"), text);
    assert!(rebuilt.iter().all(|p| p.split('\n').all(|l| l == line)));
}

#[tokio::test]
async fn a_split_message_interrupted_by_a_429_resumes_after_the_parts_sent() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(&dir.path().join("p.db"));
    let (base, bot) = start_bot().await;
    {
        let mut b = bot.lock().unwrap();
        b.script
            .push_back((200, json!({"ok": true, "result": {"message_id": 1}})));
        b.script.push_back((
            429,
            json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 5",
                   "parameters": {"retry_after": 5}}),
        ));
    }
    let d = deliverer(None, &base, None);
    // Three parts: three blocks of 4 000 characters on their own lines.
    let text = ["a", "b", "c"].map(|c| c.repeat(4000)).join("\n");
    let now = t0();
    enqueue(&st, "sig-p", "SOL", &text, now, &["telegram"]).await;
    assert_eq!(deliver_due(&st, &d, now).await, 0);
    let v = view(&row_of(&st, "sig-p", "telegram").await);
    assert!(v.reason.unwrap().contains("after 1 of 3 parts"));
    assert_eq!(deliver_due(&st, &d, plus(now, 5.0)).await, 1);
    let parts: Vec<String> = sends(&bot)
        .iter()
        .map(|b| {
            b["text"]
                .as_str()
                .unwrap()
                .chars()
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    // a, b (refused), then b and c: part a is not sent twice.
    assert_eq!(parts, vec!["a", "b", "b", "c"]);
    assert_eq!(
        st.setting("telegram.parts_sent.sig-p".into())
            .await
            .unwrap(),
        None
    );
}

// ---------------------------------------------------------------------------------------------
// Webhook redirects

#[tokio::test]
async fn webhook_302_is_not_delivered_and_names_the_location() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(&dir.path().join("r.db"));
    let (origin, seen) = start_hooks().await;
    let (base, _bot) = start_bot().await;
    let metrics = Metrics::new();
    let d = deliverer(
        Some(format!("{origin}/moved")),
        &base,
        Some(metrics.clone()),
    );
    let now = t0();
    enqueue(&st, "sig-r", "SOL", "x", now, &["webhook"]).await;
    assert_eq!(deliver_due(&st, &d, now).await, 0);
    let got = seen.lock().unwrap().clone();
    // One POST, never a GET to the landing page.
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0.as_str(), got[0].1.as_str()), ("POST", "/moved"));
    let v = view(&row_of(&st, "sig-r", "webhook").await);
    assert_eq!(v.state, DeliveryState::Failed);
    assert!(
        v.reason.as_deref().unwrap().contains("\"/landing\""),
        "{v:?}"
    );
    assert_eq!(
        metric(
            &metrics,
            "sniper_signal_deliveries_total",
            "webhook",
            "redirected"
        ),
        "1"
    );
    // Bounded: given up after the permanent-failure attempts.
    deliver_due(&st, &d, plus(now, 2.0)).await;
    deliver_due(&st, &d, plus(now, 6.0)).await;
    deliver_due(&st, &d, plus(now, 3600.0)).await;
    assert_eq!(
        view(&row_of(&st, "sig-r", "webhook").await).state,
        DeliveryState::GaveUp
    );
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|r| r.0 == "POST" && r.1 == "/moved")
    );
}

#[tokio::test]
async fn webhook_307_is_re_posted_with_the_same_body_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(&dir.path().join("t.db"));
    let (origin, seen) = start_hooks().await;
    let (base, _bot) = start_bot().await;
    let d = deliverer(Some(format!("{origin}/old")), &base, None);
    let now = t0();
    enqueue(&st, "sig-t", "SOL", "x", now, &["webhook"]).await;
    assert_eq!(deliver_due(&st, &d, now).await, 1);
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].0.as_str(), got[0].1.as_str()), ("POST", "/old"));
    assert_eq!((got[1].0.as_str(), got[1].1.as_str()), ("POST", "/new"));
    assert_eq!(got[0].2, "sig-t");
    assert_eq!(got[1].2, got[0].2);
    assert_eq!(got[1].3, got[0].3);
    let body: Value = serde_json::from_str(&got[1].3).unwrap();
    assert_eq!(body["key"], "sig-t");
    assert_eq!(
        view(&row_of(&st, "sig-t", "webhook").await).state,
        DeliveryState::Delivered
    );

    // A 308 to another host is refused (the call would go to a party never configured).
    let d = deliverer(Some(format!("{origin}/away")), &base, None);
    enqueue(&st, "sig-u", "SOL", "x", now, &["webhook"]).await;
    assert_eq!(deliver_due(&st, &d, now).await, 0);
    let v = view(&row_of(&st, "sig-u", "webhook").await);
    assert!(
        v.reason.as_deref().unwrap().contains("another host"),
        "{v:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Mutes

#[tokio::test]
async fn mute_expiry_under_a_fake_clock_and_webhook_unaffected() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(&dir.path().join("u.db"));
    let (base, bot) = start_bot().await;
    let (origin, seen) = start_hooks().await;
    let metrics = Metrics::new();
    let d = deliverer(Some(format!("{origin}/in")), &base, Some(metrics.clone()));
    let now = t0();
    let until = sniper::signals::mute::mute(&st, "SOL", Duration::from_secs(3600), now)
        .await
        .unwrap();
    assert_eq!(until, plus(now, 3600.0));
    enqueue(
        &st,
        "sig-1",
        "SOL",
        "during",
        plus(now, 10.0),
        &["telegram", "webhook"],
    )
    .await;
    assert_eq!(deliver_due(&st, &d, plus(now, 10.0)).await, 1);
    assert!(sends(&bot).is_empty());
    assert_eq!(seen.lock().unwrap().len(), 1, "the webhook is never muted");
    let v = view(&row_of(&st, "sig-1", "telegram").await);
    assert_eq!(v.state, DeliveryState::Muted);
    assert!(v.reason.unwrap().starts_with("SOL muted until"));
    // One second after the end: delivered.
    enqueue(
        &st,
        "sig-2",
        "SOL",
        "after",
        plus(now, 3601.0),
        &["telegram"],
    )
    .await;
    assert_eq!(deliver_due(&st, &d, plus(now, 3601.0)).await, 1);
    assert_eq!(sends(&bot)[0]["text"], "after");
    assert_eq!(
        metric(
            &metrics,
            "sniper_signal_deliveries_total",
            "telegram",
            "muted"
        ),
        "1"
    );
    // `sniper signals` (the same view as /api/signals) shows each channel's state.
    let db = dir.path().join("u.db");
    let run = |json: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sniper"));
        c.arg("signals").arg("--db").arg(&db);
        if json {
            c.arg("--json");
        }
        let out = c.output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let j: Value = serde_json::from_str(&run(true)).unwrap();
    let sigs = j["signals"].as_array().unwrap();
    assert_eq!(sigs.len(), 2);
    let states = |i: usize| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = sigs[i]["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["channel"].as_str().unwrap().to_string(),
                    d["state"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    // Newest first.
    assert_eq!(states(0), vec![("telegram".into(), "delivered".into())]);
    assert_eq!(
        states(1),
        vec![
            ("telegram".into(), "muted".into()),
            ("webhook".into(), "delivered".into())
        ]
    );
    let text = run(false);
    assert!(text.contains("telegram muted: SOL muted until"), "{text}");
    assert!(text.contains("[telegram delivered]"), "{text}");
}

#[tokio::test]
async fn an_alert_waits_telegrams_retry_after_and_is_delivered_once() {
    use sniper::daemon::alerts::{AlertArgs, AlertKind, Alerter};
    let (base, bot) = start_bot().await;
    bot.lock().unwrap().script.push_back((
        429,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1",
               "parameters": {"retry_after": 1}}),
    ));
    let metrics = Metrics::new();
    let a = Alerter::new(
        AlertArgs {
            alert_webhook_url: None,
            telegram_bot_token: Some("9:T".into()),
            telegram_chat_id: Some("-5".into()),
            telegram_api_base: base,
            alert_every_n: 3,
            alert_timeout_secs: 5,
        }
        .into_config()
        .unwrap(),
        Some(metrics.clone()),
    )
    .unwrap();
    let started = Instant::now();
    let r = a
        .send(
            AlertKind::Failing {
                consecutive_failures: 3,
            },
            Timestamp::now(),
            Some("<all> & more"),
        )
        .await;
    assert_eq!(r.telegram, Some(sniper::obs::metrics::DeliveryResult::Ok));
    let s = sends(&bot);
    assert_eq!(s.len(), 2, "one refused, one delivered");
    // The second call came after the wait Telegram asked for (a lower bound, never flaky).
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        s[1]["text"],
        "🔴 sniper: 3 consecutive hard failures\n&lt;all&gt; &amp; more"
    );
    assert_eq!(
        metric(
            &metrics,
            "sniper_alert_deliveries_total",
            "telegram",
            "rate_limited"
        ),
        "1"
    );
}

// ---------------------------------------------------------------------------------------------
// Commands with a real process

struct Proc {
    child: Child,
    url: String,
    _log: tempfile::NamedTempFile,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn demo(db: &Path, api_base: &str) -> Proc {
    demo_with(db, api_base, &[])
}

// The child moves into `Proc`, whose Drop kills and waits for it.
#[allow(clippy::zombie_processes)]
fn demo_with(db: &Path, api_base: &str, envs: &[(&str, String)]) -> Proc {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sniper"));
    cmd.arg("demo")
        .arg("--db")
        .arg(db)
        .env("SNIPER_LISTEN", "127.0.0.1:0")
        .env_remove("SIGNAL_WEBHOOK_URL")
        .env_remove("TELEGRAM_SIGNAL_CHAT_ID")
        .env_remove("TELEGRAM_SIGNAL_BOT_TOKEN")
        .env_remove("TELEGRAM_COMMANDS")
        .env("TELEGRAM_BOT_TOKEN", "777:SECRET-TOKEN")
        .env("TELEGRAM_CHAT_ID", "-100")
        .env("TELEGRAM_API_BASE", api_base)
        .env("SNIPER_LOG", "warn,sniper=info")
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        if let Some(i) = text.find("status page http://") {
            let rest = &text[i + "status page ".len()..];
            let url = rest.split_whitespace().next().unwrap().to_string();
            return Proc {
                child,
                url,
                _log: log,
            };
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("demo did not start:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn update(id: i64, chat: i64, text: &str) -> Value {
    json!({"update_id": id, "message": {"message_id": id, "chat": {"id": chat, "type": "group"},
        "from": {"id": 1, "is_bot": false, "first_name": "t"}, "date": 0, "text": text}})
}

async fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn answers_to(bot: &Bot, chat: &str) -> Vec<String> {
    sends(bot)
        .into_iter()
        .filter(|b| b["chat_id"] == chat)
        .map(|b| b["text"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_answer_the_configured_chat_only_and_the_offset_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cmd.db");
    let (base, bot) = start_bot().await;
    bot.lock().unwrap().updates = vec![
        update(10, -100, "/status"),
        update(11, 42, "/status"),
        update(12, -100, "/mute SOL 1h"),
        update(13, -100, "/score SOL"),
    ];
    let p = demo(&db, &base);
    wait_until("three answers", 30, || answers_to(&bot, "-100").len() >= 3).await;
    let a = answers_to(&bot, "-100");
    assert!(a[0].starts_with("sniper status [SANDBOX]"), "{}", a[0]);
    assert!(a[0].contains("window"), "{}", a[0]);
    assert!(a[1].starts_with("🔕 SOL muted until"), "{}", a[1]);
    // The scorecard of the demo's own (sandbox) calls: said as such, per horizon or "no track
    // record yet" when no call was graded before the command.
    assert!(
        a[2].starts_with("scorecard (SANDBOX data) SOL, last 30 days:"),
        "{}",
        a[2]
    );
    assert!(
        a[2].contains("no track record yet") || a[2].contains("1h:"),
        "{}",
        a[2]
    );
    assert!(answers_to(&bot, "42").is_empty(), "answered another chat");
    // Counted: ignored chat and answered.
    let m = reqwest::get(format!("{}metrics", p.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("sniper_telegram_updates_total{result=\"ignored_chat\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("sniper_telegram_updates_total{result=\"answered\"} 3"),
        "{m}"
    );
    // The page's API shows the mute.
    let tg: Value = serde_json::from_str(
        &reqwest::get(format!("{}api/telegram", p.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(tg["commands"], "on");
    assert_eq!(tg["mutes"][0]["target"], "SOL");
    // The offset is written after each update.
    wait_until("offset 14 kept", 10, || {
        let s = SqliteStore::open(db.to_str().unwrap()).unwrap();
        sniper::store::StateStore::setting(&s, "telegram.update_offset.777")
            .unwrap()
            .as_deref()
            == Some("14")
    })
    .await;

    // kill -9, a new command arrives meanwhile, restart on the same file.
    let mut p = p;
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    bot.lock().unwrap().updates.push(update(14, -100, "/calls"));
    let before = answers_to(&bot, "-100").len();
    let polls_before = bot.lock().unwrap().calls.len();
    let _p2 = demo(&db, &base);
    wait_until("the /calls answer", 30, || {
        answers_to(&bot, "-100").len() > before
    })
    .await;
    // Give a repeat every chance to show up, then check there was none.
    wait_until("a few more polls", 10, || {
        bot.lock().unwrap().calls[polls_before..]
            .iter()
            .filter(|(m, _)| m == "getUpdates")
            .count()
            >= 3
    })
    .await;
    let a = answers_to(&bot, "-100");
    assert_eq!(a.len(), before + 1, "repeated or lost: {a:?}");
    assert!(
        a[before].starts_with("no call") || a[before].starts_with("latest calls"),
        "{}",
        a[before]
    );
    // The first poll of the new process asked from the kept offset.
    let first_poll = bot.lock().unwrap().calls[polls_before..]
        .iter()
        .find(|(m, _)| m == "getUpdates")
        .map(|(_, b)| b["offset"].clone())
        .unwrap();
    assert_eq!(first_poll, 14);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_flood_from_an_allowed_chat_is_rate_limited_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flood.db");
    let (base, bot) = start_bot().await;
    bot.lock().unwrap().updates = (1..=12).map(|i| update(i, -100, "/help")).collect();
    let p = demo(&db, &base);
    wait_until("every update handled", 30, || {
        let s = SqliteStore::open(db.to_str().unwrap()).unwrap();
        sniper::store::StateStore::setting(&s, "telegram.update_offset.777")
            .unwrap()
            .as_deref()
            == Some("13")
    })
    .await;
    // The burst (5) is answered, the rest of the flood is dropped — not queued, not answered later.
    assert_eq!(answers_to(&bot, "-100").len(), 5);
    let m = reqwest::get(format!("{}metrics", p.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("sniper_telegram_updates_total{result=\"rate_limited\"} 7"),
        "{m}"
    );
    assert!(m.contains("sniper_telegram_updates_total{result=\"answered\"} 5"));
}

#[tokio::test(flavor = "multi_thread")]
async fn call_buttons_mute_and_show_details() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, EASY_RULES).unwrap();
    let (base, bot) = start_bot().await;
    let p = demo_with(
        &db,
        &base,
        &[
            ("TELEGRAM_SIGNAL_CHAT_ID", "-100".to_string()),
            ("SNIPER_RULES", rules.to_str().unwrap().to_string()),
            ("TELEGRAM_NOTIFY_WATCH", "silent".to_string()),
        ],
    );
    // A call reaches the chat, silent (watch = silent), with its two buttons.
    wait_until("a call with buttons", 30, || {
        sends(&bot).iter().any(|b| b.get("reply_markup").is_some())
    })
    .await;
    let call = sends(&bot)
        .into_iter()
        .find(|b| b.get("reply_markup").is_some())
        .unwrap();
    assert_eq!(call["disable_notification"], true);
    let row = &call["reply_markup"]["inline_keyboard"][0];
    let mute = row[0]["callback_data"].as_str().unwrap().to_string();
    let details = row[1]["callback_data"].as_str().unwrap().to_string();
    assert!(mute.starts_with("mute:") && mute.ends_with(":1h"), "{mute}");
    assert!(details.starts_with("details:sig-"), "{details}");
    let press = |id: i64, data: &str, chat: i64| {
        json!({"update_id": id, "callback_query": {"id": format!("q{id}"), "data": data,
            "from": {"id": 1}, "message": {"message_id": 1, "chat": {"id": chat}}}})
    };
    {
        let mut b = bot.lock().unwrap();
        b.updates.push(press(1, &details, -100));
        b.updates.push(press(2, &mute, -100));
        b.updates.push(press(3, &mute, 99));
    }
    wait_until("both buttons answered", 30, || {
        bot.lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(m, _)| m == "answerCallbackQuery")
            .count()
            >= 2
    })
    .await;
    wait_until("the mute confirmation", 30, || {
        answers_to(&bot, "-100").iter().any(|a| a.starts_with("🔕"))
    })
    .await;
    let answers = answers_to(&bot, "-100");
    // Details: the call's text and each channel's state.
    assert!(
        answers.iter().any(|a| a.contains("telegram: delivered")),
        "{answers:?}"
    );
    let calls = bot.lock().unwrap().calls.clone();
    let acks: Vec<&Value> = calls
        .iter()
        .filter(|(m, _)| m == "answerCallbackQuery")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(acks.len(), 2, "the other chat's press was answered");
    assert_eq!(acks[0]["callback_query_id"], "q1");
    let tg: Value = serde_json::from_str(
        &reqwest::get(format!("{}api/telegram", p.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let base_sym = mute.split(':').nth(1).unwrap();
    assert_eq!(tg["mutes"][0]["target"], base_sym);
    assert_eq!(tg["notify"]["watch"], "silent");

    // The status page's Deliveries block, in headless Chromium.
    let Some(bin) = chromium() else { return };
    let out = run_chromium(&bin, &["--dump-dom".into(), p.url.clone()]);
    let dom = String::from_utf8_lossy(&out.stdout).to_string();
    let at = dom.find("id=\"deliveries\"").expect("no deliveries block");
    let block = &dom[at..at + dom[at..].find("</ul>").unwrap()];
    assert!(block.contains("data-state=\"delivered\""), "{block}");
    assert!(block.contains("telegram delivered"), "{block}");
    let at = dom.find("id=\"telegram-state\"").unwrap();
    let state = &dom[at..at + dom[at..].find("</div>").unwrap()];
    assert!(state.contains("commands on"), "{state}");
    assert!(
        state.contains(&format!("{base_sym} muted until")),
        "{state}"
    );
}

use crate::support::EASY_RULES;
use crate::support::browser::{chromium, run_chromium};

/// Two replicas on one PostgreSQL (the harness's throwaway server, a fresh database), one bot:
/// the minute's tick claim lets one poll at a time (Telegram would answer a second poller 409),
/// and a command is answered once.
#[tokio::test(flavor = "multi_thread")]
async fn replicas_on_postgres_poll_one_at_a_time_and_answer_once() {
    // The harness's sync client must not run on an async worker.
    let Some(pg) = tokio::task::spawn_blocking(crate::support::pg::url)
        .await
        .unwrap()
    else {
        return;
    };
    let (base, bot) = start_bot().await;
    // A bot id of its own, so offsets of earlier runs on the same database do not apply.
    let id = format!("{}", std::process::id());
    let token = format!("{id}:REPLICA-TOKEN");
    let env = |r: &str| {
        vec![
            ("SNIPER_REPLICA_ID", r.to_string()),
            ("TELEGRAM_BOT_TOKEN", token.clone()),
        ]
    };
    let db = Path::new(&pg);
    let _a = demo_with(db, &base, &env("ra"));
    let _b = demo_with(db, &base, &env("rb"));
    wait_until("polls", 30, || {
        bot.lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(m, _)| m == "getUpdates")
            .count()
            >= 10
    })
    .await;
    bot.lock().unwrap().updates.push(update(1, -100, "/help"));
    wait_until("the answer", 30, || !answers_to(&bot, "-100").is_empty()).await;
    wait_until("more polls", 30, || {
        bot.lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(m, _)| m == "getUpdates")
            .count()
            >= 20
    })
    .await;
    assert_eq!(answers_to(&bot, "-100").len(), 1, "answered twice");
    assert_eq!(
        bot.lock().unwrap().conflicts,
        0,
        "two replicas polled at once"
    );
}

#[test]
fn bad_notify_level_exits_2_naming_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_sniper"))
        .arg("demo")
        .arg("--db")
        .arg(":memory:")
        .env("SNIPER_LISTEN", "127.0.0.1:0")
        .env("TELEGRAM_NOTIFY_WATCH", "loud")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TELEGRAM_NOTIFY_WATCH"), "{err}");
    assert!(err.contains("on, silent or off"), "{err}");
}
