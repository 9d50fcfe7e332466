//! SqliteStore against real SQLite files: migrations, queries, round trips, reopen, retention.

use jiff::{SignedDuration, Timestamp};
use rusqlite::Connection;
use serde_json::json;
use sniper::store::{
    AsyncStore, HistoryArgs, MIGRATIONS, ModuleRecord, Outcome, RunQuery, RunRecord, SCHEMA_V1,
    SCHEMA_VERSION, SqliteStore, StateStore, StoreError, StoreOptions, run_history_cli,
};
use std::sync::Arc;

/// The backend the saved state in these tests belongs to.
const B: &str = "http://127.0.0.1:8000";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn module(name: &str, status: &str, code: Option<&str>, latency_ms: u64) -> ModuleRecord {
    ModuleRecord {
        module: name.into(),
        status: status.into(),
        code: code.map(String::from),
        latency_ms,
    }
}

/// A run at `at` with the given outcome; `etf` soft-fails unless the run is a success.
fn run(at: Timestamp, outcome: Outcome) -> RunRecord {
    let etf = match outcome {
        Outcome::Success => module("etf", "ok", None, 40),
        _ => module("etf", "soft_fail", Some("ETF_PAYMENT_REQUIRED"), 12),
    };
    RunRecord {
        id: None,
        at,
        outcome,
        success: outcome != Outcome::Failure,
        duration_ms: 321,
        soft_fails: if outcome == Outcome::Success {
            vec![]
        } else {
            vec!["ETF_PAYMENT_REQUIRED".into()]
        },
        modules: vec![etf, module("heatmap", "ok", None, 80)],
        payload: None,
        payload_dropped: false,
        sandbox: true,
        backend: None,
        trigger: sniper::run::Trigger::Schedule,
        replica: None,
        symbol: None,
        run_group: None,
    }
}

fn user_version(path: &std::path::Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

fn table_names(path: &std::path::Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn migrates_an_empty_file_to_the_latest_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::File::create(&path).unwrap(); // a zero-byte file, as `touch` leaves it
    let store = SqliteStore::open(path.to_str().unwrap()).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION as usize, MIGRATIONS.len());
    drop(store);
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    assert_eq!(
        table_names(&path),
        [
            "breakers",
            "price_path",
            "routes",
            "run_modules",
            "runs",
            "settings",
            "signal_calls",
            "signal_outbox",
            "signal_state"
        ]
    );
    let mode: String = Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn migrates_a_v1_database_and_keeps_its_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        // What a v1 build left behind: the v1 schema and one run, written by hand.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO runs (id, at_ms, outcome, success, duration_ms, soft_fails, sandbox)
             VALUES (7, ?1, 'partial', 1, 900, '[\"ETF_PAYMENT_REQUIRED\"]', 0)",
            [Timestamp::now().as_millisecond()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO run_modules (run_id, module, status, code, latency_ms)
             VALUES (7, 'etf', 'soft_fail', 'ETF_PAYMENT_REQUIRED', 15)",
            [],
        )
        .unwrap();
    }
    assert!(!table_names(&path).contains(&"breakers".to_string()));

    let store = SqliteStore::open(path.to_str().unwrap()).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let runs = store.runs(&RunQuery::default()).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, Some(7));
    // v3: rows from before the trigger column were scheduled runs.
    assert_eq!(runs[0].trigger, sniper::run::Trigger::Schedule);
    assert_eq!(runs[0].outcome, Outcome::Partial);
    assert_eq!(runs[0].soft_fails, ["ETF_PAYMENT_REQUIRED"]);
    assert_eq!(
        runs[0].modules,
        [module("etf", "soft_fail", Some("ETF_PAYMENT_REQUIRED"), 15)]
    );
    // The v2 tables exist and work.
    store
        .save_breaker(B, "etf", &json!({"state": "open"}))
        .unwrap();
    assert_eq!(store.breakers(B).unwrap().len(), 1);
    // And the module index v2 added is there.
    let conn = Connection::open(&path).unwrap();
    let idx: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type='index' AND name='run_modules_module'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(idx, 1);
}

#[test]
fn an_unopenable_path_names_the_path_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/sniper.db");
    let err = SqliteStore::open(path.to_str().unwrap()).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("no/such/dir/sniper.db") && msg.contains("SNIPER_DB"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_task_prunes_and_stops_on_shutdown() {
    let sync = Arc::new(SqliteStore::open(":memory:").unwrap());
    // Saved after open, so only the task can prune it.
    sync.save_run(&run(
        Timestamp::now() - SignedDuration::from_hours(8 * 24),
        Outcome::Success,
    ))
    .unwrap();
    let fresh = sync
        .save_run(&run(Timestamp::now(), Outcome::Partial))
        .unwrap();
    let store = AsyncStore::new(sync.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sniper::store::retention_task(
        store.clone(),
        sniper::store::Retention::default(),
        std::time::Duration::from_secs(3600),
        async move {
            let _ = stopped.await;
        },
    ));
    // The first tick is immediate; wait (bounded) for its prune to land.
    let mut ids = vec![];
    for _ in 0..500 {
        ids = store
            .runs(RunQuery::default())
            .await
            .unwrap()
            .iter()
            .map(|r| r.id.unwrap())
            .collect();
        if ids.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(ids, [fresh]);
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("retention task did not stop on shutdown")
        .unwrap();
}

#[test]
fn refuses_a_database_from_a_newer_build() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 5)
        .unwrap();
    let err = SqliteStore::open(path.to_str().unwrap()).unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
}

#[test]
fn runs_filter_by_module_and_outcome_with_limit_newest_first() {
    let store = SqliteStore::open(":memory:").unwrap();
    let base = Timestamp::now() - SignedDuration::from_hours(1);
    let outcomes = [
        Outcome::Success,
        Outcome::Partial,
        Outcome::Failure,
        Outcome::Partial,
        Outcome::Success,
        Outcome::Partial,
    ];
    let mut ids = vec![];
    for (i, o) in outcomes.iter().enumerate() {
        let mut r = run(base + SignedDuration::from_secs(60 * i as i64), *o);
        if i == 5 {
            // The newest run did not record etf at all (e.g. a runner that omits disabled modules).
            r.modules.retain(|m| m.module != "etf");
        }
        ids.push(store.save_run(&r).unwrap());
    }

    let all = store
        .runs(&RunQuery {
            limit: 100,
            ..RunQuery::default()
        })
        .unwrap();
    let got: Vec<i64> = all.iter().map(|r| r.id.unwrap()).collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(got, newest_first);

    let partial = store
        .runs(&RunQuery {
            limit: 100,
            outcome: Some(Outcome::Partial),
            ..RunQuery::default()
        })
        .unwrap();
    assert_eq!(
        partial.iter().map(|r| r.id.unwrap()).collect::<Vec<_>>(),
        [ids[5], ids[3], ids[1]]
    );

    let limited = store
        .runs(&RunQuery {
            limit: 2,
            outcome: Some(Outcome::Partial),
            ..RunQuery::default()
        })
        .unwrap();
    assert_eq!(
        limited.iter().map(|r| r.id.unwrap()).collect::<Vec<_>>(),
        [ids[5], ids[3]]
    );

    // Module filter: only runs that have an etf outcome, narrowed to the etf entry.
    let etf_partial = store
        .runs(&RunQuery {
            limit: 100,
            module: Some("etf".into()),
            outcome: Some(Outcome::Partial),
            ..RunQuery::default()
        })
        .unwrap();
    assert_eq!(
        etf_partial
            .iter()
            .map(|r| r.id.unwrap())
            .collect::<Vec<_>>(),
        [ids[3], ids[1]]
    );
    for r in &etf_partial {
        assert_eq!(
            r.modules,
            [module("etf", "soft_fail", Some("ETF_PAYMENT_REQUIRED"), 12)]
        );
    }
    let bias = store
        .runs(&RunQuery {
            limit: 100,
            module: Some("bias".into()),
            ..RunQuery::default()
        })
        .unwrap();
    assert!(bias.is_empty());
}

#[test]
fn a_saved_run_reads_back_field_for_field() {
    let store = SqliteStore::open(":memory:").unwrap();
    let mut r = run(ts("2099-01-02T03:04:05.678Z"), Outcome::Partial);
    r.payload = Some(json!({"etf": null, "heatmap": {"levels": [1, 2, 3]}}));
    r.duration_ms = 1234;
    let id = store.save_run(&r).unwrap();
    let back = store
        .runs(&RunQuery {
            with_payload: true,
            ..RunQuery::default()
        })
        .unwrap();
    r.id = Some(id);
    assert_eq!(back, [r.clone()]);
    // Listings leave payloads out.
    let listing = store.runs(&RunQuery::default()).unwrap();
    assert_eq!(listing[0].payload, None);
    assert!(!listing[0].payload_dropped);
}

#[test]
fn payload_over_the_cap_is_dropped_and_flagged() {
    let store = SqliteStore::open_with(
        ":memory:",
        StoreOptions {
            payload_cap_bytes: 100,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let mut small = run(Timestamp::now(), Outcome::Success);
    small.payload = Some(json!({"x": "y".repeat(50)}));
    let mut big = run(Timestamp::now(), Outcome::Success);
    big.payload = Some(json!({"x": "y".repeat(200)}));
    let small_id = store.save_run(&small).unwrap();
    let big_id = store.save_run(&big).unwrap();
    let back = store
        .runs(&RunQuery {
            with_payload: true,
            ..RunQuery::default()
        })
        .unwrap();
    let get = |id| back.iter().find(|r| r.id == Some(id)).unwrap();
    assert_eq!(get(small_id).payload, small.payload);
    assert!(!get(small_id).payload_dropped);
    assert_eq!(get(big_id).payload, None);
    assert!(get(big_id).payload_dropped);
}

#[test]
fn breakers_and_routes_round_trip_and_replace() {
    let store = SqliteStore::open(":memory:").unwrap();
    assert!(store.breakers(B).unwrap().is_empty());
    let open = json!({"state": "open", "reason": "entitlement", "until": "2099-01-01T14:05:00Z"});
    store
        .save_breaker(B, "etf", &json!({"state": "closed"}))
        .unwrap();
    store.save_breaker(B, "etf", &open).unwrap();
    store
        .save_breaker(B, "bias", &json!({"state": "half_open"}))
        .unwrap();
    assert_eq!(
        store.breakers(B).unwrap(),
        [
            ("bias".to_string(), json!({"state": "half_open"})),
            ("etf".to_string(), open)
        ]
    );
    let route = json!({"method": "GET", "path": "/api/etf/flows", "source": "openapi"});
    store.save_route(B, "etf", &route).unwrap();
    assert_eq!(store.routes(B).unwrap(), [("etf".to_string(), route)]);
}

/// Issue 13 item 3: saved state belongs to one backend. What one backend saved is invisible to
/// another; the same key is kept once per backend.
#[test]
fn breakers_and_routes_are_kept_per_backend() {
    let store = SqliteStore::open(":memory:").unwrap();
    let staging = "https://staging.example.com/py";
    let open = json!({"state": "open", "reason": "entitlement"});
    store.save_breaker(staging, "etf", &open).unwrap();
    store
        .save_breaker(B, "etf", &json!({"state": "closed"}))
        .unwrap();
    store
        .save_route(staging, "etf", &json!({"path": "/s"}))
        .unwrap();
    assert_eq!(
        store.breakers(staging).unwrap(),
        [("etf".to_string(), open)]
    );
    assert_eq!(
        store.breakers(B).unwrap(),
        [("etf".to_string(), json!({"state": "closed"}))]
    );
    assert!(store.routes(B).unwrap().is_empty());
    assert!(
        store
            .breakers("https://prod.example.com")
            .unwrap()
            .is_empty()
    );
}

/// A v2 file: its runs are kept (backend unknown), its breakers and routes — whose backend is
/// unknown — are not restored anywhere.
#[test]
fn migrates_a_v2_database_dropping_state_of_unknown_backend() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(MIGRATIONS[1]).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO runs (id, at_ms, outcome, success, duration_ms, soft_fails, sandbox)
             VALUES (3, ?1, 'success', 1, 100, '[]', 0)",
            [Timestamp::now().as_millisecond()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO breakers (module, snapshot, updated_ms) VALUES ('etf', '{}', 0)",
            [],
        )
        .unwrap();
    }
    let store = SqliteStore::open(path.to_str().unwrap()).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let runs = store.runs(&RunQuery::default()).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].backend, None);
    assert!(store.breakers(B).unwrap().is_empty());
    assert!(store.breakers("").unwrap().is_empty());
}

#[test]
fn a_saved_run_keeps_its_backend_and_history_shows_it() {
    let store = SqliteStore::open(":memory:").unwrap();
    let mut r = run(ts("2030-01-01T10:00:00Z"), Outcome::Success);
    r.backend = Some("https://api.example.com/py".into());
    store.save_run(&r).unwrap();
    let back = store.runs(&RunQuery::default()).unwrap();
    assert_eq!(
        back[0].backend.as_deref(),
        Some("https://api.example.com/py")
    );
    let mut out = Vec::new();
    run_history_cli(
        &store,
        &HistoryArgs {
            limit: 5,
            json: false,
            symbol: None,
        },
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.lines().next().unwrap().contains("BACKEND"), "{text}");
    assert!(text.contains("https://api.example.com/py"), "{text}");
}

#[test]
fn a_file_database_keeps_everything_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let path = path.to_str().unwrap();
    let open = json!({"state": "open", "until": "2099-01-01T00:00:00Z"});
    let route = json!({"method": "POST", "path": "/x"});
    let id = {
        let store = SqliteStore::open(path).unwrap();
        store.save_breaker(B, "etf", &open).unwrap();
        store.save_route(B, "heatmap", &route).unwrap();
        store
            .save_run(&run(Timestamp::now(), Outcome::Partial))
            .unwrap()
    };
    let store = SqliteStore::open(path).unwrap();
    assert_eq!(store.breakers(B).unwrap(), [("etf".to_string(), open)]);
    assert_eq!(store.routes(B).unwrap(), [("heatmap".to_string(), route)]);
    let runs = store.runs(&RunQuery::default()).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, Some(id));
}

#[test]
fn memory_databases_are_private_to_each_store() {
    let a = SqliteStore::open(":memory:").unwrap();
    let b = SqliteStore::open(":memory:").unwrap();
    a.save_run(&run(Timestamp::now(), Outcome::Success))
        .unwrap();
    assert_eq!(a.runs(&RunQuery::default()).unwrap().len(), 1);
    assert!(b.runs(&RunQuery::default()).unwrap().is_empty());
}

#[test]
fn prune_deletes_old_runs_and_their_module_rows_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prune.db");
    let store = SqliteStore::open(path.to_str().unwrap()).unwrap();
    let cutoff = ts("2030-06-01T00:00:00Z");
    store
        .save_run(&run(
            cutoff - SignedDuration::from_secs(1),
            Outcome::Failure,
        ))
        .unwrap();
    store
        .save_run(&run(
            cutoff - SignedDuration::from_hours(48),
            Outcome::Success,
        ))
        .unwrap();
    let kept = store.save_run(&run(cutoff, Outcome::Partial)).unwrap();
    store
        .save_breaker(B, "etf", &json!({"state": "open"}))
        .unwrap();
    assert_eq!(store.prune(cutoff).unwrap(), 2);
    let runs = store
        .runs(&RunQuery {
            limit: 1000,
            ..RunQuery::default()
        })
        .unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id.unwrap()).collect::<Vec<_>>(),
        [kept]
    );
    assert_eq!(store.breakers(B).unwrap().len(), 1, "prune keeps breakers");
    let orphans: i64 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM run_modules WHERE run_id NOT IN (SELECT id FROM runs)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
}

#[test]
fn open_prunes_runs_outside_the_retention_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ret.db");
    let path = path.to_str().unwrap();
    {
        let store = SqliteStore::open(path).unwrap();
        store
            .save_run(&run(
                Timestamp::now() - SignedDuration::from_hours(8 * 24),
                Outcome::Success,
            ))
            .unwrap();
        store
            .save_run(&run(
                Timestamp::now() - SignedDuration::from_hours(6 * 24),
                Outcome::Partial,
            ))
            .unwrap();
    }
    let store = SqliteStore::open(path).unwrap();
    let runs = store.runs(&RunQuery::default()).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].outcome, Outcome::Partial);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_store_runs_on_the_blocking_pool() {
    let store = AsyncStore::new(Arc::new(SqliteStore::open(":memory:").unwrap()));
    let id = store
        .save_run(run(Timestamp::now(), Outcome::Failure))
        .await
        .unwrap();
    store
        .save_breaker(B.into(), "etf".into(), json!({"state": "open"}))
        .await
        .unwrap();
    store
        .save_route(B.into(), "etf".into(), json!({"path": "/a"}))
        .await
        .unwrap();
    let runs = store.runs(RunQuery::default()).await.unwrap();
    assert_eq!(runs[0].id, Some(id));
    assert_eq!(store.breakers(B.into()).await.unwrap().len(), 1);
    assert_eq!(store.routes(B.into()).await.unwrap().len(), 1);
    assert_eq!(
        store
            .prune(Timestamp::now() + SignedDuration::from_secs(1))
            .await
            .unwrap(),
        1
    );
}

#[test]
fn history_cli_prints_a_table_or_json_lines() {
    let store = SqliteStore::open(":memory:").unwrap();
    for i in 0..3 {
        store
            .save_run(&run(
                ts("2030-01-01T10:00:00Z") + SignedDuration::from_secs(60 * i),
                if i == 2 {
                    Outcome::Partial
                } else {
                    Outcome::Success
                },
            ))
            .unwrap();
    }
    let mut out = Vec::new();
    run_history_cli(
        &store,
        &HistoryArgs {
            limit: 2,
            json: false,
            symbol: None,
        },
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains("OUTCOME"));
    assert!(lines[1].contains("2030-01-01 10:02:00Z"), "{text}");
    assert!(lines[1].contains("partial") && lines[1].contains("ETF_PAYMENT_REQUIRED"));
    assert!(lines[2].contains("10:01:00Z") && lines[2].contains("success"));

    let mut out = Vec::new();
    run_history_cli(
        &store,
        &HistoryArgs {
            limit: 20,
            json: true,
            symbol: None,
        },
        &mut out,
    )
    .unwrap();
    let parsed: Vec<RunRecord> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed.len(), 3);
    assert_eq!(parsed[0].at, ts("2030-01-01T10:02:00Z"));
    assert_eq!(parsed, store.runs(&RunQuery::default()).unwrap());
}

#[test]
fn history_args_parse_and_validate_limit() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        h: HistoryArgs,
    }
    let c = Cli::try_parse_from(["x"]).unwrap();
    assert_eq!((c.h.limit, c.h.json), (20, false));
    let c = Cli::try_parse_from(["x", "--limit", "5", "--json"]).unwrap();
    assert_eq!((c.h.limit, c.h.json), (5, true));
    assert!(Cli::try_parse_from(["x", "--limit", "0"]).is_err());
    assert!(Cli::try_parse_from(["x", "--limit", "1001"]).is_err());
}

#[test]
fn a_runner_result_becomes_a_history_record() {
    use sniper::module_id::ModuleId;
    use sniper::run::modules::{Call, Outcome as M};
    use sniper::run::runner::{ModuleResult, RunError, RunResult, Symbols};
    use std::collections::BTreeMap;

    let call = |outcome: M, latency_ms| ModuleResult {
        call: Call {
            outcome,
            request: None,
            attempts: 1,
        },
        latency_ms,
        breaker: None,
        symbol_breaker: None,
        circuit_open: false,
        reused: None,
    };
    let mut context = BTreeMap::new();
    context.insert(
        ModuleId::Etf,
        call(
            M::SoftFail {
                code: "ETF_PAYMENT_REQUIRED".into(),
                class: None,
                detail: "402".into(),
            },
            30,
        ),
    );
    context.insert(
        ModuleId::Heatmap,
        call(
            M::Ok {
                data: sniper::market::MarketData::Bias(sniper::market::Bias {
                    direction: sniper::market::Direction::Long,
                    score: 0.5,
                    confidence: None,
                    time_ms: None,
                }),
            },
            200,
        ),
    );
    context.insert(
        ModuleId::SpotOb,
        call(
            M::HardError {
                detail: "panic".into(),
            },
            5,
        ),
    );
    context.insert(ModuleId::Bias, call(M::Disabled, 0));
    let result = RunResult {
        success: true,
        soft_fails: vec!["ETF_PAYMENT_REQUIRED".into()],
        used_modules: vec![ModuleId::Heatmap],
        context,
        errors: vec![RunError {
            module: ModuleId::SpotOb,
            code: "INTERNAL".into(),
            detail: "panic".into(),
        }],
        symbols: Symbols {
            input: "BTC".into(),
            spot: "BTCUSDT".into(),
            perp: "BTCUSDT".into(),
        },
        timestamp: ts("2030-01-01T00:00:00Z"),
        duration_ms: 250,
        sandbox: true,
        features: Default::default(),
        market: Default::default(),
        backend: "http://127.0.0.1:8000/py".into(),
        trigger: sniper::run::Trigger::Manual,
    };
    let rec = RunRecord::from_run_result(&result, true).unwrap();
    assert_eq!(rec.outcome, Outcome::Partial);
    assert_eq!(rec.trigger, sniper::run::Trigger::Manual);
    // The trigger survives the database.
    let store = SqliteStore::open(":memory:").unwrap();
    store.save_run(&rec).unwrap();
    let back = store.runs(&RunQuery::default()).unwrap();
    assert_eq!(back[0].trigger, sniper::run::Trigger::Manual);
    assert!(rec.success && rec.sandbox);
    assert_eq!(rec.backend.as_deref(), Some("http://127.0.0.1:8000/py"));
    assert_eq!(rec.at, ts("2030-01-01T00:00:00Z"));
    assert_eq!(
        rec.modules,
        [
            module("etf", "soft_fail", Some("ETF_PAYMENT_REQUIRED"), 30),
            module("heatmap", "ok", None, 200),
            module("spot_ob", "hard_error", Some("INTERNAL"), 5),
            module("bias", "disabled", None, 0),
        ]
    );
    assert_eq!(
        rec.payload.as_ref().unwrap()["softFails"],
        json!(["ETF_PAYMENT_REQUIRED"])
    );
    assert_eq!(
        RunRecord::from_run_result(
            &RunResult {
                success: false,
                ..result.clone()
            },
            false
        )
        .unwrap()
        .outcome,
        Outcome::Failure
    );
    let clean = RunResult {
        soft_fails: vec![],
        errors: vec![],
        context: BTreeMap::from([(
            ModuleId::Heatmap,
            call(
                M::Ok {
                    data: sniper::market::MarketData::Bias(sniper::market::Bias {
                        direction: sniper::market::Direction::Short,
                        score: -0.5,
                        confidence: None,
                        time_ms: None,
                    }),
                },
                9,
            ),
        )]),
        ..result
    };
    let rec = RunRecord::from_run_result(&clean, false).unwrap();
    assert_eq!(rec.outcome, Outcome::Success);
    assert_eq!(rec.payload, None);
    // One row per symbol: each says its configured symbol; the symbols of one run (same start,
    // same trigger) share a group, another run does not.
    let eth = RunResult {
        symbols: Symbols {
            input: "ETH".into(),
            spot: "ETHUSDT".into(),
            perp: "ETHUSDT".into(),
        },
        ..clean.clone()
    };
    let eth_rec = RunRecord::from_run_result(&eth, false).unwrap();
    assert_eq!(rec.symbol.as_deref(), Some("BTC"));
    assert_eq!(eth_rec.symbol.as_deref(), Some("ETH"));
    assert!(rec.run_group.is_some());
    assert_eq!(rec.run_group, eth_rec.run_group);
    let later = RunResult {
        timestamp: ts("2030-01-01T00:00:05Z"),
        ..clean.clone()
    };
    assert_ne!(
        RunRecord::from_run_result(&later, false).unwrap().run_group,
        rec.run_group
    );
    let manual = RunResult {
        trigger: sniper::run::Trigger::Schedule,
        ..clean
    };
    assert_ne!(
        RunRecord::from_run_result(&manual, false)
            .unwrap()
            .run_group,
        rec.run_group,
        "a scheduled and a manual run of the same instant are two runs"
    );
}

/// Eight connections open the same new file at the same instant (a barrier), ten times over:
/// every open succeeds and the schema ends at the current version (before the migrations ran in
/// `BEGIN IMMEDIATE`, the losers failed with "table runs already exists").
#[test]
fn concurrent_opens_of_a_new_file_all_migrate_once() {
    const OPENERS: usize = 8;
    for trial in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db").to_string_lossy().into_owned();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(OPENERS));
        let handles: Vec<_> = (0..OPENERS)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    SqliteStore::open(&path).map(|s| s.schema_version().unwrap())
                })
            })
            .collect();
        for h in handles {
            match h.join().unwrap() {
                Ok(v) => assert_eq!(v, SCHEMA_VERSION, "trial {trial}"),
                Err(e) => panic!("trial {trial}: open failed: {e}"),
            }
        }
    }
}
