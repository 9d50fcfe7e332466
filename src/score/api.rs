//! `GET /api/scorecard?symbol=&since=30d&horizon=1h&every_grading=false`: the scorecard document of
//! `sniper score --json` (own calls on the stored price path, scored now), plus `chart`: per
//! symbol the last 24 h of the price path (at most [`CHART_POINTS`] points, `[epoch ms, mid]`)
//! and the calls of those 24 h with their outcome at `horizon` (`won`, `lost`, `pending`, `gap`)
//! — what the status page draws. The same query within [`CACHE_MS`] gets the same document.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;

use crate::store::{AsyncStore, StateStore};

use super::cli::{Mark, ScoreOpts, score_store};
use super::parse_span;

/// Most points of one symbol's chart line.
pub const CHART_POINTS: usize = 720;
/// Span of the chart: the last 24 h.
pub const CHART_SPAN_MS: i64 = 86_400_000;

/// Raw query of `/api/scorecard`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ScorecardParams {
    /// Only this symbol.
    pub symbol: Option<String>,
    /// How far back (`30d`, `12h`); default 30d.
    pub since: Option<String>,
    /// Horizon of the chart's outcome colours (one of the horizons); default the first ≥ 1 h.
    pub horizon: Option<String>,
    /// `true`: every graded watch/action run, repeats held back by the cooldown included
    /// (default: the calls sniper made).
    pub every_grading: Option<String>,
}

fn bad(param: &'static str, message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": "bad_param", "param": param, "message": message})),
    )
        .into_response()
}

/// The document for `p` at `now_ms` with scoring options `opts`. `Err((param, message))` for a
/// bad parameter.
pub fn document(
    store: &dyn StateStore,
    p: &ScorecardParams,
    opts: &ScoreOpts,
    now_ms: i64,
) -> Result<serde_json::Value, (&'static str, String)> {
    let present = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let since = match present(&p.since) {
        Some(s) => parse_span("since", &s).map_err(|e| ("since", e.to_string()))?,
        None => 30 * 86_400_000,
    };
    let every_grading = match present(&p.every_grading).as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(o) => {
            return Err((
                "every_grading",
                format!("every_grading={o:?}: expected true or false"),
            ));
        }
    };
    let o = opts
        .options(now_ms)
        .map_err(|e| ("horizons", e.to_string()))?;
    let hi = match present(&p.horizon) {
        Some(h) => o
            .horizons
            .iter()
            .position(|x| x.label == h)
            .ok_or_else(|| {
                let all: Vec<&str> = o.horizons.iter().map(|h| h.label.as_str()).collect();
                (
                    "horizon",
                    format!("horizon={h:?}: expected one of {}", all.join(", ")),
                )
            })?,
        None => o
            .horizons
            .iter()
            .position(|h| h.ms >= 3_600_000)
            .unwrap_or(o.horizons.len().saturating_sub(1)),
    };
    let label = o.horizons.get(hi).map(|h| h.label.clone());
    let symbol = present(&p.symbol);
    let chart_from = now_ms - CHART_SPAN_MS;
    let (card, marks) = score_store(
        store,
        symbol.as_deref(),
        now_ms - since,
        every_grading,
        o,
        Some((chart_from, hi)),
    )
    .map_err(|e| ("store", e.to_string()))?;
    let symbols = match &symbol {
        Some(s) => vec![s.clone()],
        None => store
            .price_symbols()
            .map_err(|e| ("store", e.to_string()))?,
    };
    let mut chart = Vec::new();
    for s in symbols {
        let pts = store
            .prices(&s, chart_from, now_ms)
            .map_err(|e| ("store", e.to_string()))?;
        let step = pts.len().div_ceil(CHART_POINTS).max(1);
        let line: Vec<[f64; 2]> = pts
            .iter()
            .enumerate()
            .filter(|(i, _)| i % step == 0 || *i + 1 == pts.len())
            .map(|(_, p)| [p.at_ms as f64, p.mid])
            .collect();
        let calls: Vec<&Mark> = marks.iter().filter(|m| m.symbol == s).collect();
        chart.push(json!({"symbol": s, "prices": line, "calls": calls}));
    }
    let mut doc = serde_json::to_value(&card).map_err(|e| ("store", e.to_string()))?;
    if let Some(m) = doc.as_object_mut() {
        m.insert(
            "chart".into(),
            json!({"horizon": label, "from_ms": chart_from, "to_ms": now_ms, "symbols": chart}),
        );
    }
    Ok(doc)
}

/// How long a served document is reused for the same query (the page polls every minute).
pub const CACHE_MS: i64 = 30_000;

/// (query key, computed at ms, document).
type Cached = Arc<Mutex<Option<(String, i64, Arc<serde_json::Value>)>>>;

#[derive(Clone)]
struct ApiState {
    store: AsyncStore,
    opts: ScoreOpts,
    cache: Cached,
}

async fn scorecard(State(s): State<ApiState>, Query(p): Query<ScorecardParams>) -> Response {
    let store = s.store.inner().clone();
    let now = Timestamp::now().as_millisecond();
    let key = format!(
        "{:?}|{:?}|{:?}|{:?}",
        p.symbol, p.since, p.horizon, p.every_grading
    );
    if let Some((k, at, doc)) = s.cache.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
        && *k == key
        && (0..CACHE_MS).contains(&(now - at))
    {
        return axum::Json(doc.as_ref().clone()).into_response();
    }
    let opts = s.opts.clone();
    let res = tokio::task::spawn_blocking(move || document(store.as_ref(), &p, &opts, now)).await;
    match res {
        Ok(Ok(doc)) => {
            let doc = Arc::new(doc);
            *s.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((key, now, doc.clone()));
            axum::Json(doc.as_ref().clone()).into_response()
        }
        Ok(Err(("store", m))) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": "store", "message": m})),
        )
            .into_response(),
        Ok(Err((param, m))) => bad(param, m),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": "task", "message": e.to_string()})),
        )
            .into_response(),
    }
}

/// The route, ready to `merge`. `opts`: horizons and cost (`SNIPER_SCORE_*`).
pub fn routes(store: AsyncStore, opts: ScoreOpts) -> Router {
    Router::new()
        .route("/api/scorecard", get(scorecard))
        .with_state(ApiState {
            store,
            opts,
            cache: Cached::default(),
        })
}
