//! The five signal modules. Each file says what its module sends (its [`Inputs`]); the request
//! itself is made by one shared function, [`call`], which walks the module's candidate templates.

pub mod bias;
pub mod etf;
pub mod heatmap;
pub mod spot_ob;
pub mod whale_alerts;

use std::time::Duration;

use tokio::time::Instant;

use serde::Serialize;

use crate::clock::Clock;
use crate::config::Config;
use crate::discovery::template::{FillError, Inputs, RequestTemplate, Role, SymbolForm};
use crate::discovery::{Discovery, RouteMap};
use crate::market::{self, Asked, DataError, MarketData};
use crate::module_id::ModuleId;
use crate::resilience::class::ErrorClass;
use crate::resilience::classify::{self, classify_response};
use crate::resilience::retry;
use crate::run::freshness::{Validators, backend_freshness};
use crate::symbol::SymbolForms;
use crate::upstream::Upstream;

/// Upper bound of the jittered wait before the one retry of a transient failure.
const RETRY_BASE: Duration = Duration::from_millis(100);
/// A retry is only made if at least this much of the module's time would remain for it.
const MIN_RETRY_BUDGET: Duration = Duration::from_millis(200);

/// What one module produced in one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The backend answered with usable market data (parsed and validated by `market`).
    Ok { data: MarketData },
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

/// The three symbol forms of a run, with the form a module prefers when the backend does not say.
fn symbol_inputs(forms: &SymbolForms, preferred: crate::discovery::template::SymbolForm) -> Inputs {
    Inputs {
        base: forms.base.clone(),
        spot: forms.spot.clone(),
        perp: forms.perp.clone(),
        default_symbol_form: Some(preferred),
        ..Inputs::default()
    }
}

/// True when a module's data does not depend on the run's symbol (fetched once per run).
pub fn symbol_independent(m: ModuleId) -> bool {
    matches!(m, ModuleId::Etf | ModuleId::WhaleAlerts)
}

/// Call a module: try its candidates in order (next on 404 or when a template cannot be filled),
/// stop at the first other answer. A 2xx answer is parsed and validated into [`MarketData`]
/// (`max_age` bounds its newest point); an answer with no usable point (`EMPTY`) from a template
/// whose symbol form the spec does not pin is retried with the other symbol forms, and the form
/// that yields data is learned. The caller bounds the time.
#[allow(clippy::too_many_arguments)]
pub async fn call(
    m: ModuleId,
    upstream: &Upstream,
    discovery: &Discovery,
    map: &RouteMap,
    inputs: &Inputs,
    opts: &CallOptions,
    conditional: Option<&Conditional>,
    deadline: Instant,
    clock: &Clock,
) -> (Call, AnswerMeta) {
    let mut meta = AnswerMeta::default();
    let c = call_inner(
        m,
        upstream,
        discovery,
        map,
        inputs,
        opts,
        conditional,
        deadline,
        clock,
        &mut meta,
    )
    .await;
    (c, meta)
}

/// How a module's answer is judged, and whether an `EMPTY` answer may try the other symbol forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOptions {
    /// How old the newest point may be.
    pub max_age: Duration,
    /// How far ahead of now a point's time may be (`SNIPER_MAX_CLOCK_SKEW`).
    pub max_skew: Duration,
    /// Try the other symbol forms after an `EMPTY` answer (the runner backs this off after a
    /// search that found no form with data).
    pub form_search: bool,
}

impl CallOptions {
    /// The defaults: `max_age`, [`market::DEFAULT_MAX_SKEW`], form search allowed.
    pub fn new(max_age: Duration) -> CallOptions {
        CallOptions {
            max_age,
            max_skew: market::DEFAULT_MAX_SKEW,
            form_search: true,
        }
    }
}

/// A conditional request for one URL: the validators its last answer carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conditional {
    /// Path and query the validators belong to (as in [`Call::request`]).
    pub request: String,
    pub validators: Validators,
}

/// What the last answer's headers said about caching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerMeta {
    /// The backend answered `304 Not Modified` to a conditional request.
    pub not_modified: bool,
    /// `ETag`/`Last-Modified` of the answer, for the next conditional request.
    pub validators: Option<Validators>,
    /// How long the backend says the answer stays fresh (`Cache-Control`/`Expires`).
    pub backend_fresh: Option<Duration>,
    /// The outcome is an answer that held no usable data (`EMPTY`, `STALE`, `BAD_PAYLOAD` from
    /// the market layer): kept for the module's refresh interval like data (issue 22 item 8).
    pub unusable: bool,
    /// A symbol-form search ran after an `EMPTY` answer: `Some(true)` when a form had data.
    pub form_search: Option<bool>,
    /// The answer said it came from sniper's sandbox (`x-sandbox: true`): its data is not real.
    pub sandbox: bool,
}

#[allow(clippy::too_many_arguments)]
async fn call_inner(
    m: ModuleId,
    upstream: &Upstream,
    discovery: &Discovery,
    map: &RouteMap,
    inputs: &Inputs,
    opts: &CallOptions,
    conditional: Option<&Conditional>,
    deadline: Instant,
    clock: &Clock,
    meta: &mut AnswerMeta,
) -> Call {
    let max_age = opts.max_age;
    let mut queue: std::collections::VecDeque<RequestTemplate> =
        discovery.candidates(map, m).into();
    let mut attempts = 0;
    let mut last_request = None;
    let mut fill_errors: Vec<FillError> = Vec::new();
    let mut saw_404 = false;
    let mut tried: Vec<url::Url> = Vec::new();
    // The first EMPTY answer (outcome, its request) while the other forms are tried, and every
    // attempt of the search ("<request> → <code>"), so the report describes one attempt and lists
    // the others (issue 22 item 9).
    let mut first_empty: Option<(Outcome, Option<String>)> = None;
    let mut search_log: Vec<String> = Vec::new();
    let mut variants_left = 0usize;
    while let Some(t) = queue.pop_front() {
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
        // The spec's choice often is one of the default shapes too (same URL, other source):
        // after a 404 it must not be sent a second time in the same call.
        if tried.contains(&url) {
            continue;
        }
        tried.push(url.clone());
        let request = match url.query() {
            Some(q) => format!("{}?{}", url.path(), q),
            None => url.path().to_string(),
        };
        let headers = match conditional {
            Some(c) if c.request == request => c.validators.request_headers(),
            _ => http::HeaderMap::new(),
        };
        last_request = Some(request);
        let mut attempt = 0;
        let mut refused: Option<(u16, Option<String>)> = None;
        let result = loop {
            attempt += 1;
            attempts += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let result = match upstream.get(url.clone(), headers.clone(), remaining).await {
                Ok(r) if r.status == 304 && !headers.is_empty() => {
                    meta.not_modified = true;
                    meta.backend_fresh = backend_freshness(&r.headers, clock());
                    return Call {
                        outcome: Outcome::SoftFail {
                            code: format!("{}_NOT_MODIFIED", m.upper()),
                            class: None,
                            detail: "304 Not Modified without data kept to reuse".into(),
                        },
                        request: last_request,
                        attempts,
                    };
                }
                Ok(r) => {
                    meta.sandbox |= r
                        .headers
                        .get("x-sandbox")
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
                    meta.validators = Validators::from_headers(&r.headers);
                    meta.backend_fresh = backend_freshness(&r.headers, clock());
                    let c = classify_response(r.status, &r.headers, &r.body, clock());
                    refused = c
                        .is_err()
                        .then(|| (r.status, classify::backend_message(&r.body)));
                    c
                }
                Err(class) => Err(class),
            };
            match &result {
                Err(class) if retry::should_retry(class, attempt) => {
                    // Full jitter over the retry base, and only if the retry still fits.
                    let wait = retry::full_jitter(RETRY_BASE, RETRY_BASE, 0, rand::random::<f64>());
                    if Instant::now() + wait + MIN_RETRY_BUDGET >= deadline {
                        break result;
                    }
                    tracing::debug!(module = %m, class = class.label(), "retrying once");
                    tokio::time::sleep(wait).await;
                }
                _ => break result,
            }
        };
        match result {
            Ok(body) => {
                let asked = asked_of(&t, inputs);
                let now_ms = clock().as_millisecond();
                match market::parse_with_skew(m, &body, now_ms, max_age, opts.max_skew, &asked) {
                    Ok(data) => {
                        discovery.learn(map, m, &t);
                        meta.unusable = false;
                        if first_empty.is_some() {
                            meta.form_search = Some(true);
                        }
                        return Call {
                            outcome: Outcome::Ok { data },
                            request: last_request,
                            attempts,
                        };
                    }
                    Err(e) => {
                        let outcome = data_soft(m, &e);
                        meta.unusable = true;
                        if first_empty.is_some() {
                            // A form variant did no better: try the next, else report the
                            // answer to the spec's own form, with its own request.
                            search_log.push(format!(
                                "{} → {}",
                                last_request.as_deref().unwrap_or("?"),
                                e.code(m)
                            ));
                            variants_left = variants_left.saturating_sub(1);
                            if variants_left == 0 {
                                meta.form_search = Some(false);
                                return searched(first_empty, &search_log, attempts);
                            }
                            continue;
                        }
                        if matches!(e, DataError::Empty { .. })
                            && opts.form_search
                            && Instant::now() + MIN_RETRY_BUDGET < deadline
                        {
                            let variants = other_forms(&t);
                            if !variants.is_empty() {
                                tracing::debug!(module = %m, path = %t.path, "EMPTY: trying the other symbol forms");
                                first_empty = Some((outcome, last_request.clone()));
                                variants_left = variants.len();
                                for v in variants.into_iter().rev() {
                                    queue.push_front(v);
                                }
                                continue;
                            }
                        }
                        return Call {
                            outcome,
                            request: last_request,
                            attempts,
                        };
                    }
                }
            }
            Err(ErrorClass::RouteMissing) => {
                saw_404 = true;
                discovery.route_missing(&t);
                continue;
            }
            Err(class) => {
                // Keep the status and the backend's own words (a FastAPI 422 names the wrong
                // parameter) in the detail and the log (issue 22 item 7).
                let mut detail = describe(&class);
                if let Some((status, msg)) = &refused {
                    detail.push_str(&format!(" — HTTP {status}"));
                    if let Some(msg) = msg {
                        detail.push_str(&format!(": {msg}"));
                    }
                }
                tracing::info!(
                    module = %m,
                    code = %class.code(m.upper()),
                    request = last_request.as_deref().unwrap_or(""),
                    detail = %detail,
                    "module answer refused"
                );
                if first_empty.is_some() {
                    // A form variant failed otherwise: the report stays the first answer's.
                    search_log.push(format!(
                        "{} → {}",
                        last_request.as_deref().unwrap_or("?"),
                        class.code(m.upper())
                    ));
                    meta.form_search = Some(false);
                    return searched(first_empty, &search_log, attempts);
                }
                meta.unusable = false;
                return Call {
                    outcome: soft(m, &class, detail),
                    request: last_request,
                    attempts,
                };
            }
        }
    }
    if first_empty.is_some() {
        meta.form_search = Some(false);
        return searched(first_empty, &search_log, attempts);
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

/// The report of a symbol-form search that found no form with data: the first answer's outcome and
/// request (headline fields from one attempt), the other attempts listed in its detail.
fn searched(first: Option<(Outcome, Option<String>)>, log: &[String], attempts: u32) -> Call {
    let (mut outcome, request) = first.unwrap_or((Outcome::Disabled, None));
    if let Outcome::SoftFail { detail, .. } = &mut outcome
        && !log.is_empty()
    {
        detail.push_str(&format!("; other symbol forms tried: {}", log.join(", ")));
    }
    Call {
        outcome,
        request,
        attempts,
    }
}

/// The soft fail of an answer that was not usable data: `<MODULE>_EMPTY`, `_BAD_PAYLOAD`,
/// `_STALE`. It carries no error class: the backend answered, so no breaker counts it.
pub fn data_soft(m: ModuleId, e: &DataError) -> Outcome {
    Outcome::SoftFail {
        code: e.code(m),
        class: None,
        detail: e.to_string(),
    }
}

/// What a template asks for with these inputs: the exchange sent and the symbol in the form sent.
fn asked_of(t: &RequestTemplate, inputs: &Inputs) -> Asked {
    let mut asked = Asked::default();
    for p in &t.params {
        match p.role {
            Role::Exchange => asked.venue = inputs.exchange.clone(),
            Role::Symbol(f) => {
                asked.instrument = Some(match f {
                    SymbolForm::Base => inputs.base.clone(),
                    SymbolForm::Spot => inputs.spot.clone(),
                    SymbolForm::Perp => inputs.perp.clone(),
                })
            }
            _ => {}
        }
    }
    asked
}

/// The template with its unpinned symbol parameter switched to each other form (pinned, so they
/// are not expanded again); empty when the spec pins the form or there is no symbol parameter.
fn other_forms(t: &RequestTemplate) -> Vec<RequestTemplate> {
    let Some(i) = t
        .params
        .iter()
        .position(|p| matches!(p.role, Role::Symbol(_)) && !p.form_pinned && p.allowed.is_empty())
    else {
        return Vec::new();
    };
    let Role::Symbol(current) = t.params[i].role else {
        return Vec::new();
    };
    [SymbolForm::Base, SymbolForm::Spot, SymbolForm::Perp]
        .into_iter()
        .filter(|f| *f != current)
        .map(|f| {
            let mut v = t.clone();
            v.params[i].role = Role::Symbol(f);
            v.params[i].form_pinned = true;
            v
        })
        .collect()
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
