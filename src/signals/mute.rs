//! Mutes of the Telegram chat (`/mute SYMBOL|all DURATION`, the "mute SOL 1 h" button):
//! a call whose symbol (or `all`) is muted is not sent to Telegram — its delivery shows `muted`.
//! Webhooks are machine receivers and are never muted.
//!
//! Kept in the store's settings as `telegram.mute.<TARGET>` = until (epoch ms), `TARGET` the
//! upper-case symbol or `*` for all, so a restart keeps them. Expiry is decided by
//! [`Mutes::muted`] under a clock parameter.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

use crate::store::{AsyncStore, StoreError};

/// Settings key prefix of a mute.
pub const MUTE_PREFIX: &str = "telegram.mute.";
/// Longest mute: 30 days.
pub const MAX_MUTE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why a `/mute` argument was refused (the text is the chat's answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MuteError {
    /// Not a symbol nor `all`.
    #[error("{0:?} is not a symbol (letters, digits, . _ - up to 24) nor \"all\"")]
    BadTarget(String),
    /// Not a duration.
    #[error(
        "{0:?} is not a duration: a number and a unit m, h or d (30m, 1h, 2d), at most 30 days"
    )]
    BadDuration(String),
}

/// `all` → `*`; a symbol → upper case (letters, digits, `.`, `_`, `-`, 1–24 characters).
pub fn mute_target(arg: &str) -> Result<String, MuteError> {
    let a = arg.trim();
    if a.eq_ignore_ascii_case("all") || a == "*" {
        return Ok("*".into());
    }
    let ok = (1..=24).contains(&a.len())
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(a.to_ascii_uppercase())
    } else {
        Err(MuteError::BadTarget(a.chars().take(40).collect()))
    }
}

/// `30m`, `1h`, `1 h`, `2d`, `90s`, `1 hour`: the one duration grammar
/// ([`crate::config::duration_within`]) after the chat's spellings are normalised (spaces
/// dropped, `min`/`hour`/`day`… to `m`/`h`/`d`); positive, at most [`MAX_MUTE`].
pub fn mute_duration(arg: &str) -> Result<Duration, MuteError> {
    let bad = || MuteError::BadDuration(arg.trim().chars().take(40).collect());
    let a: String = arg
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let split = a.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (num, unit) = a.split_at(split);
    let unit = match unit {
        "sec" | "secs" => "s",
        "min" | "mins" => "m",
        "hr" | "hrs" | "hour" | "hours" => "h",
        "day" | "days" => "d",
        u => u,
    };
    crate::config::duration_within(&format!("{num}{unit}"), MAX_MUTE).map_err(|_| bad())
}

/// The mutes kept, by target (`*` = all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mutes(pub BTreeMap<String, Timestamp>);

impl Mutes {
    /// From the store's `telegram.mute.*` rows; unreadable values are skipped.
    pub fn from_settings(rows: &[(String, String)]) -> Mutes {
        Mutes(
            rows.iter()
                .filter_map(|(k, v)| {
                    let t = k.strip_prefix(MUTE_PREFIX)?;
                    let ms: i64 = v.trim().parse().ok()?;
                    Some((t.to_string(), Timestamp::from_millisecond(ms).ok()?))
                })
                .collect(),
        )
    }

    /// The mute silencing `symbol` at `now` (target and until), if any: `*`, the symbol itself
    /// (case-insensitive) or its base asset (`SOL` mutes `SOLUSDT`).
    pub fn muted(&self, symbol: &str, now: Timestamp) -> Option<(String, Timestamp)> {
        let up = symbol.trim().to_ascii_uppercase();
        let base = crate::symbol::forms(symbol)
            .map(|f| f.base.to_ascii_uppercase())
            .ok();
        ["*".to_string(), up]
            .into_iter()
            .chain(base)
            .filter_map(|t| self.0.get(&t).map(|u| (t, *u)))
            .filter(|(_, until)| *until > now)
            .max_by_key(|(_, until)| *until)
    }

    /// Mutes still running at `now`, by target.
    pub fn active(&self, now: Timestamp) -> Vec<(String, Timestamp)> {
        self.0
            .iter()
            .filter(|(_, u)| **u > now)
            .map(|(t, u)| (t.clone(), *u))
            .collect()
    }
}

/// Read the mutes from the store.
pub async fn load(store: &AsyncStore) -> Result<Mutes, StoreError> {
    let rows = store.settings_with_prefix(MUTE_PREFIX.to_string()).await?;
    Ok(Mutes::from_settings(&rows))
}

/// Mute `target` (from [`mute_target`]) for `d` from `now`; returns the end.
pub async fn mute(
    store: &AsyncStore,
    target: &str,
    d: Duration,
    now: Timestamp,
) -> Result<Timestamp, StoreError> {
    let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4);
    let until = Timestamp::from_millisecond(now.as_millisecond().saturating_add(ms)).unwrap_or(now);
    store
        .put_setting(
            format!("{MUTE_PREFIX}{target}"),
            until.as_millisecond().to_string(),
        )
        .await?;
    Ok(until)
}

/// Lift the mute of `target`, or every mute when `None`; returns how many were lifted.
pub async fn unmute(store: &AsyncStore, target: Option<&str>) -> Result<usize, StoreError> {
    let keys: Vec<String> = match target {
        Some(t) => vec![format!("{MUTE_PREFIX}{t}")],
        None => store
            .settings_with_prefix(MUTE_PREFIX.to_string())
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect(),
    };
    let mut n = 0;
    for k in keys {
        if store.delete_setting(k).await? {
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn targets_and_durations() {
        assert_eq!(mute_target("all").unwrap(), "*");
        assert_eq!(mute_target(" sol ").unwrap(), "SOL");
        assert!(mute_target("SOL; DROP").is_err());
        assert!(mute_target("").is_err());
        assert_eq!(mute_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(mute_duration("1 h").unwrap(), Duration::from_secs(3600));
        assert_eq!(mute_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(mute_duration("2d").unwrap(), Duration::from_secs(172_800));
        for bad in ["0h", "h", "1y", "31d", "-1h", ""] {
            assert!(mute_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expiry_under_a_fake_clock() {
        let rows = vec![
            (
                format!("{MUTE_PREFIX}SOL"),
                t(3600).as_millisecond().to_string(),
            ),
            (
                format!("{MUTE_PREFIX}*"),
                t(60).as_millisecond().to_string(),
            ),
            (format!("{MUTE_PREFIX}BAD"), "x".into()),
            ("other".into(), "1".into()),
        ];
        let m = Mutes::from_settings(&rows);
        assert_eq!(m.0.len(), 2);
        // Both run at t(0): the later end is reported.
        assert_eq!(m.muted("SOL", t(0)), Some(("SOL".into(), t(3600))));
        assert_eq!(m.muted("BTC", t(0)), Some(("*".into(), t(60))));
        // `all` ended at t(60): BTC is free, SOL still muted (its base matches SOLUSDT too).
        assert_eq!(m.muted("BTC", t(60)), None);
        assert_eq!(m.muted("SOLUSDT", t(61)), Some(("SOL".into(), t(3600))));
        assert_eq!(m.muted("sol", t(3599)).map(|x| x.1), Some(t(3600)));
        assert_eq!(m.muted("SOL", t(3600)), None);
        assert_eq!(m.active(t(100)), vec![("SOL".to_string(), t(3600))]);
    }
}
