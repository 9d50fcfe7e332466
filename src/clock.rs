//! The wall clock, injectable so runs, budgets and state machines can be driven by tests without
//! sleeping. It sits below every layer that reads the time.

use std::sync::Arc;

/// The wall clock: a function returning the current instant.
pub type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(jiff::Timestamp::now)
}
