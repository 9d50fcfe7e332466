//! Pure decisions about one answer of the Telegram Bot API or a webhook, and what to do next.
//!
//! Every function here is pure (the clock is a parameter) and table-tested: the clients in
//! [`super::telegram`] and [`super::webhook`] only do the IO and apply these rules.
//!
//! Rules (issue 24):
//! * Telegram `429` → wait `parameters.retry_after` seconds (else the `Retry-After` header, else
//!   [`DEFAULT_RETRY_AFTER`]); no call to that bot inside the wait; Telegram's `description` kept.
//! * Telegram `400` with `parameters.migrate_to_chat_id` → the chat moved: resend to the new id.
//! * `401`/`403`/`404` and other 4xx → permanent: retried at most [`MAX_PERMANENT_ATTEMPTS`]
//!   times in all, then given up (shown and counted, never dropped silently).
//! * 5xx, timeouts, connection errors → transient: exponential backoff, given up after
//!   [`MAX_ATTEMPTS`] attempts (≈ 2 h with the 5-minute cap).
//! * Webhook `301`/`302`/`303` → failed, naming the `Location` (never followed as a GET);
//!   `307`/`308` → re-POSTed with the same body and `Idempotency-Key` when [`redirect_target`]
//!   allows the target, at most [`MAX_REDIRECT_HOPS`] hops.

use std::time::Duration;

use jiff::Timestamp;

/// Attempts after which a permanent 4xx (403 blocked, 400 bad request, a 30x webhook) is given up.
pub const MAX_PERMANENT_ATTEMPTS: u32 = 3;
/// Attempts after which a transient failure (5xx, timeout) is given up.
pub const MAX_ATTEMPTS: u32 = 30;
/// Wait after a `429` that names no wait at all.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);
/// Longest wait honoured from a `429` (a hostile `retry_after` of a year is capped to this).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// First retry delay; doubled per attempt up to [`MAX_BACKOFF`].
pub const BASE_BACKOFF: Duration = Duration::from_secs(2);
/// Longest retry delay of a transient failure.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Most `307`/`308` hops followed for one webhook delivery.
pub const MAX_REDIRECT_HOPS: u32 = 3;
/// Longest reason kept (Telegram's `description`, a `Location`), in characters.
pub const MAX_REASON_CHARS: usize = 300;

/// Why a delivery attempt did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// `429`: wait `retry_after`, then retry; no call inside the wait.
    RateLimited {
        /// How long to wait, capped to [`MAX_RETRY_AFTER`].
        retry_after: Duration,
    },
    /// Telegram: the chat became a supergroup with this id (`migrate_to_chat_id`).
    Migrated {
        /// The new chat id.
        to_chat_id: String,
    },
    /// Webhook `301`/`302`/`303`, or a `307`/`308` whose target is refused: not delivered.
    Redirected {
        /// The status.
        status: u16,
        /// The `Location` named by the receiver (empty when it sent none).
        location: String,
    },
    /// Webhook `307`/`308` to an allowed target: re-POST there.
    Follow {
        /// The status.
        status: u16,
        /// The absolute target (boxed: keeps every `Result<_, Failure>` small).
        target: Box<url::Url>,
    },
    /// A 4xx that will not heal by itself (403 blocked, 401 bad token, 400 bad request).
    Permanent {
        /// The status.
        status: u16,
    },
    /// 5xx, timeout, connection error, unreadable answer: retried with backoff.
    Transient {
        /// The status (0 when no answer came).
        status: u16,
    },
}

/// One failed attempt: its kind and a short human reason (Telegram's `description`, the
/// `Location` of a redirect; never a URL holding the bot token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What kind.
    pub kind: FailureKind,
    /// Short reason, at most [`MAX_REASON_CHARS`] characters.
    pub reason: String,
    /// Parts of a split Telegram message that did go out before this failure (0 otherwise);
    /// the retry starts after them.
    pub parts_sent: usize,
}

impl Failure {
    /// A failure with `reason` cut to [`MAX_REASON_CHARS`].
    pub fn new(kind: FailureKind, reason: impl Into<String>) -> Failure {
        Failure {
            kind,
            reason: clip(&reason.into()),
            parts_sent: 0,
        }
    }

    /// The metric result label: `rate_limited`, `migrated`, `redirected` or `failed`.
    pub fn label(&self) -> &'static str {
        match self.kind {
            FailureKind::RateLimited { .. } => "rate_limited",
            FailureKind::Migrated { .. } => "migrated",
            FailureKind::Redirected { .. } | FailureKind::Follow { .. } => "redirected",
            FailureKind::Permanent { .. } | FailureKind::Transient { .. } => "failed",
        }
    }
}

fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(MAX_REASON_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by Telegram and counts as absent).
pub fn parse_retry_after(header: Option<&str>) -> Option<Duration> {
    header
        .and_then(|h| h.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Classify one Bot API answer: `status`, the `Retry-After` header and the JSON body
/// (`{"ok":false,"error_code":…,"description":…,"parameters":{"retry_after":…,
/// "migrate_to_chat_id":…}}`). `Ok(result)` is the body's `result` on a 2xx with `ok` not false.
/// A body that is not JSON is soft: the status alone decides.
pub fn classify_telegram(
    status: u16,
    retry_after_header: Option<&str>,
    body: &[u8],
) -> Result<serde_json::Value, Failure> {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    let description = json["description"].as_str().unwrap_or("").to_string();
    let reason = |what: &str| {
        if description.is_empty() {
            format!("HTTP {status} {what}")
        } else {
            format!("HTTP {status}: {description}")
        }
    };
    if (200..300).contains(&status) {
        if json["ok"] == serde_json::Value::Bool(false) {
            return Err(Failure::new(
                FailureKind::Transient { status },
                reason("with ok=false"),
            ));
        }
        return Ok(json["result"].clone());
    }
    let params = &json["parameters"];
    if status == 429 {
        let wait = params["retry_after"]
            .as_u64()
            .map(Duration::from_secs)
            .or_else(|| parse_retry_after(retry_after_header))
            .unwrap_or(DEFAULT_RETRY_AFTER)
            .min(MAX_RETRY_AFTER);
        return Err(Failure::new(
            FailureKind::RateLimited { retry_after: wait },
            reason("Too Many Requests"),
        ));
    }
    let migrate = match &params["migrate_to_chat_id"] {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    };
    if let Some(to) = migrate.filter(|_| (400..500).contains(&status)) {
        return Err(Failure::new(
            FailureKind::Migrated {
                to_chat_id: to.clone(),
            },
            format!("{} (chat moved to {to})", reason("Bad Request")),
        ));
    }
    let kind = if (400..500).contains(&status) && status != 408 {
        FailureKind::Permanent { status }
    } else {
        FailureKind::Transient { status }
    };
    Err(Failure::new(kind, reason("")))
}

/// Classify one webhook answer. `current` is the URL just POSTed to, `location` the answer's
/// `Location` header, `hops` the 307/308 hops already followed. `Ok(())` on a 2xx.
pub fn classify_webhook(
    status: u16,
    current: &url::Url,
    location: Option<&str>,
    retry_after_header: Option<&str>,
    hops: u32,
) -> Result<(), Failure> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let loc = location.unwrap_or("").trim();
    match status {
        301..=303 => Err(Failure::new(
            FailureKind::Redirected {
                status,
                location: loc.to_string(),
            },
            format!(
                "HTTP {status} redirect to {loc:?}: not delivered (a POST is never replayed as a GET)"
            ),
        )),
        307 | 308 => {
            let refused = |why: String| {
                Err(Failure::new(
                    FailureKind::Redirected {
                        status,
                        location: loc.to_string(),
                    },
                    format!("HTTP {status} redirect to {loc:?} not followed: {why}"),
                ))
            };
            if hops >= MAX_REDIRECT_HOPS {
                return refused(format!("more than {MAX_REDIRECT_HOPS} hops"));
            }
            match redirect_target(current, loc) {
                Ok(target) => Err(Failure::new(
                    FailureKind::Follow {
                        status,
                        target: Box::new(target),
                    },
                    format!("HTTP {status} redirect to {loc:?}"),
                )),
                Err(why) => refused(why),
            }
        }
        429 => Err(Failure::new(
            FailureKind::RateLimited {
                retry_after: parse_retry_after(retry_after_header)
                    .unwrap_or(DEFAULT_RETRY_AFTER)
                    .min(MAX_RETRY_AFTER),
            },
            "HTTP 429 Too Many Requests",
        )),
        s if (400..500).contains(&s) && s != 408 => Err(Failure::new(
            FailureKind::Permanent { status: s },
            format!("HTTP {s}"),
        )),
        s => Err(Failure::new(
            FailureKind::Transient { status: s },
            format!("HTTP {s}"),
        )),
    }
}

/// Where a `307`/`308` may send the same POST: `location` resolved against `current`, on the same
/// host and port, same scheme or an `http` → `https` upgrade. Another host (the call's body and
/// key would go to a party the operator never configured) and an `https` → `http` downgrade are
/// refused with the reason.
pub fn redirect_target(current: &url::Url, location: &str) -> Result<url::Url, String> {
    if location.is_empty() {
        return Err("no Location header".into());
    }
    let target = current
        .join(location)
        .map_err(|e| format!("Location is not a URL ({e})"))?;
    let scheme_ok = target.scheme() == current.scheme()
        || (current.scheme() == "http" && target.scheme() == "https");
    if !scheme_ok {
        return Err(format!(
            "scheme {} → {} refused",
            current.scheme(),
            target.scheme()
        ));
    }
    let port = |u: &url::Url| u.port_or_known_default();
    let same_host = target.host_str() == current.host_str()
        && (port(&target) == port(current) || target.scheme() != current.scheme());
    if !same_host {
        return Err("another host than SIGNAL_WEBHOOK_URL's".into());
    }
    Ok(target)
}

/// Retry delay after `attempts` failed attempts (1 → 2 s, 2 → 4 s, … capped at 5 min).
pub fn backoff(attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(16);
    BASE_BACKOFF.saturating_mul(1u32 << exp).min(MAX_BACKOFF)
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again, not before this time.
    RetryAt(Timestamp),
    /// Stop: the delivery is given up (shown and counted).
    GiveUp,
}

/// After the `attempts`-th failed attempt (counting this one) of kind `f`, at `now`: when to retry
/// or whether to give up. A `429` waits exactly its `retry_after` and does not count towards
/// giving up unless [`MAX_ATTEMPTS`] is reached; permanent failures (and refused redirects) give
/// up at [`MAX_PERMANENT_ATTEMPTS`]; transient ones back off and give up at [`MAX_ATTEMPTS`].
pub fn next_step(f: &FailureKind, attempts: u32, now: Timestamp) -> Next {
    let at = |d: Duration| {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4);
        Next::RetryAt(
            Timestamp::from_millisecond(now.as_millisecond().saturating_add(ms)).unwrap_or(now),
        )
    };
    match f {
        _ if attempts >= MAX_ATTEMPTS => Next::GiveUp,
        FailureKind::RateLimited { retry_after } => at(*retry_after),
        FailureKind::Permanent { .. } | FailureKind::Redirected { .. } => {
            if attempts >= MAX_PERMANENT_ATTEMPTS {
                Next::GiveUp
            } else {
                at(backoff(attempts))
            }
        }
        // A migration is followed at once by the client; if it still surfaces, retry soon.
        FailureKind::Migrated { .. } | FailureKind::Follow { .. } => at(Duration::ZERO),
        FailureKind::Transient { .. } => at(backoff(attempts)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(r: Result<serde_json::Value, Failure>) -> FailureKind {
        r.unwrap_err().kind
    }

    #[test]
    fn telegram_answers_table() {
        let j = |s: &str| s.as_bytes().to_vec();
        let cases: Vec<(u16, Option<&str>, Vec<u8>, FailureKind)> = vec![
            (
                429,
                None,
                j(
                    r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 30","parameters":{"retry_after":30}}"#,
                ),
                FailureKind::RateLimited {
                    retry_after: Duration::from_secs(30),
                },
            ),
            // The body wins over the header; the header serves when the body names nothing.
            (
                429,
                Some("7"),
                j(r#"{"ok":false,"parameters":{"retry_after":3}}"#),
                FailureKind::RateLimited {
                    retry_after: Duration::from_secs(3),
                },
            ),
            (
                429,
                Some("7"),
                j("not json"),
                FailureKind::RateLimited {
                    retry_after: Duration::from_secs(7),
                },
            ),
            (
                429,
                None,
                j("{}"),
                FailureKind::RateLimited {
                    retry_after: DEFAULT_RETRY_AFTER,
                },
            ),
            (
                429,
                None,
                j(r#"{"parameters":{"retry_after":99999999}}"#),
                FailureKind::RateLimited {
                    retry_after: MAX_RETRY_AFTER,
                },
            ),
            (
                400,
                None,
                j(
                    r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234567890}}"#,
                ),
                FailureKind::Migrated {
                    to_chat_id: "-1001234567890".into(),
                },
            ),
            (
                403,
                None,
                j(
                    r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#,
                ),
                FailureKind::Permanent { status: 403 },
            ),
            (
                400,
                None,
                j(r#"{"ok":false,"description":"Bad Request: can't parse entities"}"#),
                FailureKind::Permanent { status: 400 },
            ),
            (401, None, j("{}"), FailureKind::Permanent { status: 401 }),
            (408, None, j("{}"), FailureKind::Transient { status: 408 }),
            (
                500,
                None,
                j("<html>"),
                FailureKind::Transient { status: 500 },
            ),
            (502, None, j(""), FailureKind::Transient { status: 502 }),
            (
                200,
                None,
                j(r#"{"ok":false}"#),
                FailureKind::Transient { status: 200 },
            ),
        ];
        for (status, header, body, want) in cases {
            assert_eq!(
                kind(classify_telegram(status, header, &body)),
                want,
                "{status} {:?}",
                String::from_utf8_lossy(&body)
            );
        }
        let ok = classify_telegram(200, None, br#"{"ok":true,"result":{"message_id":7}}"#).unwrap();
        assert_eq!(ok["message_id"], 7);
    }

    #[test]
    fn telegram_description_is_kept_and_clipped() {
        let f = classify_telegram(
            403,
            None,
            br#"{"ok":false,"description":"Forbidden: bot was kicked from the group chat"}"#,
        )
        .unwrap_err();
        assert_eq!(
            f.reason,
            "HTTP 403: Forbidden: bot was kicked from the group chat"
        );
        let long = format!(r#"{{"description":"{}"}}"#, "x".repeat(5000));
        let f = classify_telegram(400, None, long.as_bytes()).unwrap_err();
        assert_eq!(f.reason.chars().count(), MAX_REASON_CHARS + 1);
        assert_eq!(
            classify_telegram(500, None, b"").unwrap_err().reason,
            "HTTP 500"
        );
    }

    #[test]
    fn webhook_answers_table() {
        let cur = url::Url::parse("http://hooks.example:8080/in").unwrap();
        let k = |status, loc: Option<&str>, hops| {
            classify_webhook(status, &cur, loc, None, hops)
                .err()
                .map(|f| (f.label(), f.kind))
        };
        assert_eq!(k(200, None, 0), None);
        assert_eq!(k(204, None, 0), None);
        for s in [301, 302, 303] {
            assert_eq!(
                k(s, Some("https://landing.example/"), 0),
                Some((
                    "redirected",
                    FailureKind::Redirected {
                        status: s,
                        location: "https://landing.example/".into()
                    }
                ))
            );
        }
        assert_eq!(
            k(307, Some("/in2"), 0),
            Some((
                "redirected",
                FailureKind::Follow {
                    status: 307,
                    target: Box::new(url::Url::parse("http://hooks.example:8080/in2").unwrap())
                }
            ))
        );
        assert!(matches!(
            k(308, Some("/in2"), MAX_REDIRECT_HOPS),
            Some((_, FailureKind::Redirected { status: 308, .. }))
        ));
        assert!(matches!(
            k(307, Some("http://evil.example/x"), 0),
            Some((_, FailureKind::Redirected { .. }))
        ));
        assert!(matches!(
            k(307, None, 0),
            Some((_, FailureKind::Redirected { .. }))
        ));
        assert_eq!(
            k(403, None, 0),
            Some(("failed", FailureKind::Permanent { status: 403 }))
        );
        assert_eq!(
            k(503, None, 0),
            Some(("failed", FailureKind::Transient { status: 503 }))
        );
        assert_eq!(
            classify_webhook(429, &cur, None, Some("12"), 0)
                .unwrap_err()
                .kind,
            FailureKind::RateLimited {
                retry_after: Duration::from_secs(12)
            }
        );
        let f = classify_webhook(302, &cur, Some("https://landing.example/"), None, 0).unwrap_err();
        assert!(
            f.reason.contains("https://landing.example/"),
            "{}",
            f.reason
        );
    }

    #[test]
    fn redirect_targets() {
        let http = url::Url::parse("http://h.example/a/b").unwrap();
        let https = url::Url::parse("https://h.example/a/b").unwrap();
        assert_eq!(
            redirect_target(&http, "c").unwrap().as_str(),
            "http://h.example/a/c"
        );
        assert_eq!(
            redirect_target(&http, "https://h.example/z")
                .unwrap()
                .as_str(),
            "https://h.example/z"
        );
        assert!(redirect_target(&https, "http://h.example/z").is_err());
        assert!(redirect_target(&http, "http://h.example:81/z").is_err());
        assert!(redirect_target(&http, "//other.example/z").is_err());
        assert!(redirect_target(&http, "").is_err());
    }

    #[test]
    fn next_steps() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let plus = |s: i64| Next::RetryAt(Timestamp::from_second(1_000_000 + s).unwrap());
        let rl = FailureKind::RateLimited {
            retry_after: Duration::from_secs(30),
        };
        // A 429 waits exactly retry_after whatever the attempt count (until MAX_ATTEMPTS).
        assert_eq!(next_step(&rl, 1, now), plus(30));
        assert_eq!(next_step(&rl, 5, now), plus(30));
        assert_eq!(next_step(&rl, MAX_ATTEMPTS, now), Next::GiveUp);
        let p = FailureKind::Permanent { status: 403 };
        assert_eq!(next_step(&p, 1, now), plus(2));
        assert_eq!(next_step(&p, 2, now), plus(4));
        assert_eq!(next_step(&p, MAX_PERMANENT_ATTEMPTS, now), Next::GiveUp);
        let r = FailureKind::Redirected {
            status: 302,
            location: "x".into(),
        };
        assert_eq!(next_step(&r, MAX_PERMANENT_ATTEMPTS, now), Next::GiveUp);
        let t = FailureKind::Transient { status: 500 };
        assert_eq!(next_step(&t, 1, now), plus(2));
        assert_eq!(next_step(&t, 9, now), plus(300));
        assert_eq!(next_step(&t, MAX_ATTEMPTS - 1, now), plus(300));
        assert_eq!(next_step(&t, MAX_ATTEMPTS, now), Next::GiveUp);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(8), Duration::from_secs(256));
        assert_eq!(backoff(9), MAX_BACKOFF);
        assert_eq!(backoff(1000), MAX_BACKOFF);
    }
}
