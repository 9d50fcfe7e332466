//! When a module's data can have changed: per-module refresh intervals, the backend's own cache
//! headers, and conditional revalidation. Pure: every function takes the time as a parameter.
//!
//! A module is fetched when its last usable data is older than its refresh interval — or than the
//! backend's `Cache-Control: max-age` / `Expires`, when that is longer (RFC 9111 §4.2.1: a fresh
//! response may be reused without asking). When it is due and the last answer carried an `ETag` or
//! `Last-Modified`, the request is conditional (RFC 9110 §13.1); a `304` makes the data fresh again.

use std::collections::BTreeMap;
use std::time::Duration;

use http::HeaderMap;
use jiff::Timestamp;
use serde::Serialize;

use crate::market::MarketData;
use crate::module_id::ModuleId;

/// The validators of an answer, for a conditional request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag`, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// `Last-Modified`, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

impl Validators {
    /// The validators an answer carries (none when it carries neither header).
    pub fn from_headers(h: &HeaderMap) -> Option<Validators> {
        let get = |name: http::header::HeaderName| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= 256)
                .map(str::to_string)
        };
        let v = Validators {
            etag: get(http::header::ETAG),
            last_modified: get(http::header::LAST_MODIFIED),
        };
        (v.etag.is_some() || v.last_modified.is_some()).then_some(v)
    }

    /// The conditional request headers.
    pub fn request_headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(e) = self.etag.as_deref().and_then(|v| v.parse().ok()) {
            h.insert(http::header::IF_NONE_MATCH, e);
        }
        if let Some(l) = self.last_modified.as_deref().and_then(|v| v.parse().ok()) {
            h.insert(http::header::IF_MODIFIED_SINCE, l);
        }
        h
    }
}

/// How long the backend says an answer stays fresh: `Cache-Control: max-age` (or `s-maxage`),
/// else `Expires` − `Date`/now. `no-store`/`no-cache` give 0. `None` when it says nothing.
pub fn backend_freshness(h: &HeaderMap, now: Timestamp) -> Option<Duration> {
    if let Some(cc) = h
        .get(http::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
    {
        let mut max_age = None;
        for d in cc.split(',').map(|d| d.trim().to_ascii_lowercase()) {
            if d == "no-store" || d == "no-cache" {
                return Some(Duration::ZERO);
            }
            if let Some(v) = d
                .strip_prefix("s-maxage=")
                .or_else(|| d.strip_prefix("max-age="))
                && let Ok(secs) = v.trim_matches('"').parse::<u64>()
            {
                max_age = Some(Duration::from_secs(secs.min(86_400 * 365)));
            }
        }
        if max_age.is_some() {
            return max_age;
        }
    }
    let expires = h.get(http::header::EXPIRES).and_then(|v| v.to_str().ok())?;
    // An invalid Expires (e.g. "0") means already expired (RFC 9111 §5.3).
    let Ok(at) = jiff::fmt::rfc2822::parse(expires).map(|z| z.timestamp()) else {
        return Some(Duration::ZERO);
    };
    Some(Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO))
}

/// The last usable data of a module for one symbol (or for every symbol, for the symbol-independent
/// modules).
#[derive(Debug, Clone)]
pub struct CacheEntry {
    pub data: MarketData,
    /// When it was fetched (or last revalidated).
    pub fetched_at: Timestamp,
    /// Until when it may be reused without asking.
    pub fresh_until: Timestamp,
    pub validators: Option<Validators>,
    /// Path and query that produced it (validators belong to this URL).
    pub request: Option<String>,
}

impl CacheEntry {
    /// An entry for data fetched at `now`: fresh for the longer of `refresh` and the backend's own
    /// freshness.
    pub fn new(
        data: MarketData,
        now: Timestamp,
        refresh: Duration,
        backend: Option<Duration>,
        validators: Option<Validators>,
    ) -> CacheEntry {
        CacheEntry {
            data,
            fetched_at: now,
            fresh_until: fresh_until(now, refresh, backend),
            validators,
            request: None,
        }
    }

    /// A `304` at `now`: the same data, fresh again.
    pub fn revalidated(&mut self, now: Timestamp, refresh: Duration, backend: Option<Duration>) {
        self.fetched_at = now;
        self.fresh_until = fresh_until(now, refresh, backend);
    }

    /// Age of the data at `now`, milliseconds (0 if the clock went back).
    pub fn age_ms(&self, now: Timestamp) -> u64 {
        u64::try_from(now.as_millisecond() - self.fetched_at.as_millisecond()).unwrap_or(0)
    }
}

/// `now` + the longer of the refresh interval and the backend's freshness.
pub fn fresh_until(now: Timestamp, refresh: Duration, backend: Option<Duration>) -> Timestamp {
    let d = refresh.max(backend.unwrap_or(Duration::ZERO));
    now.checked_add(jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX))
        .unwrap_or(Timestamp::MAX)
}

/// What to do about one module's data for one symbol now.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Still fresh: reuse, no request.
    Reuse,
    /// Due: fetch, conditionally when validators are known. `overdue_ms` orders fetches when the
    /// budget is short (the most overdue first; never fetched = `u64::MAX`).
    Fetch {
        conditional: Option<Validators>,
        overdue_ms: u64,
    },
}

/// Fetch or reuse, from the last entry and the time. `now` is on the same steady (monotonic)
/// timeline the entry was made on; an entry that reads as fetched after `now` (a negative age: the
/// clock went back) is never fresh.
pub fn decide(entry: Option<&CacheEntry>, now: Timestamp) -> Decision {
    match entry {
        None => Decision::Fetch {
            conditional: None,
            overdue_ms: u64::MAX,
        },
        Some(e) if e.fetched_at <= now && now < e.fresh_until => Decision::Reuse,
        Some(e) => Decision::Fetch {
            conditional: e.validators.clone(),
            overdue_ms: u64::try_from(now.as_millisecond() - e.fresh_until.as_millisecond())
                .unwrap_or(0),
        },
    }
}

/// Why a run used data it did not fetch in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReuseReason {
    /// Younger than its refresh interval (or the backend's max-age): not asked.
    Fresh,
    /// Asked conditionally; the backend answered `304 Not Modified`.
    NotModified,
    /// Due, but the budget's share for this consumer was spent (`BUDGET_DEFERRED`).
    BudgetDeferred,
}

impl ReuseReason {
    /// The label of `sniper_requests_saved_total{reason}`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReuseReason::Fresh => "fresh",
            ReuseReason::NotModified => "not_modified",
            ReuseReason::BudgetDeferred => "deferred",
        }
    }
}

/// Data a run reused, with its age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reused {
    pub reason: ReuseReason,
    /// Age of the data at the run, milliseconds.
    pub age_ms: u64,
}

/// Refresh interval per module, from configuration.
pub type RefreshIntervals = BTreeMap<ModuleId, Duration>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::{Bias, Direction};

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn data() -> MarketData {
        MarketData::Bias(Bias {
            direction: Direction::Long,
            score: 0.5,
            confidence: None,
            time_ms: None,
        })
    }

    #[test]
    fn decisions_at_the_boundaries() {
        assert_eq!(
            decide(None, t(0)),
            Decision::Fetch {
                conditional: None,
                overdue_ms: u64::MAX
            }
        );
        let e = CacheEntry::new(data(), t(0), Duration::from_secs(60), None, None);
        assert_eq!(decide(Some(&e), t(59)), Decision::Reuse);
        assert_eq!(
            decide(Some(&e), t(60)),
            Decision::Fetch {
                conditional: None,
                overdue_ms: 0
            }
        );
        assert_eq!(
            decide(Some(&e), t(75)),
            Decision::Fetch {
                conditional: None,
                overdue_ms: 15_000
            }
        );
    }

    #[test]
    fn a_negative_age_is_never_fresh() {
        let e = CacheEntry::new(data(), t(0), Duration::from_secs(60), None, None);
        // The clock went back 30 s: the entry reads as fetched in the future.
        assert!(matches!(decide(Some(&e), t(-30)), Decision::Fetch { .. }));
    }

    #[test]
    fn zero_refresh_fetches_every_run() {
        let e = CacheEntry::new(data(), t(0), Duration::ZERO, None, None);
        assert!(matches!(decide(Some(&e), t(0)), Decision::Fetch { .. }));
    }

    #[test]
    fn backend_max_age_longer_than_refresh_wins_shorter_does_not() {
        let long = CacheEntry::new(
            data(),
            t(0),
            Duration::from_secs(60),
            Some(Duration::from_secs(300)),
            None,
        );
        assert_eq!(decide(Some(&long), t(299)), Decision::Reuse);
        let short = CacheEntry::new(
            data(),
            t(0),
            Duration::from_secs(60),
            Some(Duration::from_secs(10)),
            None,
        );
        assert!(matches!(decide(Some(&short), t(30)), Decision::Reuse));
        assert!(matches!(
            decide(Some(&short), t(60)),
            Decision::Fetch { .. }
        ));
    }

    #[test]
    fn due_entry_with_validators_is_conditional_and_304_refreshes() {
        let v = Validators {
            etag: Some("\"abc\"".into()),
            last_modified: None,
        };
        let mut e = CacheEntry::new(data(), t(0), Duration::from_secs(60), None, Some(v.clone()));
        match decide(Some(&e), t(61)) {
            Decision::Fetch { conditional, .. } => assert_eq!(conditional, Some(v.clone())),
            d => panic!("expected a fetch, got {d:?}"),
        }
        e.revalidated(t(61), Duration::from_secs(60), None);
        assert_eq!(decide(Some(&e), t(120)), Decision::Reuse);
        assert_eq!(e.age_ms(t(70)), 9_000);
        let h = v.request_headers();
        assert_eq!(h[http::header::IF_NONE_MATCH], "\"abc\"");
    }

    #[test]
    fn cache_headers_are_read() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::CACHE_CONTROL,
            "public, max-age=120".parse().unwrap(),
        );
        assert_eq!(backend_freshness(&h, t(0)), Some(Duration::from_secs(120)));
        h.insert(http::header::CACHE_CONTROL, "no-store".parse().unwrap());
        assert_eq!(backend_freshness(&h, t(0)), Some(Duration::ZERO));
        let mut h = HeaderMap::new();
        let now = Timestamp::from_second(1_445_412_000).unwrap(); // 2015-10-21T07:20:00Z
        h.insert(
            http::header::EXPIRES,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(backend_freshness(&h, now), Some(Duration::from_secs(480)));
        h.insert(http::header::EXPIRES, "0".parse().unwrap());
        assert_eq!(backend_freshness(&h, now), Some(Duration::ZERO));
        assert_eq!(backend_freshness(&HeaderMap::new(), now), None);
    }
}
