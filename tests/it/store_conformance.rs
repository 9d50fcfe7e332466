//! One store contract, two databases (issue 21 item 2): every test here is a function over a
//! [`Factory`] of [`StateStore`] handles and runs twice, against SQLite (a temp file) and against
//! PostgreSQL (a real server on loopback, started by `store_common/pg.rs`, a fresh database per
//! test). `SNIPER_REQUIRE_POSTGRES=1` turns "PostgreSQL cannot start" into a failure.

use crate::support::pg;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::json;
use sniper::run::Trigger;
use sniper::store::postgres::{MIGRATION_LOCK, PG_MIGRATIONS, PG_SCHEMA_VERSION, PgStore};
use sniper::store::{
    MIGRATIONS, ModuleRecord, OutboxRow, Outcome, PricePoint, RunQuery, RunRecord, SCHEMA_VERSION,
    SignalQuery, SignalRecord, SignalStateRow, SqliteStore, StateStore, StoreError, StoreOptions,
};

/// Opens handles on one store (one SQLite file / one PostgreSQL database per factory).
trait Factory: Sync {
    /// A handle as replica `replica` (SQLite: a second connection to the same file).
    fn open_as(&self, replica: &str) -> Arc<dyn StateStore>;
    fn open(&self) -> Arc<dyn StateStore> {
        self.open_as("r1")
    }
}

struct Sqlite {
    _dir: tempfile::TempDir,
    path: String,
}

impl Sqlite {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sniper.db").to_string_lossy().into_owned();
        Sqlite { _dir: dir, path }
    }
}

impl Factory for Sqlite {
    fn open_as(&self, _replica: &str) -> Arc<dyn StateStore> {
        Arc::new(SqliteStore::open(&self.path).unwrap())
    }
}

struct Postgres {
    url: String,
}

impl Factory for Postgres {
    fn open_as(&self, replica: &str) -> Arc<dyn StateStore> {
        Arc::new(PgStore::open(&self.url, replica).unwrap())
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $( #[test] fn $name() { super::$name(&super::Sqlite::new()) } )*
        }
        mod on_postgres {
            $( #[test] fn $name() {
                let Some(pg) = super::pg::server() else { return };
                super::$name(&super::Postgres { url: pg.fresh_db(stringify!($name)) })
            } )*
        }
    };
}

conformance!(
    runs_round_trip_with_modules_symbol_group_backend_and_trigger,
    history_queries_filter_by_limit_module_outcome_and_symbol,
    breakers_and_routes_belong_to_their_backend,
    signals_state_and_outbox_in_one_contract,
    two_replicas_claiming_the_same_rows_deliver_each_once,
    a_dead_replicas_lease_expires_and_start_up_releases_only_its_own,
    settings_round_trip,
    price_path_round_trip_and_prune,
    retention_prunes_old_runs_and_finished_outbox_rows,
    concurrent_openers_all_succeed_on_one_schema,
);

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap()
}

fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

fn run(
    at_ms: i64,
    symbol: &str,
    group: &str,
    outcome: Outcome,
    modules: &[(&str, &str)],
) -> RunRecord {
    RunRecord {
        id: None,
        at: t(at_ms),
        outcome,
        success: outcome != Outcome::Failure,
        duration_ms: 120,
        soft_fails: if outcome == Outcome::Partial {
            vec!["ETF_PAYMENT_REQUIRED".into()]
        } else {
            vec![]
        },
        modules: modules
            .iter()
            .map(|(m, st)| ModuleRecord {
                module: (*m).to_string(),
                status: (*st).to_string(),
                code: (*st != "ok").then(|| "CODE".to_string()),
                latency_ms: 40,
            })
            .collect(),
        payload: None,
        payload_dropped: false,
        sandbox: false,
        backend: Some("http://backend.test/py".into()),
        trigger: Trigger::Schedule,
        replica: None,
        symbol: Some(symbol.into()),
        run_group: Some(group.into()),
    }
}

fn runs_round_trip_with_modules_symbol_group_backend_and_trigger(f: &dyn Factory) {
    let s = f.open();
    let at = now_ms();
    let mut r = run(
        at,
        "SOL",
        "g1",
        Outcome::Partial,
        &[("etf", "soft_fail"), ("spot_ob", "ok")],
    );
    r.trigger = Trigger::Manual;
    r.payload = Some(json!({"features": {"mid": 1.5}}));
    let id = s.save_run(&r).unwrap();
    let got = s
        .runs(&RunQuery {
            limit: 5,
            with_payload: true,
            ..RunQuery::default()
        })
        .unwrap();
    assert_eq!(got.len(), 1);
    let g = &got[0];
    assert_eq!(g.id, Some(id));
    let mut expect = r.clone();
    expect.id = Some(id);
    expect.replica = g.replica.clone();
    assert_eq!(g, &expect, "stored and read back alike");
    assert_eq!(g.trigger, Trigger::Manual);
    assert_eq!(g.backend.as_deref(), Some("http://backend.test/py"));
    if s.is_shared() {
        assert_eq!(g.replica.as_deref(), Some("r1"));
    }
}

fn history_queries_filter_by_limit_module_outcome_and_symbol(f: &dyn Factory) {
    let s = f.open();
    let base = now_ms() - 60_000;
    // Two runs over two symbols each (4 rows), then one failed SOL-only run.
    for (i, sym) in ["SOL", "BTC"].iter().enumerate() {
        s.save_run(&run(
            base,
            sym,
            "a",
            Outcome::Success,
            &[("spot_ob", "ok"), ("etf", "ok")],
        ))
        .unwrap();
        s.save_run(&run(
            base + 1000,
            sym,
            "b",
            if i == 0 {
                Outcome::Partial
            } else {
                Outcome::Success
            },
            &[("spot_ob", "ok"), ("etf", "soft_fail")],
        ))
        .unwrap();
    }
    s.save_run(&run(
        base + 2000,
        "SOL",
        "c",
        Outcome::Failure,
        &[("spot_ob", "hard_error")],
    ))
    .unwrap();
    let q = |q: RunQuery| s.runs(&q).unwrap();
    let all = q(RunQuery {
        limit: 100,
        ..RunQuery::default()
    });
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].at >= w[1].at), "newest first");
    assert_eq!(
        q(RunQuery {
            limit: 2,
            ..RunQuery::default()
        })
        .len(),
        2
    );
    let sol = q(RunQuery {
        limit: 100,
        symbol: Some("sol".into()),
        ..RunQuery::default()
    });
    assert_eq!(sol.len(), 3, "symbol filter, any case");
    assert!(sol.iter().all(|r| r.symbol.as_deref() == Some("SOL")));
    let groups: BTreeSet<_> = all.iter().map(|r| r.run_group.clone().unwrap()).collect();
    assert_eq!(groups.len(), 3, "5 rows, 3 runs");
    let failed = q(RunQuery {
        limit: 100,
        outcome: Some(Outcome::Failure),
        ..RunQuery::default()
    });
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].run_group.as_deref(), Some("c"));
    let etf = q(RunQuery {
        limit: 100,
        module: Some("etf".into()),
        ..RunQuery::default()
    });
    assert_eq!(etf.len(), 4, "rows where etf has an outcome");
    assert!(
        etf.iter()
            .all(|r| r.modules.len() == 1 && r.modules[0].module == "etf"),
        "modules narrowed"
    );
    let both = q(RunQuery {
        limit: 100,
        module: Some("etf".into()),
        symbol: Some("BTC".into()),
        outcome: Some(Outcome::Success),
        ..RunQuery::default()
    });
    assert_eq!(both.len(), 2);
}

fn breakers_and_routes_belong_to_their_backend(f: &dyn Factory) {
    let s = f.open();
    s.save_breaker("http://a/py", "spot_ob", &json!({"state": "open"}))
        .unwrap();
    s.save_breaker("http://a/py", "spot_ob:SOL", &json!({"state": "closed"}))
        .unwrap();
    s.save_breaker("http://b", "spot_ob", &json!({"state": "half"}))
        .unwrap();
    s.save_breaker("http://a/py", "spot_ob", &json!({"state": "closed"}))
        .unwrap();
    assert_eq!(
        s.breakers("http://a/py").unwrap(),
        vec![
            ("spot_ob".to_string(), json!({"state": "closed"})),
            ("spot_ob:SOL".to_string(), json!({"state": "closed"}))
        ]
    );
    assert_eq!(
        s.breakers("http://b").unwrap(),
        vec![("spot_ob".to_string(), json!({"state": "half"}))]
    );
    assert!(s.breakers("http://c").unwrap().is_empty());
    s.save_route("http://a/py", "etf", &json!({"path": "/etf"}))
        .unwrap();
    s.save_route("http://b", "etf", &json!({"path": "/v2/etf"}))
        .unwrap();
    assert_eq!(
        s.routes("http://b").unwrap(),
        vec![("etf".to_string(), json!({"path": "/v2/etf"}))]
    );
    assert_eq!(
        s.routes("http://a/py").unwrap(),
        vec![("etf".to_string(), json!({"path": "/etf"}))]
    );
}

fn signal(symbol: &str, at_ms: i64, level: &str, reason: Option<&str>) -> SignalRecord {
    SignalRecord {
        id: None,
        symbol: symbol.into(),
        at: t(at_ms),
        level: level.into(),
        direction: if level == "none" {
            "none".into()
        } else {
            "long".into()
        },
        score: 71,
        reason: reason.map(String::from),
        call: json!({"layers": [1, 2]}),
        features: json!({"mid": 10.5}),
    }
}

fn outbox(key: &str, channel: &str, created_ms: i64) -> OutboxRow {
    OutboxRow {
        key: key.into(),
        channel: channel.into(),
        call_id: 0,
        body: json!({"text": key}),
        attempts: 0,
        created_ms,
        next_attempt_ms: created_ms,
        delivered_ms: None,
        last_error: None,
    }
}

fn signals_state_and_outbox_in_one_contract(f: &dyn Factory) {
    let s = f.open();
    let st = SignalStateRow {
        symbol: "SOL".into(),
        direction: "long".into(),
        level: "action".into(),
        score: 71,
        at_ms: 1000,
    };
    s.record_signal(&signal("BTC", 500, "none", None), None, &[])
        .unwrap();
    let id = s
        .record_signal(
            &signal("SOL", 1000, "action", Some("new")),
            Some(&st),
            &[
                outbox("k1", "webhook", 1000),
                outbox("k1", "telegram", 1000),
            ],
        )
        .unwrap();
    // The same key again (a retry of the same call) is not enqueued twice.
    s.record_signal(
        &signal("SOL", 1001, "action", Some("new")),
        Some(&st),
        &[outbox("k1", "webhook", 1001)],
    )
    .unwrap();
    assert_eq!(s.signal_states().unwrap(), vec![st]);
    let calls = s
        .signals(&SignalQuery {
            calls_only: true,
            limit: 10,
            ..SignalQuery::default()
        })
        .unwrap();
    assert_eq!(calls.len(), 2);
    assert!(calls[0].at > calls[1].at, "newest first");
    let all = s
        .signals(&SignalQuery {
            limit: 10,
            ascending: true,
            ..SignalQuery::default()
        })
        .unwrap();
    assert_eq!(
        all.iter().map(|c| c.symbol.as_str()).collect::<Vec<_>>(),
        ["BTC", "SOL", "SOL"]
    );
    assert_eq!(all[1].features, json!({"mid": 10.5}));
    let btc = s
        .signals(&SignalQuery {
            symbol: Some("BTC".into()),
            limit: 10,
            ..SignalQuery::default()
        })
        .unwrap();
    assert_eq!(btc.len(), 1);
    // The symbol filter ignores ASCII case, as the runs' filter does (`sniper signals --symbol btc`).
    let lower = s
        .signals(&SignalQuery {
            symbol: Some("btc".into()),
            limit: 10,
            ..SignalQuery::default()
        })
        .unwrap();
    assert_eq!(lower.len(), 1);
    let rows = s.outbox().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r.call_id == id && r.body == json!({"text": "k1"}))
    );
    // Claim, fail, retry later, deliver.
    let got = s.claim_outbox(2000, 30_000, 10).unwrap();
    assert_eq!(got.len(), 2);
    assert!(
        s.claim_outbox(2001, 30_000, 10).unwrap().is_empty(),
        "leased"
    );
    s.mark_failed("k1", "telegram", 5000, "HTTP 502").unwrap();
    s.mark_delivered("k1", "webhook", 2002).unwrap();
    assert!(
        s.claim_outbox(4999, 30_000, 10).unwrap().is_empty(),
        "not due yet"
    );
    let again = s.claim_outbox(5000, 30_000, 10).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].channel.as_str(), again[0].attempts),
        ("telegram", 1)
    );
    s.mark_delivered("k1", "telegram", 5001).unwrap();
    let rows = s.outbox().unwrap();
    assert!(rows.iter().all(|r| r.delivered_ms.is_some()));
    assert!(
        s.claim_outbox(i64::MAX / 2, 1, 10).unwrap().is_empty(),
        "delivered rows never return"
    );
    // A repeat the cooldown held back (watch, no reason) is a grading, not a call made.
    s.record_signal(&signal("SOL", 1002, "watch", None), None, &[])
        .unwrap();
    let made = s
        .signals(&SignalQuery {
            calls_only: true,
            made_only: true,
            limit: 10,
            ..SignalQuery::default()
        })
        .unwrap();
    assert_eq!(
        made.iter()
            .map(|c| c.at.as_millisecond())
            .collect::<Vec<_>>(),
        [1001, 1000]
    );
}

fn two_replicas_claiming_the_same_rows_deliver_each_once(f: &dyn Factory) {
    let a = f.open_as("r1");
    let b = f.open_as("r2");
    let rows: Vec<OutboxRow> = (0..40)
        .map(|i| outbox(&format!("k{i:02}"), "webhook", 1000 + i))
        .collect();
    a.record_signal(&signal("SOL", 1000, "action", Some("new")), None, &rows)
        .unwrap();
    let delivered = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for st in [&a, &b] {
            let delivered = &delivered;
            sc.spawn(move || {
                loop {
                    let got = st.claim_outbox(10_000, 60_000, 3).unwrap();
                    if got.is_empty() {
                        break;
                    }
                    for r in got {
                        st.mark_delivered(&r.key, &r.channel, 10_001).unwrap();
                        delivered.lock().unwrap().push(r.key);
                    }
                }
            });
        }
    });
    let mut keys = delivered.into_inner().unwrap();
    keys.sort();
    let expect: Vec<String> = (0..40).map(|i| format!("k{i:02}")).collect();
    assert_eq!(
        keys, expect,
        "every row delivered exactly once across the two handles"
    );
}

fn a_dead_replicas_lease_expires_and_start_up_releases_only_its_own(f: &dyn Factory) {
    let a = f.open_as("r1");
    let b = f.open_as("r2");
    a.record_signal(
        &signal("SOL", 1000, "action", Some("new")),
        None,
        &[outbox("ka", "webhook", 1000), outbox("kb", "webhook", 1001)],
    )
    .unwrap();
    let got_a = a.claim_outbox(2000, 1000, 1).unwrap();
    assert_eq!(got_a[0].key, "ka");
    let got_b = b.claim_outbox(2000, 10_000, 5).unwrap();
    assert_eq!(
        got_b.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        ["kb"],
        "ka is leased"
    );
    // r1 "dies" holding ka; before the lease ends nobody gets it, at its end r2 does.
    assert!(b.claim_outbox(2999, 1000, 5).unwrap().is_empty());
    let reclaimed = b.claim_outbox(3000, 10_000, 5).unwrap();
    assert_eq!(
        reclaimed.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        ["ka"],
        "the dead replica's lease expired; r2's own is still live"
    );
    // Now r1 restarts: its start-up release must not void r2's live leases (shared store);
    // a private store owns every lease and releases them all.
    let c = f.open_as("r1");
    let released = c.release_outbox_claims().unwrap();
    let after = c.claim_outbox(3001, 1000, 5).unwrap();
    if c.is_shared() {
        assert_eq!(released, 0, "r1 holds nothing now");
        assert!(after.is_empty(), "r2's leases still hold: {after:?}");
    } else {
        assert_eq!(released, 2);
        assert_eq!(after.len(), 2);
    }
}

fn settings_round_trip(f: &dyn Factory) {
    let s = f.open();
    assert_eq!(s.setting("telegram.offset").unwrap(), None);
    s.put_setting("telegram.offset", "41").unwrap();
    s.put_setting("telegram.offset", "42").unwrap();
    s.put_setting("mute.SOL", "until 1").unwrap();
    s.put_setting("mute.BTC", "until 2").unwrap();
    s.put_setting("mute%x", "not a mute").unwrap();
    assert_eq!(s.setting("telegram.offset").unwrap().as_deref(), Some("42"));
    assert_eq!(
        s.settings_with_prefix("mute.").unwrap(),
        vec![
            ("mute.BTC".into(), "until 2".into()),
            ("mute.SOL".into(), "until 1".into())
        ]
    );
    assert!(s.delete_setting("mute.SOL").unwrap());
    assert!(!s.delete_setting("mute.SOL").unwrap());
    assert_eq!(s.settings_with_prefix("mute.").unwrap().len(), 1);
}

fn price_path_round_trip_and_prune(f: &dyn Factory) {
    let s = f.open();
    let p = |at_ms, mid, spread_bps| PricePoint {
        at_ms,
        mid,
        spread_bps,
    };
    s.save_prices("SOL", &[p(1000, 150.0, Some(2.5)), p(2000, 151.0, None)])
        .unwrap();
    s.save_prices("SOL", &[p(2000, 151.5, Some(1.0))]).unwrap();
    s.save_prices("BTC", &[p(1500, 60_000.0, Some(0.1))])
        .unwrap();
    assert_eq!(
        s.prices("SOL", 0, 10_000).unwrap(),
        vec![p(1000, 150.0, Some(2.5)), p(2000, 151.5, Some(1.0))]
    );
    assert_eq!(s.prices("SOL", 1001, 2000).unwrap().len(), 1);
    assert_eq!(
        s.price_symbols().unwrap(),
        vec!["BTC".to_string(), "SOL".to_string()]
    );
    assert_eq!(s.prune_prices(1600).unwrap(), 2);
    assert_eq!(
        s.prices("SOL", 0, 10_000).unwrap(),
        vec![p(2000, 151.5, Some(1.0))]
    );
}

fn retention_prunes_old_runs_and_finished_outbox_rows(f: &dyn Factory) {
    let s = f.open();
    let now = now_ms();
    let old = now - 10 * 24 * 3_600_000;
    s.save_run(&run(
        old,
        "SOL",
        "old",
        Outcome::Success,
        &[("spot_ob", "ok")],
    ))
    .unwrap();
    s.save_run(&run(
        now,
        "SOL",
        "new",
        Outcome::Success,
        &[("spot_ob", "ok")],
    ))
    .unwrap();
    s.record_signal(
        &signal("SOL", old, "action", Some("new")),
        None,
        &[outbox("old-done", "webhook", old)],
    )
    .unwrap();
    s.record_signal(
        &signal("SOL", old + 1, "action", Some("new")),
        None,
        &[outbox("old-pending", "webhook", old)],
    )
    .unwrap();
    s.record_signal(
        &signal("SOL", old + 2, "action", Some("new")),
        None,
        &[outbox("old-gave-up", "webhook", old)],
    )
    .unwrap();
    s.mark_delivered("old-done", "webhook", old + 5).unwrap();
    // Ended undelivered (the notifier's gave_up/muted: never due again).
    s.mark_failed("old-gave-up", "webhook", i64::MAX, "gave_up: HTTP 403")
        .unwrap();
    let n = s
        .prune(Timestamp::now() - jiff::SignedDuration::from_hours(24))
        .unwrap();
    assert_eq!(n, 1, "one old run");
    let runs = s
        .runs(&RunQuery {
            limit: 10,
            module: Some("spot_ob".into()),
            ..RunQuery::default()
        })
        .unwrap();
    assert_eq!(
        runs.iter()
            .map(|r| r.run_group.as_deref().unwrap())
            .collect::<Vec<_>>(),
        ["new"]
    );
    let keys: Vec<String> = s.outbox().unwrap().into_iter().map(|r| r.key).collect();
    assert_eq!(
        keys,
        ["old-pending"],
        "a pending delivery outlives retention"
    );
    let calls = s
        .signals(&SignalQuery {
            limit: 10,
            ..SignalQuery::default()
        })
        .unwrap();
    assert_eq!(calls.len(), 1, "the call of the pending delivery stays");
}

fn concurrent_openers_all_succeed_on_one_schema(f: &dyn Factory) {
    let handles: Vec<Arc<dyn StateStore>> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..4)
            .map(|i| sc.spawn(move || f.open_as(&format!("o{i}"))))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, h) in handles.iter().enumerate() {
        h.save_run(&run(
            now_ms(),
            "SOL",
            &format!("g{i}"),
            Outcome::Success,
            &[],
        ))
        .unwrap();
    }
    let seen = handles[0]
        .runs(&RunQuery {
            limit: 10,
            ..RunQuery::default()
        })
        .unwrap();
    assert_eq!(seen.len(), 4, "every opener writes the same store");
}

// --- Migrations from every earlier schema version ---

#[test]
fn sqlite_opens_a_file_at_every_earlier_version() {
    for k in 0..MIGRATIONS.len() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..k] {
                c.execute_batch(sql).unwrap();
            }
            c.pragma_update(None, "user_version", k as i64).unwrap();
            if k >= 1 {
                c.execute(
                    "INSERT INTO runs (at_ms, outcome, success, duration_ms, soft_fails, sandbox)
                     VALUES (?1, 'success', 1, 5, '[]', 0)",
                    [now_ms()],
                )
                .unwrap();
            }
            if k >= 3 {
                c.execute(
                    "INSERT INTO breakers (backend, module, snapshot, updated_ms)
                     VALUES ('http://b', 'spot_ob', '{\"s\":1}', 0)",
                    [],
                )
                .unwrap();
            }
        }
        let s =
            SqliteStore::open(path.to_str().unwrap()).unwrap_or_else(|e| panic!("from v{k}: {e}"));
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION, "from v{k}");
        let runs = s.runs(&RunQuery::default()).unwrap();
        assert_eq!(runs.len(), usize::from(k >= 1), "from v{k}: old runs kept");
        if let Some(r) = runs.first() {
            assert_eq!((r.symbol.as_deref(), r.trigger), (None, Trigger::Schedule));
        }
        if k >= 3 {
            assert_eq!(
                s.breakers("http://b").unwrap(),
                vec![("spot_ob".into(), json!({"s": 1}))]
            );
        }
        // And the store works: a full run and a signal.
        s.save_run(&run(
            now_ms(),
            "SOL",
            "g",
            Outcome::Success,
            &[("etf", "ok")],
        ))
        .unwrap();
        s.record_signal(&signal("SOL", 1, "none", None), None, &[])
            .unwrap();
    }
}

#[test]
fn postgres_opens_a_database_at_every_earlier_version() {
    let Some(pg) = pg::server() else { return };
    for k in 0..PG_MIGRATIONS.len() {
        let url = pg.fresh_db(&format!("v{k}"));
        {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            if k > 0 {
                c.batch_execute(
                    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,
                         applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                )
                .unwrap();
            }
            for (i, sql) in PG_MIGRATIONS[..k].iter().enumerate() {
                c.batch_execute(sql).unwrap();
                c.execute(
                    "INSERT INTO schema_migrations (version) VALUES ($1)",
                    &[&(i as i32 + 1)],
                )
                .unwrap();
            }
            if k >= 1 {
                c.execute(
                    "INSERT INTO runs (at_ms, outcome, success, duration_ms, soft_fails, sandbox, replica)
                     VALUES ($1, 'success', true, 5, '[]', false, 'old')",
                    &[&now_ms()],
                )
                .unwrap();
            }
            if (1..3).contains(&k) {
                // Before version 3 the key column held `<backend>|<module>`; rows without a
                // backend could not be restored safely and are dropped.
                c.batch_execute(
                    "INSERT INTO breakers (module, snapshot, updated_ms) VALUES
                       ('http://b/py|spot_ob', '{\"s\":1}', 0),
                       ('http://b/py|spot_ob:SOL', '{\"s\":2}', 0),
                       ('http://c|spot_ob', '{\"s\":3}', 0),
                       ('legacy', '{}', 0);
                     INSERT INTO routes (module, route, updated_ms) VALUES ('http://b/py|etf', '{\"p\":1}', 0);",
                )
                .unwrap();
            }
        }
        let s = PgStore::open(&url, "m").unwrap_or_else(|e| panic!("from v{k}: {e}"));
        assert_eq!(s.schema_version().unwrap(), PG_SCHEMA_VERSION, "from v{k}");
        let runs = s.runs(&RunQuery::default()).unwrap();
        assert_eq!(runs.len(), usize::from(k >= 1), "from v{k}: old runs kept");
        if let Some(r) = runs.first() {
            assert_eq!(
                (r.replica.as_deref(), r.trigger, r.symbol.as_deref()),
                (Some("old"), Trigger::Schedule, None)
            );
        }
        if (1..3).contains(&k) {
            assert_eq!(
                s.breakers("http://b/py").unwrap(),
                vec![
                    ("spot_ob".into(), json!({"s": 1})),
                    ("spot_ob:SOL".into(), json!({"s": 2}))
                ],
                "from v{k}: keys split into backend + module"
            );
            assert_eq!(s.breakers("http://c").unwrap().len(), 1);
            assert_eq!(
                s.routes("http://b/py").unwrap(),
                vec![("etf".into(), json!({"p": 1}))]
            );
        }
        s.save_run(&run(
            now_ms(),
            "SOL",
            "g",
            Outcome::Success,
            &[("etf", "ok")],
        ))
        .unwrap();
        s.record_signal(&signal("SOL", 1, "none", None), None, &[])
            .unwrap();
    }
}

// --- Start-up waits are bounded and name the holder ---

#[test]
fn postgres_open_gives_up_on_a_held_migration_lock_naming_the_holder() {
    let Some(pg) = pg::server() else { return };
    let url = pg.fresh_db("lock");
    // An old schema (version 1) and a session holding the migration lock, as a stuck replica would.
    let mut holder: postgres::Config = url.parse().unwrap();
    holder.application_name("stuck-migrator");
    let mut holder = holder.connect(postgres::NoTls).unwrap();
    holder
        .batch_execute(&format!(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
             {}
             INSERT INTO schema_migrations (version) VALUES (1);",
            PG_MIGRATIONS[0]
        ))
        .unwrap();
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .unwrap();
    let opts = StoreOptions {
        lock_timeout: Duration::from_millis(700),
        ..StoreOptions::default()
    };
    let started = Instant::now();
    let err = PgStore::open_with(&url, "new", opts.clone()).unwrap_err();
    let waited = started.elapsed();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::LockTimeout { .. }), "{msg}");
    assert!(
        msg.contains("stuck-migrator") && msg.contains("pid ") && msg.contains("migration lock"),
        "{msg}"
    );
    assert!(waited < Duration::from_secs(20), "bounded: {waited:?}");
    // Once the schema is current, opening takes no lock: it succeeds while the lock is still held.
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .unwrap();
    drop(PgStore::open_with(&url, "migrator", opts.clone()).unwrap());
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .unwrap();
    let s = PgStore::open_with(&url, "late", opts).unwrap();
    assert_eq!(s.schema_version().unwrap(), PG_SCHEMA_VERSION);
}

#[test]
fn sqlite_open_gives_up_on_a_held_write_lock_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("held.db");
    let p = path.to_str().unwrap().to_string();
    // A file at version 1 whose write lock another connection holds.
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(MIGRATIONS[0]).unwrap();
    c.pragma_update(None, "user_version", 1).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.execute_batch("BEGIN IMMEDIATE").unwrap();
    let opts = StoreOptions {
        lock_timeout: Duration::from_millis(300),
        ..StoreOptions::default()
    };
    let err = SqliteStore::open_with(&p, opts.clone()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::LockTimeout { .. }), "{msg}");
    assert!(
        msg.contains("held.db") && msg.contains("SNIPER_DB_LOCK_TIMEOUT"),
        "{msg}"
    );
    c.execute_batch("ROLLBACK").unwrap();
    drop(SqliteStore::open_with(&p, opts.clone()).unwrap());
    // Current schema: opens while another connection holds the write lock.
    c.execute_batch("BEGIN IMMEDIATE").unwrap();
    let s = SqliteStore::open_with(&p, opts).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
}

// --- Commands on every store; failures named; no password anywhere ---

fn sniper(args: &[&str], db: &str) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sniper"))
        .args(args)
        .env("SNIPER_DB", db)
        .env("SNIPER_DB_LOCK_TIMEOUT", "2s")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn commands_name_the_servers_refusal_and_never_print_the_password() {
    let Some(pg) = pg::server() else { return };
    let mut u = url::Url::parse(&pg.admin_url).unwrap();
    u.set_password(Some("hunter2-secret")).unwrap();
    u.set_path("/x");
    for cmd in [&["history"][..], &["signals"], &["replay"]] {
        let (code, text) = sniper(cmd, u.as_str());
        assert_eq!(code, 1, "{cmd:?}: {text}");
        assert!(
            text.contains("database \"x\" does not exist"),
            "{cmd:?}: {text}"
        );
        assert!(
            !text.contains("hunter2"),
            "{cmd:?} leaked the password: {text}"
        );
    }
    // Nothing listening: the client's reason, no password.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("postgres://sniper:hunter2-secret@127.0.0.1:{port}/db");
    for cmd in [&["history"][..], &["signals"], &["replay"]] {
        let (code, text) = sniper(cmd, &dead);
        assert_eq!(code, 1, "{cmd:?}: {text}");
        assert!(text.to_lowercase().contains("connect"), "{cmd:?}: {text}");
        assert!(
            !text.contains("hunter2"),
            "{cmd:?} leaked the password: {text}"
        );
    }
    // And each works on a good URL (with a password the server does not need).
    let mut good = url::Url::parse(&pg.fresh_db("cmds")).unwrap();
    good.set_password(Some("hunter2-secret")).unwrap();
    let s = PgStore::open(good.as_str(), "w").unwrap();
    s.save_run(&run(
        now_ms(),
        "SOL",
        "g1",
        Outcome::Success,
        &[("spot_ob", "ok")],
    ))
    .unwrap();
    s.save_run(&run(
        now_ms(),
        "BTC",
        "g1",
        Outcome::Success,
        &[("spot_ob", "ok")],
    ))
    .unwrap();
    s.record_signal(&signal("SOL", now_ms(), "action", Some("new")), None, &[])
        .unwrap();
    let (code, text) = sniper(&["history", "--symbol", "btc"], good.as_str());
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("SYMBOL") && text.contains("BTC") && !text.contains("SOL "),
        "{text}"
    );
    let (code, text) = sniper(&["signals"], good.as_str());
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("SOL"), "{text}");
    let (code, text) = sniper(&["replay"], good.as_str());
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn a_bad_lock_timeout_is_a_configuration_error_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sniper"))
        .arg("history")
        .env("SNIPER_DB", &db)
        .env("SNIPER_DB_LOCK_TIMEOUT", "5")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("SNIPER_DB_LOCK_TIMEOUT"), "{err}");
}

#[test]
fn debug_of_a_postgres_store_shows_no_password() {
    let Some(pg) = pg::server() else { return };
    let mut u = url::Url::parse(&pg.fresh_db("debug")).unwrap();
    u.set_password(Some("hunter2-secret")).unwrap();
    let s = PgStore::open(u.as_str(), "dbg").unwrap();
    let d = format!("{s:?}");
    assert!(!d.contains("hunter2"), "{d}");
}
