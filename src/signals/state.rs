//! When a graded call is delivered: once, and again only after the cooldown, on escalation
//! watch → action, or when the score rose by the rules' step. Pure: the clock is a parameter.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::market::Direction;

use super::grade::{Call, Level};
use super::rules::Rules;

/// The last delivered call of one symbol and direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastDelivered {
    /// Its level.
    pub level: Level,
    /// Its score.
    pub score: u32,
    /// When it was graded (the run's timestamp).
    pub at: Timestamp,
}

/// Why a call is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Nothing delivered for this symbol and direction before.
    New,
    /// The cooldown since the last delivery passed.
    CooldownOver,
    /// Watch became action within the cooldown.
    Escalation,
    /// The score rose by at least the step within the cooldown.
    ScoreRise,
}

impl Reason {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::New => "new",
            Reason::CooldownOver => "cooldown_over",
            Reason::Escalation => "escalation",
            Reason::ScoreRise => "score_rise",
        }
    }
}

/// Decide whether `call`, graded at `now`, is delivered, given the last delivery for the same
/// symbol and direction. A level-none call (or a watch when `deliver_watch` is off) is never
/// delivered. A call lower than the last one (action → watch) within the cooldown is not.
/// A clock that went backwards counts as within the cooldown.
pub fn decide(
    last: Option<&LastDelivered>,
    call: &Call,
    now: Timestamp,
    rules: &Rules,
) -> Option<Reason> {
    if call.level == Level::None || call.direction == Direction::Neutral {
        return None;
    }
    if call.level == Level::Watch && !rules.delivery.deliver_watch {
        return None;
    }
    let Some(last) = last else {
        return Some(Reason::New);
    };
    let elapsed = now.duration_since(last.at);
    let cooldown = jiff::SignedDuration::from_secs(
        i64::try_from(rules.delivery.cooldown_secs).unwrap_or(i64::MAX),
    );
    if elapsed >= cooldown {
        return Some(Reason::CooldownOver);
    }
    if call.level > last.level {
        return Some(Reason::Escalation);
    }
    let step = rules.delivery.score_step;
    if call.level == last.level && step > 0 && call.score >= last.score.saturating_add(step) {
        return Some(Reason::ScoreRise);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::grade::Call;

    fn call(level: Level, score: u32) -> Call {
        Call {
            level,
            direction: Direction::Long,
            score,
            agreeing: vec![],
            layers: vec![],
            mid: None,
        }
    }

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    /// Feed calls every 5 s on a fake clock; record what gets delivered.
    fn drive(calls: &[(i64, Level, u32)], rules: &Rules) -> Vec<(i64, Reason)> {
        let mut last: Option<LastDelivered> = None;
        let mut out = Vec::new();
        for &(s, level, score) in calls {
            let c = call(level, score);
            if let Some(r) = decide(last.as_ref(), &c, t(s), rules) {
                out.push((s, r));
                last = Some(LastDelivered {
                    level,
                    score,
                    at: t(s),
                });
            }
        }
        out
    }

    #[test]
    fn once_then_cooldown() {
        let r = Rules::default(); // 900 s
        let calls: Vec<_> = (0..=200).map(|i| (i * 5, Level::Watch, 40)).collect();
        // 0 s, then exactly at 900 s (cooldown is inclusive), 1800 s... within 1000 s: 0 and 900.
        assert_eq!(
            drive(&calls, &r),
            vec![(0, Reason::New), (900, Reason::CooldownOver)]
        );
    }

    #[test]
    fn boundary_one_second_before_cooldown() {
        let r = Rules::default();
        assert_eq!(
            drive(&[(0, Level::Watch, 40), (899, Level::Watch, 40)], &r),
            vec![(0, Reason::New)]
        );
    }

    #[test]
    fn escalation_and_score_step() {
        let r = Rules::default(); // step 15
        let got = drive(
            &[
                (0, Level::Watch, 40),
                (5, Level::Watch, 54),   // +14: not enough
                (10, Level::Watch, 55),  // +15: rise
                (15, Level::Action, 55), // escalation
                (20, Level::Action, 60),
                (25, Level::Watch, 90), // lower level within cooldown: no
            ],
            &r,
        );
        assert_eq!(
            got,
            vec![
                (0, Reason::New),
                (10, Reason::ScoreRise),
                (15, Reason::Escalation)
            ]
        );
    }

    #[test]
    fn none_and_watch_off_are_never_delivered() {
        let mut r = Rules::default();
        assert_eq!(decide(None, &call(Level::None, 0), t(0), &r), None);
        r.delivery.deliver_watch = false;
        assert_eq!(decide(None, &call(Level::Watch, 50), t(0), &r), None);
        assert_eq!(
            decide(None, &call(Level::Action, 50), t(0), &r),
            Some(Reason::New)
        );
    }

    #[test]
    fn clock_backwards_is_within_cooldown() {
        let r = Rules::default();
        assert_eq!(
            drive(&[(100, Level::Watch, 40), (0, Level::Watch, 40)], &r),
            vec![(100, Reason::New)]
        );
    }
}
