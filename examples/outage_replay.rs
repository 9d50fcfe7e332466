//! Replays scripted 10-minute outages (a run every 5 s) through one module's breaker with a fake
//! clock and prints how many requests reach the backend, against 120 without a breaker.
//!
//! Run: `cargo run --example outage_replay`

use sniper::resilience::breaker::{BreakerConfig, replay};
use sniper::resilience::class::{ErrorClass, TransientKind};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cfg = BreakerConfig::default();
    let start: jiff::Timestamp = "2025-01-01T00:00:00Z".parse()?;
    let every = Duration::from_secs(5);
    let outage = Duration::from_secs(600);
    let runs = u32::try_from(outage.as_secs() / every.as_secs())?;
    let end = start.checked_add(outage)?;

    let scripts: [(&str, ErrorClass); 5] = [
        (
            "500 on every call",
            ErrorClass::Transient {
                kind: TransientKind::Status(500),
            },
        ),
        (
            "connection refused",
            ErrorClass::Transient {
                kind: TransientKind::Connect,
            },
        ),
        ("402 (plan)", ErrorClass::Entitlement { status: 402 }),
        (
            "429 Retry-After: 60",
            ErrorClass::RateLimited {
                retry_after_secs: Some(60),
            },
        ),
        (
            "429 Retry-After: 2",
            ErrorClass::RateLimited {
                retry_after_secs: Some(2),
            },
        ),
    ];

    println!(
        "10-minute outage, one run every {}s ({runs} runs), default breaker config",
        every.as_secs()
    );
    println!(
        "{:<22} {:>10} {:>12} {:>8} {:>18}",
        "backend", "no breaker", "with breaker", "saved", "first ok after end"
    );
    for (name, class) in scripts {
        let during = replay(cfg, start, every, runs, |_| Err(class.clone()));
        // Same outage, then a healthy backend: how long until data flows again?
        let recovery = replay(cfg, start, every, runs * 2, |now| {
            if now < end {
                Err(class.clone())
            } else {
                Ok(())
            }
        });
        let lag = recovery
            .first_success
            .map(|t| format!("{}s", t.duration_since(end).as_secs()))
            .unwrap_or_else(|| "none in 10 min".to_string());
        println!(
            "{:<22} {:>10} {:>12} {:>7.0}% {:>18}",
            name,
            runs,
            during.sent,
            100.0 * f64::from(runs - during.sent) / f64::from(runs),
            lag
        );
    }
    println!(
        "(a transient failure is retried once inside the module, so transient rows cost ×2 on both sides)"
    );
    Ok(())
}
