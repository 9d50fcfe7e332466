//! The resilience layer: what kind of failure an upstream answer is (`class`, `classify`), what to
//! do about it — retry once (`retry`) or stop calling for a while (`breaker`). Pure decisions:
//! nothing here does IO, reads the clock or sleeps; the time and random draws are parameters.

pub mod breaker;
pub mod class;
pub mod classify;
pub mod retry;
