//! HTTP face: `GET /api/signals?symbol=&since=&limit=` (graded calls from the store, newest
//! first) and `GET /api/market/latest` (per symbol: the latest run's market data, features and
//! call — the status page's charts); `GET /api/scorecard` is merged in from [`crate::score::api`].

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use crate::store::{AsyncStore, SignalQuery};

use super::engine::SignalEngine;

/// Default and largest `limit` of `/api/signals`.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest `limit` of `/api/signals`.
pub const MAX_LIMIT: usize = 1000;

#[derive(Clone)]
struct ApiState {
    engine: Arc<SignalEngine>,
    store: AsyncStore,
}

/// Raw query of `/api/signals`.
#[derive(Debug, Default, Deserialize)]
pub struct SignalParams {
    /// Symbol as configured (`SOL`).
    pub symbol: Option<String>,
    /// RFC 3339 timestamp (`2026-11-29T12:00:00Z`).
    pub since: Option<String>,
    /// 1..=1000, default 100.
    pub limit: Option<String>,
    /// `true`: include level-none gradings too.
    pub all: Option<String>,
}

/// Validate `/api/signals` parameters; `Err((param, message))`.
/// A `since` value: an RFC 3339 time (`2026-11-29T12:00:00Z`), or a span before `now` by the one
/// duration grammar (`1h`, `30d`; [`crate::config::duration_within`], at most ten years) — the
/// same text `sniper score --since` takes. `None` when it is neither.
pub fn parse_since(v: &str, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
    const MAX: std::time::Duration = std::time::Duration::from_secs(3650 * 86_400);
    let v = v.trim();
    if let Ok(t) = v.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    let span = crate::config::duration_within(v, MAX).ok()?;
    now.checked_sub(jiff::SignedDuration::try_from(span).ok()?)
        .ok()
}

/// What a `since` accepts (named in its error).
pub const SINCE_FORMS: &str =
    "an RFC 3339 time (2026-11-29T12:00:00Z) or a span before now (1h, 30d)";

pub fn parse_params(p: &SignalParams) -> Result<SignalQuery, (&'static str, String)> {
    let present = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let since = match present(&p.since) {
        None => None,
        Some(s) => Some(
            parse_since(&s, jiff::Timestamp::now())
                .ok_or_else(|| ("since", format!("since={s:?}: expected {SINCE_FORMS}")))?,
        ),
    };
    let limit = match present(&p.limit) {
        None => DEFAULT_LIMIT,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err((
                    "limit",
                    format!("limit={s:?}: expected an integer 1..={MAX_LIMIT}"),
                ));
            }
        },
    };
    let all = match present(&p.all).as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(o) => return Err(("all", format!("all={o:?}: expected true or false"))),
    };
    Ok(SignalQuery {
        symbol: present(&p.symbol),
        since,
        calls_only: !all,
        made_only: false,
        limit,
        ascending: false,
    })
}

async fn signals(State(s): State<ApiState>, Query(p): Query<SignalParams>) -> Response {
    let q = match parse_params(&p) {
        Ok(q) => q,
        Err((param, message)) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "bad_param", "param": param, "message": message})),
            )
                .into_response();
        }
    };
    match s.store.signals(q).await {
        Ok(rows) => {
            let outbox = s.store.outbox().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read the signal outbox; deliveries not shown");
                Vec::new()
            });
            axum::Json(json!({"signals": with_deliveries(rows, &outbox)})).into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": "store", "message": e.to_string()})),
        )
            .into_response(),
    }
}

/// Each record as JSON with `deliveries`: one [`super::delivery::DeliveryView`] per channel
/// (state `pending`, `delivered`, `failed` with the reason, `muted`, `gave_up`), from the outbox
/// rows of that call; a call that was not delivered (cooldown) or graded `none` has none.
pub fn with_deliveries(
    rows: Vec<crate::store::SignalRecord>,
    outbox: &[crate::store::OutboxRow],
) -> Vec<serde_json::Value> {
    let mut by_call: std::collections::BTreeMap<i64, Vec<super::delivery::DeliveryView>> =
        std::collections::BTreeMap::new();
    for o in outbox {
        by_call
            .entry(o.call_id)
            .or_default()
            .push(super::delivery::view(o));
    }
    rows.into_iter()
        .map(|r| {
            let d = r.id.and_then(|id| by_call.remove(&id)).unwrap_or_default();
            let mut v = serde_json::to_value(&r).unwrap_or(serde_json::Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("deliveries".into(), json!(d));
            }
            v
        })
        .collect()
}

async fn market_latest(State(s): State<ApiState>) -> Response {
    axum::Json(json!({
        "symbols": s.engine.latest(),
        "rules": s.engine.rules(),
    }))
    .into_response()
}

/// The routes, ready to `merge`.
pub fn routes(engine: Arc<SignalEngine>, store: AsyncStore) -> Router {
    let scorecard = crate::score::api::routes(store.clone(), engine.score_opts());
    Router::new()
        .route("/api/signals", get(signals))
        .route("/api/market/latest", get(market_latest))
        .with_state(ApiState { engine, store })
        .merge(scorecard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_time_or_a_span_before_now() {
        let now: jiff::Timestamp = "2026-12-02T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_since("2026-11-29T12:00:00Z", now),
            "2026-11-29T12:00:00Z".parse().ok()
        );
        assert_eq!(parse_since("1h", now), "2026-12-02T11:00:00Z".parse().ok());
        assert_eq!(parse_since("30d", now), "2026-11-02T12:00:00Z".parse().ok());
        for bad in ["", "5", "yesterday", "2026-11-29", "-1h"] {
            assert_eq!(parse_since(bad, now), None, "{bad}");
        }
    }
}
