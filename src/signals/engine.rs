//! After each run: grade every symbol, decide delivery, and write the graded call, the cooldown
//! state and the outbox rows in one store transaction, so a crash between grading and delivery
//! neither loses nor repeats a call (the worker in [`super::delivery`] sends what is pending).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::Notify;

use crate::market::{Direction, MarketData, SymbolFeatures};
use crate::module_id::ModuleId;
use crate::obs::metrics::{Metrics, SignalLevel};
use crate::run::runner::RunResult;
use crate::store::{AsyncStore, OutboxRow, SignalRecord, SignalStateRow, StoreError};

use super::grade::{Call, Level, dir_str, grade};
use super::rules::Rules;
use super::state::{LastDelivered, Reason, decide};

/// The latest of one symbol, for the page and `/api/market/latest`.
#[derive(Debug, Clone, Serialize)]
pub struct LatestSymbol {
    /// The symbol as configured.
    pub symbol: String,
    /// The run's timestamp.
    pub timestamp: Timestamp,
    /// Sandbox data.
    pub sandbox: bool,
    /// The run's usable market data.
    pub market: BTreeMap<ModuleId, MarketData>,
    /// Its features.
    pub features: SymbolFeatures,
    /// The series the page draws.
    pub charts: super::charts::Charts,
    /// The call graded from them.
    pub call: Call,
    /// Set when this call was delivered (enqueued).
    pub reason: Option<Reason>,
    /// The last delivered call of this symbol (any run), if any.
    pub last_delivered: Option<DeliveredCall>,
}

/// A delivered call, short form.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveredCall {
    /// `long`/`short`.
    pub direction: String,
    /// `watch`/`action`.
    pub level: String,
    /// 0–100.
    pub score: u32,
    /// Graded at.
    pub at: Timestamp,
}

/// The body of a delivery (webhook JSON; Telegram gets `text`).
#[derive(Debug, Clone, Serialize)]
pub struct SignalMessage {
    /// Always `sniper`.
    pub source: &'static str,
    /// Always `signal`.
    pub kind: &'static str,
    /// The idempotency key (also the `Idempotency-Key` header).
    pub key: String,
    /// Symbol.
    pub symbol: String,
    /// `long`/`short`.
    pub direction: String,
    /// `watch`/`action`.
    pub level: String,
    /// 0–100.
    pub score: u32,
    /// Mid price when known.
    pub price: Option<f64>,
    /// Why delivered.
    pub reason: Reason,
    /// The run's timestamp.
    pub at: Timestamp,
    /// Sandbox data (not real).
    pub sandbox: bool,
    /// Every layer's grade and numbers.
    pub layers: Vec<super::grade::LayerGrade>,
    /// The human text (Telegram); ends with the track record line when there is one.
    pub text: String,
}

/// How long a track-record scorecard is reused before it is scored again (run time).
pub const TRACK_TTL_MS: i64 = 5 * 60_000;
/// How far back the track record looks (30 days).
pub const TRACK_SPAN_MS: i64 = 30 * 86_400_000;

/// The human text of a call.
pub fn message_text(symbol: &str, call: &Call, reason: Reason, sandbox: bool) -> String {
    let arrow = match call.direction {
        Direction::Long => "🟢",
        Direction::Short => "🔴",
        Direction::Neutral => "⚪",
    };
    let mut s = format!(
        "{}{arrow} {symbol} {} — {} (score {}, {})",
        if sandbox { "[SANDBOX] " } else { "" },
        dir_str(call.direction).to_uppercase(),
        call.level.as_str().to_uppercase(),
        call.score,
        reason.as_str()
    );
    if let Some(p) = call.mid {
        s.push_str(&format!("\nprice {}", crate::numfmt::price(p)));
    }
    for l in &call.layers {
        // A layer with no signal says so in words, not "none none".
        let verdict = if l.level == crate::signals::Level::None {
            "no signal".to_string()
        } else {
            format!("{} {}", l.level.as_str(), dir_str(l.direction))
        };
        s.push_str(&format!("\n{}: {verdict} — {}", l.layer.as_str(), l.detail));
    }
    s
}

/// Grades runs and enqueues deliveries. Shared by the daemon's run hook, the worker and the API.
pub struct SignalEngine {
    rules: Rules,
    channels: Vec<&'static str>,
    store: AsyncStore,
    metrics: Option<Arc<Metrics>>,
    state: Mutex<BTreeMap<(String, String), LastDelivered>>,
    latest: RwLock<BTreeMap<String, LatestSymbol>>,
    /// The scorecard behind the track records: (scored at run ms, card).
    track: Mutex<Option<(i64, Arc<crate::score::Scorecard>)>>,
    /// How the track record is scored (horizons, cost).
    score_opts: RwLock<crate::score::cli::ScoreOpts>,
    /// Woken after each enqueue.
    pub notify: Arc<Notify>,
}

impl SignalEngine {
    /// An engine over `store` (its cooldown state is loaded from it). `channels` are the
    /// configured delivery channels (`webhook`, `telegram`); with none, calls are graded and kept
    /// but nothing is enqueued.
    pub async fn new(
        rules: Rules,
        channels: Vec<&'static str>,
        store: AsyncStore,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Arc<SignalEngine>, StoreError> {
        let mut state = BTreeMap::new();
        for row in store.signal_states().await? {
            let (Some(level), Ok(at)) = (
                Level::parse(&row.level),
                Timestamp::from_millisecond(row.at_ms),
            ) else {
                continue;
            };
            state.insert(
                (row.symbol, row.direction),
                LastDelivered {
                    level,
                    score: row.score,
                    at,
                },
            );
        }
        Ok(Arc::new(SignalEngine {
            rules,
            channels,
            store,
            metrics,
            state: Mutex::new(state),
            latest: RwLock::new(BTreeMap::new()),
            track: Mutex::new(None),
            score_opts: RwLock::new(crate::score::cli::ScoreOpts::default()),
            notify: Arc::new(Notify::new()),
        }))
    }

    /// Score track records with these options (`SNIPER_SCORE_HORIZONS`, `SNIPER_SCORE_COST_BPS`).
    pub fn set_score_opts(&self, opts: crate::score::cli::ScoreOpts) {
        *self.score_opts.write().unwrap_or_else(|e| e.into_inner()) = opts;
        *self.track.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The scoring options of the track records (also `/api/scorecard`'s).
    pub fn score_opts(&self) -> crate::score::cli::ScoreOpts {
        self.score_opts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The scorecard of the stored calls of the last 30 days before `at_ms` on the stored price
    /// path, as known at `at_ms` (nothing later); re-scored at most every [`TRACK_TTL_MS`].
    /// `None` when scoring failed (logged).
    pub async fn track_card(&self, at_ms: i64) -> Option<Arc<crate::score::Scorecard>> {
        if let Some((t, c)) = self
            .track
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            && (0..TRACK_TTL_MS).contains(&(at_ms - t))
        {
            return Some(c.clone());
        }
        let opts = self
            .score_opts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .options(at_ms);
        let opts = match opts {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "track record: bad scoring options");
                return None;
            }
        };
        let store = self.store.inner().clone();
        let res = tokio::task::spawn_blocking(move || {
            crate::score::cli::score_store(
                store.as_ref(),
                None,
                at_ms - TRACK_SPAN_MS,
                false,
                opts,
                None,
            )
        })
        .await;
        match res {
            Ok(Ok((card, _))) => {
                if let Some(m) = &self.metrics {
                    for g in card.groups.iter().filter(|g| g.by == "level_direction") {
                        let mut parts = g.key.splitn(2, ' ');
                        let (Some(level), Some(dir)) = (parts.next(), parts.next()) else {
                            continue;
                        };
                        for (h, s) in &g.horizons {
                            m.set_score(level, dir, h, s.n, s.hit_rate, s.ci95);
                        }
                    }
                }
                let card = Arc::new(card);
                *self.track.lock().unwrap_or_else(|e| e.into_inner()) = Some((at_ms, card.clone()));
                Some(card)
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "track record: scoring failed");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "track record: scoring task failed");
                None
            }
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The latest graded symbols.
    pub fn latest(&self) -> Vec<LatestSymbol> {
        self.latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Grade and record every result; store errors are logged (the run is not failed by them).
    pub async fn after_run(&self, results: &[RunResult]) {
        for r in results {
            if let Err(e) = self.one(r).await {
                tracing::warn!(symbol = %r.symbols.input, error = %e, "cannot record the signal");
            }
        }
        self.notify.notify_one();
        // Keep the scorecard gauges current whether or not a call went out (re-scored at most
        // every TRACK_TTL_MS; the cached card serves the runs in between).
        if self.metrics.is_some()
            && let Some(at) = results.iter().map(|r| r.timestamp).max()
        {
            let _ = self.track_card(at.as_millisecond()).await;
        }
    }

    async fn one(&self, r: &RunResult) -> Result<(), StoreError> {
        let (market, features) = crate::run::input::market_of(r);
        let call = grade(&features, &self.rules);
        let symbol = r.symbols.input.clone();
        let dir = dir_str(call.direction).to_string();
        let key = (symbol.clone(), dir.clone());
        let reason = {
            let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            decide(st.get(&key), &call, r.timestamp, &self.rules)
        };
        let at_ms = r.timestamp.as_millisecond();
        let mut outbox = Vec::new();
        let mut state_row = None;
        if let Some(reason) = reason {
            let idem = super::idempotency_key(&symbol, &dir, call.level.as_str(), at_ms);
            let track_record = self.track_card(at_ms).await.map(|card| {
                let mut card = (*card).clone();
                card.sandbox |= r.sandbox;
                crate::score::track::track_record(&card, call.level.as_str(), &dir)
            });
            let mut text = message_text(&symbol, &call, reason, r.sandbox);
            if let Some(t) = &track_record {
                text.push_str(&format!("\ntrack record: {}", t.text));
            }
            let msg = SignalMessage {
                source: "sniper",
                kind: "signal",
                key: idem.clone(),
                symbol: symbol.clone(),
                direction: dir.clone(),
                level: call.level.as_str().into(),
                score: call.score,
                price: call.mid,
                reason,
                at: r.timestamp,
                sandbox: r.sandbox,
                layers: call.layers.clone(),
                text,
            };
            let mut body = serde_json::to_value(&msg)?;
            // How calls of this kind did so far (issue 23): `track_record` in the webhook JSON.
            if let (Some(t), Some(obj)) = (&track_record, body.as_object_mut()) {
                obj.insert("track_record".into(), serde_json::to_value(t)?);
            }
            for ch in &self.channels {
                outbox.push(OutboxRow {
                    key: idem.clone(),
                    channel: (*ch).to_string(),
                    call_id: 0,
                    body: body.clone(),
                    attempts: 0,
                    created_ms: at_ms,
                    next_attempt_ms: at_ms,
                    delivered_ms: None,
                    last_error: None,
                });
            }
            state_row = Some(SignalStateRow {
                symbol: symbol.clone(),
                direction: dir.clone(),
                level: call.level.as_str().into(),
                score: call.score,
                at_ms,
            });
        }
        let rec = SignalRecord {
            id: None,
            symbol: symbol.clone(),
            at: r.timestamp,
            level: call.level.as_str().into(),
            direction: dir.clone(),
            score: call.score,
            reason: reason.map(|x| x.as_str().to_string()),
            call: serde_json::to_value(&call)?,
            features: serde_json::to_value(&features)?,
        };
        self.store.record_signal(rec, state_row, outbox).await?;
        if reason.is_some() {
            self.state.lock().unwrap_or_else(|e| e.into_inner()).insert(
                key,
                LastDelivered {
                    level: call.level,
                    score: call.score,
                    at: r.timestamp,
                },
            );
            let level = match call.level {
                Level::Watch => Some(SignalLevel::Watch),
                Level::Action => Some(SignalLevel::Action),
                Level::None => None,
            };
            if let (Some(m), Some(level)) = (&self.metrics, level) {
                m.record_signal(level, call.direction);
            }
            tracing::info!(symbol = %symbol, direction = %dir, level = call.level.as_str(), score = call.score, "signal");
        }
        let last_delivered = {
            let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.iter()
                .filter(|((s, _), _)| *s == symbol)
                .max_by_key(|(_, l)| l.at)
                .map(|((_, d), l)| DeliveredCall {
                    direction: d.clone(),
                    level: l.level.as_str().into(),
                    score: l.score,
                    at: l.at,
                })
        };
        let base = crate::symbol::forms(&symbol)
            .map(|f| f.base)
            .unwrap_or_else(|_| symbol.to_uppercase());
        let charts = super::charts::charts(&market, &base);
        let latest = LatestSymbol {
            charts,
            symbol: symbol.clone(),
            timestamp: r.timestamp,
            sandbox: r.sandbox,
            market,
            features,
            call,
            reason,
            last_delivered,
        };
        self.latest
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(symbol, latest);
        Ok(())
    }
}
