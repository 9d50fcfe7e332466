//! Signals: a graded call per symbol from a run's market features, delivered once.
//!
//! Layers (pure unless noted):
//! - [`rules`]: thresholds from a TOML file (`SNIPER_RULES`) over documented defaults;
//! - [`grade`]: each layer none / watch / action with a direction, and their confluence into a
//!   [`Call`](grade::Call) with a 0–100 score;
//! - [`state`]: the delivery decision (once; again after the cooldown, on escalation, on a score
//!   rise), clock passed in;
//! - [`engine`]: after each run, grade every symbol and write the graded call, the cooldown state
//!   and the outbox rows in one store transaction (IO through the store only);
//! - [`delivery`]: the only network IO — the outbox worker sending to the webhook and Telegram
//!   with an `Idempotency-Key`, retried with backoff;
//! - [`replay`]: re-grade stored features under other rules; [`api`] and [`cli`]: faces.

pub mod api;
pub mod charts;
pub mod cli;
pub mod delivery;
pub mod engine;
pub mod grade;
pub mod mute;
pub mod replay;
pub mod rules;
pub mod state;

pub use engine::SignalEngine;
pub use grade::{Call, Layer, LayerGrade, Level, grade};
pub use rules::{Rules, RulesError};
pub use state::{LastDelivered, Reason, decide};

/// Idempotency key of a call: `sig-` and 16 hex digits of FNV-1a 64 over
/// `symbol|direction|level|run timestamp ms`. Stable across builds and restarts.
pub fn idempotency_key(symbol: &str, direction: &str, level: &str, at_ms: i64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("{symbol}|{direction}|{level}|{at_ms}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("sig-{h:016x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_is_stable_and_distinguishes_fields() {
        let k = super::idempotency_key("SOL", "long", "watch", 1);
        assert_eq!(k, super::idempotency_key("SOL", "long", "watch", 1));
        assert_eq!(k.len(), 20);
        for other in [
            super::idempotency_key("BTC", "long", "watch", 1),
            super::idempotency_key("SOL", "short", "watch", 1),
            super::idempotency_key("SOL", "long", "action", 1),
            super::idempotency_key("SOL", "long", "watch", 2),
        ] {
            assert_ne!(k, other);
        }
    }
}
