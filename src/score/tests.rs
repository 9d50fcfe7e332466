use super::*;
use proptest::prelude::*;

fn mids(v: &[(i64, f64)]) -> Vec<Point> {
    v.iter().map(|&(t, p)| Point::mid(t, p, None)).collect()
}

fn resolved(o: Outcome) -> (f64, bool, f64, f64, Option<i64>) {
    match o {
        Outcome::Resolved {
            ret_bps,
            hit,
            mfe_bps,
            mae_bps,
            mfe_after_ms,
            ..
        } => (ret_bps, hit, mfe_bps, mae_bps, mfe_after_ms),
        other => panic!("not resolved: {other:?}"),
    }
}

#[test]
fn price_lookup_is_latest_at_or_before() {
    let p = mids(&[(10, 1.0), (20, 2.0), (30, 3.0)]);
    assert_eq!(at_or_before(&p, 9), None);
    assert_eq!(at_or_before(&p, 10).map(|p| p.price), Some(1.0));
    assert_eq!(at_or_before(&p, 29).map(|p| p.price), Some(2.0));
    assert_eq!(at_or_before(&p, 99).map(|p| p.price), Some(3.0));
}

#[test]
fn returns_and_excursions_hand_computed() {
    // Entry 100 at t=0; path 101, 98, 102, 100.5 at 10..40; horizon 40.
    let p = mids(&[
        (0, 100.0),
        (10, 101.0),
        (20, 98.0),
        (30, 102.0),
        (40, 100.5),
    ]);
    // Long: +50 bps, MFE +200 at 30, MAE 200 (98).
    let (r, hit, mfe, mae, at) =
        resolved(outcome(&p, 0, Side::Long, 40, Some(0.0), Some(20), 1000));
    assert!((r - 50.0).abs() < 1e-9, "{r}");
    assert!(hit);
    assert!((mfe - 200.0).abs() < 1e-9 && (mae - 200.0).abs() < 1e-9);
    assert_eq!(at, Some(30));
    // Short: −50 bps, MFE 200 at 20, MAE 200.
    let (r, hit, mfe, mae, at) =
        resolved(outcome(&p, 0, Side::Short, 40, Some(0.0), Some(20), 1000));
    assert!((r + 50.0).abs() < 1e-9);
    assert!(!hit);
    assert!((mfe - 200.0).abs() < 1e-9 && (mae - 200.0).abs() < 1e-9);
    assert_eq!(at, Some(20));
    // Cost 60 bps: the long's +50 is no longer a hit.
    let (_, hit, ..) = resolved(outcome(&p, 0, Side::Long, 40, Some(60.0), Some(20), 1000));
    assert!(!hit);
    // Exit between points: price at 35 is the one at 30 (102): +200 bps.
    let (r, ..) = resolved(outcome(&p, 5, Side::Long, 30, Some(0.0), Some(20), 1000));
    assert!((r - 200.0).abs() < 1e-9, "{r}");
}

#[test]
fn default_cost_is_half_the_spread_at_entry() {
    let p = vec![
        Point::mid(0, 100.0, Some(10.0)),
        Point::mid(10, 100.04, None),
    ];
    // +4 bps < 5 bps (half of 10): not a hit.
    match outcome(&p, 0, Side::Long, 10, None, Some(20), 100) {
        Outcome::Resolved { hit, cost_bps, .. } => {
            assert!(!hit);
            assert_eq!(cost_bps, 5.0);
        }
        o => panic!("{o:?}"),
    }
}

#[test]
fn gaps_and_pending() {
    let p = mids(&[(0, 100.0), (10, 101.0), (100, 102.0)]);
    // Exit at 50: latest is at 10, 40 old > max gap 20 → gap.
    assert_eq!(
        outcome(&p, 0, Side::Long, 50, Some(0.0), Some(20), 1000),
        Outcome::Gap
    );
    // Entry at 80: latest at 10 is 70 old → gap.
    assert_eq!(
        outcome(&p, 80, Side::Long, 20, Some(0.0), Some(20), 1000),
        Outcome::Gap
    );
    // No price before the call at all → gap.
    assert_eq!(
        outcome(&p, -5, Side::Long, 5, Some(0.0), Some(20), 1000),
        Outcome::Gap
    );
    // Horizon beyond what is known → pending (even when the exit would be a gap).
    assert_eq!(
        outcome(&p, 0, Side::Long, 50, Some(0.0), Some(20), 49),
        Outcome::Pending
    );
    // Exactly at the max gap is still fresh.
    assert!(matches!(
        outcome(&p, 0, Side::Long, 30, Some(0.0), Some(20), 1000),
        Outcome::Resolved { .. }
    ));
}

#[test]
fn candle_range_counts_only_after_the_call() {
    // A candle open 0 close 60 (known at 60): high 110, low 90, close 100.
    let c = Point {
        at_ms: 60,
        from_ms: 0,
        price: 101.0,
        high: 110.0,
        low: 90.0,
        spread_bps: None,
    };
    let entry = Point::mid(0, 100.0, None);
    // A call at 30 sees only the candle's close (its range includes time before the call).
    let p = vec![entry, c];
    let (r, _, mfe, mae, _) = resolved(outcome(&p, 30, Side::Long, 60, Some(0.0), None, 1000));
    assert!((r - 100.0).abs() < 1e-9 && (mfe - 100.0).abs() < 1e-9 && mae == 0.0);
    // A call at 0 sees the range: MFE 1000, MAE 1000.
    let (_, _, mfe, mae, _) = resolved(outcome(&p, 0, Side::Long, 60, Some(0.0), None, 1000));
    assert!((mfe - 1000.0).abs() < 1e-9 && (mae - 1000.0).abs() < 1e-9);
    // Before its close the candle is not known: the exit at 59 is the entry point.
    let (r, ..) = resolved(outcome(&p, 0, Side::Long, 59, Some(0.0), None, 1000));
    assert_eq!(r, 0.0);
}

#[test]
fn wilson_interval_hand_computed() {
    // 8 of 10: [0.4902, 0.9433] (Wilson 1927; standard tables).
    let [lo, hi] = wilson95(8, 10).unwrap();
    assert!(
        (lo - 0.4902).abs() < 1e-4 && (hi - 0.9433).abs() < 1e-4,
        "{lo} {hi}"
    );
    // 0 of 10: [0, 0.2775].
    let [lo, hi] = wilson95(0, 10).unwrap();
    assert!(lo == 0.0 && (hi - 0.2775).abs() < 1e-4, "{hi}");
    // 50 of 100: [0.4038, 0.5962].
    let [lo, hi] = wilson95(50, 100).unwrap();
    assert!((lo - 0.4038).abs() < 1e-4 && (hi - 0.5962).abs() < 1e-4);
    assert_eq!(wilson95(0, 0), None);
}

#[test]
fn profit_factor_and_median_hand_computed() {
    assert_eq!(profit_factor(&[10.0, -5.0, 20.0, -10.0]), Some(2.0));
    assert_eq!(profit_factor(&[10.0, 0.0]), None);
    // Losses and no wins: 0, never "-0.00".
    let pf = profit_factor(&[-5.0, -1.0]).unwrap();
    assert!(pf == 0.0 && pf.is_sign_positive(), "{pf}");
    assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    assert_eq!(median(&mut []), None);
}

#[test]
fn aggregates_hand_computed() {
    let mut a = Acc::default();
    for (r, hit) in [(10.0, true), (-5.0, false), (20.0, true)] {
        a.add(&Outcome::Resolved {
            ret_bps: r,
            hit,
            cost_bps: 0.0,
            mfe_bps: 30.0,
            mae_bps: 6.0,
            mfe_after_ms: Some(2000),
        });
    }
    a.add(&Outcome::Pending);
    a.add(&Outcome::Gap);
    a.add(&Outcome::Gap);
    let s = a.summary();
    assert_eq!((s.n, s.hits, s.pending, s.gaps), (3, 2, 1, 2));
    assert!((s.hit_rate.unwrap() - 2.0 / 3.0).abs() < 1e-12);
    assert!((s.mean_bps.unwrap() - 25.0 / 3.0).abs() < 1e-12);
    assert_eq!(s.median_bps, Some(10.0));
    assert_eq!(s.profit_factor, Some(6.0));
    assert_eq!(
        (s.mfe_bps, s.mae_bps, s.mfe_after_s),
        (Some(30.0), Some(6.0), Some(2.0))
    );
    assert!(s.low_n);
}

#[test]
fn spans_and_horizons_parse() {
    assert_eq!(parse_span("--since", "30d").unwrap(), 30 * 86_400_000);
    assert_eq!(parse_span("x", "5m").unwrap(), 300_000);
    for bad in ["", "0m", "5", "5y", "-1h", "m"] {
        let e = parse_span("--since", bad).unwrap_err().to_string();
        assert!(e.contains("--since") && e.contains("30d"), "{e}");
    }
    let h = parse_horizons("SNIPER_SCORE_HORIZONS", "1h,5m").unwrap();
    assert_eq!(h[0].label, "5m");
    assert_eq!(h[1].ms, 3_600_000);
    assert!(parse_horizons("SNIPER_SCORE_HORIZONS", "5m,300s").is_err());
    let e = parse_horizons("SNIPER_SCORE_HORIZONS", "5m,soon").unwrap_err();
    assert!(e.to_string().contains("SNIPER_SCORE_HORIZONS"));
}

fn opts(as_of: i64) -> Options {
    Options {
        horizons: parse_horizons("h", "10s,60s").unwrap(),
        cost_bps: Some(0.0),
        max_gap_ms: None,
        as_of_ms: as_of,
        seed: 7,
    }
}

fn call(at_ms: i64, sym: &str, side: Side) -> ScoreCall {
    ScoreCall {
        at_ms,
        symbol: sym.into(),
        side,
        level: Some("action".into()),
        score: Some(70),
        agreeing: vec!["book".into(), "whales".into()],
        rules: None,
    }
}

#[test]
fn scorer_groups_and_streams_in_small_windows() {
    // 1 s mids rising 1 bp per second for two days; calls every 10 min.
    let pts: Vec<Point> = (0..172_800)
        .map(|s| Point::mid(s * 1000, 100.0 * (1.0 + s as f64 * 1e-4), None))
        .collect();
    let as_of = pts.last().unwrap().at_ms;
    let mut calls: Vec<ScoreCall> = (1..280)
        .map(|i| {
            call(
                i * 600_000,
                "SOL",
                if i % 2 == 0 { Side::Long } else { Side::Short },
            )
        })
        .collect();
    let card = score_all(OneSeries(pts), opts(as_of), &mut calls).unwrap();
    let o = &card.overall["10s"];
    assert_eq!(o.n, 279);
    let long = card.group("level_direction", "action long").unwrap();
    assert_eq!(long.horizons["10s"].hit_rate, Some(1.0));
    let short = card.group("level_direction", "action short").unwrap();
    assert_eq!(short.horizons["60s"].hits, 0);
    assert!(card.group("layer", "whales").is_some());
    assert!(card.group("score", "60-79").is_some());
    assert_eq!(card.baseline.long["10s"].hit_rate, Some(1.0));
    assert!(!o.low_n);
}

#[test]
fn unsorted_calls_are_refused() {
    let mut s = Scorer::new(OneSeries(vec![]), opts(0));
    s.push(&call(10, "A", Side::Long)).unwrap();
    assert!(matches!(
        s.push(&call(5, "A", Side::Long)),
        Err(ScoreError::Unsorted { .. })
    ));
}

fn path() -> impl Strategy<Value = Vec<Point>> {
    prop::collection::vec(50.0f64..150.0, 20..60).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, p)| Point::mid(i as i64 * 10, p, None))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Changing any price after a call's horizon or before its entry changes no outcome.
    #[test]
    fn prices_outside_the_window_change_nothing(
        pts in path(),
        at in 0i64..400,
        h in 1i64..150,
        side in prop::bool::ANY,
        bump in 0.5f64..2.0,
        seed in any::<u64>(),
    ) {
        let side = if side { Side::Long } else { Side::Short };
        let a = outcome(&pts, at, side, h, None, Some(20), 10_000);
        let entry_at = at_or_before(&pts, at).map(|p| p.at_ms);
        let mut changed = pts.clone();
        for (i, p) in changed.iter_mut().enumerate() {
            let outside = p.at_ms > at + h || entry_at.is_some_and(|e| p.at_ms < e)
                || (entry_at.is_none() && p.at_ms < at);
            if outside && splitmix(seed ^ i as u64).is_multiple_of(2) {
                p.price *= bump;
                p.high = p.price;
                p.low = p.price;
            }
        }
        let b = outcome(&changed, at, side, h, None, Some(20), 10_000);
        prop_assert_eq!(a, b);
    }

    /// The streaming scorer gives the same outcomes as scoring against the whole path at once.
    #[test]
    fn streaming_equals_whole_path(pts in path(), ats in prop::collection::vec(0i64..600, 1..20)) {
        let mut ats = ats;
        ats.sort();
        let as_of = pts.last().map_or(0, |p| p.at_ms);
        let o = Options {
            max_gap_ms: Some(20),
            horizons: parse_horizons("h", "10ms,60ms").unwrap(),
            ..opts(as_of)
        };
        let mut s = Scorer::new(OneSeries(pts.clone()), o.clone());
        for at in ats {
            let got = s.push(&call(at, "X", Side::Long)).unwrap();
            for (h, g) in o.horizons.iter().zip(got) {
                prop_assert_eq!(g, outcome(&pts, at, Side::Long, h.ms, Some(0.0), Some(20), as_of));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The one-scan windows give exactly the reference [`outcome`] for every side and horizon,
    /// candles included.
    #[test]
    fn one_scan_equals_reference(
        pts in path(),
        ranges in prop::collection::vec((0.0f64..5.0, 0.0f64..5.0, 0i64..10), 60),
        at in 0i64..500,
        hs in prop::collection::btree_set(1i64..300, 1..5),
        cost in prop::option::of(0.0f64..30.0),
        gap in prop::option::of(5i64..40),
    ) {
        let pts: Vec<Point> = pts
            .iter()
            .zip(&ranges)
            .map(|(p, &(up, down, back))| Point {
                from_ms: p.at_ms - back,
                high: p.price + up,
                low: p.price - down,
                spread_bps: Some(up),
                ..*p
            })
            .collect();
        let hs: Vec<i64> = hs.into_iter().collect();
        let ws = windows(&pts, at, &hs, gap, 450);
        for (h, w) in hs.iter().zip(&ws) {
            for side in [Side::Long, Side::Short] {
                prop_assert_eq!(outcome_of(w, side, cost), outcome(&pts, at, side, *h, cost, gap, 450));
            }
        }
    }
}

#[test]
fn a_lone_point_is_no_usual_spacing_so_gaps_until_there_is_one() {
    // One point near the first call, then a dense path from day 3 on.
    let mut pts = vec![Point::mid(0, 100.0, None)];
    pts.extend((0..2000).map(|i| Point::mid(3 * 86_400_000 + i * 1000, 101.0, None)));
    let as_of = pts.last().unwrap().at_ms;
    let mut s = Scorer::new(OneSeries(pts), opts(as_of));
    let first = s.push(&call(1000, "A", Side::Long)).unwrap();
    assert_eq!(first, vec![Outcome::Gap, Outcome::Gap]);
    let later = s
        .push(&call(3 * 86_400_000 + 500_000, "A", Side::Long))
        .unwrap();
    assert!(matches!(later[0], Outcome::Resolved { .. }), "{later:?}");
}
