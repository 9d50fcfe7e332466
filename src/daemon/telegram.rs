//! A Telegram chat that answers back: the command listener over the Bot API's long polling
//! (`getUpdates`), the per event kind notification settings, and `GET /api/telegram`.
//!
//! * On whenever a bot token and a chat are configured; `TELEGRAM_COMMANDS=off` turns it off.
//!   One listener per distinct bot (the alert bot `TELEGRAM_BOT_TOKEN`, the signal bot
//!   `TELEGRAM_SIGNAL_BOT_TOKEN` when it differs), through the same [`TelegramBot`] that sends
//!   alerts and calls (one flood-control gate, one set of chat migrations).
//! * Only the configured chats (`TELEGRAM_CHAT_ID`, `TELEGRAM_SIGNAL_CHAT_ID`, and the ids they
//!   migrated to) are answered; anything else is ignored and counted
//!   (`sniper_telegram_updates_total{result="ignored_chat"}`). A command flood from an allowed
//!   chat is rate-limited per chat (`TELEGRAM_COMMANDS_PER_MIN`, `governor`), dropped and counted.
//! * The update offset is kept in the store (`telegram.update_offset.<bot id>`) and written after
//!   each update is handled, so a restart (even `kill -9`) neither repeats nor loses a command
//!   (the window for a repeat is one update handled but not yet recorded).
//! * Replicas on a shared store: only one may poll (Telegram answers `409` to a second poller).
//!   The poller of each minute is the replica that claims the tick `telegram_poll.<bot id>` of
//!   that minute in the store ([`crate::store::StateStore::claim_tick`], atomic across replicas);
//!   its long polls end before the minute does, so two replicas never poll at once (clock skew
//!   aside — a `409` then makes the loser back off). A private store (SQLite) has no competitor.
//!
//! Commands: `/status`, `/calls [SYMBOL]`, `/score [SYMBOL]`, `/rules`, `/mute SYMBOL|all
//! DURATION`, `/unmute [SYMBOL|all]`, `/help`; buttons on call messages: "mute SOL 1 h",
//! "details" (`callback_query`).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::config::ConfigError;
use crate::daemon::server::App;
use crate::notify::{FailureKind, NotifyPrefs, SendOptions, TelegramBot};
use crate::obs::metrics::{Metrics, TelegramUpdate};
use crate::signals::SignalEngine;
use crate::signals::mute;
use crate::store::{AsyncStore, SignalQuery};

/// Settings key prefix of the update offset: `telegram.update_offset.<bot id>`.
pub const OFFSET_PREFIX: &str = "telegram.update_offset.";
/// Long-poll timeout asked of Telegram, seconds.
pub const POLL_TIMEOUT_S: u64 = 25;
/// Calls listed by `/calls`.
pub const CALLS_LISTED: usize = 5;

/// Command listener and notification settings from flags/environment.
#[derive(Debug, Clone, clap::Args)]
pub struct TelegramArgs {
    /// Answer commands in the configured chats (on/off); needs a bot token and a chat.
    #[arg(long, env = "TELEGRAM_COMMANDS", default_value = "on")]
    pub telegram_commands: String,
    /// Commands answered per chat and minute (a flood beyond it is dropped and counted).
    #[arg(long, env = "TELEGRAM_COMMANDS_PER_MIN", default_value = "20")]
    pub telegram_commands_per_min: String,
    /// Action calls in Telegram: on, silent (no sound) or off.
    #[arg(long, env = "TELEGRAM_NOTIFY_ACTION", default_value = "on")]
    pub telegram_notify_action: String,
    /// Watch calls in Telegram: on, silent or off.
    #[arg(long, env = "TELEGRAM_NOTIFY_WATCH", default_value = "on")]
    pub telegram_notify_watch: String,
    /// Failure alerts in Telegram: on, silent or off.
    #[arg(long, env = "TELEGRAM_NOTIFY_FAILURE", default_value = "on")]
    pub telegram_notify_failure: String,
    /// Recovery alerts in Telegram: on, silent or off.
    #[arg(long, env = "TELEGRAM_NOTIFY_RECOVERY", default_value = "on")]
    pub telegram_notify_recovery: String,
}

/// Validated [`TelegramArgs`].
#[derive(Debug, Clone, Copy)]
pub struct TelegramSettings {
    /// `TELEGRAM_COMMANDS`.
    pub commands: bool,
    /// Commands per chat and minute.
    pub per_min: NonZeroU32,
    /// Per event kind levels.
    pub prefs: NotifyPrefs,
}

impl TelegramArgs {
    /// Validate; an error names the variable and the accepted values (exit 2).
    pub fn into_settings(&self) -> Result<TelegramSettings, ConfigError> {
        let commands = crate::config::parse_bool("TELEGRAM_COMMANDS", &self.telegram_commands)?;
        let per_min = self
            .telegram_commands_per_min
            .trim()
            .parse::<u32>()
            .ok()
            .and_then(NonZeroU32::new)
            .filter(|n| n.get() <= 600)
            .ok_or_else(|| {
                ConfigError::new(
                    "TELEGRAM_COMMANDS_PER_MIN",
                    &self.telegram_commands_per_min,
                    "a whole number 1..=600",
                )
            })?;
        let prefs = NotifyPrefs::parse(
            &self.telegram_notify_action,
            &self.telegram_notify_watch,
            &self.telegram_notify_failure,
            &self.telegram_notify_recovery,
        )
        .map_err(|e| ConfigError::new(e.var, &e.value, "on, silent or off"))?;
        Ok(TelegramSettings {
            commands,
            per_min,
            prefs,
        })
    }
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/status`.
    Status,
    /// `/calls [SYMBOL]`.
    Calls(Option<String>),
    /// `/score [SYMBOL]`.
    Score(Option<String>),
    /// `/rules`.
    Rules,
    /// `/mute TARGET DURATION` (raw arguments; validated when run).
    Mute(String, String),
    /// `/unmute [TARGET]`.
    Unmute(Option<String>),
    /// `/help`, `/start`.
    Help,
    /// Any other `/word`.
    Unknown(String),
}

/// Parse a message text: `None` unless it starts with `/`. `/cmd@botname args` is accepted.
pub fn parse_command(text: &str) -> Option<Command> {
    let t = text.trim();
    let rest = t.strip_prefix('/')?;
    let mut words = rest.split_whitespace();
    let head = words.next().unwrap_or("");
    let name = head.split('@').next().unwrap_or("").to_ascii_lowercase();
    let args: Vec<&str> = words.collect();
    let first = args.first().map(|s| s.to_string());
    Some(match name.as_str() {
        "status" => Command::Status,
        "calls" => Command::Calls(first),
        "score" => Command::Score(first),
        "rules" => Command::Rules,
        "mute" => Command::Mute(
            first.unwrap_or_default(),
            args.get(1..).unwrap_or(&[]).join(" "),
        ),
        "unmute" => Command::Unmute(first),
        "help" | "start" => Command::Help,
        other => Command::Unknown(other.chars().take(32).collect()),
    })
}

/// What one update is, before any IO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// A command from an allowed chat.
    Command {
        /// The chat to answer.
        chat: String,
        /// The command.
        cmd: Command,
    },
    /// A button press from an allowed chat.
    Callback {
        /// `callback_query.id`, for `answerCallbackQuery`.
        id: String,
        /// The chat of the message with the button.
        chat: String,
        /// `callback_data`.
        data: String,
    },
    /// From a chat that is not configured.
    IgnoredChat(String),
    /// Anything else (plain text, other update kinds).
    Other,
}

/// Route one update (`message` or `callback_query`) given the `allowed` chat ids (numeric ids as
/// text, or `@username`).
pub fn route(update: &Value, allowed: &[String]) -> Routed {
    let ok = |chat: &Value| {
        let id = match &chat["id"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return (false, String::new()),
        };
        let uname = chat["username"].as_str().map(|u| format!("@{u}"));
        let allowed = allowed
            .iter()
            .any(|a| *a == id || Some(a) == uname.as_ref());
        (allowed, id)
    };
    if let Some(cb) = update.get("callback_query") {
        let (allowed, chat) = ok(&cb["message"]["chat"]);
        if !allowed {
            return Routed::IgnoredChat(chat);
        }
        return Routed::Callback {
            id: cb["id"].as_str().unwrap_or("").to_string(),
            chat,
            data: cb["data"].as_str().unwrap_or("").to_string(),
        };
    }
    let Some(msg) = update.get("message") else {
        return Routed::Other;
    };
    let (allowed, chat) = ok(&msg["chat"]);
    if !allowed {
        return Routed::IgnoredChat(chat);
    }
    match msg["text"].as_str().and_then(parse_command) {
        Some(cmd) => Routed::Command { chat, cmd },
        None => Routed::Other,
    }
}

/// `/score`'s answer: the scorecard of the last 30 days of the store's own calls (all symbols or
/// `symbol`), one line per horizon — hit rate with its Wilson 95 % interval, against chance —
/// with "too few" said below 30 resolved calls and SANDBOX when scored on sandbox data (the
/// store's runs say so, or `sandbox`: this daemon runs against the sandbox).
/// Blocking (reads the store): call it on the blocking pool.
pub fn score_text(
    store: &dyn crate::store::StateStore,
    symbol: Option<&str>,
    now: Timestamp,
    sandbox: bool,
    score_opts: &crate::score::cli::ScoreOpts,
) -> String {
    let now_ms = now.as_millisecond();
    let opts = match score_opts.options(now_ms) {
        Ok(o) => o,
        Err(e) => return format!("scorecard unavailable: {e}"),
    };
    let since = now_ms - 30 * 24 * 3_600_000;
    let sym = symbol.map(str::to_ascii_uppercase);
    match crate::score::cli::score_store(store, sym.as_deref(), since, false, opts, None) {
        Err(e) => format!("scorecard unavailable: {e}"),
        Ok((mut card, _)) => {
            card.sandbox |= sandbox;
            score_summary(&card, sym.as_deref())
        }
    }
}

/// The text of a scorecard for a chat (pure).
pub fn score_summary(card: &crate::score::Scorecard, symbol: Option<&str>) -> String {
    let fmt_pct = |x: f64| format!("{:.0} %", x * 100.0);
    let mut out = format!(
        "scorecard{}{}, last 30 days: {} calls",
        if card.sandbox { " (SANDBOX data)" } else { "" },
        symbol.map(|s| format!(" {s}")).unwrap_or_default(),
        card.calls
    );
    if card.calls == 0 {
        out.push_str(
            "
no track record yet",
        );
        return out;
    }
    for h in &card.horizons {
        let Some(s) = card.overall.get(h) else {
            continue;
        };
        let line = match (s.hit_rate, s.ci95) {
            (Some(r), Some([lo, hi])) => format!(
                "{h}: {} of {} beat the cost (95 % {}–{}; chance {}){}",
                fmt_pct(r),
                s.n,
                fmt_pct(lo),
                fmt_pct(hi),
                s.chance_hit_rate.map(fmt_pct).unwrap_or_else(|| "–".into()),
                if s.low_n { ", too few to say" } else { "" }
            ),
            _ => format!("{h}: nothing resolved yet"),
        };
        out.push_str(&format!(
            "\n{line} · pending {} · gaps {}",
            s.pending, s.gaps
        ));
    }
    out
}

const HELP: &str = "sniper commands:\n/status — modules, data health, window, next run\n/calls [SYMBOL] — latest calls and their delivery\n/score [SYMBOL] — scorecard summary\n/rules — grading rules in force\n/mute SYMBOL|all DURATION — e.g. /mute SOL 1h\n/unmute [SYMBOL|all]";

/// One command listener (one bot).
pub struct Listener {
    /// The bot (shared with alerts/delivery).
    pub bot: TelegramBot,
    /// Bot id (offset key, lease job).
    pub bot_id: String,
    /// Configured chats.
    pub chats: Vec<String>,
    /// The store (offset, mutes, lease).
    pub store: AsyncStore,
    /// The daemon (for `/status`).
    pub app: Arc<App>,
    /// The signals (for `/calls`, `/rules`).
    pub engine: Arc<SignalEngine>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Per-chat command quota.
    pub limiter: Arc<DefaultKeyedRateLimiter<String>>,
    /// This replica's id.
    pub replica: String,
}

/// `per_min` commands a minute per chat, with a burst of at most 5.
pub fn quota(per_min: NonZeroU32) -> Quota {
    let burst = NonZeroU32::new(per_min.get().min(5)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_min).allow_burst(burst)
}

/// A per-chat limiter of [`quota`].
pub fn limiter(per_min: NonZeroU32) -> Arc<DefaultKeyedRateLimiter<String>> {
    Arc::new(RateLimiter::keyed(quota(per_min)))
}

impl Listener {
    fn allowed(&self) -> Vec<String> {
        let mut v = self.chats.clone();
        for c in &self.chats {
            let r = self.bot.resolve_chat(c);
            if !v.contains(&r) {
                v.push(r);
            }
        }
        v
    }

    fn offset_key(&self) -> String {
        format!("{OFFSET_PREFIX}{}", self.bot_id)
    }

    /// Handle one update at `now`; returns what became of it.
    pub async fn handle(&self, update: &Value, now: Timestamp) -> TelegramUpdate {
        match route(update, &self.allowed()) {
            Routed::Other => TelegramUpdate::Other,
            Routed::IgnoredChat(chat) => {
                tracing::info!(%chat, "telegram: update from a chat that is not configured; ignored");
                TelegramUpdate::IgnoredChat
            }
            Routed::Command { chat, cmd } => {
                if self.limiter.check_key(&chat).is_err() {
                    tracing::warn!(%chat, "telegram: command flood; dropped");
                    return TelegramUpdate::RateLimited;
                }
                let text = self.answer(&cmd, now).await;
                self.reply(&chat, &text, now).await;
                TelegramUpdate::Answered
            }
            Routed::Callback { id, chat, data } => {
                if self.limiter.check_key(&chat).is_err() {
                    return TelegramUpdate::RateLimited;
                }
                let (toast, message) = self.callback(&data, now).await;
                let body = json!({"callback_query_id": id, "text": toast});
                if let Err(f) = self
                    .bot
                    .call("answerCallbackQuery", &body, now, Duration::ZERO)
                    .await
                {
                    tracing::warn!(reason = %f.reason, "telegram: cannot answer the button");
                }
                if let Some(m) = message {
                    self.reply(&chat, &m, now).await;
                }
                TelegramUpdate::Answered
            }
        }
    }

    async fn reply(&self, chat: &str, text: &str, now: Timestamp) {
        if let Err(f) = self
            .bot
            .send_text(chat, text, &SendOptions::default(), now)
            .await
        {
            tracing::warn!(%chat, reason = %f.reason, "telegram: cannot answer the command");
        }
    }

    async fn callback(&self, data: &str, now: Timestamp) -> (String, Option<String>) {
        let mut parts = data.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("mute"), Some(sym), Some(dur)) => {
                let text = self.mute(sym, dur, now).await;
                (text.clone(), Some(text))
            }
            (Some("details"), Some(key), None) => ("details".into(), Some(self.details(key).await)),
            _ => ("unknown button".into(), None),
        }
    }

    async fn details(&self, key: &str) -> String {
        match self.store.outbox().await {
            Ok(rows) => {
                let mine: Vec<_> = rows.iter().filter(|r| r.key == key).collect();
                let Some(first) = mine.first() else {
                    return format!("call {key} is no longer kept");
                };
                let mut s = first.body["text"].as_str().unwrap_or("").to_string();
                for r in &mine {
                    let v = crate::signals::delivery::view(r);
                    s.push_str(&format!(
                        "\n{}: {}{}",
                        v.channel,
                        v.state.as_str(),
                        v.reason.map(|r| format!(" ({r})")).unwrap_or_default()
                    ));
                }
                s
            }
            Err(e) => format!("store error: {e}"),
        }
    }

    async fn mute(&self, target: &str, dur: &str, now: Timestamp) -> String {
        let t = match mute::mute_target(target) {
            Ok(t) => t,
            Err(e) => return format!("usage: /mute SYMBOL|all DURATION — {e}"),
        };
        let d = match mute::mute_duration(dur) {
            Ok(d) => d,
            Err(e) => return format!("usage: /mute SYMBOL|all DURATION — {e}"),
        };
        match mute::mute(&self.store, &t, d, now).await {
            Ok(until) => {
                let what = if t == "*" { "all calls".to_string() } else { t };
                tracing::info!(%what, %until, "telegram: muted");
                format!("🔕 {what} muted until {}", short_time(until))
            }
            Err(e) => format!("cannot keep the mute: {e}"),
        }
    }

    /// The answer to `cmd` at `now`.
    pub async fn answer(&self, cmd: &Command, now: Timestamp) -> String {
        match cmd {
            Command::Help => HELP.to_string(),
            Command::Unknown(w) => format!("unknown command /{w}\n\n{HELP}"),
            Command::Status => {
                let mut s = status_text(&self.app, now);
                if let Ok(m) = mute::load(&self.store).await {
                    for (t, u) in m.active(now) {
                        let what = if t == "*" { "all".to_string() } else { t };
                        s.push_str(&format!("\nmuted: {what} until {}", short_time(u)));
                    }
                }
                s
            }
            Command::Score(sym) => {
                let store = self.store.inner().clone();
                let sym = sym.clone();
                let sandbox = self.app.runner.config().sandbox;
                let opts = self.engine.score_opts();
                tokio::task::spawn_blocking(move || {
                    score_text(store.as_ref(), sym.as_deref(), now, sandbox, &opts)
                })
                .await
                .unwrap_or_else(|e| format!("scorecard unavailable: {e}"))
            }
            Command::Rules => format!("rules in force:\n{}", self.engine.rules().to_toml()),
            Command::Calls(sym) => self.calls(sym.as_deref()).await,
            Command::Mute(t, d) => self.mute(t, d, now).await,
            Command::Unmute(t) => {
                let target = match t.as_deref().map(mute::mute_target).transpose() {
                    Ok(t) => t,
                    Err(e) => return format!("usage: /unmute [SYMBOL|all] — {e}"),
                };
                // `/unmute` and `/unmute all` lift every mute; `/unmute SOL` only SOL's.
                let target = target.filter(|t| t != "*");
                match mute::unmute(&self.store, target.as_deref()).await {
                    Ok(0) => "nothing was muted".to_string(),
                    Ok(n) => format!("🔔 {n} mute(s) lifted"),
                    Err(e) => format!("cannot lift the mute: {e}"),
                }
            }
        }
    }

    async fn calls(&self, symbol: Option<&str>) -> String {
        // The calls made (the cooldown let them through), not every run's repeat of one.
        let q = SignalQuery {
            symbol: symbol.map(|s| s.trim().to_string()),
            since: None,
            calls_only: true,
            made_only: true,
            limit: CALLS_LISTED,
            ascending: false,
        };
        let rows = match self.store.signals(q).await {
            Ok(r) => r,
            Err(e) => return format!("store error: {e}"),
        };
        if rows.is_empty() {
            return match symbol {
                Some(s) => format!("no call for {s} yet"),
                None => "no call yet".to_string(),
            };
        }
        let outbox = self.store.outbox().await.unwrap_or_default();
        let mut s = String::from("latest calls:");
        for r in crate::signals::api::with_deliveries(rows, &outbox) {
            let d: Vec<String> = r["deliveries"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .map(|x| {
                            format!(
                                "{} {}",
                                x["channel"].as_str().unwrap_or("?"),
                                x["state"].as_str().unwrap_or("?")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            s.push_str(&format!(
                "\n{} {} {} {} score {}{}",
                r["at"]
                    .as_str()
                    .and_then(|t| t.parse::<Timestamp>().ok())
                    .map(short_time)
                    .unwrap_or_default(),
                r["symbol"].as_str().unwrap_or(""),
                r["direction"].as_str().unwrap_or(""),
                r["level"].as_str().unwrap_or(""),
                r["score"].as_u64().unwrap_or(0),
                if d.is_empty() {
                    " (cooldown)".to_string()
                } else {
                    format!(" — {}", d.join(", "))
                }
            ));
        }
        s
    }
}

/// A time for the chat: `2026-12-02 16:08:46 UTC`.
pub fn short_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `/status`: modules with their breaker and the last run's data health, the window, the next
/// run.
pub fn status_text(app: &App, now: Timestamp) -> String {
    let snap = app.status.snapshot();
    let w = &app.window;
    let window = if w.start() == w.end() {
        "window: always open".to_string()
    } else {
        format!(
            "window {}–{} {} ({})",
            w.start().strftime("%H:%M"),
            w.end().strftime("%H:%M"),
            w.tz_name(),
            if w.contains(now) {
                "open".to_string()
            } else {
                format!("closed, opens {}", short_time(w.next_opening(now)))
            }
        )
    };
    let mut s = format!(
        "sniper status{}\n{window}",
        if app.runner.config().sandbox {
            " [SANDBOX]"
        } else {
            ""
        },
    );
    match snap.next_run_at {
        Some(t) => s.push_str(&format!("\nnext run {}", short_time(t))),
        None => s.push_str("\nnext run: not scheduled"),
    }
    let last = app.latest();
    match (snap.last_run_at, snap.last_outcome) {
        (Some(t), Some(o)) => s.push_str(&format!(
            "\nlast run {}: {o}, {} hard failure(s) in a row",
            short_time(t),
            snap.consecutive_failures
        )),
        _ => s.push_str("\nno run yet"),
    }
    let views = app.runner.breaker_views();
    let soft: Vec<&String> = last.iter().flat_map(|r| r.soft_fails.iter()).collect();
    for m in crate::module_id::ModuleId::ALL {
        let enabled = app.runner.config().features.enabled(m);
        let breaker = views.get(&m).map(|v| v.state.as_str()).unwrap_or("closed");
        let used = last.iter().any(|r| r.used_modules.contains(&m));
        let fails: Vec<&str> = soft
            .iter()
            .filter(|f| f.starts_with(m.as_str()))
            .map(|f| f.as_str())
            .collect();
        let health = if !enabled {
            "disabled".to_string()
        } else if used {
            "data ok".to_string()
        } else if !fails.is_empty() {
            fails.join("; ")
        } else {
            "no data".to_string()
        };
        s.push_str(&format!("\n• {m}: {health} (breaker {breaker})"));
    }
    s
}

/// One Telegram client per bot: the alerter's and the deliverer's share one [`TelegramBot`]
/// when the token and API base are the same (one flood-control gate, one set of chat
/// migrations, kept in `store`). Returns both, rewired, and each bot with the configured chats
/// it serves (`alert_chat`, `signal_chat`) — the command listeners' input.
pub async fn share_bots(
    alerter: crate::daemon::alerts::Alerter,
    deliverer: crate::signals::delivery::Deliverer,
    alert_chat: Option<String>,
    signal_chat: Option<String>,
    store: &AsyncStore,
) -> (
    crate::daemon::alerts::Alerter,
    crate::signals::delivery::Deliverer,
    Vec<(TelegramBot, Vec<String>)>,
) {
    let mut bots: Vec<(TelegramBot, Vec<String>)> = Vec::new();
    let alerter = match alerter.telegram_bot().cloned() {
        Some(b) => {
            let b = b.with_store(store.clone()).await;
            bots.push((b.clone(), alert_chat.into_iter().collect()));
            alerter.with_telegram_bot(b)
        }
        None => alerter,
    };
    let deliverer = match deliverer.telegram_bot().cloned() {
        Some(b) => {
            let b = match bots.iter_mut().find(|(x, _)| x.same_bot(&b)) {
                Some((shared, chats)) => {
                    chats.extend(signal_chat.filter(|c| !chats.contains(c)));
                    shared.clone()
                }
                None => {
                    let b = b.with_store(store.clone()).await;
                    bots.push((b.clone(), signal_chat.into_iter().collect()));
                    b
                }
            };
            deliverer.with_telegram_bot(b)
        }
        None => deliverer,
    };
    (alerter, deliverer, bots)
}

/// Start one listener per bot in `bots` (each with the configured chats it serves), unless
/// commands are off. Returns the tasks.
#[allow(clippy::too_many_arguments)]
pub fn spawn_listeners(
    bots: &[(TelegramBot, Vec<String>)],
    settings: &TelegramSettings,
    store: &AsyncStore,
    app: &Arc<App>,
    engine: &Arc<SignalEngine>,
    metrics: &Arc<Metrics>,
    replica: &str,
    shutdown: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    if !settings.commands {
        if !bots.is_empty() {
            tracing::info!("telegram commands off (TELEGRAM_COMMANDS=off)");
        }
        return Vec::new();
    }
    let limiter = limiter(settings.per_min);
    bots.iter()
        .filter(|(_, chats)| !chats.is_empty())
        .map(|(bot, chats)| {
            let l = Listener {
                bot: bot.clone(),
                bot_id: bot.id(),
                chats: chats.clone(),
                store: store.clone(),
                app: app.clone(),
                engine: engine.clone(),
                metrics: metrics.clone(),
                limiter: limiter.clone(),
                replica: replica.to_string(),
            };
            tokio::spawn(listen(l, shutdown.clone()))
        })
        .collect()
}

/// The allowed chats, the lease, the offset: poll until `shutdown`.
pub async fn listen(l: Listener, mut shutdown: watch::Receiver<bool>) {
    let key = l.offset_key();
    let job = format!("telegram_poll.{}", l.bot_id);
    let mut offset: i64 = match l.store.setting(key.clone()).await {
        Ok(v) => v.and_then(|v| v.trim().parse().ok()).unwrap_or(0),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the telegram update offset; starting at 0");
            0
        }
    };
    tracing::info!(bot = %l.bot_id, offset, chats = l.chats.len(), "telegram commands: listening");
    let shared = l.store.is_shared();
    let mut owned_slot: Option<i64> = None;
    let mut failures: u32 = 0;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = Timestamp::now();
        let mut timeout_s = POLL_TIMEOUT_S;
        if shared {
            let slot = now.as_millisecond().div_euclid(60_000);
            if owned_slot != Some(slot) {
                // The job name holds the bot id, so the store is called on the blocking pool
                // directly (`AsyncStore::claim_tick` takes a static job name).
                let (inner, j, r) = (l.store.inner().clone(), job.clone(), l.replica.clone());
                let claimed = tokio::task::spawn_blocking(move || inner.claim_tick(&j, slot, &r))
                    .await
                    .unwrap_or_else(|e| {
                        Err(crate::store::StoreError::Corrupt(format!(
                            "lease task: {e}"
                        )))
                    });
                match claimed {
                    Ok(true) => owned_slot = Some(slot),
                    Ok(false) => {
                        owned_slot = None;
                        let left = 60_000 - now.as_millisecond().rem_euclid(60_000);
                        wait(&mut shutdown, Duration::from_millis(left as u64 + 50)).await;
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "telegram poll lease: store error; not polling this minute");
                        wait(&mut shutdown, Duration::from_secs(5)).await;
                        continue;
                    }
                }
            }
            let left_s = (60_000 - now.as_millisecond().rem_euclid(60_000)) / 1000;
            timeout_s = timeout_s.min(u64::try_from(left_s.saturating_sub(2)).unwrap_or(0));
        }
        let body = json!({
            "offset": offset,
            "timeout": timeout_s,
            "allowed_updates": ["message", "callback_query"],
        });
        let res = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            r = l.bot.call("getUpdates", &body, now, Duration::from_secs(timeout_s)) => r,
        };
        let updates = match res {
            Ok(Value::Array(u)) => {
                failures = 0;
                u
            }
            Ok(_) => Vec::new(),
            Err(f) => {
                failures += 1;
                let pause = match f.kind {
                    FailureKind::RateLimited { retry_after } => retry_after,
                    FailureKind::Permanent { status: 409 } => {
                        tracing::warn!(
                            "telegram: another process polls this bot (409); backing off"
                        );
                        Duration::from_secs(30)
                    }
                    FailureKind::Permanent { status: 401 | 404 } => {
                        tracing::error!(reason = %f.reason, "telegram: the bot token is refused; commands paused");
                        Duration::from_secs(300)
                    }
                    _ => crate::notify::classify::backoff(failures).min(Duration::from_secs(60)),
                };
                tracing::warn!(reason = %f.reason, pause_s = pause.as_secs(), "telegram getUpdates failed");
                wait(&mut shutdown, pause).await;
                continue;
            }
        };
        if updates.is_empty() && timeout_s == 0 {
            wait(&mut shutdown, Duration::from_secs(1)).await;
        }
        for u in updates {
            let Some(id) = u["update_id"].as_i64() else {
                continue;
            };
            if id < offset {
                continue;
            }
            let result = l.handle(&u, Timestamp::now()).await;
            l.metrics.record_telegram_update(result);
            offset = id + 1;
            if let Err(e) = l.store.put_setting(key.clone(), offset.to_string()).await {
                tracing::warn!(error = %e, "cannot keep the telegram update offset");
            }
        }
    }
    tracing::info!(bot = %l.bot_id, "telegram commands: stopped");
}

async fn wait(shutdown: &mut watch::Receiver<bool>, d: Duration) {
    tokio::select! {
        _ = shutdown.wait_for(|s| *s) => {}
        () = tokio::time::sleep(d) => {}
    }
}

/// `GET /api/telegram`: the chat's state for the page — commands on/off, chat migrations
/// followed, mutes running, flood-control wait, per event kind levels.
#[derive(Clone)]
pub struct TelegramView {
    /// Bots in use (alerts, signals).
    pub bots: Vec<TelegramBot>,
    /// `on`/`off`.
    pub commands: bool,
    /// Levels.
    pub prefs: NotifyPrefs,
    /// Store (mutes).
    pub store: AsyncStore,
}

async fn telegram_state(
    axum::extract::State(v): axum::extract::State<TelegramView>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let now = Timestamp::now();
    let mutes = mute::load(&v.store).await.unwrap_or_default();
    let mut migrations = Vec::new();
    let mut limited: Option<Timestamp> = None;
    for b in &v.bots {
        migrations.extend(b.migrations());
        limited = limited.max(b.rate_limited_until(now));
    }
    axum::Json(json!({
        "configured": !v.bots.is_empty(),
        "commands": if v.commands && !v.bots.is_empty() { "on" } else { "off" },
        "notify": v.prefs,
        "migrations": migrations,
        "mutes": mutes.active(now).into_iter().map(|(t, u)| json!({"target": t, "until": u})).collect::<Vec<_>>(),
        "rate_limited_until": limited,
    }))
    .into_response()
}

/// The route `GET /api/telegram`, ready to `merge`.
pub fn routes(view: TelegramView) -> axum::Router {
    axum::Router::new()
        .route("/api/telegram", axum::routing::get(telegram_state))
        .with_state(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(parse_command("/status"), Some(Command::Status));
        assert_eq!(parse_command(" /status@sniper_bot "), Some(Command::Status));
        assert_eq!(
            parse_command("/calls SOL"),
            Some(Command::Calls(Some("SOL".into())))
        );
        assert_eq!(parse_command("/calls"), Some(Command::Calls(None)));
        assert_eq!(
            parse_command("/mute SOL 1 h"),
            Some(Command::Mute("SOL".into(), "1 h".into()))
        );
        assert_eq!(parse_command("/unmute"), Some(Command::Unmute(None)));
        assert_eq!(parse_command("/start"), Some(Command::Help));
        assert_eq!(
            parse_command("/rm -rf"),
            Some(Command::Unknown("rm".into()))
        );
        assert_eq!(parse_command("hello"), None);
    }

    #[test]
    fn routing_answers_only_configured_chats() {
        let allowed = vec!["-100".to_string(), "@desk".to_string()];
        let msg = |chat: Value, text: &str| json!({"update_id": 1, "message": {"chat": chat, "text": text}});
        assert_eq!(
            route(&msg(json!({"id": -100}), "/status"), &allowed),
            Routed::Command {
                chat: "-100".into(),
                cmd: Command::Status
            }
        );
        assert_eq!(
            route(
                &msg(json!({"id": -7, "username": "desk"}), "/rules"),
                &allowed
            ),
            Routed::Command {
                chat: "-7".into(),
                cmd: Command::Rules
            }
        );
        assert_eq!(
            route(&msg(json!({"id": 42}), "/status"), &allowed),
            Routed::IgnoredChat("42".into())
        );
        assert_eq!(
            route(&msg(json!({"id": -100}), "just chatting"), &allowed),
            Routed::Other
        );
        assert_eq!(
            route(&json!({"update_id": 3, "edited_message": {}}), &allowed),
            Routed::Other
        );
        let cb = json!({"update_id": 2, "callback_query": {"id": "q1", "data": "mute:SOL:1h",
            "message": {"chat": {"id": -100}}}});
        assert_eq!(
            route(&cb, &allowed),
            Routed::Callback {
                id: "q1".into(),
                chat: "-100".into(),
                data: "mute:SOL:1h".into()
            }
        );
        let cb_other =
            json!({"callback_query": {"id": "q", "data": "x", "message": {"chat": {"id": 5}}}});
        assert_eq!(route(&cb_other, &allowed), Routed::IgnoredChat("5".into()));
    }

    #[test]
    fn settings_validate_and_name_the_variable() {
        let a = TelegramArgs {
            telegram_commands: "on".into(),
            telegram_commands_per_min: "20".into(),
            telegram_notify_action: "on".into(),
            telegram_notify_watch: "silent".into(),
            telegram_notify_failure: "on".into(),
            telegram_notify_recovery: "off".into(),
        };
        let s = a.into_settings().unwrap();
        assert!(s.commands);
        assert_eq!(s.prefs.watch, crate::notify::NotifyLevel::Silent);
        let mut b = a.clone();
        b.telegram_notify_action = "loud".into();
        assert_eq!(b.into_settings().unwrap_err().var, "TELEGRAM_NOTIFY_ACTION");
        let mut c = a.clone();
        c.telegram_commands_per_min = "0".into();
        assert_eq!(
            c.into_settings().unwrap_err().var,
            "TELEGRAM_COMMANDS_PER_MIN"
        );
        let mut d = a;
        d.telegram_commands = "maybe".into();
        assert_eq!(d.into_settings().unwrap_err().var, "TELEGRAM_COMMANDS");
    }

    #[test]
    fn a_flood_is_limited_per_chat_under_a_fake_clock() {
        let clock = governor::clock::FakeRelativeClock::default();
        let l = RateLimiter::dashmap_with_clock(quota(NonZeroU32::new(20).unwrap()), clock.clone());
        let a = "a".to_string();
        let passed = |n| (0..n).filter(|_| l.check_key(&a).is_ok()).count();
        // The burst passes, the rest of the flood does not; another chat has its own quota.
        assert_eq!(passed(30), 5);
        assert!(l.check_key(&"b".to_string()).is_ok());
        // 20 a minute: one more every 3 s.
        clock.advance(Duration::from_millis(2900));
        assert_eq!(passed(5), 0);
        clock.advance(Duration::from_millis(100));
        assert_eq!(passed(5), 1);
    }
}
