//! The paid backend's quota as one [`Budget`] shared by its consumers: scheduled runs, manual runs
//! (`POST /api/run`) and the `/gpts` gateway, each with a share of `SNIPER_BUDGET_PER_MIN`.
//!
//! The budget has one of two counters, chosen once when it is built:
//! - in-process ([`Budget::new`]): each share is a GCRA rate limiter from the `governor` crate
//!   (`per_minute(share)`: a full minute's share may be spent at once, then it refills evenly);
//! - shared ([`Budget::shared`]): a [`MinuteCounter`] every replica spends from — the daemon's
//!   is the shared store (`StateStore::try_spend`: a per-minute row per consumer, atomic across
//!   replicas), so replicas spend one quota together, not one each. A minute is
//!   `floor(epoch_ms / 60 000)`; a share refills whole at the next minute.
//!
//! Both read sniper's injectable wall clock, so tests drive the budget by moving the clock, never
//! by sleeping.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;

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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    /// The shared counter could not be asked (the store is down): nothing is spent on a quota
    /// nobody can count.
    #[error(
        "the backend budget's shared counter is unavailable ({error}); the {consumer} request is not sent"
    )]
    CounterUnavailable {
        consumer: &'static str,
        error: String,
    },
}

impl Refused {
    /// Seconds for a `Retry-After` header (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            Refused::Spent { retry_after, .. } => retry_after.as_secs().max(1),
            Refused::NoShare { .. } => 60,
            Refused::CounterUnavailable { .. } => COUNTER_RETRY_SECS,
        }
    }
}

/// `Retry-After` when the shared counter cannot be asked.
const COUNTER_RETRY_SECS: u64 = 5;

/// Why a [`MinuteCounter`] could not answer (its message, e.g. the store's error chain).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CounterError(pub String);

/// A per-minute spend counter that several budgets (replicas) may share.
pub trait MinuteCounter: Send + Sync {
    /// Spends `n` of `consumer`'s requests in `minute` (`floor(epoch_ms / 60 000)`) if the
    /// minute's total stays `<= limit`: `Ok(true)` spent, `Ok(false)` nothing spent. Atomic: two
    /// callers never both spend the last request.
    fn try_spend(
        &self,
        consumer: Consumer,
        minute: i64,
        n: u32,
        limit: u32,
    ) -> BoxFuture<'_, Result<bool, CounterError>>;
}

/// An in-process [`MinuteCounter`]: one count per (consumer, minute) behind a mutex, keeping
/// only the latest minute of each consumer. Shared by budgets of one process (tests, and any
/// two budgets that must spend one quota without a store).
#[derive(Debug, Default)]
pub struct LocalMinuteCounter {
    spent: Mutex<HashMap<Consumer, (i64, u32)>>,
}

impl MinuteCounter for LocalMinuteCounter {
    fn try_spend(
        &self,
        consumer: Consumer,
        minute: i64,
        n: u32,
        limit: u32,
    ) -> BoxFuture<'_, Result<bool, CounterError>> {
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        let slot = spent.entry(consumer).or_insert((minute, 0));
        if slot.0 != minute {
            *slot = (minute, 0);
        }
        let ok = slot.1.checked_add(n).is_some_and(|t| t <= limit);
        if ok {
            slot.1 += n;
        }
        Box::pin(std::future::ready(Ok(ok)))
    }
}

/// What a budget counts with (chosen once, when it is built).
enum Counter {
    /// One `governor` limiter per consumer share (`None`: the share is unlimited or zero).
    Local([Option<Limiter>; 3]),
    /// A per-minute counter shared with other replicas.
    Shared(Arc<dyn MinuteCounter>),
}

/// The backend budget. Cheap to share behind an `Arc`; spending never blocks a runtime worker
/// (the shared counter does its I/O off the runtime).
pub struct Budget {
    cfg: BudgetConfig,
    clock: WallClock,
    counter: Counter,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("cfg", &self.cfg)
            .field("shared", &self.is_shared())
            .finish()
    }
}

impl Budget {
    /// A budget counted in this process on `clock`.
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
            counter: Counter::Local([
                limiter(Consumer::Scheduled),
                limiter(Consumer::Manual),
                limiter(Consumer::Gateway),
            ]),
            cfg,
            clock,
        }
    }

    /// A budget counted by `counter`, which other budgets (replicas) share: each consumer may
    /// spend its share per wall-clock minute across all of them.
    pub fn shared(cfg: BudgetConfig, clock: Clock, counter: Arc<dyn MinuteCounter>) -> Budget {
        Budget {
            cfg,
            clock: WallClock(clock),
            counter: Counter::Shared(counter),
        }
    }

    /// No budget: every request allowed.
    pub fn unlimited(clock: Clock) -> Budget {
        Budget::new(BudgetConfig::default(), clock)
    }

    pub fn config(&self) -> &BudgetConfig {
        &self.cfg
    }

    /// Whether the counter is shared with other replicas.
    pub fn is_shared(&self) -> bool {
        matches!(self.counter, Counter::Shared(_))
    }

    /// Spends one request of `c`'s share: `Ok(remaining)` (`None` = unlimited, or unknown on a
    /// shared counter) or why not.
    ///
    /// # Errors
    /// [`Refused::Spent`] (with the wait until the next request fits), [`Refused::NoShare`]
    /// (0 %), [`Refused::CounterUnavailable`] (the shared counter failed; nothing is sent).
    pub async fn try_spend(&self, c: Consumer) -> Result<Option<u32>, Refused> {
        let limit = match self.cfg.share(c) {
            None => return Ok(None),
            Some(0) => {
                return Err(Refused::NoShare {
                    consumer: c.as_str(),
                });
            }
            Some(n) => n,
        };
        match &self.counter {
            Counter::Local(limiters) => {
                let Some(l) = &limiters[c.index()] else {
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
            Counter::Shared(counter) => {
                let now_ms = (self.clock.0)().as_millisecond();
                let minute = now_ms.div_euclid(60_000);
                match counter.try_spend(c, minute, 1, limit).await {
                    Ok(true) => Ok(None),
                    Ok(false) => Err(Refused::Spent {
                        consumer: c.as_str(),
                        retry_after: Duration::from_millis(
                            60_000 - now_ms.rem_euclid(60_000).unsigned_abs(),
                        ),
                    }),
                    Err(e) => Err(Refused::CounterUnavailable {
                        consumer: c.as_str(),
                        error: e.0,
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[tokio::test]
    async fn a_spent_share_refills_with_the_clock_and_says_when() {
        let (clock, ms) = fake_clock();
        let b = Budget::new(
            BudgetConfig {
                per_min: NonZeroU32::new(10),
                shares_pct: [60, 10, 30],
            },
            clock,
        );
        // Gateway: 3 a minute, all at once, then one every 20 s.
        assert_eq!(b.try_spend(Consumer::Gateway).await, Ok(Some(2)));
        assert_eq!(b.try_spend(Consumer::Gateway).await, Ok(Some(1)));
        assert_eq!(b.try_spend(Consumer::Gateway).await, Ok(Some(0)));
        match b.try_spend(Consumer::Gateway).await {
            Err(Refused::Spent { retry_after, .. }) => {
                assert_eq!(retry_after, Duration::from_secs(20))
            }
            other => panic!("expected spent, got {other:?}"),
        }
        // Other consumers are untouched.
        assert!(b.try_spend(Consumer::Scheduled).await.is_ok());
        ms.fetch_add(19_999, Ordering::SeqCst);
        assert!(b.try_spend(Consumer::Gateway).await.is_err());
        ms.fetch_add(1, Ordering::SeqCst);
        assert!(b.try_spend(Consumer::Gateway).await.is_ok());
        assert!(b.try_spend(Consumer::Gateway).await.is_err());
    }

    #[tokio::test]
    async fn unlimited_and_no_share() {
        let (clock, _) = fake_clock();
        let b = Budget::unlimited(clock.clone());
        for _ in 0..1000 {
            assert_eq!(b.try_spend(Consumer::Manual).await, Ok(None));
        }
        let b = Budget::new(
            BudgetConfig {
                per_min: NonZeroU32::new(10),
                shares_pct: [100, 0, 0],
            },
            clock,
        );
        assert!(matches!(
            b.try_spend(Consumer::Gateway).await,
            Err(Refused::NoShare { .. })
        ));
        let e = b.try_spend(Consumer::Manual).await.unwrap_err();
        assert_eq!(e.retry_after_secs(), 60);
    }

    fn budget_of_10(clock: Clock, counter: &Arc<LocalMinuteCounter>) -> Budget {
        Budget::shared(
            BudgetConfig {
                per_min: NonZeroU32::new(10),
                shares_pct: [60, 10, 30],
            },
            clock,
            counter.clone(),
        )
    }

    #[tokio::test]
    async fn two_budgets_over_one_counter_spend_one_quota() {
        let (clock, ms) = fake_clock();
        // 1_800_000_000_000 ms is minute 30 000 000 exactly; start 10 s into it.
        ms.fetch_add(10_000, Ordering::SeqCst);
        let counter = Arc::new(LocalMinuteCounter::default());
        let (a, b) = (
            budget_of_10(clock.clone(), &counter),
            budget_of_10(clock.clone(), &counter),
        );
        assert!(a.is_shared());
        // Scheduled share: 6 a minute between both replicas, whoever spends it.
        let mut ok = 0;
        for i in 0..10 {
            let r = if i % 2 == 0 { &a } else { &b };
            if r.try_spend(Consumer::Scheduled).await.is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 6, "two replicas spent one share of 6, not 6 each");
        match b.try_spend(Consumer::Scheduled).await {
            Err(Refused::Spent { retry_after, .. }) => {
                assert_eq!(
                    retry_after,
                    Duration::from_secs(50),
                    "until the next minute"
                )
            }
            other => panic!("expected spent, got {other:?}"),
        }
        // Another consumer's share is its own.
        assert!(a.try_spend(Consumer::Gateway).await.is_ok());
        // The next minute refills the share whole.
        ms.fetch_add(50_000, Ordering::SeqCst);
        for _ in 0..6 {
            assert!(a.try_spend(Consumer::Scheduled).await.is_ok());
        }
        assert!(b.try_spend(Consumer::Scheduled).await.is_err());
    }

    #[tokio::test]
    async fn budgets_with_their_own_counters_spend_one_quota_each() {
        // The contrast: without a shared counter each replica has the whole share.
        let (clock, _) = fake_clock();
        let (ca, cb) = (
            Arc::new(LocalMinuteCounter::default()),
            Arc::new(LocalMinuteCounter::default()),
        );
        let (a, b) = (budget_of_10(clock.clone(), &ca), budget_of_10(clock, &cb));
        for _ in 0..6 {
            assert!(a.try_spend(Consumer::Scheduled).await.is_ok());
            assert!(b.try_spend(Consumer::Scheduled).await.is_ok());
        }
        assert!(a.try_spend(Consumer::Scheduled).await.is_err());
    }

    struct Down;
    impl MinuteCounter for Down {
        fn try_spend(
            &self,
            _: Consumer,
            _: i64,
            _: u32,
            _: u32,
        ) -> BoxFuture<'_, Result<bool, CounterError>> {
            Box::pin(std::future::ready(Err(CounterError(
                "connection refused".into(),
            ))))
        }
    }

    #[tokio::test]
    async fn a_failing_shared_counter_refuses_and_says_why() {
        let (clock, _) = fake_clock();
        let b = Budget::shared(
            BudgetConfig {
                per_min: NonZeroU32::new(10),
                shares_pct: [60, 10, 30],
            },
            clock,
            Arc::new(Down),
        );
        let e = b.try_spend(Consumer::Manual).await.unwrap_err();
        assert!(matches!(e, Refused::CounterUnavailable { .. }), "{e:?}");
        assert!(e.to_string().contains("connection refused"), "{e}");
        assert_eq!(e.retry_after_secs(), COUNTER_RETRY_SECS);
    }
}
