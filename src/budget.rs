//! The paid backend's quota as a budget shared by its consumers: scheduled runs, manual runs
//! (`POST /api/run`) and the `/gpts` gateway, each with a share of `SNIPER_BUDGET_PER_MIN`.
//!
//! Each share is a GCRA rate limiter from the `governor` crate (`per_minute(share)`: a full
//! minute's share may be spent at once, then it refills evenly). Its clock is sniper's injectable
//! wall clock, so tests drive the budget by moving the clock, never by sleeping.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock as GovClock;
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use serde::Serialize;

use crate::clock::Clock;

/// Who spends backend requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Consumer {
    /// The scheduler's runs.
    Scheduled,
    /// Runs asked for by `POST /api/run`.
    Manual,
    /// Requests through the `/gpts` gateway.
    Gateway,
}

impl Consumer {
    pub const ALL: [Consumer; 3] = [Consumer::Scheduled, Consumer::Manual, Consumer::Gateway];

    /// The metric label and JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Consumer::Scheduled => "scheduled",
            Consumer::Manual => "manual",
            Consumer::Gateway => "gateway",
        }
    }

    fn index(self) -> usize {
        match self {
            Consumer::Scheduled => 0,
            Consumer::Manual => 1,
            Consumer::Gateway => 2,
        }
    }
}

/// The budget's configuration: requests a minute (`None` = unlimited) and each consumer's share
/// in percent (scheduled, manual, gateway; the design's 60/10/30 by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetConfig {
    pub per_min: Option<NonZeroU32>,
    pub shares_pct: [u32; 3],
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            per_min: None,
            shares_pct: [60, 10, 30],
        }
    }
}

impl BudgetConfig {
    /// Requests a minute of one consumer's share (`None` = unlimited; `Some(0)` = none at all).
    /// A non-zero share of a non-zero budget is at least 1.
    pub fn share(&self, c: Consumer) -> Option<u32> {
        let total = self.per_min?.get();
        let pct = self.shares_pct[c.index()];
        if pct == 0 {
            return Some(0);
        }
        Some(((u64::from(total) * u64::from(pct)) / 100).max(1) as u32)
    }
}

/// sniper's wall clock as a `governor` clock: instants are durations since the Unix epoch.
#[derive(Clone)]
pub struct WallClock(pub Clock);

impl std::fmt::Debug for WallClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WallClock")
    }
}

impl GovClock for WallClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        let ns = (self.0)().as_nanosecond();
        Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, WallClock, StateInformationMiddleware>;

/// Why a request was not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The consumer's share is spent; the next request fits after `retry_after`.
    #[error("the {consumer} share of the backend budget is spent; retry after {}s", retry_after.as_secs().max(1))]
    Spent {
        consumer: &'static str,
        retry_after: Duration,
    },
    /// The consumer has no share at all (0 %).
    #[error("the {consumer} consumer has no share of the backend budget")]
    NoShare { consumer: &'static str },
}

impl Refused {
    /// Seconds for a `Retry-After` header (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            Refused::Spent { retry_after, .. } => retry_after.as_secs().max(1),
            Refused::NoShare { .. } => 60,
        }
    }
}

/// The shared budget. Cheap to share behind an `Arc`; every method is non-blocking.
pub struct Budget {
    cfg: BudgetConfig,
    clock: WallClock,
    limiters: [Option<Limiter>; 3],
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget").field("cfg", &self.cfg).finish()
    }
}

impl Budget {
    /// A budget on `clock`.
    pub fn new(cfg: BudgetConfig, clock: Clock) -> Budget {
        let clock = WallClock(clock);
        let limiter = |c: Consumer| {
            let share = NonZeroU32::new(cfg.share(c)?)?;
            Some(
                RateLimiter::direct_with_clock(Quota::per_minute(share), clock.clone())
                    .with_middleware::<StateInformationMiddleware>(),
            )
        };
        Budget {
            limiters: [
                limiter(Consumer::Scheduled),
                limiter(Consumer::Manual),
                limiter(Consumer::Gateway),
            ],
            cfg,
            clock,
        }
    }

    /// No budget: every request allowed.
    pub fn unlimited(clock: Clock) -> Budget {
        Budget::new(BudgetConfig::default(), clock)
    }

    pub fn config(&self) -> &BudgetConfig {
        &self.cfg
    }

    /// Spend one request of `c`'s share; `Ok(remaining)` (`None` = unlimited) or why not.
    pub fn try_spend(&self, c: Consumer) -> Result<Option<u32>, Refused> {
        match self.cfg.share(c) {
            None => return Ok(None),
            Some(0) => {
                return Err(Refused::NoShare {
                    consumer: c.as_str(),
                });
            }
            Some(_) => {}
        }
        let Some(l) = &self.limiters[c.index()] else {
            return Ok(None);
        };
        match l.check() {
            Ok(snapshot) => Ok(Some(snapshot.remaining_burst_capacity())),
            Err(not_until) => Err(Refused::Spent {
                consumer: c.as_str(),
                retry_after: not_until.wait_time_from(self.clock.now()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};

    fn fake_clock() -> (Clock, Arc<AtomicI64>) {
        let ms = Arc::new(AtomicI64::new(1_800_000_000_000));
        let m = ms.clone();
        let clock: Clock =
            Arc::new(move || jiff::Timestamp::from_millisecond(m.load(Ordering::SeqCst)).unwrap());
        (clock, ms)
    }

    #[test]
    fn shares_split_the_minute() {
        let cfg = BudgetConfig {
            per_min: NonZeroU32::new(100),
            shares_pct: [60, 10, 30],
        };
        assert_eq!(cfg.share(Consumer::Scheduled), Some(60));
        assert_eq!(cfg.share(Consumer::Manual), Some(10));
        assert_eq!(cfg.share(Consumer::Gateway), Some(30));
        let tiny = BudgetConfig {
            per_min: NonZeroU32::new(3),
            shares_pct: [60, 10, 0],
        };
        assert_eq!(
            tiny.share(Consumer::Manual),
            Some(1),
            "a share is at least 1"
        );
        assert_eq!(tiny.share(Consumer::Gateway), Some(0));
        assert_eq!(BudgetConfig::default().share(Consumer::Gateway), None);
    }

    #[test]
    fn a_spent_share_refills_with_the_clock_and_says_when() {
        let (clock, ms) = fake_clock();
        let b = Budget::new(
            BudgetConfig {
                per_min: NonZeroU32::new(10),
                shares_pct: [60, 10, 30],
            },
            clock,
        );
        // Gateway: 3 a minute, all at once, then one every 20 s.
        assert_eq!(b.try_spend(Consumer::Gateway), Ok(Some(2)));
        assert_eq!(b.try_spend(Consumer::Gateway), Ok(Some(1)));
        assert_eq!(b.try_spend(Consumer::Gateway), Ok(Some(0)));
        match b.try_spend(Consumer::Gateway) {
            Err(Refused::Spent { retry_after, .. }) => {
                assert_eq!(retry_after, Duration::from_secs(20))
            }
            other => panic!("expected spent, got {other:?}"),
        }
        // Other consumers are untouched.
        assert!(b.try_spend(Consumer::Scheduled).is_ok());
        ms.fetch_add(19_999, Ordering::SeqCst);
        assert!(b.try_spend(Consumer::Gateway).is_err());
        ms.fetch_add(1, Ordering::SeqCst);
        assert!(b.try_spend(Consumer::Gateway).is_ok());
        assert!(b.try_spend(Consumer::Gateway).is_err());
    }

    #[test]
    fn unlimited_and_no_share() {
        let (clock, _) = fake_clock();
        let b = Budget::unlimited(clock.clone());
        for _ in 0..1000 {
            assert_eq!(b.try_spend(Consumer::Manual), Ok(None));
        }
        let b = Budget::new(
            BudgetConfig {
                per_min: NonZeroU32::new(10),
                shares_pct: [100, 0, 0],
            },
            clock,
        );
        assert!(matches!(
            b.try_spend(Consumer::Gateway),
            Err(Refused::NoShare { .. })
        ));
        let e = b.try_spend(Consumer::Manual).unwrap_err();
        assert_eq!(e.retry_after_secs(), 60);
    }
}
