//! The wall clock, injectable so runs, budgets and state machines can be driven by tests without
//! sleeping. It sits below every layer that reads the time.
//!
//! Two readings (issue 22 item 3):
//! - the wall clock ([`Clock`]): what a run is stamped with, and what a point's own time (a book's
//!   timestamp) is compared with for its maximum age;
//! - a monotonic reading ([`MonoClock`]): how much time has passed. Ages, refresh intervals, reuse,
//!   breakers and the budget are measured on it, so a wall clock stepping back (NTP step, VM
//!   resume) never makes kept data look young, and a step forward never makes it look old.
//!   [`steady`] turns it back into a timestamp (the wall time at the start plus the time passed)
//!   for the state machines that speak in timestamps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The wall clock: a function returning the current instant.
pub type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// A monotonic reading: time passed since an arbitrary origin; never decreases.
pub type MonoClock = Arc<dyn Fn() -> Duration + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(jiff::Timestamp::now)
}

/// The system's monotonic clock (`std::time::Instant`), as time passed since this call.
pub fn system_mono() -> MonoClock {
    let origin = std::time::Instant::now();
    Arc::new(move || origin.elapsed())
}

/// A monotonic reading made of a wall clock: it advances by each forward move of `wall` and by
/// nothing when `wall` steps back. For tests and tools that drive time by a wall clock of their own;
/// production pairs [`system_clock`] with [`system_mono`].
pub fn mono_from_wall(wall: Clock) -> MonoClock {
    let state = Mutex::new((wall(), Duration::ZERO));
    Arc::new(move || {
        let now = wall();
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        let step = now.duration_since(s.0);
        if let Ok(d) = Duration::try_from(step) {
            s.1 += d;
        }
        s.0 = now;
        s.1
    })
}

/// A timestamp that only moves with `mono`: the wall time when this was built plus the monotonic
/// time passed since. For state machines that take a `Timestamp` (breakers, the budget, kept data).
pub fn steady(wall: &Clock, mono: MonoClock) -> Clock {
    let at = wall();
    let origin = mono();
    Arc::new(move || {
        let passed = mono().saturating_sub(origin);
        at.checked_add(jiff::SignedDuration::try_from(passed).unwrap_or(jiff::SignedDuration::MAX))
            .unwrap_or(jiff::Timestamp::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    #[test]
    fn a_wall_stepping_back_never_moves_the_steady_clock_back() {
        let secs = Arc::new(AtomicI64::new(1_800_000_000));
        let s = secs.clone();
        let wall: Clock =
            Arc::new(move || jiff::Timestamp::from_second(s.load(Ordering::SeqCst)).unwrap());
        let steady = steady(&wall, mono_from_wall(wall.clone()));
        let t0 = steady();
        secs.fetch_add(10, Ordering::SeqCst);
        assert_eq!(steady().duration_since(t0).as_secs(), 10);
        secs.fetch_sub(60, Ordering::SeqCst); // NTP step back
        assert_eq!(steady().duration_since(t0).as_secs(), 10);
        secs.fetch_add(1, Ordering::SeqCst);
        assert_eq!(steady().duration_since(t0).as_secs(), 11);
    }
}
