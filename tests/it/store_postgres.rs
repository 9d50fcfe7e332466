//! The PostgreSQL store's replica features (tick claims, budget, facts, chores) against a real
//! server: a throwaway one on loopback (`store_common/pg.rs`, a fresh database per test) or
//! `SNIPER_TEST_PG_URL`. With `SNIPER_REQUIRE_POSTGRES=1` a server that cannot start fails.

use std::sync::Arc;

use jiff::Timestamp;
use sniper::store::postgres::{PG_SCHEMA_VERSION, PgStore};
use sniper::store::{BackendFact, ModuleRecord, Outcome, RunQuery, RunRecord, StateStore};

/// A fresh database of the test server (or `None`: skipped, with the reason printed).
fn url() -> Option<String> {
    crate::support::pg::url()
}

/// Every test shares the server; keys are made unique per test run.
fn unique(tag: &str) -> String {
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        Timestamp::now().as_nanosecond()
    )
}

#[test]
fn replicas_starting_together_migrate_once_and_claims_are_exclusive() {
    let Some(url) = url() else { return };
    let stores: Vec<Arc<PgStore>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|i| {
                let url = url.clone();
                s.spawn(move || Arc::new(PgStore::open(&url, &format!("t{i}")).unwrap()))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(stores[0].schema_version().unwrap(), PG_SCHEMA_VERSION);
    let job = unique("job");
    for slot in 0..20 {
        let wins: Vec<bool> = std::thread::scope(|s| {
            let hs: Vec<_> = stores
                .iter()
                .map(|st| {
                    let job = job.clone();
                    s.spawn(move || st.claim_tick(&job, slot, st.replica()).unwrap())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            wins.iter().filter(|w| **w).count(),
            1,
            "slot {slot}: {wins:?}"
        );
    }
}

#[test]
fn budget_never_goes_past_its_limit() {
    let Some(url) = url() else { return };
    let st = Arc::new(PgStore::open(&url, "budget").unwrap());
    let consumer = unique("consumer");
    let spent: usize = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (st, c) = (st.clone(), consumer.clone());
                s.spawn(move || {
                    (0..10)
                        .filter(|_| st.try_spend(&c, 7, 3, 50).unwrap())
                        .count()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    // 40 attempts of 3 against 50: exactly 16 fit.
    assert_eq!(spent, 16);
    assert!(
        st.try_spend(&consumer, 7, 2, 50).unwrap(),
        "48 + 2 fits exactly"
    );
    assert!(
        !st.try_spend(&consumer, 7, 1, 50).unwrap(),
        "the minute is full"
    );
    assert!(
        st.try_spend(&consumer, 8, 50, 50).unwrap(),
        "a new minute starts empty"
    );
    assert!(
        !st.try_spend(&consumer, 9, 51, 50).unwrap(),
        "n over the limit"
    );
}

#[test]
fn facts_keep_the_later_until_and_expire() {
    let Some(url) = url() else { return };
    let a = PgStore::open(&url, "a").unwrap();
    let b = PgStore::open(&url, "b").unwrap();
    let module = unique("m");
    let now: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
    let fact = |secs: i64| BackendFact {
        module: module.clone(),
        kind: "entitlement".into(),
        until: now + jiff::SignedDuration::from_secs(secs),
    };
    a.save_backend_fact(&fact(3600)).unwrap();
    b.save_backend_fact(&fact(10)).unwrap();
    let seen: Vec<_> = b
        .backend_facts(now)
        .unwrap()
        .into_iter()
        .filter(|f| f.module == module)
        .collect();
    assert_eq!(seen, vec![fact(3600)]);
    let later = now + jiff::SignedDuration::from_secs(3601);
    assert!(
        b.backend_facts(later)
            .unwrap()
            .iter()
            .all(|f| f.module != module)
    );
}

#[test]
fn history_is_shared_with_replica_ids_and_one_replica_owns_chores() {
    let Some(url) = url() else { return };
    let a = PgStore::open(&url, "hist-a").unwrap();
    let b = PgStore::open(&url, "hist-b").unwrap();
    let at: Timestamp = "2031-01-01T00:00:00Z".parse().unwrap();
    let rec = |module: &str| RunRecord {
        id: None,
        at,
        outcome: Outcome::Success,
        success: true,
        duration_ms: 5,
        soft_fails: vec![],
        modules: vec![ModuleRecord {
            module: module.into(),
            status: "ok".into(),
            code: None,
            latency_ms: 1,
        }],
        payload: None,
        payload_dropped: false,
        sandbox: true,
        replica: None,
        symbol: None,
        run_group: None,
        backend: None,
        trigger: sniper::run::Trigger::Schedule,
    };
    let tag = unique("mod");
    a.save_run(&rec(&tag)).unwrap();
    b.save_run(&rec(&tag)).unwrap();
    let runs = a
        .runs(&RunQuery {
            module: Some(tag.clone()),
            ..RunQuery::default()
        })
        .unwrap();
    let mut replicas: Vec<_> = runs.iter().filter_map(|r| r.replica.clone()).collect();
    replicas.sort();
    assert_eq!(replicas, ["hist-a", "hist-b"]);
    assert!(
        runs.iter()
            .all(|r| r.modules.len() == 1 && r.modules[0].module == tag)
    );

    // Chores: at most one owner at a time; released, another takes over.
    let owners = [a.owns_chores().unwrap(), b.owns_chores().unwrap()];
    assert!(owners.iter().filter(|o| **o).count() <= 1, "{owners:?}");
    a.release_chores();
    b.release_chores();
    assert!(b.owns_chores().unwrap(), "a free lock is taken");
    assert!(!a.owns_chores().unwrap(), "held by b");
    b.release_chores();
    assert!(a.owns_chores().unwrap(), "b gone: a takes over");
    a.release_chores();
}
