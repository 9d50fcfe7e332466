//! Turns one upstream HTTP answer (status, headers, body) into `Ok` or an [`ErrorClass`].
//!
//! Pure: no IO and no clock reads — `now` is passed in so an HTTP-date `Retry-After` can be
//! turned into seconds deterministically. Transport failures (timeouts, refused or reset
//! connections) and the body size cap are classified by the HTTP client, not here.
//!
//! Rules, in order:
//! - any non-2xx answer carrying `Retry-After` → rate limited for that long (seconds or
//!   HTTP-date; an unparseable header still says "back off", so it becomes rate limited without
//!   a duration). Exchanges relaying an IP ban answer `418` + `Retry-After: 120`, not 429.
//! - 402, and 401/403 whose body speaks of a plan (see [`mentions_plan`]) → entitlement.
//! - a known ban body (see [`ban_in_text`] / [`ban_code`]: "… until <epoch ms>", Binance
//!   `-1003`, OKX `50011`, "rate limit", "too many requests") and status 418 → rate limited
//!   (for the time left until the ban's end when the text names one).
//! - other 401/403 → auth.
//! - 404, 405, 410 → route missing (the route is gone or changed shape: discovery's job).
//! - 429 → rate limited.
//! - 408, 425 and every other 5xx → transient.
//! - any other non-2xx (400, 409, 422, unexpected 1xx/3xx, …) → bad payload, kind `rejected`:
//!   the backend refused this request and sending it again cannot help.
//! - 2xx: not JSON → bad payload `not_json`; a JSON error envelope → see [`classify_envelope`];
//!   anything else → ok.

use crate::resilience::class::{ErrorClass, PayloadKind, TransientKind};
use http::HeaderMap;
use http::header::RETRY_AFTER;
use jiff::Timestamp;
use serde_json::Value;

/// Classify one complete upstream answer. `Ok(())` means the body is usable data.
pub fn classify_status(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: Timestamp,
) -> Result<(), ErrorClass> {
    classify_response(status, headers, body, now).map(|_| ())
}

/// [`classify_status`], handing back the parsed JSON on success so callers parse once.
pub fn classify_response(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: Timestamp,
) -> Result<Value, ErrorClass> {
    if (200..=299).contains(&status) {
        return classify_body(status, headers, body, now);
    }
    if headers.contains_key(RETRY_AFTER) {
        return Err(ErrorClass::RateLimited {
            retry_after_secs: retry_after(headers, now).or_else(|| reset_header(headers, now)),
        });
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some(secs) = venue_rate_limit(&v, headers, now)
    {
        return Err(ErrorClass::RateLimited {
            retry_after_secs: secs,
        });
    }
    let plan_refusal = status == 402
        || (matches!(status, 401 | 403) && mentions_plan(&String::from_utf8_lossy(body)));
    if !plan_refusal {
        if let Some(secs) = ban_in_body(body, now) {
            return Err(ErrorClass::RateLimited {
                retry_after_secs: secs,
            });
        }
        if status == 418 {
            return Err(ErrorClass::RateLimited {
                retry_after_secs: None,
            });
        }
    }
    match status {
        402 => Err(ErrorClass::Entitlement { status }),
        401 | 403 => {
            if mentions_plan(&String::from_utf8_lossy(body)) {
                Err(ErrorClass::Entitlement { status })
            } else {
                Err(ErrorClass::Auth { status })
            }
        }
        404 | 405 | 410 => Err(ErrorClass::RouteMissing),
        429 => Err(ErrorClass::RateLimited {
            retry_after_secs: None,
        }),
        408 | 425 | 500..=599 => Err(ErrorClass::Transient {
            kind: TransientKind::Status(status),
        }),
        _ => Err(ErrorClass::BadPayload {
            kind: PayloadKind::Rejected,
        }),
    }
}

/// The first parseable `Retry-After` value of `headers`, in whole seconds from `now`.
fn retry_after(headers: &HeaderMap, now: Timestamp) -> Option<u64> {
    headers
        .get_all(RETRY_AFTER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| parse_retry_after(v, now))
}

/// Parse one `Retry-After` value (RFC 9110 §10.2.3): delta-seconds, or an HTTP-date in any of
/// the three formats recipients must accept (IMF-fixdate, RFC 850, asctime).
///
/// A date is turned into seconds from `now`, rounded up so the wait is never shorter than the
/// server asked; a date in the past gives 0. Huge delta-seconds saturate at `u64::MAX`.
/// Returns `None` when the value is neither.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<u64> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only overflow can fail, and a longer wait than u64 seconds is "forever".
        return Some(value.parse::<u64>().unwrap_or(u64::MAX));
    }
    let date = parse_http_date(value)?;
    let wait = now.duration_until(date);
    if wait.is_negative() || wait.is_zero() {
        return Some(0);
    }
    let secs = u64::try_from(wait.as_secs()).unwrap_or(u64::MAX);
    Some(if wait.subsec_nanos() > 0 {
        secs.saturating_add(1)
    } else {
        secs
    })
}

/// An HTTP-date as a timestamp. IMF-fixdate goes through jiff's RFC 2822 parser; the two
/// obsolete forms through `strptime` patterns (always GMT by definition).
fn parse_http_date(value: &str) -> Option<Timestamp> {
    static RFC2822: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    if let Ok(ts) = RFC2822.parse_timestamp(value) {
        return Some(ts);
    }
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; asctime: "Sun Nov  6 08:49:37 1994".
    // asctime pads single-digit days with a space; collapse runs of spaces first.
    let collapsed = value.split_whitespace().collect::<Vec<_>>().join(" ");
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"]
        .iter()
        .find_map(|fmt| jiff::civil::DateTime::strptime(fmt, &collapsed).ok())
        .and_then(|dt| jiff::tz::TimeZone::UTC.to_timestamp(dt).ok())
}

/// Does this text speak of a plan, tier or subscription (an entitlement problem rather than
/// bad credentials)? Matches whole words case-insensitively, so "explanation" is not "plan".
///
/// Words: plan(s), upgrade…, subscri…, feature(s), tier(s), premium, entitle….
pub fn mentions_plan(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .any(|w| {
            matches!(
                w.as_str(),
                "plan" | "plans" | "tier" | "tiers" | "feature" | "features" | "premium"
            ) || w.starts_with("upgrad")
                || w.starts_with("subscri")
                || w.starts_with("entitle")
        })
}

/// A 2xx body: must be JSON (bare `NaN`/`Infinity`/out-of-range number tokens are read as the
/// strings they spell, see [`lenient_json`]), must not be a venue's rate limit
/// ([`venue_rate_limit`]) and must not be an error envelope.
fn classify_body(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: Timestamp,
) -> Result<Value, ErrorClass> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => lenient_json(body).ok_or(ErrorClass::BadPayload {
            kind: PayloadKind::NotJson,
        })?,
    };
    if let Some(secs) = venue_rate_limit(&value, headers, now) {
        return Err(ErrorClass::RateLimited {
            retry_after_secs: secs,
        });
    }
    classify_envelope_at(status, &value, now)?;
    Ok(value)
}

/// JSON as Python's `json.dumps` writes it (issue 22 item 4): the bare tokens `NaN`, `Infinity`,
/// `-Infinity` and numbers beyond `f64` (`1e400`) are not JSON, so each is read as the string it
/// spells (`"NaN"`, `"1e400"`). The market layer then reads them as non-finite numbers and names the
/// field, exactly as when the backend sent them as strings (`<MODULE>_BAD_PAYLOAD`, outside any
/// breaker). `None` when the body is still not JSON.
pub fn lenient_json(body: &[u8]) -> Option<Value> {
    let mut out = Vec::with_capacity(body.len() + 16);
    let mut i = 0;
    let mut in_string = false;
    let mut changed = false;
    while i < body.len() {
        let b = body[i];
        if in_string {
            out.push(b);
            if b == b'\\' && i + 1 < body.len() {
                out.push(body[i + 1]);
                i += 2;
                continue;
            }
            if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            out.push(b);
            i += 1;
            continue;
        }
        let rest = &body[i..];
        let word = ["-Infinity", "+Infinity", "Infinity", "NaN"]
            .iter()
            .find(|w| rest.starts_with(w.as_bytes()));
        if let Some(w) = word {
            out.push(b'"');
            out.extend_from_slice(w.as_bytes());
            out.push(b'"');
            i += w.len();
            changed = true;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let len = rest
                .iter()
                .take_while(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
                .count();
            let token = &rest[..len];
            let huge = std::str::from_utf8(token)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(|x| x.is_infinite());
            if huge {
                out.push(b'"');
                out.extend_from_slice(token);
                out.push(b'"');
                changed = true;
            } else {
                out.extend_from_slice(token);
            }
            i += len;
            continue;
        }
        out.push(b);
        i += 1;
    }
    if !changed {
        return None;
    }
    serde_json::from_slice(&out).ok()
}

/// A venue's rate limit inside an answer (issue 22 item 6), with the seconds until it resets when
/// the answer says so (`Retry-After`, a venue's reset header, or a time in the message). The
/// envelopes of the venues sniper knows (`crate::symbol::Venue`), from their public API docs:
/// - Bybit: `{"retCode":10006|10018,"retMsg":"Too many visits!"}` (HTTP 200), reset in
///   `X-Bapi-Limit-Reset-Timestamp` (epoch ms);
/// - Binance: `code` `-1003` (request weight; IP ban "until <epoch ms>") and `-1015` (too many
///   orders), reset in `Retry-After`;
/// - OKX: `code` `"50011"` (rate limit reached) and `"50061"` (sub-account rate limit);
/// - KuCoin: `code` `"429000"` (too many requests), reset in `gw-ratelimit-reset` (ms left);
/// - Gate: `label` `TOO_MANY_REQUESTS`, reset in `X-Gate-RateLimit-Reset-Timestamp` (epoch ms);
/// - Deribit: JSON-RPC `error.code` `10028` (`too_many_requests`);
/// - Kraken: spot `error: ["EAPI:Rate limit exceeded" | "EGeneral:Too many requests" |
///   "EService:Throttled: <epoch s>"]`, futures `error: "apiLimitExceeded"`;
/// - Coinbase and Hyperliquid say it with HTTP 429 only (and "rate limit" text).
///
/// `Some(secs)`: rate limited (`secs` `None` when no reset time is given); `None`: not a rate limit.
pub fn venue_rate_limit(v: &Value, headers: &HeaderMap, now: Timestamp) -> Option<Option<u64>> {
    let obj = v.as_object()?;
    let code = |k: &str| obj.get(k).and_then(numeric_code);
    let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("");
    let bybit = code("retCode").is_some_and(|c| matches!(c, 10006 | 10018));
    let coded = code("code").is_some_and(|c| ban_code(c) || c == 429_000);
    let gate = text("label").eq_ignore_ascii_case("TOO_MANY_REQUESTS");
    let mut kraken_until = None;
    let (deribit, kraken) = match obj.get("error") {
        Some(Value::Object(e)) => (
            e.get("code").and_then(numeric_code) == Some(10028)
                || e.get("message").and_then(Value::as_str) == Some("too_many_requests"),
            false,
        ),
        Some(Value::Array(list)) => {
            let hit = list.iter().filter_map(Value::as_str).any(|m| {
                if let Some(rest) = m.strip_prefix("EService:Throttled:")
                    && let Ok(at) = rest.trim().parse::<i64>()
                {
                    kraken_until = Some(u64::try_from(at - now.as_second()).unwrap_or(0));
                }
                m.starts_with("EAPI:Rate limit exceeded")
                    || m.starts_with("EGeneral:Too many requests")
                    || m.starts_with("EService:Throttled")
            });
            (false, hit)
        }
        Some(Value::String(m)) => (false, m == "apiLimitExceeded"),
        _ => (false, false),
    };
    if !(bybit || coded || gate || deribit || kraken) {
        return None;
    }
    Some(
        retry_after(headers, now)
            .or_else(|| reset_header(headers, now))
            .or(kraken_until)
            .or_else(|| {
                let msg = MESSAGE_FIELDS
                    .iter()
                    .filter_map(|k| obj.get(*k))
                    .map(value_text)
                    .collect::<Vec<_>>()
                    .join(" ");
                ban_until(&msg, now)
            }),
    )
}

/// Seconds until a venue's rate-limit window resets, from its reset header: Bybit
/// `X-Bapi-Limit-Reset-Timestamp` and Gate `X-Gate-RateLimit-Reset-Timestamp` (epoch ms; epoch
/// seconds are accepted too), KuCoin `gw-ratelimit-reset` (ms left). Rounded up; 0 when past.
pub fn reset_header(headers: &HeaderMap, now: Timestamp) -> Option<u64> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    if let Some(at) =
        get("x-bapi-limit-reset-timestamp").or_else(|| get("x-gate-ratelimit-reset-timestamp"))
    {
        let at_ms = if at < 100_000_000_000 { at * 1000 } else { at };
        let left = at_ms.saturating_sub(now.as_millisecond());
        return Some(u64::try_from(left).unwrap_or(0).div_ceil(1000));
    }
    get("gw-ratelimit-reset").map(|ms| u64::try_from(ms).unwrap_or(0).div_ceil(1000))
}

/// The backend's own words about why it refused a request, for the run detail and the log (issue
/// 22 item 7): FastAPI's validation list `{"detail":[{"loc":["query","symbol"],"msg":"field
/// required"}]}` as `query.symbol: field required`, a `detail`/`msg`/`message`/`error`/`retMsg`
/// text, or the start of a text body. At most 300 characters, control characters removed; `None`
/// when the body says nothing.
pub fn backend_message(body: &[u8]) -> Option<String> {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(obj)) => {
            if let Some(Value::Array(items)) = obj.get("detail") {
                let parts: Vec<String> = items
                    .iter()
                    .take(5)
                    .map(|it| {
                        let loc = it
                            .get("loc")
                            .and_then(Value::as_array)
                            .map(|l| l.iter().map(value_text).collect::<Vec<_>>().join("."))
                            .unwrap_or_default();
                        let msg = it.get("msg").map(value_text).unwrap_or_default();
                        if loc.is_empty() {
                            msg
                        } else {
                            format!("{loc}: {msg}")
                        }
                    })
                    .filter(|p| !p.is_empty())
                    .collect();
                parts.join("; ")
            } else {
                ["detail", "msg", "message", "error", "retMsg", "reason"]
                    .iter()
                    .filter_map(|k| obj.get(*k))
                    .map(value_text)
                    .find(|t| !t.trim().is_empty())
                    .unwrap_or_default()
            }
        }
        Ok(_) => String::new(),
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(600)]).into_owned(),
    };
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if clean.is_empty() {
        return None;
    }
    Some(if clean.chars().count() > 300 {
        format!("{}…", clean.chars().take(299).collect::<String>())
    } else {
        clean
    })
}

/// Message fields of an error body, in the order they are read.
const MESSAGE_FIELDS: [&str; 6] = ["msg", "message", "error", "detail", "reason", "retMsg"];

/// Does a non-2xx body announce a ban or rate limit? `Some(secs)` when it does: `secs` is the
/// time left until the ban's end when the text names one ("until <epoch ms>"), else `None`.
/// Looks at a JSON body's `code` ([`ban_code`]) and message fields, or at a text body as a whole.
fn ban_in_body(body: &[u8], now: Timestamp) -> Option<Option<u64>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(obj)) => {
            let text = MESSAGE_FIELDS
                .iter()
                .filter_map(|k| obj.get(*k))
                .map(value_text)
                .collect::<Vec<_>>()
                .join(" ");
            let by_code = obj.get("code").and_then(numeric_code).is_some_and(ban_code);
            let by_text = ban_in_text(&text, now);
            by_text.or(by_code.then_some(None))
        }
        _ => ban_in_text(&String::from_utf8_lossy(body), now),
    }
}

/// Exchange error codes that mean "rate limited / banned": Binance `-1003` (too much request
/// weight; IP banned), `-1015` (too many orders), OKX `50011` (rate limit reached), `50061`
/// (sub-account rate limit).
pub fn ban_code(code: i64) -> bool {
    matches!(code, -1003 | -1015 | 50011 | 50061)
}

/// Does this message text announce a rate limit or ban? `Some(secs)` if so, with the seconds
/// from `now` until the ban's end when the text names one as "until <epoch ms>" (rounded up; 0
/// when past), else `Some(None)`. Phrases (case-insensitive): "rate limit", "too many requests",
/// "request weight", "ip banned", or any "until <epoch ms>".
pub fn ban_in_text(text: &str, now: Timestamp) -> Option<Option<u64>> {
    let lower = text.to_lowercase();
    let until = ban_until(&lower, now);
    if until.is_some() {
        return Some(until);
    }
    let phrase = [
        "rate limit",
        "too many requests",
        "too many visits",
        "too_many_requests",
        "request weight",
        "banned",
    ]
    .iter()
    .any(|p| lower.contains(p));
    phrase.then_some(None)
}

/// Seconds from `now` to the first "until <epoch ms>" of `text` (12–14 digits: epoch
/// milliseconds from 2001 to 5138), rounded up; 0 when past. `None` when there is none.
fn ban_until(text: &str, now: Timestamp) -> Option<u64> {
    let lower = text.to_lowercase();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("until") {
        rest = &rest[i + "until".len()..];
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if (12..=14).contains(&digits.len())
            && let Ok(ms) = digits.parse::<i64>()
        {
            let left_ms = ms.saturating_sub(now.as_millisecond());
            let secs = u64::try_from(left_ms).unwrap_or(0);
            return Some(secs.div_ceil(1000));
        }
    }
    None
}

/// Decide whether a parsed 2xx JSON body is an error envelope, and which class it is.
///
/// An object is an error envelope when it has `"success": false`, or a `code` field that is
/// not a success code. Success codes: `0`, `200`…`299` (number or numeric string, as CoinGlass
/// sends `"0"`), or the strings `ok`/`success`; a `null` code is ignored. Everything else —
/// arrays, objects without those fields — is data.
///
/// An error envelope is classified by its message first, then by its code:
/// - message (`msg`, `message`, `error`, `detail`, `reason`) speaks of a plan → entitlement;
/// - code 402 → entitlement; 401/403 → auth; 429 → rate limited (no duration);
///   5xx → transient with that status;
/// - any other code (e.g. CoinGlass's `40001` "invalid parameter") → bad payload, kind
///   `error_envelope`: the backend answered but gave no data, and repeating the call will
///   not change that. It counts toward the breaker's failure threshold and is never retried.
///
/// The `status` carried by entitlement/auth is the envelope code when it is a valid HTTP
/// status (100…599), otherwise the real HTTP status — the envelope code is what explains it.
pub fn classify_envelope(status: u16, value: &Value) -> Result<(), ErrorClass> {
    classify_envelope_at(status, value, Timestamp::UNIX_EPOCH)
}

/// [`classify_envelope`] with the time, so a ban envelope ("banned until <epoch ms>", Binance
/// `-1003`, OKX `50011`, "rate limit"/"too many requests" messages) is rate limited for the time
/// left. Ban detection comes after the plan message and before the code rules.
pub fn classify_envelope_at(status: u16, value: &Value, now: Timestamp) -> Result<(), ErrorClass> {
    let Some(obj) = value.as_object() else {
        return Ok(());
    };
    let success_false = obj.get("success") == Some(&Value::Bool(false));
    // Bybit's envelope says `retCode` (0 = success).
    let code = obj
        .get("code")
        .filter(|c| !c.is_null())
        .or_else(|| obj.get("retCode").filter(|c| !c.is_null()));
    let code_is_error = code.is_some_and(|c| !is_success_code(c));
    if !success_false && !code_is_error {
        return Ok(());
    }
    let numeric = code.and_then(numeric_code);
    let http_like = numeric
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| (100..=599).contains(n));
    let shown = http_like.unwrap_or(status);

    let message_mentions_plan = MESSAGE_FIELDS
        .iter()
        .filter_map(|k| obj.get(*k))
        .any(|v| mentions_plan(&value_text(v)));
    if message_mentions_plan {
        return Err(ErrorClass::Entitlement { status: shown });
    }
    let text = MESSAGE_FIELDS
        .iter()
        .filter_map(|k| obj.get(*k))
        .map(value_text)
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(secs) = ban_in_text(&text, now) {
        return Err(ErrorClass::RateLimited {
            retry_after_secs: secs,
        });
    }
    if numeric.is_some_and(ban_code) {
        return Err(ErrorClass::RateLimited {
            retry_after_secs: None,
        });
    }
    Err(match http_like {
        Some(402) => ErrorClass::Entitlement { status: 402 },
        Some(s @ (401 | 403)) => ErrorClass::Auth { status: s },
        Some(429) => ErrorClass::RateLimited {
            retry_after_secs: None,
        },
        Some(s @ 500..=599) => ErrorClass::Transient {
            kind: TransientKind::Status(s),
        },
        _ => ErrorClass::BadPayload {
            kind: PayloadKind::ErrorEnvelope,
        },
    })
}

/// The text of a message field: strings as-is, anything else (nested objects) as JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A code as an integer, when it is a JSON integer or a numeric string.
fn numeric_code(code: &Value) -> Option<i64> {
    match code {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

/// Is this envelope `code` a success code (see [`classify_envelope`])?
fn is_success_code(code: &Value) -> bool {
    if let Some(n) = numeric_code(code) {
        return n == 0 || (200..=299).contains(&n);
    }
    match code {
        Value::String(s) => {
            let s = s.trim();
            s.eq_ignore_ascii_case("ok") || s.eq_ignore_ascii_case("success")
        }
        Value::Bool(b) => *b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn now() -> Timestamp {
        // 1994-11-06T08:49:30Z — seven seconds before the RFC's example date.
        "1994-11-06T08:49:30Z".parse().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn c(status: u16, hdrs: &[(&str, &str)], body: &str) -> Result<(), ErrorClass> {
        classify_status(status, &headers(hdrs), body.as_bytes(), now())
    }

    const ENT: fn(u16) -> Result<(), ErrorClass> = |status| Err(ErrorClass::Entitlement { status });
    const AUTH: fn(u16) -> Result<(), ErrorClass> = |status| Err(ErrorClass::Auth { status });
    fn rl(secs: Option<u64>) -> Result<(), ErrorClass> {
        Err(ErrorClass::RateLimited {
            retry_after_secs: secs,
        })
    }
    fn tr(status: u16) -> Result<(), ErrorClass> {
        Err(ErrorClass::Transient {
            kind: TransientKind::Status(status),
        })
    }
    fn bad(kind: PayloadKind) -> Result<(), ErrorClass> {
        Err(ErrorClass::BadPayload { kind })
    }

    /// (status, headers, body, expected class)
    type Case = (
        u16,
        Vec<(&'static str, &'static str)>,
        &'static str,
        Result<(), ErrorClass>,
    );

    #[test]
    fn status_table() {
        let cases: Vec<Case> = vec![
            (200, vec![], r#"{"data":[1,2]}"#, Ok(())),
            (200, vec![], r#"[1,2,3]"#, Ok(())),
            (
                201,
                vec![],
                r#"{"code":"0","msg":"success","data":[]}"#,
                Ok(()),
            ),
            (200, vec![], r#"{"code":0,"data":{}}"#, Ok(())),
            (200, vec![], r#"{"code":200,"data":{}}"#, Ok(())),
            (200, vec![], r#"{"code":"OK","data":{}}"#, Ok(())),
            (200, vec![], r#"{"code":null,"data":{}}"#, Ok(())),
            (200, vec![], r#"{"success":true,"data":{}}"#, Ok(())),
            (200, vec![], "<html>oops</html>", bad(PayloadKind::NotJson)),
            (200, vec![], "", bad(PayloadKind::NotJson)),
            (204, vec![], "", bad(PayloadKind::NotJson)),
            (402, vec![], "", ENT(402)),
            (402, vec![], r#"{"detail":"nope"}"#, ENT(402)),
            (401, vec![], r#"{"detail":"Upgrade your plan"}"#, ENT(401)),
            (403, vec![], "This feature requires the Pro tier", ENT(403)),
            (403, vec![], r#"{"msg":"subscription expired"}"#, ENT(403)),
            (401, vec![], r#"{"detail":"Invalid API key"}"#, AUTH(401)),
            (403, vec![], "", AUTH(403)),
            (403, vec![], "explanation: forbidden", AUTH(403)),
            (
                404,
                vec![],
                r#"{"detail":"Not Found"}"#,
                Err(ErrorClass::RouteMissing),
            ),
            (405, vec![], "", Err(ErrorClass::RouteMissing)),
            (410, vec![], "", Err(ErrorClass::RouteMissing)),
            (429, vec![], "", rl(None)),
            (429, vec![("retry-after", "2")], "", rl(Some(2))),
            (429, vec![("retry-after", "soon")], "", rl(None)),
            (
                429,
                vec![("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")],
                "",
                rl(Some(7)),
            ),
            (503, vec![("retry-after", "120")], "", rl(Some(120))),
            (503, vec![("retry-after", "garbage")], "", rl(None)),
            (503, vec![], "", tr(503)),
            (500, vec![], "", tr(500)),
            (502, vec![], "bad gateway", tr(502)),
            (504, vec![], "", tr(504)),
            (408, vec![], "", tr(408)),
            // Any answer with Retry-After is a rate limit for that long (issue 13 item 1).
            (
                418,
                vec![("retry-after", "120")],
                BINANCE_BAN,
                rl(Some(120)),
            ),
            (400, vec![("retry-after", "30")], "", rl(Some(30))),
            (500, vec![("retry-after", "3")], "", rl(Some(3))),
            (
                403,
                vec![("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")],
                "",
                rl(Some(7)),
            ),
            (418, vec![], "", rl(None)),
            (418, vec![], "I'm a teapot", rl(None)),
            (
                400,
                vec![],
                r#"{"code":-1003,"msg":"Too much request weight used"}"#,
                rl(None),
            ),
            (400, vec![], r#"{"code":-1003}"#, rl(None)),
            (403, vec![], "Too Many Requests", rl(None)),
            (500, vec![], r#"{"detail":"rate limit exceeded"}"#, rl(None)),
            // A plan refusal stays entitlement even when it speaks of rate limits.
            (402, vec![], r#"{"detail":"rate limit: upgrade"}"#, ENT(402)),
            (
                403,
                vec![],
                r#"{"detail":"rate limit of your plan reached"}"#,
                ENT(403),
            ),
            (
                400,
                vec![],
                r#"{"detail":"symbol not supported"}"#,
                bad(PayloadKind::Rejected),
            ),
            (400, vec![], "", bad(PayloadKind::Rejected)),
            (422, vec![], r#"{"detail":[]}"#, bad(PayloadKind::Rejected)),
            (302, vec![], "", bad(PayloadKind::Rejected)),
        ];
        for (status, hdrs, body, want) in cases {
            assert_eq!(
                c(status, &hdrs, body),
                want,
                "status {status} body {body:?}"
            );
        }
    }

    #[test]
    fn envelope_table() {
        let cases: Vec<(&str, Result<(), ErrorClass>)> = vec![
            (r#"{"code":"401","msg":"Upgrade plan"}"#, ENT(401)),
            (r#"{"code":"40001","msg":"Upgrade plan"}"#, ENT(200)),
            (r#"{"code":"401","msg":"API key missing"}"#, AUTH(401)),
            (r#"{"code":403,"msg":"forbidden"}"#, AUTH(403)),
            (r#"{"code":"402"}"#, ENT(402)),
            (r#"{"code":"429","msg":"Too many requests"}"#, rl(None)),
            (r#"{"code":"500","msg":"internal"}"#, tr(500)),
            (
                r#"{"code":"50011","msg":"Rate limit reached. Please refer to API docs."}"#,
                rl(None),
            ),
            (r#"{"code":"50011","msg":""}"#, rl(None)),
            (r#"{"code":-1003,"msg":"x"}"#, rl(None)),
            (r#"{"success":false,"msg":"Too many requests"}"#, rl(None)),
            (r#"{"code":"1","error":"rate limit exceeded"}"#, rl(None)),
            (
                r#"{"code":"40001","msg":"invalid symbol"}"#,
                bad(PayloadKind::ErrorEnvelope),
            ),
            (r#"{"code":"E_SOMETHING"}"#, bad(PayloadKind::ErrorEnvelope)),
            (
                r#"{"success":false,"message":"This endpoint requires a higher tier"}"#,
                ENT(200),
            ),
            (r#"{"success":false}"#, bad(PayloadKind::ErrorEnvelope)),
            (
                r#"{"success":false,"code":"0"}"#,
                bad(PayloadKind::ErrorEnvelope),
            ),
            (
                r#"{"success":false,"error":{"message":"upgrade required"}}"#,
                ENT(200),
            ),
            // Plan words in the data of a successful envelope are data, not an error.
            (
                r#"{"code":"0","data":{"plan":"free","msg":"upgrade"}}"#,
                Ok(()),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(c(200, &[], body), want, "body {body}");
        }
    }

    const BINANCE_BAN: &str = r#"{"code":-1003,"msg":"Way too much request weight used; IP banned until 1767225600000. Please use WebSocket Streams for live updates to avoid bans."}"#;

    /// A ban body without `Retry-After` is a rate limit until the epoch-ms instant it names,
    /// in a non-2xx answer and in a 2xx envelope alike; a past instant means 0 s.
    #[test]
    fn ban_until_epoch_ms_sets_the_wait() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let two_min_before = at("2025-12-31T23:58:00Z");
        let h = HeaderMap::new();
        for status in [418, 429, 400, 200] {
            assert_eq!(
                classify_status(status, &h, BINANCE_BAN.as_bytes(), two_min_before),
                rl(Some(120)),
                "status {status}"
            );
        }
        assert_eq!(
            classify_status(
                418,
                &h,
                BINANCE_BAN.as_bytes(),
                at("2025-12-31T23:59:59.500Z")
            ),
            rl(Some(1)),
            "partial seconds round up"
        );
        assert_eq!(
            classify_status(418, &h, BINANCE_BAN.as_bytes(), at("2026-01-01T00:10:00Z")),
            rl(Some(0))
        );
        // A plain-text ban.
        assert_eq!(
            classify_status(403, &h, b"IP banned until 1767225600000", two_min_before),
            rl(Some(120))
        );
        // Digits that are not an epoch in ms are not a ban's end.
        assert_eq!(ban_until("valid until 2026", two_min_before), None);
    }

    #[test]
    fn retry_after_formats() {
        let n = now();
        assert_eq!(parse_retry_after("0", n), Some(0));
        assert_eq!(parse_retry_after(" 30 ", n), Some(30));
        assert_eq!(
            parse_retry_after("99999999999999999999999", n),
            Some(u64::MAX)
        );
        assert_eq!(parse_retry_after("-5", n), None);
        assert_eq!(parse_retry_after("1.5", n), None);
        assert_eq!(parse_retry_after("", n), None);
        // The three HTTP-date forms of RFC 9110, all 7 s after `now`.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", n),
            Some(7)
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", n),
            Some(7)
        );
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994", n), Some(7));
        // Past dates mean "now".
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", n),
            Some(0)
        );
    }

    #[test]
    fn retry_after_date_rounds_up_partial_seconds() {
        let n: Timestamp = "1994-11-06T08:49:35.250Z".parse().unwrap();
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", n),
            Some(2)
        );
    }

    #[test]
    fn first_parseable_retry_after_wins() {
        let h = headers(&[("retry-after", "bogus"), ("retry-after", "9")]);
        assert_eq!(
            classify_status(429, &h, b"", now()),
            rl(Some(9)),
            "an unparseable first header must not hide a good second one"
        );
    }

    #[test]
    fn classify_response_hands_back_the_parsed_body() {
        let v = classify_response(200, &HeaderMap::new(), br#"{"data":[1]}"#, now()).unwrap();
        assert_eq!(v, serde_json::json!({"data":[1]}));
        assert_eq!(
            classify_response(
                200,
                &HeaderMap::new(),
                br#"{"code":"401","msg":"Upgrade plan"}"#,
                now()
            ),
            ENT(401).map(|_| Value::Null)
        );
    }

    /// Issue 22 item 6: each venue's rate-limit envelope, in a 200 and in an error status, is a
    /// rate limit with its reset time when the answer gives one.
    #[test]
    fn venue_rate_limit_envelopes_with_reset_times() {
        let n: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let ms = n.as_millisecond();
        let reset = (ms + 4_500).to_string();
        type VenueCase = (
            u16,
            Vec<(&'static str, String)>,
            String,
            Result<(), ErrorClass>,
        );
        let cases: Vec<VenueCase> = vec![
            (
                200,
                vec![("x-bapi-limit-reset-timestamp", reset.clone())],
                r#"{"retCode":10006,"retMsg":"Too many visits!","result":{},"time":1}"#.into(),
                rl(Some(5)),
            ),
            (
                200,
                vec![],
                r#"{"retCode":10018,"retMsg":"Your IP exceeded the rate limit","result":{}}"#
                    .into(),
                rl(None),
            ),
            (
                200,
                vec![],
                r#"{"code":"50011","msg":"","data":[]}"#.into(),
                rl(None),
            ),
            (
                200,
                vec![],
                r#"{"code":"50061","msg":"x","data":[]}"#.into(),
                rl(None),
            ),
            (
                200,
                vec![("retry-after", "7".into())],
                r#"{"code":-1015,"msg":"Too many new orders"}"#.into(),
                rl(Some(7)),
            ),
            (
                200,
                vec![("gw-ratelimit-reset", "2500".into())],
                r#"{"code":"429000","msg":"x"}"#.into(),
                rl(Some(3)),
            ),
            (
                429,
                vec![("x-gate-ratelimit-reset-timestamp", reset.clone())],
                r#"{"label":"TOO_MANY_REQUESTS","message":"x"}"#.into(),
                rl(Some(5)),
            ),
            (
                200,
                vec![],
                r#"{"jsonrpc":"2.0","error":{"code":10028,"message":"too_many_requests"}}"#.into(),
                rl(None),
            ),
            (
                200,
                vec![],
                format!(
                    r#"{{"error":["EService:Throttled: {}"],"result":{{}}}}"#,
                    n.as_second() + 30
                ),
                rl(Some(30)),
            ),
            (
                200,
                vec![],
                r#"{"error":["EAPI:Rate limit exceeded"]}"#.into(),
                rl(None),
            ),
            (
                200,
                vec![],
                r#"{"result":"error","error":"apiLimitExceeded"}"#.into(),
                rl(None),
            ),
            // Not rate limits: Bybit success, a Bybit parameter error, Kraken success.
            (
                200,
                vec![],
                r#"{"retCode":0,"retMsg":"OK","result":{}}"#.into(),
                Ok(()),
            ),
            (
                200,
                vec![],
                r#"{"retCode":10001,"retMsg":"params error"}"#.into(),
                bad(PayloadKind::ErrorEnvelope),
            ),
            (200, vec![], r#"{"error":[],"result":{}}"#.into(), Ok(())),
        ];
        for (status, hdrs, body, want) in cases {
            let mut h = HeaderMap::new();
            for (k, v) in &hdrs {
                h.insert(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            assert_eq!(
                classify_status(status, &h, body.as_bytes(), n),
                want,
                "{status} {body}"
            );
        }
    }

    /// Issue 22 item 4: bare NaN / Infinity / 1e400 tokens are read as their strings, not NotJson.
    #[test]
    fn python_json_tokens_are_read_as_strings() {
        let v =
            lenient_json(br#"{"a":NaN,"b":[-Infinity,Infinity],"c":1e400,"d":"NaN x","e":1.5}"#)
                .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a":"NaN","b":["-Infinity","Infinity"],"c":"1e400","d":"NaN x","e":1.5})
        );
        assert_eq!(lenient_json(b"<html>"), None);
        assert!(c(200, &[], r#"{"bids":[[NaN,1]]}"#).is_ok());
    }

    /// Issue 22 item 7: the backend's own message is kept.
    #[test]
    fn backend_messages() {
        let fastapi = br#"{"detail":[{"loc":["query","symbol"],"msg":"field required","type":"value_error.missing"},{"loc":["query","days"],"msg":"ensure this value is less than 91"}]}"#;
        assert_eq!(
            backend_message(fastapi).as_deref(),
            Some("query.symbol: field required; query.days: ensure this value is less than 91")
        );
        assert_eq!(
            backend_message(br#"{"detail":"Not Found"}"#).as_deref(),
            Some("Not Found")
        );
        assert_eq!(
            backend_message(b"Bad\nGateway").as_deref(),
            Some("Bad Gateway")
        );
        assert_eq!(backend_message(b""), None);
    }

    #[test]
    fn plan_words_are_whole_words() {
        assert!(mentions_plan("Please UPGRADE"));
        assert!(mentions_plan("not in your plan."));
        assert!(mentions_plan("Subscribe to access"));
        assert!(!mentions_plan("explanation"));
        assert!(!mentions_plan("frontier"));
        assert!(!mentions_plan("invalid api key"));
    }
}
