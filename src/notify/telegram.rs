//! The one Telegram Bot API client: failure alerts, signal calls and the command listener all
//! send through a [`TelegramBot`], so the rules of [`super::classify`] hold everywhere.
//!
//! * Flood control: a `429` closes a gate until `now + retry_after`; every call of this bot
//!   inside the wait is refused locally ([`FailureKind::RateLimited`] with the time left) without
//!   touching the network.
//! * Chat migration: a `400` with `migrate_to_chat_id` is followed at once (the same part is
//!   resent to the new id), logged, and kept in the store under
//!   `telegram.chat_migrated.<old id>` so a restart posts to the new id from the first message.
//! * Text: callers give plain text; it is escaped and split by [`super::text::split_message`]
//!   into parts ≤ 4 096 characters, sent in order with `parse_mode=HTML`.
//!
//! The bot token is part of every request URL; it never appears in a log line, an error or
//! `Debug` (errors are taken `without_url`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::classify::{Failure, FailureKind, classify_telegram};
use super::text::{TELEGRAM_TEXT_LIMIT, split_message};
use crate::store::AsyncStore;

/// Largest Bot API answer read (a `getUpdates` of 100 updates is far below); a larger one is a
/// transient failure, never buffered whole.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Settings key prefix of a chat migration: `telegram.chat_migrated.<old id>` = new id.
pub const MIGRATION_PREFIX: &str = "telegram.chat_migrated.";

/// Options of one message.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// `disable_notification`: delivered without sound.
    pub silent: bool,
    /// `reply_markup` (inline keyboard), put on the last part only.
    pub reply_markup: Option<Value>,
    /// Parts already delivered by an earlier attempt (not sent again).
    pub skip_parts: usize,
}

/// A message delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// How many parts it took.
    pub parts: usize,
    /// The chat it reached (the new id after a migration).
    pub chat_id: String,
    /// Set when this send followed a migration: `(old id, new id)`.
    pub migrated: Option<(String, String)>,
}

/// A chat migration followed (for the page and `/api`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Migration {
    /// The configured (dead) id.
    pub from: String,
    /// The id used now.
    pub to: String,
}

/// Telegram Bot API client of one bot token. Cheap to clone (the gate and migrations are
/// shared by clones).
#[derive(Clone)]
pub struct TelegramBot {
    http: reqwest::Client,
    api_base: String,
    token: String,
    timeout: Duration,
    gate: Arc<Mutex<Option<Timestamp>>>,
    chats: Arc<RwLock<BTreeMap<String, String>>>,
    store: Option<AsyncStore>,
}

impl fmt::Debug for TelegramBot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramBot")
            .field("api_base", &self.api_base)
            .field("token", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// An HTTP client that never follows redirects (a redirect is an answer to classify).
pub fn no_redirect_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

impl TelegramBot {
    /// A client of the bot `token` at `api_base` (no trailing slash, e.g.
    /// `https://api.telegram.org`). `http` should not follow redirects ([`no_redirect_client`]).
    pub fn new(http: reqwest::Client, api_base: &str, token: &str, timeout: Duration) -> Self {
        TelegramBot {
            http,
            api_base: api_base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            timeout,
            gate: Arc::default(),
            chats: Arc::default(),
            store: None,
        }
    }

    /// True when `other` is the same bot (same token and API base): they should share one client.
    pub fn same_bot(&self, other: &TelegramBot) -> bool {
        self.token == other.token && self.api_base == other.api_base
    }

    /// The bot's public id: the digits before `:` in its token (not secret), or `bot`.
    pub fn id(&self) -> String {
        self.token
            .split(':')
            .next()
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
            .unwrap_or("bot")
            .to_string()
    }

    /// Keep migrations in `store` and load the ones kept there. A store error is logged: the
    /// client then starts with no migration known (the next `400` teaches it again).
    pub async fn with_store(mut self, store: AsyncStore) -> Self {
        match store
            .settings_with_prefix(MIGRATION_PREFIX.to_string())
            .await
        {
            Ok(rows) => {
                let mut chats = self.chats.write().unwrap_or_else(|e| e.into_inner());
                for (k, v) in rows {
                    if let Some(old) = k.strip_prefix(MIGRATION_PREFIX) {
                        tracing::info!(from = %old, to = %v, "telegram: chat migration restored from the store");
                        chats.insert(old.to_string(), v);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read telegram chat migrations"),
        }
        self.store = Some(store);
        self
    }

    /// The id to post to for the configured `chat` (follows known migrations, at most 4 hops).
    pub fn resolve_chat(&self, chat: &str) -> String {
        let chats = self.chats.read().unwrap_or_else(|e| e.into_inner());
        let mut id = chat.to_string();
        for _ in 0..4 {
            match chats.get(&id) {
                Some(n) if *n != id => id = n.clone(),
                _ => break,
            }
        }
        id
    }

    /// Every migration followed so far.
    pub fn migrations(&self) -> Vec<Migration> {
        self.chats
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(f, t)| Migration {
                from: f.clone(),
                to: t.clone(),
            })
            .collect()
    }

    /// Until when calls are held back by a `429` (None = open at `now`).
    pub fn rate_limited_until(&self, now: Timestamp) -> Option<Timestamp> {
        let g = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        g.filter(|until| *until > now)
    }

    async fn record_migration(&self, from: &str, to: &str) {
        tracing::warn!(from = %from, to = %to, "telegram: chat was upgraded to a supergroup; posting to the new id from now on");
        self.chats
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(from.to_string(), to.to_string());
        if let Some(st) = &self.store
            && let Err(e) = st
                .put_setting(format!("{MIGRATION_PREFIX}{from}"), to.to_string())
                .await
        {
            tracing::warn!(error = %e, "cannot keep the telegram chat migration in the store");
        }
    }

    /// Call Bot API `method` with a JSON `body` at `now`. Refused locally while a `429`'s wait
    /// runs. `extra_timeout` lengthens the request timeout (long polling).
    pub async fn call(
        &self,
        method: &str,
        body: &Value,
        now: Timestamp,
        extra_timeout: Duration,
    ) -> Result<Value, Failure> {
        if let Some(until) = self.rate_limited_until(now) {
            let left = until.duration_since(now);
            let left = Duration::try_from(left).unwrap_or_default();
            return Err(Failure::new(
                FailureKind::RateLimited { retry_after: left },
                format!("held back by Telegram flood control until {until}"),
            ));
        }
        let url = format!("{}/bot{}/{method}", self.api_base, self.token);
        let sent = self
            .http
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .timeout(self.timeout + extra_timeout)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let status = e.status().map(|s| s.as_u16()).unwrap_or(0);
                return Err(Failure::new(
                    FailureKind::Transient { status },
                    if e.is_timeout() {
                        "timeout".to_string()
                    } else {
                        e.without_url().to_string()
                    },
                ));
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut resp = resp;
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if bytes.len() + c.len() > MAX_ANSWER_BYTES {
                        return Err(Failure::new(
                            FailureKind::Transient { status },
                            format!("answer over {MAX_ANSWER_BYTES} bytes refused"),
                        ));
                    }
                    bytes.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(Failure::new(
                        FailureKind::Transient { status },
                        e.without_url().to_string(),
                    ));
                }
            }
        }
        let res = classify_telegram(status, retry_after.as_deref(), &bytes);
        if let Err(Failure {
            kind: FailureKind::RateLimited { retry_after },
            reason,
            ..
        }) = &res
        {
            let until = now
                .checked_add(jiff::SignedDuration::try_from(*retry_after).unwrap_or_default())
                .unwrap_or(now);
            *self.gate.lock().unwrap_or_else(|e| e.into_inner()) = Some(until);
            tracing::warn!(method, retry_after_s = retry_after.as_secs(), %reason, "telegram: flood control, waiting");
        }
        res
    }

    /// Send plain `text` to `chat`: escaped for `parse_mode=HTML` (so symbols and backend strings
    /// can never break an entity) and split on line boundaries into parts ≤ 4 096 characters. A migration is followed once, within this call. On a
    /// failure after some parts went out, the error says how many did.
    pub async fn send_text(
        &self,
        chat: &str,
        text: &str,
        opts: &SendOptions,
        now: Timestamp,
    ) -> Result<Sent, Failure> {
        let parts = split_message(text, TELEGRAM_TEXT_LIMIT);
        let mut chat_id = self.resolve_chat(chat);
        let mut migrated = None;
        let n = parts.len();
        for (i, part) in parts.iter().enumerate().skip(opts.skip_parts) {
            let mut body = json!({
                "chat_id": chat_id,
                "text": part,
                "parse_mode": "HTML",
                "disable_web_page_preview": true,
            });
            if opts.silent {
                body["disable_notification"] = Value::Bool(true);
            }
            if i + 1 == n
                && let Some(m) = &opts.reply_markup
            {
                body["reply_markup"] = m.clone();
            }
            let mut res = self.call("sendMessage", &body, now, Duration::ZERO).await;
            if let Err(Failure {
                kind: FailureKind::Migrated { to_chat_id },
                ..
            }) = &res
            {
                let to = to_chat_id.clone();
                self.record_migration(&chat_id, &to).await;
                migrated = Some((chat_id.clone(), to.clone()));
                chat_id = to;
                body["chat_id"] = Value::String(chat_id.clone());
                res = self.call("sendMessage", &body, now, Duration::ZERO).await;
            }
            if let Err(mut f) = res {
                if i > 0 {
                    f.reason = format!("{} (after {i} of {n} parts)", f.reason);
                }
                f.parts_sent = i;
                return Err(f);
            }
        }
        Ok(Sent {
            parts: n,
            chat_id,
            migrated,
        })
    }
}
