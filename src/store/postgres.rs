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
//! The schema is versioned in `schema_migrations(version, applied_at)`. A database already at
//! [`PG_SCHEMA_VERSION`] is opened without any lock. Otherwise the pending entries of
//! [`PG_MIGRATIONS`] run in one transaction holding `pg_advisory_xact_lock`, so replicas starting
//! at the same moment apply each migration exactly once; the wait for that lock (and for any table
//! another session holds) is bounded by `SNIPER_DB_LOCK_TIMEOUT`, and past it `open` fails with
//! [`StoreError::LockTimeout`] naming the sessions holding it (`pg_locks` ⨝ `pg_stat_activity`).
//!
//! Errors carry PostgreSQL's whole report (severity, message, SQLSTATE, detail, hint, constraint:
//! [`describe`]) — `database "x" does not exist`, not "db error".

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use ::postgres::error::SqlState;
use ::postgres::{Client, NoTls};
use jiff::Timestamp;

use super::{
    BackendFact, MAX_RUNS_LIMIT, ModuleRecord, OutboxRow, Outcome, PricePoint, RUN_COLUMNS, RawRun,
    RunQuery, RunRecord, SignalQuery, SignalRecord, SignalStateRow, StateStore, StoreError,
    StoreOptions,
};

/// PostgreSQL migrations, in order: entry `i` is schema version `i + 1`. Append only.
pub const PG_MIGRATIONS: &[&str] = &[
    PG_SCHEMA_V1,
    PG_MIGRATION_V2,
    PG_MIGRATION_V3,
    PG_MIGRATION_V4,
];

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

/// Version 3: parity with SQLite (issue 21 item 1). Runs record their backend and trigger;
/// breakers and routes are keyed by a `backend` column (rows saved as `<backend>|<module>` are
/// split; rows saved before keys carried a backend are dropped, as SQLite's version 3 did); the
/// signal tables of SQLite's version 5, the outbox with `claimed_by` (the replica holding the
/// lease) so a restarting replica releases only its own leases.
pub const PG_MIGRATION_V3: &str = "
ALTER TABLE runs ADD COLUMN backend TEXT;
ALTER TABLE runs ADD COLUMN triggered_by TEXT NOT NULL DEFAULT 'schedule';
DELETE FROM breakers WHERE strpos(module, '|') = 0;
ALTER TABLE breakers ADD COLUMN backend TEXT;
ALTER TABLE breakers DROP CONSTRAINT breakers_pkey;
UPDATE breakers SET backend = substring(module FROM '^(.*)\\|[^|]*$'),
                    module = substring(module FROM '\\|([^|]*)$');
ALTER TABLE breakers ALTER COLUMN backend SET NOT NULL;
ALTER TABLE breakers ADD PRIMARY KEY (backend, module);
DELETE FROM routes WHERE strpos(module, '|') = 0;
ALTER TABLE routes ADD COLUMN backend TEXT;
ALTER TABLE routes DROP CONSTRAINT routes_pkey;
UPDATE routes SET backend = substring(module FROM '^(.*)\\|[^|]*$'),
                  module = substring(module FROM '\\|([^|]*)$');
ALTER TABLE routes ALTER COLUMN backend SET NOT NULL;
ALTER TABLE routes ADD PRIMARY KEY (backend, module);
CREATE TABLE signal_calls (
    id        BIGSERIAL PRIMARY KEY,
    symbol    TEXT    NOT NULL,
    at_ms     BIGINT  NOT NULL,
    level     TEXT    NOT NULL CHECK (level IN ('none', 'watch', 'action')),
    direction TEXT    NOT NULL,
    score     INTEGER NOT NULL,
    reason    TEXT,
    call      TEXT    NOT NULL,
    features  TEXT    NOT NULL
);
CREATE INDEX signal_calls_at ON signal_calls (at_ms);
CREATE INDEX signal_calls_symbol ON signal_calls (symbol, at_ms);
CREATE TABLE signal_state (
    symbol    TEXT    NOT NULL,
    direction TEXT    NOT NULL,
    level     TEXT    NOT NULL,
    score     INTEGER NOT NULL,
    at_ms     BIGINT  NOT NULL,
    PRIMARY KEY (symbol, direction)
);
CREATE TABLE signal_outbox (
    key              TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    call_id          BIGINT  NOT NULL,
    body             TEXT    NOT NULL,
    created_ms       BIGINT  NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  BIGINT  NOT NULL,
    claimed_until_ms BIGINT,
    claimed_by       TEXT,
    delivered_ms     BIGINT,
    last_error       TEXT,
    PRIMARY KEY (key, channel)
);
CREATE INDEX signal_outbox_pending ON signal_outbox (delivered_ms, next_attempt_ms);
";

/// Version 4: runs are per symbol (as SQLite's version 7).
pub const PG_MIGRATION_V4: &str = "
ALTER TABLE runs ADD COLUMN symbol TEXT;
ALTER TABLE runs ADD COLUMN run_group TEXT;
CREATE INDEX runs_symbol ON runs (symbol, at_ms);
";

/// Advisory lock key serialising migrations (`"snip"` `"migr"` in ASCII).
pub const MIGRATION_LOCK: i64 = 0x736e_6970_6d69_6772;
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

/// libpq's connection keywords (a `SNIPER_DB` made of `keyword=value` words is a PostgreSQL
/// connection string, never a file name).
const CONNINFO_KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "sslmode",
    "sslpassword",
    "connect_timeout",
    "application_name",
    "options",
    "target_session_attrs",
];

/// True for a libpq keyword/value connection string: some whitespace-separated word is
/// `<keyword>=…` with a libpq keyword (`host=db port=5432 dbname=sniper`).
pub fn is_keyword_value_conninfo(db: &str) -> bool {
    db.split_whitespace().any(|w| {
        w.split_once('=').is_some_and(|(k, _)| {
            CONNINFO_KEYWORDS.contains(&k.trim().to_ascii_lowercase().as_str())
        })
    })
}

/// The secret parameters of a connection string.
fn is_secret_key(k: &str) -> bool {
    matches!(
        k.trim().to_ascii_lowercase().as_str(),
        "password" | "sslpassword"
    )
}

/// `db` with every password replaced by `***`, for messages and logs: a URL's `user:password@`
/// and its `?password=` query parameter, and a keyword/value string's `password=` word.
pub fn redact_db(db: &str) -> String {
    if is_postgres_url(db) {
        return match url::Url::parse(db.trim()) {
            Ok(mut u) => {
                if u.password().is_some() {
                    let _ = u.set_password(Some("***"));
                }
                if u.query().is_some() {
                    let pairs: Vec<(String, String)> = u
                        .query_pairs()
                        .map(|(k, v)| {
                            let v = if is_secret_key(&k) {
                                "***".into()
                            } else {
                                v.into_owned()
                            };
                            (k.into_owned(), v)
                        })
                        .collect();
                    u.query_pairs_mut().clear().extend_pairs(pairs);
                }
                u.to_string()
            }
            Err(_) => "postgres://<unparseable URL>".to_string(),
        };
    }
    if is_keyword_value_conninfo(db) {
        return db
            .split_whitespace()
            .map(|w| match w.split_once('=') {
                Some((k, _)) if is_secret_key(k) => format!("{k}=***"),
                _ => w.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    db.to_string()
}

/// PostgreSQL's whole report of `e`: for a server error its severity, message, SQLSTATE, detail,
/// hint, constraint, table and column (`ERROR: database "x" does not exist (SQLSTATE 3D000)`);
/// otherwise the client's message and its cause chain (`error connecting to server: Connection
/// refused (os error 111)`). Never includes the connection string.
pub fn describe(e: &::postgres::Error) -> String {
    use std::error::Error as _;
    use std::fmt::Write as _;
    if let Some(db) = e.as_db_error() {
        let mut s = format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
        let parts = [
            ("detail", db.detail()),
            ("hint", db.hint()),
            ("constraint", db.constraint()),
            ("table", db.table()),
            ("column", db.column()),
        ];
        for (name, v) in parts {
            if let Some(v) = v {
                let _ = write!(s, "; {name}: {v}");
            }
        }
        return s;
    }
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        let _ = write!(s, ": {x}");
        src = x.source();
    }
    s
}

/// A client error whose `Display` is [`describe`]'s whole chain (what the pool reports when it
/// cannot connect, instead of "db error").
#[derive(Debug)]
pub struct PgError(pub ::postgres::Error);

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&describe(&self.0))
    }
}

impl std::error::Error for PgError {}

/// The pool's connection factory: plain `postgres` clients, errors as [`PgError`].
#[derive(Debug)]
struct Manager {
    config: ::postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Client;
    type Error = PgError;

    fn connect(&self) -> Result<Client, PgError> {
        self.config.connect(NoTls).map_err(PgError)
    }

    fn is_valid(&self, c: &mut Client) -> Result<(), PgError> {
        c.simple_query("").map(|_| ()).map_err(PgError)
    }

    fn has_broken(&self, c: &mut Client) -> bool {
        c.is_closed()
    }
}

type Pool = r2d2::Pool<Manager>;

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

fn secs(t: Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

impl PgStore {
    /// Connect to `url`, migrate, and prune runs older than the default retention (when this
    /// replica owns the chores). Runs saved through this store carry `replica`.
    /// Errors: [`StoreError::Postgres`] for a malformed URL or a server that refuses (its whole
    /// report), [`StoreError::LockTimeout`] when the migration lock is held past the options'
    /// `lock_timeout`, [`StoreError::SchemaTooNew`] for a newer schema.
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
        // The first session is made directly (not through the pool) so that a refusal —
        // `database "x" does not exist`, a bad password — reaches the caller as the server said it.
        let mut first = config.connect(NoTls)?;
        migrate(&mut first, options.lock_timeout)?;
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(CONNECT_TIMEOUT)
            .build(Manager {
                config: config.clone(),
            })?;
        let store = PgStore {
            pool: Some(pool),
            config,
            replica: replica.to_string(),
            options,
            chores: Mutex::new(None),
        };
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

    fn conn(&self) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        match &self.pool {
            Some(p) => Ok(p.get()?),
            None => Err(StoreError::Task("store is closing".into())),
        }
    }

    /// The highest applied migration (0 on an empty database).
    pub fn schema_version(&self) -> Result<i32, StoreError> {
        current_version(&mut *self.conn()?)
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

    /// `table`/`column` are compile-time constants from this file, never user input.
    fn upsert_kv(
        &self,
        table: &'static str,
        column: &'static str,
        backend: &str,
        module: &str,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(value)?;
        let sql = format!(
            "INSERT INTO {table} (backend, module, {column}, updated_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (backend, module) DO UPDATE SET {column} = EXCLUDED.{column},
                                                         updated_ms = EXCLUDED.updated_ms"
        );
        self.conn()?.execute(
            sql.as_str(),
            &[&backend, &module, &text, &Timestamp::now().as_millisecond()],
        )?;
        Ok(())
    }

    fn list_kv(
        &self,
        sql: &'static str,
        backend: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let rows = self.conn()?.query(sql, &[&backend])?;
        rows.into_iter()
            .map(|r| {
                let text: String = r.get(1);
                Ok((r.get(0), serde_json::from_str(&text)?))
            })
            .collect()
    }
}

fn outbox_from_pg(r: &::postgres::Row) -> Result<OutboxRow, StoreError> {
    let body: String = r.get(3);
    let attempts: i32 = r.get(4);
    Ok(OutboxRow {
        key: r.get(0),
        channel: r.get(1),
        call_id: r.get(2),
        body: serde_json::from_str(&body)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        created_ms: r.get(5),
        next_attempt_ms: r.get(6),
        delivered_ms: r.get(7),
        last_error: r.get(8),
    })
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
                                   payload_dropped, sandbox, replica, backend, triggered_by,
                                   symbol, run_group)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
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
                    &run.backend,
                    &run.trigger.as_str(),
                    &run.symbol,
                    &run.run_group,
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
        let symbol = q.symbol.as_deref();
        let mut c = self.conn()?;
        let sql = format!(
            "SELECT {cols}, replica FROM runs
             WHERE ($1::text IS NULL OR outcome = $1)
               AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM run_modules m
                                                WHERE m.run_id = runs.id AND m.module = $2))
               AND ($5::text IS NULL OR upper(symbol) = upper($5))
             ORDER BY at_ms DESC, id DESC
             LIMIT $3",
            cols = RUN_COLUMNS.replace("payload,", "CASE WHEN $4 THEN payload END,")
        );
        let rows = c.query(
            sql.as_str(),
            &[&outcome, &module, &limit, &q.with_payload, &symbol],
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
            let latency: i64 = r.get(4);
            modules.entry(r.get(0)).or_default().push(ModuleRecord {
                module: r.get(1),
                status: r.get(2),
                code: r.get(3),
                latency_ms: u64::try_from(latency).unwrap_or(0),
            });
        }
        rows.into_iter()
            .map(|r| {
                let raw = RawRun {
                    id: r.get(0),
                    at_ms: r.get(1),
                    outcome: r.get(2),
                    success: r.get(3),
                    duration_ms: r.get(4),
                    soft_fails: r.get(5),
                    payload: r.get(6),
                    payload_dropped: r.get(7),
                    sandbox: r.get(8),
                    backend: r.get(9),
                    trigger: r.get(10),
                    symbol: r.get(11),
                    run_group: r.get(12),
                    replica: Some(r.get(13)),
                };
                let mods = modules.remove(&raw.id).unwrap_or_default();
                raw.decode(mods)
            })
            .collect()
    }

    fn save_breaker(
        &self,
        backend: &str,
        module: &str,
        snapshot_json: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.upsert_kv("breakers", "snapshot", backend, module, snapshot_json)
    }

    fn breakers(&self, backend: &str) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        self.list_kv(
            "SELECT module, snapshot FROM breakers WHERE backend = $1 ORDER BY module",
            backend,
        )
    }

    fn save_route(
        &self,
        backend: &str,
        module: &str,
        route_json: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.upsert_kv("routes", "route", backend, module, route_json)
    }

    fn routes(&self, backend: &str) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        self.list_kv(
            "SELECT module, route FROM routes WHERE backend = $1 ORDER BY module",
            backend,
        )
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
        // Graded calls go with the runs' retention; finished outbox rows too — delivered, or ended
        // undelivered (gave_up / muted: `next_attempt_ms` = i64::MAX) — while pending ones stay.
        c.execute(
            "DELETE FROM signal_calls WHERE at_ms < $1
               AND id NOT IN (SELECT call_id FROM signal_outbox
                              WHERE delivered_ms IS NULL AND next_attempt_ms < $2)",
            &[&older_than.as_millisecond(), &i64::MAX],
        )?;
        c.execute(
            "DELETE FROM signal_outbox WHERE (delivered_ms IS NOT NULL OR next_attempt_ms >= $2)
               AND created_ms < $1",
            &[&older_than.as_millisecond(), &i64::MAX],
        )?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn record_signal(
        &self,
        call: &SignalRecord,
        state: Option<&SignalStateRow>,
        outbox: &[OutboxRow],
    ) -> Result<i64, StoreError> {
        let call_json = serde_json::to_string(&call.call)?;
        let features_json = serde_json::to_string(&call.features)?;
        let score = i32::try_from(call.score).unwrap_or(i32::MAX);
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO signal_calls (symbol, at_ms, level, direction, score, reason, call,
                                           features)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    &call.symbol,
                    &call.at.as_millisecond(),
                    &call.level,
                    &call.direction,
                    &score,
                    &call.reason,
                    &call_json,
                    &features_json,
                ],
            )?
            .get(0);
        if let Some(st) = state {
            let score = i32::try_from(st.score).unwrap_or(i32::MAX);
            tx.execute(
                "INSERT INTO signal_state (symbol, direction, level, score, at_ms)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (symbol, direction) DO UPDATE SET level = EXCLUDED.level,
                     score = EXCLUDED.score, at_ms = EXCLUDED.at_ms",
                &[&st.symbol, &st.direction, &st.level, &score, &st.at_ms],
            )?;
        }
        for o in outbox {
            tx.execute(
                "INSERT INTO signal_outbox (key, channel, call_id, body, created_ms, attempts,
                                            next_attempt_ms)
                 VALUES ($1, $2, $3, $4, $5, 0, $6) ON CONFLICT (key, channel) DO NOTHING",
                &[
                    &o.key,
                    &o.channel,
                    &id,
                    &serde_json::to_string(&o.body)?,
                    &o.created_ms,
                    &o.next_attempt_ms,
                ],
            )?;
        }
        tx.commit()?;
        Ok(id)
    }

    fn signal_states(&self) -> Result<Vec<SignalStateRow>, StoreError> {
        let rows = self.conn()?.query(
            "SELECT symbol, direction, level, score, at_ms FROM signal_state
             ORDER BY symbol, direction",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let score: i32 = r.get(3);
                SignalStateRow {
                    symbol: r.get(0),
                    direction: r.get(1),
                    level: r.get(2),
                    score: u32::try_from(score).unwrap_or(0),
                    at_ms: r.get(4),
                }
            })
            .collect())
    }

    fn signals(&self, q: &SignalQuery) -> Result<Vec<SignalRecord>, StoreError> {
        let limit = q.limit.clamp(1, MAX_RUNS_LIMIT * 100) as i64;
        let sql = format!(
            "SELECT id, symbol, at_ms, level, direction, score, reason, call, features
             FROM signal_calls
             WHERE ($1::text IS NULL OR upper(symbol) = upper($1)) AND ($2::bigint IS NULL OR at_ms >= $2)
               AND (NOT $3 OR level <> 'none') AND (NOT $5 OR reason IS NOT NULL)
             ORDER BY at_ms {o}, id {o} LIMIT $4",
            o = if q.ascending { "ASC" } else { "DESC" }
        );
        let since = q.since.map(|t| t.as_millisecond());
        let rows = self.conn()?.query(
            sql.as_str(),
            &[&q.symbol, &since, &q.calls_only, &limit, &q.made_only],
        )?;
        rows.into_iter()
            .map(|r| {
                let score: i32 = r.get(5);
                let call: String = r.get(7);
                let features: String = r.get(8);
                super::signal_record(
                    r.get(0),
                    r.get(1),
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    u32::try_from(score).unwrap_or(0),
                    r.get(6),
                    &call,
                    &features,
                )
            })
            .collect()
    }

    /// `FOR UPDATE SKIP LOCKED` + lease: a row another replica is claiming right now is skipped,
    /// one it leased stays out until `claimed_until_ms`; the lease is taken under this replica's
    /// id (`claimed_by`).
    fn claim_outbox(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.conn()?.query(
            "UPDATE signal_outbox o SET claimed_until_ms = $2, claimed_by = $4
             FROM (SELECT key, channel FROM signal_outbox
                   WHERE delivered_ms IS NULL AND next_attempt_ms <= $1
                     AND (claimed_until_ms IS NULL OR claimed_until_ms <= $1)
                   ORDER BY created_ms, key, channel
                   LIMIT $3
                   FOR UPDATE SKIP LOCKED) due
             WHERE o.key = due.key AND o.channel = due.channel
             RETURNING o.key, o.channel, o.call_id, o.body, o.attempts, o.created_ms,
                       o.next_attempt_ms, o.delivered_ms, o.last_error",
            &[
                &now_ms,
                &now_ms.saturating_add(lease_ms),
                &limit,
                &self.replica,
            ],
        )?;
        let mut out = rows
            .iter()
            .map(outbox_from_pg)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| {
            (a.created_ms, &a.key, &a.channel).cmp(&(b.created_ms, &b.key, &b.channel))
        });
        Ok(out)
    }

    fn mark_delivered(&self, key: &str, channel: &str, now_ms: i64) -> Result<(), StoreError> {
        self.conn()?.execute(
            "UPDATE signal_outbox SET delivered_ms = $3, attempts = attempts + 1,
                 claimed_until_ms = NULL, claimed_by = NULL, last_error = NULL
             WHERE key = $1 AND channel = $2",
            &[&key, &channel, &now_ms],
        )?;
        Ok(())
    }

    fn mark_failed(
        &self,
        key: &str,
        channel: &str,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        self.conn()?.execute(
            "UPDATE signal_outbox SET attempts = attempts + 1, claimed_until_ms = NULL,
                 claimed_by = NULL, next_attempt_ms = $3, last_error = $4
             WHERE key = $1 AND channel = $2",
            &[&key, &channel, &next_attempt_ms, &error],
        )?;
        Ok(())
    }

    /// Only leases taken under this replica's id: other replicas are alive and delivering; their
    /// leases expire by time if they are not.
    fn release_outbox_claims(&self) -> Result<usize, StoreError> {
        let n = self.conn()?.execute(
            "UPDATE signal_outbox SET claimed_until_ms = NULL, claimed_by = NULL
             WHERE claimed_by = $1 AND claimed_until_ms IS NOT NULL AND delivered_ms IS NULL",
            &[&self.replica],
        )?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn outbox(&self) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = self.conn()?.query(
            "SELECT key, channel, call_id, body, attempts, created_ms, next_attempt_ms,
                    delivered_ms, last_error
             FROM signal_outbox ORDER BY created_ms, key, channel",
            &[],
        )?;
        rows.iter().map(outbox_from_pg).collect()
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

    /// Only the chores owner prunes (others answer `Ok(0)`), like [`StateStore::prune`].
    fn prune_prices(&self, older_than_ms: i64) -> Result<usize, StoreError> {
        if !self.owns_chores()? {
            return Ok(0);
        }
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

/// The highest applied migration on `c`'s database (0 when `schema_migrations` does not exist).
fn current_version(c: &mut Client) -> Result<i32, StoreError> {
    let exists: bool = c
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(c.query_one(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        &[],
    )?
    .get(0))
}

fn is_lock_timeout(e: &::postgres::Error) -> bool {
    e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
}

/// Bring `c`'s database to [`PG_SCHEMA_VERSION`]. Current already: returns at once, no lock.
/// Otherwise every pending migration runs in one transaction holding the migration advisory lock;
/// every lock wait in it is bounded by `lock_timeout` (`SET LOCAL lock_timeout`), past which the
/// error names who holds what it waited for.
fn migrate(c: &mut Client, lock_timeout: Duration) -> Result<(), StoreError> {
    let found = current_version(c)?;
    if found > PG_SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: i64::from(found),
            supported: i64::from(PG_SCHEMA_VERSION),
        });
    }
    if found == PG_SCHEMA_VERSION {
        return Ok(());
    }
    let ms = lock_timeout.as_millis().clamp(1, i32::MAX as u128);
    let result = (|| -> Result<Option<i32>, ::postgres::Error> {
        let mut tx = c.transaction()?;
        tx.batch_execute(&format!("SET LOCAL lock_timeout = {ms}"))?;
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
        if found >= PG_SCHEMA_VERSION {
            tx.commit()?;
            return Ok(Some(found));
        }
        for (i, sql) in PG_MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
            tx.batch_execute(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&(i as i32 + 1)],
            )?;
        }
        tx.commit()?;
        tracing::info!(
            from = found,
            to = PG_SCHEMA_VERSION,
            "migrated the PostgreSQL schema"
        );
        Ok(None)
    })();
    match result {
        Ok(Some(found)) if found > PG_SCHEMA_VERSION => Err(StoreError::SchemaTooNew {
            found: i64::from(found),
            supported: i64::from(PG_SCHEMA_VERSION),
        }),
        Ok(_) => Ok(()),
        Err(e) if is_lock_timeout(&e) => Err(StoreError::LockTimeout {
            what: "the PostgreSQL schema migration lock (and the tables it alters)".into(),
            waited: lock_timeout,
            holders: lock_holders(c),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Who holds the migration advisory lock, or a lock on a table of this schema, in this database:
/// `pid 4242 (application "sniper r1", state "idle in transaction", since 2026-…Z) holds
/// advisory lock`, one per session, `; `-separated. Never fails: a failed lookup says so.
fn lock_holders(c: &mut Client) -> String {
    let hi = MIGRATION_LOCK >> 32;
    let lo = MIGRATION_LOCK & 0xffff_ffff;
    let rows = c.query(
        "SELECT a.pid, COALESCE(a.application_name, ''), COALESCE(a.state, ''),
                COALESCE(to_char(COALESCE(a.xact_start, a.state_change, a.backend_start)
                                 AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '?'),
                string_agg(DISTINCT CASE WHEN l.locktype = 'advisory' THEN 'the migration lock'
                                         ELSE 'table ' || c.relname || ' (' || l.mode || ')' END,
                           ', ')
         FROM pg_locks l
         JOIN pg_stat_activity a ON a.pid = l.pid
         LEFT JOIN pg_class c ON l.locktype = 'relation' AND c.oid = l.relation
         WHERE l.granted AND l.pid <> pg_backend_pid()
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND ((l.locktype = 'advisory' AND l.classid::bigint = $1 AND l.objid::bigint = $2)
                OR (l.locktype = 'relation' AND c.relnamespace = current_schema()::regnamespace))
         GROUP BY 1, 2, 3, 4 ORDER BY 1",
        &[&hi, &lo],
    );
    match rows {
        Ok(rows) if rows.is_empty() => {
            "no session any more (it ended while this one gave up)".to_string()
        }
        Ok(rows) => rows
            .iter()
            .map(|r| {
                let pid: i32 = r.get(0);
                let app: String = r.get(1);
                let state: String = r.get(2);
                let since: String = r.get(3);
                let what: Option<String> = r.get(4);
                format!(
                    "pid {pid} (application {app:?}, state {state:?}, since {since}) holding {}",
                    what.unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        Err(e) => format!("unknown (looking up pg_locks failed: {})", describe(&e)),
    }
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
        // The other places a password can stand.
        let q = redact_db("postgres://u@127.0.0.1:1/x?password=SeCrEt&sslmode=disable");
        assert!(
            !q.contains("SeCrEt") && q.contains("sslmode=disable"),
            "{q}"
        );
        let kv = redact_db("host=127.0.0.1 port=1 user=u password=SeCrEt dbname=x");
        assert!(!kv.contains("SeCrEt") && kv.contains("dbname=x"), "{kv}");
    }

    #[test]
    fn keyword_value_strings_are_not_file_names() {
        assert!(is_keyword_value_conninfo("host=db dbname=sniper"));
        assert!(is_keyword_value_conninfo("password=x"));
        assert!(!is_keyword_value_conninfo("./sniper.db"));
        assert!(!is_keyword_value_conninfo("/data/my file=1.db"));
        let e = crate::store::open_store_with(
            "host=127.0.0.1 user=u password=SeCrEt",
            "r",
            crate::store::StoreOptions::default(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("keyword/value") && !e.contains("SeCrEt"), "{e}");
    }
}
