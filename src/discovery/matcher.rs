//! Matching modules to operations: score every operation of a parsed [`Spec`] for each module, build
//! the request template from the winner's own parameters, and explain every decision.
//!
//! Pure: no IO, no clock. The scoring replaces the design's path regexes (`/liquidation.*heatmap/`,
//! `/spot.*orderbook/`, `/etf.*flows/`…) with evidence from path tokens, `operationId`, summary,
//! tags and parameters, and disqualifies what sniper must never call: non-GET operations, decoys
//! (`test`, `debug`, `docs`, `health`, `subscribe`…), operations whose required parameters sniper
//! cannot fill or whose `enum`/`pattern` refuse sniper's values, and — for per-symbol modules —
//! operations that take no symbol at all (they would answer for a fixed symbol).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::discovery::openapi::{Ignored, Operation, ParamLocation, Spec, SpecParam, SpecVersion};
use crate::discovery::template::{
    Inputs, Location, Param, RequestTemplate, Role, Source, SymbolForm,
};
use crate::module_id::ModuleId;

/// What one module asks of the backend when the spec does not say otherwise.
///
/// Exists so that "can sniper fill this operation's required parameters, within its `enum` and
/// `pattern`?" is decided at match time with the same values the run will send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModulePrefs {
    /// Symbol form used when neither the parameter's name, enum, examples, default nor description
    /// tell which form the backend wants.
    pub symbol_form: SymbolForm,
    /// A base symbol this module always asks for, whatever the run's symbol (ETF flows exist for
    /// `BTC`, not for `SOL`).
    pub fixed_base: Option<String>,
    /// Preferred timeframes, first is the module's choice.
    pub timeframes: Vec<String>,
    pub exchange: Option<String>,
    pub depth: Option<u32>,
    pub days: Option<u32>,
}

/// Per-module preferences plus the run's symbol in its three forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchPrefs {
    /// `SOL`
    pub base: String,
    /// `SOLUSDT`
    pub spot: String,
    /// `SOL-USDT-SWAP`
    pub perp: String,
    pub modules: BTreeMap<ModuleId, ModulePrefs>,
}

impl MatchPrefs {
    /// Preferences for a run on `base` (`SOL`), with USDT spot/swap forms and the module defaults
    /// of [`MatchPrefs::default`].
    pub fn for_base(base: &str) -> MatchPrefs {
        let base = base.trim().to_ascii_uppercase();
        MatchPrefs {
            spot: format!("{base}USDT"),
            perp: format!("{base}-USDT-SWAP"),
            base,
            modules: default_module_prefs(),
        }
    }

    /// The module's preferences (the defaults when the map lacks it).
    pub fn module(&self, m: ModuleId) -> ModulePrefs {
        self.modules.get(&m).cloned().unwrap_or_else(|| {
            default_module_prefs()
                .remove(&m)
                .unwrap_or_else(plain_prefs)
        })
    }

    /// The values the module sends, in the form [`RequestTemplate::fill`] takes.
    pub fn inputs_for(&self, m: ModuleId) -> Inputs {
        let mp = self.module(m);
        let (base, spot, perp) = match &mp.fixed_base {
            Some(b) => {
                let b = b.to_ascii_uppercase();
                (b.clone(), format!("{b}USDT"), format!("{b}-USDT-SWAP"))
            }
            None => (self.base.clone(), self.spot.clone(), self.perp.clone()),
        };
        Inputs {
            base,
            spot,
            perp,
            default_symbol_form: Some(mp.symbol_form),
            exchange: mp.exchange,
            timeframes: mp.timeframes,
            depth: mp.depth,
            days: mp.days,
        }
    }
}

impl Default for MatchPrefs {
    /// A `SOL` run, as in the design.
    fn default() -> Self {
        MatchPrefs::for_base("SOL")
    }
}

fn plain_prefs() -> ModulePrefs {
    ModulePrefs {
        symbol_form: SymbolForm::Base,
        fixed_base: None,
        timeframes: Vec::new(),
        exchange: None,
        depth: None,
        days: None,
    }
}

/// Defaults read off the design and the real backend's specs:
/// - heatmap: timeframe `1h` (design); symbol form **Base**: the generated spec says nothing about
///   `/advanced/liquidation/heatmap/{symbol}`'s symbol, and the hand-written spec of the same
///   backend documents that very route (`/py/advanced/liquidation/heatmap/{symbol}`) as
///   "e.g., BTC, ETH, SOL". The design's `SOL-USDT-SWAP` is not what this backend documents.
/// - spot_ob: `binance`, depth 50 (design); symbol form **Spot**: the generated spec's own
///   orderbook route defaults its `symbol` to `SOLUSDT` (`/advanced/spot/orderbook-test`).
/// - etf: asset `BTC` in Base form (design: `getFlows('BTC')`; spec: "Asset for ETF flows (BTC, ETH)").
/// - whale_alerts: nothing (its only parameter is `exchange`, left to the backend's default).
/// - bias: Base (spec default `BTC`).
fn default_module_prefs() -> BTreeMap<ModuleId, ModulePrefs> {
    let mut m = BTreeMap::new();
    m.insert(
        ModuleId::Heatmap,
        ModulePrefs {
            timeframes: vec!["1h".into()],
            ..plain_prefs()
        },
    );
    m.insert(
        ModuleId::SpotOb,
        ModulePrefs {
            symbol_form: SymbolForm::Spot,
            exchange: Some("binance".into()),
            depth: Some(50),
            ..plain_prefs()
        },
    );
    m.insert(
        ModuleId::Etf,
        ModulePrefs {
            fixed_base: Some("BTC".into()),
            ..plain_prefs()
        },
    );
    m.insert(ModuleId::WhaleAlerts, plain_prefs());
    m.insert(ModuleId::Bias, plain_prefs());
    m
}

/// One operation considered for a module: the request sniper would send, how it scored and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// The request built from the operation's own parameters (`source = Spec`).
    pub template: RequestTemplate,
    pub operation_id: Option<String>,
    pub score: i32,
    /// Evidence for and against, in the order it was found.
    pub reasons: Vec<String>,
    /// Why this candidate was not chosen (`None` for the chosen one).
    pub lost_because: Option<String>,
    /// The request as filled at match time with the module's preferences (`/x/SOL?tf=1h`), when
    /// it can be filled.
    pub example: Option<String>,
}

/// Discovery's decision for one module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleReport {
    pub module: ModuleId,
    /// The operation to call; `None` when nothing in the spec qualifies (the lead falls back to
    /// the design's default paths).
    pub chosen: Option<Candidate>,
    /// The runners-up, best first, each with `lost_because`.
    pub alternatives: Vec<Candidate>,
}

/// Discovery's decision for all modules, and what of the spec was ignored: what
/// `sniper discover` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiscoveryReport {
    pub version: SpecVersion,
    pub prefix: String,
    pub ignored: Vec<Ignored>,
    /// One entry per module, in [`ModuleId::ALL`] order.
    pub modules: Vec<ModuleReport>,
}

impl DiscoveryReport {
    /// The report for one module.
    pub fn module(&self, m: ModuleId) -> Option<&ModuleReport> {
        self.modules.iter().find(|r| r.module == m)
    }

    /// The chosen template for one module, if any.
    pub fn chosen(&self, m: ModuleId) -> Option<&RequestTemplate> {
        self.module(m)
            .and_then(|r| r.chosen.as_ref())
            .map(|c| &c.template)
    }
}

/// How many runners-up a module report keeps.
const MAX_ALTERNATIVES: usize = 8;

/// Weights. A concept word in the path is strong evidence; in operationId/summary/tags weaker (the
/// summaries of hand-written specs are sometimes wrong: `GET /health` "Get Bitcoin ETF flow data").
const W_CONCEPT_PATH: i32 = 40;
const W_CONCEPT_TEXT: i32 = 15;
const W_BONUS_PATH: i32 = 10;
const W_BONUS_TEXT: i32 = 5;
const W_DESIGN_REGEX: i32 = 10;
const W_SYMBOL_PARAM: i32 = 20;
const W_USEFUL_PARAM: i32 = 5;
const W_DECOY: i32 = -100;
const W_SOFT_DECOY: i32 = -30;
const W_WRONG_MARKET: i32 = -60;
const W_DEPRECATED: i32 = -20;
const W_NO_ASSET: i32 = -10;

/// What a module looks for.
struct Want {
    /// Every group must be present (any word of a group counts).
    concepts: &'static [&'static [&'static str]],
    bonus: &'static [&'static str],
    /// The design's regexes `/a.*b/` on the path.
    design: &'static [(&'static str, &'static str)],
    /// Per-symbol modules must take a symbol: otherwise the data is for a fixed symbol.
    needs_symbol: bool,
    /// The module usually takes a symbol (ETF `asset`) but can live without one.
    prefers_symbol: bool,
    /// Words that mean "not this module's data", with their penalty.
    wrong: &'static [&'static str],
    useful_roles: &'static [RoleKind],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoleKind {
    Exchange,
    Timeframe,
    Depth,
    Days,
}

fn want(m: ModuleId) -> Want {
    match m {
        ModuleId::Etf => Want {
            concepts: &[&["etf", "etfs"], &["flow", "flows", "netflow", "netflows"]],
            bonus: &["history"],
            design: &[("etf", "flows")],
            needs_symbol: false,
            prefers_symbol: true,
            wrong: &[],
            useful_roles: &[RoleKind::Days],
        },
        ModuleId::Heatmap => Want {
            concepts: &[&["heatmap", "heatmaps"]],
            bonus: &["liquidation", "liquidations", "liq"],
            design: &[("liquidation", "heatmap"), ("liquidations", "heatmap")],
            needs_symbol: true,
            prefers_symbol: true,
            wrong: &["multi", "batch", "bulk"],
            useful_roles: &[RoleKind::Timeframe],
        },
        ModuleId::SpotOb => Want {
            concepts: &[&["orderbook", "orderbooks", "book"], &["spot"]],
            bonus: &[],
            design: &[("spot", "orderbook"), ("orderbook", "spot")],
            needs_symbol: true,
            prefers_symbol: true,
            wrong: &[
                "futures",
                "future",
                "perp",
                "perpetual",
                "swap",
                "derivatives",
                "multi",
                "batch",
                "history",
            ],
            useful_roles: &[RoleKind::Exchange, RoleKind::Depth],
        },
        ModuleId::WhaleAlerts => Want {
            concepts: &[&["whale", "whales"], &["alert", "alerts"]],
            bonus: &[],
            design: &[("whale", "alerts")],
            needs_symbol: false,
            prefers_symbol: false,
            wrong: &[],
            useful_roles: &[RoleKind::Exchange],
        },
        ModuleId::Bias => Want {
            concepts: &[&["bias"]],
            bonus: &["institutional"],
            design: &[("institutional", "bias")],
            needs_symbol: true,
            prefers_symbol: true,
            wrong: &["multi", "batch", "bulk"],
            useful_roles: &[],
        },
    }
}

/// Words that mark an operation sniper must not use as a data source.
const DECOYS: &[&str] = &[
    "test",
    "tests",
    "testing",
    "debug",
    "docs",
    "doc",
    "redoc",
    "swagger",
    "openapi",
    "health",
    "healthz",
    "subscribe",
    "unsubscribe",
    "ws",
    "websocket",
    "mock",
    "demo",
    "sample",
    "metrics",
    "admin",
    "internal",
    "private",
];

/// The one rule for routes that are not data sources (issue 22 item 14): a word of [`DECOYS`]
/// (`test`, `debug`, `mock`, `demo`, `internal`, …) in the path's literal segments or in the
/// operationId (`get_spot_orderbook_async_test_…` for `/advanced/spot/orderbook-async`, a fixed
/// fake book). Discovery disqualifies such a route; the `/gpts` gateway neither publishes nor
/// forwards it. Returns the word found.
pub fn decoy_word(path: &str, operation_id: Option<&str>) -> Option<&'static str> {
    let literal: String = path
        .split('/')
        .filter(|seg| !seg.starts_with('{'))
        .collect::<Vec<_>>()
        .join("/");
    let mut w = words(&literal);
    if let Some(id) = operation_id {
        w.extend(words(id));
    }
    DECOYS.iter().copied().find(|d| w.iter().any(|x| x == d))
}
/// Words that make an operation suspicious but still usable when nothing better exists.
const SOFT_DECOYS: &[&str] = &["async", "stream", "beta", "experimental", "legacy"];

/// Match every module against the spec.
pub fn match_all(spec: &Spec, prefs: &MatchPrefs) -> DiscoveryReport {
    let modules = ModuleId::ALL
        .into_iter()
        .map(|m| match_module(spec, m, prefs))
        .collect();
    DiscoveryReport {
        version: spec.version,
        prefix: spec.prefix.clone(),
        ignored: spec.ignored.clone(),
        modules,
    }
}

/// A scored candidate before ranking.
struct Scored {
    cand: Candidate,
    disqualified: Option<String>,
}

fn match_module(spec: &Spec, m: ModuleId, prefs: &MatchPrefs) -> ModuleReport {
    let w = want(m);
    let mp = prefs.module(m);
    let inputs = prefs.inputs_for(m);
    let mut scored: Vec<Scored> = spec
        .operations
        .iter()
        .filter_map(|op| score(op, &spec.prefix, &w, &mp, &inputs))
        .collect();
    scored.sort_by(|a, b| {
        a.disqualified
            .is_some()
            .cmp(&b.disqualified.is_some())
            .then(b.cand.score.cmp(&a.cand.score))
            .then(a.cand.template.path.len().cmp(&b.cand.template.path.len()))
            .then(a.cand.template.path.cmp(&b.cand.template.path))
    });
    let mut iter = scored.into_iter();
    let mut chosen = None;
    let mut alternatives = Vec::new();
    if let Some(first) = iter.next() {
        if first.disqualified.is_none() {
            chosen = Some(first.cand);
        } else {
            alternatives.push(with_loss(first, None));
        }
    }
    for s in iter.take(MAX_ALTERNATIVES.saturating_sub(alternatives.len())) {
        alternatives.push(with_loss(s, chosen.as_ref()));
    }
    ModuleReport {
        module: m,
        chosen,
        alternatives,
    }
}

fn with_loss(s: Scored, chosen: Option<&Candidate>) -> Candidate {
    let mut c = s.cand;
    c.lost_because = Some(match (s.disqualified, chosen) {
        (Some(why), _) => why,
        (None, Some(ch)) if ch.score > c.score => {
            format!("lower score ({} < {})", c.score, ch.score)
        }
        (None, Some(ch)) => format!(
            "same score as `{}`, which has the shorter path",
            ch.template.path
        ),
        (None, None) => "not chosen".into(),
    });
    c
}

/// Lower-case words of an identifier or sentence: camelCase, snake_case, kebab-case and path
/// separators all split, and adjacent words are also joined (`order` `book` → `orderbook`).
fn words(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            if ch.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
            cur.push(ch.to_ascii_lowercase());
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    let joined: Vec<String> = out
        .windows(2)
        .map(|p| format!("{}{}", p[0], p[1]))
        .collect();
    out.extend(joined);
    out
}

fn score(
    op: &Operation,
    prefix: &str,
    w: &Want,
    mp: &ModulePrefs,
    inputs: &Inputs,
) -> Option<Scored> {
    let literal: String = op
        .path
        .split('/')
        .filter(|s| !s.starts_with('{'))
        .collect::<Vec<_>>()
        .join("/");
    let path_words = words(&literal);
    let id_words = op.operation_id.as_deref().map(words).unwrap_or_default();
    let mut text_words = id_words.clone();
    if let Some(s) = &op.summary {
        text_words.extend(words(s));
    }
    for t in &op.tags {
        text_words.extend(words(t));
    }
    let in_path = |k: &str| path_words.iter().any(|x| x == k);
    let in_text = |k: &str| text_words.iter().any(|x| x == k);

    let mut score = 0i32;
    let mut reasons = Vec::new();
    let mut missing = Vec::new();
    let mut hits = 0;
    for group in w.concepts {
        if let Some(k) = group.iter().find(|k| in_path(k)) {
            score += W_CONCEPT_PATH;
            reasons.push(format!("path has `{k}` (+{W_CONCEPT_PATH})"));
            hits += 1;
        } else if let Some(k) = group.iter().find(|k| in_text(k)) {
            score += W_CONCEPT_TEXT;
            reasons.push(format!(
                "operationId/summary/tags mention `{k}` (+{W_CONCEPT_TEXT})"
            ));
            hits += 1;
        } else {
            missing.push(group[0]);
        }
    }
    // Only operations naming the module's primary concept are candidates at all; the rest would
    // only clutter the report.
    if hits == 0 || missing.first() == w.concepts.first().and_then(|g| g.first()) {
        return None;
    }
    for k in w.bonus {
        if in_path(k) {
            score += W_BONUS_PATH;
            reasons.push(format!("path has `{k}` (+{W_BONUS_PATH})"));
        } else if in_text(k) {
            score += W_BONUS_TEXT;
            reasons.push(format!("text mentions `{k}` (+{W_BONUS_TEXT})"));
        }
    }
    let lower_path = op.path.to_ascii_lowercase();
    for (a, b) in w.design {
        if let Some(i) = lower_path.find(a)
            && lower_path[i + a.len()..].contains(b)
        {
            score += W_DESIGN_REGEX;
            reasons.push(format!(
                "matches the design's /{a}.*{b}/ (+{W_DESIGN_REGEX})"
            ));
            break;
        }
    }

    let mut disqualified: Option<String> = None;
    let disqualify = |why: String, d: &mut Option<String>| {
        if d.is_none() {
            *d = Some(why);
        }
    };
    if !missing.is_empty() {
        disqualify(
            format!("does not mention `{}`", missing.join("`, `")),
            &mut disqualified,
        );
    }
    if op.method != "GET" {
        disqualify(
            format!("method {} (sniper only sends GET)", op.method),
            &mut disqualified,
        );
    }
    let decoy_words: Vec<&String> = path_words.iter().chain(id_words.iter()).collect();
    if let Some(d) = DECOYS.iter().find(|d| decoy_words.iter().any(|x| x == *d)) {
        score += W_DECOY;
        reasons.push(format!("decoy word `{d}` ({W_DECOY})"));
        disqualify(
            format!("decoy route (`{d}`): not a data source"),
            &mut disqualified,
        );
    }
    if let Some(d) = SOFT_DECOYS
        .iter()
        .find(|d| decoy_words.iter().any(|x| x == *d))
    {
        score += W_SOFT_DECOY;
        reasons.push(format!("suspicious word `{d}` ({W_SOFT_DECOY})"));
    }
    if let Some(d) = w.wrong.iter().find(|d| decoy_words.iter().any(|x| x == *d)) {
        score += W_WRONG_MARKET;
        reasons.push(format!("`{d}`: not this module's data ({W_WRONG_MARKET})"));
    }
    if op.deprecated {
        score += W_DEPRECATED;
        reasons.push(format!("deprecated ({W_DEPRECATED})"));
    }
    if op.body_required {
        disqualify(
            "requires a request body (sniper sends none)".into(),
            &mut disqualified,
        );
    }
    for p in &op.params {
        if p.required
            && matches!(
                p.location,
                ParamLocation::Header | ParamLocation::Cookie | ParamLocation::Body
            )
        {
            disqualify(
                format!(
                    "requires {:?} parameter `{}` sniper does not send",
                    p.location, p.name
                )
                .to_lowercase(),
                &mut disqualified,
            );
        }
    }

    let template = build_template(op, prefix, mp.symbol_form);
    let symbol_param = template
        .params
        .iter()
        .find(|p| matches!(p.role, Role::Symbol(_)));
    match symbol_param {
        Some(p) => {
            score += W_SYMBOL_PARAM;
            let form = match p.role {
                Role::Symbol(f) => f,
                _ => mp.symbol_form,
            };
            reasons.push(format!(
                "takes the symbol as `{}` ({form:?} form) (+{W_SYMBOL_PARAM})",
                p.name
            ));
        }
        None if w.needs_symbol => disqualify(
            "takes no symbol parameter: would answer for a fixed symbol".into(),
            &mut disqualified,
        ),
        None if w.prefers_symbol => {
            score += W_NO_ASSET;
            reasons.push(format!("no asset parameter ({W_NO_ASSET})"));
        }
        None => {}
    }
    for rk in w.useful_roles {
        if let Some(p) = template
            .params
            .iter()
            .find(|p| role_kind(p.role) == Some(*rk))
        {
            score += W_USEFUL_PARAM;
            reasons
                .push(format!("takes {rk:?} as `{}` (+{W_USEFUL_PARAM})", p.name).to_lowercase());
        }
    }
    let example = match template.fill(inputs) {
        Ok(f) => Some(render_filled(&f.segments, &f.query)),
        Err(e) => {
            disqualify(format!("cannot fill: {e}"), &mut disqualified);
            None
        }
    };
    Some(Scored {
        cand: Candidate {
            template,
            operation_id: op.operation_id.clone(),
            score,
            reasons,
            lost_because: None,
            example,
        },
        disqualified,
    })
}

fn role_kind(r: Role) -> Option<RoleKind> {
    match r {
        Role::Exchange => Some(RoleKind::Exchange),
        Role::Timeframe => Some(RoleKind::Timeframe),
        Role::Depth => Some(RoleKind::Depth),
        Role::Days => Some(RoleKind::Days),
        _ => None,
    }
}

fn render_filled(segments: &[String], query: &[(String, String)]) -> String {
    let mut s = String::new();
    for seg in segments {
        s.push('/');
        s.push_str(seg);
    }
    if s.is_empty() {
        s.push('/');
    }
    for (i, (k, v)) in query.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        let _ = write!(s, "{k}={v}");
    }
    s
}

/// The template for an operation: GET `prefix + path`, its path and query parameters with roles.
/// Header, cookie and body parameters are not part of a template (required ones disqualify the
/// operation at match time).
pub fn build_template(op: &Operation, prefix: &str, fallback_form: SymbolForm) -> RequestTemplate {
    let params = op
        .params
        .iter()
        .filter_map(|p| {
            let location = match p.location {
                ParamLocation::Path => Location::Path,
                ParamLocation::Query => Location::Query,
                _ => return None,
            };
            Some(Param {
                name: p.name.clone(),
                location,
                role: role_for(p, fallback_form),
                required: p.required,
                allowed: p.enum_values.clone(),
                pattern: p.pattern.clone(),
                default: p.default.clone(),
                form_pinned: symbol_form_evidence(p).is_some() || p.pattern.is_some(),
            })
        })
        .collect();
    RequestTemplate {
        method: op.method.clone(),
        path: format!("{prefix}{}", op.path),
        params,
        source: Source::Spec,
    }
}

/// The role sniper gives a parameter, from its name (normalised: case and `_`/`-` ignored).
/// Plural names (`symbols`, `coins`) are multi-symbol lists and get no role.
pub fn role_for(p: &SpecParam, fallback_form: SymbolForm) -> Role {
    let n: String = p
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match n.as_str() {
        "symbol" | "asset" | "coin" | "ticker" | "instid" | "pair" | "market" | "sym" | "token"
        | "underlying" | "instrument" | "currency" | "basecoin" | "coinsymbol" => {
            Role::Symbol(symbol_form(p, fallback_form))
        }
        "exchange" | "ex" | "venue" | "exchangename" => Role::Exchange,
        "timeframe" | "tf" | "interval" | "window" | "resolution" | "granularity" | "bar" => {
            Role::Timeframe
        }
        "depth" | "limit" | "size" | "levels" => Role::Depth,
        "days" | "lookbackdays" | "ndays" => Role::Days,
        _ => Role::Other,
    }
}

/// Which form a symbol parameter wants: `instId` is OKX's perpetual id; otherwise the first of
/// enum, examples, default and description that shows a recognisable symbol decides
/// (`BTC-USDT-SWAP` → Perp, `SOLUSDT` → Spot, `BTC`/`ETH`/`SOL` → Base); else `fallback`.
pub fn symbol_form(p: &SpecParam, fallback: SymbolForm) -> SymbolForm {
    symbol_form_evidence(p).unwrap_or(fallback)
}

/// The form the spec's evidence shows for a symbol parameter, `None` when it shows none (see
/// [`symbol_form`]).
pub fn symbol_form_evidence(p: &SpecParam) -> Option<SymbolForm> {
    let n = p.name.to_ascii_lowercase().replace(['_', '-'], "");
    if n == "instid" {
        return Some(SymbolForm::Perp);
    }
    let sources: [Vec<&str>; 4] = [
        p.enum_values.iter().map(String::as_str).collect(),
        p.examples.iter().map(String::as_str).collect(),
        p.default.iter().map(String::as_str).collect(),
        p.description.iter().map(String::as_str).collect(),
    ];
    for src in sources {
        let mut counts = [0usize; 3];
        for text in src {
            for tok in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
                if let Some(f) = classify_symbol(tok) {
                    counts[f as usize] += 1;
                }
            }
        }
        let best = [SymbolForm::Perp, SymbolForm::Spot, SymbolForm::Base]
            .into_iter()
            .max_by_key(|f| counts[*f as usize]);
        if let Some(f) = best
            && counts[f as usize] > 0
        {
            return Some(f);
        }
    }
    None
}

/// Bases that, seen bare in a description, mean "this parameter wants the base form".
const KNOWN_BASES: &[&str] = &[
    "BTC", "ETH", "SOL", "ADA", "XRP", "DOGE", "BNB", "AVAX", "DOT", "LINK", "LTC", "MATIC",
];

fn classify_symbol(tok: &str) -> Option<SymbolForm> {
    let t = tok.trim_matches('-');
    if t.len() < 2 {
        return None;
    }
    let up = t.to_ascii_uppercase();
    if up.ends_with("-SWAP") || (up.matches('-').count() == 2 && up.contains("-USD")) {
        return Some(SymbolForm::Perp);
    }
    let is_upper = t
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if is_upper && !t.contains('-') {
        for q in ["USDT", "USDC", "BUSD"] {
            if t.len() > q.len() + 1 && t.ends_with(q) {
                return Some(SymbolForm::Spot);
            }
        }
        if KNOWN_BASES.contains(&t) {
            return Some(SymbolForm::Base);
        }
    }
    None
}

/// A human table for `sniper discover`: per module the chosen operation, its request template,
/// score and evidence, then the alternatives and why each lost; finally what of the spec was
/// ignored.
pub fn render_report(r: &DiscoveryReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "spec: {:?}, prefix: {}",
        r.version,
        if r.prefix.is_empty() {
            "(none)"
        } else {
            &r.prefix
        }
    );
    for m in &r.modules {
        let _ = writeln!(s, "\n== {} ==", m.module);
        match &m.chosen {
            Some(c) => {
                let _ = writeln!(
                    s,
                    "  chosen:  {} {}  [{}]  score {}",
                    c.template.method,
                    c.template.path,
                    c.operation_id.as_deref().unwrap_or("-"),
                    c.score
                );
                let _ = writeln!(s, "  request: {}", render_template(&c.template));
                if let Some(e) = &c.example {
                    let _ = writeln!(s, "  e.g.:    GET {e}");
                }
                let _ = writeln!(s, "  why:     {}", c.reasons.join("; "));
            }
            None => {
                let _ = writeln!(
                    s,
                    "  chosen:  none (nothing in the spec qualifies; default paths will be probed)"
                );
            }
        }
        if !m.alternatives.is_empty() {
            let _ = writeln!(s, "  alternatives:");
            for a in &m.alternatives {
                let _ = writeln!(
                    s,
                    "    {:>5}  {} {}  -- lost: {}",
                    a.score,
                    a.template.method,
                    a.template.path,
                    a.lost_because.as_deref().unwrap_or("-")
                );
            }
        }
    }
    if !r.ignored.is_empty() {
        let _ = writeln!(s, "\nignored parts of the spec:");
        for i in &r.ignored {
            let _ = writeln!(s, "  {}: {}", i.what, i.why);
        }
    }
    s
}

/// `GET /x/{symbol:base}?timeframe=<timeframe 1h|4h|1d>&depth=<depth>`
fn render_template(t: &RequestTemplate) -> String {
    let mut path = t.path.clone();
    for p in t.params.iter().filter(|p| p.location == Location::Path) {
        path = path.replace(
            &format!("{{{}}}", p.name),
            &format!("{{{}:{}}}", p.name, role_label(p.role)),
        );
    }
    let mut s = format!("{} {path}", t.method);
    for (i, p) in t
        .params
        .iter()
        .filter(|p| p.location == Location::Query)
        .enumerate()
    {
        s.push(if i == 0 { '?' } else { '&' });
        let mut v = role_label(p.role).to_string();
        if !p.allowed.is_empty() {
            let _ = write!(v, " in {}", p.allowed.join("|"));
        }
        if let Some(pat) = &p.pattern {
            let _ = write!(v, " ~ {pat}");
        }
        if p.required {
            v.push_str(", required");
        }
        let _ = write!(s, "{}=<{v}>", p.name);
    }
    s
}

fn role_label(r: Role) -> &'static str {
    match r {
        Role::Symbol(SymbolForm::Base) => "symbol base",
        Role::Symbol(SymbolForm::Spot) => "symbol spot",
        Role::Symbol(SymbolForm::Perp) => "symbol perp",
        Role::Exchange => "exchange",
        Role::Timeframe => "timeframe",
        Role::Depth => "depth",
        Role::Days => "days",
        Role::Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(name: &str) -> SpecParam {
        SpecParam {
            name: name.into(),
            location: ParamLocation::Query,
            required: false,
            schema_type: Some("string".into()),
            enum_values: vec![],
            pattern: None,
            default: None,
            description: None,
            examples: vec![],
        }
    }

    #[test]
    fn words_split_identifiers() {
        let w = words("getCoinGlassSpotOrderbook");
        assert!(w.contains(&"spot".to_string()));
        assert!(w.contains(&"orderbook".to_string()));
        let w = words("/api/order-book/spot");
        assert!(w.contains(&"orderbook".to_string()));
    }

    #[test]
    fn symbol_form_from_evidence() {
        let mut p = sp("symbol");
        p.description = Some("Trading symbol (e.g., BTC, ETH, SOL)".into());
        assert_eq!(symbol_form(&p, SymbolForm::Perp), SymbolForm::Base);
        let mut p = sp("symbol");
        p.examples = vec!["SOLUSDT".into()];
        p.description = Some("e.g. BTC".into());
        assert_eq!(symbol_form(&p, SymbolForm::Base), SymbolForm::Spot);
        let mut p = sp("symbol");
        p.description = Some("Trading pair symbol (default SOL-USDT-SWAP)".into());
        assert_eq!(symbol_form(&p, SymbolForm::Base), SymbolForm::Perp);
        assert_eq!(
            symbol_form(&sp("instId"), SymbolForm::Base),
            SymbolForm::Perp
        );
        assert_eq!(
            symbol_form(&sp("symbol"), SymbolForm::Spot),
            SymbolForm::Spot
        );
    }

    #[test]
    fn roles_by_name() {
        assert_eq!(role_for(&sp("tf"), SymbolForm::Base), Role::Timeframe);
        assert_eq!(
            role_for(&sp("inst_id"), SymbolForm::Base),
            Role::Symbol(SymbolForm::Perp)
        );
        assert_eq!(role_for(&sp("limit"), SymbolForm::Base), Role::Depth);
        assert_eq!(role_for(&sp("venue"), SymbolForm::Base), Role::Exchange);
        assert_eq!(role_for(&sp("symbols"), SymbolForm::Base), Role::Other);
    }
}
