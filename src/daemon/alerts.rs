//! Alerts on hard failures and recovery: a pure decision ([`alert_for`]) and a delivery client
//! ([`Alerter`]) for a JSON webhook and Telegram's `sendMessage`, both through the one client of
//! [`crate::notify`] (the same rules as signal calls: redirects never followed as GET, a `429`'s
//! `retry_after` waited with no call inside the wait, chat migrations followed and kept).
//!
//! A delivery never fails the caller: errors are logged (without the URL, which carries the bot
//! token for Telegram) and counted in `sniper_alert_deliveries_total{channel,result}`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::obs::metrics::{AlertChannel, DeliveryResult, Metrics};

/// Default number of consecutive hard failures between two "failing" alerts (the design's
/// "every 3").
pub const DEFAULT_EVERY_N: u32 = 3;

/// Default timeout of one delivery: short, so a dead endpoint costs little, long enough for the
/// Telegram API from a slow link.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default Telegram bot API origin (`TELEGRAM_API_BASE` overrides it, e.g. for tests).
pub const DEFAULT_TELEGRAM_API_BASE: &str = "https://api.telegram.org";

/// What an alert says. Exists so the decision ([`alert_for`]) is separate from delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// `consecutive_failures` hard failures in a row (a multiple of N).
    Failing {
        /// The count after the failure that triggered the alert.
        consecutive_failures: u32,
    },
    /// A run succeeded after a streak that had alerted.
    Recovered {
        /// How long the streak was.
        after_failures: u32,
    },
}

impl AlertKind {
    /// `failing` or `recovered`, the webhook body's `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Failing { .. } => "failing",
            AlertKind::Recovered { .. } => "recovered",
        }
    }

    /// The consecutive-failure count the alert is about.
    pub fn failures(self) -> u32 {
        match self {
            AlertKind::Failing {
                consecutive_failures,
            } => consecutive_failures,
            AlertKind::Recovered { after_failures } => after_failures,
        }
    }

    /// The human text sent to Telegram and in the webhook body's `text`.
    pub fn text(self) -> String {
        match self {
            AlertKind::Failing {
                consecutive_failures,
            } => format!("🔴 sniper: {consecutive_failures} consecutive hard failures"),
            AlertKind::Recovered { after_failures } => {
                format!("🟢 sniper: recovered after {after_failures} consecutive hard failures")
            }
        }
    }
}

/// Decides whether a finished run triggers an alert.
///
/// * A hard failure alerts when the new count is a multiple of `every_n` (3, 6, 9, …).
/// * A success alerts once, when the streak it ends had reached `every_n` (so an alert was sent).
/// * `every_n == 0` disables alerts.
pub fn alert_for(
    prev_failures: u32,
    new_failures: u32,
    success: bool,
    every_n: u32,
) -> Option<AlertKind> {
    if every_n == 0 {
        return None;
    }
    if success {
        (prev_failures >= every_n).then_some(AlertKind::Recovered {
            after_failures: prev_failures,
        })
    } else {
        (new_failures > prev_failures && new_failures.is_multiple_of(every_n)).then_some(
            AlertKind::Failing {
                consecutive_failures: new_failures,
            },
        )
    }
}

/// Alert settings from the environment, flattened into `serve` and `demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct AlertArgs {
    /// Webhook receiving a JSON body on failure streaks and recovery.
    #[arg(long, env = "ALERT_WEBHOOK_URL")]
    pub alert_webhook_url: Option<String>,
    /// Telegram bot token (alerts go to Telegram when this and the chat id are set).
    #[arg(long, env = "TELEGRAM_BOT_TOKEN", hide_env_values = true)]
    pub telegram_bot_token: Option<String>,
    /// Telegram chat id (numeric or @channel).
    #[arg(long, env = "TELEGRAM_CHAT_ID")]
    pub telegram_chat_id: Option<String>,
    /// Telegram bot API origin.
    #[arg(long, env = "TELEGRAM_API_BASE", default_value = DEFAULT_TELEGRAM_API_BASE)]
    pub telegram_api_base: String,
    /// Alert after every N consecutive hard failures (0 disables alerts).
    #[arg(long, env = "ALERT_EVERY_N", default_value_t = DEFAULT_EVERY_N)]
    pub alert_every_n: u32,
    /// Timeout of one delivery, in seconds.
    #[arg(long, env = "ALERT_TIMEOUT_SECS", default_value_t = DEFAULT_TIMEOUT.as_secs())]
    pub alert_timeout_secs: u64,
}

/// Why the alert settings were rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AlertConfigError {
    /// A URL that does not parse or is not http(s).
    #[error("{var}={value:?} is not an http(s) URL")]
    BadUrl {
        /// The variable.
        var: &'static str,
        /// The rejected value.
        value: String,
    },
    /// Only one of the token and the chat id was set.
    #[error("TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID must be set together")]
    TelegramHalfConfigured,
}

/// Telegram destination. `Debug` redacts the token.
#[derive(Clone)]
pub struct TelegramTarget {
    /// The bot API origin, without trailing slash.
    pub api_base: String,
    /// The bot token (secret).
    pub token: String,
    /// The chat to post into.
    pub chat_id: String,
}

impl fmt::Debug for TelegramTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramTarget")
            .field("api_base", &self.api_base)
            .field("token", &"<redacted>")
            .field("chat_id", &self.chat_id)
            .finish()
    }
}

/// Validated alert settings: where to deliver, how often, how long to wait.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// `ALERT_WEBHOOK_URL`.
    pub webhook: Option<url::Url>,
    /// Telegram, when both token and chat id are set.
    pub telegram: Option<TelegramTarget>,
    /// Alert every N consecutive hard failures (0 = never).
    pub every_n: u32,
    /// Per-delivery timeout.
    pub timeout: Duration,
}

fn http_url(var: &'static str, value: &str) -> Result<url::Url, AlertConfigError> {
    let bad = || AlertConfigError::BadUrl {
        var,
        value: value.to_string(),
    };
    let url = url::Url::parse(value.trim()).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(bad());
    }
    Ok(url)
}

impl AlertArgs {
    /// Validates the settings. Empty strings count as unset (a blank `.env` line).
    pub fn into_config(self) -> Result<AlertConfig, AlertConfigError> {
        let non_empty = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
        let webhook = non_empty(self.alert_webhook_url)
            .map(|u| http_url("ALERT_WEBHOOK_URL", &u))
            .transpose()?;
        let telegram = match (
            non_empty(self.telegram_bot_token),
            non_empty(self.telegram_chat_id),
        ) {
            (Some(token), Some(chat_id)) => {
                let base = http_url("TELEGRAM_API_BASE", &self.telegram_api_base)?;
                Some(TelegramTarget {
                    api_base: base.as_str().trim_end_matches('/').to_string(),
                    token: token.trim().to_string(),
                    chat_id: chat_id.trim().to_string(),
                })
            }
            (None, None) => None,
            _ => return Err(AlertConfigError::TelegramHalfConfigured),
        };
        Ok(AlertConfig {
            webhook,
            telegram,
            every_n: self.alert_every_n,
            timeout: Duration::from_secs(self.alert_timeout_secs),
        })
    }
}

/// The webhook's JSON body.
#[derive(Debug, Serialize)]
struct WebhookBody<'a> {
    source: &'static str,
    kind: &'static str,
    consecutive_failures: u32,
    text: &'a str,
    at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

/// What happened to each configured channel; `None` = not configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryReport {
    /// The webhook delivery.
    pub webhook: Option<DeliveryResult>,
    /// The Telegram delivery.
    pub telegram: Option<DeliveryResult>,
}

/// Longest `retry_after` an alert waits for before retrying once more (a longer flood-control
/// wait drops this alert's Telegram copy, logged and counted `rate_limited`).
pub const MAX_ALERT_WAIT: Duration = Duration::from_secs(120);
/// Most Telegram attempts of one alert (only a `429` is retried, after its `retry_after`).
pub const MAX_ALERT_TRIES: u32 = 3;

/// Sends alerts to the configured channels.
///
/// Exists so that the scheduler's hooks only say "this alert, now"; the clients (shared with
/// the signal delivery when the bot is the same), timeouts, secrets and counting live here.
#[derive(Debug, Clone)]
pub struct Alerter {
    config: AlertConfig,
    webhook: crate::notify::WebhookClient,
    telegram: Option<crate::notify::TelegramBot>,
    prefs: crate::notify::NotifyPrefs,
    metrics: Option<Arc<Metrics>>,
}

impl Alerter {
    /// An alerter for `config`, with its own HTTP client that never follows redirects.
    /// `metrics` receives one count per delivery attempt.
    pub fn new(config: AlertConfig, metrics: Option<Arc<Metrics>>) -> Result<Self, reqwest::Error> {
        let http = crate::notify::no_redirect_client()?;
        let telegram = config.telegram.as_ref().map(|t| {
            crate::notify::TelegramBot::new(http.clone(), &t.api_base, &t.token, config.timeout)
        });
        Ok(Alerter {
            webhook: crate::notify::WebhookClient::new(http, config.timeout),
            telegram,
            config,
            prefs: crate::notify::NotifyPrefs::default(),
            metrics,
        })
    }

    /// Send Telegram alerts through `bot` (the one client of this token, shared with the signal
    /// delivery and the command listener: one flood-control gate, one set of migrations).
    pub fn with_telegram_bot(mut self, bot: crate::notify::TelegramBot) -> Self {
        if self.telegram.is_some() {
            self.telegram = Some(bot);
        }
        self
    }

    /// Per event kind levels: `TELEGRAM_NOTIFY_FAILURE`, `TELEGRAM_NOTIFY_RECOVERY`.
    pub fn with_prefs(mut self, prefs: crate::notify::NotifyPrefs) -> Self {
        self.prefs = prefs;
        self
    }

    /// The Telegram client of the alert chat, if configured.
    pub fn telegram_bot(&self) -> Option<&crate::notify::TelegramBot> {
        self.telegram.as_ref()
    }

    /// The configured N of "every N consecutive hard failures".
    pub fn every_n(&self) -> u32 {
        self.config.every_n
    }

    /// True when at least one channel is configured.
    pub fn is_enabled(&self) -> bool {
        self.config.webhook.is_some() || self.config.telegram.is_some()
    }

    fn count(&self, channel: AlertChannel, result: DeliveryResult) {
        if let Some(m) = &self.metrics {
            m.record_alert_delivery(channel, result);
        }
    }

    /// Delivers `kind` to every configured channel concurrently. Never fails: each failure is
    /// logged and counted, and the report says what happened. `detail` (e.g. the last error) is
    /// added to the webhook body and the Telegram text.
    pub async fn send(
        &self,
        kind: AlertKind,
        at: Timestamp,
        detail: Option<&str>,
    ) -> DeliveryReport {
        let text = match detail {
            Some(d) => format!("{}\n{d}", kind.text()),
            None => kind.text(),
        };
        let webhook = async {
            let url = self.config.webhook.as_ref()?;
            let body = WebhookBody {
                source: "sniper",
                kind: kind.as_str(),
                consecutive_failures: kind.failures(),
                text: &kind.text(),
                at: at.to_string(),
                detail,
            };
            let bytes = match serde_json::to_vec(&body) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "alert body did not serialize");
                    self.count(AlertChannel::Webhook, DeliveryResult::Failed);
                    return Some(DeliveryResult::Failed);
                }
            };
            let key = format!("alert-{}-{}", kind.as_str(), at.as_millisecond());
            let result = match self.webhook.post(url, &key, &bytes).await {
                Ok(_) => {
                    tracing::info!(channel = "webhook", "alert delivered");
                    DeliveryResult::Ok
                }
                Err(f) => {
                    tracing::warn!(channel = "webhook", reason = %f.reason, "alert delivery failed");
                    DeliveryResult::of_failure_label(f.label())
                }
            };
            self.count(AlertChannel::Webhook, result);
            Some(result)
        };
        let telegram = async {
            let target = self.config.telegram.as_ref()?;
            let bot = self.telegram.as_ref()?;
            Some(self.telegram_alert(bot, &target.chat_id, kind, &text).await)
        };
        let (webhook, telegram) = tokio::join!(webhook, telegram);
        DeliveryReport { webhook, telegram }
    }

    async fn telegram_alert(
        &self,
        bot: &crate::notify::TelegramBot,
        chat: &str,
        kind: AlertKind,
        text: &str,
    ) -> DeliveryResult {
        use crate::notify::{FailureKind, NotifyLevel};
        let level = match kind {
            AlertKind::Failing { .. } => self.prefs.failure,
            AlertKind::Recovered { .. } => self.prefs.recovery,
        };
        if level == NotifyLevel::Off {
            self.count(AlertChannel::Telegram, DeliveryResult::Muted);
            return DeliveryResult::Muted;
        }
        let mut opts = crate::notify::SendOptions {
            silent: level == NotifyLevel::Silent,
            ..Default::default()
        };
        let mut tries = 0;
        loop {
            tries += 1;
            match bot.send_text(chat, text, &opts, Timestamp::now()).await {
                Ok(sent) => {
                    if sent.migrated.is_some() {
                        self.count(AlertChannel::Telegram, DeliveryResult::Migrated);
                    }
                    tracing::info!(channel = "telegram", "alert delivered");
                    self.count(AlertChannel::Telegram, DeliveryResult::Ok);
                    return DeliveryResult::Ok;
                }
                Err(f) => {
                    let result = DeliveryResult::of_failure_label(f.label());
                    self.count(AlertChannel::Telegram, result);
                    match f.kind {
                        FailureKind::RateLimited { retry_after }
                            if tries < MAX_ALERT_TRIES && retry_after <= MAX_ALERT_WAIT =>
                        {
                            tracing::warn!(channel = "telegram", retry_after_s = retry_after.as_secs(), reason = %f.reason, "alert held by Telegram flood control; waiting");
                            // Parts of a long alert already out are not sent again.
                            opts.skip_parts = f.parts_sent;
                            // The wait Telegram asked for, plus a little so the gate is open.
                            tokio::time::sleep(retry_after + Duration::from_millis(50)).await;
                        }
                        _ => {
                            tracing::warn!(channel = "telegram", reason = %f.reason, "alert delivery failed");
                            return result;
                        }
                    }
                }
            }
        }
    }
}

crate::command::config_errors!(AlertConfigError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_every_n_and_recovery_once() {
        let mut failures = 0u32;
        let mut alerts = Vec::new();
        // 7 hard failures, a success, a success, 2 failures, a success.
        for success in [
            false, false, false, false, false, false, false, true, true, false, false, true,
        ] {
            let new = if success { 0 } else { failures + 1 };
            if let Some(a) = alert_for(failures, new, success, 3) {
                alerts.push(a);
            }
            failures = new;
        }
        assert_eq!(
            alerts,
            vec![
                AlertKind::Failing {
                    consecutive_failures: 3
                },
                AlertKind::Failing {
                    consecutive_failures: 6
                },
                AlertKind::Recovered { after_failures: 7 },
            ]
        );
    }

    #[test]
    fn zero_disables() {
        assert_eq!(alert_for(2, 3, false, 0), None);
        assert_eq!(alert_for(9, 0, true, 0), None);
        assert_eq!(
            alert_for(0, 1, false, 1),
            Some(AlertKind::Failing {
                consecutive_failures: 1
            })
        );
        assert_eq!(
            alert_for(1, 0, true, 1),
            Some(AlertKind::Recovered { after_failures: 1 })
        );
    }

    fn args() -> AlertArgs {
        AlertArgs {
            alert_webhook_url: None,
            telegram_bot_token: None,
            telegram_chat_id: None,
            telegram_api_base: DEFAULT_TELEGRAM_API_BASE.into(),
            alert_every_n: 3,
            alert_timeout_secs: 5,
        }
    }

    #[test]
    fn config_validation() {
        let c = args().into_config().unwrap();
        assert!(c.webhook.is_none() && c.telegram.is_none());
        let mut a = args();
        a.telegram_bot_token = Some("123:SECRET".into());
        assert_eq!(
            a.clone().into_config().unwrap_err(),
            AlertConfigError::TelegramHalfConfigured
        );
        a.telegram_chat_id = Some("-100".into());
        a.telegram_api_base = "http://127.0.0.1:9/".into();
        let c = a.into_config().unwrap();
        let t = c.telegram.unwrap();
        assert_eq!(t.api_base, "http://127.0.0.1:9");
        assert!(!format!("{t:?}").contains("SECRET"));
        let mut a = args();
        a.alert_webhook_url = Some("ftp://x/".into());
        assert!(matches!(
            a.into_config(),
            Err(AlertConfigError::BadUrl {
                var: "ALERT_WEBHOOK_URL",
                ..
            })
        ));
        let mut a = args();
        a.alert_webhook_url = Some("  ".into());
        assert!(a.into_config().unwrap().webhook.is_none());
    }
}
