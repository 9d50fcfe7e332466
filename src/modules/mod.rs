//! The five signal modules. Each file says what its module sends (its [`Inputs`]); the request
//! itself is made by one shared function, [`call`], which walks the module's candidate templates.

pub mod bias;
pub mod etf;
pub mod heatmap;
pub mod spot_ob;
pub mod whale_alerts;

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::class::{ErrorClass, PayloadKind};
use crate::config::Config;
use crate::discovery::{Discovery, RouteMap};
use crate::module_id::ModuleId;
use crate::symbol::SymbolForms;
use crate::template::{FillError, Inputs};
use crate::upstream::{Response, Upstream};

/// What one module produced in one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The backend answered with usable JSON.
    Ok { data: Value },
    /// The module could not contribute; the run goes on.
    SoftFail {
        code: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        class: Option<ErrorClass>,
        detail: String,
    },
    /// Sniper itself failed (a bug, e.g. a panicking module); the run goes on.
    HardError { detail: String },
    /// Switched off by its feature flag.
    Disabled,
}

/// An outcome with the request that produced it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Path and query actually requested last (relative to the origin), for operators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// How many HTTP requests the module sent.
    pub attempts: u32,
}

/// The inputs of a module for one symbol.
pub fn inputs(m: ModuleId, cfg: &Config, forms: &SymbolForms) -> Inputs {
    match m {
        ModuleId::Etf => etf::inputs(cfg),
        ModuleId::Heatmap => heatmap::inputs(cfg, forms),
        ModuleId::SpotOb => spot_ob::inputs(cfg, forms),
        ModuleId::WhaleAlerts => whale_alerts::inputs(cfg, forms),
        ModuleId::Bias => bias::inputs(cfg, forms),
    }
}

/// True when a module's data does not depend on the run's symbol (fetched once per run).
pub fn symbol_independent(m: ModuleId) -> bool {
    matches!(m, ModuleId::Etf | ModuleId::WhaleAlerts)
}

/// Classify a complete response (status and body). Ok carries the parsed JSON.
pub fn classify(r: &Response) -> Result<Value, ErrorClass> {
    match r.status {
        200..=299 => serde_json::from_slice(&r.body).map_err(|_| ErrorClass::BadPayload {
            kind: PayloadKind::NotJson,
        }),
        402 => Err(ErrorClass::Entitlement { status: 402 }),
        401 | 403 => Err(ErrorClass::Auth { status: r.status }),
        404 => Err(ErrorClass::RouteMissing),
        429 => Err(ErrorClass::RateLimited {
            retry_after_secs: retry_after(r),
        }),
        s => Err(ErrorClass::Transient {
            kind: crate::class::TransientKind::Status(s),
        }),
    }
}

fn retry_after(r: &Response) -> Option<u64> {
    r.headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Call a module: try its candidates in order (next on 404 or when a template cannot be filled),
/// stop at the first other answer. The caller bounds the time.
pub async fn call(
    m: ModuleId,
    upstream: &Upstream,
    discovery: &Discovery,
    map: &RouteMap,
    inputs: &Inputs,
    timeout: Duration,
) -> Call {
    let candidates = discovery.candidates(map, m);
    let mut attempts = 0;
    let mut last_request = None;
    let mut fill_errors: Vec<FillError> = Vec::new();
    let mut saw_404 = false;
    for t in &candidates {
        let filled = match t.fill(inputs) {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(module = %m, path = %t.path, error = %e, "template not fillable");
                fill_errors.push(e);
                continue;
            }
        };
        let url = match upstream.base().url(&filled.segments, &filled.query) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(module = %m, path = %t.path, error = %e, "template refused by the URL builder");
                continue;
            }
        };
        last_request = Some(match url.query() {
            Some(q) => format!("{}?{}", url.path(), q),
            None => url.path().to_string(),
        });
        attempts += 1;
        let result = match upstream.get(url, http::HeaderMap::new(), timeout).await {
            Ok(resp) => classify(&resp),
            Err(class) => Err(class),
        };
        match result {
            Ok(data) => {
                discovery.learn(map, m, t);
                return Call {
                    outcome: Outcome::Ok { data },
                    request: last_request,
                    attempts,
                };
            }
            Err(ErrorClass::RouteMissing) => {
                saw_404 = true;
                discovery.route_missing(t);
                continue;
            }
            Err(class) => {
                return Call {
                    outcome: soft(m, &class, describe(&class)),
                    request: last_request,
                    attempts,
                };
            }
        }
    }
    let outcome = if !saw_404 && let Some(e) = fill_errors.first() {
        Outcome::SoftFail {
            code: format!("{}_PARAM_UNSUPPORTED", m.upper()),
            class: None,
            detail: e.to_string(),
        }
    } else {
        soft(
            m,
            &ErrorClass::RouteMissing,
            format!("no route answered ({} tried)", attempts),
        )
    };
    Call {
        outcome,
        request: last_request,
        attempts,
    }
}

/// The soft fail for a class.
pub fn soft(m: ModuleId, class: &ErrorClass, detail: String) -> Outcome {
    Outcome::SoftFail {
        code: class.code(m.upper()),
        class: Some(class.clone()),
        detail,
    }
}

fn describe(class: &ErrorClass) -> String {
    match class {
        ErrorClass::Entitlement { status } => format!("backend requires a paid plan ({status})"),
        ErrorClass::Auth { status } => format!("backend refused access ({status})"),
        ErrorClass::RouteMissing => "route not found".into(),
        ErrorClass::RateLimited { retry_after_secs } => match retry_after_secs {
            Some(s) => format!("rate limited; retry after {s}s"),
            None => "rate limited".into(),
        },
        ErrorClass::Transient { kind } => format!("transient failure: {kind:?}"),
        ErrorClass::BadPayload { kind } => format!("bad payload: {kind:?}"),
    }
}
