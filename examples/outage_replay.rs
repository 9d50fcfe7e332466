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

    // Issue 18: the scheduler and the breaker together, default settings. Every module answers
    // 500 until the heal, then 200; each run takes 300 ms; every jitter draw 0.00, 0.05, … 1.00.
    println!();
    println!(
        "Scheduler + breaker, 500 until the heal then healthy (21 jitter draws, run = 300 ms)"
    );
    println!("{:<28} {:>22} {:>22}", "", "heal→first success max", "mean");
    let legacy_breaker = BreakerConfig {
        transient_max_open: Duration::from_secs(300),
        ..cfg
    };
    let heal_at = |h: i64| start.checked_add(jiff::SignedDuration::from_secs(h));
    for (name, heals, legacy) in [
        ("120-s outage, before", vec![120], true),
        ("120-s outage, now", vec![120], false),
        (
            "heal at 30…600 s, before",
            (30..=600).step_by(7).collect(),
            true,
        ),
        (
            "heal at 30…600 s, now",
            (30..=600).step_by(7).collect(),
            false,
        ),
    ] {
        let mut lags = Vec::new();
        for h in heals {
            let heal = heal_at(h)?;
            for i in 0..=20 {
                let r = sniper::daemon::recovery::replay_loop(
                    sniper::daemon::scheduler::SchedulerConfig::default(),
                    if legacy { legacy_breaker } else { cfg },
                    start,
                    start.checked_add(jiff::SignedDuration::from_hours(2))?,
                    Duration::from_millis(300),
                    f64::from(i) / 20.0,
                    legacy,
                    |now| {
                        if now < heal {
                            Err(ErrorClass::Transient {
                                kind: TransientKind::Status(500),
                            })
                        } else {
                            Ok(())
                        }
                    },
                );
                let first = r.first_success.ok_or("no recovery")?;
                lags.push(heal.duration_until(first).as_secs_f64());
            }
        }
        let max = lags.iter().copied().fold(0.0, f64::max);
        let mean = lags.iter().sum::<f64>() / lags.len() as f64;
        println!("{name:<28} {max:>21.1}s {mean:>21.1}s");
    }
    Ok(())
}
