//! Lenient readers: the small, forgiving conversions every parser of this layer shares.
//!
//! Backends disagree on spelling, not on meaning: a price is `141.38` or `"141.3841"`, a side is
//! `"LONG"`, `"Buy"` or `"bid"`, a time is epoch seconds, epoch milliseconds, ISO-8601 or zoned text
//! (`"2026-11-29 18:50:56 WIB"`), and a list sits at the top, under `data`, under `data.data` or under a
//! named key (`bids`, `levels`, `alerts`, …). These readers accept all of those and return `None` for
//! anything else; deciding whether a `None` is an error is the caller's job.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::Offset;
use serde_json::{Map, Value};

use super::{DataError, Side};

/// A number written as a JSON number or as a string (`"141.3841"`). `None` for anything else.
///
/// Strings such as `"NaN"` or `"inf"` do parse (to non-finite values) so that validation can
/// reject them by name instead of treating them as missing.
///
/// Commas in a string follow one rule ([`decimal_text`]), so a number is never silently rescaled:
/// - thousands separators only where nothing else is possible: `"1,200.5"` (a point after 3-digit
///   groups) or `"1,234,567"` (two or more 3-digit groups);
/// - a single decimal comma where it cannot be a thousands separator: `"151,14"` → 151.14;
/// - anything else with a comma is ambiguous and not a number: `"151,142"` (a decimal comma in one
///   locale, a thousands separator in another), `"1.234,5"`, `"12,34,567"`. The caller reports it
///   as a bad payload naming the field.
pub fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                return None;
            }
            if t.contains(',') {
                return decimal_text(t)?.parse::<f64>().ok();
            }
            t.parse::<f64>().ok()
        }
        _ => None,
    }
}

/// A number's text with its commas resolved by the rule of [`num`]; `None` when ambiguous.
pub fn decimal_text(t: &str) -> Option<String> {
    let unsigned = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let groups: Vec<&str> = int.split(',').collect();
    let digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    let grouped = groups.len() >= 2
        && groups[0].len() <= 3
        && groups.iter().all(|g| digits(g))
        && groups[1..].iter().all(|g| g.len() == 3);
    if let Some(f) = frac {
        // A point after the commas: the commas group thousands, if they are well formed.
        return (grouped && !f.contains(',')).then(|| t.replace(',', ""));
    }
    if grouped && groups.len() >= 3 {
        return Some(t.replace(',', ""));
    }
    // One comma not followed by exactly three digits can only be a decimal comma.
    if groups.len() == 2 && digits(groups[0]) && digits(groups[1]) && groups[1].len() != 3 {
        return Some(t.replacen(',', ".", 1));
    }
    None
}

/// The text of a string, or the decimal form of a number; `None` for null, bool, list or object.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first key of `keys` present in `obj` with a non-null value.
pub fn field<'a>(obj: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter()
        .filter_map(|k| obj.get(*k))
        .find(|v| !v.is_null())
}

/// [`num`] of the first present key; a present key that is not a number is an error (`what` names it).
pub fn num_field(
    obj: &Map<String, Value>,
    keys: &[&str],
    what: &str,
) -> Result<Option<f64>, DataError> {
    match field(obj, keys) {
        None => Ok(None),
        Some(v) => match num(v) {
            Some(x) => Ok(Some(x)),
            None => Err(DataError::bad(format!(
                "{what} is not a number: {}",
                short(v)
            ))),
        },
    }
}

/// A side, whatever its case: `long`/`buy`/`bid`/`b` → [`Side::Long`], `short`/`sell`/`ask`/`a`/`s` →
/// [`Side::Short`]. A buy opens or adds to a long exposure, a sell a short one: that is the whole mapping.
pub fn side(v: &Value) -> Option<Side> {
    let s = v.as_str()?.trim().to_ascii_lowercase();
    match s.as_str() {
        "long" | "buy" | "bid" | "bids" | "b" | "bull" | "bullish" => Some(Side::Long),
        "short" | "sell" | "ask" | "asks" | "a" | "s" | "bear" | "bearish" => Some(Side::Short),
        _ => None,
    }
}

/// A time in epoch milliseconds, from:
/// - a number or numeric string: below 10^11 it is epoch seconds (fractions kept to the millisecond),
///   below 10^14 epoch milliseconds, below 10^17 microseconds, else nanoseconds;
/// - RFC 3339 / ISO-8601 with `Z` or an offset (`2026-11-29T11:50:56.647000Z`, `… +07:00`);
/// - text with a trailing zone abbreviation (`2025-11-05 10:00:00 UTC`, `2026-11-29 18:50:56 WIB`),
///   for the abbreviations in [`zone_abbreviation`];
/// - a naive date-time (`2026-11-29T11:50:56.575232`), read as UTC: the rcz87 backend writes
///   `datetime.utcnow().isoformat()`, which carries no zone;
/// - a bare date (`2026-11-20`), read as 00:00 UTC.
pub fn time_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(_) => num(v).and_then(epoch_to_ms),
        Value::String(s) => text_time_ms(s.trim()),
        _ => None,
    }
}

fn epoch_to_ms(x: f64) -> Option<i64> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    let ms = if x < 1e11 {
        x * 1e3
    } else if x < 1e14 {
        x
    } else if x < 1e17 {
        x / 1e3
    } else {
        x / 1e6
    };
    // Within jiff's range (years -9999..=9999), so later conversions cannot fail.
    let ms = ms.round() as i64;
    Timestamp::from_millisecond(ms).ok().map(|_| ms)
}

fn text_time_ms(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    if let Ok(x) = s.parse::<f64>() {
        return epoch_to_ms(x);
    }
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(ts.as_millisecond());
    }
    if let Ok(z) = s.parse::<jiff::ZonedDateTime>() {
        return Some(z.timestamp().as_millisecond());
    }
    // "<date-time> <zone>": an abbreviation or a numeric offset after a space.
    if let Some((head, zone)) = s.rsplit_once(' ') {
        let head = head.trim();
        let offset = zone_abbreviation(zone).or_else(|| numeric_offset(zone));
        if let (Some(off), Ok(dt)) = (offset, head.parse::<DateTime>()) {
            return off.to_timestamp(dt).ok().map(|t| t.as_millisecond());
        }
    }
    if let Ok(dt) = s.parse::<DateTime>() {
        return Offset::UTC
            .to_timestamp(dt)
            .ok()
            .map(|t| t.as_millisecond());
    }
    if let Ok(d) = s.parse::<Date>() {
        return Offset::UTC
            .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
            .ok()
            .map(|t| t.as_millisecond());
    }
    None
}

/// Fixed offsets of the zone abbreviations seen in backend text: `UTC`, `GMT`, `Z`, Indonesia's `WIB`
/// (+7, the rcz87 backend's zone), `WITA` (+8), `WIT` (+9), `SGT`/`HKT`/`CST`-China is ambiguous and
/// left out, `JST`/`KST` (+9), `IST` (+5:30), `CET` (+1), `CEST` (+2), `EST` (−5), `EDT` (−4),
/// `PST` (−8), `PDT` (−7).
pub fn zone_abbreviation(z: &str) -> Option<Offset> {
    let minutes: i32 = match z.to_ascii_uppercase().as_str() {
        "UTC" | "GMT" | "Z" => 0,
        "WIB" => 7 * 60,
        "WITA" | "SGT" | "HKT" | "AWST" => 8 * 60,
        "WIT" | "JST" | "KST" => 9 * 60,
        "IST" => 5 * 60 + 30,
        "CET" => 60,
        "CEST" => 2 * 60,
        "EST" => -5 * 60,
        "EDT" => -4 * 60,
        "PST" => -8 * 60,
        "PDT" => -7 * 60,
        _ => return None,
    };
    Offset::from_seconds(minutes * 60).ok()
}

/// `+07:00`, `+0700`, `-05`, `UTC+7`.
fn numeric_offset(z: &str) -> Option<Offset> {
    let z = z
        .strip_prefix("UTC")
        .or_else(|| z.strip_prefix("GMT"))
        .unwrap_or(z);
    let (sign, rest) = match z.as_bytes().first()? {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = if digits.len() <= 2 {
        (digits.parse::<i32>().ok()?, 0)
    } else {
        let (h, m) = digits.split_at(digits.len() - 2);
        (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?)
    };
    if h > 18 || m > 59 {
        return None;
    }
    Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()
}

/// A calendar date: `YYYY-MM-DD` text, or any [`time_ms`] form (its UTC date).
pub fn date(v: &Value) -> Option<Date> {
    if let Some(s) = v.as_str()
        && let Ok(d) = s.trim().parse::<Date>()
    {
        return Some(d);
    }
    let ms = time_ms(v)?;
    let ts = Timestamp::from_millisecond(ms).ok()?;
    Some(Offset::UTC.to_datetime(ts).date())
}

/// The payload inside a `{"code", "msg", "data"}` envelope (CoinGlass v4, OKX): `data` when `code` is
/// `"0"` (or `0`); [`DataError::BadPayload`] carrying `msg` for any other code. Anything that is not
/// such an envelope, and any `success: false` answer, is handled here too (the latter as BadPayload).
pub fn unwrap_envelope(body: &Value) -> Result<&Value, DataError> {
    let Some(obj) = body.as_object() else {
        return Ok(body);
    };
    if obj.get("success") == Some(&Value::Bool(false)) {
        let msg = field(obj, &["error", "message", "msg", "detail"])
            .map(short)
            .unwrap_or_else(|| "no message".into());
        return Err(DataError::bad(format!("success: false ({msg})")));
    }
    if let Some(code) = obj.get("code")
        && (obj.contains_key("msg") || obj.contains_key("data") || obj.contains_key("message"))
    {
        let ok = match code {
            Value::String(s) => s.trim() == "0",
            Value::Number(n) => n.as_f64() == Some(0.0),
            _ => false,
        };
        if !ok {
            let msg = field(obj, &["msg", "message"])
                .map(short)
                .unwrap_or_else(|| "no message".into());
            return Err(DataError::bad(format!(
                "envelope code {} ({msg})",
                short(code)
            )));
        }
        return match obj.get("data") {
            Some(d) if !d.is_null() => Ok(d),
            _ => Err(DataError::empty("envelope code 0 without data")),
        };
    }
    Ok(body)
}

/// The list of records in `v`: `v` itself when it is a list, else the first of `keys` holding a list,
/// looking in `v`, then in `v.data`, then in `v.data.data`.
pub fn list<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Vec<Value>> {
    let mut cur = v;
    for _ in 0..3 {
        match cur {
            Value::Array(a) => return Some(a),
            Value::Object(o) => {
                if let Some(a) = keys
                    .iter()
                    .find_map(|k| o.get(*k).and_then(Value::as_array))
                {
                    return Some(a);
                }
                match o.get("data") {
                    Some(d) => cur = d,
                    None => return None,
                }
            }
            _ => return None,
        }
    }
    None
}

/// A short, single-line rendering of a value for error messages (at most 60 characters).
pub fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// What kind of JSON value this is, for "shape not recognised" messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // 2026-11-29T11:50:56Z, computed independently: `date -u -d 2026-11-29T11:50:56Z +%s` = 1795953056.
    const T: i64 = 1_795_953_056_000;

    #[test]
    fn times_in_every_spelling() {
        assert_eq!(time_ms(&json!(1_795_953_056)), Some(T));
        assert_eq!(time_ms(&json!(T)), Some(T));
        assert_eq!(time_ms(&json!("1795953056")), Some(T));
        assert_eq!(time_ms(&json!(T * 1000)), Some(T));
        assert_eq!(time_ms(&json!("2026-11-29T11:50:56Z")), Some(T));
        assert_eq!(time_ms(&json!("2026-11-29T11:50:56.000000Z")), Some(T));
        assert_eq!(time_ms(&json!("2026-11-29T18:50:56+07:00")), Some(T));
        assert_eq!(time_ms(&json!("2026-11-29 18:50:56 WIB")), Some(T));
        assert_eq!(time_ms(&json!("2026-11-29 11:50:56 UTC")), Some(T));
        assert_eq!(time_ms(&json!("2026-11-29 06:50:56 -05:00")), Some(T));
        assert_eq!(time_ms(&json!("2026-11-29T11:50:56")), Some(T));
        assert_eq!(
            time_ms(&json!("2026-11-29T11:50:56[Europe/London]")),
            Some(T)
        );
        assert_eq!(time_ms(&json!("2026-11-29")), Some(T - 42_656_000));
        assert_eq!(time_ms(&json!("yesterday")), None);
        assert_eq!(time_ms(&json!("2026-11-29 18:50:56 XYZ")), None);
        assert_eq!(time_ms(&json!(-5)), None);
        assert_eq!(time_ms(&json!(null)), None);
    }

    #[test]
    fn numbers_and_sides() {
        assert_eq!(num(&json!("141.3841")), Some(141.3841));
        assert_eq!(num(&json!(2)), Some(2.0));
        assert_eq!(num(&json!(" 1,200.5 ")), Some(1200.5));
        // Issue 22 item 1: a comma is never a silent rescale.
        assert_eq!(
            num(&json!("151,142")),
            None,
            "ambiguous: decimal or thousands"
        );
        assert_eq!(
            num(&json!("151,14")),
            Some(151.14),
            "only a decimal comma fits"
        );
        assert_eq!(num(&json!("-0,5")), Some(-0.5));
        assert_eq!(num(&json!("1,234,567")), Some(1_234_567.0));
        assert_eq!(num(&json!("1.234,5")), None);
        assert_eq!(num(&json!("12,34,567")), None);
        assert_eq!(num(&json!("1,2,3")), None);
        assert!(num(&json!("NaN")).is_some_and(f64::is_nan));
        assert_eq!(num(&json!("abc")), None);
        assert_eq!(num(&json!(true)), None);
        assert_eq!(side(&json!("LONG")), Some(Side::Long));
        assert_eq!(side(&json!("Buy")), Some(Side::Long));
        assert_eq!(side(&json!("bid")), Some(Side::Long));
        assert_eq!(side(&json!("Sell")), Some(Side::Short));
        assert_eq!(side(&json!("unknown")), None);
    }

    #[test]
    fn envelopes_and_lists() {
        let ok = json!({"code": "0", "msg": "success", "data": [1, 2]});
        assert_eq!(unwrap_envelope(&ok).ok(), Some(&json!([1, 2])));
        let gated = json!({"code": "401", "msg": "Upgrade plan"});
        assert!(matches!(
            unwrap_envelope(&gated),
            Err(DataError::BadPayload { .. })
        ));
        let nested = json!({"data": {"data": {"rows": [3]}}});
        assert_eq!(list(&nested, &["rows"]), Some(&vec![json!(3)]));
        assert_eq!(list(&json!({"x": 1}), &["rows"]), None);
    }
}
