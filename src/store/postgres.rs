//! The shared store: several `sniper serve` replicas on one PostgreSQL (`SNIPER_DB=postgres://…`).
//!
//! A gateway ChatGPT reaches must survive a host going down, so teams run two or three replicas.
//! They share, through this store:
//!
//! * **one history** — `runs` / `run_modules`, each run with its replica's id (`runs.replica`);
//! * **each tick once** — `tick_claims(job, slot, replica, claimed_at)`, primary key
//!   `(job, slot)`, inserted with `ON CONFLICT DO NOTHING`: the replica whose insert lands runs
//!   the tick ([`StateStore::claim_tick`]);
//! * **backend-wide facts** — `backend_facts(module, kind, until)`: a 402's entitlement window or
//!   a 429's `Retry-After`, so one replica's 402 closes the module for all;
//! * **one quota** — `budget_minutes(consumer, minute, used)`, spent atomically by
//!   [`StateStore::try_spend`] (see [`PgStore::try_spend`] for the contract the budget relies on);
//! * **one owner of chores** — retention pruning runs only on the replica holding a session-level
//!   `pg_try_advisory_lock` on a dedicated connection; when that replica dies its session ends, the
//!   lock is released, and the next replica to prune takes it.
//!
//! The client is the synchronous `postgres` crate behind an `r2d2` pool: [`StateStore`] is a sync
//! trait that [`super::AsyncStore`] already runs on tokio's blocking pool, so a sync client needs
//! no second async facade and keeps every store call the same shape as SQLite's. (The sync client
//! drives its own small runtime per connection; it must never be called or dropped on an async
//! worker, which `AsyncStore` and [`PgStore`]'s `Drop` guarantee.)
//!
//! The schema is versioned in `schema_migrations(version, applied_at)`; each entry of
//! [`PG_MIGRATIONS`] runs in its own transaction holding `pg_advisory_xact_lock`, so replicas
//! starting at the same moment apply each migration exactly once.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use ::postgres::{Client, NoTls};
use jiff::Timestamp;
use r2d2_postgres::PostgresConnectionManager;

use super::{
    BackendFact, MAX_RUNS_LIMIT, ModuleRecord, Outcome, PricePoint, RunQuery, RunRecord,
    StateStore, StoreError, StoreOptions,
};

/// PostgreSQL migrations, in order: entry `i` is schema version `i + 1`. Append only.
pub const PG_MIGRATIONS: &[&str] = &[PG_SCHEMA_V1, PG_MIGRATION_V2];

/// The schema version this build writes.
pub const PG_SCHEMA_VERSION: i32 = PG_MIGRATIONS.len() as i32;

/// Version 1: history with replica ids, breaker snapshots, learned routes, tick claims, backend
/// facts, per-minute budget.
pub const PG_SCHEMA_V1: &str = "
CREATE TABLE runs (
    id              BIGSERIAL PRIMARY KEY,
    at_ms           BIGINT  NOT NULL,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('success', 'partial', 'failure')),
    success         BOOLEAN NOT NULL,
    duration_ms     BIGINT  NOT NULL,
    soft_fails      TEXT    NOT NULL,
    payload         TEXT,
    payload_dropped BOOLEAN NOT NULL DEFAULT FALSE,
    sandbox         BOOLEAN NOT NULL,
    replica         TEXT    NOT NULL
);
CREATE INDEX runs_at ON runs (at_ms);
CREATE TABLE run_modules (
    run_id     BIGINT  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    module     TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    code       TEXT,
    latency_ms BIGINT  NOT NULL,
    ord        INTEGER NOT NULL,
    PRIMARY KEY (run_id, module)
);
CREATE INDEX run_modules_module ON run_modules (module, run_id);
CREATE TABLE breakers (
    module     TEXT PRIMARY KEY,
    snapshot   TEXT   NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE routes (
    module     TEXT PRIMARY KEY,
    route      TEXT   NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE tick_claims (
    job        TEXT        NOT NULL,
    slot       BIGINT      NOT NULL,
    replica    TEXT        NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (job, slot)
);
CREATE TABLE backend_facts (
    module     TEXT        NOT NULL,
    kind       TEXT        NOT NULL,
    until      TIMESTAMPTZ NOT NULL,
    replica    TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (module, kind)
);
CREATE TABLE budget_minutes (
    consumer TEXT    NOT NULL,
    minute   BIGINT  NOT NULL,
    used     INTEGER NOT NULL,
    PRIMARY KEY (consumer, minute)
);
";

/// Version 2: the price path and the settings table (as SQLite's version 6).
pub const PG_MIGRATION_V2: &str = "
CREATE TABLE price_path (
    symbol     TEXT             NOT NULL,
    at_ms      BIGINT           NOT NULL,
    mid        DOUBLE PRECISION NOT NULL,
    spread_bps DOUBLE PRECISION,
    PRIMARY KEY (symbol, at_ms)
);
CREATE TABLE settings (
    key        TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_ms BIGINT NOT NULL
);
";

/// Advisory lock key serialising migrations (`"snip"` `"migr"` in ASCII).
const MIGRATION_LOCK: i64 = 0x736e_6970_6d69_6772;
/// Advisory lock key of the chores owner (`"snip"` `"chor"`).
const CHORES_LOCK: i64 = 0x736e_6970_6368_6f72;
/// Connections per replica: the loop, the HTTP API and retention rarely overlap.
const POOL_SIZE: u32 = 4;
/// How long a call waits for a pooled connection (and a new connection for its handshake).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// True for `postgres://…` and `postgresql://…` (what selects [`PgStore`]).
pub fn is_postgres_url(db: &str) -> bool {
    let d = db.trim_start();
    d.starts_with("postgres://") || d.starts_with("postgresql://")
}

/// `db` with any password replaced by `***`, for messages and logs.
pub fn redact_db(db: &str) -> String {
    if !is_postgres_url(db) {
        return db.to_string();
    }
    match url::Url::parse(db.trim()) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "postgres://<unparseable URL>".to_string(),
    }
}

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// [`StateStore`] on PostgreSQL, shared by every replica pointing at the same database.
pub struct PgStore {
    pool: Option<Pool>,
    config: ::postgres::Config,
    replica: String,
    options: StoreOptions,
    /// The dedicated session holding [`CHORES_LOCK`] while this replica owns the chores.
    chores: Mutex<Option<Client>>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("replica", &self.replica)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Drop for PgStore {
    /// The sync client owns a runtime per connection, and tokio refuses to drop a runtime on an
    /// async worker; the last `Arc` may well go there, so connections are closed on a thread.
    fn drop(&mut self) {
        let pool = self.pool.take();
        let chores = self
            .chores
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let _ = std::thread::spawn(move || {
            drop(pool);
            drop(chores);
        })
        .join();
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn secs(t: Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

impl PgStore {
    /// Connect to `url`, migrate, and prune runs older than the default retention (when this
    /// replica owns the chores). Runs saved through this store carry `replica`.
    /// Errors: [`StoreError::Postgres`] for a malformed URL, [`StoreError::Pool`] when no
    /// connection can be made within 5 s, [`StoreError::SchemaTooNew`] for a newer schema.
    pub fn open(url: &str, replica: &str) -> Result<Self, StoreError> {
        Self::open_with(url, replica, StoreOptions::default())
    }

    /// [`PgStore::open`] with explicit options.
    pub fn open_with(url: &str, replica: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let mut config: ::postgres::Config = url.trim().parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name(&format!("sniper {replica}"));
        }
        let manager = PostgresConnectionManager::new(config.clone(), NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(CONNECT_TIMEOUT)
            .build(manager)?;
        let store = PgStore {
            pool: Some(pool),
            config,
            replica: replica.to_string(),
            options,
            chores: Mutex::new(None),
        };
        store.migrate()?;
        let pruned = store.prune(Timestamp::now() - store.options.retention)?;
        if pruned > 0 {
            tracing::info!(pruned, "pruned runs older than the retention window");
        }
        tracing::debug!(replica, "opened the shared PostgreSQL store");
        Ok(store)
    }

    /// The replica id written with every run.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    fn conn(&self) -> Result<r2d2::PooledConnection<PostgresConnectionManager<NoTls>>, StoreError> {
        match &self.pool {
            Some(p) => Ok(p.get()?),
            None => Err(StoreError::Task("store is closing".into())),
        }
    }

    /// The highest applied migration (0 on an empty database).
    pub fn schema_version(&self) -> Result<i32, StoreError> {
        let mut c = self.conn()?;
        let row = c.query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?;
        Ok(row.get(0))
    }

    /// Apply every missing entry of [`PG_MIGRATIONS`], each in a transaction holding the
    /// migration advisory lock (so concurrent starts apply each exactly once).
    fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        for (i, sql) in PG_MIGRATIONS.iter().enumerate() {
            let version = i as i32 + 1;
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version    INTEGER PRIMARY KEY,
                     applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                 )",
            )?;
            let found: i32 = tx
                .query_one(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                    &[],
                )?
                .get(0);
            if found > PG_SCHEMA_VERSION {
                return Err(StoreError::SchemaTooNew {
                    found: i64::from(found),
                    supported: i64::from(PG_SCHEMA_VERSION),
                });
            }
            if found >= version {
                tx.commit()?;
                continue;
            }
            tx.batch_execute(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&version],
            )?;
            tx.commit()?;
            tracing::info!(to = version, "migrated the PostgreSQL schema");
        }
        Ok(())
    }

    /// Does this replica own the chores (retention)? Takes the session-level advisory lock on a
    /// dedicated connection if nobody holds it; keeps answering true while that session lives.
    pub fn owns_chores(&self) -> Result<bool, StoreError> {
        let mut slot = self.chores.lock().map_err(|_| StoreError::Poisoned)?;
        if let Some(c) = slot.as_mut() {
            if c.simple_query("SELECT 1").is_ok() {
                return Ok(true);
            }
            tracing::warn!("lost the chores connection; trying to take the lock again");
            *slot = None;
        }
        let mut c = self.config.connect(NoTls)?;
        let got: bool = c
            .query_one("SELECT pg_try_advisory_lock($1)", &[&CHORES_LOCK])?
            .get(0);
        if got {
            tracing::info!(replica = %self.replica, "this replica owns the chores (retention)");
            *slot = Some(c);
        }
        Ok(got)
    }

    /// Give up chores ownership (closes the dedicated session; for tests and shutdown).
    pub fn release_chores(&self) {
        if let Ok(mut slot) = self.chores.lock() {
            *slot = None;
        }
    }

    fn payload_text(&self, run: &RunRecord) -> Result<(Option<String>, bool), StoreError> {
        match &run.payload {
            None => Ok((None, run.payload_dropped)),
            Some(v) => {
                let s = serde_json::to_string(v)?;
                if s.len() > self.options.payload_cap_bytes {
                    tracing::warn!(
                        bytes = s.len(),
                        cap = self.options.payload_cap_bytes,
                        "run payload over the cap; not stored"
                    );
                    Ok((None, true))
                } else {
                    Ok((Some(s), false))
                }
            }
        }
    }

    fn upsert_kv(
        &self,
        table: &'static str,
        column: &'static str,
        module: &str,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(value)?;
        let sql = format!(
            "INSERT INTO {table} (module, {column}, updated_ms) VALUES ($1, $2, $3)
             ON CONFLICT (module) DO UPDATE SET {column} = EXCLUDED.{column},
                                               updated_ms = EXCLUDED.updated_ms"
        );
        self.conn()?.execute(
            sql.as_str(),
            &[&module, &text, &Timestamp::now().as_millisecond()],
        )?;
        Ok(())
    }

    fn list_kv(&self, sql: &'static str) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let rows = self.conn()?.query(sql, &[])?;
        rows.into_iter()
            .map(|r| {
                let text: String = r.get(1);
                Ok((r.get(0), serde_json::from_str(&text)?))
            })
            .collect()
    }
}

impl StateStore for PgStore {
    fn save_run(&self, run: &RunRecord) -> Result<i64, StoreError> {
        let soft_fails = serde_json::to_string(&run.soft_fails)?;
        let (payload, dropped) = self.payload_text(run)?;
        let replica = run.replica.as_deref().unwrap_or(&self.replica);
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO runs (at_ms, outcome, success, duration_ms, soft_fails, payload,
                                   payload_dropped, sandbox, replica)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                &[
                    &run.at.as_millisecond(),
                    &run.outcome.as_str(),
                    &run.success,
                    &to_i64(run.duration_ms),
                    &soft_fails,
                    &payload,
                    &dropped,
                    &run.sandbox,
                    &replica,
                ],
            )?
            .get(0);
        if !run.modules.is_empty() {
            let stmt = tx.prepare(
                "INSERT INTO run_modules (run_id, module, status, code, latency_ms, ord)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (run_id, module) DO UPDATE
                 SET status = EXCLUDED.status, code = EXCLUDED.code,
                     latency_ms = EXCLUDED.latency_ms",
            )?;
            for (i, m) in run.modules.iter().enumerate() {
                tx.execute(
                    &stmt,
                    &[
                        &id,
                        &m.module,
                        &m.status,
                        &m.code,
                        &to_i64(m.latency_ms),
                        &(i as i32),
                    ],
                )?;
            }
        }
        tx.commit()?;
        Ok(id)
    }

    fn runs(&self, q: &RunQuery) -> Result<Vec<RunRecord>, StoreError> {
        let limit = q.limit.min(MAX_RUNS_LIMIT) as i64;
        let outcome = q.outcome.map(Outcome::as_str);
        let module = q.module.as_deref();
        let mut c = self.conn()?;
        let rows = c.query(
            "SELECT id, at_ms, outcome, success, duration_ms, soft_fails,
                    CASE WHEN $4 THEN payload END, payload_dropped, sandbox, replica
             FROM runs
             WHERE ($1::text IS NULL OR outcome = $1)
               AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM run_modules m
                                                WHERE m.run_id = runs.id AND m.module = $2))
             ORDER BY at_ms DESC, id DESC
             LIMIT $3",
            &[&outcome, &module, &limit, &q.with_payload],
        )?;
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let module_rows = c.query(
            "SELECT run_id, module, status, code, latency_ms FROM run_modules
             WHERE run_id = ANY($1) AND ($2::text IS NULL OR module = $2)
             ORDER BY run_id, ord",
            &[&ids, &module],
        )?;
        let mut modules: std::collections::HashMap<i64, Vec<ModuleRecord>> =
            std::collections::HashMap::new();
        for r in module_rows {
            modules.entry(r.get(0)).or_default().push(ModuleRecord {
                module: r.get(1),
                status: r.get(2),
                code: r.get(3),
                latency_ms: to_u64(r.get(4)),
            });
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.get(0);
            let at_ms: i64 = r.get(1);
            let outcome_text: String = r.get(2);
            let at = Timestamp::from_millisecond(at_ms)
                .map_err(|e| StoreError::Corrupt(format!("run {id}: timestamp {at_ms}: {e}")))?;
            let outcome = Outcome::parse(&outcome_text).ok_or_else(|| {
                StoreError::Corrupt(format!("run {id}: outcome {outcome_text:?}"))
            })?;
            let soft_fails: String = r.get(5);
            let payload: Option<String> = r.get(6);
            out.push(RunRecord {
                id: Some(id),
                at,
                outcome,
                success: r.get(3),
                duration_ms: to_u64(r.get(4)),
                soft_fails: serde_json::from_str(&soft_fails)?,
                modules: modules.remove(&id).unwrap_or_default(),
                payload: payload.map(|p| serde_json::from_str(&p)).transpose()?,
                payload_dropped: r.get(7),
                sandbox: r.get(8),
                replica: Some(r.get(9)),
                // Not kept by the PostgreSQL schema yet (see the store's module doc).
                backend: None,
                trigger: crate::run::Trigger::Schedule,
            });
        }
        Ok(out)
    }

    // Saved state belongs to one backend: the key column holds `<backend>|<module>`.

    fn save_breaker(
        &self,
        backend: &str,
        module: &str,
        snapshot_json: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.upsert_kv(
            "breakers",
            "snapshot",
            &backend_key(backend, module),
            snapshot_json,
        )
    }

    fn breakers(&self, backend: &str) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let all = self.list_kv("SELECT module, snapshot FROM breakers ORDER BY module")?;
        Ok(of_backend(backend, all))
    }

    fn save_route(
        &self,
        backend: &str,
        module: &str,
        route_json: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.upsert_kv("routes", "route", &backend_key(backend, module), route_json)
    }

    fn routes(&self, backend: &str) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let all = self.list_kv("SELECT module, route FROM routes ORDER BY module")?;
        Ok(of_backend(backend, all))
    }

    /// Only the chores owner prunes (others answer `Ok(0)`): runs before `older_than`, and tick
    /// claims and budget minutes older than the same cutoff.
    fn prune(&self, older_than: Timestamp) -> Result<usize, StoreError> {
        if !self.owns_chores()? {
            return Ok(0);
        }
        let mut c = self.conn()?;
        let n = c.execute(
            "DELETE FROM runs WHERE at_ms < $1",
            &[&older_than.as_millisecond()],
        )?;
        c.execute(
            "DELETE FROM tick_claims WHERE claimed_at < to_timestamp($1)",
            &[&secs(older_than)],
        )?;
        c.execute(
            "DELETE FROM budget_minutes WHERE minute < $1",
            &[&(older_than.as_millisecond() / 60_000)],
        )?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn save_prices(&self, symbol: &str, points: &[PricePoint]) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        let stmt = tx.prepare(
            "INSERT INTO price_path (symbol, at_ms, mid, spread_bps) VALUES ($1, $2, $3, $4)
             ON CONFLICT (symbol, at_ms) DO UPDATE
             SET mid = EXCLUDED.mid, spread_bps = EXCLUDED.spread_bps",
        )?;
        for p in points {
            tx.execute(&stmt, &[&symbol, &p.at_ms, &p.mid, &p.spread_bps])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn prices(
        &self,
        symbol: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<PricePoint>, StoreError> {
        let rows = self.conn()?.query(
            "SELECT at_ms, mid, spread_bps FROM price_path
             WHERE symbol = $1 AND at_ms >= $2 AND at_ms <= $3 ORDER BY at_ms",
            &[&symbol, &from_ms, &to_ms],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| PricePoint {
                at_ms: r.get(0),
                mid: r.get(1),
                spread_bps: r.get(2),
            })
            .collect())
    }

    fn price_symbols(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.conn()?.query(
            "SELECT DISTINCT symbol FROM price_path ORDER BY symbol",
            &[],
        )?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    fn prune_prices(&self, older_than_ms: i64) -> Result<usize, StoreError> {
        let n = self
            .conn()?
            .execute("DELETE FROM price_path WHERE at_ms < $1", &[&older_than_ms])?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .conn()?
            .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])?;
        Ok(row.map(|r| r.get(0)))
    }

    fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn()?.execute(
            "INSERT INTO settings (key, value, updated_ms) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE
             SET value = EXCLUDED.value, updated_ms = EXCLUDED.updated_ms",
            &[&key, &value, &Timestamp::now().as_millisecond()],
        )?;
        Ok(())
    }

    fn delete_setting(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()?
            .execute("DELETE FROM settings WHERE key = $1", &[&key])?
            > 0)
    }

    fn settings_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        // left() rather than LIKE: a prefix may contain % or _.
        let rows = self.conn()?.query(
            "SELECT key, value FROM settings WHERE left(key, length($1)) = $1 ORDER BY key",
            &[&prefix],
        )?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn claim_tick(&self, job: &str, slot: i64, replica: &str) -> Result<bool, StoreError> {
        let n = self.conn()?.execute(
            "INSERT INTO tick_claims (job, slot, replica) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&job, &slot, &replica],
        )?;
        Ok(n == 1)
    }

    fn backend_facts(&self, now: Timestamp) -> Result<Vec<BackendFact>, StoreError> {
        let rows = self.conn()?.query(
            "SELECT module, kind, (extract(epoch FROM until) * 1000)::bigint
             FROM backend_facts WHERE until > to_timestamp($1)
             ORDER BY module, kind",
            &[&secs(now)],
        )?;
        rows.into_iter()
            .map(|r| {
                let ms: i64 = r.get(2);
                Ok(BackendFact {
                    module: r.get(0),
                    kind: r.get(1),
                    until: Timestamp::from_millisecond(ms)
                        .map_err(|e| StoreError::Corrupt(format!("fact until {ms}: {e}")))?,
                })
            })
            .collect()
    }

    fn save_backend_fact(&self, fact: &BackendFact) -> Result<(), StoreError> {
        self.conn()?.execute(
            "INSERT INTO backend_facts (module, kind, until, replica)
             VALUES ($1, $2, to_timestamp($3), $4)
             ON CONFLICT (module, kind) DO UPDATE
             SET until = GREATEST(backend_facts.until, EXCLUDED.until),
                 replica = EXCLUDED.replica, updated_at = now()",
            &[&fact.module, &fact.kind, &secs(fact.until), &self.replica],
        )?;
        Ok(())
    }

    /// The budget's shared counter. One statement,
    /// `INSERT INTO budget_minutes … VALUES (consumer, minute, n) ON CONFLICT (consumer, minute)
    /// DO UPDATE SET used = used + n WHERE budget_minutes.used + n <= limit RETURNING used`:
    /// PostgreSQL locks the row, so concurrent replicas never spend past `limit` together.
    /// `n > limit` is refused without writing. Units are whatever the caller counts (backend
    /// requests for `SNIPER_BUDGET_PER_MIN`); `minute = floor(epoch_ms / 60_000)`.
    fn try_spend(
        &self,
        consumer: &str,
        minute: i64,
        n: u32,
        limit: u32,
    ) -> Result<bool, StoreError> {
        if n > limit {
            return Ok(false);
        }
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let row = self.conn()?.query_opt(
            "INSERT INTO budget_minutes (consumer, minute, used) VALUES ($1, $2, $3)
             ON CONFLICT (consumer, minute) DO UPDATE
             SET used = budget_minutes.used + EXCLUDED.used
             WHERE budget_minutes.used + EXCLUDED.used <= $4
             RETURNING used",
            &[&consumer, &minute, &n, &limit],
        )?;
        Ok(row.is_some())
    }
}

/// The key of a breaker or route saved for `backend`.
fn backend_key(backend: &str, module: &str) -> String {
    format!("{backend}|{module}")
}

/// The rows saved for `backend`, keyed by module again (rows of other backends, and rows saved
/// before keys carried the backend, are left out).
fn of_backend(
    backend: &str,
    rows: Vec<(String, serde_json::Value)>,
) -> Vec<(String, serde_json::Value)> {
    let prefix = format!("{backend}|");
    rows.into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_string(), v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_recognised() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("postgresql://u@h:5433/db"));
        assert!(!is_postgres_url("./sniper.db"));
        assert!(!is_postgres_url(":memory:"));
        assert!(!is_postgres_url("postgres.db"));
    }

    #[test]
    fn passwords_never_reach_messages() {
        let r = redact_db("postgres://sniper:hunter2@db.internal:5432/sniper");
        assert!(!r.contains("hunter2"), "{r}");
        assert!(r.contains("db.internal"), "{r}");
        assert_eq!(redact_db("./sniper.db"), "./sniper.db");
    }
}
