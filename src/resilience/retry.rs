//! Retry policy as pure functions: which failures are worth one more try, and how long to wait.
//!
//! Only transient failures are retried, and only once: a second attempt helps against a
//! dropped connection or a 502 from a restarting worker, but never against an unpaid plan, a
//! bad key, a missing route, a server asking us to back off, or a body we cannot read. The
//! caller adds what this module cannot know: the request is an idempotent GET and the retry
//! still fits inside the module's timeout.
//!
//! The random number is passed in (`rng_unit`), so tests are deterministic; the scheduler
//! reuses [`full_jitter`] for its own backoff.

use crate::resilience::class::ErrorClass;
use std::time::Duration;

/// Total attempts allowed for one call: the first try plus one retry.
pub const MAX_ATTEMPTS: u32 = 2;

/// Should a call that just failed with `class` on attempt number `attempt` (1-based: 1 is the
/// first try) be tried again?
///
/// True only for [`ErrorClass::Transient`] and only while `attempt < MAX_ATTEMPTS`.
pub fn should_retry(class: &ErrorClass, attempt: u32) -> bool {
    matches!(class, ErrorClass::Transient { .. }) && attempt < MAX_ATTEMPTS
}

/// "Full jitter" backoff (AWS architecture blog, 2015): `min(cap, base · 2^attempt) · u`.
///
/// `attempt` is 0 for the first backoff; `rng_unit` is a uniform random number in `[0, 1)`
/// (values outside are clamped, NaN counts as 0). Saturates instead of overflowing, so any
/// `attempt` is safe.
pub fn full_jitter(base: Duration, cap: Duration, attempt: u32, rng_unit: f64) -> Duration {
    let ceiling = exp_backoff(base, cap, attempt);
    let u = if rng_unit.is_nan() {
        0.0
    } else {
        rng_unit.clamp(0.0, 1.0)
    };
    ceiling.mul_f64(u)
}

/// `min(cap, base · 2^attempt)`, saturating. Shared with the breaker's open-time doubling.
pub fn exp_backoff(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt).unwrap_or(0);
    let grown = if factor == 0 {
        // 2^attempt does not fit in u32: certainly over any sane cap.
        Duration::MAX
    } else {
        base.checked_mul(factor).unwrap_or(Duration::MAX)
    };
    grown.min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::class::{PayloadKind, TransientKind};
    use proptest::prelude::*;

    #[test]
    fn only_transient_is_retried_and_only_once() {
        let table: Vec<(ErrorClass, u32, bool)> = vec![
            (
                ErrorClass::Transient {
                    kind: TransientKind::Status(500),
                },
                1,
                true,
            ),
            (
                ErrorClass::Transient {
                    kind: TransientKind::Reset,
                },
                1,
                true,
            ),
            (
                ErrorClass::Transient {
                    kind: TransientKind::Connect,
                },
                1,
                true,
            ),
            (
                ErrorClass::Transient {
                    kind: TransientKind::Timeout,
                },
                1,
                true,
            ),
            (
                ErrorClass::Transient {
                    kind: TransientKind::Status(502),
                },
                2,
                false,
            ),
            (
                ErrorClass::Transient {
                    kind: TransientKind::Status(502),
                },
                7,
                false,
            ),
            (ErrorClass::Entitlement { status: 402 }, 1, false),
            (ErrorClass::Auth { status: 401 }, 1, false),
            (ErrorClass::RouteMissing, 1, false),
            (
                ErrorClass::RateLimited {
                    retry_after_secs: Some(1),
                },
                1,
                false,
            ),
            (
                ErrorClass::RateLimited {
                    retry_after_secs: None,
                },
                1,
                false,
            ),
            (
                ErrorClass::BadPayload {
                    kind: PayloadKind::NotJson,
                },
                1,
                false,
            ),
            (
                ErrorClass::BadPayload {
                    kind: PayloadKind::TooLarge,
                },
                1,
                false,
            ),
        ];
        for (class, attempt, want) in table {
            assert_eq!(
                should_retry(&class, attempt),
                want,
                "{class:?} attempt {attempt}"
            );
        }
    }

    #[test]
    fn jitter_table() {
        let ms = Duration::from_millis;
        // (base, cap, attempt, u, expected)
        let table = [
            (ms(100), ms(10_000), 0, 0.5, ms(50)),
            (ms(100), ms(10_000), 1, 0.5, ms(100)),
            (ms(100), ms(10_000), 3, 1.0, ms(800)),
            (ms(100), ms(10_000), 3, 0.0, ms(0)),
            (ms(100), ms(1_000), 10, 0.5, ms(500)),
            (ms(100), ms(1_000), 200, 0.25, ms(250)),
            (ms(100), ms(1_000), 2, 7.0, ms(400)),
            (ms(100), ms(1_000), 2, -1.0, ms(0)),
            (ms(100), ms(1_000), 2, f64::NAN, ms(0)),
        ];
        for (base, cap, attempt, u, want) in table {
            assert_eq!(
                full_jitter(base, cap, attempt, u),
                want,
                "base {base:?} cap {cap:?} attempt {attempt} u {u}"
            );
        }
    }

    proptest! {
        #[test]
        fn jitter_stays_within_bounds(
            base_ms in 0u64..100_000, cap_ms in 0u64..10_000_000, attempt in 0u32..100, u in 0.0f64..1.0
        ) {
            let base = Duration::from_millis(base_ms);
            let cap = Duration::from_millis(cap_ms);
            let d = full_jitter(base, cap, attempt, u);
            prop_assert!(d <= cap);
            prop_assert!(d <= exp_backoff(base, cap, attempt));
        }

        #[test]
        fn backoff_is_monotone_in_attempt(base_ms in 1u64..100_000, cap_ms in 0u64..10_000_000, attempt in 0u32..80) {
            let base = Duration::from_millis(base_ms);
            let cap = Duration::from_millis(cap_ms);
            prop_assert!(exp_backoff(base, cap, attempt) <= exp_backoff(base, cap, attempt + 1));
        }
    }
}
