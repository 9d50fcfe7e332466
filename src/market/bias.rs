//! Institutional bias parser (`bias`). Shapes and scales: see [`Bias`].

use serde_json::{Map, Value};

use super::read::{self, field, kind, num, time_ms};
use super::{Bias, DataError, Direction};

const DIRECTION: &[&str] = &["direction", "bias", "signal", "side", "stance"];
const SCORE: &[&str] = &["score", "bias_score", "value"];
const CONFIDENCE: &[&str] = &["confidence", "conf", "probability"];
const TIME: &[&str] = &["timestamp", "time", "ts", "updated_at"];

pub(crate) fn parse(body: &Value) -> Result<Bias, DataError> {
    let inner = read::unwrap_envelope(body)?;
    let Some(top) = inner.as_object() else {
        return Err(match inner {
            Value::Array(a) if a.is_empty() => DataError::empty("empty list"),
            other => DataError::bad(format!("bias is a {}, not an object", kind(other))),
        });
    };
    // `bias` may be the object holding the fields, or the direction itself.
    let nested = top.get("bias").and_then(Value::as_object);
    let get = |keys: &[&str]| -> Option<&Value> {
        let scopes: [Option<&Map<String, Value>>; 2] = [nested, Some(top)];
        scopes
            .into_iter()
            .flatten()
            .find_map(|o| field(o, keys).filter(|v| !v.is_object()))
    };
    let dv = get(DIRECTION).ok_or_else(|| DataError::bad("no bias direction"))?;
    let direction = direction(dv)
        .ok_or_else(|| DataError::bad(format!("unknown bias direction {}", read::short(dv))))?;
    let sv = get(SCORE).ok_or_else(|| DataError::bad("no bias score"))?;
    let raw =
        num(sv).ok_or_else(|| DataError::bad(format!("score not numeric: {}", read::short(sv))))?;
    let score = scale(raw, -100.0, "score")?;
    let confidence = match get(CONFIDENCE) {
        None => None,
        Some(cv) => {
            let c = num(cv).ok_or_else(|| {
                DataError::bad(format!("confidence not numeric: {}", read::short(cv)))
            })?;
            Some(scale(c, 0.0, "confidence")?)
        }
    };
    let time_ms = match get(TIME) {
        None => None,
        Some(v) => Some(
            time_ms(v)
                .ok_or_else(|| DataError::bad(format!("unreadable time {}", read::short(v))))?,
        ),
    };
    Ok(Bias {
        direction,
        score,
        confidence,
        time_ms,
    })
}

/// `[lo/100, 1]` kept; `(1, 100]` in absolute value read as percent; else BadPayload.
fn scale(x: f64, lo: f64, what: &str) -> Result<f64, DataError> {
    if !x.is_finite() {
        return Err(DataError::bad(format!("{what} is not finite: {x}")));
    }
    if x < lo || x > 100.0 {
        return Err(DataError::bad(format!("{what} {x} outside [{lo}, 100]")));
    }
    if x.abs() <= 1.0 { Ok(x) } else { Ok(x / 100.0) }
}

fn direction(v: &Value) -> Option<Direction> {
    let s = v.as_str()?.trim().to_ascii_lowercase();
    match s.as_str() {
        "long" | "bullish" | "bull" | "buy" | "up" | "strong_bullish" | "strong_long" => {
            Some(Direction::Long)
        }
        "short" | "bearish" | "bear" | "sell" | "down" | "strong_bearish" | "strong_short" => {
            Some(Direction::Short)
        }
        "neutral" | "flat" | "none" | "hold" | "sideways" => Some(Direction::Neutral),
        _ => None,
    }
}
