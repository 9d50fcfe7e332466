//! Test support shared by `examples/status_fixture.rs` and `tests/store_browser.rs`: a store filled
//! with plausible runs and a fixture `/api/status` in the shape `sniper serve` provides.
//! Included with `#[path]`, so not every item is used by every includer.
#![allow(dead_code)]

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use sniper::store::{AsyncStore, ModuleRecord, Outcome, RunRecord, StateStore};

/// Fixture active hours, in [`FIXTURE_TZ`].
const OPEN_HOUR: i8 = 7;
const CLOSE_HOUR: i8 = 23;
const FIXTURE_TZ: &str = "Europe/Paris";

/// `(in_window, next_opening)` of the fixture window at `now`, computed the way the scheduler would.
fn window_state(now: Timestamp) -> (bool, Option<String>) {
    let Ok(local) = now.in_tz(FIXTURE_TZ) else {
        return (true, None);
    };
    if (OPEN_HOUR..CLOSE_HOUR).contains(&local.hour()) {
        return (true, None);
    }
    let day = if local.hour() < OPEN_HOUR {
        Ok(local.date())
    } else {
        local.date().tomorrow()
    };
    let opening = day
        .and_then(|d| d.at(OPEN_HOUR, 0, 0, 0).in_tz(FIXTURE_TZ))
        .map(|z| z.timestamp().to_string())
        .ok();
    (false, opening)
}

/// A `/api/status` body as `sniper serve` will serve it (shape agreed with the lead).
pub fn status_json(now: Timestamp) -> Value {
    let later = |mins: i64| (now + SignedDuration::from_mins(mins)).to_string();
    let (in_window, next_opening) = window_state(now);
    json!({
        "sandbox": true,
        "modules": [
            {"module": "etf", "enabled": true,
             "breaker": {"state": "open", "reason": "payment_required", "until": later(25)},
             "route": {"method": "GET", "path": "/advanced/etf/flows", "source": "openapi"}},
            {"module": "heatmap", "enabled": true,
             "breaker": {"state": "closed", "reason": null, "until": null},
             "route": {"method": "GET", "path": "/api/{pair}/liquidation-heatmap", "source": "openapi"}},
            {"module": "spot_ob", "enabled": true,
             "breaker": {"state": "half_open", "reason": "rate_limited", "until": null},
             "route": {"method": "GET", "path": "/advanced/spot/orderbook/{symbol}", "source": "fallback"}},
            {"module": "whale_alerts", "enabled": true,
             "breaker": {"state": "closed", "reason": null, "until": null},
             "route": {"method": "GET", "path": "/advanced/whale/alerts", "source": "openapi"}},
            {"module": "bias", "enabled": false,
             "breaker": {"state": "closed", "reason": null, "until": null},
             "route": null}
        ],
        "next_run_at": later(3),
        "window": {"tz": FIXTURE_TZ, "start": format!("{OPEN_HOUR:02}:00"),
                   "end": format!("{CLOSE_HOUR:02}:00"),
                   "in_window": in_window, "next_opening": next_opening},
        "last_run": {"at": (now - SignedDuration::from_mins(2)).to_string(), "outcome": "partial",
                     "success": true, "duration_ms": 812,
                     "soft_fails": ["ETF_PAYMENT_REQUIRED"]}
    })
}

fn module(name: &str, status: &str, code: Option<&str>, latency_ms: u64) -> ModuleRecord {
    ModuleRecord {
        module: name.into(),
        status: status.into(),
        code: code.map(String::from),
        latency_ms,
    }
}

/// `n` runs, one every 5 minutes up to `now`: mostly clean, then ETF starts failing with 402,
/// one spot order book rate limit, and two hard failures. Returns how many were saved.
pub fn fill_store(store: &dyn StateStore, now: Timestamp, n: usize) -> usize {
    for i in 0..n {
        let age = (n - 1 - i) as i64 * 5 + 2;
        let at = now - SignedDuration::from_mins(age);
        let etf_paid = i >= n / 2;
        let failure = i == n / 3 || i == n - 7;
        let spot_limited = i == n - 4;
        let mut soft = vec![];
        let mut modules = vec![];
        if failure {
            for m in ["etf", "heatmap", "spot_ob", "whale_alerts"] {
                modules.push(module(m, "hard_error", Some("UPSTREAM_UNREACHABLE"), 2000));
            }
        } else {
            if etf_paid {
                soft.push("ETF_PAYMENT_REQUIRED".to_string());
                modules.push(module("etf", "soft_fail", Some("ETF_PAYMENT_REQUIRED"), 35));
            } else {
                modules.push(module("etf", "ok", None, 140 + (i as u64 * 7) % 60));
            }
            modules.push(module("heatmap", "ok", None, 220 + (i as u64 * 13) % 90));
            if spot_limited {
                soft.push("RATE_LIMITED".to_string());
                modules.push(module("spot_ob", "soft_fail", Some("RATE_LIMITED"), 15));
            } else {
                modules.push(module("spot_ob", "ok", None, 95 + (i as u64 * 5) % 40));
            }
            modules.push(module(
                "whale_alerts",
                "ok",
                None,
                180 + (i as u64 * 11) % 70,
            ));
        }
        modules.push(module("bias", "disabled", None, 0));
        let outcome = if failure {
            Outcome::Failure
        } else if soft.is_empty() {
            Outcome::Success
        } else {
            Outcome::Partial
        };
        let run = RunRecord {
            id: None,
            at,
            outcome,
            success: !failure,
            duration_ms: modules.iter().map(|m| m.latency_ms).max().unwrap_or(0) + 12,
            soft_fails: soft,
            modules,
            payload: None,
            payload_dropped: false,
            sandbox: true,
            backend: Some("http://127.0.0.1:8000".into()),
            trigger: sniper::run::Trigger::Schedule,
            replica: None,
            symbol: None,
            run_group: None,
        };
        store.save_run(&run).expect("saving a fixture run");
    }
    n
}

/// The status routes plus `/api/status`: the fixture body, or a 500 when `status` is `None`
/// (to prove the page and the browser check notice a failing API).
pub fn app(store: AsyncStore, status: Option<Value>) -> Router {
    let status_route = get(move || {
        let status = status.clone();
        async move {
            match status {
                Some(v) => (StatusCode::OK, Json(v)),
                None => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"error": "fixture", "message": "status deliberately broken"})),
                ),
            }
        }
    });
    sniper::daemon::status::routes(store).route("/api/status", status_route)
}

/// Serve `app` on `addr` (port 0 for any); returns the bound address and the server task.
pub async fn serve(
    app: Router,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("fixture server stopped: {e}");
        }
    });
    Ok((bound, task))
}
