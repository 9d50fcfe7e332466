//! The scorecard: every call measured against what the price did next (issue 23). Pure except
//! for the [`PriceSource`] it reads the price path through.
//!
//! Definitions (exactly):
//! - *price at x* = the latest price observed at or before x ([`at_or_before`]); never a guessed
//!   price, never one from after x;
//! - *entry* = price at the call, *exit* = price at call + horizon;
//! - *return* = (exit / entry − 1) × 10 000 bps, negated for a short call;
//! - *hit* = return strictly above the cost (`--cost-bps`, default half the spread at the entry
//!   point when known, else 0);
//! - *MFE / MAE* = the largest favourable / adverse move (bps, ≥ 0) seen by a point observed in
//!   (call, call + horizon]; a candle's high/low count only when the whole candle lies after the
//!   call, otherwise its close; `mfe_after_ms` = when the MFE was first reached, after the call;
//! - *gap* = the entry or the exit price is older than `max_gap` (default twice the series' usual
//!   spacing, the median spacing of the symbol's points around its first call; while a symbol
//!   has fewer than two points there is no usual spacing and every outcome is a gap), or there is
//!   none;
//! - *pending* = call + horizon is later than the end of what is known (`as_of_ms`).
//!
//! Scoring streams: calls arrive oldest first and each symbol's price path is read in windows
//! through a cursor, so a year of 5-second mids is never held at once.

pub mod api;
pub mod cli;
pub mod import;
pub mod record;
pub mod track;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::store::{PricePoint, StateStore, StoreError};

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;
/// Groups with fewer resolved calls than this are flagged `low_n`.
pub const MIN_RESOLVED: u64 = 30;
/// Window read from a price source at a time (6 h: 4 320 five-second mids).
pub const CHUNK_MS: i64 = 6 * 3_600_000;
/// Max gap used while a symbol has no usual spacing yet: every price is too old (a gap).
const NO_SPACING: i64 = -1;
/// Span sampled around a symbol's first call to find its usual spacing.
pub const SAMPLE_MS: i64 = 86_400_000;

/// One observation of the price path. For mids `high = low = price` and `from_ms = at_ms`; for a
/// candle `at_ms` is its close time (open + interval: when the close became known), `from_ms` its
/// open, and `high`/`low` its range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// When the price was known, epoch ms.
    pub at_ms: i64,
    /// Start of the interval the point covers, epoch ms (`= at_ms` for a mid).
    pub from_ms: i64,
    /// Price (mid or close), quote currency.
    pub price: f64,
    /// Highest price in the interval.
    pub high: f64,
    /// Lowest price in the interval.
    pub low: f64,
    /// Spread at the point, bps of the mid, when known.
    pub spread_bps: Option<f64>,
}

impl Point {
    /// A mid observed at `at_ms`.
    pub fn mid(at_ms: i64, price: f64, spread_bps: Option<f64>) -> Point {
        Point {
            at_ms,
            from_ms: at_ms,
            price,
            high: price,
            low: price,
            spread_bps,
        }
    }
}

impl From<PricePoint> for Point {
    fn from(p: PricePoint) -> Point {
        Point::mid(p.at_ms, p.mid, p.spread_bps)
    }
}

/// The latest point observed at or before `x` in `points` (sorted by `at_ms`).
pub fn at_or_before(points: &[Point], x: i64) -> Option<&Point> {
    let i = points.partition_point(|p| p.at_ms <= x);
    i.checked_sub(1).map(|i| &points[i])
}

/// Median spacing of consecutive points (ms), `None` under two points.
pub fn median_spacing(points: &[Point]) -> Option<i64> {
    let mut d: Vec<i64> = points
        .windows(2)
        .map(|w| w[1].at_ms - w[0].at_ms)
        .filter(|d| *d > 0)
        .collect();
    if d.is_empty() {
        return None;
    }
    d.sort_unstable();
    Some(d[d.len() / 2])
}

/// Which way a call points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Up.
    Long,
    /// Down.
    Short,
}

impl Side {
    /// `long`/`short`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Long => "long",
            Side::Short => "short",
        }
    }
    /// Parse `long`/`short` (any case; `buy`/`sell` too).
    pub fn parse(s: &str) -> Option<Side> {
        match s.trim().to_ascii_lowercase().as_str() {
            "long" | "buy" | "up" => Some(Side::Long),
            "short" | "sell" | "down" => Some(Side::Short),
            _ => None,
        }
    }
    fn sign(self) -> f64 {
        match self {
            Side::Long => 1.0,
            Side::Short => -1.0,
        }
    }
}

/// A call to score.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreCall {
    /// When it was made (its run), epoch ms.
    pub at_ms: i64,
    /// Symbol.
    pub symbol: String,
    /// Direction.
    pub side: Side,
    /// `watch`/`action` when known.
    pub level: Option<String>,
    /// 0–100 when known.
    pub score: Option<u32>,
    /// Layers that agreed (`book`, `liquidations`, …).
    pub agreeing: Vec<String>,
    /// Rule set name (replay).
    pub rules: Option<String>,
}

/// A horizon: its label as written (`5m`) and its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Horizon {
    /// As written.
    pub label: String,
    /// Length, ms.
    pub ms: i64,
}

/// Why a duration was refused.
#[derive(Debug, thiserror::Error)]
#[error("{var}={value:?} is invalid: {expected}")]
pub struct BadValue {
    /// The flag or variable.
    pub var: String,
    /// The value as given.
    pub value: String,
    /// What is accepted.
    pub expected: &'static str,
}

const DURATION_EXPECTED: &str =
    "a positive duration: an integer with a unit s, m, h, d or w (30s, 5m, 1h, 4h, 30d)";

/// A duration `30s`, `5m`, `1h`, `30d`, `2w` in ms by the one grammar
/// ([`crate::config::duration_within`]), at most ten years; zero refused. `var` names it in the
/// error.
pub fn parse_span(var: &str, value: &str) -> Result<i64, BadValue> {
    const MAX: std::time::Duration = std::time::Duration::from_secs(3650 * 86_400);
    crate::config::duration_within(value, MAX)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| BadValue {
            var: var.to_string(),
            value: value.to_string(),
            expected: DURATION_EXPECTED,
        })
}

/// A comma-separated list of horizons (`5m,15m,1h,4h`), labels kept as written, duplicates
/// refused, sorted by length.
pub fn parse_horizons(var: &str, value: &str) -> Result<Vec<Horizon>, BadValue> {
    let mut out: Vec<Horizon> = Vec::new();
    for part in value.split(',') {
        let label = part.trim();
        let ms = parse_span(var, label).map_err(|_| BadValue {
            var: var.to_string(),
            value: value.to_string(),
            expected: "a comma-separated list of durations, e.g. 5m,15m,1h,4h",
        })?;
        if out.iter().any(|h| h.ms == ms) {
            return Err(BadValue {
                var: var.to_string(),
                value: value.to_string(),
                expected: "distinct horizons",
            });
        }
        out.push(Horizon {
            label: label.to_string(),
            ms,
        });
    }
    out.sort_by_key(|h| h.ms);
    Ok(out)
}

/// The default horizons (`SNIPER_SCORE_HORIZONS` unset).
pub const DEFAULT_HORIZONS: &str = "5m,15m,1h,4h";

/// Outcome of one call at one horizon.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Entry and exit known.
    Resolved {
        /// Return signed by direction, bps.
        ret_bps: f64,
        /// `ret_bps > cost_bps`.
        hit: bool,
        /// The cost it was compared with, bps.
        cost_bps: f64,
        /// Maximum favourable excursion, bps (≥ 0).
        mfe_bps: f64,
        /// Maximum adverse excursion, bps (≥ 0).
        mae_bps: f64,
        /// When the MFE was first reached, ms after the call (`None` when it is 0).
        mfe_after_ms: Option<i64>,
    },
    /// The horizon has not elapsed.
    Pending,
    /// Entry or exit price missing or older than the max gap.
    Gap,
}

/// Outcome of a call at `at_ms` going `side` over `horizon_ms`, from `points` (sorted by
/// `at_ms`; they must cover `[at_ms − max_gap, at_ms + horizon]`). `cost_bps` `None` = half the
/// spread at entry, else 0. `max_gap_ms` `None` (no usual spacing known) makes any missing point a
/// gap but accepts any age.
pub fn outcome(
    points: &[Point],
    at_ms: i64,
    side: Side,
    horizon_ms: i64,
    cost_bps: Option<f64>,
    max_gap_ms: Option<i64>,
    as_of_ms: i64,
) -> Outcome {
    let end = at_ms.saturating_add(horizon_ms);
    if end > as_of_ms {
        return Outcome::Pending;
    }
    let fresh = |p: &Point, x: i64| max_gap_ms.is_none_or(|g| x - p.at_ms <= g);
    let Some(entry) = at_or_before(points, at_ms).filter(|p| fresh(p, at_ms)) else {
        return Outcome::Gap;
    };
    let Some(exit) = at_or_before(points, end).filter(|p| fresh(p, end)) else {
        return Outcome::Gap;
    };
    if !(entry.price > 0.0 && exit.price.is_finite()) {
        return Outcome::Gap;
    }
    let s = side.sign();
    let bps = |p: f64| s * (p / entry.price - 1.0) * 1e4;
    let ret_bps = bps(exit.price);
    let cost = cost_bps.unwrap_or_else(|| entry.spread_bps.map_or(0.0, |x| x / 2.0));
    let lo = points.partition_point(|p| p.at_ms <= at_ms);
    let hi = points.partition_point(|p| p.at_ms <= end);
    let (mut mfe, mut mae, mut mfe_at) = (0.0f64, 0.0f64, None);
    for p in &points[lo..hi] {
        let (a, b) = if p.from_ms >= at_ms {
            (bps(p.high), bps(p.low))
        } else {
            (bps(p.price), bps(p.price))
        };
        let (fav, adv) = (a.max(b), a.min(b));
        if fav > mfe {
            mfe = fav;
            mfe_at = Some(p.at_ms - at_ms);
        }
        mae = mae.max(-adv);
    }
    Outcome::Resolved {
        ret_bps,
        hit: ret_bps > cost,
        cost_bps: cost,
        mfe_bps: mfe,
        mae_bps: mae,
        mfe_after_ms: mfe_at,
    }
}

/// What one call's window of the path holds at one horizon, before a side is chosen: the entry
/// and exit prices, the entry's spread, and the highest / lowest price seen in (call, end] with
/// when each was first reached (ms after the call). `Err` is the side-independent `Pending` or `Gap`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    entry: f64,
    exit: f64,
    spread_bps: Option<f64>,
    high: Option<(f64, i64)>,
    low: Option<(f64, i64)>,
}

/// [`Window`]s of a call at `at_ms` for every horizon (ascending), scanning the path once.
pub fn windows(
    points: &[Point],
    at_ms: i64,
    horizons: &[i64],
    max_gap_ms: Option<i64>,
    as_of_ms: i64,
) -> Vec<Result<Window, Outcome>> {
    let fresh = |p: &Point, x: i64| max_gap_ms.is_none_or(|g| x - p.at_ms <= g);
    let entry = at_or_before(points, at_ms)
        .filter(|p| fresh(p, at_ms))
        .filter(|p| p.price > 0.0);
    let start = points.partition_point(|p| p.at_ms <= at_ms);
    let mut i = start;
    let mut high: Option<(f64, i64)> = None;
    let mut low: Option<(f64, i64)> = None;
    let mut out = Vec::with_capacity(horizons.len());
    for &h in horizons {
        let end = at_ms.saturating_add(h);
        if end > as_of_ms {
            out.push(Err(Outcome::Pending));
            continue;
        }
        let Some(entry) = entry else {
            out.push(Err(Outcome::Gap));
            continue;
        };
        while i < points.len() && points[i].at_ms <= end {
            let p = &points[i];
            let (hi, lo) = if p.from_ms >= at_ms {
                (p.high, p.low)
            } else {
                (p.price, p.price)
            };
            if high.is_none_or(|(v, _)| hi > v) {
                high = Some((hi, p.at_ms - at_ms));
            }
            if low.is_none_or(|(v, _)| lo < v) {
                low = Some((lo, p.at_ms - at_ms));
            }
            i += 1;
        }
        match at_or_before(&points[..i], end).filter(|p| fresh(p, end)) {
            Some(exit) if exit.price.is_finite() => out.push(Ok(Window {
                entry: entry.price,
                exit: exit.price,
                spread_bps: entry.spread_bps,
                high,
                low,
            })),
            _ => out.push(Err(Outcome::Gap)),
        }
    }
    out
}

/// The outcome of a `side` call over window `w` (cost as in [`outcome`]).
pub fn outcome_of(w: &Result<Window, Outcome>, side: Side, cost_bps: Option<f64>) -> Outcome {
    let w = match w {
        Ok(w) => w,
        Err(o) => return *o,
    };
    let s = side.sign();
    let bps = |p: f64| s * (p / w.entry - 1.0) * 1e4;
    let ret_bps = bps(w.exit);
    let cost = cost_bps.unwrap_or_else(|| w.spread_bps.map_or(0.0, |x| x / 2.0));
    let (fav, adv) = match side {
        Side::Long => (w.high, w.low),
        Side::Short => (w.low, w.high),
    };
    let (mut mfe, mut mfe_at) = (0.0, None);
    if let Some((p, t)) = fav
        && bps(p) > 0.0
    {
        mfe = bps(p);
        mfe_at = Some(t);
    }
    let mae = adv.map_or(0.0, |(p, _)| (-bps(p)).max(0.0));
    Outcome::Resolved {
        ret_bps,
        hit: ret_bps > cost,
        cost_bps: cost,
        mfe_bps: mfe,
        mae_bps: mae,
        mfe_after_ms: mfe_at,
    }
}

/// Wilson score interval (95 %) of `hits` out of `n`, as fractions of 1; `None` when `n = 0`.
pub fn wilson95(hits: u64, n: u64) -> Option<[f64; 2]> {
    if n == 0 {
        return None;
    }
    let (n, p) = (n as f64, hits as f64 / n as f64);
    let z2 = Z95 * Z95;
    let den = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / den;
    let half = Z95 / den * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some([(center - half).max(0.0), (center + half).min(1.0)])
}

/// Profit factor: sum of positive returns over the absolute sum of negative ones; `None` without
/// losses.
pub fn profit_factor(rets: &[f64]) -> Option<f64> {
    // Folded from +0.0: an empty `sum()` of floats is -0.0, which would print as "-0.00".
    let win: f64 = rets.iter().filter(|r| **r > 0.0).fold(0.0, |a, r| a + r);
    let loss: f64 = -rets.iter().filter(|r| **r < 0.0).fold(0.0, |a, r| a + r);
    (loss > 0.0).then(|| win / loss)
}

/// Median of `v` (sorted in place); `None` when empty.
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// Running totals of one group at one horizon.
#[derive(Debug, Clone, Default)]
pub struct Acc {
    rets: Vec<f64>,
    hits: u64,
    mfe_sum: f64,
    mae_sum: f64,
    mfe_after_sum: f64,
    mfe_after_n: u64,
    pending: u64,
    gaps: u64,
    chance: (u64, u64),
    long: (u64, u64),
}

impl Acc {
    /// Count one outcome.
    pub fn add(&mut self, o: &Outcome) {
        match *o {
            Outcome::Resolved {
                ret_bps,
                hit,
                mfe_bps,
                mae_bps,
                mfe_after_ms,
                ..
            } => {
                self.rets.push(ret_bps);
                self.hits += u64::from(hit);
                self.mfe_sum += mfe_bps;
                self.mae_sum += mae_bps;
                if let Some(t) = mfe_after_ms {
                    self.mfe_after_sum += t as f64;
                    self.mfe_after_n += 1;
                }
            }
            Outcome::Pending => self.pending += 1,
            Outcome::Gap => self.gaps += 1,
        }
    }

    fn add_baseline(&mut self, long: &Outcome, random: &Outcome) {
        for (slot, o) in [(&mut self.long, long), (&mut self.chance, random)] {
            if let Outcome::Resolved { hit, .. } = o {
                slot.0 += u64::from(*hit);
                slot.1 += 1;
            }
        }
    }

    /// The summary.
    pub fn summary(&self) -> Summary {
        let n = self.rets.len() as u64;
        let mean = (n > 0).then(|| self.rets.iter().sum::<f64>() / n as f64);
        let mut v = self.rets.clone();
        let rate = |(h, n): (u64, u64)| (n > 0).then(|| h as f64 / n as f64);
        Summary {
            n,
            hits: self.hits,
            hit_rate: rate((self.hits, n)),
            ci95: wilson95(self.hits, n),
            mean_bps: mean,
            median_bps: median(&mut v),
            profit_factor: profit_factor(&self.rets),
            mfe_bps: (n > 0).then(|| self.mfe_sum / n as f64),
            mae_bps: (n > 0).then(|| self.mae_sum / n as f64),
            mfe_after_s: (self.mfe_after_n > 0)
                .then(|| self.mfe_after_sum / self.mfe_after_n as f64 / 1000.0),
            pending: self.pending,
            gaps: self.gaps,
            low_n: n < MIN_RESOLVED,
            chance_hit_rate: rate(self.chance),
            long_hit_rate: rate(self.long),
        }
    }
}

/// Aggregate of a group at one horizon. Returns are before costs; hits are after costs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Resolved calls.
    pub n: u64,
    /// Resolved calls whose return beat the cost.
    pub hits: u64,
    /// hits / n (fraction of 1), `null` when n = 0.
    pub hit_rate: Option<f64>,
    /// Wilson 95 % interval of the hit rate, `[low, high]` fractions of 1.
    pub ci95: Option<[f64; 2]>,
    /// Mean signed return, bps.
    pub mean_bps: Option<f64>,
    /// Median signed return, bps.
    pub median_bps: Option<f64>,
    /// Σ gains / |Σ losses| of the signed returns; `null` without losses.
    pub profit_factor: Option<f64>,
    /// Mean maximum favourable excursion, bps.
    pub mfe_bps: Option<f64>,
    /// Mean maximum adverse excursion, bps.
    pub mae_bps: Option<f64>,
    /// Mean time to the MFE, seconds after the call.
    pub mfe_after_s: Option<f64>,
    /// Calls whose horizon has not elapsed.
    pub pending: u64,
    /// Calls with a missing or stale entry/exit price.
    pub gaps: u64,
    /// Fewer than 30 resolved calls: too few to say.
    pub low_n: bool,
    /// Hit rate of a random direction at the same times (what chance gives).
    pub chance_hit_rate: Option<f64>,
    /// Hit rate of always long at the same times.
    pub long_hit_rate: Option<f64>,
}

/// A group key: what it groups by and the value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    /// `level_direction`, `layer`, `symbol`, `score`, `rules`.
    pub by: &'static str,
    /// E.g. `action long`, `book`, `SOL`, `60-79`, `magnet.toml`.
    pub key: String,
}

/// Score bucket of a 0–100 score: `0-19`, `20-39`, `40-59`, `60-79`, `80-100`.
pub fn score_bucket(s: u32) -> &'static str {
    match s {
        0..=19 => "0-19",
        20..=39 => "20-39",
        40..=59 => "40-59",
        60..=79 => "60-79",
        _ => "80-100",
    }
}

/// The groups a call counts in.
pub fn groups_of(c: &ScoreCall) -> Vec<GroupKey> {
    let mut g = Vec::new();
    let k = |by, key: String| GroupKey { by, key };
    g.push(k(
        "level_direction",
        match &c.level {
            Some(l) => format!("{l} {}", c.side.as_str()),
            None => c.side.as_str().to_string(),
        },
    ));
    for l in &c.agreeing {
        g.push(k("layer", l.clone()));
    }
    g.push(k("symbol", c.symbol.clone()));
    if let Some(s) = c.score {
        g.push(k("score", score_bucket(s).to_string()));
    }
    if let Some(r) = &c.rules {
        g.push(k("rules", r.clone()));
    }
    g
}

/// Where price windows come from.
pub trait PriceSource {
    /// Points of `symbol` with `from_ms <= at_ms <= to_ms`, oldest first.
    fn window(&mut self, symbol: &str, from_ms: i64, to_ms: i64) -> Result<Vec<Point>, ScoreError>;
}

/// A store's price path (`StateStore::prices`).
pub struct StorePrices<'a>(pub &'a dyn StateStore);

impl PriceSource for StorePrices<'_> {
    fn window(&mut self, symbol: &str, from_ms: i64, to_ms: i64) -> Result<Vec<Point>, ScoreError> {
        Ok(self
            .0
            .prices(symbol, from_ms, to_ms)?
            .into_iter()
            .map(Point::from)
            .collect())
    }
}

/// One in-memory series used for every symbol (an imported file: one file is one instrument).
pub struct OneSeries(pub Vec<Point>);

impl PriceSource for OneSeries {
    fn window(
        &mut self,
        _symbol: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Point>, ScoreError> {
        let a = self.0.partition_point(|p| p.at_ms < from_ms);
        let b = self.0.partition_point(|p| p.at_ms <= to_ms);
        Ok(self.0[a..b.max(a)].to_vec())
    }
}

/// Why scoring failed.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// Calls must arrive oldest first (the cursors only move forward).
    #[error("calls must be scored oldest first: {symbol} at {at_ms} ms came after {prev_ms} ms")]
    Unsorted {
        /// Symbol of the late call.
        symbol: String,
        /// Its time.
        at_ms: i64,
        /// The previous call's time.
        prev_ms: i64,
    },
    /// Reading the price path failed.
    #[error("reading the price path: {0}")]
    Store(#[from] StoreError),
}

/// How to score.
#[derive(Debug, Clone)]
pub struct Options {
    /// Horizons, shortest first.
    pub horizons: Vec<Horizon>,
    /// Fixed cost, bps; `None` = half the spread at entry where known, else 0.
    pub cost_bps: Option<f64>,
    /// Max age of an entry/exit price, ms; `None` = twice the symbol's median spacing.
    pub max_gap_ms: Option<i64>,
    /// The end of what is known (now, or the end of an imported series), epoch ms.
    pub as_of_ms: i64,
    /// Seed of the random-direction baseline.
    pub seed: u64,
}

struct Cursor {
    points: Vec<Point>,
    start: usize,
    loaded_to: i64,
    max_gap: Option<i64>,
}

/// splitmix64: the seeded generator of the random baseline (one draw per call index).
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Streaming scorer: push calls oldest first, then [`Scorer::finish`].
pub struct Scorer<S: PriceSource> {
    src: S,
    opts: Options,
    cursors: HashMap<String, Cursor>,
    overall: Vec<Acc>,
    groups: BTreeMap<GroupKey, Vec<Acc>>,
    base_long: Vec<Acc>,
    base_random: Vec<Acc>,
    prev_ms: i64,
    calls: u64,
    skipped: u64,
}

impl<S: PriceSource> Scorer<S> {
    /// A scorer reading `src`.
    pub fn new(src: S, opts: Options) -> Scorer<S> {
        let h = opts.horizons.len();
        Scorer {
            src,
            cursors: HashMap::new(),
            overall: vec![Acc::default(); h],
            groups: BTreeMap::new(),
            base_long: vec![Acc::default(); h],
            base_random: vec![Acc::default(); h],
            prev_ms: i64::MIN,
            calls: 0,
            skipped: 0,
            opts,
        }
    }

    /// Count a call that was not scored (another symbol than the price file's).
    pub fn skip(&mut self) {
        self.skipped += 1;
    }

    fn longest(&self) -> i64 {
        self.opts.horizons.last().map_or(0, |h| h.ms)
    }

    /// Score one call (oldest first); its outcome at every horizon, in horizon order.
    pub fn push(&mut self, c: &ScoreCall) -> Result<Vec<Outcome>, ScoreError> {
        if c.at_ms < self.prev_ms {
            return Err(ScoreError::Unsorted {
                symbol: c.symbol.clone(),
                at_ms: c.at_ms,
                prev_ms: self.prev_ms,
            });
        }
        self.prev_ms = c.at_ms;
        let longest = self.longest();
        let need_to = c.at_ms.saturating_add(longest).min(self.opts.as_of_ms);
        if !self.cursors.contains_key(&c.symbol) {
            let back = SAMPLE_MS.max(self.opts.max_gap_ms.unwrap_or(0));
            // Never read past what is known (the sample only sets the usual spacing).
            let to = need_to.max(c.at_ms.saturating_add(SAMPLE_MS).min(self.opts.as_of_ms));
            let points = self
                .src
                .window(&c.symbol, c.at_ms.saturating_sub(back), to)?;
            let max_gap = self
                .opts
                .max_gap_ms
                .or_else(|| median_spacing(&points).map(|s| s * 2));
            self.cursors.insert(
                c.symbol.clone(),
                Cursor {
                    points,
                    start: 0,
                    loaded_to: to,
                    max_gap,
                },
            );
        }
        let Some(cur) = self.cursors.get_mut(&c.symbol) else {
            return Ok(Vec::new());
        };
        if cur.loaded_to < need_to {
            let to = need_to.max(cur.loaded_to.saturating_add(CHUNK_MS));
            let more = self.src.window(&c.symbol, cur.loaded_to + 1, to)?;
            cur.points.extend(more);
            cur.loaded_to = to;
        }
        // Keep the latest point at or before at − max_gap as the oldest (an entry may need it).
        let keep_from = c.at_ms - cur.max_gap.unwrap_or(SAMPLE_MS);
        let live = &cur.points[cur.start..];
        let drop = live
            .partition_point(|p| p.at_ms < keep_from)
            .saturating_sub(1);
        cur.start += drop;
        if cur.start > 4096 && cur.start * 2 > cur.points.len() {
            cur.points.drain(..cur.start);
            cur.start = 0;
        }
        if cur.max_gap.is_none() {
            // No usual spacing known yet (fewer than two points so far): try what is loaded now.
            cur.max_gap = median_spacing(&cur.points[cur.start..]).map(|s| s * 2);
        }
        let pts = &cur.points[cur.start..];
        // Without a usual spacing every price counts as stale: gaps, never a guessed price.
        let gap = Some(cur.max_gap.unwrap_or(NO_SPACING));
        let (cost, as_of) = (self.opts.cost_bps, self.opts.as_of_ms);
        let random = if splitmix(self.opts.seed ^ self.calls) & 1 == 0 {
            Side::Long
        } else {
            Side::Short
        };
        let keys = groups_of(c);
        let hs: Vec<i64> = self.opts.horizons.iter().map(|h| h.ms).collect();
        let ws = windows(pts, c.at_ms, &hs, gap, as_of);
        let mut out = Vec::with_capacity(self.opts.horizons.len());
        for (i, w) in ws.iter().enumerate() {
            let o = outcome_of(w, c.side, cost);
            let ol = outcome_of(w, Side::Long, cost);
            let or = outcome_of(w, random, cost);
            self.overall[i].add(&o);
            self.overall[i].add_baseline(&ol, &or);
            self.base_long[i].add(&ol);
            self.base_random[i].add(&or);
            for k in &keys {
                let accs = self
                    .groups
                    .entry(k.clone())
                    .or_insert_with(|| vec![Acc::default(); self.opts.horizons.len()]);
                accs[i].add(&o);
                accs[i].add_baseline(&ol, &or);
            }
            out.push(o);
        }
        self.calls += 1;
        Ok(out)
    }

    /// The scorecard.
    pub fn finish(self) -> Scorecard {
        let per = |accs: &[Acc]| -> BTreeMap<String, Summary> {
            self.opts
                .horizons
                .iter()
                .zip(accs)
                .map(|(h, a)| (h.label.clone(), a.summary()))
                .collect()
        };
        Scorecard {
            horizons: self.opts.horizons.iter().map(|h| h.label.clone()).collect(),
            cost_bps: self.opts.cost_bps,
            max_gap_s: self.opts.max_gap_ms.map(|g| g as f64 / 1000.0),
            as_of_ms: self.opts.as_of_ms,
            calls: self.calls,
            skipped: self.skipped,
            overall: per(&self.overall),
            groups: self
                .groups
                .iter()
                .map(|(k, a)| Group {
                    by: k.by,
                    key: k.key.clone(),
                    horizons: per(a),
                })
                .collect(),
            baseline: Baseline {
                seed: self.opts.seed,
                long: per(&self.base_long),
                random: per(&self.base_random),
            },
            sandbox: false,
        }
    }
}

/// One group's aggregates: `{"by", "key", "<horizon>": Summary, …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// What it groups by.
    pub by: &'static str,
    /// The value.
    pub key: String,
    /// Per horizon label.
    #[serde(flatten)]
    pub horizons: BTreeMap<String, Summary>,
}

/// The baselines from the same times as the calls.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// Seed of the random direction.
    pub seed: u64,
    /// Always long, per horizon.
    pub long: BTreeMap<String, Summary>,
    /// Random direction, per horizon.
    pub random: BTreeMap<String, Summary>,
}

/// The scorecard document (`sniper score --json`, `GET /api/scorecard`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    /// Horizon labels, shortest first.
    pub horizons: Vec<String>,
    /// Fixed cost, bps (`null`: half the spread at entry where known, else 0).
    pub cost_bps: Option<f64>,
    /// Fixed max gap, seconds (`null`: twice each symbol's usual spacing).
    pub max_gap_s: Option<f64>,
    /// End of what was known, epoch ms.
    pub as_of_ms: i64,
    /// Calls scored.
    pub calls: u64,
    /// Calls not scored (another instrument than the price file's).
    pub skipped: u64,
    /// All calls, per horizon label.
    pub overall: BTreeMap<String, Summary>,
    /// Per group.
    pub groups: Vec<Group>,
    /// Same times, always long and random direction.
    pub baseline: Baseline,
    /// Scored on sandbox data (not real).
    pub sandbox: bool,
}

impl Scorecard {
    /// The group `by`/`key`, if any call fell in it.
    pub fn group(&self, by: &str, key: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.by == by && g.key == key)
    }
}

/// Score `calls` (any order; sorted here by time, stable) against `src`.
pub fn score_all<S: PriceSource>(
    src: S,
    opts: Options,
    calls: &mut [ScoreCall],
) -> Result<Scorecard, ScoreError> {
    calls.sort_by_key(|c| c.at_ms);
    let mut s = Scorer::new(src, opts);
    for c in calls.iter() {
        s.push(c)?;
    }
    Ok(s.finish())
}

#[cfg(test)]
mod tests;
