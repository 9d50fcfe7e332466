//! Signal delivery: the outbox worker. The only network IO of the signals layer.
//!
//! Claims due outbox rows, sends each to its channel — the JSON webhook (`SIGNAL_WEBHOOK_URL`,
//! header `Idempotency-Key`) or Telegram's `sendMessage` in the signal chat — marks it delivered
//! on a 2xx, or reschedules it with exponential backoff. Rows survive restarts; a restarted
//! worker resends undelivered rows with the same key. Separate from the failure alerts
//! (`daemon::alerts`), which share only the Telegram API base and (by default) the bot token.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{Notify, watch};

use crate::obs::metrics::{AlertChannel, DeliveryResult, Metrics};
use crate::store::{AsyncStore, OutboxRow};

/// Default timeout of one delivery.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// First retry delay; doubled per attempt up to [`MAX_BACKOFF`].
pub const BASE_BACKOFF: Duration = Duration::from_secs(2);
/// Longest retry delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often the worker looks for due rows when not woken.
pub const POLL: Duration = Duration::from_secs(1);

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

/// Retry delay after `attempts` failed attempts (1 → 2 s, 2 → 4 s, … capped at 5 min).
pub fn backoff(attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(16);
    BASE_BACKOFF.saturating_mul(1u32 << exp).min(MAX_BACKOFF)
}

/// Sends outbox rows.
#[derive(Debug, Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    config: SignalConfig,
    timeout: Duration,
    metrics: Option<Arc<Metrics>>,
}

impl Deliverer {
    /// A deliverer over `client`.
    pub fn new(
        client: reqwest::Client,
        config: SignalConfig,
        timeout: Duration,
        metrics: Option<Arc<Metrics>>,
    ) -> Deliverer {
        Deliverer {
            client,
            config,
            timeout,
            metrics,
        }
    }

    /// Send one row; `Err` carries a short reason (never the URL: Telegram's holds the token).
    pub async fn send(&self, row: &OutboxRow) -> Result<(), String> {
        let (channel, req) = match row.channel.as_str() {
            "webhook" => {
                let Some(url) = &self.config.webhook else {
                    return Err("webhook no longer configured".into());
                };
                (
                    AlertChannel::Webhook,
                    self.client
                        .post(url.as_str())
                        .header("Idempotency-Key", &row.key)
                        .header(http::header::CONTENT_TYPE, "application/json")
                        .body(row.body.to_string()),
                )
            }
            "telegram" => {
                let Some(t) = &self.config.telegram else {
                    return Err("telegram no longer configured".into());
                };
                let text = row.body["text"].as_str().unwrap_or("sniper signal");
                (
                    AlertChannel::Telegram,
                    self.client
                        .post(format!("{}/bot{}/sendMessage", t.api_base, t.token))
                        .header(http::header::CONTENT_TYPE, "application/json")
                        .body(
                            serde_json::json!({
                                "chat_id": t.chat_id,
                                "text": text,
                                "disable_web_page_preview": true,
                            })
                            .to_string(),
                        ),
                )
            }
            other => return Err(format!("unknown channel {other}")),
        };
        let res = match req.timeout(self.timeout).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
            Err(e) => Err(e.without_url().to_string()),
        };
        if let Some(m) = &self.metrics {
            let result = if res.is_ok() {
                DeliveryResult::Ok
            } else {
                DeliveryResult::Failed
            };
            m.record_signal_delivery(channel, result);
        }
        res
    }
}

/// Deliver every due row once: claim, send, mark. Returns how many were delivered.
pub async fn deliver_due(store: &AsyncStore, d: &Deliverer, now: Timestamp) -> usize {
    let now_ms = now.as_millisecond();
    let lease_ms = i64::try_from(d.timeout.as_millis()).unwrap_or(5000) * 2 + 1000;
    let rows = match store.claim_outbox(now_ms, lease_ms, 32).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot claim signal outbox rows");
            return 0;
        }
    };
    let mut delivered = 0;
    for row in rows {
        match d.send(&row).await {
            Ok(()) => {
                delivered += 1;
                tracing::info!(key = %row.key, channel = %row.channel, "signal delivered");
                let done = Timestamp::now().as_millisecond();
                if let Err(e) = store
                    .mark_delivered(row.key.clone(), row.channel.clone(), done)
                    .await
                {
                    tracing::warn!(key = %row.key, error = %e, "cannot mark the signal delivered");
                }
            }
            Err(reason) => {
                let wait = backoff(row.attempts + 1);
                tracing::warn!(key = %row.key, channel = %row.channel, attempts = row.attempts + 1,
                    retry_in_s = wait.as_secs(), %reason, "signal delivery failed");
                let next = now_ms + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
                if let Err(e) = store
                    .mark_failed(row.key.clone(), row.channel.clone(), next, reason)
                    .await
                {
                    tracing::warn!(key = %row.key, error = %e, "cannot reschedule the signal");
                }
            }
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

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(8), Duration::from_secs(256));
        assert_eq!(backoff(9), MAX_BACKOFF);
        assert_eq!(backoff(1000), MAX_BACKOFF);
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
