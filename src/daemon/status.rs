//! HTTP face of the store: `GET /api/runs` (run history as JSON) and `GET /` (the status page).
//!
//! The page itself (`status_page.html`) is one self-contained file compiled into the binary; it reads
//! `/api/status` (served by `sniper serve`) and `/api/runs` and renders them in the browser.

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::module_id::ModuleId;
use crate::store::{AsyncStore, MAX_RUNS_LIMIT, Outcome, RunQuery, RunRecord};

/// The status page, embedded at compile time: no build step, no files to ship next to the binary.
pub const STATUS_PAGE_HTML: &str = include_str!("status_page.html");

/// `limit` used by `GET /api/runs` when the query string has none.
pub const DEFAULT_API_RUNS_LIMIT: usize = 100;

/// The page only talks to its own origin and loads nothing from elsewhere; inline script and style
/// are the page's own (it is a single file by design).
const PAGE_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The routes this module serves, ready for the server to `merge`:
/// `GET /` (status page) and `GET /api/runs?limit=&module=&outcome=&symbol=`.
pub fn routes(store: AsyncStore) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/api/runs", get(api_runs))
        .with_state(store)
}

/// Raw query of `GET /api/runs`; every field is validated by [`parse_runs_query`].
#[derive(Debug, Default, Deserialize)]
pub struct RunsParams {
    /// `1..=1000`, default 100.
    pub limit: Option<String>,
    /// A module wire name (`etf`, `heatmap`, `spot_ob`, `whale_alerts`, `bias`).
    pub module: Option<String>,
    /// `success`, `partial` or `failure`.
    pub outcome: Option<String>,
    /// A configured symbol (`SOL`; any case): only that symbol's rows.
    pub symbol: Option<String>,
}

/// A query parameter the API refuses, with a message saying what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BadParam {
    /// Which parameter.
    pub param: &'static str,
    /// What was wrong and what is accepted.
    pub message: String,
}

/// Body of a 4xx/5xx answer from the API: `{"error": "...", "param": "...", "message": "..."}`.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'a str>,
    message: String,
}

/// Body of `GET /api/runs`.
#[derive(Debug, Serialize)]
struct RunsBody {
    runs: Vec<RunRecord>,
}

/// Validate the raw parameters of `GET /api/runs`. Empty values count as absent.
pub fn parse_runs_query(p: &RunsParams) -> Result<RunQuery, BadParam> {
    fn present(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let limit = match present(&p.limit) {
        None => DEFAULT_API_RUNS_LIMIT,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_RUNS_LIMIT).contains(&n) => n,
            _ => {
                return Err(BadParam {
                    param: "limit",
                    message: format!(
                        "limit must be an integer from 1 to {MAX_RUNS_LIMIT}, got {s:?}"
                    ),
                });
            }
        },
    };
    let module = match present(&p.module) {
        None => None,
        Some(s) => match ModuleId::parse(s) {
            Some(m) => Some(m.as_str().to_string()),
            None => {
                let names: Vec<&str> = ModuleId::ALL.iter().map(|m| m.as_str()).collect();
                return Err(BadParam {
                    param: "module",
                    message: format!("module must be one of {}, got {s:?}", names.join("|")),
                });
            }
        },
    };
    let outcome = match present(&p.outcome) {
        None => None,
        Some(s) => match Outcome::parse(s) {
            Some(o) => Some(o),
            None => {
                return Err(BadParam {
                    param: "outcome",
                    message: format!("outcome must be one of success|partial|failure, got {s:?}"),
                });
            }
        },
    };
    let symbol = match present(&p.symbol) {
        None => None,
        Some(s)
            if s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_/:.".contains(c)) =>
        {
            Some(s.to_string())
        }
        Some(s) => {
            return Err(BadParam {
                param: "symbol",
                message: format!(
                    "symbol must be a configured symbol (letters, digits, - _ / : ., at most 64), got {s:?}"
                ),
            });
        }
    };
    Ok(RunQuery {
        limit,
        module,
        outcome,
        with_payload: false,
        symbol,
    })
}

fn bad_request(param: Option<&str>, message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(ErrorBody {
            error: "bad_param",
            param,
            message,
        }),
    )
        .into_response()
}

async fn api_runs(
    State(store): State<AsyncStore>,
    params: Result<Query<RunsParams>, QueryRejection>,
) -> Response {
    let Query(params) = match params {
        Ok(p) => p,
        Err(e) => return bad_request(None, e.body_text()),
    };
    let query = match parse_runs_query(&params) {
        Ok(q) => q,
        Err(e) => return bad_request(Some(e.param), e.message),
    };
    match store.runs(query).await {
        Ok(runs) => Json(RunsBody { runs }).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "reading run history failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(ErrorBody {
                    error: "store",
                    param: None,
                    message: e.to_string(),
                }),
            )
                .into_response()
        }
    }
}

async fn status_page() -> Response {
    let mut resp = STATUS_PAGE_HTML.into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(limit: Option<&str>, module: Option<&str>, outcome: Option<&str>) -> RunsParams {
        RunsParams {
            limit: limit.map(String::from),
            module: module.map(String::from),
            outcome: outcome.map(String::from),
            symbol: None,
        }
    }

    #[test]
    fn symbol_filter_is_validated() {
        let mut p = params(None, None, None);
        p.symbol = Some(" sol ".into());
        assert_eq!(parse_runs_query(&p).unwrap().symbol.as_deref(), Some("sol"));
        p.symbol = Some("SOL'; DROP".into());
        assert_eq!(parse_runs_query(&p).unwrap_err().param, "symbol");
        p.symbol = Some("".into());
        assert_eq!(parse_runs_query(&p).unwrap().symbol, None);
    }

    #[test]
    fn limit_bounds() {
        assert_eq!(
            parse_runs_query(&params(None, None, None)).unwrap().limit,
            DEFAULT_API_RUNS_LIMIT
        );
        assert_eq!(
            parse_runs_query(&params(Some("1"), None, None))
                .unwrap()
                .limit,
            1
        );
        assert_eq!(
            parse_runs_query(&params(Some("1000"), None, None))
                .unwrap()
                .limit,
            1000
        );
        for bad in ["0", "1001", "-1", "ten", "1.5"] {
            let e = parse_runs_query(&params(Some(bad), None, None)).unwrap_err();
            assert_eq!(e.param, "limit", "{bad}");
        }
    }

    #[test]
    fn module_and_outcome_are_closed_sets() {
        let q = parse_runs_query(&params(None, Some("spot_ob"), Some("partial"))).unwrap();
        assert_eq!(q.module.as_deref(), Some("spot_ob"));
        assert_eq!(q.outcome, Some(Outcome::Partial));
        assert_eq!(
            parse_runs_query(&params(None, Some("ETF"), None))
                .unwrap_err()
                .param,
            "module"
        );
        assert_eq!(
            parse_runs_query(&params(None, None, Some("ok")))
                .unwrap_err()
                .param,
            "outcome"
        );
        // Empty means absent (an HTML form with nothing selected).
        let q = parse_runs_query(&params(Some(""), Some(""), Some(""))).unwrap();
        assert_eq!(q.module, None);
        assert_eq!(q.outcome, None);
    }
}
