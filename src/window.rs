//! The active-trading-hours window: when the scheduler may run, as pure functions of an instant.
//!
//! The window is given as wall-clock times (`ACTIVE_TRADING_START`, `ACTIVE_TRADING_END`) in an IANA
//! zone (`TRADING_TIMEZONE`). Each local day `D` yields one interval of instants
//! `[opening(D, start), closing(D or D+1, end))`; the window is open at an instant when the instant
//! lies in one of those intervals. Working on instants (not on the wall-clock time of `now`) is what
//! keeps the window correct across DST changes:
//!
//! * a wall-clock time inside a **skipped** hour (spring forward) resolves to the instant the clock
//!   jumps past it (the transition itself): the first instant at which the clock shows a later time;
//! * a wall-clock time inside a **repeated** hour (fall back) resolves to its **first** occurrence, so
//!   the window opens (or closes) once and never flaps when the clock goes back.
//!
//! Nothing here reads the clock: every function takes `now`.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};

/// Why the window configuration was rejected; every variant names the offending variable and value
/// and says what is accepted, so an operator can fix the environment without reading code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WindowError {
    /// `ACTIVE_TRADING_START` / `ACTIVE_TRADING_END` is not a 24-hour `HH:MM`.
    #[error("{var}={value:?} is not a time of day: expected 24-hour HH:MM, e.g. 07:00 or 23:30")]
    Time {
        /// The environment variable (or flag) the value came from.
        var: &'static str,
        /// The rejected value.
        value: String,
    },
    /// `TRADING_TIMEZONE` is not a zone of the bundled IANA database.
    #[error(
        "TRADING_TIMEZONE={value:?} is not a known IANA time zone: expected a name such as \
         Asia/Jakarta, America/New_York or UTC"
    )]
    TimeZone {
        /// The rejected value.
        value: String,
    },
}

/// The daily active-hours window, validated once and then queried with instants.
///
/// Exists so that the scheduler never handles strings or the system clock: it asks
/// [`ActiveWindow::contains`] and [`ActiveWindow::next_opening`] with the `now` it was given.
/// `start == end` means "always open" (a 24-hour window), which is how an operator disables the
/// window without a separate flag.
#[derive(Debug, Clone)]
pub struct ActiveWindow {
    tz: TimeZone,
    start: Time,
    end: Time,
    tz_name: String,
    city: String,
}

/// How many local days around `now` are examined. A window lasts at most 24 h of wall-clock time
/// (plus at most a DST shift), so the interval containing `now` started on the local day of `now`
/// or the day before, and the next opening is on the local day of `now` or the two after it (two,
/// not one, so a day whose opening was skipped entirely by a zone change still finds the next).
const DAYS_BACK: i64 = 1;
const DAYS_AHEAD: i64 = 2;

impl ActiveWindow {
    /// Validates the three configuration values (`TRADING_TIMEZONE`, `ACTIVE_TRADING_START`,
    /// `ACTIVE_TRADING_END`).
    pub fn parse(tz: &str, start: &str, end: &str) -> Result<Self, WindowError> {
        let zone = TimeZone::get(tz.trim()).map_err(|_| WindowError::TimeZone {
            value: tz.to_string(),
        })?;
        let start_t = parse_hhmm(start).ok_or_else(|| WindowError::Time {
            var: "ACTIVE_TRADING_START",
            value: start.to_string(),
        })?;
        let end_t = parse_hhmm(end).ok_or_else(|| WindowError::Time {
            var: "ACTIVE_TRADING_END",
            value: end.to_string(),
        })?;
        let tz_name = tz.trim().to_string();
        Ok(ActiveWindow {
            tz: zone,
            start: start_t,
            end: end_t,
            city: city_of(&tz_name),
            tz_name,
        })
    }

    /// A window that is always open (UTC, 00:00–00:00): for tests and for running without a window.
    pub fn always_open() -> Self {
        ActiveWindow {
            tz: TimeZone::UTC,
            start: Time::midnight(),
            end: Time::midnight(),
            tz_name: "UTC".to_string(),
            city: "UTC".to_string(),
        }
    }

    /// True when `start == end`: the window never closes.
    pub fn is_always_open(&self) -> bool {
        self.start == self.end
    }

    /// The configured zone name, as given (e.g. `Asia/Jakarta`).
    pub fn tz_name(&self) -> &str {
        &self.tz_name
    }

    /// The configured opening wall-clock time.
    pub fn start(&self) -> Time {
        self.start
    }

    /// The configured closing wall-clock time.
    pub fn end(&self) -> Time {
        self.end
    }

    /// Is the window open at `now`? Start is inclusive, end exclusive.
    pub fn contains(&self, now: Timestamp) -> bool {
        if self.is_always_open() {
            return true;
        }
        let today = self.tz.to_datetime(now).date();
        (-DAYS_BACK..=0).any(|offset| {
            self.interval(today, offset)
                .is_some_and(|(open, close)| open <= now && now < close)
        })
    }

    /// The earliest instant at or after `now` at which the window is open: `now` itself when the
    /// window is open, otherwise the next opening.
    pub fn next_opening(&self, now: Timestamp) -> Timestamp {
        if self.contains(now) {
            return now;
        }
        let today = self.tz.to_datetime(now).date();
        (0..=DAYS_AHEAD)
            .filter_map(|offset| self.interval(today, offset))
            .map(|(open, _)| open)
            .filter(|open| *open > now)
            .min()
            // Unreachable for real zones (some day ahead always has an opening); staying at `now`
            // makes the caller re-evaluate instead of sleeping forever.
            .unwrap_or(now)
    }

    /// The earliest instant at or after `now` at which the window is closed: `now` itself when it is
    /// closed, otherwise the end of the current interval. `None` for an always-open window.
    pub fn next_closing(&self, now: Timestamp) -> Option<Timestamp> {
        if self.is_always_open() {
            return None;
        }
        if !self.contains(now) {
            return Some(now);
        }
        let today = self.tz.to_datetime(now).date();
        (-DAYS_BACK..=0)
            .filter_map(|offset| self.interval(today, offset))
            .filter(|(open, close)| *open <= now && now < *close)
            .map(|(_, close)| close)
            .max()
    }

    /// The zone's city, for logs: `Asia/Jakarta` → `Jakarta`, `America/New_York` → `New York`,
    /// `America/Argentina/Buenos_Aires` → `Buenos Aires`, `UTC` → `UTC`.
    pub fn city(&self) -> &str {
        &self.city
    }

    /// The design's line, logged on entering the window: `Active trading hours - Jakarta: 07:00`
    /// (the wall-clock time at `now` in the window's zone).
    pub fn log_line(&self, now: Timestamp) -> String {
        let local = self.tz.to_datetime(now);
        format!(
            "Active trading hours - {}: {:02}:{:02}",
            self.city(),
            local.hour(),
            local.minute()
        )
    }

    /// The local wall-clock time of `now` formatted `YYYY-MM-DD HH:MM:SS` with the zone name, for
    /// "next opening at …" log lines.
    pub fn describe(&self, at: Timestamp) -> String {
        let local = self.tz.to_datetime(at);
        format!(
            "{} {:02}:{:02}:{:02} {}",
            local.date(),
            local.hour(),
            local.minute(),
            local.second(),
            self.tz_name
        )
    }

    /// The interval opened on local day `base + offset`, as instants. `None` at the edges of the
    /// representable range, or when the interval is empty.
    fn interval(&self, base: Date, offset: i64) -> Option<(Timestamp, Timestamp)> {
        let day = base.checked_add(jiff::Span::new().days(offset)).ok()?;
        let close_day = if self.start < self.end {
            day
        } else {
            day.tomorrow().ok()?
        };
        let open = self.resolve(day.to_datetime(self.start))?;
        let close = self.resolve(close_day.to_datetime(self.end))?;
        // A window lying wholly inside a skipped hour never opens that day.
        (open < close).then_some((open, close))
    }

    /// The instant at which the wall clock first shows `dt` or a later time: in a gap, the
    /// transition; in a fold, the first occurrence.
    fn resolve(&self, dt: DateTime) -> Option<Timestamp> {
        let ambiguous = self.tz.to_ambiguous_timestamp(dt);
        match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
                ambiguous.earlier().ok()
            }
            AmbiguousOffset::Gap { .. } => {
                // `earlier()` applies the post-gap offset, which lands strictly before the
                // transition; the first transition after it is the jump over `dt`.
                let before_jump = ambiguous.earlier().ok()?;
                self.tz
                    .following(before_jump)
                    .next()
                    .map(|transition| transition.timestamp())
            }
        }
    }
}

/// The last segment of an IANA name, underscores as spaces.
fn city_of(tz_name: &str) -> String {
    let last = tz_name.rsplit('/').next().unwrap_or(tz_name);
    last.replace('_', " ")
}

/// Parses a strict 24-hour `HH:MM` (one-digit hours allowed: `7:00`).
fn parse_hhmm(s: &str) -> Option<Time> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hour: i8 = h.parse().ok()?;
    let minute: i8 = m.parse().ok()?;
    Time::new(hour, minute, 0, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An instant from RFC 3339 text with an explicit offset.
    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn jakarta() -> ActiveWindow {
        ActiveWindow::parse("Asia/Jakarta", "07:00", "23:30").unwrap()
    }

    #[test]
    fn jakarta_edges() {
        let w = jakarta();
        // Jakarta is UTC+7 all year.
        assert!(!w.contains(at("2026-06-01T06:59:59+07:00")));
        assert!(w.contains(at("2026-06-01T07:00:00+07:00")));
        assert!(w.contains(at("2026-06-01T23:29:59+07:00")));
        assert!(!w.contains(at("2026-06-01T23:30:00+07:00")));
        assert!(!w.contains(at("2026-06-02T00:00:00+07:00")));
        assert!(w.contains(at("2026-06-01T12:00:00+07:00")));
    }

    #[test]
    fn jakarta_next_opening_and_closing() {
        let w = jakarta();
        assert_eq!(
            w.next_opening(at("2026-06-01T06:59:59+07:00")),
            at("2026-06-01T07:00:00+07:00")
        );
        // After closing, the next opening is tomorrow morning.
        assert_eq!(
            w.next_opening(at("2026-06-01T23:30:00+07:00")),
            at("2026-06-02T07:00:00+07:00")
        );
        // After midnight, the same (local) day's morning.
        assert_eq!(
            w.next_opening(at("2026-06-02T00:10:00+07:00")),
            at("2026-06-02T07:00:00+07:00")
        );
        // Open: the opening is now.
        let noon = at("2026-06-01T12:00:00+07:00");
        assert_eq!(w.next_opening(noon), noon);
        assert_eq!(w.next_closing(noon), Some(at("2026-06-01T23:30:00+07:00")));
        let night = at("2026-06-01T23:45:00+07:00");
        assert_eq!(w.next_closing(night), Some(night));
    }

    #[test]
    fn midnight_crossing_window() {
        let w = ActiveWindow::parse("UTC", "22:00", "02:00").unwrap();
        assert!(!w.contains(at("2026-06-01T21:59:59Z")));
        assert!(w.contains(at("2026-06-01T22:00:00Z")));
        assert!(w.contains(at("2026-06-01T23:59:59Z")));
        assert!(w.contains(at("2026-06-02T00:00:00Z")));
        assert!(w.contains(at("2026-06-02T01:59:59Z")));
        assert!(!w.contains(at("2026-06-02T02:00:00Z")));
        assert!(!w.contains(at("2026-06-02T12:00:00Z")));
        assert_eq!(
            w.next_opening(at("2026-06-02T02:00:00Z")),
            at("2026-06-02T22:00:00Z")
        );
        assert_eq!(
            w.next_closing(at("2026-06-02T00:30:00Z")),
            Some(at("2026-06-02T02:00:00Z"))
        );
        assert_eq!(
            w.next_closing(at("2026-06-01T23:00:00Z")),
            Some(at("2026-06-02T02:00:00Z"))
        );
    }

    #[test]
    fn start_equal_end_is_always_open() {
        let w = ActiveWindow::parse("Asia/Jakarta", "09:00", "09:00").unwrap();
        for s in [
            "2026-06-01T08:59:59+07:00",
            "2026-06-01T09:00:00+07:00",
            "2026-01-01T00:00:00Z",
        ] {
            let t = at(s);
            assert!(w.contains(t), "{s}");
            assert_eq!(w.next_opening(t), t);
            assert_eq!(w.next_closing(t), None);
        }
    }

    /// 2026-03-08, America/New_York: 02:00 EST jumps to 03:00 EDT (07:00Z). An opening at 02:30
    /// does not exist on the wall clock; the window opens when the clock jumps past it.
    #[test]
    fn new_york_spring_forward_opening_in_skipped_hour() {
        let w = ActiveWindow::parse("America/New_York", "02:30", "10:00").unwrap();
        let jump = at("2026-03-08T07:00:00Z"); // 03:00 EDT
        assert!(!w.contains(at("2026-03-08T06:59:59Z"))); // 01:59:59 EST
        assert!(w.contains(jump));
        assert_eq!(w.next_opening(at("2026-03-08T05:00:00Z")), jump);
        // The closing is at 10:00 EDT = 14:00Z.
        assert_eq!(w.next_closing(jump), Some(at("2026-03-08T14:00:00Z")));
        // The day before, the same window opened at 02:30 EST = 07:30Z.
        assert_eq!(
            w.next_opening(at("2026-03-07T05:00:00Z")),
            at("2026-03-07T07:30:00Z")
        );
        // And the day after, at 02:30 EDT = 06:30Z.
        assert_eq!(
            w.next_opening(at("2026-03-08T20:00:00Z")),
            at("2026-03-09T06:30:00Z")
        );
    }

    /// 2026-11-01, America/New_York: 02:00 EDT goes back to 01:00 EST (06:00Z); 01:00–01:59 happens
    /// twice. An opening at 01:30 is the first occurrence (05:30Z), and the window does not close
    /// when the clock shows 01:00 again.
    #[test]
    fn new_york_fall_back_opening_in_repeated_hour() {
        let w = ActiveWindow::parse("America/New_York", "01:30", "12:00").unwrap();
        let first = at("2026-11-01T05:30:00Z"); // 01:30 EDT
        assert!(!w.contains(at("2026-11-01T05:29:59Z")));
        assert!(w.contains(first));
        assert_eq!(w.next_opening(at("2026-11-01T04:00:00Z")), first);
        // 06:00Z is 01:00 EST: the wall clock reads before the start again, the window stays open.
        assert!(w.contains(at("2026-11-01T06:00:00Z")));
        assert!(w.contains(at("2026-11-01T06:29:59Z")));
        // Closes at 12:00 EST = 17:00Z.
        assert!(w.contains(at("2026-11-01T16:59:59Z")));
        assert!(!w.contains(at("2026-11-01T17:00:00Z")));
        assert_eq!(
            w.next_opening(at("2026-11-01T17:00:00Z")),
            at("2026-11-02T06:30:00Z")
        );
    }

    /// A closing inside the repeated hour is also its first occurrence; the window does not reopen
    /// when the clock goes back.
    #[test]
    fn new_york_fall_back_closing_in_repeated_hour() {
        let w = ActiveWindow::parse("America/New_York", "22:00", "01:30").unwrap();
        let close = at("2026-11-01T05:30:00Z"); // 01:30 EDT
        assert!(w.contains(at("2026-11-01T05:29:59Z")));
        assert!(!w.contains(close));
        assert!(!w.contains(at("2026-11-01T06:00:00Z"))); // 01:00 EST
        assert!(!w.contains(at("2026-11-01T06:45:00Z"))); // 01:45 EST
        assert_eq!(w.next_opening(close), at("2026-11-02T03:00:00Z")); // 22:00 EST
    }

    /// Over every minute of both 2026 DST days, the next opening is open, and nothing between now
    /// and it is.
    #[test]
    fn next_opening_is_the_first_open_instant() {
        let windows = [
            ActiveWindow::parse("America/New_York", "02:30", "10:00").unwrap(),
            ActiveWindow::parse("America/New_York", "01:30", "01:15").unwrap(),
            ActiveWindow::parse("America/New_York", "22:00", "02:30").unwrap(),
        ];
        for w in &windows {
            for day in ["2026-03-07T00:00:00Z", "2026-10-31T00:00:00Z"] {
                let base = at(day);
                for minute in (0..3 * 24 * 60).step_by(7) {
                    let now = base + jiff::SignedDuration::from_mins(minute);
                    let open = w.next_opening(now);
                    assert!(open >= now);
                    assert!(w.contains(open), "{w:?} {now} -> {open}");
                    if open > now {
                        // Sample the closed stretch: all closed.
                        let gap = open.duration_since(now);
                        for k in 0..10 {
                            let probe = now + gap / 10 * k;
                            assert!(!w.contains(probe), "{w:?} open at {probe} before {open}");
                        }
                        let just_before = open - jiff::SignedDuration::from_secs(1);
                        assert!(just_before < now || !w.contains(just_before));
                    } else if let Some(close) = w.next_closing(now) {
                        assert!(close > now);
                        assert!(!w.contains(close), "{w:?} {now} close {close}");
                    }
                }
            }
        }
    }

    #[test]
    fn city_and_log_line() {
        let w = jakarta();
        assert_eq!(w.city(), "Jakarta");
        assert_eq!(
            w.log_line(at("2026-06-01T07:00:42+07:00")),
            "Active trading hours - Jakarta: 07:00"
        );
        let ny = ActiveWindow::parse("America/New_York", "09:30", "16:00").unwrap();
        assert_eq!(ny.city(), "New York");
        assert_eq!(
            ny.log_line(at("2026-06-01T13:30:00Z")),
            "Active trading hours - New York: 09:30"
        );
        let ba = ActiveWindow::parse("America/Argentina/Buenos_Aires", "09:00", "17:00").unwrap();
        assert_eq!(ba.city(), "Buenos Aires");
        assert_eq!(ActiveWindow::always_open().city(), "UTC");
    }

    #[test]
    fn parse_errors_name_the_value() {
        let e = ActiveWindow::parse("Asia/Jakartaa", "07:00", "23:30").unwrap_err();
        assert_eq!(
            e,
            WindowError::TimeZone {
                value: "Asia/Jakartaa".into()
            }
        );
        assert!(e.to_string().contains("TRADING_TIMEZONE=\"Asia/Jakartaa\""));
        for bad in [
            "7", "07:0", "24:00", "07:60", "7:00am", "", "-1:00", "07:00:00", "+7:00",
        ] {
            let e = ActiveWindow::parse("UTC", bad, "23:30").unwrap_err();
            assert_eq!(
                e,
                WindowError::Time {
                    var: "ACTIVE_TRADING_START",
                    value: bad.into()
                },
                "{bad:?}"
            );
            let e = ActiveWindow::parse("UTC", "07:00", bad).unwrap_err();
            assert!(e.to_string().starts_with("ACTIVE_TRADING_END="), "{e}");
            assert!(e.to_string().contains("HH:MM"));
        }
        let ok = ActiveWindow::parse(" UTC ", "7:05", "23:59").unwrap();
        assert_eq!(ok.start(), jiff::civil::time(7, 5, 0, 0));
        assert_eq!(ok.tz_name(), "UTC");
    }

    proptest::proptest! {
        /// For any instant of 2026-2027 and a few windows (crossing midnight, DST zones, skipped and
        /// repeated hours): the next opening is open, the next closing is closed, and an open
        /// instant's interval contains its own closing's predecessor.
        #[test]
        fn opening_and_closing_agree_with_contains(secs in 1_767_225_600i64..1_830_297_600, which in 0usize..6) {
            let specs = [
                ("Asia/Jakarta", "07:00", "23:30"),
                ("America/New_York", "02:30", "10:00"),
                ("America/New_York", "22:00", "01:30"),
                ("Europe/London", "00:30", "01:15"),
                ("Australia/Lord_Howe", "01:45", "02:15"),
                ("Pacific/Apia", "23:00", "23:00"),
            ];
            let (tz, a, b) = specs[which];
            let w = ActiveWindow::parse(tz, a, b).unwrap();
            let now = Timestamp::from_second(secs).unwrap();
            let open = w.next_opening(now);
            proptest::prop_assert!(open >= now);
            proptest::prop_assert!(w.contains(open));
            proptest::prop_assert_eq!(open == now, w.contains(now));
            match w.next_closing(now) {
                None => proptest::prop_assert!(w.is_always_open()),
                Some(close) => {
                    proptest::prop_assert!(close >= now);
                    proptest::prop_assert!(!w.contains(close));
                    if close > now {
                        let before = close - jiff::SignedDuration::from_secs(1);
                        proptest::prop_assert!(before < now || w.contains(before));
                    }
                }
            }
        }
    }
}
