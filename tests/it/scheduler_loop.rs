//! The scheduler loop under tokio's paused clock: scripted run outcomes, a wall clock anchored to
//! tokio time, and a hook that records what the loop reported.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use sniper::daemon::scheduler::{
    Clock, LoopContext, LoopHooks, RunSummary, Scheduler, SchedulerConfig, SchedulerStatus,
    run_loop,
};
use sniper::module_id::ModuleId;
use sniper::window::ActiveWindow;
use tokio::sync::watch;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn hard() -> RunSummary {
    RunSummary {
        success: false,
        detail: Some("all modules unreachable".into()),
        ..RunSummary::default()
    }
}

fn ok() -> RunSummary {
    RunSummary {
        success: true,
        modules_active: 5,
        ..RunSummary::default()
    }
}

fn partial() -> RunSummary {
    RunSummary {
        success: true,
        soft_fails: vec![ModuleId::Etf],
        modules_active: 4,
        detail: None,
        ..RunSummary::default()
    }
}

/// One finished run as the hooks saw it.
#[derive(Debug, Clone)]
struct Finished {
    prev: u32,
    new: u32,
    ready: bool,
    readiness_ok: bool,
}

#[derive(Default)]
struct Recorder {
    finished: Mutex<Vec<Finished>>,
    window: Mutex<Vec<(bool, Timestamp)>>,
    status: Mutex<Option<Arc<SchedulerStatus>>>,
}

impl LoopHooks for Recorder {
    fn window_changed(&self, in_window: bool, now: Timestamp) {
        self.window.lock().unwrap().push((in_window, now));
    }
    fn run_finished(
        &self,
        _summary: &RunSummary,
        _duration: Duration,
        prev: u32,
        new: u32,
        _now: Timestamp,
    ) {
        let status = self.status.lock().unwrap().clone().unwrap();
        self.finished.lock().unwrap().push(Finished {
            prev,
            new,
            ready: status.snapshot().ready,
            readiness_ok: status.readiness().ok,
        });
    }
}

struct Trace {
    /// Wall time at the start and end of each run.
    runs: Vec<(Timestamp, Timestamp)>,
    recorder: Arc<Recorder>,
    max_in_flight: usize,
    sched: Scheduler,
}

/// Runs the loop over `script` (each run takes `run_time` of tokio time), with jitter draws
/// from `jitter`, starting at wall time `start`. Shutdown is requested when the script runs out.
async fn drive(
    window: ActiveWindow,
    start: Timestamp,
    script: Vec<RunSummary>,
    run_time: Duration,
    jitter: Vec<f64>,
) -> Trace {
    let cfg = SchedulerConfig::default();
    let clock = Clock::anchored(start);
    let status = SchedulerStatus::new(start, &cfg);
    let recorder = Arc::new(Recorder::default());
    *recorder.status.lock().unwrap() = Some(status.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);

    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let runs = Arc::new(Mutex::new(Vec::new()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));

    let run = {
        let (script, runs, in_flight, max_in_flight, stop_tx) = (
            script.clone(),
            runs.clone(),
            in_flight.clone(),
            max_in_flight.clone(),
            stop_tx.clone(),
        );
        move || {
            let (script, runs, in_flight, max_in_flight, stop_tx) = (
                script.clone(),
                runs.clone(),
                in_flight.clone(),
                max_in_flight.clone(),
                stop_tx.clone(),
            );
            async move {
                let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                max_in_flight.fetch_max(n, Ordering::SeqCst);
                let began = clock.now();
                tokio::time::sleep(run_time).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                runs.lock().unwrap().push((began, clock.now()));
                let (summary, last) = {
                    let mut s = script.lock().unwrap();
                    (s.pop_front().unwrap_or_else(ok), s.is_empty())
                };
                if last {
                    let _ = stop_tx.send(true);
                }
                summary
            }
        }
    };

    let mut draws = VecDeque::from(jitter);
    let mut ctx = LoopContext::new(status.clone(), recorder.clone(), stop_rx);
    ctx.clock = clock;
    ctx.jitter = Box::new(move || draws.pop_front().unwrap_or(0.5));

    // A concurrent "POST /api/run" that takes the run lock while the loop runs.
    let api = {
        let status = status.clone();
        let (in_flight, max_in_flight) = (in_flight.clone(), max_in_flight.clone());
        tokio::spawn(async move {
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(2300)).await;
                let _permit = status.run_lock().lock().await;
                let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                max_in_flight.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(700)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
            }
        })
    };

    let sched = run_loop(Scheduler::new(cfg), window, run, ctx).await;
    api.abort();
    let runs = runs.lock().unwrap().clone();
    Trace {
        runs,
        recorder,
        max_in_flight: max_in_flight.load(Ordering::SeqCst),
        sched,
    }
}

/// Pauses between the end of run k and the start of run k+1.
fn gaps(runs: &[(Timestamp, Timestamp)]) -> Vec<Duration> {
    runs.windows(2)
        .map(|w| Duration::try_from(w[1].0.duration_since(w[0].1)).unwrap())
        .collect()
}

/// `actual` is `expected` up to the run lock wait and tokio's millisecond timer rounding.
fn about(actual: Duration, expected: Duration, slack: Duration) -> bool {
    actual >= expected && actual <= expected + slack
}

#[tokio::test(start_paused = true)]
async fn backoff_stays_within_full_jitter_bounds_and_success_resets() {
    let script = vec![
        hard(),
        hard(),
        hard(),
        hard(),
        hard(),
        hard(),
        hard(),
        ok(),
        ok(),
    ];
    let jitter = vec![0.9, 0.1, 1.0, 0.5, 0.0, 0.75, 1.0, 0.3, 0.3];
    let t = drive(
        ActiveWindow::always_open(),
        ts("2026-06-01T00:00:00Z"),
        script,
        Duration::from_secs(1),
        jitter.clone(),
    )
    .await;
    assert_eq!(t.runs.len(), 9);
    let g = gaps(&t.runs);
    // After the k-th failure the ceiling is min(60, 5·2^(k-1)) and the pause is draw × ceiling.
    let ceilings = [5.0, 10.0, 20.0, 40.0, 60.0, 60.0, 60.0];
    let slack = Duration::from_millis(800); // the API task may hold the run lock for 700 ms
    for (k, ceiling) in ceilings.iter().enumerate() {
        let expected = Duration::from_secs_f64(ceiling * jitter[k]);
        assert!(
            about(g[k], expected, slack),
            "gap {k}: {:?} vs {:?}",
            g[k],
            expected
        );
        assert!(g[k] <= Duration::from_secs(60) + slack);
    }
    // The success after seven failures resets to the interval, whatever the draw.
    assert!(about(g[7], Duration::from_secs(5), slack), "{:?}", g[7]);
    assert_eq!(t.sched.consecutive_failures(), 0);
    assert_eq!(t.max_in_flight, 1);
}

#[tokio::test(start_paused = true)]
async fn partial_success_resets_backoff_and_readiness_flips_at_three() {
    let script = vec![hard(), hard(), hard(), hard(), partial(), hard(), ok()];
    let t = drive(
        ActiveWindow::always_open(),
        ts("2026-06-01T00:00:00Z"),
        script,
        Duration::from_millis(200),
        vec![1.0; 7],
    )
    .await;
    let f = t.recorder.finished.lock().unwrap().clone();
    let streak: Vec<(u32, u32)> = f.iter().map(|x| (x.prev, x.new)).collect();
    assert_eq!(
        streak,
        [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (0, 1), (1, 0)]
    );
    let ready: Vec<bool> = f.iter().map(|x| x.ready).collect();
    assert_eq!(ready, [true, true, false, false, true, true, true]);
    assert!(f.iter().all(|x| x.ready == x.readiness_ok));
    let g = gaps(&t.runs);
    let slack = Duration::from_millis(800);
    // After the partial success: the interval, not the 40 s ceiling of a 5th failure.
    assert!(about(g[4], Duration::from_secs(5), slack), "{:?}", g[4]);
    // And the next failure starts over at the base.
    assert!(about(g[5], Duration::from_secs(5), slack), "{:?}", g[5]);
    assert!(about(g[3], Duration::from_secs(40), slack), "{:?}", g[3]);
}

#[tokio::test(start_paused = true)]
async fn long_runs_never_overlap() {
    // Each run takes 12 s, longer than the 5 s interval.
    let t = drive(
        ActiveWindow::always_open(),
        ts("2026-06-01T00:00:00Z"),
        vec![ok(), hard(), ok(), ok(), ok()],
        Duration::from_secs(12),
        vec![0.0; 5],
    )
    .await;
    assert_eq!(t.runs.len(), 5);
    for w in t.runs.windows(2) {
        assert!(w[1].0 >= w[0].1, "{:?} starts before {:?} ends", w[1], w[0]);
    }
    assert_eq!(t.max_in_flight, 1);
}

#[tokio::test(start_paused = true)]
async fn sleeps_outside_the_window_and_resumes_at_the_opening() {
    let w = ActiveWindow::parse("Asia/Jakarta", "07:00", "23:30").unwrap();
    let t = drive(
        w,
        ts("2026-06-01T23:29:44+07:00"),
        vec![ok(); 6],
        Duration::from_secs(1),
        vec![],
    )
    .await;
    let starts: Vec<Timestamp> = t.runs.iter().map(|r| r.0).collect();
    let (before, after): (Vec<Timestamp>, Vec<Timestamp>) = starts
        .iter()
        .partition(|s| **s < ts("2026-06-02T00:00:00+07:00"));
    // 23:29:44, :50, :56 — then closed until 07:00 the next morning.
    assert_eq!(before.len(), 3, "{starts:?}");
    assert!(before.iter().all(|s| *s < ts("2026-06-01T23:30:00+07:00")));
    assert_eq!(after[0], ts("2026-06-02T07:00:00+07:00"));
    let changes = t.recorder.window.lock().unwrap().clone();
    let flags: Vec<bool> = changes.iter().map(|c| c.0).collect();
    assert_eq!(flags, [true, false, true]);
    assert_eq!(changes[2].1, ts("2026-06-02T07:00:00+07:00"));
}

#[tokio::test(start_paused = true)]
async fn status_while_sleeping_until_the_opening_is_alive_and_says_when() {
    let w = ActiveWindow::parse("Asia/Jakarta", "07:00", "23:30").unwrap();
    let start = ts("2026-06-01T01:00:00+07:00");
    let cfg = SchedulerConfig::default();
    let status = SchedulerStatus::new(start, &cfg);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut ctx = LoopContext::new(status.clone(), (), stop_rx);
    ctx.clock = Clock::anchored(start);
    let handle = tokio::spawn(run_loop(Scheduler::new(cfg), w, || async { ok() }, ctx));
    // Three hours into the six-hour sleep.
    tokio::time::sleep(Duration::from_secs(3 * 3600)).await;
    let snap = status.snapshot();
    assert!(!snap.in_window);
    assert_eq!(snap.next_run_at, Some(ts("2026-06-01T07:00:00+07:00")));
    assert_eq!(snap.runs, 0);
    assert!(status.liveness(ts("2026-06-01T04:00:00+07:00")).ok);
    stop_tx.send(true).unwrap();
    let sched = handle.await.unwrap();
    assert_eq!(sched.consecutive_failures(), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_cancels_a_stuck_run_after_the_grace() {
    let start = ts("2026-06-01T00:00:00Z");
    let cfg = SchedulerConfig::default();
    let status = SchedulerStatus::new(start, &cfg);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut ctx = LoopContext::new(status.clone(), (), stop_rx);
    let clock = Clock::anchored(start);
    ctx.clock = clock;
    let dropped = Arc::new(AtomicUsize::new(0));
    struct OnDrop(Arc<AtomicUsize>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let d = dropped.clone();
    let handle = tokio::spawn(run_loop(
        Scheduler::new(cfg),
        ActiveWindow::always_open(),
        move || {
            let guard = OnDrop(d.clone());
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                ok()
            }
        },
        ctx,
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(status.snapshot().running);
    // A run stuck past its budget (5 s) plus 3 intervals (15 s) makes the loop look dead.
    let at = |secs| clock.now() + jiff::SignedDuration::from_secs(secs);
    assert!(status.liveness(at(19)).ok);
    assert!(!status.liveness(at(21)).ok);
    stop_tx.send(true).unwrap();
    let stopped_at = tokio::time::Instant::now();
    handle.await.unwrap();
    assert_eq!(stopped_at.elapsed(), Duration::from_secs(5));
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert!(!status.snapshot().running);
}
