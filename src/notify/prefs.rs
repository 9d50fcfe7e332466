//! Per event kind Telegram notification settings: `on` (with sound), `silent`
//! (`disable_notification`), `off` (not sent; the call's Telegram delivery shows `muted`).
//!
//! From `TELEGRAM_NOTIFY_ACTION`, `TELEGRAM_NOTIFY_WATCH`, `TELEGRAM_NOTIFY_FAILURE`,
//! `TELEGRAM_NOTIFY_RECOVERY` (default `on`), validated at start-up: a bad value is an error
//! naming the variable and the accepted values (exit 2). Webhooks are machine receivers and
//! always get every event.

/// How one event kind reaches the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyLevel {
    /// Sent with sound.
    #[default]
    On,
    /// Sent without sound (`disable_notification`).
    Silent,
    /// Not sent.
    Off,
}

impl NotifyLevel {
    /// `on`, `silent`, `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyLevel::On => "on",
            NotifyLevel::Silent => "silent",
            NotifyLevel::Off => "off",
        }
    }

    /// Parse `on|silent|off` (case-insensitive, trimmed; blank = `on`).
    pub fn parse(var: &'static str, v: &str) -> Result<NotifyLevel, BadNotifyLevel> {
        match v.trim().to_ascii_lowercase().as_str() {
            "" | "on" => Ok(NotifyLevel::On),
            "silent" => Ok(NotifyLevel::Silent),
            "off" => Ok(NotifyLevel::Off),
            _ => Err(BadNotifyLevel {
                var,
                value: v.to_string(),
            }),
        }
    }
}

/// A notification level that is not `on`, `silent` or `off`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}={value:?}: expected on, silent or off")]
pub struct BadNotifyLevel {
    /// The variable.
    pub var: &'static str,
    /// The value given.
    pub value: String,
}

/// The four event kinds' levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct NotifyPrefs {
    /// Action calls.
    pub action: NotifyLevel,
    /// Watch calls.
    pub watch: NotifyLevel,
    /// Failure alerts.
    pub failure: NotifyLevel,
    /// Recovery alerts.
    pub recovery: NotifyLevel,
}

impl NotifyPrefs {
    /// Parse the four variables' values (in the order action, watch, failure, recovery).
    pub fn parse(
        action: &str,
        watch: &str,
        failure: &str,
        recovery: &str,
    ) -> Result<NotifyPrefs, BadNotifyLevel> {
        Ok(NotifyPrefs {
            action: NotifyLevel::parse("TELEGRAM_NOTIFY_ACTION", action)?,
            watch: NotifyLevel::parse("TELEGRAM_NOTIFY_WATCH", watch)?,
            failure: NotifyLevel::parse("TELEGRAM_NOTIFY_FAILURE", failure)?,
            recovery: NotifyLevel::parse("TELEGRAM_NOTIFY_RECOVERY", recovery)?,
        })
    }

    /// The level of a call of `level` (`action` or `watch`; anything else counts as watch).
    pub fn for_call(&self, level: &str) -> NotifyLevel {
        if level == "action" {
            self.action
        } else {
            self.watch
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_errors_name_the_variable() {
        let p = NotifyPrefs::parse("on", " SILENT ", "off", "").unwrap();
        assert_eq!(
            (p.action, p.watch, p.failure, p.recovery),
            (
                NotifyLevel::On,
                NotifyLevel::Silent,
                NotifyLevel::Off,
                NotifyLevel::On
            )
        );
        assert_eq!(p.for_call("watch"), NotifyLevel::Silent);
        let e = NotifyPrefs::parse("on", "loud", "on", "on").unwrap_err();
        assert_eq!(e.var, "TELEGRAM_NOTIFY_WATCH");
        assert_eq!(
            e.to_string(),
            "TELEGRAM_NOTIFY_WATCH=\"loud\": expected on, silent or off"
        );
    }
}
