//! Pure grading: each layer of a symbol's features graded none / watch / action with a direction,
//! and their confluence into one call with a 0–100 score.

use serde::{Deserialize, Serialize};

use crate::market::{Direction, SymbolFeatures};

use super::rules::Rules;

/// How strong a grade is. Ordered: `None < Watch < Action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Nothing to say.
    None,
    /// Worth watching.
    Watch,
    /// Worth acting on.
    Action,
}

impl Level {
    /// Wire name: `none`, `watch`, `action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Watch => "watch",
            Level::Action => "action",
        }
    }
    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Level> {
        [Level::None, Level::Watch, Level::Action]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
    /// One step down (action → watch → none).
    pub fn down(self) -> Level {
        match self {
            Level::Action => Level::Watch,
            _ => Level::None,
        }
    }
    /// Strength in the score: none 0, watch 0.5, action 1.
    fn strength(self) -> f64 {
        match self {
            Level::None => 0.0,
            Level::Watch => 0.5,
            Level::Action => 1.0,
        }
    }
}

/// Wire name of a direction: `long`, `short`, `none`.
pub fn dir_str(d: Direction) -> &'static str {
    match d {
        Direction::Long => "long",
        Direction::Short => "short",
        Direction::Neutral => "none",
    }
}

/// Parse `long`/`short`/`none`.
pub fn parse_dir(s: &str) -> Option<Direction> {
    match s {
        "long" => Some(Direction::Long),
        "short" => Some(Direction::Short),
        "none" | "neutral" => Some(Direction::Neutral),
        _ => None,
    }
}

fn opposite(d: Direction) -> Direction {
    match d {
        Direction::Long => Direction::Short,
        Direction::Short => Direction::Long,
        Direction::Neutral => Direction::Neutral,
    }
}

/// The five layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Order book imbalance and walls.
    Book,
    /// Liquidation magnet.
    Liquidations,
    /// Whale net flow.
    Whales,
    /// ETF flow.
    Etf,
    /// Institutional bias.
    Bias,
}

impl Layer {
    /// All layers, in display order.
    pub const ALL: [Layer; 5] = [
        Layer::Book,
        Layer::Liquidations,
        Layer::Whales,
        Layer::Etf,
        Layer::Bias,
    ];
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Book => "book",
            Layer::Liquidations => "liquidations",
            Layer::Whales => "whales",
            Layer::Etf => "etf",
            Layer::Bias => "bias",
        }
    }
    fn weight(self, r: &Rules) -> f64 {
        let w = &r.confluence.weights;
        match self {
            Layer::Book => w.book,
            Layer::Liquidations => w.liquidations,
            Layer::Whales => w.whales,
            Layer::Etf => w.etf,
            Layer::Bias => w.bias,
        }
    }
}

/// One layer's grade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerGrade {
    /// Which layer.
    pub layer: Layer,
    /// How strong.
    pub level: Level,
    /// Which way (`Neutral` when the level is none or the layer has no side).
    pub direction: Direction,
    /// The numbers the grade was made from, for people (`imbalance +0.31, bid wall 7.2× at -42 bps`).
    pub detail: String,
}

impl LayerGrade {
    fn none(layer: Layer, detail: impl Into<String>) -> LayerGrade {
        LayerGrade {
            layer,
            level: Level::None,
            direction: Direction::Neutral,
            detail: detail.into(),
        }
    }
}

/// A graded call for one symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// The confluence level.
    pub level: Level,
    /// The direction (`Neutral` when level is none).
    pub direction: Direction,
    /// 0–100: weighted strength of the agreeing layers minus the opposing ones, over all weights.
    pub score: u32,
    /// The layers that agree with `direction` (what made the call).
    pub agreeing: Vec<Layer>,
    /// Every layer's grade, in [`Layer::ALL`] order.
    pub layers: Vec<LayerGrade>,
    /// The book's mid price when known.
    pub mid: Option<f64>,
}

fn sign_dir(x: f64) -> Direction {
    if x > 0.0 {
        Direction::Long
    } else if x < 0.0 {
        Direction::Short
    } else {
        Direction::Neutral
    }
}

fn graded(layer: Layer, level: Level, direction: Direction, detail: String) -> LayerGrade {
    if level == Level::None || direction == Direction::Neutral {
        return LayerGrade::none(layer, detail);
    }
    LayerGrade {
        layer,
        level,
        direction,
        detail,
    }
}

/// Order book: the 1 % imbalance's sign is the direction; |imbalance| ≥ `imbalance_watch` is
/// watch, ≥ `imbalance_action` is action; a wall (≥ `wall_ratio` × median, within `wall_max_bps`)
/// on the supporting side (a bid wall supports long, an ask wall short) lifts watch to action, and
/// alone (imbalance below watch, a wall on one side only) is watch.
pub fn grade_book(f: &SymbolFeatures, r: &Rules) -> LayerGrade {
    let Some(b) = &f.book else {
        return LayerGrade::none(Layer::Book, "no book");
    };
    let rb = &r.book;
    let imb = b
        .bands
        .iter()
        .find(|x| (x.pct - 1.0).abs() < 1e-9)
        .and_then(|x| x.imbalance);
    let is_wall = |w: &Option<crate::market::Wall>| {
        w.as_ref().is_some_and(|w| {
            w.ratio_to_median >= rb.wall_ratio && w.distance_bps.abs() <= rb.wall_max_bps
        })
    };
    let (bid_wall, ask_wall) = (is_wall(&b.bid_wall), is_wall(&b.ask_wall));
    let mut detail = match imb {
        Some(i) => format!("imbalance {}", crate::numfmt::signed(i, 2)),
        None => "imbalance n/a".to_string(),
    };
    for (side, w, yes) in [
        ("bid", &b.bid_wall, bid_wall),
        ("ask", &b.ask_wall, ask_wall),
    ] {
        if let (Some(w), true) = (w, yes) {
            detail.push_str(&format!(
                ", {side} wall {:.1}× at {:+.0} bps",
                w.ratio_to_median, w.distance_bps
            ));
        }
    }
    let i = imb.unwrap_or(0.0);
    if i.abs() >= rb.imbalance_watch && i != 0.0 {
        let dir = sign_dir(i);
        let supporting_wall = match dir {
            Direction::Long => bid_wall,
            _ => ask_wall,
        };
        let level = if i.abs() >= rb.imbalance_action || supporting_wall {
            Level::Action
        } else {
            Level::Watch
        };
        return graded(Layer::Book, level, dir, detail);
    }
    match (bid_wall, ask_wall) {
        (true, false) => graded(Layer::Book, Level::Watch, Direction::Long, detail),
        (false, true) => graded(Layer::Book, Level::Watch, Direction::Short, detail),
        _ => LayerGrade::none(Layer::Book, detail),
    }
}

/// Liquidation magnet: of the nearest cluster above and below the mid, those holding at least
/// `min_notional_usd` count; one within `action_bps` is action, within `watch_bps` watch; the
/// strongest (then nearest) wins. Read as `resistance` (default) below the mid supports long and
/// above supports short; read as `magnet` (`liquidations.reading`) the other way round.
pub fn grade_liquidations(f: &SymbolFeatures, r: &Rules) -> LayerGrade {
    let Some(l) = &f.liquidations else {
        return LayerGrade::none(Layer::Liquidations, "no liquidation levels");
    };
    let rl = &r.liquidations;
    let mut best: Option<(Level, f64, Direction, String)> = None;
    let (below, above) = match rl.reading {
        super::rules::LiqReading::Resistance => (Direction::Long, Direction::Short),
        super::rules::LiqReading::Magnet => (Direction::Short, Direction::Long),
    };
    for (c, dir) in [(&l.nearest_below, below), (&l.nearest_above, above)] {
        let Some(c) = c else { continue };
        let d = c.distance_bps.abs();
        let level = if c.notional_usd < rl.min_notional_usd {
            Level::None
        } else if d <= rl.action_bps {
            Level::Action
        } else if d <= rl.watch_bps {
            Level::Watch
        } else {
            Level::None
        };
        let text = format!(
            "cluster {} at {} bps",
            crate::numfmt::money(c.notional_usd, false),
            crate::numfmt::signed(c.distance_bps, 0)
        );
        let better = match &best {
            None => true,
            Some((bl, bd, _, _)) => level > *bl || (level == *bl && d < *bd),
        };
        if better {
            best = Some((level, d, dir, text));
        }
    }
    match best {
        Some((level, _, dir, text)) => graded(Layer::Liquidations, level, dir, text),
        None => LayerGrade::none(Layer::Liquidations, "no cluster"),
    }
}

/// Whale flow: |net notional| ≥ `watch_usd` is watch, ≥ `action_usd` action; sign is direction.
pub fn grade_whales(f: &SymbolFeatures, r: &Rules) -> LayerGrade {
    let Some(w) = &f.whales else {
        return LayerGrade::none(Layer::Whales, "no whale alerts");
    };
    let n = w.net_notional_usd;
    let level = if n.abs() >= r.whales.action_usd {
        Level::Action
    } else if n.abs() >= r.whales.watch_usd {
        Level::Watch
    } else {
        Level::None
    };
    let detail = format!(
        "net {} over {} alerts",
        crate::numfmt::money(n, true),
        w.count
    );
    graded(Layer::Whales, level, sign_dir(n), detail)
}

/// ETF: the latest day's sign is the direction when |latest| > `min_flow_usd`; watch when
/// |latest / prior 7-day mean| ≥ `watch_ratio` (or no ratio exists yet), action when ≥
/// `action_ratio`.
pub fn grade_etf(f: &SymbolFeatures, r: &Rules) -> LayerGrade {
    let Some(e) = &f.etf else {
        return LayerGrade::none(Layer::Etf, "no ETF flows");
    };
    let x = e.latest_net_flow_usd;
    let detail = match e.ratio_to_prior_7d_mean_abs {
        Some(q) => format!(
            "{} {} ({}× 7d mean)",
            e.latest_date,
            crate::numfmt::money(x, true),
            crate::numfmt::signed(q, 1)
        ),
        None => format!("{} {}", e.latest_date, crate::numfmt::money(x, true)),
    };
    if x.abs() <= r.etf.min_flow_usd {
        return LayerGrade::none(Layer::Etf, detail);
    }
    let level = match e.ratio_to_prior_7d_mean_abs.map(f64::abs) {
        Some(q) if q >= r.etf.action_ratio => Level::Action,
        Some(q) if q >= r.etf.watch_ratio => Level::Watch,
        Some(_) => Level::None,
        None => Level::Watch,
    };
    graded(Layer::Etf, level, sign_dir(x), detail)
}

/// Bias: |score| ≥ `watch_score` is watch, ≥ `action_score` action; the score's sign is direction.
pub fn grade_bias(f: &SymbolFeatures, r: &Rules) -> LayerGrade {
    let Some(b) = &f.bias else {
        return LayerGrade::none(Layer::Bias, "no bias");
    };
    let s = b.score;
    let level = if s.abs() >= r.bias.action_score {
        Level::Action
    } else if s.abs() >= r.bias.watch_score {
        Level::Watch
    } else {
        Level::None
    };
    graded(
        Layer::Bias,
        level,
        sign_dir(s),
        format!("score {}", crate::numfmt::signed(s, 2)),
    )
}

/// Grade every layer of `f`.
pub fn grade_layers(f: &SymbolFeatures, r: &Rules) -> Vec<LayerGrade> {
    vec![
        grade_book(f, r),
        grade_liquidations(f, r),
        grade_whales(f, r),
        grade_etf(f, r),
        grade_bias(f, r),
    ]
}

/// Confluence of graded layers.
///
/// The direction is the one more layers (watch or action) point to, ties broken by weighted
/// strength (an exact tie is no call). With `agree` layers that way: action when at least one is
/// action and `agree ≥ action_min_agree`; watch when `agree ≥ watch_min_agree`; else none. An
/// action layer pointing the other way lowers the level one step. Score: `100 × (Σ weight ×
/// strength of agreeing − Σ of opposing) / Σ all weights`, clamped to 0–100 (strength: watch ½,
/// action 1); 0 when there is no call.
pub fn confluence(layers: Vec<LayerGrade>, r: &Rules, mid: Option<f64>) -> Call {
    let c = &r.confluence;
    let total_w: f64 = Layer::ALL.iter().map(|l| l.weight(r)).sum();
    let side = |d: Direction| {
        let ls: Vec<&LayerGrade> = layers
            .iter()
            .filter(|g| g.level > Level::None && g.direction == d)
            .collect();
        let w: f64 = ls
            .iter()
            .map(|g| g.layer.weight(r) * g.level.strength())
            .sum();
        (ls.len(), w)
    };
    let (nl, wl) = side(Direction::Long);
    let (ns, ws) = side(Direction::Short);
    let dir = match (nl, wl).partial_cmp(&(ns, ws)) {
        Some(std::cmp::Ordering::Greater) => Direction::Long,
        Some(std::cmp::Ordering::Less) => Direction::Short,
        _ => Direction::Neutral,
    };
    let none = |layers| Call {
        level: Level::None,
        direction: Direction::Neutral,
        score: 0,
        agreeing: Vec::new(),
        layers,
        mid,
    };
    if dir == Direction::Neutral {
        return none(layers);
    }
    let agreeing: Vec<Layer> = layers
        .iter()
        .filter(|g| g.level > Level::None && g.direction == dir)
        .map(|g| g.layer)
        .collect();
    let agree = agreeing.len() as u32;
    let any_action = layers
        .iter()
        .any(|g| g.level == Level::Action && g.direction == dir);
    let mut level = if any_action && agree >= c.action_min_agree {
        Level::Action
    } else if agree >= c.watch_min_agree {
        Level::Watch
    } else {
        Level::None
    };
    let opposing_action = layers
        .iter()
        .any(|g| g.level == Level::Action && g.direction == opposite(dir));
    if opposing_action {
        level = level.down();
    }
    if level == Level::None {
        return none(layers);
    }
    let (wa, wo) = match dir {
        Direction::Long => (wl, ws),
        _ => (ws, wl),
    };
    let score = if total_w > 0.0 {
        (100.0 * (wa - wo) / total_w).round().clamp(0.0, 100.0) as u32
    } else {
        0
    };
    Call {
        level,
        direction: dir,
        score,
        agreeing,
        layers,
        mid,
    }
}

/// Grade a symbol's features under `rules`.
pub fn grade(f: &SymbolFeatures, rules: &Rules) -> Call {
    confluence(
        grade_layers(f, rules),
        rules,
        f.book.as_ref().map(|b| b.mid),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::{
        BiasFeatures, BookFeatures, Cluster, DepthBand, EtfFeatures, LiqFeatures, Wall,
        WhaleFeatures,
    };
    use proptest::prelude::*;

    fn r() -> Rules {
        Rules::default()
    }

    fn book(
        imb: Option<f64>,
        bid_wall: Option<(f64, f64)>,
        ask_wall: Option<(f64, f64)>,
    ) -> SymbolFeatures {
        let wall = |(ratio, bps): (f64, f64)| Wall {
            price: 100.0,
            size: 1.0,
            ratio_to_median: ratio,
            distance_bps: bps,
        };
        SymbolFeatures {
            book: Some(BookFeatures {
                mid: 100.0,
                spread_bps: 1.0,
                bands: vec![DepthBand {
                    pct: 1.0,
                    bid_notional_usd: 1.0,
                    ask_notional_usd: 1.0,
                    imbalance: imb,
                }],
                reach_pct: Some(2.0),
                bid_wall: bid_wall.map(wall),
                ask_wall: ask_wall.map(wall),
                venue: None,
                note: None,
            }),
            ..Default::default()
        }
    }

    fn lv(g: &LayerGrade) -> (Level, Direction) {
        (g.level, g.direction)
    }
    use Direction::{Long as L, Neutral as N, Short as S};
    use Level::{Action as A, None as No, Watch as Wt};

    #[test]
    fn book_boundaries() {
        let cases = [
            (book(None, None, None), (No, N)),
            (book(Some(0.1999), None, None), (No, N)),
            (book(Some(0.2), None, None), (Wt, L)),
            (book(Some(-0.2), None, None), (Wt, S)),
            (book(Some(0.3999), None, None), (Wt, L)),
            (book(Some(0.4), None, None), (A, L)),
            (book(Some(-0.4), None, None), (A, S)),
            // a supporting wall lifts watch to action; an opposing one does not
            (book(Some(0.25), Some((6.0, -50.0)), None), (A, L)),
            (book(Some(0.25), Some((5.99, -50.0)), None), (Wt, L)),
            (book(Some(0.25), None, Some((10.0, 50.0))), (Wt, L)),
            // a wall beyond 100 bps does not count
            (book(Some(0.25), Some((9.0, -100.01)), None), (Wt, L)),
            (book(Some(0.25), Some((9.0, -100.0)), None), (A, L)),
            // wall alone: watch its way; walls both sides cancel
            (book(Some(0.0), None, Some((6.0, 20.0))), (Wt, S)),
            (book(None, Some((6.0, -20.0)), None), (Wt, L)),
            (
                book(Some(0.0), Some((6.0, -20.0)), Some((6.0, 20.0))),
                (No, N),
            ),
        ];
        for (i, (f, want)) in cases.iter().enumerate() {
            assert_eq!(lv(&grade_book(f, &r())), *want, "case {i}");
        }
    }

    fn liq(below: Option<(f64, f64)>, above: Option<(f64, f64)>) -> SymbolFeatures {
        let c = |(usd, bps): (f64, f64)| Cluster {
            price: 100.0 * (1.0 + bps / 1e4),
            notional_usd: usd,
            distance_bps: bps,
        };
        SymbolFeatures {
            liquidations: Some(LiqFeatures {
                mid: 100.0,
                nearest_above: above.map(c),
                nearest_below: below.map(c),
                within_1pct_usd: 0.0,
                within_2pct_usd: 0.0,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn liquidation_boundaries() {
        let cases = [
            (liq(None, None), (No, N)),
            (liq(Some((1e6, -50.0)), None), (A, L)),
            (liq(Some((999_999.0, -10.0)), None), (No, N)),
            (liq(Some((1e6, -50.01)), None), (Wt, L)),
            (liq(Some((1e6, -100.0)), None), (Wt, L)),
            (liq(Some((1e6, -100.01)), None), (No, N)),
            (liq(None, Some((2e6, 50.0))), (A, S)),
            // the stronger wins; at equal level the nearer
            (liq(Some((2e6, -80.0)), Some((2e6, 40.0))), (A, S)),
            (liq(Some((2e6, -60.0)), Some((2e6, 70.0))), (Wt, L)),
            // a tiny nearer cluster does not hide a big one on the other side
            (liq(Some((10.0, -1.0)), Some((5e6, 30.0))), (A, S)),
        ];
        for (i, (f, want)) in cases.iter().enumerate() {
            assert_eq!(lv(&grade_liquidations(f, &r())), *want, "case {i}");
        }
    }

    #[test]
    fn liquidation_magnet_reading_flips_the_side() {
        let mut m = r();
        m.liquidations.reading = crate::signals::rules::LiqReading::Magnet;
        let cases = [
            (liq(Some((1e6, -50.0)), None), (A, S)),
            (liq(None, Some((2e6, 50.0))), (A, L)),
            (liq(Some((2e6, -60.0)), Some((2e6, 70.0))), (Wt, S)),
            (liq(Some((1e6, -100.01)), None), (No, N)),
        ];
        for (i, (f, want)) in cases.iter().enumerate() {
            assert_eq!(lv(&grade_liquidations(f, &m)), *want, "case {i}");
        }
    }

    fn whales(net: f64) -> SymbolFeatures {
        SymbolFeatures {
            whales: Some(WhaleFeatures {
                window_secs: 3600,
                count: 2,
                net_notional_usd: net,
                largest: None,
            }),
            ..Default::default()
        }
    }

    fn etf(latest: f64, ratio: Option<f64>) -> SymbolFeatures {
        SymbolFeatures {
            etf: Some(EtfFeatures {
                latest_date: "2026-11-27".into(),
                latest_net_flow_usd: latest,
                sum_7d_usd: 0.0,
                days_in_sum: 7,
                ratio_to_prior_7d_mean_abs: ratio,
            }),
            ..Default::default()
        }
    }

    fn bias(score: f64) -> SymbolFeatures {
        SymbolFeatures {
            bias: Some(BiasFeatures {
                direction: Direction::Neutral,
                score,
                confidence: None,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn whale_etf_bias_boundaries() {
        let w = [
            (999_999.0, (No, N)),
            (1e6, (Wt, L)),
            (-1e6, (Wt, S)),
            (4_999_999.0, (Wt, L)),
            (5e6, (A, L)),
            (-5e6, (A, S)),
        ];
        for (net, want) in w {
            assert_eq!(lv(&grade_whales(&whales(net), &r())), want, "whales {net}");
        }
        let e = [
            (0.0, Some(5.0), (No, N)),
            (1.0, None, (Wt, L)),
            (-1.0, None, (Wt, S)),
            (1e8, Some(0.99), (No, N)),
            (1e8, Some(1.0), (Wt, L)),
            (-1e8, Some(-1.99), (Wt, S)),
            (-1e8, Some(-2.0), (A, S)),
            (1e8, Some(2.0), (A, L)),
        ];
        for (x, q, want) in e {
            assert_eq!(lv(&grade_etf(&etf(x, q), &r())), want, "etf {x} {q:?}");
        }
        let b = [
            (0.1999, (No, N)),
            (0.2, (Wt, L)),
            (-0.2, (Wt, S)),
            (0.5, (A, L)),
            (-0.4999, (Wt, S)),
            (-0.5, (A, S)),
        ];
        for (s, want) in b {
            assert_eq!(lv(&grade_bias(&bias(s), &r())), want, "bias {s}");
        }
    }

    fn g(layer: Layer, level: Level, direction: Direction) -> LayerGrade {
        LayerGrade {
            layer,
            level,
            direction: if level == Level::None { N } else { direction },
            detail: String::new(),
        }
    }

    fn conf(grades: [(Level, Direction); 5]) -> Call {
        let layers = Layer::ALL
            .iter()
            .zip(grades)
            .map(|(l, (lv, d))| g(*l, lv, d))
            .collect();
        confluence(layers, &r(), None)
    }

    #[test]
    fn confluence_table() {
        type Case = ([(Level, Direction); 5], Level, Direction, u32);
        let cases: [Case; 10] = [
            ([(No, N); 5], No, N, 0),
            // one layer is never a call
            ([(A, L), (No, N), (No, N), (No, N), (No, N)], No, N, 0),
            // two agree: watch
            ([(Wt, L), (Wt, L), (No, N), (No, N), (No, N)], Wt, L, 20),
            // two agree with an action: still watch (action needs 3)
            ([(A, L), (Wt, L), (No, N), (No, N), (No, N)], Wt, L, 30),
            // three agree, none action: watch
            ([(Wt, S), (Wt, S), (Wt, S), (No, N), (No, N)], Wt, S, 30),
            // three agree with an action: action
            ([(A, S), (Wt, S), (Wt, S), (No, N), (No, N)], A, S, 40),
            // an opposing action downgrades action → watch, score net of it
            ([(A, L), (Wt, L), (Wt, L), (A, S), (No, N)], Wt, L, 20),
            // an opposing watch does not downgrade
            ([(A, L), (Wt, L), (Wt, L), (Wt, S), (No, N)], A, L, 30),
            // two vs two: a tie in count and weight is no call
            ([(Wt, L), (Wt, L), (Wt, S), (Wt, S), (No, N)], No, N, 0),
            // everything long and action: 100
            ([(A, L); 5], A, L, 100),
        ];
        for (i, (gr, lvl, dir, score)) in cases.into_iter().enumerate() {
            let c = conf(gr);
            assert_eq!(
                (c.level, c.direction, c.score),
                (lvl, dir, score),
                "case {i}"
            );
        }
    }

    #[test]
    fn opposing_action_downgrades_watch_to_none() {
        let c = conf([(Wt, L), (Wt, L), (A, S), (No, N), (No, N)]);
        assert_eq!((c.level, c.direction), (No, N));
    }

    fn grade_strategy() -> impl Strategy<Value = (Level, Direction)> {
        prop_oneof![
            Just((No, N)),
            Just((Wt, L)),
            Just((Wt, S)),
            Just((A, L)),
            Just((A, S)),
        ]
    }

    proptest! {
        /// Turning a silent layer into one agreeing with the call never lowers its level or score.
        #[test]
        fn agreeing_layer_never_lowers(
            gr in proptest::array::uniform5(grade_strategy()),
            pick in 0usize..5,
            strong in any::<bool>(),
        ) {
            let before = conf(gr);
            prop_assume!(before.direction != N);
            let silent: Vec<usize> = (0..5).filter(|i| gr[*i].0 == No).collect();
            prop_assume!(!silent.is_empty());
            let i = silent[pick % silent.len()];
            let mut after = gr;
            after[i] = (if strong { A } else { Wt }, before.direction);
            let a = conf(after);
            prop_assert!(a.level >= before.level, "{:?} -> {:?}", before.level, a.level);
            prop_assert!(a.score >= before.score);
            prop_assert_eq!(a.direction, before.direction);
        }
    }
}
