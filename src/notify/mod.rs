//! Notifications: the one Telegram client and the one webhook client, below `daemon` (failure
//! alerts, the command listener) and `signals` (call delivery), with the delivery rules of issue
//! 24 in one place.
//!
//! - [`classify`]: pure — one answer (status, headers, body) → delivered or a [`Failure`] kind
//!   (rate limited, migrated, redirected, permanent, transient), and [`next_step`] (retry when,
//!   or give up), clock as a parameter;
//! - [`text`]: pure — HTML escaping and splitting under Telegram's 4 096-character limit;
//! - [`telegram`]: the Bot API client (flood-control gate, chat migrations kept in the store);
//! - [`webhook`]: the webhook client (redirect rules, `Idempotency-Key`).

pub mod classify;
pub mod prefs;
pub mod telegram;
pub mod text;
pub mod webhook;

pub use classify::{Failure, FailureKind, Next, next_step};
pub use prefs::{NotifyLevel, NotifyPrefs};
pub use telegram::{SendOptions, Sent, TelegramBot, no_redirect_client};
pub use text::{escape_html, split_message};
pub use webhook::{Posted, WebhookClient};
