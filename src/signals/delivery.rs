//! Signal delivery: the outbox worker. The only network IO of the signals layer.
//!
//! Claims due outbox rows and sends each to its channel through the one client of
//! [`crate::notify`] — the JSON webhook (`SIGNAL_WEBHOOK_URL`, header `Idempotency-Key`) or
//! Telegram's `sendMessage` in the signal chat — with the rules of issue 24 in
//! [`crate::notify::classify`]: a `429` waits its `retry_after` (the row is due again exactly
//! then, and the bot makes no call meanwhile), a migrated chat is followed, a permanent 4xx or a
//! 30x redirect is given up after a bounded number of attempts, transient failures back off.
//!
//! States of a delivery ([`DeliveryState`], shown in `/api/signals`, on the page and in
//! `sniper signals`), from the outbox's columns only:
//!
//! | state | `delivered_ms` | `next_attempt_ms` | `last_error` |
//! |---|---|---|---|
//! | `pending` | null | due time | null |
//! | `failed` (retry scheduled) | null | due time | the reason |
//! | `delivered` | set | – | null |
//! | `gave_up` | null | [`NEVER_MS`] | `gave_up: <reason>` |
//! | `muted` | null | [`NEVER_MS`] | `muted: <why>` |
//!
//! Rows survive restarts; a restarted worker resends undelivered rows with the same key.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::{Notify, watch};

use crate::notify::{
    Failure, Next, NotifyLevel, NotifyPrefs, SendOptions, TelegramBot, WebhookClient, next_step,
    no_redirect_client,
};
use crate::obs::metrics::{AlertChannel, DeliveryResult, Metrics};
use crate::store::{AsyncStore, OutboxRow};

pub use crate::notify::classify::{BASE_BACKOFF, MAX_BACKOFF, backoff};

/// Default timeout of one delivery.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the worker looks for due rows when not woken.
pub const POLL: Duration = Duration::from_secs(1);
/// `next_attempt_ms` of a row that will never be attempted again (given up or muted).
pub const NEVER_MS: i64 = i64::MAX;
/// `last_error` prefix of a given-up row.
pub const GAVE_UP: &str = "gave_up: ";
/// `last_error` prefix of a muted row.
pub const MUTED: &str = "muted: ";
/// Settings key prefix of a split message's progress: `telegram.parts_sent.<key>` = parts out.
pub const PARTS_PREFIX: &str = "telegram.parts_sent.";

/// Signal settings from flags/environment (flattened into `serve`/`demo`).
#[derive(Debug, Clone, clap::Args)]
pub struct SignalArgs {
    /// Rules file (TOML) for grading and delivery; unset = compiled-in defaults (`sniper rules`).
    #[arg(long = "rules", env = "SNIPER_RULES")]
    pub rules: Option<String>,
    /// Webhook receiving each signal call as JSON (header Idempotency-Key).
    #[arg(long, env = "SIGNAL_WEBHOOK_URL")]
    pub signal_webhook_url: Option<String>,
    /// Telegram chat for signal calls (numeric or @channel).
    #[arg(long, env = "TELEGRAM_SIGNAL_CHAT_ID")]
    pub telegram_signal_chat_id: Option<String>,
    /// Bot token for the signal chat; default TELEGRAM_BOT_TOKEN.
    #[arg(long, env = "TELEGRAM_SIGNAL_BOT_TOKEN", hide_env_values = true)]
    pub telegram_signal_bot_token: Option<String>,
}

/// Why the signal settings were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignalConfigError {
    /// Not an http(s) URL.
    #[error("{var}={value:?} is not an http(s) URL")]
    BadUrl {
        /// The variable.
        var: &'static str,
        /// The value.
        value: String,
    },
    /// A signal chat without any bot token.
    #[error(
        "TELEGRAM_SIGNAL_CHAT_ID is set but neither TELEGRAM_SIGNAL_BOT_TOKEN nor TELEGRAM_BOT_TOKEN is"
    )]
    NoToken,
}

/// Telegram signal destination; `Debug` redacts the token.
#[derive(Clone)]
pub struct TelegramSignal {
    /// API origin without trailing slash.
    pub api_base: String,
    /// Bot token (secret).
    pub token: String,
    /// Chat id.
    pub chat_id: String,
}

impl fmt::Debug for TelegramSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramSignal")
            .field("api_base", &self.api_base)
            .field("token", &"<redacted>")
            .field("chat_id", &self.chat_id)
            .finish()
    }
}

/// Validated delivery settings.
#[derive(Debug, Clone, Default)]
pub struct SignalConfig {
    /// Webhook.
    pub webhook: Option<url::Url>,
    /// Telegram.
    pub telegram: Option<TelegramSignal>,
}

impl SignalConfig {
    /// The configured channels' names (`webhook`, `telegram`), the outbox's `channel` values.
    pub fn channels(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.webhook.is_some() {
            v.push(AlertChannel::Webhook.as_str());
        }
        if self.telegram.is_some() {
            v.push(AlertChannel::Telegram.as_str());
        }
        v
    }
}

fn http_url(var: &'static str, value: &str) -> Result<url::Url, SignalConfigError> {
    let bad = || SignalConfigError::BadUrl {
        var,
        value: value.to_string(),
    };
    let url = url::Url::parse(value.trim()).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(bad());
    }
    Ok(url)
}

impl SignalArgs {
    /// Validate; `alert_token` and `api_base` are `TELEGRAM_BOT_TOKEN` and `TELEGRAM_API_BASE`.
    /// Blank values count as unset.
    pub fn into_config(
        &self,
        alert_token: Option<&str>,
        api_base: &str,
    ) -> Result<SignalConfig, SignalConfigError> {
        let ne = |s: Option<&str>| s.map(str::trim).filter(|v| !v.is_empty()).map(String::from);
        let webhook = ne(self.signal_webhook_url.as_deref())
            .map(|u| http_url("SIGNAL_WEBHOOK_URL", &u))
            .transpose()?;
        let telegram = match ne(self.telegram_signal_chat_id.as_deref()) {
            None => None,
            Some(chat_id) => {
                let token = ne(self.telegram_signal_bot_token.as_deref())
                    .or_else(|| ne(alert_token))
                    .ok_or(SignalConfigError::NoToken)?;
                let base = http_url("TELEGRAM_API_BASE", api_base)?;
                Some(TelegramSignal {
                    api_base: base.as_str().trim_end_matches('/').to_string(),
                    token,
                    chat_id,
                })
            }
        };
        Ok(SignalConfig { webhook, telegram })
    }
}

/// Sends outbox rows through the shared clients.
#[derive(Debug, Clone)]
pub struct Deliverer {
    webhook: Option<(url::Url, WebhookClient)>,
    telegram: Option<(TelegramBot, String)>,
    prefs: NotifyPrefs,
    buttons: bool,
    timeout: Duration,
    metrics: Option<Arc<Metrics>>,
}

/// What a row came to (besides a failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Delivered; `migrated` when Telegram moved the chat during this send.
    Delivered {
        /// `(old chat id, new chat id)`.
        migrated: Option<(String, String)>,
    },
    /// Not sent to Telegram: muted or the event kind is `off` (the reason).
    Muted(String),
}

impl Deliverer {
    /// A deliverer for `config`; each attempt is bounded by `timeout`. Builds its own HTTP
    /// client that never follows redirects (the webhook rules decide about them).
    pub fn new(
        config: SignalConfig,
        timeout: Duration,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Deliverer, reqwest::Error> {
        let http = no_redirect_client()?;
        Ok(Deliverer {
            webhook: config
                .webhook
                .map(|u| (u, WebhookClient::new(http.clone(), timeout))),
            telegram: config.telegram.map(|t| {
                (
                    TelegramBot::new(http.clone(), &t.api_base, &t.token, timeout),
                    t.chat_id,
                )
            }),
            prefs: NotifyPrefs::default(),
            buttons: false,
            timeout,
            metrics,
        })
    }

    /// Send Telegram calls through `bot` (the one client of this token: its flood-control gate
    /// and migrations are shared with the alerts and the command listener).
    pub fn with_telegram_bot(mut self, bot: TelegramBot) -> Self {
        if let Some((b, _)) = self.telegram.as_mut() {
            *b = bot;
        }
        self
    }

    /// Per event kind levels (`TELEGRAM_NOTIFY_ACTION`/`_WATCH`), and whether call messages carry
    /// the inline buttons ("mute SOL 1 h", "details"; only useful when commands are on).
    pub fn with_prefs(mut self, prefs: NotifyPrefs, buttons: bool) -> Self {
        self.prefs = prefs;
        self.buttons = buttons;
        self
    }

    /// The Telegram client of the signal chat, if configured.
    pub fn telegram_bot(&self) -> Option<&TelegramBot> {
        self.telegram.as_ref().map(|(b, _)| b)
    }

    fn count(&self, channel: AlertChannel, result: DeliveryResult) {
        if let Some(m) = &self.metrics {
            m.record_signal_delivery(channel, result);
        }
    }

    /// Send one row at `now`; `mutes` are the chat's mutes, `skip_parts` the parts of a split
    /// Telegram message an earlier attempt delivered. `Err` carries the classified failure (its
    /// reason never holds a URL: Telegram's holds the token).
    pub async fn send(
        &self,
        row: &OutboxRow,
        mutes: &super::mute::Mutes,
        skip_parts: usize,
        now: Timestamp,
    ) -> Result<Sent, Failure> {
        match row.channel.as_str() {
            "webhook" => {
                let Some((url, client)) = &self.webhook else {
                    return Err(not_configured("webhook"));
                };
                let body = row.body.to_string();
                let res = client.post(url, &row.key, body.as_bytes()).await;
                match &res {
                    Ok(p) if p.hops > 0 => {
                        tracing::info!(key = %row.key, hops = p.hops, "signal webhook delivered after a 307/308 redirect");
                    }
                    Ok(_) => {}
                    Err(f) => self.count(
                        AlertChannel::Webhook,
                        DeliveryResult::of_failure_label(f.label()),
                    ),
                }
                res.map(|_| {
                    self.count(AlertChannel::Webhook, DeliveryResult::Ok);
                    Sent::Delivered { migrated: None }
                })
            }
            "telegram" => {
                let Some((bot, chat)) = &self.telegram else {
                    return Err(not_configured("telegram"));
                };
                let symbol = row.body["symbol"].as_str().unwrap_or("");
                let level = row.body["level"].as_str().unwrap_or("watch");
                let pref = self.prefs.for_call(level);
                if pref == NotifyLevel::Off {
                    self.count(AlertChannel::Telegram, DeliveryResult::Muted);
                    return Ok(Sent::Muted(format!(
                        "TELEGRAM_NOTIFY_{}=off",
                        level.to_ascii_uppercase()
                    )));
                }
                if let Some((target, until)) = mutes.muted(symbol, now) {
                    self.count(AlertChannel::Telegram, DeliveryResult::Muted);
                    let what = if target == "*" {
                        "all".to_string()
                    } else {
                        target
                    };
                    return Ok(Sent::Muted(format!("{what} muted until {until}")));
                }
                let text = row.body["text"].as_str().unwrap_or("sniper signal");
                let opts = SendOptions {
                    silent: pref == NotifyLevel::Silent,
                    reply_markup: self.buttons.then(|| buttons(symbol, &row.key)).flatten(),
                    skip_parts,
                };
                match bot.send_text(chat, text, &opts, now).await {
                    Ok(sent) => {
                        if sent.migrated.is_some() {
                            self.count(AlertChannel::Telegram, DeliveryResult::Migrated);
                        }
                        self.count(AlertChannel::Telegram, DeliveryResult::Ok);
                        Ok(Sent::Delivered {
                            migrated: sent.migrated,
                        })
                    }
                    Err(f) => {
                        self.count(
                            AlertChannel::Telegram,
                            DeliveryResult::of_failure_label(f.label()),
                        );
                        Err(f)
                    }
                }
            }
            other => Err(Failure::new(
                crate::notify::FailureKind::Permanent { status: 0 },
                format!("unknown channel {other:?}"),
            )),
        }
    }
}

fn not_configured(channel: &str) -> Failure {
    Failure::new(
        crate::notify::FailureKind::Permanent { status: 0 },
        format!("{channel} no longer configured"),
    )
}

/// The inline keyboard of a call message: "mute BASE 1 h" and "details"; `None` when a
/// `callback_data` would pass Telegram's 64 bytes.
pub fn buttons(symbol: &str, key: &str) -> Option<serde_json::Value> {
    let base = crate::symbol::forms(symbol)
        .map(|f| f.base)
        .unwrap_or_else(|_| symbol.to_ascii_uppercase());
    let mute = format!("mute:{base}:1h");
    let details = format!("details:{key}");
    if base.is_empty() || mute.len() > 64 || details.len() > 64 {
        return None;
    }
    Some(serde_json::json!({"inline_keyboard": [[
        {"text": format!("mute {base} 1 h"), "callback_data": mute},
        {"text": "details", "callback_data": details},
    ]]}))
}

/// A delivery's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not attempted yet.
    Pending,
    /// Reached the receiver.
    Delivered,
    /// The last attempt failed; another is scheduled.
    Failed,
    /// Not sent: muted, or its event kind is `off`.
    Muted,
    /// No more attempts.
    GaveUp,
}

impl DeliveryState {
    /// `pending`, `delivered`, `failed`, `muted`, `gave_up`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
            DeliveryState::Muted => "muted",
            DeliveryState::GaveUp => "gave_up",
        }
    }
}

/// One delivery of a call, as shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryView {
    /// `webhook` or `telegram`.
    pub channel: String,
    /// The state.
    pub state: DeliveryState,
    /// Why failed, given up or muted.
    pub reason: Option<String>,
    /// Attempts so far.
    pub attempts: u32,
    /// The next attempt (failed / pending only).
    pub next_attempt_at: Option<Timestamp>,
    /// When delivered.
    pub delivered_at: Option<Timestamp>,
}

/// The state of one outbox row (see the module's table).
pub fn view(row: &OutboxRow) -> DeliveryView {
    let err = row.last_error.as_deref();
    let (state, reason) = match (row.delivered_ms, row.next_attempt_ms, err) {
        // A store that ends rows with `delivered_ms` + a prefixed `last_error` (so retention
        // prunes them) reads the same.
        (Some(_), _, Some(e)) if e.starts_with(MUTED) => {
            (DeliveryState::Muted, Some(e[MUTED.len()..].to_string()))
        }
        (Some(_), _, Some(e)) if e.starts_with(GAVE_UP) => {
            (DeliveryState::GaveUp, Some(e[GAVE_UP.len()..].to_string()))
        }
        (Some(_), _, _) => (DeliveryState::Delivered, None),
        (None, NEVER_MS, Some(e)) if e.starts_with(MUTED) => {
            (DeliveryState::Muted, Some(e[MUTED.len()..].to_string()))
        }
        (None, NEVER_MS, e) => (
            DeliveryState::GaveUp,
            e.map(|e| e.strip_prefix(GAVE_UP).unwrap_or(e).to_string()),
        ),
        (None, _, Some(e)) => (DeliveryState::Failed, Some(e.to_string())),
        (None, _, None) => (DeliveryState::Pending, None),
    };
    let open = matches!(state, DeliveryState::Pending | DeliveryState::Failed);
    DeliveryView {
        channel: row.channel.clone(),
        state,
        reason,
        attempts: row.attempts,
        next_attempt_at: open
            .then(|| Timestamp::from_millisecond(row.next_attempt_ms).ok())
            .flatten(),
        delivered_at: row
            .delivered_ms
            .and_then(|ms| Timestamp::from_millisecond(ms).ok()),
    }
}

/// Deliver every due row once at `now`: claim, send, mark. Returns how many were delivered.
pub async fn deliver_due(store: &AsyncStore, d: &Deliverer, now: Timestamp) -> usize {
    let now_ms = now.as_millisecond();
    let lease_ms = i64::try_from(d.timeout.as_millis()).unwrap_or(5000) * 4 + 1000;
    let rows = match store.claim_outbox(now_ms, lease_ms, 32).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot claim signal outbox rows");
            return 0;
        }
    };
    let mutes = if rows.iter().any(|r| r.channel == "telegram") {
        super::mute::load(store).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the mutes; sending as unmuted");
            super::mute::Mutes::default()
        })
    } else {
        super::mute::Mutes::default()
    };
    let mut delivered = 0;
    for row in rows {
        let attempts = row.attempts + 1;
        // A message Telegram takes in several parts remembers how many went out, so a retry
        // sends only the rest.
        let progress_key = format!("{PARTS_PREFIX}{}", row.key);
        let split = row.channel == "telegram"
            && row.body["text"].as_str().is_some_and(|t| {
                crate::notify::split_message(t, crate::notify::text::TELEGRAM_TEXT_LIMIT).len() > 1
            });
        let skip = if split {
            store
                .setting(progress_key.clone())
                .await
                .ok()
                .flatten()
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        } else {
            0
        };
        let res = d.send(&row, &mutes, skip, now).await;
        if split {
            let kept = match &res {
                Err(f) if f.parts_sent > skip => {
                    store
                        .put_setting(progress_key.clone(), f.parts_sent.to_string())
                        .await
                }
                Ok(_) if skip > 0 => store.delete_setting(progress_key.clone()).await.map(|_| ()),
                _ => Ok(()),
            };
            if let Err(e) = kept {
                tracing::warn!(key = %row.key, error = %e, "cannot keep the parts sent");
            }
        }
        let (next, error) = match res {
            Ok(Sent::Delivered { migrated }) => {
                delivered += 1;
                tracing::info!(key = %row.key, channel = %row.channel, migrated = migrated.is_some(), "signal delivered");
                if let Err(e) = store
                    .mark_delivered(row.key.clone(), row.channel.clone(), now_ms)
                    .await
                {
                    tracing::warn!(key = %row.key, error = %e, "cannot mark the signal delivered");
                }
                continue;
            }
            Ok(Sent::Muted(why)) => {
                tracing::info!(key = %row.key, channel = %row.channel, %why, "signal not sent: muted");
                (NEVER_MS, format!("{MUTED}{why}"))
            }
            Err(f) => match next_step(&f.kind, attempts, now) {
                Next::RetryAt(t) => {
                    tracing::warn!(key = %row.key, channel = %row.channel, attempts,
                        retry_at = %t, reason = %f.reason, "signal delivery failed");
                    (t.as_millisecond(), f.reason)
                }
                Next::GiveUp => {
                    tracing::error!(key = %row.key, channel = %row.channel, attempts,
                        reason = %f.reason, "signal delivery given up");
                    let ch = if row.channel == "telegram" {
                        AlertChannel::Telegram
                    } else {
                        AlertChannel::Webhook
                    };
                    d.count(ch, DeliveryResult::GaveUp);
                    (NEVER_MS, format!("{GAVE_UP}{}", f.reason))
                }
            },
        };
        if split && next == NEVER_MS {
            // Ended without delivery: the progress is of no more use.
            let _ = store.delete_setting(progress_key.clone()).await;
        }
        if let Err(e) = store
            .mark_failed(row.key.clone(), row.channel.clone(), next, error)
            .await
        {
            tracing::warn!(key = %row.key, error = %e, "cannot reschedule the signal");
        }
    }
    delivered
}

/// The worker: releases leases of a previous process, then delivers due rows whenever woken
/// and every [`POLL`], until `shutdown` turns true.
pub async fn worker(
    store: AsyncStore,
    d: Deliverer,
    notify: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    match store.release_outbox_claims().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            rows = n,
            "signal outbox: leases of a previous process released"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot release signal outbox leases"),
    }
    loop {
        deliver_due(&store, &d, Timestamp::now()).await;
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            () = notify.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

crate::command::config_errors!(SignalConfigError);

#[cfg(test)]
mod tests {
    use super::*;

    fn row(delivered: Option<i64>, next: i64, err: Option<&str>) -> OutboxRow {
        OutboxRow {
            key: "sig-1".into(),
            channel: "telegram".into(),
            call_id: 1,
            body: serde_json::json!({}),
            attempts: 2,
            created_ms: 0,
            next_attempt_ms: next,
            delivered_ms: delivered,
            last_error: err.map(String::from),
        }
    }

    #[test]
    fn states_from_the_outbox_columns() {
        let cases = [
            (row(None, 5, None), DeliveryState::Pending, None),
            (row(Some(9), 5, None), DeliveryState::Delivered, None),
            (
                row(None, 5, Some("HTTP 500")),
                DeliveryState::Failed,
                Some("HTTP 500"),
            ),
            (
                row(None, NEVER_MS, Some("gave_up: HTTP 403: Forbidden")),
                DeliveryState::GaveUp,
                Some("HTTP 403: Forbidden"),
            ),
            (
                row(None, NEVER_MS, Some("muted: SOL muted until x")),
                DeliveryState::Muted,
                Some("SOL muted until x"),
            ),
            // The encoding a store with a "finish" method would use (delivered_ms + reason).
            (
                row(Some(9), 5, Some("gave_up: HTTP 302")),
                DeliveryState::GaveUp,
                Some("HTTP 302"),
            ),
            (
                row(Some(9), 5, Some("muted: all")),
                DeliveryState::Muted,
                Some("all"),
            ),
        ];
        for (r, state, reason) in cases {
            let v = view(&r);
            assert_eq!((v.state, v.reason.as_deref()), (state, reason), "{r:?}");
            assert_eq!(
                v.next_attempt_at.is_some(),
                matches!(state, DeliveryState::Pending | DeliveryState::Failed)
                    && r.delivered_ms.is_none()
            );
        }
    }

    #[test]
    fn buttons_fit_telegram_limits() {
        let b = buttons("SOL", "sig-0123456789abcdef").unwrap();
        assert_eq!(b["inline_keyboard"][0][0]["callback_data"], "mute:SOL:1h");
        assert_eq!(b["inline_keyboard"][0][0]["text"], "mute SOL 1 h");
        assert_eq!(
            b["inline_keyboard"][0][1]["callback_data"],
            "details:sig-0123456789abcdef"
        );
        assert!(buttons("SOL", &"k".repeat(80)).is_none());
    }

    fn args() -> SignalArgs {
        SignalArgs {
            rules: None,
            signal_webhook_url: None,
            telegram_signal_chat_id: None,
            telegram_signal_bot_token: None,
        }
    }

    #[test]
    fn config_token_falls_back_and_is_redacted() {
        let mut a = args();
        assert!(
            a.into_config(None, "https://x")
                .unwrap()
                .channels()
                .is_empty()
        );
        a.telegram_signal_chat_id = Some("-1".into());
        assert_eq!(
            a.into_config(None, "https://x").unwrap_err(),
            SignalConfigError::NoToken
        );
        let c = a
            .into_config(Some("1:ALERT"), "http://127.0.0.1:9/")
            .unwrap();
        let t = c.telegram.clone().unwrap();
        assert_eq!(
            (t.token.as_str(), t.api_base.as_str()),
            ("1:ALERT", "http://127.0.0.1:9")
        );
        assert!(!format!("{t:?}").contains("ALERT"));
        a.telegram_signal_bot_token = Some("2:SIG".into());
        assert_eq!(
            a.into_config(Some("1:ALERT"), "https://x")
                .unwrap()
                .telegram
                .unwrap()
                .token,
            "2:SIG"
        );
        a.signal_webhook_url = Some("ftp://x".into());
        assert!(matches!(
            a.into_config(None, "https://x"),
            Err(SignalConfigError::BadUrl {
                var: "SIGNAL_WEBHOOK_URL",
                ..
            })
        ));
    }
}
