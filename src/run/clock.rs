//! The wall clock of a run, injectable so runs can be driven by tests. It lives in its own file so
//! that the runner and the modules both take it without importing each other.

use std::sync::Arc;

/// The wall clock: a function returning the current instant.
pub type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(jiff::Timestamp::now)
}
