//! The fault-matrix driver (issue 5), shared by `tests/fault_matrix.rs` and
//! `examples/fault_table.rs`: one cell = one module × one fault, played through the real runner
//! over real HTTP against the sandbox, with a fake clock driving the breakers.
//!
//! A cell asserts (panics on the first broken promise): the run ends within its deadline, the
//! module's class and code, the four other modules still ok, and — counted on the sandbox side —
//! exactly the requests the breaker promises over the following runs, then recovery once the
//! fault is gone.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use clap::Parser;
use sniper::config::ConfigArgs;
use sniper::discovery::defaults::default_path;
use sniper::module_id::ModuleId;
use sniper::resilience::breaker::{BreakerConfig, BreakerState};
use sniper::resilience::class::{ErrorClass, PayloadKind, TransientKind};
use sniper::run::modules::Outcome;
use sniper::run::{Clock, RunResult, Runner};
use sniper::sandbox::{Fault, Sandbox};

/// Each module's own timeout in the matrix. Short so a hang costs little, long enough that a
/// 500 answered within 200 ms always leaves room for the one retry (which needs 100 ms of
/// jitter at most plus 200 ms of budget).
pub const MODULE_TIMEOUT: &str = "500ms";
/// The run's deadline in the matrix.
pub const RUN_DEADLINE: &str = "1s";
/// `RUN_DEADLINE` in ms.
pub const DEADLINE_MS: u64 = 1_000;
/// A run must report a duration within the deadline plus this slack (scheduling on a loaded
/// 2-core CI machine); generous on purpose, it is there to catch a stalled run, not to time one.
pub const SLACK_MS: u64 = 500;
/// A run that has not returned after this long fails the test instead of hanging it.
pub const WALL_GUARD: Duration = Duration::from_secs(10);
/// Size of the huge body: 20 MB against the 8 MiB default cap.
pub const HUGE: usize = 20 * 1024 * 1024;
/// The default body cap (`SNIPER_MAX_BODY`).
pub const CAP: u64 = 8 * 1024 * 1024;

/// A settable wall clock (whole seconds) for the runner's breakers.
#[derive(Clone)]
pub struct FakeClock(Arc<AtomicI64>);

impl FakeClock {
    /// Starts at the real time now (to the second): the sandbox stamps its data with the real
    /// clock, and a time ahead of the runner's clock beyond the skew allowed is refused as in the
    /// future (issue 22 item 2), so the two must start together. [`runner_at`] widens the maximum
    /// ages, so advancing this clock never makes the sandbox's data stale.
    pub fn new() -> FakeClock {
        FakeClock(Arc::new(AtomicI64::new(jiff::Timestamp::now().as_second())))
    }
    pub fn clock(&self) -> Clock {
        let s = self.0.clone();
        Arc::new(move || {
            jiff::Timestamp::from_second(s.load(Ordering::SeqCst)).unwrap_or(jiff::Timestamp::MIN)
        })
    }
    pub fn now(&self) -> jiff::Timestamp {
        (self.clock())()
    }
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    c: ConfigArgs,
}

/// A runner on `url` with the matrix's timeouts, `extra` flags and the fake clock.
pub fn runner_at(url: &str, extra: &[&str], clock: &FakeClock) -> Arc<Runner> {
    let mut argv = vec![
        "t",
        "--py-base-url",
        url,
        "--module-timeout",
        MODULE_TIMEOUT,
        "--run-deadline",
        RUN_DEADLINE,
        // The matrix counts requests per run: every module is due every run (freshness reuse has
        // its own tests in tests/cost.rs).
        "--refresh-heatmap",
        "0",
        "--refresh-whale-alerts",
        "0",
        "--refresh-etf",
        "0",
        "--refresh-bias",
        "0",
        // The sandbox's data carries real times while this harness moves its own clock (hours
        // in some tests): freshness is not what the matrix tests.
        "--max-age-spot-ob",
        "720h",
        "--max-age-heatmap",
        "720h",
        "--max-age-whale-alerts",
        "720h",
        "--max-age-etf",
        "720h",
        "--max-age-bias",
        "720h",
        "--max-clock-skew",
        "1h",
    ];
    argv.extend_from_slice(extra);
    let mut cfg = Flags::try_parse_from(argv)
        .expect("flags parse")
        .c
        .validate()
        .expect("valid config");
    cfg.sandbox = true;
    Runner::new(cfg, clock.clock()).expect("runner")
}

/// A licensed sandbox (ETF answers 200 unless faulted) and a runner on it.
pub async fn setup(extra: &[&str]) -> (Sandbox, Arc<Runner>, FakeClock) {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    sb.state.set_licensed(true);
    let clock = FakeClock::new();
    let runner = runner_at(&sb.url(), extra, &clock);
    (sb, runner, clock)
}

/// One run (one symbol), failing instead of hanging, and checked against the deadline.
pub async fn run(runner: &Arc<Runner>) -> RunResult {
    let mut rs = tokio::time::timeout(WALL_GUARD, runner.run_once())
        .await
        .expect("the run hung past the wall guard");
    assert_eq!(rs.len(), 1);
    let r = rs.remove(0);
    assert!(
        r.duration_ms <= DEADLINE_MS + SLACK_MS,
        "run took {} ms, deadline {} ms",
        r.duration_ms,
        DEADLINE_MS
    );
    r
}

/// Requests the sandbox received for a module: on a route of its table, or under its default
/// path (the 404 fallbacks that match no route, e.g. `/advanced/liquidation/heatmap/{symbol}`).
pub fn received(sb: &Sandbox, m: ModuleId) -> usize {
    sb.state
        .hits()
        .iter()
        .filter(|h| h.module == Some(m) || h.path.starts_with(default_path(m)))
        .count()
}

/// The faults of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PaymentRequired,
    Envelope,
    NotFound,
    RateLimited,
    S500,
    S503,
    S503RetryAfter,
    Hang,
    /// Connection dropped (RST) before any response byte: per-module "refused", see `Fault::close`.
    Dropped,
    ResetMidBody,
    Garbage,
    Huge,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::PaymentRequired,
        Kind::Envelope,
        Kind::NotFound,
        Kind::RateLimited,
        Kind::S500,
        Kind::S503,
        Kind::S503RetryAfter,
        Kind::Hang,
        Kind::Dropped,
        Kind::ResetMidBody,
        Kind::Garbage,
        Kind::Huge,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::PaymentRequired => "402",
            Kind::Envelope => "2xx envelope",
            Kind::NotFound => "404",
            Kind::RateLimited => "429 RA:2",
            Kind::S500 => "500",
            Kind::S503 => "503",
            Kind::S503RetryAfter => "503 RA:date+3s",
            Kind::Hang => "hang",
            Kind::Dropped => "conn dropped",
            Kind::ResetMidBody => "reset mid-body",
            Kind::Garbage => "garbage",
            Kind::Huge => "20 MB body",
        }
    }

    /// The sandbox fault; `now` is the fake clock (an HTTP-date `Retry-After` is relative to it).
    pub fn fault(self, now: jiff::Timestamp) -> Fault {
        let status = |s: u16, ra: Option<String>| Fault {
            status: Some(s),
            retry_after: ra,
            ..Fault::default()
        };
        match self {
            Kind::PaymentRequired => status(402, None),
            Kind::Envelope => Fault {
                envelope: true,
                ..Fault::default()
            },
            Kind::NotFound => status(404, None),
            Kind::RateLimited => status(429, Some("2".into())),
            Kind::S500 => status(500, None),
            Kind::S503 => status(503, None),
            Kind::S503RetryAfter => {
                let at = now
                    .checked_add(jiff::SignedDuration::from_secs(3))
                    .expect("in range");
                let date = jiff::fmt::rfc2822::DateTimePrinter::new()
                    .timestamp_to_rfc9110_string(&at)
                    .expect("printable");
                status(503, Some(date))
            }
            Kind::Hang => Fault {
                hang: true,
                ..Fault::default()
            },
            Kind::Dropped => Fault {
                close: true,
                ..Fault::default()
            },
            Kind::ResetMidBody => Fault {
                reset: true,
                ..Fault::default()
            },
            Kind::Garbage => Fault {
                garbage: true,
                ..Fault::default()
            },
            Kind::Huge => Fault {
                body_bytes: Some(HUGE),
                ..Fault::default()
            },
        }
    }

    /// The class the module must report.
    pub fn class(self) -> ErrorClass {
        let transient = |kind| ErrorClass::Transient { kind };
        let bad = |kind| ErrorClass::BadPayload { kind };
        match self {
            Kind::PaymentRequired => ErrorClass::Entitlement { status: 402 },
            // `{"code":"401","msg":"Upgrade plan"}`: the plan message wins, status from the code.
            Kind::Envelope => ErrorClass::Entitlement { status: 401 },
            Kind::NotFound => ErrorClass::RouteMissing,
            Kind::RateLimited => ErrorClass::RateLimited {
                retry_after_secs: Some(2),
            },
            Kind::S500 => transient(TransientKind::Status(500)),
            Kind::S503 => transient(TransientKind::Status(503)),
            Kind::S503RetryAfter => ErrorClass::RateLimited {
                retry_after_secs: Some(3),
            },
            Kind::Hang => transient(TransientKind::Timeout),
            Kind::Dropped | Kind::ResetMidBody => transient(TransientKind::Reset),
            Kind::Garbage => bad(PayloadKind::NotJson),
            Kind::Huge => bad(PayloadKind::TooLarge),
        }
    }

    /// What the breaker promises, per module (`attempts` = requests of one admitted call).
    pub fn promise(self, m: ModuleId) -> Promise {
        match self {
            Kind::PaymentRequired | Kind::Envelope => Promise::OpenFor {
                secs: 3600,
                attempts: 1,
            },
            Kind::RateLimited => Promise::OpenFor {
                secs: 2,
                attempts: 1,
            },
            Kind::S503RetryAfter => Promise::OpenFor {
                secs: 3,
                attempts: 1,
            },
            // Transient: retried once inside the call.
            // A transient circuit re-opens for 30 s at most (`transient_max_open`, issue 18).
            Kind::S500 | Kind::S503 | Kind::Dropped | Kind::ResetMidBody => {
                Promise::AfterThreshold {
                    attempts: 2,
                    reopen_secs: 30,
                }
            }
            // The first attempt used the whole budget: no room for a retry.
            Kind::Hang => Promise::AfterThreshold {
                attempts: 1,
                reopen_secs: 30,
            },
            // Bad payload: never retried, but trips the breaker like transient, and re-opens on
            // the doubling schedule (60 s).
            Kind::Garbage | Kind::Huge => Promise::AfterThreshold {
                attempts: 1,
                reopen_secs: 60,
            },
            // Every distinct URL (the spec's choice, then the design's shapes) is tried once per
            // run, in order; never opens. ETF: the sandbox spec's `asset&days`, then the design's
            // `asset`; heatmap and spot_ob: the design's three shapes (the spec's choice is the
            // first of them); whale alerts and bias: one shape.
            Kind::NotFound => Promise::Never {
                attempts: match m {
                    ModuleId::Heatmap | ModuleId::SpotOb => 3,
                    ModuleId::Etf => 2,
                    ModuleId::WhaleAlerts | ModuleId::Bias => 1,
                },
            },
        }
    }
}

/// The breaker's promise for a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Promise {
    /// Opens on the first failure for `secs`; nothing is sent until then, then one probe.
    OpenFor { secs: i64, attempts: usize },
    /// Opens after 5 consecutive failed calls for 30 s, then one probe; a failed probe re-opens
    /// for `reopen_secs` (transient: capped at 30 s; bad payload: the doubling schedule, 60 s).
    AfterThreshold { attempts: usize, reopen_secs: i64 },
    /// Never opens: every run sends `attempts` requests.
    Never { attempts: usize },
}

/// What one cell measured.
#[derive(Debug, Clone)]
pub struct CellReport {
    pub module: ModuleId,
    pub kind: Kind,
    /// `duration_ms` of the first faulted run.
    pub first_run_ms: u64,
    /// Runs made while the fault was on.
    pub runs: usize,
    /// Requests the sandbox received for the module over those runs.
    pub requests: usize,
    /// Requests it would have received without a breaker (`runs` × per-call requests).
    pub without_breaker: usize,
    /// For the huge body: bytes the sandbox produced for the first call (client read + buffers).
    pub body_bytes_produced: Option<u64>,
}

fn code_of(r: &RunResult, m: ModuleId) -> (String, Option<ErrorClass>) {
    match &r.context[&m].call.outcome {
        Outcome::SoftFail { code, class, .. } => (code.clone(), class.clone()),
        o => panic!("{m}: expected a soft fail, got {o:?}"),
    }
}

fn state_of(r: &RunResult, m: ModuleId) -> BreakerState {
    r.context[&m].breaker.as_ref().expect("breaker view").state
}

/// The module failed with the fault's class and code; the four others are ok.
fn assert_faulted(r: &RunResult, m: ModuleId, kind: Kind) {
    let (code, class) = code_of(r, m);
    let want = kind.class();
    assert_eq!(class.as_ref(), Some(&want), "{m} × {}: class", kind.name());
    assert_eq!(code, want.code(m.upper()), "{m} × {}: code", kind.name());
    assert_others_ok(r, m, kind);
}

fn assert_circuit_open(r: &RunResult, m: ModuleId, kind: Kind) {
    let (code, class) = code_of(r, m);
    assert_eq!(
        code,
        format!("{}_CIRCUIT_OPEN", m.upper()),
        "{m} × {}",
        kind.name()
    );
    assert_eq!(class, None);
    assert_eq!(r.context[&m].call.attempts, 0);
    assert_others_ok(r, m, kind);
}

fn assert_others_ok(r: &RunResult, m: ModuleId, kind: Kind) {
    for o in ModuleId::ALL.into_iter().filter(|o| *o != m) {
        assert!(
            matches!(r.context[&o].call.outcome, Outcome::Ok { .. }),
            "{m} × {}: other module {o} affected: {:?}",
            kind.name(),
            r.context[&o].call.outcome
        );
    }
    assert!(r.success);
}

/// Play one cell; panics on the first broken promise.
pub async fn cell(m: ModuleId, kind: Kind) -> CellReport {
    let (sb, runner, clock) = setup(&[]).await;
    let t0 = clock.now();
    sb.state.set_fault(m, kind.fault(t0));
    let ctx = format!("{m} × {}", kind.name());
    let mut runs = 0;

    // First run: class, code, the others untouched, requests of one call.
    let body_before = sb.state.big_body_bytes();
    let r = run(&runner).await;
    runs += 1;
    let first_run_ms = r.duration_ms;
    assert_faulted(&r, m, kind);
    for o in ModuleId::ALL.into_iter().filter(|o| *o != m) {
        assert_eq!(received(&sb, o), 1, "{ctx}: {o} sent more than once");
    }
    let mut body_bytes_produced = None;
    if kind == Kind::Huge {
        let pulled = sb.state.big_body_bytes() - body_before;
        body_bytes_produced = Some(pulled);
        // Stopped by the cap, not by anything earlier. (Whether it stopped reading *at* the cap
        // is `body_not_read_to_the_end`'s job: 20 MB fits in loopback socket buffers.)
        assert!(pulled > CAP, "{ctx}: only {pulled} bytes produced");
    }

    let per_call = match kind.promise(m) {
        Promise::OpenFor { attempts, .. }
        | Promise::AfterThreshold { attempts, .. }
        | Promise::Never { attempts } => attempts,
    };
    match kind.promise(m) {
        Promise::OpenFor { secs, attempts } => {
            assert_eq!(received(&sb, m), attempts, "{ctx}: first call");
            let view = r.context[&m].breaker.clone().expect("view");
            assert_eq!(view.state, BreakerState::Open, "{ctx}");
            assert_eq!(
                view.until,
                Some(
                    t0.checked_add(jiff::SignedDuration::from_secs(secs))
                        .expect("ts")
                ),
                "{ctx}: open until"
            );
            // Inside the open time: nothing reaches the backend, however many runs.
            let mut elapsed = 0;
            for step in [0, 1, secs / 2, secs - 1] {
                clock.advance(step - elapsed);
                elapsed = step;
                let r = run(&runner).await;
                runs += 1;
                assert_circuit_open(&r, m, kind);
            }
            assert_eq!(received(&sb, m), attempts, "{ctx}: request while open");
            // At the end of the open time: one probe, which fails again and re-opens. (The
            // fault is set again: a server's HTTP-date `Retry-After` is relative to its now.)
            clock.advance(secs - elapsed);
            sb.state.set_fault(m, kind.fault(clock.now()));
            let r = run(&runner).await;
            runs += 1;
            assert_faulted(&r, m, kind);
            assert_eq!(received(&sb, m), 2 * attempts, "{ctx}: probe");
            assert_eq!(state_of(&r, m), BreakerState::Open, "{ctx}: probe re-opens");
            let r = run(&runner).await;
            runs += 1;
            assert_circuit_open(&r, m, kind);
            assert_eq!(received(&sb, m), 2 * attempts, "{ctx}: one probe only");
        }
        Promise::AfterThreshold {
            attempts,
            reopen_secs,
        } => {
            let threshold = BreakerConfig::default().failure_threshold as usize;
            assert_eq!(received(&sb, m), attempts, "{ctx}: first call");
            assert_eq!(r.context[&m].call.attempts as usize, attempts, "{ctx}");
            assert_eq!(state_of(&r, m), BreakerState::Closed, "{ctx}");
            for i in 2..=threshold {
                clock.advance(5);
                let r = run(&runner).await;
                runs += 1;
                assert_faulted(&r, m, kind);
                assert_eq!(received(&sb, m), i * attempts, "{ctx}: call {i}");
                let want = if i == threshold {
                    BreakerState::Open
                } else {
                    BreakerState::Closed
                };
                assert_eq!(state_of(&r, m), want, "{ctx}: after call {i}");
            }
            let opened = threshold * attempts;
            // Open for the base time (30 s): runs every 5 s send nothing.
            for _ in 0..5 {
                clock.advance(5);
                let r = run(&runner).await;
                runs += 1;
                assert_circuit_open(&r, m, kind);
            }
            clock.advance(4); // +29 s
            let r = run(&runner).await;
            runs += 1;
            assert_circuit_open(&r, m, kind);
            assert_eq!(received(&sb, m), opened, "{ctx}: request while open");
            clock.advance(1); // +30 s: the half-open probe
            let r = run(&runner).await;
            runs += 1;
            assert_faulted(&r, m, kind);
            assert_eq!(received(&sb, m), opened + attempts, "{ctx}: probe");
            assert_eq!(state_of(&r, m), BreakerState::Open, "{ctx}: probe re-opens");
            // Re-opened for `reopen_secs`.
            clock.advance(reopen_secs - 1);
            let r = run(&runner).await;
            runs += 1;
            assert_circuit_open(&r, m, kind);
            assert_eq!(received(&sb, m), opened + attempts, "{ctx}: doubled open");
            clock.advance(1);
            let r = run(&runner).await;
            runs += 1;
            assert_faulted(&r, m, kind);
            assert_eq!(received(&sb, m), opened + 2 * attempts, "{ctx}: 2nd probe");
        }
        Promise::Never { attempts } => {
            assert_eq!(received(&sb, m), attempts, "{ctx}: first run");
            for i in 2..=7 {
                clock.advance(5);
                let r = run(&runner).await;
                runs += 1;
                assert_faulted(&r, m, kind);
                assert_eq!(state_of(&r, m), BreakerState::Closed, "{ctx}");
                assert_eq!(received(&sb, m), i * attempts, "{ctx}: run {i}");
            }
            // Each shape once per run, never the same URL twice.
            let mut urls: Vec<String> = sb
                .state
                .hits()
                .iter()
                .filter(|h| h.path.starts_with(default_path(m)))
                .map(|h| format!("{}?{}", h.path, h.query.clone().unwrap_or_default()))
                .take(attempts)
                .collect();
            urls.sort();
            urls.dedup();
            assert_eq!(urls.len(), attempts, "{ctx}: a URL sent twice in one run");
        }
    }
    let requests = received(&sb, m);

    // Recovery: the fault goes away; the next admitted call succeeds and closes the circuit.
    sb.state.clear_faults();
    clock.advance(3600);
    let r = run(&runner).await;
    assert!(
        matches!(r.context[&m].call.outcome, Outcome::Ok { .. }),
        "{ctx}: no recovery: {:?}",
        r.context[&m].call.outcome
    );
    assert_eq!(state_of(&r, m), BreakerState::Closed, "{ctx}: recovery");
    assert_eq!(r.used_modules.len(), 5);

    CellReport {
        module: m,
        kind,
        first_run_ms,
        runs,
        requests,
        without_breaker: runs * per_call,
        body_bytes_produced,
    }
}

/// The whole origin refuses connections (nothing listens on the port): the real
/// `ECONNREFUSED`, which can only be per origin. Counted on the client side (`attempts`).
pub async fn origin_refused() -> Vec<(ModuleId, u64, usize)> {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let clock = FakeClock::new();
    let runner = runner_at(&format!("http://127.0.0.1:{port}"), &[], &clock);
    let mut attempts = std::collections::BTreeMap::<ModuleId, usize>::new();
    let mut first_ms = 0;
    for i in 0..7 {
        let r = run(&runner).await;
        if i == 0 {
            first_ms = r.duration_ms;
        }
        assert!(!r.success);
        for m in ModuleId::ALL {
            let (code, class) = code_of(&r, m);
            let sent = r.context[&m].call.attempts as usize;
            *attempts.entry(m).or_default() += sent;
            if i < 5 {
                assert_eq!(
                    class,
                    Some(ErrorClass::Transient {
                        kind: TransientKind::Connect
                    }),
                    "{m} run {i}"
                );
                assert_eq!(code, format!("{}_UPSTREAM_UNREACHABLE", m.upper()));
                assert_eq!(sent, 2, "{m}: refused is retried once");
            } else {
                assert_eq!(code, format!("{}_CIRCUIT_OPEN", m.upper()), "{m} run {i}");
                assert_eq!(sent, 0);
            }
        }
        clock.advance(5);
    }
    ModuleId::ALL
        .into_iter()
        .map(|m| (m, first_ms, attempts[&m]))
        .collect()
}

/// Requests received over a scripted 10-minute outage (every module answers 500 to every
/// call), one run every 5 s on the fake clock = 120 runs through the real runner.
pub async fn outage(breakers: bool) -> usize {
    let disable = ["--breaker-disable", "etf,heatmap,spot_ob,whale_alerts,bias"];
    let (sb, runner, clock) = setup(if breakers { &[] } else { &disable }).await;
    for m in ModuleId::ALL {
        sb.state.set_fault(m, Kind::S500.fault(clock.now()));
    }
    for _ in 0..120 {
        let r = run(&runner).await;
        assert!(!r.success);
        clock.advance(5);
    }
    ModuleId::ALL.into_iter().map(|m| received(&sb, m)).sum()
}

/// A body far larger than any socket buffer (`size` bytes): how many bytes the sandbox produced
/// before sniper gave up, and the module's code. Produced ≈ cap + what the kernel buffers
/// (loopback autotuning: up to `tcp_rmem` max + `tcp_wmem` max, 32 + 4 MiB on common Linux
/// defaults), independent of `size` — sniper stops reading at the cap.
pub async fn body_not_read_to_the_end(size: usize) -> (u64, String) {
    let (sb, runner, _clock) = setup(&[]).await;
    sb.state.set_fault(
        ModuleId::Bias,
        Fault {
            body_bytes: Some(size),
            ..Fault::default()
        },
    );
    let r = run(&runner).await;
    let (code, _) = code_of(&r, ModuleId::Bias);
    // Let the server notice the closed connection before reading its counter.
    tokio::time::sleep(Duration::from_millis(200)).await;
    (sb.state.big_body_bytes(), code)
}
