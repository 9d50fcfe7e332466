//! Breaker state and learned routes kept in the store, per backend: restored into the runner at
//! start-up ([`StateSync::restore`]), and after each run only what changed is written
//! ([`StateSync::save_changed`]). State saved for another backend is left alone.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;

use crate::daemon::store_health::StoreWrites;
use crate::module_id::ModuleId;
use crate::obs::metrics::StoreOp;
use crate::run::Runner;
use crate::store::AsyncStore;

/// What was last written (by store key), so only changes are written again.
#[derive(Default)]
pub struct StateSync {
    /// Breaker snapshots by store key (see [`crate::run::runner::breaker_key`]).
    saved_breakers: Mutex<BTreeMap<String, Value>>,
    saved_routes: Mutex<BTreeMap<ModuleId, Value>>,
}

impl StateSync {
    /// Restores the breakers and learned routes saved for `runner`'s backend
    /// ([`Runner::backend`]); unreadable rows are logged and start fresh.
    pub async fn restore(runner: &Runner, store: &AsyncStore) -> StateSync {
        let (mut saved_breakers, mut saved_routes) = (BTreeMap::new(), BTreeMap::new());
        let backend = runner.backend().to_string();
        match store.breakers(backend.clone()).await {
            Ok(rows) => {
                for (key, json) in rows {
                    match serde_json::from_value(json.clone()) {
                        Ok(snap) => {
                            if runner.restore_keyed_breaker(&key, snap) {
                                tracing::info!(breaker = %key, %backend, "breaker state restored");
                                saved_breakers.insert(key, json);
                            }
                        }
                        Err(e) => tracing::warn!(
                            breaker = %key,
                            error = %e,
                            "saved breaker unreadable; starting fresh"
                        ),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read saved breakers"),
        }
        let routes = store.routes(backend.clone()).await;
        for (m, learned, json) in decode_rows(routes, "learned route") {
            runner.discovery().restore_learned(m, learned);
            saved_routes.insert(m, json);
        }
        StateSync {
            saved_breakers: Mutex::new(saved_breakers),
            saved_routes: Mutex::new(saved_routes),
        }
    }

    /// Writes the breakers and learned routes that changed since the last write; a failed write
    /// is noted in `writes` and tried again after the next run.
    pub async fn save_changed(&self, runner: &Runner, store: &AsyncStore, writes: &StoreWrites) {
        let backend = runner.backend().to_string();
        let snaps = runner
            .keyed_breaker_snapshots()
            .into_iter()
            .filter_map(|(k, snap)| Some((k, serde_json::to_value(&snap).ok()?)));
        for (k, v) in take_changed(&self.saved_breakers, snaps) {
            let res = store.save_breaker(backend.clone(), k.clone(), v).await;
            if writes
                .note(
                    StoreOp::SaveBreaker,
                    "save breaker state",
                    res,
                    runner.now(),
                )
                .is_none()
            {
                forget(&self.saved_breakers, &k);
            }
        }
        let learned = runner
            .discovery()
            .learned()
            .into_iter()
            .filter_map(|(m, l)| Some((m, serde_json::to_value(&l).ok()?)));
        for (m, v) in take_changed(&self.saved_routes, learned) {
            let res = store
                .save_route(backend.clone(), m.as_str().to_string(), v)
                .await;
            if writes
                .note(StoreOp::SaveRoute, "save learned route", res, runner.now())
                .is_none()
            {
                forget(&self.saved_routes, &m);
            }
        }
    }
}

/// Decode `(module, json)` rows saved in the store; unreadable rows are logged and skipped (the
/// module then starts fresh).
fn decode_rows<T: serde::de::DeserializeOwned>(
    rows: Result<Vec<(String, Value)>, crate::store::StoreError>,
    what: &str,
) -> Vec<(ModuleId, T, Value)> {
    let rows = match rows {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read saved {what}s");
            return Vec::new();
        }
    };
    rows.into_iter()
        .filter_map(|(module, json)| {
            let m = ModuleId::parse(&module)?;
            match serde_json::from_value(json.clone()) {
                Ok(v) => Some((m, v, json)),
                Err(e) => {
                    tracing::warn!(module = %m, error = %e, "saved {what} unreadable; starting fresh");
                    None
                }
            }
        })
        .collect()
}

/// Drop `k` from `saved`, so the next run writes it again (its write failed).
fn forget<K: Ord>(saved: &Mutex<BTreeMap<K, Value>>, k: &K) {
    saved.lock().unwrap_or_else(|e| e.into_inner()).remove(k);
}

/// The entries of `current` that differ from `saved`; `saved` is updated to match.
fn take_changed<K: Ord + Clone>(
    saved: &Mutex<BTreeMap<K, Value>>,
    current: impl Iterator<Item = (K, Value)>,
) -> Vec<(K, Value)> {
    let mut saved = saved.lock().unwrap_or_else(|e| e.into_inner());
    let mut changed = Vec::new();
    for (m, v) in current {
        if saved.get(&m) != Some(&v) {
            saved.insert(m.clone(), v.clone());
            changed.push((m, v));
        }
    }
    changed
}
