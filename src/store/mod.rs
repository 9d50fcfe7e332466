//! Durable state behind one contract, [`StateStore`], implemented completely by two stores.
//!
//! A restart must not forget an open circuit (a restart loop would otherwise hammer a paid endpoint),
//! and the last runs must be visible without reading logs. [`StateStore`] keeps runs (one row per
//! configured symbol, grouped by `run_group`), breaker snapshots and learned routes per backend,
//! graded signal calls with their cooldown state and delivery outbox, the price path, settings,
//! and the replica facts (tick claims, backend facts, budget minutes). [`SqliteStore`] keeps them
//! in one SQLite file (WAL mode) versioned with `PRAGMA user_version` and the ordered
//! [`MIGRATIONS`]; [`postgres::PgStore`] keeps them in PostgreSQL for replicas. The trait has no
//! default bodies: a feature never works on one store and not the other, and
//! `tests/store_conformance.rs` runs the same tests on both. Rows become [`RunRecord`]s through one
//! decoder (`RawRun::decode`). [`open_store`] picks the store from `SNIPER_DB` (a path or a
//! `postgres://` URL); [`AsyncStore`] runs every call on tokio's blocking pool so database work
//! never stalls the runtime.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::run::modules::Outcome as ModuleOutcome;
use crate::run::runner::{RunResult, Trigger};

pub mod postgres;

/// Environment variable naming the database file (`:memory:` accepted).
pub const DB_ENV: &str = "SNIPER_DB";
/// Database file used when [`DB_ENV`] is unset.
pub const DEFAULT_DB_PATH: &str = "./sniper.db";
/// Runs older than this are pruned: a week covers a weekend's incident plus the Monday review.
pub const DEFAULT_RETENTION: SignedDuration = SignedDuration::from_hours(7 * 24);
/// Price points older than this are pruned: 90 days gives a scorecard a quarter of calls.
pub const DEFAULT_PRICE_RETENTION: SignedDuration = SignedDuration::from_hours(90 * 24);
/// Default cap on one run's serialized payload. Module payloads are diagnostics, not the product:
/// 64 KiB keeps a week of 5-minute runs under ~130 MB even when every payload is at the cap.
pub const DEFAULT_PAYLOAD_CAP_BYTES: usize = 64 * 1024;
/// How often [`retention_task`] prunes, if the caller has no better idea: hourly keeps the table
/// within an hour of the retention window at the cost of one indexed DELETE.
pub const DEFAULT_PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// Largest `limit` a run query may ask for (the API and CLI validate against it).
pub const MAX_RUNS_LIMIT: usize = 1000;

/// Schema migrations, in order. Entry `i` upgrades a database from `user_version = i` to `i + 1`;
/// the pending ones run in one write transaction together with the version bump. Append only: never edit a
/// released entry, since databases in the field already ran it.
pub const MIGRATIONS: &[&str] = &[
    SCHEMA_V1,
    MIGRATION_V2,
    MIGRATION_V3,
    MIGRATION_V4,
    MIGRATION_V5,
    MIGRATION_V6,
    MIGRATION_V7,
];

/// Version 1: run history (one row per run, one row per module outcome).
pub const SCHEMA_V1: &str = "
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    at_ms           INTEGER NOT NULL,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('success', 'partial', 'failure')),
    success         INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL,
    soft_fails      TEXT    NOT NULL,
    payload         TEXT,
    payload_dropped INTEGER NOT NULL DEFAULT 0,
    sandbox         INTEGER NOT NULL
);
CREATE INDEX runs_at ON runs (at_ms);
CREATE TABLE run_modules (
    run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    module     TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    code       TEXT,
    latency_ms INTEGER NOT NULL,
    PRIMARY KEY (run_id, module)
);
";

/// Version 2: breaker snapshots and learned routes (one row per module, replaced on change), and an
/// index so `?module=` history queries do not scan every module row.
pub const MIGRATION_V2: &str = "
CREATE TABLE breakers (
    module     TEXT PRIMARY KEY,
    snapshot   TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE routes (
    module     TEXT PRIMARY KEY,
    route      TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX run_modules_module ON run_modules (module, run_id);
";

/// Version 3: saved state belongs to one backend (issue 13 item 3). Breaker snapshots and learned
/// routes are keyed by `(backend, module)` — `backend` is `PY_BASE_URL`'s normalised origin and
/// path prefix ([`crate::upstream::Base::key`]), the breaker key is `<module>` or
/// `<module>:<symbol>` — and each run records the backend it went to (`NULL` for older runs).
/// Rows saved by older builds do not say which backend they came from, so they are dropped:
/// restoring them against another backend is the bug this version fixes. The cost: one request
/// to learn a still-open circuit again after the upgrade.
pub const MIGRATION_V3: &str = "
ALTER TABLE runs ADD COLUMN backend TEXT;
DROP TABLE breakers;
DROP TABLE routes;
CREATE TABLE breakers (
    backend    TEXT    NOT NULL,
    module     TEXT    NOT NULL,
    snapshot   TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (backend, module)
);
CREATE TABLE routes (
    backend    TEXT    NOT NULL,
    module     TEXT    NOT NULL,
    route      TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (backend, module)
);
";

/// Version 4: who started each run (`schedule`, `manual`, `replica`); older rows were all
/// scheduled (manual runs were not recorded apart).
pub const MIGRATION_V4: &str = "
ALTER TABLE runs ADD COLUMN triggered_by TEXT NOT NULL DEFAULT 'schedule';
";
/// Version 5: signals. `signal_calls` keeps every graded symbol per run with the features that
/// produced it (replay re-grades them); `signal_state` the last delivered call per symbol and
/// direction (the cooldown); `signal_outbox` one row per call and channel until delivered, written
/// in the same transaction as the state, keyed by the call's idempotency key.
pub const MIGRATION_V5: &str = "
CREATE TABLE signal_calls (
    id        INTEGER PRIMARY KEY,
    symbol    TEXT    NOT NULL,
    at_ms     INTEGER NOT NULL,
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
    at_ms     INTEGER NOT NULL,
    PRIMARY KEY (symbol, direction)
);
CREATE TABLE signal_outbox (
    key              TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    call_id          INTEGER NOT NULL,
    body             TEXT    NOT NULL,
    created_ms       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL,
    claimed_until_ms INTEGER,
    delivered_ms     INTEGER,
    last_error       TEXT,
    PRIMARY KEY (key, channel)
);
CREATE INDEX signal_outbox_pending ON signal_outbox (delivered_ms, next_attempt_ms);
";

/// Version 6: the price path (issue "Scorecard": one row per symbol and run with a usable order
/// book, apart from the features blob so a year of 5-second mids stays small and indexed) and a
/// small settings table (the Telegram update offset, chat migrations, mutes; issue "Delivery").
pub const MIGRATION_V6: &str = "
CREATE TABLE price_path (
    symbol     TEXT    NOT NULL,
    at_ms      INTEGER NOT NULL,
    mid        REAL    NOT NULL,
    spread_bps REAL,
    PRIMARY KEY (symbol, at_ms)
) WITHOUT ROWID;
CREATE TABLE settings (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
);
";

/// Version 7: runs are per symbol (issue 21 item 3). Each row says its configured symbol and the
/// run it belongs to (`run_group`, shared by the rows of one run); older rows keep `NULL`.
pub const MIGRATION_V7: &str = "
ALTER TABLE runs ADD COLUMN symbol TEXT;
ALTER TABLE runs ADD COLUMN run_group TEXT;
CREATE INDEX runs_symbol ON runs (symbol, at_ms);
";

/// One observed mid of a symbol (the scorecard's price path): taken from a run whose order book
/// was usable. `mid` in quote currency, `spread_bps` = (ask − bid) / mid × 10 000 when known.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PricePoint {
    /// When the book was observed, epoch milliseconds.
    pub at_ms: i64,
    /// Mid price, quote currency.
    pub mid: f64,
    /// Spread in basis points of the mid, when the book had both sides.
    pub spread_bps: Option<f64>,
}

/// One graded symbol of one run, as kept (every run's grading, level none included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalRecord {
    /// Row id; `None` before saving.
    pub id: Option<i64>,
    /// The symbol as configured (`SOL`).
    pub symbol: String,
    /// The run's timestamp.
    pub at: Timestamp,
    /// `none`, `watch`, `action`.
    pub level: String,
    /// `long`, `short`, `none`.
    pub direction: String,
    /// 0–100.
    pub score: u32,
    /// Why it was delivered (`new`, `cooldown_over`, `escalation`, `score_rise`); `None` = not.
    pub reason: Option<String>,
    /// The graded call (layers and their numbers), JSON.
    pub call: serde_json::Value,
    /// The features it was graded from, JSON.
    pub features: serde_json::Value,
}

/// The last delivered call of one symbol and direction (the cooldown's state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalStateRow {
    /// Symbol.
    pub symbol: String,
    /// `long` or `short`.
    pub direction: String,
    /// `watch` or `action`.
    pub level: String,
    /// 0–100.
    pub score: u32,
    /// When the delivered call was graded, epoch ms.
    pub at_ms: i64,
}

/// One pending (or delivered) delivery of a call to one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxRow {
    /// The call's idempotency key (same for every channel and every retry).
    pub key: String,
    /// `webhook` or `telegram`.
    pub channel: String,
    /// The `signal_calls` row.
    pub call_id: i64,
    /// What to send, JSON.
    pub body: serde_json::Value,
    /// Attempts so far.
    pub attempts: u32,
    /// Enqueued at, epoch ms.
    pub created_ms: i64,
    /// Not before, epoch ms.
    pub next_attempt_ms: i64,
    /// Delivered at, epoch ms; `None` while pending.
    pub delivered_ms: Option<i64>,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

/// Which graded calls to return.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SignalQuery {
    /// Only this symbol.
    pub symbol: Option<String>,
    /// Only graded at or after this time.
    pub since: Option<Timestamp>,
    /// Only watch/action (skip level none).
    pub calls_only: bool,
    /// Only the calls made: gradings the cooldown let through (`reason` set), not the runs that
    /// repeated one condition.
    pub made_only: bool,
    /// At most this many (newest kept), clamped to [`MAX_RUNS_LIMIT`] × 100.
    pub limit: usize,
    /// Oldest first (replay) instead of newest first.
    pub ascending: bool,
}

/// The schema version this build writes (`PRAGMA user_version` after [`SqliteStore::open`]).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error(
        "cannot open state database {path:?}: {source} \
         (set SNIPER_DB to a writable file path, or :memory: to keep no state)"
    )]
    Open {
        /// The path that was tried.
        path: String,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// SQLite refused (I/O, corruption, lock timeout, constraint).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A JSON column could not be encoded or decoded.
    #[error("JSON error in stored value: {0}")]
    Json(#[from] serde_json::Error),
    /// A stored value is not one this build understands (e.g. an unknown outcome).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// `SNIPER_DB` is a PostgreSQL keyword/value connection string (`host=… password=…`), which
    /// would otherwise be taken for a SQLite file name (and its password written to disk and logs).
    #[error(
        "SNIPER_DB looks like a PostgreSQL keyword/value connection string ({0}); write it as a \
         URL, postgres://USER:PASSWORD@HOST:PORT/DBNAME, or give a SQLite file path"
    )]
    KeywordValueConninfo(String),
    /// A command that only reads history was pointed at a SQLite file that does not exist (a
    /// typo would otherwise create an empty database and report "no runs").
    #[error(
        "no state database at {0:?} (SNIPER_DB / --db): check the path, or run `sniper serve` or \
         `sniper demo` with it first"
    )]
    NoDatabase(String),
    /// The file was written by a newer sniper; refusing to guess at its schema.
    #[error(
        "database schema version {found} is newer than this build supports ({supported}); \
         upgrade sniper or point SNIPER_DB at another file"
    )]
    SchemaTooNew {
        /// `user_version` found in the file.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// PostgreSQL refused (connection, query, constraint); the message is the server's whole
    /// report ([`postgres::describe`]: message, SQLSTATE, detail, hint, constraint).
    #[error("PostgreSQL: {}", postgres::describe(.0))]
    Postgres(#[from] ::postgres::Error),
    /// A wait at start-up (a migration lock, a table another session holds, SQLite's write lock)
    /// went past `SNIPER_DB_LOCK_TIMEOUT`.
    #[error(
        "gave up after {} waiting for {what}; held by {holders} \
         (end that session, or raise SNIPER_DB_LOCK_TIMEOUT)",
        humanize(*.waited)
    )]
    LockTimeout {
        /// What was waited for.
        what: String,
        /// How long.
        waited: Duration,
        /// Who holds it, as far as the database can tell.
        holders: String,
    },
    /// A store setting (`SNIPER_DB_LOCK_TIMEOUT`) is not valid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// No PostgreSQL connection could be taken from the pool in time.
    #[error("PostgreSQL pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// A thread panicked while holding the connection.
    #[error("database connection lock poisoned by a panicked thread")]
    Poisoned,
    /// The blocking task running the query was cancelled or panicked.
    #[error("store task failed: {0}")]
    Task(String),
    /// Writing the history output failed.
    #[error("output error: {0}")]
    Io(#[from] std::io::Error),
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// A graded call from its stored plain values (both stores decode through here).
#[allow(clippy::too_many_arguments)]
pub(crate) fn signal_record(
    id: i64,
    symbol: String,
    at_ms: i64,
    level: String,
    direction: String,
    score: u32,
    reason: Option<String>,
    call: &str,
    features: &str,
) -> Result<SignalRecord, StoreError> {
    Ok(SignalRecord {
        id: Some(id),
        symbol,
        at: Timestamp::from_millisecond(at_ms)
            .map_err(|e| StoreError::Corrupt(format!("signal {id}: time {at_ms}: {e}")))?,
        level,
        direction,
        score,
        reason,
        call: serde_json::from_str(call)?,
        features: serde_json::from_str(features)?,
    })
}

/// How a whole run ended. Stored and filtered on, so it is an enum with fixed wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every enabled module returned data.
    Success,
    /// Some modules soft-failed; the run still produced a result.
    Partial,
    /// The run produced no usable result.
    Failure,
}

impl Outcome {
    /// All outcomes, for validation messages.
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Partial, Outcome::Failure];

    /// Wire name: `success`, `partial`, `failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Partial => "partial",
            Outcome::Failure => "failure",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One module's outcome within a run, as kept in history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleRecord {
    /// Wire name of the module (`etf`, `spot_ob`, …).
    pub module: String,
    /// `ok`, `soft_fail`, `hard_error` or `disabled`.
    pub status: String,
    /// Soft-fail or error code (`ETF_PAYMENT_REQUIRED`), if any.
    pub code: Option<String>,
    /// Time the module took, in milliseconds.
    pub latency_ms: u64,
}

/// A finished run as kept in history: the summary plus each module's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Row id; `None` before the record is saved.
    pub id: Option<i64>,
    /// When the run started.
    pub at: Timestamp,
    /// How the run ended.
    pub outcome: Outcome,
    /// The run result's `success` flag.
    pub success: bool,
    /// Wall time of the whole run.
    pub duration_ms: u64,
    /// Soft-fail codes of the run result.
    pub soft_fails: Vec<String>,
    /// Per-module outcomes.
    pub modules: Vec<ModuleRecord>,
    /// The run's result body, if kept. Dropped on save when its serialized size exceeds the cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    /// Set on records read back when the payload was over the cap and therefore not stored.
    #[serde(default)]
    pub payload_dropped: bool,
    /// The run went to the sandbox backend, not production.
    pub sandbox: bool,
    /// The backend the run went to ([`crate::upstream::Base::key`]); `None` for runs recorded
    /// before schema version 3.
    #[serde(default)]
    pub backend: Option<String>,
    /// Who started the run (absent in older JSON: `schedule`).
    #[serde(default)]
    pub trigger: Trigger,
    /// Which replica ran it (`SNIPER_REPLICA_ID`); set by shared stores on read, `None` in SQLite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
    /// The configured symbol this row is about (`SOL`): a run over 3 symbols is 3 rows, one per
    /// symbol. Modules whose answer does not depend on the symbol (ETF flows, whale alerts) are
    /// asked once per run and appear, with the same outcome, in every symbol's row. `None` for
    /// rows recorded before SQLite schema 7 / PostgreSQL schema 4.
    #[serde(default)]
    pub symbol: Option<String>,
    /// Shared by the rows of one run (its symbols); unique per run across processes and
    /// replicas. `None` for rows recorded before SQLite schema 7 / PostgreSQL schema 4 (each such
    /// row counts as a run of its own).
    #[serde(default)]
    pub run_group: Option<String>,
}

/// The run-group id of the run that started at `at` with `trigger` in this process:
/// `<process nonce, 8 hex>-<epoch ms>-<trigger>`. Every symbol's result of one run carries the
/// same start time and trigger, so they share it; the nonce (random, drawn once per process)
/// keeps two replicas' runs of the same millisecond apart.
pub fn run_group_id(at: Timestamp, trigger: Trigger) -> String {
    static NONCE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let nonce = NONCE.get_or_init(rand::random::<u32>);
    format!("{nonce:08x}-{}-{}", at.as_millisecond(), trigger.as_str())
}

/// A `runs` row as plain values, as either store reads it. [`RawRun::decode`] is the one place
/// stored values become a [`RunRecord`], so SQLite and PostgreSQL cannot decode differently.
#[derive(Debug, Clone)]
pub(crate) struct RawRun {
    pub id: i64,
    pub at_ms: i64,
    pub outcome: String,
    pub success: bool,
    pub duration_ms: i64,
    /// JSON array of codes.
    pub soft_fails: String,
    /// JSON, when loaded.
    pub payload: Option<String>,
    pub payload_dropped: bool,
    pub sandbox: bool,
    pub backend: Option<String>,
    pub trigger: String,
    pub replica: Option<String>,
    pub symbol: Option<String>,
    pub run_group: Option<String>,
}

/// The columns of `runs` in [`RawRun`] order (`?P` stands for "load the payload").
pub(crate) const RUN_COLUMNS: &str = "id, at_ms, outcome, success, duration_ms, soft_fails, \
     payload, payload_dropped, sandbox, backend, triggered_by, symbol, run_group";

impl RawRun {
    /// Errors: [`StoreError::Corrupt`] naming the run for an unknown outcome or trigger or an
    /// out-of-range time; [`StoreError::Json`] for unreadable JSON columns.
    pub(crate) fn decode(self, modules: Vec<ModuleRecord>) -> Result<RunRecord, StoreError> {
        let id = self.id;
        let trigger = Trigger::parse(&self.trigger)
            .ok_or_else(|| StoreError::Corrupt(format!("run {id}: trigger {:?}", self.trigger)))?;
        let at = Timestamp::from_millisecond(self.at_ms)
            .map_err(|e| StoreError::Corrupt(format!("run {id}: timestamp {}: {e}", self.at_ms)))?;
        let outcome = Outcome::parse(&self.outcome)
            .ok_or_else(|| StoreError::Corrupt(format!("run {id}: outcome {:?}", self.outcome)))?;
        Ok(RunRecord {
            id: Some(id),
            at,
            outcome,
            success: self.success,
            duration_ms: to_u64(self.duration_ms),
            soft_fails: serde_json::from_str(&self.soft_fails)?,
            modules,
            payload: self.payload.map(|p| serde_json::from_str(&p)).transpose()?,
            payload_dropped: self.payload_dropped,
            sandbox: self.sandbox,
            backend: self.backend,
            trigger,
            replica: self.replica,
            symbol: self.symbol,
            run_group: self.run_group,
        })
    }
}

impl RunRecord {
    /// The history record of one runner result; its outcome is [`RunResult::outcome`].
    /// With `keep_payload`, the whole result is kept as the payload (subject to the store's cap).
    pub fn from_run_result(r: &RunResult, keep_payload: bool) -> Result<RunRecord, StoreError> {
        let modules: Vec<ModuleRecord> = r
            .context
            .iter()
            .map(|(m, res)| {
                let (status, code) = match &res.call.outcome {
                    ModuleOutcome::Ok { .. } => ("ok", None),
                    ModuleOutcome::SoftFail { code, .. } => ("soft_fail", Some(code.clone())),
                    ModuleOutcome::HardError { .. } => (
                        "hard_error",
                        r.errors
                            .iter()
                            .find(|e| e.module == *m)
                            .map(|e| e.code.clone()),
                    ),
                    ModuleOutcome::Disabled => ("disabled", None),
                };
                ModuleRecord {
                    module: m.as_str().to_string(),
                    status: status.to_string(),
                    code,
                    latency_ms: res.latency_ms,
                }
            })
            .collect();
        let outcome = match r.outcome() {
            crate::obs::metrics::RunOutcome::Failure => Outcome::Failure,
            crate::obs::metrics::RunOutcome::Partial => Outcome::Partial,
            crate::obs::metrics::RunOutcome::Success => Outcome::Success,
        };
        Ok(RunRecord {
            id: None,
            at: r.timestamp,
            outcome,
            success: r.success,
            duration_ms: r.duration_ms,
            soft_fails: r.soft_fails.clone(),
            modules,
            payload: if keep_payload {
                Some(serde_json::to_value(r)?)
            } else {
                None
            },
            payload_dropped: false,
            sandbox: r.sandbox,
            backend: Some(r.backend.clone()),
            trigger: r.trigger,
            replica: None,
            symbol: Some(r.symbols.input.clone()),
            run_group: Some(run_group_id(r.timestamp, r.trigger)),
        })
    }
}

/// Which runs to return, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct RunQuery {
    /// At most this many runs (callers validate `1..=MAX_RUNS_LIMIT`; the store clamps).
    pub limit: usize,
    /// Only runs in which this module has an outcome; each run's `modules` is narrowed to it.
    pub module: Option<String>,
    /// Only runs with this outcome.
    pub outcome: Option<Outcome>,
    /// Load payloads too (off for listings: they can be 64 KiB each).
    pub with_payload: bool,
    /// Only rows of this configured symbol (ASCII case-insensitive: `sol` finds `SOL`).
    pub symbol: Option<String>,
}

impl Default for RunQuery {
    fn default() -> Self {
        RunQuery {
            limit: 20,
            module: None,
            outcome: None,
            with_payload: false,
            symbol: None,
        }
    }
}

/// The state a sniper process must keep across restarts. Methods are synchronous (SQLite is); async
/// code calls them through [`AsyncStore`].
pub trait StateStore: Send + Sync + 'static {
    /// Append a finished run; returns its id.
    fn save_run(&self, run: &RunRecord) -> Result<i64, StoreError>;
    /// Runs matching `q`, newest first.
    fn runs(&self, q: &RunQuery) -> Result<Vec<RunRecord>, StoreError>;
    /// Replace the breaker snapshot saved under `module` (`<module>` or `<module>:<symbol>`) for
    /// `backend` ([`crate::upstream::Base::key`]).
    fn save_breaker(
        &self,
        backend: &str,
        module: &str,
        snapshot_json: &serde_json::Value,
    ) -> Result<(), StoreError>;
    /// Every breaker snapshot saved for `backend`, ordered by key.
    fn breakers(&self, backend: &str) -> Result<Vec<(String, serde_json::Value)>, StoreError>;
    /// Replace the learned route of `module` for `backend`.
    fn save_route(
        &self,
        backend: &str,
        module: &str,
        route_json: &serde_json::Value,
    ) -> Result<(), StoreError>;
    /// Every route saved for `backend`, ordered by module name.
    fn routes(&self, backend: &str) -> Result<Vec<(String, serde_json::Value)>, StoreError>;
    /// Delete runs that started before `older_than`; returns how many were deleted.
    fn prune(&self, older_than: Timestamp) -> Result<usize, StoreError>;
    // --- Signals (issue 15): every store. ---

    /// In one transaction: save a graded symbol, replace its cooldown state (if delivered) and
    /// enqueue its outbox rows (a key already enqueued is left as it is). Returns the call's id.
    fn record_signal(
        &self,
        call: &SignalRecord,
        state: Option<&SignalStateRow>,
        outbox: &[OutboxRow],
    ) -> Result<i64, StoreError>;
    /// Every cooldown state row, ordered by symbol and direction.
    fn signal_states(&self) -> Result<Vec<SignalStateRow>, StoreError>;
    /// Graded calls matching `q`.
    fn signals(&self, q: &SignalQuery) -> Result<Vec<SignalRecord>, StoreError>;
    /// Claim up to `limit` undelivered outbox rows due at `now_ms` and not claimed by a live lease;
    /// they are leased until `now_ms + lease_ms`. Oldest first. Exclusive across handles: two
    /// processes (replicas) claiming at once never both get the same row; a lease whose holder died
    /// expires at its time and the row is claimed again.
    fn claim_outbox(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError>;
    /// Mark one row delivered at `now_ms`.
    fn mark_delivered(&self, key: &str, channel: &str, now_ms: i64) -> Result<(), StoreError>;
    /// Record a failed attempt: attempts + 1, lease released, due again at `next_attempt_ms`.
    fn mark_failed(
        &self,
        key: &str,
        channel: &str,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<(), StoreError>;
    /// Release the leases a previous life of this process left (at start-up). A private store
    /// (SQLite: one daemon owns the file) releases every lease; a shared store releases only the
    /// leases taken under this replica's id and lets other replicas' leases expire by time.
    fn release_outbox_claims(&self) -> Result<usize, StoreError>;
    /// Every outbox row, oldest first (diagnostics and tests).
    fn outbox(&self) -> Result<Vec<OutboxRow>, StoreError>;

    // --- Price path (issue "Scorecard") and settings (issue "Delivery"): every store. ---

    /// Append price points of `symbol`; a point already kept at the same `at_ms` is replaced.
    fn save_prices(&self, symbol: &str, points: &[PricePoint]) -> Result<(), StoreError>;
    /// Points of `symbol` with `from_ms <= at_ms <= to_ms`, oldest first.
    fn prices(&self, symbol: &str, from_ms: i64, to_ms: i64)
    -> Result<Vec<PricePoint>, StoreError>;
    /// Symbols that have any price point, sorted.
    fn price_symbols(&self) -> Result<Vec<String>, StoreError>;
    /// Delete price points older than `older_than_ms`; returns how many went.
    fn prune_prices(&self, older_than_ms: i64) -> Result<usize, StoreError>;
    /// The value kept under `key`, if any.
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Keep `value` under `key` (replacing it).
    fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Forget `key`; true if it was there.
    fn delete_setting(&self, key: &str) -> Result<bool, StoreError>;
    /// Every `(key, value)` whose key starts with `prefix`, sorted by key.
    fn settings_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError>;

    // --- Replicas (issue 17). A private store (SQLite) answers as the only process. ---

    /// True when several sniper processes share this store (PostgreSQL): the scheduler then aligns
    /// runs to slot boundaries and claims each tick with [`StateStore::claim_tick`].
    fn is_shared(&self) -> bool;

    /// Claim tick `slot` of `job` for `replica`; true if this call won it, false if any replica
    /// (this one included) already holds it. `slot = floor(epoch_ms / interval_ms)`. A private
    /// store has no competitor: always true.
    fn claim_tick(&self, job: &str, slot: i64, replica: &str) -> Result<bool, StoreError>;

    /// Backend-wide facts (a 402's entitlement window, a 429's `Retry-After`) whose `until` is
    /// after `now`, one per `(module, kind)`. A private store shares nothing: empty.
    fn backend_facts(&self, now: Timestamp) -> Result<Vec<BackendFact>, StoreError>;

    /// Record a backend-wide fact; an existing `(module, kind)` keeps the later `until`. A private
    /// store has no one to tell: a no-op.
    fn save_backend_fact(&self, fact: &BackendFact) -> Result<(), StoreError>;

    /// Spend `n` units of `consumer`'s quota for `minute` (`floor(epoch_ms / 60_000)`) if the
    /// minute's total stays `<= limit`; true if spent, false (nothing spent) if it would exceed.
    /// Atomic across replicas on a shared store (one upsert, row-locked). A private store keeps
    /// no quota and answers true: the caller enforces its budget in memory.
    fn try_spend(
        &self,
        consumer: &str,
        minute: i64,
        n: u32,
        limit: u32,
    ) -> Result<bool, StoreError>;
}

/// A fact about the backend that holds for every replica until a time: `kind` is
/// `entitlement` (a 402 / "upgrade plan") or `rate_limited` (a 429, `until` from `Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendFact {
    /// Wire name of the module (`etf`, …).
    pub module: String,
    /// `entitlement` or `rate_limited` (the breaker's open-reason label).
    pub kind: String,
    /// The fact holds before this instant.
    pub until: Timestamp,
}

/// Open the store named by `db`: a `postgres://` or `postgresql://` URL selects the shared
/// [`postgres::PgStore`] (runs recorded under `replica`), anything else is a SQLite path.
/// Options come from the environment ([`StoreOptions::from_env`]); every command that reads the
/// store opens it here, so each takes either kind of `SNIPER_DB`.
pub fn open_store(db: &str, replica: &str) -> Result<Arc<dyn StateStore>, StoreError> {
    open_store_with(db, replica, StoreOptions::from_env()?)
}

/// [`open_store`] with explicit options.
pub fn open_store_with(
    db: &str,
    replica: &str,
    options: StoreOptions,
) -> Result<Arc<dyn StateStore>, StoreError> {
    if postgres::is_postgres_url(db) {
        Ok(Arc::new(postgres::PgStore::open_with(
            db, replica, options,
        )?))
    } else if postgres::is_keyword_value_conninfo(db) {
        Err(StoreError::KeywordValueConninfo(postgres::redact_db(db)))
    } else {
        Ok(Arc::new(SqliteStore::open_with(db, options)?))
    }
}

/// [`open_store_with`] for commands that only read (`history`, `signals`, `replay`, `score`):
/// a SQLite path that does not exist is [`StoreError::NoDatabase`], never a new empty file.
pub fn open_existing_store(
    db: &str,
    replica: &str,
    options: StoreOptions,
) -> Result<Arc<dyn StateStore>, StoreError> {
    let is_file = !postgres::is_postgres_url(db)
        && !postgres::is_keyword_value_conninfo(db)
        && db.trim() != ":memory:"
        && !db.trim_start().starts_with("file:");
    if is_file && !std::path::Path::new(db).exists() {
        return Err(StoreError::NoDatabase(db.to_string()));
    }
    open_store_with(db, replica, options)
}

/// Tunables of [`SqliteStore`].
#[derive(Debug, Clone, PartialEq)]
pub struct StoreOptions {
    /// Payloads whose serialized JSON is longer than this are not stored (the run is flagged).
    pub payload_cap_bytes: usize,
    /// Runs older than this are pruned at open (and by [`retention_task`]).
    pub retention: SignedDuration,
    /// Longest wait for a lock at start-up (PostgreSQL's migration lock or a table another
    /// session holds; SQLite's write lock, also its busy timeout afterwards).
    pub lock_timeout: Duration,
}

/// Environment variable bounding start-up lock waits ([`StoreOptions::lock_timeout`]).
pub const LOCK_TIMEOUT_ENV: &str = "SNIPER_DB_LOCK_TIMEOUT";
/// [`StoreOptions::lock_timeout`] when [`LOCK_TIMEOUT_ENV`] is unset.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            payload_cap_bytes: DEFAULT_PAYLOAD_CAP_BYTES,
            retention: DEFAULT_RETENTION,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }
}

impl StoreOptions {
    /// Defaults, with `lock_timeout` from `SNIPER_DB_LOCK_TIMEOUT` (a duration: `500ms`, `30s`,
    /// `1m`; unset or empty = 30 s). Errors: a [`crate::config::ConfigError`] naming the variable
    /// and the accepted forms.
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        Self::with_lock_timeout(std::env::var(LOCK_TIMEOUT_ENV).ok().as_deref())
    }

    /// Defaults, with `lock_timeout` from `--db-lock-timeout`/`SNIPER_DB_LOCK_TIMEOUT` when given.
    pub fn with_lock_timeout(value: Option<&str>) -> Result<Self, crate::config::ConfigError> {
        let mut o = StoreOptions::default();
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            o.lock_timeout = crate::config::parse_duration(LOCK_TIMEOUT_ENV, v)?;
        }
        Ok(o)
    }
}

/// The default [`StateStore`]: one SQLite connection behind a mutex. One connection is enough —
/// sniper writes a few rows per run — and it is the only way `:memory:` can work at all.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    options: StoreOptions,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The database path from `SNIPER_DB`, or [`DEFAULT_DB_PATH`].
pub fn db_path_from_env() -> String {
    std::env::var(DB_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_DB_PATH.to_string())
}

impl SqliteStore {
    /// Open (creating if needed) the database at `path` with default options, migrate it, and
    /// prune runs older than the default retention. `":memory:"` gives a private in-memory store.
    pub fn open(path: &str) -> Result<Self, StoreError> {
        Self::open_with(path, StoreOptions::default())
    }

    /// [`SqliteStore::open`] with explicit options. Pruning uses the system clock once, here.
    pub fn open_with(path: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_string(),
            source,
        })?;
        conn.busy_timeout(options.lock_timeout)?;
        // WAL: readers never block the writer, and a kill -9 loses nothing committed.
        // An in-memory database answers "memory"; that is fine.
        // Switching a new file to WAL needs the database to itself for a moment; a process
        // opening it at the same instant can get "database is locked" at once (SQLite does not
        // always call the busy handler here), so retry within the busy timeout.
        let started = std::time::Instant::now();
        let mode: String = loop {
            match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if matches!(
                        e.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) && started.elapsed() < options.lock_timeout =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                r => break r?,
            }
        };
        tracing::debug!(path, journal_mode = %mode, "opened state database");
        // NORMAL is durable across process crashes in WAL mode; only power loss can drop the
        // last commits, which for run history is an acceptable trade for not fsyncing every run.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        migrate(&mut conn).map_err(|e| match e {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _))
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                StoreError::LockTimeout {
                    what: format!("the write lock on SQLite file {path:?} (schema migration)"),
                    waited: options.lock_timeout,
                    holders: "another process that has the file open in a write transaction \
                              (SQLite does not say which; `fuser` does)"
                        .into(),
                }
            }
            e => e,
        })?;
        let store = SqliteStore {
            conn: Mutex::new(conn),
            options,
        };
        let cutoff = Timestamp::now() - store.options.retention;
        // Retention at open is a courtesy (the retention task prunes too): a busy database must
        // not fail the start.
        match store.prune(cutoff) {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "pruned runs older than the retention window"),
            Err(e) => {
                tracing::warn!(error = %e, "pruning at open failed; the retention task will retry")
            }
        }
        Ok(store)
    }

    /// Open the database named by `SNIPER_DB` (default `./sniper.db`).
    pub fn open_from_env() -> Result<Self, StoreError> {
        Self::open(&db_path_from_env())
    }

    /// The options this store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.lock()?;
        Ok(user_version(&conn)?)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Bring `conn` to [`SCHEMA_VERSION`] in one write transaction.
///
/// Several processes may open the same new file at once: the transaction is `BEGIN IMMEDIATE`
/// (the write lock is taken first, waiting up to the busy timeout), and `user_version` is re-read
/// inside it, so the second process sees the first one's work and runs nothing twice (it used to
/// fail with "table runs already exists"). A file already at the current version takes no lock.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    if check_version(user_version(conn)?)? == MIGRATIONS.len() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let from = check_version(user_version(&tx)?)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    if from < MIGRATIONS.len() {
        tracing::info!(
            from,
            to = MIGRATIONS.len(),
            "migrated state database schema"
        );
    }
    Ok(())
}

/// `user_version` as an index into [`MIGRATIONS`]; too new or negative is an error.
fn check_version(found: i64) -> Result<usize, StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    usize::try_from(found)
        .map_err(|_| StoreError::Corrupt(format!("negative user_version {found}")))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl StateStore for SqliteStore {
    fn save_run(&self, run: &RunRecord) -> Result<i64, StoreError> {
        let soft_fails = serde_json::to_string(&run.soft_fails)?;
        let (payload, dropped) = match &run.payload {
            None => (None, run.payload_dropped),
            Some(v) => {
                let s = serde_json::to_string(v)?;
                if s.len() > self.options.payload_cap_bytes {
                    tracing::warn!(
                        bytes = s.len(),
                        cap = self.options.payload_cap_bytes,
                        "run payload over the cap; not stored"
                    );
                    (None, true)
                } else {
                    (Some(s), false)
                }
            }
        };
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO runs (at_ms, outcome, success, duration_ms, soft_fails, payload,
                               payload_dropped, sandbox, backend, triggered_by, symbol, run_group)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                run.at.as_millisecond(),
                run.outcome.as_str(),
                run.success,
                to_i64(run.duration_ms),
                soft_fails,
                payload,
                dropped,
                run.sandbox,
                run.backend,
                run.trigger.as_str(),
                run.symbol,
                run.run_group,
            ],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO run_modules (run_id, module, status, code, latency_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for m in &run.modules {
                stmt.execute(params![
                    id,
                    m.module,
                    m.status,
                    m.code,
                    to_i64(m.latency_ms)
                ])?;
            }
        }
        tx.commit()?;
        Ok(id)
    }

    fn runs(&self, q: &RunQuery) -> Result<Vec<RunRecord>, StoreError> {
        let limit = q.limit.min(MAX_RUNS_LIMIT) as i64;
        let conn = self.lock()?;
        // One statement for every filter combination: NULL parameters disable their filter.
        let sql = format!(
            "SELECT {cols} FROM runs
             WHERE (?1 IS NULL OR outcome = ?1)
               AND (?2 IS NULL OR EXISTS (SELECT 1 FROM run_modules m
                                          WHERE m.run_id = runs.id AND m.module = ?2))
               AND (?5 IS NULL OR upper(symbol) = upper(?5))
             ORDER BY at_ms DESC, id DESC
             LIMIT ?3",
            cols = RUN_COLUMNS.replace("payload,", "CASE WHEN ?4 THEN payload END,")
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows: Vec<RawRun> = stmt
            .query_map(
                params![
                    q.outcome.map(Outcome::as_str),
                    q.module,
                    limit,
                    q.with_payload,
                    q.symbol
                ],
                |r| {
                    Ok(RawRun {
                        id: r.get(0)?,
                        at_ms: r.get(1)?,
                        outcome: r.get(2)?,
                        success: r.get(3)?,
                        duration_ms: r.get(4)?,
                        soft_fails: r.get(5)?,
                        payload: r.get(6)?,
                        payload_dropped: r.get(7)?,
                        sandbox: r.get(8)?,
                        backend: r.get(9)?,
                        trigger: r.get(10)?,
                        replica: None,
                        symbol: r.get(11)?,
                        run_group: r.get(12)?,
                    })
                },
            )?
            .collect::<Result<_, _>>()?;
        let mut modules_stmt = conn.prepare_cached(
            "SELECT module, status, code, latency_ms FROM run_modules
             WHERE run_id = ?1 AND (?2 IS NULL OR module = ?2)
             ORDER BY rowid",
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for raw in rows {
            let modules = modules_stmt
                .query_map(params![raw.id, q.module], |r| {
                    Ok(ModuleRecord {
                        module: r.get(0)?,
                        status: r.get(1)?,
                        code: r.get(2)?,
                        latency_ms: to_u64(r.get(3)?),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            out.push(raw.decode(modules)?);
        }
        Ok(out)
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
            "SELECT module, snapshot FROM breakers WHERE backend = ?1 ORDER BY module",
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
            "SELECT module, route FROM routes WHERE backend = ?1 ORDER BY module",
            backend,
        )
    }

    fn prune(&self, older_than: Timestamp) -> Result<usize, StoreError> {
        let conn = self.lock()?;
        // Module rows go with their run (ON DELETE CASCADE, foreign_keys is on).
        let n = conn.execute(
            "DELETE FROM runs WHERE at_ms < ?1",
            params![older_than.as_millisecond()],
        )?;
        // Graded calls go with the runs' retention; finished outbox rows too — delivered, or ended
        // undelivered (gave_up / muted: `next_attempt_ms` = i64::MAX) — while pending ones stay.
        conn.execute(
            "DELETE FROM signal_calls WHERE at_ms < ?1
               AND id NOT IN (SELECT call_id FROM signal_outbox
                              WHERE delivered_ms IS NULL AND next_attempt_ms < ?2)",
            params![older_than.as_millisecond(), i64::MAX],
        )?;
        conn.execute(
            "DELETE FROM signal_outbox WHERE (delivered_ms IS NOT NULL OR next_attempt_ms >= ?2)
               AND created_ms < ?1",
            params![older_than.as_millisecond(), i64::MAX],
        )?;
        Ok(n)
    }

    fn save_prices(&self, symbol: &str, points: &[PricePoint]) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO price_path (symbol, at_ms, mid, spread_bps)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for p in points {
                stmt.execute(params![symbol, p.at_ms, p.mid, p.spread_bps])?;
            }
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
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT at_ms, mid, spread_bps FROM price_path
             WHERE symbol = ?1 AND at_ms >= ?2 AND at_ms <= ?3 ORDER BY at_ms",
        )?;
        let rows = stmt
            .query_map(params![symbol, from_ms, to_ms], |r| {
                Ok(PricePoint {
                    at_ms: r.get(0)?,
                    mid: r.get(1)?,
                    spread_bps: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn price_symbols(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.lock()?;
        let mut stmt =
            conn.prepare_cached("SELECT DISTINCT symbol FROM price_path ORDER BY symbol")?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn prune_prices(&self, older_than_ms: i64) -> Result<usize, StoreError> {
        let conn = self.lock()?;
        Ok(conn.execute(
            "DELETE FROM price_path WHERE at_ms < ?1",
            params![older_than_ms],
        )?)
    }

    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?;
        let mut rows = stmt.query_map([key], |r| r.get::<_, String>(0))?;
        Ok(rows.next().transpose()?)
    }

    fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let conn = self.lock()?;
        conn.prepare_cached(
            "INSERT INTO settings (key, value, updated_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                                             updated_ms = excluded.updated_ms",
        )?
        .execute(params![key, value, Timestamp::now().as_millisecond()])?;
        Ok(())
    }

    fn delete_setting(&self, key: &str) -> Result<bool, StoreError> {
        let conn = self.lock()?;
        Ok(conn.execute("DELETE FROM settings WHERE key = ?1", [key])? > 0)
    }

    fn settings_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.lock()?;
        // substr rather than LIKE: a prefix may contain % or _.
        let mut stmt = conn.prepare_cached(
            "SELECT key, value FROM settings WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
        )?;
        let rows = stmt
            .query_map([prefix], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn is_shared(&self) -> bool {
        false
    }

    fn claim_tick(&self, _job: &str, _slot: i64, _replica: &str) -> Result<bool, StoreError> {
        Ok(true)
    }

    fn backend_facts(&self, _now: Timestamp) -> Result<Vec<BackendFact>, StoreError> {
        Ok(Vec::new())
    }

    fn save_backend_fact(&self, _fact: &BackendFact) -> Result<(), StoreError> {
        Ok(())
    }

    fn try_spend(
        &self,
        _consumer: &str,
        _minute: i64,
        _n: u32,
        _limit: u32,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }

    fn record_signal(
        &self,
        call: &SignalRecord,
        state: Option<&SignalStateRow>,
        outbox: &[OutboxRow],
    ) -> Result<i64, StoreError> {
        let call_json = serde_json::to_string(&call.call)?;
        let features_json = serde_json::to_string(&call.features)?;
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO signal_calls (symbol, at_ms, level, direction, score, reason, call, features)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                call.symbol,
                call.at.as_millisecond(),
                call.level,
                call.direction,
                call.score,
                call.reason,
                call_json,
                features_json
            ],
        )?;
        let id = tx.last_insert_rowid();
        if let Some(st) = state {
            tx.execute(
                "INSERT INTO signal_state (symbol, direction, level, score, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (symbol, direction) DO UPDATE SET level = excluded.level,
                     score = excluded.score, at_ms = excluded.at_ms",
                params![st.symbol, st.direction, st.level, st.score, st.at_ms],
            )?;
        }
        for o in outbox {
            tx.execute(
                "INSERT OR IGNORE INTO signal_outbox (key, channel, call_id, body, created_ms,
                     attempts, next_attempt_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                params![
                    o.key,
                    o.channel,
                    id,
                    serde_json::to_string(&o.body)?,
                    o.created_ms,
                    o.next_attempt_ms
                ],
            )?;
        }
        tx.commit()?;
        Ok(id)
    }

    fn signal_states(&self) -> Result<Vec<SignalStateRow>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT symbol, direction, level, score, at_ms FROM signal_state ORDER BY symbol, direction",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SignalStateRow {
                    symbol: r.get(0)?,
                    direction: r.get(1)?,
                    level: r.get(2)?,
                    score: r.get(3)?,
                    at_ms: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn signals(&self, q: &SignalQuery) -> Result<Vec<SignalRecord>, StoreError> {
        let limit = q.limit.clamp(1, MAX_RUNS_LIMIT * 100) as i64;
        let conn = self.lock()?;
        let sql = format!(
            "SELECT id, symbol, at_ms, level, direction, score, reason, call, features
             FROM signal_calls
             WHERE (?1 IS NULL OR upper(symbol) = upper(?1)) AND (?2 IS NULL OR at_ms >= ?2)
               AND (NOT ?3 OR level != 'none') AND (NOT ?5 OR reason IS NOT NULL)
             ORDER BY at_ms {o}, id {o} LIMIT ?4",
            o = if q.ascending { "ASC" } else { "DESC" }
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        type Row = (
            i64,
            String,
            i64,
            String,
            String,
            u32,
            Option<String>,
            String,
            String,
        );
        let rows: Vec<Row> = stmt
            .query_map(
                params![
                    q.symbol,
                    q.since.map(|t| t.as_millisecond()),
                    q.calls_only,
                    limit,
                    q.made_only
                ],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                    ))
                },
            )?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(
                |(id, symbol, at_ms, level, direction, score, reason, call, features)| {
                    signal_record(
                        id, symbol, at_ms, level, direction, score, reason, &call, &features,
                    )
                },
            )
            .collect()
    }

    fn claim_outbox(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let mut conn = self.lock()?;
        // IMMEDIATE: the write lock is taken before the read, so two handles on one file (two
        // processes) serialise here and never lease the same row.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let rows = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM signal_outbox
                 WHERE delivered_ms IS NULL AND next_attempt_ms <= ?1
                   AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?1)
                 ORDER BY created_ms, key, channel LIMIT ?2"
            ))?;
            stmt.query_map(params![now_ms, limit as i64], outbox_row)?
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .collect::<Result<Vec<OutboxRow>, StoreError>>()?
        };
        for o in &rows {
            tx.execute(
                "UPDATE signal_outbox SET claimed_until_ms = ?3 WHERE key = ?1 AND channel = ?2",
                params![o.key, o.channel, now_ms.saturating_add(lease_ms)],
            )?;
        }
        tx.commit()?;
        Ok(rows)
    }

    fn mark_delivered(&self, key: &str, channel: &str, now_ms: i64) -> Result<(), StoreError> {
        let conn = self.lock()?;
        conn.execute(
            "UPDATE signal_outbox SET delivered_ms = ?3, attempts = attempts + 1,
                 claimed_until_ms = NULL, last_error = NULL
             WHERE key = ?1 AND channel = ?2",
            params![key, channel, now_ms],
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
        let conn = self.lock()?;
        conn.execute(
            "UPDATE signal_outbox SET attempts = attempts + 1, claimed_until_ms = NULL,
                 next_attempt_ms = ?3, last_error = ?4
             WHERE key = ?1 AND channel = ?2",
            params![key, channel, next_attempt_ms, error],
        )?;
        Ok(())
    }

    fn release_outbox_claims(&self) -> Result<usize, StoreError> {
        let conn = self.lock()?;
        Ok(conn.execute(
            "UPDATE signal_outbox SET claimed_until_ms = NULL
             WHERE claimed_until_ms IS NOT NULL AND delivered_ms IS NULL",
            [],
        )?)
    }

    fn outbox(&self) -> Result<Vec<OutboxRow>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM signal_outbox ORDER BY created_ms, key, channel"
        ))?;
        let rows = stmt
            .query_map([], outbox_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().collect()
    }
}

const OUTBOX_COLUMNS: &str = "key, channel, call_id, body, attempts, created_ms, next_attempt_ms, \
     delivered_ms, last_error";

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<OutboxRow, StoreError>> {
    let body: String = r.get(3)?;
    let body = match serde_json::from_str(&body) {
        Ok(b) => b,
        Err(e) => return Ok(Err(StoreError::Json(e))),
    };
    Ok(Ok(OutboxRow {
        key: r.get(0)?,
        channel: r.get(1)?,
        call_id: r.get(2)?,
        body,
        attempts: r.get(4)?,
        created_ms: r.get(5)?,
        next_attempt_ms: r.get(6)?,
        delivered_ms: r.get(7)?,
        last_error: r.get(8)?,
    }))
}

impl SqliteStore {
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
        let conn = self.lock()?;
        let sql = format!(
            "INSERT INTO {table} (backend, module, {column}, updated_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (backend, module) DO UPDATE SET {column} = excluded.{column},
                                                         updated_ms = excluded.updated_ms"
        );
        conn.prepare_cached(&sql)?.execute(params![
            backend,
            module,
            text,
            Timestamp::now().as_millisecond()
        ])?;
        Ok(())
    }

    fn list_kv(
        &self,
        sql: &'static str,
        backend: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt
            .query_map([backend], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(m, s)| Ok((m, serde_json::from_str(&s)?)))
            .collect()
    }
}

/// A cloneable, async face of any [`StateStore`]: each call runs on tokio's blocking pool, so a slow
/// disk never stalls the scheduler or the HTTP server.
#[derive(Clone)]
pub struct AsyncStore(pub Arc<dyn StateStore>);

impl fmt::Debug for AsyncStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsyncStore")
    }
}

impl AsyncStore {
    /// Wrap a store.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        AsyncStore(store)
    }

    /// The synchronous store (for start-up code and the CLI, which are not on the runtime).
    pub fn inner(&self) -> &Arc<dyn StateStore> {
        &self.0
    }

    async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn StateStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// See [`StateStore::save_run`].
    pub async fn save_run(&self, run: RunRecord) -> Result<i64, StoreError> {
        self.call(move |s| s.save_run(&run)).await
    }

    /// See [`StateStore::runs`].
    pub async fn runs(&self, q: RunQuery) -> Result<Vec<RunRecord>, StoreError> {
        self.call(move |s| s.runs(&q)).await
    }

    /// See [`StateStore::save_breaker`].
    pub async fn save_breaker(
        &self,
        backend: String,
        module: String,
        snapshot_json: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.call(move |s| s.save_breaker(&backend, &module, &snapshot_json))
            .await
    }

    /// See [`StateStore::breakers`].
    pub async fn breakers(
        &self,
        backend: String,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        self.call(move |s| s.breakers(&backend)).await
    }

    /// See [`StateStore::save_route`].
    pub async fn save_route(
        &self,
        backend: String,
        module: String,
        route_json: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.call(move |s| s.save_route(&backend, &module, &route_json))
            .await
    }

    /// See [`StateStore::routes`].
    pub async fn routes(
        &self,
        backend: String,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        self.call(move |s| s.routes(&backend)).await
    }

    /// See [`StateStore::prune`].
    pub async fn prune(&self, older_than: Timestamp) -> Result<usize, StoreError> {
        self.call(move |s| s.prune(older_than)).await
    }

    /// See [`StateStore::record_signal`].
    pub async fn record_signal(
        &self,
        call: SignalRecord,
        state: Option<SignalStateRow>,
        outbox: Vec<OutboxRow>,
    ) -> Result<i64, StoreError> {
        self.call(move |s| s.record_signal(&call, state.as_ref(), &outbox))
            .await
    }

    /// See [`StateStore::signal_states`].
    pub async fn signal_states(&self) -> Result<Vec<SignalStateRow>, StoreError> {
        self.call(|s| s.signal_states()).await
    }

    /// See [`StateStore::signals`].
    pub async fn signals(&self, q: SignalQuery) -> Result<Vec<SignalRecord>, StoreError> {
        self.call(move |s| s.signals(&q)).await
    }

    /// See [`StateStore::claim_outbox`].
    pub async fn claim_outbox(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.call(move |s| s.claim_outbox(now_ms, lease_ms, limit))
            .await
    }

    /// See [`StateStore::mark_delivered`].
    pub async fn mark_delivered(
        &self,
        key: String,
        channel: String,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.call(move |s| s.mark_delivered(&key, &channel, now_ms))
            .await
    }

    /// See [`StateStore::mark_failed`].
    pub async fn mark_failed(
        &self,
        key: String,
        channel: String,
        next_attempt_ms: i64,
        error: String,
    ) -> Result<(), StoreError> {
        self.call(move |s| s.mark_failed(&key, &channel, next_attempt_ms, &error))
            .await
    }

    /// See [`StateStore::release_outbox_claims`].
    pub async fn release_outbox_claims(&self) -> Result<usize, StoreError> {
        self.call(|s| s.release_outbox_claims()).await
    }

    /// See [`StateStore::outbox`].
    pub async fn outbox(&self) -> Result<Vec<OutboxRow>, StoreError> {
        self.call(|s| s.outbox()).await
    }
    /// See [`StateStore::save_prices`].
    pub async fn save_prices(
        &self,
        symbol: String,
        points: Vec<PricePoint>,
    ) -> Result<(), StoreError> {
        self.call(move |s| s.save_prices(&symbol, &points)).await
    }

    /// See [`StateStore::prices`].
    pub async fn prices(
        &self,
        symbol: String,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<PricePoint>, StoreError> {
        self.call(move |s| s.prices(&symbol, from_ms, to_ms)).await
    }

    /// See [`StateStore::price_symbols`].
    pub async fn price_symbols(&self) -> Result<Vec<String>, StoreError> {
        self.call(|s| s.price_symbols()).await
    }

    /// See [`StateStore::prune_prices`].
    pub async fn prune_prices(&self, older_than_ms: i64) -> Result<usize, StoreError> {
        self.call(move |s| s.prune_prices(older_than_ms)).await
    }

    /// See [`StateStore::setting`].
    pub async fn setting(&self, key: String) -> Result<Option<String>, StoreError> {
        self.call(move |s| s.setting(&key)).await
    }

    /// See [`StateStore::put_setting`].
    pub async fn put_setting(&self, key: String, value: String) -> Result<(), StoreError> {
        self.call(move |s| s.put_setting(&key, &value)).await
    }

    /// See [`StateStore::delete_setting`].
    pub async fn delete_setting(&self, key: String) -> Result<bool, StoreError> {
        self.call(move |s| s.delete_setting(&key)).await
    }

    /// See [`StateStore::settings_with_prefix`].
    pub async fn settings_with_prefix(
        &self,
        prefix: String,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.call(move |s| s.settings_with_prefix(&prefix)).await
    }

    /// See [`StateStore::is_shared`] (no I/O).
    pub fn is_shared(&self) -> bool {
        self.0.is_shared()
    }

    /// See [`StateStore::claim_tick`].
    pub async fn claim_tick(
        &self,
        job: &'static str,
        slot: i64,
        replica: Arc<str>,
    ) -> Result<bool, StoreError> {
        self.call(move |s| s.claim_tick(job, slot, &replica)).await
    }

    /// See [`StateStore::backend_facts`].
    pub async fn backend_facts(&self, now: Timestamp) -> Result<Vec<BackendFact>, StoreError> {
        self.call(move |s| s.backend_facts(now)).await
    }

    /// See [`StateStore::save_backend_fact`].
    pub async fn save_backend_fact(&self, fact: BackendFact) -> Result<(), StoreError> {
        self.call(move |s| s.save_backend_fact(&fact)).await
    }

    /// See [`StateStore::try_spend`].
    pub async fn try_spend(
        &self,
        consumer: String,
        minute: i64,
        n: u32,
        limit: u32,
    ) -> Result<bool, StoreError> {
        self.call(move |s| s.try_spend(&consumer, minute, n, limit))
            .await
    }
}

/// What the retention task keeps: runs (with their module rows, graded calls and finished
/// deliveries) for `runs`, the scorecard's price path for `prices`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    /// Runs older than this are pruned ([`StateStore::prune`]); default [`DEFAULT_RETENTION`].
    pub runs: SignedDuration,
    /// Price points older than this are pruned ([`StateStore::prune_prices`]; default 90 days,
    /// `SNIPER_PRICE_RETENTION`: long enough to score calls).
    pub prices: SignedDuration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            runs: DEFAULT_RETENTION,
            prices: DEFAULT_PRICE_RETENTION,
        }
    }
}

/// Prune what is older than `retention` every `interval` until `shutdown` completes (the first
/// prune at once). Errors are logged, not fatal: a failed prune only means the tables stay a
/// little larger until the next. Spawn it once from `sniper serve`, handing it the server's
/// shutdown signal. On a shared store only the chores owner prunes.
pub async fn retention_task(
    store: AsyncStore,
    retention: Retention,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticker.tick() => {
                let now = Timestamp::now();
                match store.prune(now - retention.runs).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(pruned = n, "pruned old runs"),
                    Err(e) => tracing::warn!(error = %e, "pruning old runs failed"),
                }
                match store.prune_prices((now - retention.prices).as_millisecond()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(pruned = n, "pruned old price points"),
                    Err(e) => tracing::warn!(error = %e, "pruning old price points failed"),
                }
            }
        }
    }
}

/// `sniper history`: print recent runs.
#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    /// How many runs to show, newest first.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub limit: u16,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only this configured symbol's rows (`SOL`; any case).
    #[arg(long)]
    pub symbol: Option<String>,
}

/// Print the latest rows (one per run and symbol) from `store` to `out`: an aligned table, or
/// JSON lines with `--json`; `--symbol` keeps one symbol's rows.
pub fn run_history_cli(
    store: &dyn StateStore,
    args: &HistoryArgs,
    out: &mut dyn Write,
) -> Result<(), StoreError> {
    let runs = store.runs(&RunQuery {
        limit: usize::from(args.limit),
        symbol: args
            .symbol
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        ..RunQuery::default()
    })?;
    if args.json {
        for run in &runs {
            serde_json::to_writer(&mut *out, run)?;
            out.write_all(b"\n")?;
        }
        return Ok(());
    }
    if runs.is_empty() {
        writeln!(out, "no runs recorded yet")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:>6}  {:<20}  {:<10}  {:<8}  {:>8}  {:<7}  {:<32}  SOFT FAILS",
        "ID", "AT (UTC)", "SYMBOL", "OUTCOME", "DURATION", "MODULES", "BACKEND"
    )?;
    for run in &runs {
        let ok = run.modules.iter().filter(|m| m.status == "ok").count();
        let at = run.at.strftime("%Y-%m-%d %H:%M:%SZ").to_string();
        let soft = if run.soft_fails.is_empty() {
            "-".to_string()
        } else {
            run.soft_fails.join(",")
        };
        writeln!(
            out,
            "{:>6}  {:<20}  {:<10}  {:<8}  {:>6}ms  {:<7}  {:<32}  {}{}{}",
            run.id.unwrap_or_default(),
            at,
            run.symbol.as_deref().unwrap_or("-"),
            run.outcome,
            run.duration_ms,
            format!("{ok}/{} ok", run.modules.len()),
            run.backend.as_deref().unwrap_or("-"),
            soft,
            if run.sandbox { "  [sandbox]" } else { "" },
            // Scheduled runs read as before; the others say who started them.
            match run.trigger {
                Trigger::Schedule => String::new(),
                t => format!("  [{}]", t.as_str()),
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        assert_eq!(Outcome::parse("ok"), None);
    }

    #[test]
    fn migrations_are_numbered_by_position() {
        assert_eq!(SCHEMA_VERSION, MIGRATIONS.len() as i64);
        let conn = Connection::open_in_memory().unwrap();
        let mut conn = conn;
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        // Running again is a no-op, not a "table already exists" error.
        migrate(&mut conn).unwrap();
    }

    #[test]
    fn newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(StoreError::SchemaTooNew { found, .. }) if found == SCHEMA_VERSION + 1
        ));
    }
}
