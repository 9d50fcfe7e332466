//! Transition tables for the breaker, driven by a hand-built clock (seconds after `T0`).

use super::*;
use crate::resilience::class::{PayloadKind, TransientKind};
use proptest::prelude::*;

const T0: i64 = 1_700_000_000;

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(T0 + s).unwrap()
}

fn transient() -> ErrorClass {
    ErrorClass::Transient {
        kind: TransientKind::Status(500),
    }
}
fn ent() -> ErrorClass {
    ErrorClass::Entitlement { status: 402 }
}
fn auth() -> ErrorClass {
    ErrorClass::Auth { status: 401 }
}
fn rl(secs: Option<u64>) -> ErrorClass {
    ErrorClass::RateLimited {
        retry_after_secs: secs,
    }
}
fn bad() -> ErrorClass {
    ErrorClass::BadPayload {
        kind: PayloadKind::NotJson,
    }
}
fn missing() -> ErrorClass {
    ErrorClass::RouteMissing
}
fn reject(reason: OpenReason, until: i64) -> Admission {
    Admission::Reject {
        reason,
        until: Some(t(until)),
    }
}

/// One step of a scenario: an input at a time, or an expectation at a time.
#[derive(Debug)]
enum Step {
    Admit(i64, Admission),
    Ok(i64),
    Fail(i64, ErrorClass),
    State(i64, BreakerState),
}
use Step::*;

fn fails(from: i64, n: i64, class: fn() -> ErrorClass) -> Vec<Step> {
    (0..n).map(|i| Fail(from + i, class())).collect()
}

fn run(b: &mut Breaker, name: &str, steps: Vec<Step>) {
    for (i, step) in steps.into_iter().enumerate() {
        match step {
            Admit(s, want) => assert_eq!(b.admit(t(s)), want, "{name}: step {i} admit at {s}"),
            Ok(s) => b.on_success(t(s)),
            Fail(s, class) => b.on_failure(&class, t(s)),
            State(s, want) => assert_eq!(b.state(t(s)), want, "{name}: step {i} state at {s}"),
        }
    }
}

fn scenarios() -> Vec<(&'static str, Vec<Step>)> {
    use BreakerState::*;
    use OpenReason as R;
    let mut v: Vec<(&'static str, Vec<Step>)> = Vec::new();

    let mut s = fails(0, 4, transient);
    s.extend([Ok(4), State(4, Closed)]);
    s.extend(fails(5, 4, transient));
    s.extend([State(9, Closed), Admit(9, Admission::Allow)]);
    v.push(("success resets the consecutive count", s));

    let mut s = vec![Admit(0, Admission::Allow)];
    s.extend(fails(0, 5, transient));
    s.extend([
        State(4, Open),
        Admit(5, reject(R::Transient, 34)),
        Admit(33, reject(R::Transient, 34)),
        State(34, HalfOpen),
        Admit(34, Admission::Probe),
        // Exactly one probe: the next caller waits for the probe slot.
        Admit(35, reject(R::Transient, 64)),
        Ok(36),
        State(36, Closed),
        Admit(36, Admission::Allow),
    ]);
    v.push((
        "transient opens after the threshold; probe success closes",
        s,
    ));

    let mut s = fails(0, 5, bad); // open at 4 for 30 s → 34
    for (probe_at, next_until) in [(34, 94), (94, 214), (214, 454), (454, 754), (754, 1054)] {
        s.push(Admit(probe_at, Admission::Probe));
        s.push(Fail(probe_at, bad()));
        s.push(Admit(probe_at + 1, reject(R::BadPayload, next_until)));
    }
    s.extend([Admit(1054, Admission::Probe), Ok(1054)]);
    // Closed again: the doubling starts over from the base.
    s.extend(fails(2000, 5, bad));
    s.push(Admit(2005, reject(R::BadPayload, 2034)));
    v.push((
        "each re-open doubles up to the cap, and a close resets it",
        s,
    ));

    // Transient re-opens stay at transient_max_open (30 s): a healed backend is probed ≤ 30 s
    // after it heals (issue 18).
    let mut s = fails(0, 5, transient); // open at 4 for 30 s → 34
    for (probe_at, next_until) in [(34, 64), (64, 94), (94, 124), (124, 154)] {
        s.push(Admit(probe_at, Admission::Probe));
        s.push(Fail(probe_at, transient()));
        s.push(Admit(probe_at + 1, reject(R::Transient, next_until)));
    }
    // A bad payload after transient opens doubles on the shared count (opens = 5 → 300 s cap).
    s.extend([Admit(154, Admission::Probe), Fail(154, bad())]);
    s.push(Admit(155, reject(R::BadPayload, 454)));
    v.push(("transient re-opens are capped at 30 s", s));

    v.push((
        "entitlement opens at once for a fixed hour, also on re-open",
        vec![
            Fail(0, ent()),
            Admit(1, reject(R::Entitlement, 3600)),
            Admit(3599, reject(R::Entitlement, 3600)),
            Admit(3600, Admission::Probe),
            Fail(3600, ent()),
            Admit(3601, reject(R::Entitlement, 7200)),
            Admit(7200, Admission::Probe),
            Ok(7201),
            Admit(7202, Admission::Allow),
        ],
    ));

    v.push((
        "rate limited opens exactly until Retry-After",
        vec![
            Fail(0, rl(Some(2))),
            Admit(1, reject(R::RateLimited, 2)),
            Admit(2, Admission::Probe),
        ],
    ));
    v.push((
        "Retry-After is capped",
        vec![
            Fail(0, rl(Some(3600))),
            Admit(299, reject(R::RateLimited, 300)),
            Admit(300, Admission::Probe),
        ],
    ));
    v.push((
        "rate limited without Retry-After uses the base, then doubles",
        vec![
            Fail(0, rl(None)),
            Admit(0, reject(R::RateLimited, 30)),
            Admit(30, Admission::Probe),
            Fail(30, rl(None)),
            Admit(30, reject(R::RateLimited, 90)),
        ],
    ));
    v.push((
        "Retry-After 0 means probe now",
        vec![Fail(0, rl(Some(0))), Admit(0, Admission::Probe)],
    ));
    v.push((
        "a long Retry-After is obeyed even after doubling reached the cap",
        {
            let mut s = fails(0, 5, transient);
            s.extend([
                Admit(34, Admission::Probe),
                Fail(34, rl(Some(250))),
                Admit(35, reject(R::RateLimited, 284)),
            ]);
            s
        },
    ));

    v.push((
        "auth opens at once on the doubling schedule",
        vec![
            Fail(0, auth()),
            Admit(0, reject(R::Auth, 30)),
            Admit(30, Admission::Probe),
            Fail(30, auth()),
            Admit(31, reject(R::Auth, 90)),
        ],
    ));

    let mut s = fails(0, 3, transient);
    s.extend(fails(3, 2, bad));
    s.push(Admit(5, reject(R::BadPayload, 34)));
    v.push((
        "bad payload counts with transient; the last class is the reason",
        s,
    ));

    let mut s = fails(0, 20, missing);
    s.extend([State(20, Closed), Admit(20, Admission::Allow)]);
    s.extend(fails(21, 4, transient));
    s.push(Fail(25, missing()));
    s.push(State(25, Closed));
    s.push(Fail(26, transient()));
    s.push(Admit(27, reject(R::Transient, 56)));
    v.push((
        "route missing never trips and neither resets nor adds to the count",
        s,
    ));

    let mut s = fails(0, 5, transient);
    s.extend([
        Admit(34, Admission::Probe),
        // The probe never reports (module cancelled): its slot expires after base_open.
        Admit(50, reject(R::Transient, 64)),
        State(50, HalfOpen),
        Admit(64, Admission::Probe),
        Admit(65, reject(R::Transient, 94)),
    ]);
    v.push(("a lost probe does not leave the breaker stuck", s));

    let mut s = fails(0, 5, transient);
    s.extend([
        Admit(34, Admission::Probe),
        Fail(35, missing()),
        Admit(36, Admission::Probe),
    ]);
    v.push(("a route-missing probe frees the slot without a verdict", s));

    let mut s = fails(0, 5, transient);
    s.extend([
        Ok(10),
        State(10, Open),
        Fail(12, ent()),
        Admit(13, reject(R::Transient, 34)),
    ]);
    v.push(("late results while open are ignored", s));

    let mut s = fails(0, 5, transient);
    s.extend([
        Admit(34, Admission::Probe),
        Fail(34, ent()),
        Admit(35, reject(R::Entitlement, 3634)),
    ]);
    v.push(("a probe failure re-opens by the probe's own class", s));

    v
}

#[test]
fn transition_table() {
    for (name, steps) in scenarios() {
        run(&mut Breaker::new(BreakerConfig::default()), name, steps);
    }
}

#[test]
fn forced_open_rejects_always_and_disabled_allows_always() {
    let cfg = BreakerConfig::default();
    let mut forced = Breaker::forced_open(cfg);
    let mut off = Breaker::disabled(cfg);
    for s in 0..50 {
        let forced_reject = Admission::Reject {
            reason: OpenReason::ForcedOpen,
            until: None,
        };
        assert_eq!(forced.admit(t(s)), forced_reject);
        forced.on_success(t(s));
        assert_eq!(off.admit(t(s)), Admission::Allow);
        off.on_failure(&ent(), t(s));
        off.on_failure(&transient(), t(s));
    }
    assert_eq!(forced.state(t(99)), BreakerState::ForcedOpen);
    assert_eq!(off.state(t(99)), BreakerState::Disabled);
    assert_eq!(off.view(t(99)).reason, None);
    assert_eq!(forced.view(t(99)).reason, Some(OpenReason::ForcedOpen));
}

#[test]
fn mode_change_keeps_the_underlying_circuit() {
    let mut b = Breaker::new(BreakerConfig::default());
    b.on_failure(&ent(), t(0));
    b.set_mode(BreakerMode::ForcedOpen);
    b.set_mode(BreakerMode::Normal);
    assert_eq!(b.admit(t(10)), reject(OpenReason::Entitlement, 3600));
}

#[test]
fn view_shows_state_reason_until_and_count() {
    let mut b = Breaker::new(BreakerConfig::default());
    for s in 0..5 {
        b.on_failure(&transient(), t(s));
    }
    let view = b.view(t(10));
    assert_eq!(
        view,
        BreakerView {
            state: BreakerState::Open,
            reason: Some(OpenReason::Transient),
            until: Some(t(34)),
            consecutive_failures: 5,
        }
    );
    assert_eq!(
        serde_json::to_string(&view).unwrap(),
        r#"{"state":"open","reason":"transient","until":"2023-11-14T22:13:54Z","consecutive_failures":5}"#
    );
    let back: BreakerView = serde_json::from_str(&serde_json::to_string(&view).unwrap()).unwrap();
    assert_eq!(back, view);
    // After the open time, without any admit: half-open, no `until`.
    let later = b.view(t(40));
    assert_eq!(later.state, BreakerState::HalfOpen);
    assert_eq!(later.until, None);
    assert_eq!(
        serde_json::to_string(&Breaker::new(BreakerConfig::default()).view(t(0))).unwrap(),
        r#"{"state":"closed","consecutive_failures":0}"#
    );
}

#[test]
fn labels_match_class_labels() {
    for class in [ent(), auth(), rl(None), transient(), bad()] {
        let reason = OpenReason::from_class(&class).unwrap();
        assert_eq!(reason.as_str(), class.label());
        assert_eq!(
            serde_json::to_value(reason).unwrap(),
            serde_json::Value::String(class.label().to_string())
        );
    }
    assert_eq!(OpenReason::from_class(&missing()), None);
    for st in [
        BreakerState::Closed,
        BreakerState::Open,
        BreakerState::HalfOpen,
        BreakerState::ForcedOpen,
        BreakerState::Disabled,
    ] {
        assert_eq!(
            serde_json::to_value(st).unwrap(),
            serde_json::Value::String(st.as_str().to_string())
        );
    }
}

#[test]
fn persisted_entitlement_circuit_survives_a_restart() {
    let cfg = BreakerConfig::default();
    let mut b = Breaker::new(cfg);
    b.on_failure(&ent(), t(0));
    let json = serde_json::to_string(&b.snapshot()).unwrap();
    assert_eq!(
        json,
        r#"{"phase":{"state":"open","reason":"entitlement","until":"2023-11-14T23:13:20Z"},"consecutive_failures":1,"opens":1}"#
    );
    let mut restored = Breaker::restore(cfg, serde_json::from_str(&json).unwrap());
    assert_eq!(
        restored.admit(t(1800)),
        reject(OpenReason::Entitlement, 3600)
    );
    assert_eq!(restored.admit(t(3600)), Admission::Probe);
}

#[test]
fn restore_drops_an_outstanding_probe() {
    let cfg = BreakerConfig::default();
    let mut b = Breaker::new(cfg);
    for s in 0..5 {
        b.on_failure(&transient(), t(s));
    }
    assert_eq!(b.admit(t(34)), Admission::Probe);
    let mut restored = Breaker::restore(cfg, b.snapshot());
    assert_eq!(b.admit(t(35)), reject(OpenReason::Transient, 64));
    assert_eq!(restored.admit(t(35)), Admission::Probe);
}

#[test]
fn config_validation() {
    assert_eq!(BreakerConfig::default().validate(), Result::Ok(()));
    let d = BreakerConfig::default();
    let cases = [
        (
            BreakerConfig {
                failure_threshold: 0,
                ..d
            },
            BreakerConfigError::ZeroThreshold,
        ),
        (
            BreakerConfig {
                base_open: Duration::ZERO,
                ..d
            },
            BreakerConfigError::ZeroDuration { field: "base_open" },
        ),
        (
            BreakerConfig {
                rate_limit_cap: Duration::ZERO,
                ..d
            },
            BreakerConfigError::ZeroDuration {
                field: "rate_limit_cap",
            },
        ),
        (
            BreakerConfig {
                base_open: Duration::from_secs(600),
                ..d
            },
            BreakerConfigError::BaseOverMax {
                base: Duration::from_secs(600),
                max: Duration::from_secs(300),
            },
        ),
        (
            BreakerConfig {
                entitlement_open: Duration::from_secs(30 * 24 * 3600),
                ..d
            },
            BreakerConfigError::TooLong {
                field: "entitlement_open",
                got: Duration::from_secs(30 * 24 * 3600),
            },
        ),
    ];
    for (cfg, want) in cases {
        assert_eq!(cfg.validate(), Err(want));
    }
    assert_eq!(
        BreakerConfigError::BaseOverMax {
            base: Duration::from_secs(600),
            max: Duration::from_secs(300)
        }
        .to_string(),
        "breaker base open time (600s) must not exceed the max open time (300s)"
    );
}

#[test]
fn ten_minute_outage_replay() {
    let cfg = BreakerConfig::default();
    let always_500 = |_| Err(transient());
    let r = replay(cfg, t(0), Duration::from_secs(5), 120, always_500);
    // 5 failures open it at 20 s; then a probe every 30 s (transient_max_open): 50, 80, … 590.
    let mut want: Vec<Timestamp> = [0, 5, 10, 15, 20].into_iter().map(t).collect();
    want.extend((50..600).step_by(30).map(t));
    assert_eq!(r.sent_at, want);
    assert_eq!(r.sent, 24);
    assert_eq!(r.rejected, 96);
    assert_eq!(r.first_success, None);
    // Issue 18's floor: at least 80 % of the requests saved against no breaker.
    assert!(r.rejected * 100 >= r.runs * 80, "{r:?}");

    // The price: after the backend recovers at 600 s, data resumes with the next probe.
    let r = replay(cfg, t(0), Duration::from_secs(5), 180, |now| {
        if now < t(600) {
            Err(transient())
        } else {
            Result::Ok(())
        }
    });
    assert_eq!(r.first_success, Some(t(620)));
    // Closed again after the probe: every later run goes out.
    assert_eq!(r.sent, 24 + 1 + (895 - 620) / 5);
}

/// Inputs for the property test: a time step and an event.
#[derive(Debug, Clone)]
enum Ev {
    Admit,
    Ok,
    Fail(ErrorClass),
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        3 => Just(Ev::Admit),
        1 => Just(Ev::Ok),
        1 => Just(Ev::Fail(transient())),
        1 => Just(Ev::Fail(ent())),
        1 => Just(Ev::Fail(auth())),
        1 => (proptest::option::of(0u64..1000)).prop_map(|s| Ev::Fail(rl(s))),
        1 => Just(Ev::Fail(bad())),
        1 => Just(Ev::Fail(missing())),
    ]
}

proptest! {
    #[test]
    fn snapshot_json_restore_round_trip(events in proptest::collection::vec((0i64..120, ev()), 0..60)) {
        let cfg = BreakerConfig::default();
        let mut b = Breaker::new(cfg);
        let mut now = 0;
        for (dt, e) in events {
            now += dt;
            match e {
                Ev::Admit => { b.admit(t(now)); }
                Ev::Ok => b.on_success(t(now)),
                Ev::Fail(c) => b.on_failure(&c, t(now)),
            }
        }
        let snap = b.snapshot();
        let json = serde_json::to_string(&snap).unwrap();
        let back: BreakerSnapshot = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &snap);
        let mut restored = Breaker::restore(cfg, back);
        prop_assert_eq!(restored.snapshot(), snap);
        // Without a probe in flight, the restored breaker behaves exactly like the original.
        let probe_out = matches!(b.phase, Phase::HalfOpen { probe_until: Some(_), .. });
        if !probe_out {
            prop_assert_eq!(&restored, &b);
            for later in [now, now + 1, now + 100, now + 4000] {
                prop_assert_eq!(restored.admit(t(later)), b.admit(t(later)));
            }
        }
    }

    #[test]
    fn never_allows_while_open_and_never_more_than_one_probe(events in proptest::collection::vec((0i64..60, ev()), 0..80)) {
        let mut b = Breaker::new(BreakerConfig::default());
        let mut now = 0;
        for (dt, e) in events {
            now += dt;
            let before = b.state(t(now));
            match e {
                Ev::Admit => {
                    let a = b.admit(t(now));
                    match before {
                        BreakerState::Closed => prop_assert_eq!(a, Admission::Allow),
                        BreakerState::Open => {
                            let rejected = matches!(a, Admission::Reject { .. });
                            prop_assert!(rejected);
                        }
                        BreakerState::HalfOpen => {
                            prop_assert!(a != Admission::Allow);
                            if a == Admission::Probe {
                                // Immediately after a probe, nobody else gets through.
                                let second = b.admit(t(now));
                                let rejected = matches!(second, Admission::Reject { .. });
                                prop_assert!(rejected);
                            }
                        }
                        other => prop_assert!(false, "unexpected state {:?}", other),
                    }
                }
                Ev::Ok => b.on_success(t(now)),
                Ev::Fail(c) => b.on_failure(&c, t(now)),
            }
        }
    }
}
