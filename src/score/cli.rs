//! `sniper score`: the scorecard of sniper's own calls on its own price path, or of calls and
//! prices from files; and the scoring half of `sniper replay` (rule sets side by side).

use std::fmt::Write as _;
use std::io::Write;

use jiff::Timestamp;

use crate::command::{CommandError, Doing};
use crate::store::{RunQuery, SignalQuery, SignalRecord, StateStore};

use super::import::{parse_calls_jsonl, parse_prices_csv};
use super::{
    BadValue, DEFAULT_HORIZONS, OneSeries, Options, Outcome, ScoreCall, ScoreError, Scorecard,
    Scorer, Side, StorePrices, Summary, parse_horizons, parse_span,
};

/// Environment variable: default horizons.
pub const HORIZONS_ENV: &str = "SNIPER_SCORE_HORIZONS";
/// Environment variable: default cost, bps.
pub const COST_ENV: &str = "SNIPER_SCORE_COST_BPS";
/// Seed of the random baseline unless `--seed` is given.
pub const DEFAULT_SEED: u64 = 1;

/// How to score (shared by `score` and `replay`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ScoreOpts {
    /// Horizons, comma-separated, labels kept as written [default: 5m,15m,1h,4h].
    #[arg(long, env = HORIZONS_ENV)]
    pub horizons: Option<String>,
    /// Cost a return must beat to be a hit, bps [default: half the spread at entry, else 0].
    #[arg(long = "cost-bps", env = COST_ENV)]
    pub cost_bps: Option<String>,
    /// Max age of an entry/exit price (`30s`, `2m`) [default: twice the usual spacing].
    #[arg(long = "max-gap")]
    pub max_gap: Option<String>,
    /// Seed of the random-direction baseline [default: 1].
    #[arg(long)]
    pub seed: Option<u64>,
}

impl ScoreOpts {
    /// Validated options; errors name the flag (and its variable).
    pub fn options(&self, as_of_ms: i64) -> Result<Options, BadValue> {
        let horizons = parse_horizons(
            "--horizons/SNIPER_SCORE_HORIZONS",
            self.horizons.as_deref().unwrap_or(DEFAULT_HORIZONS),
        )?;
        let cost_bps = match self.cost_bps.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(v) => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Some(x),
                _ => {
                    return Err(BadValue {
                        var: "--cost-bps/SNIPER_SCORE_COST_BPS".into(),
                        value: v.into(),
                        expected: "a number of basis points ≥ 0, e.g. 4 or 2.5",
                    });
                }
            },
        };
        let max_gap_ms = self
            .max_gap
            .as_deref()
            .map(|v| parse_span("--max-gap", v))
            .transpose()?;
        Ok(Options {
            horizons,
            cost_bps,
            max_gap_ms,
            as_of_ms,
            seed: self.seed.unwrap_or(DEFAULT_SEED),
        })
    }
}

/// `sniper score` options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ScoreArgs {
    /// Only calls of this long before now (`30d`, `12h`) [default for stored calls: 30d].
    #[arg(long)]
    pub since: Option<String>,
    /// Only this symbol (with --prices: the instrument of the file; other calls are skipped).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Scoring options.
    #[command(flatten)]
    pub opts: ScoreOpts,
    /// Score every graded watch/action run, the repeats the cooldown held back included
    /// (default: the calls sniper made — a new call, an escalation, a score rise or the end of a
    /// cooldown — so one condition lasting an hour counts once, not 720 times).
    #[arg(long)]
    pub every_grading: bool,
    /// Calls from a JSON-lines file instead of the store.
    #[arg(long)]
    pub calls: Option<String>,
    /// Prices from a CSV file (one instrument) instead of the store's price path.
    #[arg(long)]
    pub prices: Option<String>,
    /// Print the scorecard document as JSON.
    #[arg(long)]
    pub json: bool,
}

fn config(e: impl std::error::Error + Send + Sync + 'static) -> CommandError {
    CommandError::Config(Box::new(e))
}

/// A stored grading as a call to score: `None` for level none or no direction.
pub fn call_of_record(r: &SignalRecord) -> Option<ScoreCall> {
    if !matches!(r.level.as_str(), "watch" | "action") {
        return None;
    }
    let side = Side::parse(&r.direction)?;
    let agreeing = r
        .call
        .get("agreeing")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    Some(ScoreCall {
        at_ms: r.at.as_millisecond(),
        symbol: r.symbol.clone(),
        side,
        level: Some(r.level.clone()),
        score: Some(r.score),
        agreeing,
        rules: None,
    })
}

/// Stored calls (watch/action) graded at or after `since_ms`, oldest first.
pub fn store_calls(
    store: &dyn StateStore,
    symbol: Option<&str>,
    since_ms: i64,
    every_grading: bool,
) -> Result<Vec<ScoreCall>, crate::store::StoreError> {
    let rows = store.signals(&SignalQuery {
        symbol: symbol.map(String::from),
        since: Timestamp::from_millisecond(since_ms).ok(),
        calls_only: true,
        made_only: !every_grading,
        limit: usize::MAX,
        ascending: true,
    })?;
    let mut calls: Vec<ScoreCall> = rows.iter().filter_map(call_of_record).collect();
    calls.sort_by_key(|c| c.at_ms);
    Ok(calls)
}

/// Whether the store's latest run was on sandbox data.
pub fn store_is_sandbox(store: &dyn StateStore) -> bool {
    store
        .runs(&RunQuery {
            limit: 1,
            ..RunQuery::default()
        })
        .ok()
        .and_then(|r| r.first().map(|r| r.sandbox))
        .unwrap_or(false)
}

/// One call's outcome at the chart horizon (for the page's markers).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Mark {
    /// Call time, epoch ms.
    pub at_ms: i64,
    /// Symbol.
    pub symbol: String,
    /// `long`/`short`.
    pub direction: &'static str,
    /// `watch`/`action`.
    pub level: Option<String>,
    /// `won`, `lost`, `pending` or `gap`.
    pub outcome: &'static str,
    /// Signed return, bps, when resolved.
    pub ret_bps: Option<f64>,
}

fn mark(c: &ScoreCall, o: &Outcome) -> Mark {
    let (outcome, ret) = match o {
        Outcome::Resolved { hit, ret_bps, .. } => {
            (if *hit { "won" } else { "lost" }, Some(*ret_bps))
        }
        Outcome::Pending => ("pending", None),
        Outcome::Gap => ("gap", None),
    };
    Mark {
        at_ms: c.at_ms,
        symbol: c.symbol.clone(),
        direction: c.side.as_str(),
        level: c.level.clone(),
        outcome,
        ret_bps: ret,
    }
}

/// Score the store's own calls on its own price path. `marks_since_ms`: calls at or after it get
/// a [`Mark`] at horizon index `mark_horizon`.
pub fn score_store(
    store: &dyn StateStore,
    symbol: Option<&str>,
    since_ms: i64,
    every_grading: bool,
    opts: Options,
    marks: Option<(i64, usize)>,
) -> Result<(Scorecard, Vec<Mark>), ScoreError> {
    let calls = store_calls(store, symbol, since_ms, every_grading)?;
    let mut s = Scorer::new(StorePrices(store), opts);
    let mut out = Vec::new();
    for c in &calls {
        let o = s.push(c)?;
        if let Some((from, h)) = marks
            && c.at_ms >= from
            && let Some(o) = o.get(h)
        {
            out.push(mark(c, o));
        }
    }
    let mut card = s.finish();
    card.sandbox = store_is_sandbox(store);
    Ok((card, out))
}

/// The body of `sniper score`.
pub fn score(db: &str, a: &ScoreArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let now = Timestamp::now().as_millisecond();
    let since_ms = match &a.since {
        Some(s) => Some(now - parse_span("--since", s).map_err(config)?),
        None => None,
    };
    // Validate the flags before reading anything.
    a.opts.options(now).map_err(config)?;
    let prices = match &a.prices {
        Some(f) => {
            // A file that cannot be read is bad input, like a malformed one (exit 2).
            let text = std::fs::read_to_string(f).map_err(|e| {
                config(std::io::Error::new(
                    e.kind(),
                    format!("reading --prices {f}: {e}"),
                ))
            })?;
            Some(parse_prices_csv(f, &text).map_err(config)?)
        }
        None => None,
    };
    let file_calls = match &a.calls {
        Some(f) => {
            // A file that cannot be read is bad input, like a malformed one (exit 2).
            let text = std::fs::read_to_string(f).map_err(|e| {
                config(std::io::Error::new(
                    e.kind(),
                    format!("reading --calls {f}: {e}"),
                ))
            })?;
            Some(parse_calls_jsonl(f, &text).map_err(config)?)
        }
        None => None,
    };
    let store = if file_calls.is_none() || prices.is_none() {
        Some(
            crate::store::open_existing_store(
                db,
                "score",
                crate::store::StoreOptions::from_env()
                    .map_err(|e| CommandError::Config(Box::new(e)))?,
            )
            .doing(|| {
                format!(
                    "opening SNIPER_DB={}",
                    crate::store::postgres::redact_db(db)
                )
            })?,
        )
    } else {
        None
    };
    let mut calls = match (file_calls, &store) {
        (Some(c), _) => c,
        (None, Some(st)) => store_calls(
            st.as_ref(),
            // With a price file the symbol picks calls below (the rest are skipped).
            if prices.is_some() {
                None
            } else {
                a.symbol.as_deref()
            },
            since_ms.unwrap_or(now - 30 * 86_400_000),
            a.every_grading,
        )
        .doing(|| "reading the stored calls".into())?,
        (None, None) => Vec::new(),
    };
    if let Some(s) = since_ms {
        calls.retain(|c| c.at_ms >= s);
    }
    calls.sort_by_key(|c| c.at_ms);
    let card = match prices {
        Some(p) => {
            let as_of = p.last().map_or(now, |p| p.at_ms);
            let mut s = Scorer::new(OneSeries(p), a.opts.options(as_of).map_err(config)?);
            for c in &calls {
                if a.symbol
                    .as_deref()
                    .is_some_and(|sym| !sym.eq_ignore_ascii_case(&c.symbol))
                {
                    s.skip();
                    continue;
                }
                s.push(c).doing(|| "scoring".into())?;
            }
            s.finish()
        }
        None => {
            let st = store.as_ref().map(|s| s.as_ref());
            let Some(st) = st else {
                return Err(CommandError::failed("scoring", "no price source"));
            };
            let mut s = Scorer::new(StorePrices(st), a.opts.options(now).map_err(config)?);
            for c in &calls {
                if a.symbol.as_deref().is_some_and(|sym| sym != c.symbol) {
                    s.skip();
                    continue;
                }
                s.push(c).doing(|| "scoring".into())?;
            }
            let mut card = s.finish();
            card.sandbox = store_is_sandbox(st);
            card
        }
    };
    let text = if a.json {
        format!(
            "{}\n",
            serde_json::to_string(&card).doing(|| "encoding the scorecard".into())?
        )
    } else {
        render(&card)
    };
    out.write_all(text.as_bytes())
        .doing(|| "writing the scorecard".into())
}

fn f1(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{x:+.1}"))
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{:.1}", x * 100.0))
}

fn ci(s: &Summary) -> String {
    s.ci95.map_or_else(
        || "-".into(),
        |[lo, hi]| format!("{:.1}–{:.1}", lo * 100.0, hi * 100.0),
    )
}

fn row(t: &mut String, label: &str, s: &Summary) {
    let _ = writeln!(
        t,
        "  {label:<6} {:>6} {:>6} {:>12} {:>7} {:>7} {:>5} {:>6} {:>6} {:>5} {:>5} {:>6} {:>6}{}",
        s.n,
        pct(s.hit_rate),
        ci(s),
        f1(s.mean_bps),
        f1(s.median_bps),
        s.profit_factor
            .map_or_else(|| "-".into(), |x| format!("{x:.2}")),
        f1(s.mfe_bps),
        f1(s.mae_bps),
        s.pending,
        s.gaps,
        pct(s.chance_hit_rate),
        pct(s.long_hit_rate),
        if s.low_n { "  (< 30 resolved)" } else { "" }
    );
}

const HEAD: &str = "  horiz       n   hit%       95% CI    mean  median    PF    MFE    MAE  pend  gaps chance%  long%";

/// The scorecard as text tables.
pub fn render(card: &Scorecard) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{}scorecard: {} calls scored, {} skipped; cost {}; returns in bps before cost, hits after cost",
        if card.sandbox { "SANDBOX " } else { "" },
        card.calls,
        card.skipped,
        card.cost_bps.map_or_else(
            || "half the spread at entry (else 0)".into(),
            |c| format!("{c} bps")
        )
    );
    let _ = writeln!(t, "overall\n{HEAD}");
    for h in &card.horizons {
        if let Some(s) = card.overall.get(h) {
            row(&mut t, h, s);
        }
    }
    for (name, m) in [
        ("always long", &card.baseline.long),
        ("random direction", &card.baseline.random),
    ] {
        let _ = writeln!(t, "baseline: {name} at the same times");
        for h in &card.horizons {
            if let Some(s) = m.get(h) {
                row(&mut t, h, s);
            }
        }
    }
    for g in &card.groups {
        let _ = writeln!(t, "{} {}", g.by, g.key);
        for h in &card.horizons {
            if let Some(s) = g.horizons.get(h) {
                row(&mut t, h, s);
            }
        }
    }
    t
}

/// Scorecards of several rule sets side by side: one block per horizon, one column per rule set.
pub fn render_side_by_side(cards: &[(String, Scorecard)]) -> String {
    let mut t = String::new();
    let Some((_, first)) = cards.first() else {
        return "no rule sets\n".into();
    };
    let w = cards
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(8)
        .max(16);
    let _ = write!(t, "{:<14}", "");
    for (n, _) in cards {
        let _ = write!(t, " | {n:<w$}");
    }
    t.push('\n');
    let line = |t: &mut String, label: &str, f: &dyn Fn(&Scorecard) -> String| {
        let _ = write!(t, "{label:<14}");
        for (_, c) in cards {
            let _ = write!(t, " | {:<w$}", f(c));
        }
        t.push('\n');
    };
    line(&mut t, "calls", &|c| c.calls.to_string());
    for h in &first.horizons {
        let get = |c: &Scorecard| c.overall.get(h).cloned();
        let _ = writeln!(t, "after {h}");
        line(&mut t, "  n (pend/gap)", &|c| {
            get(c).map_or("-".into(), |s| {
                format!("{} ({}/{})", s.n, s.pending, s.gaps)
            })
        });
        line(&mut t, "  hit %", &|c| {
            get(c).map_or("-".into(), |s| {
                format!("{}{}", pct(s.hit_rate), if s.low_n { " (<30)" } else { "" })
            })
        });
        line(&mut t, "  95% CI", &|c| {
            get(c).map_or("-".into(), |s| ci(&s))
        });
        line(&mut t, "  chance %", &|c| {
            get(c).map_or("-".into(), |s| pct(s.chance_hit_rate))
        });
        line(&mut t, "  mean bps", &|c| {
            get(c).map_or("-".into(), |s| f1(s.mean_bps))
        });
        line(&mut t, "  MFE/MAE bps", &|c| {
            get(c).map_or("-".into(), |s| {
                format!("{}/{}", f1(s.mfe_bps), f1(s.mae_bps))
            })
        });
    }
    t
}
