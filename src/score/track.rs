//! The track record a delivered call carries: how calls of its kind (level × direction) did at
//! the track horizon, with the interval and what chance gives at the same times.

use serde::Serialize;

use super::{Scorecard, Summary};

/// The track record of one kind of call, as put into a delivered call's body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackRecord {
    /// Kind: `action long`.
    pub kind: String,
    /// Horizon label (`1h`).
    pub horizon: String,
    /// Resolved calls of this kind.
    pub n: u64,
    /// Hit rate (fraction of 1), when any resolved.
    pub hit_rate: Option<f64>,
    /// Wilson 95 % interval.
    pub ci95: Option<[f64; 2]>,
    /// Random-direction hit rate at the same times.
    pub chance: Option<f64>,
    /// Fewer than 30 resolved: no track record yet.
    pub low_n: bool,
    /// Scored on sandbox data.
    pub sandbox: bool,
    /// The human line.
    pub text: String,
}

/// The horizon a track record uses: the first ≥ 1 h, else the longest.
pub fn track_horizon(card: &Scorecard) -> Option<&str> {
    let labels = &card.horizons;
    labels
        .iter()
        .find(|l| super::parse_span("h", l).is_ok_and(|ms| ms >= 3_600_000))
        .or(labels.last())
        .map(String::as_str)
}

/// `1h` → `1 h`.
fn spaced(label: &str) -> String {
    match label.find(|c: char| !c.is_ascii_digit()) {
        Some(i) if i > 0 => format!("{} {}", &label[..i], &label[i..]),
        _ => label.to_string(),
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}", x * 100.0)
}

/// The track record of calls of `level` going `direction` (`long`/`short`) in `card`.
/// Fewer than 30 resolved: "no track record yet (12 calls)".
pub fn track_record(card: &Scorecard, level: &str, direction: &str) -> TrackRecord {
    let kind = format!("{level} {direction}");
    let horizon = track_horizon(card).unwrap_or("1h").to_string();
    let s: Option<&Summary> = card
        .group("level_direction", &kind)
        .and_then(|g| g.horizons.get(&horizon));
    let (n, all) = s.map_or((0, 0), |s| (s.n, s.n + s.pending + s.gaps));
    let low_n = n < super::MIN_RESOLVED;
    let tag = if card.sandbox { "SANDBOX " } else { "" };
    let text = match s {
        Some(s) if !low_n => {
            let word = if direction == "short" { "down" } else { "up" };
            let [lo, hi] = s.ci95.unwrap_or([0.0, 1.0]);
            format!(
                "{tag}{direction} {level}: {} % of {n} {word} after {} (95 % {}–{} %; chance {} %)",
                pct(s.hit_rate.unwrap_or(0.0)),
                spaced(&horizon),
                pct(lo),
                pct(hi),
                s.chance_hit_rate.map_or_else(|| "n/a".into(), pct),
            )
        }
        _ => format!("{tag}no track record yet ({all} calls)"),
    };
    TrackRecord {
        kind,
        horizon,
        n,
        hit_rate: s.and_then(|s| s.hit_rate),
        ci95: s.and_then(|s| s.ci95),
        chance: s.and_then(|s| s.chance_hit_rate),
        low_n,
        sandbox: card.sandbox,
        text,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::score::{Acc, Baseline, Group, Outcome, Scorecard};

    fn card(hits: u64, n: u64, chance_hits: u64, sandbox: bool) -> Scorecard {
        let mut acc = Acc::default();
        for i in 0..n {
            let hit = i < hits;
            let o = Outcome::Resolved {
                ret_bps: if hit { 10.0 } else { -10.0 },
                hit,
                cost_bps: 0.0,
                mfe_bps: 0.0,
                mae_bps: 0.0,
                mfe_after_ms: None,
            };
            let r = Outcome::Resolved {
                ret_bps: 0.0,
                hit: i < chance_hits,
                cost_bps: 0.0,
                mfe_bps: 0.0,
                mae_bps: 0.0,
                mfe_after_ms: None,
            };
            acc.add(&o);
            acc.add_baseline(&o, &r);
        }
        acc.add(&Outcome::Pending);
        let per = |a: &Acc| BTreeMap::from([("1h".to_string(), a.summary())]);
        Scorecard {
            horizons: vec!["5m".into(), "1h".into(), "4h".into()],
            cost_bps: None,
            max_gap_s: None,
            as_of_ms: 0,
            calls: n + 1,
            skipped: 0,
            overall: per(&acc),
            groups: vec![Group {
                by: "level_direction",
                key: "action long".into(),
                horizons: per(&acc),
            }],
            baseline: Baseline {
                seed: 1,
                long: BTreeMap::new(),
                random: BTreeMap::new(),
            },
            sandbox,
        }
    }

    #[test]
    fn track_record_line_hand_computed() {
        // 123 of 212 = 58.0 %; Wilson 95 % [51.3 %, 64.4 %]; chance 106 of 212 = 50 %.
        let t = track_record(&card(123, 212, 106, false), "action", "long");
        assert_eq!(
            t.text,
            "long action: 58 % of 212 up after 1 h (95 % 51–64 %; chance 50 %)"
        );
        assert_eq!((t.n, t.horizon.as_str(), t.low_n), (212, "1h", false));
    }

    #[test]
    fn few_calls_say_so_and_sandbox_is_marked() {
        let t = track_record(&card(8, 11, 5, false), "action", "long");
        assert_eq!(t.text, "no track record yet (12 calls)");
        assert!(t.low_n);
        let t = track_record(&card(123, 212, 106, true), "action", "long");
        assert!(
            t.text.starts_with("SANDBOX long action: 58 %"),
            "{}",
            t.text
        );
        let t = track_record(&card(123, 212, 106, false), "watch", "short");
        assert_eq!(t.text, "no track record yet (0 calls)");
    }
}
