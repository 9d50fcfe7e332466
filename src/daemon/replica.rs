//! This process as one replica of a shared store (PostgreSQL): its id, the tick claims that keep
//! two replicas from running one slot, and the backend-wide facts (a 402's entitlement window, a
//! 429's `Retry-After`) it reads before a run and shares after it. On a private store every claim
//! is won and no fact is exchanged.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::module_id::ModuleId;
use crate::run::Runner;
use crate::store::AsyncStore;

/// The job name under which scheduled runs claim their ticks.
pub const RUN_JOB: &str = "run";

/// One replica: its id (`SNIPER_REPLICA_ID`, default hostname-pid) and the facts it already
/// shared.
pub struct Replica {
    id: Arc<str>,
    /// Backend-wide facts this replica already wrote: module → until.
    written_facts: Mutex<BTreeMap<ModuleId, jiff::Timestamp>>,
}

impl Replica {
    pub fn new(id: Arc<str>) -> Replica {
        Replica {
            id,
            written_facts: Mutex::new(BTreeMap::new()),
        }
    }

    /// This replica's id.
    pub fn id(&self) -> Arc<str> {
        self.id.clone()
    }

    /// May this replica run the tick of `slot`? Claims it on the store (`tick_claims`). Any
    /// store error answers false: without the store no replica can know the tick is its own, and
    /// running it anyway could run it twice.
    pub async fn claim_tick(&self, store: &AsyncStore, slot: i64) -> bool {
        match store.claim_tick(RUN_JOB, slot, self.id.clone()).await {
            Ok(true) => {
                tracing::debug!(slot, replica = %self.id, "tick claimed");
                true
            }
            Ok(false) => false,
            Err(e) => {
                tracing::warn!(slot, error = %e, "cannot claim the tick; skipping it");
                false
            }
        }
    }

    /// Hands the facts other replicas shared to `runner` (before a run).
    pub async fn load_facts(&self, runner: &Runner, store: &AsyncStore) {
        match store.backend_facts(runner.now()).await {
            Ok(facts) => runner.set_shared_blocks(facts.into_iter().filter_map(|f| {
                let m = ModuleId::parse(&f.module)?;
                let reason = serde_json::from_value(Value::String(f.kind)).ok()?;
                Some((m, reason, f.until))
            })),
            // Keep the previous facts: a store hiccup must not reopen a paid endpoint.
            Err(e) => tracing::warn!(error = %e, "cannot read shared backend facts"),
        }
    }

    /// Shares the backend-wide facts `runner` learned that this replica has not written yet.
    pub async fn write_facts(&self, runner: &Runner, store: &AsyncStore) {
        let fresh: Vec<_> = {
            let mut written = self.written_facts.lock().unwrap_or_else(|e| e.into_inner());
            runner
                .backend_wide_opens()
                .into_iter()
                .filter(|(m, _, until)| written.insert(*m, *until) != Some(*until))
                .collect()
        };
        for (m, reason, until) in fresh {
            let fact = crate::store::BackendFact {
                module: m.as_str().to_string(),
                kind: reason.as_str().to_string(),
                until,
            };
            match store.save_backend_fact(fact).await {
                Ok(()) => {
                    tracing::info!(module = %m, kind = reason.as_str(), %until, "shared a backend fact with the other replicas")
                }
                Err(e) => tracing::warn!(module = %m, error = %e, "cannot share a backend fact"),
            }
        }
    }
}

/// The default replica id: `hostname-pid` (hostname from the kernel, else `$HOSTNAME`, else
/// `host`).
pub fn default_replica_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_string());
    format!("{host}-{}", std::process::id())
}
