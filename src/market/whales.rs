//! Whale alerts parser (`whale_alerts`). Shapes: see [`WhaleAlerts`].

use serde_json::Value;

use super::error::finite_non_negative;
use super::read::{self, field, kind, num_field, text, time_ms};
use super::{DataError, Side, WhaleAlert, WhaleAlerts};

const LIST: &[&str] = &["alerts", "whales", "rows", "items", "data"];
const TIME: &[&str] = &["timestamp", "time", "create_time", "created_at", "ts", "t"];
const INSTRUMENT: &[&str] = &["symbol", "instrument", "coin", "pair", "instId", "asset"];
const NOTIONAL: &[&str] = &[
    "notional_usd",
    "notional_value",
    "position_value_usd",
    "size_usd",
    "value_usd",
    "amount_usd",
    "usd",
];
const VENUE: &[&str] = &["exchange", "venue", "source"];

pub(crate) fn parse(body: &Value) -> Result<WhaleAlerts, DataError> {
    let inner = read::unwrap_envelope(body)?;
    let Some(rows) = read::list(inner, LIST) else {
        return Err(DataError::bad(format!(
            "no alert list in the {}",
            kind(inner)
        )));
    };
    let default_venue = [inner.as_object(), body.as_object()]
        .into_iter()
        .flatten()
        .find_map(|o| field(o, VENUE).and_then(text));
    let mut alerts = Vec::with_capacity(rows.len());
    let (mut no_time, mut no_side) = (0usize, 0usize);
    for (i, row) in rows.iter().enumerate() {
        let Some(o) = row.as_object() else {
            return Err(DataError::bad(format!(
                "alert {i} is a {}, not an object",
                kind(row)
            )));
        };
        let notional = num_field(o, NOTIONAL, &format!("alert {i} notional"))?;
        let notional_usd = match notional {
            Some(n) => finite_non_negative(n, &format!("alert {i} notional"))?,
            None => 0.0,
        };
        let size = num_field(
            o,
            &["position_size", "size", "qty"],
            &format!("alert {i} size"),
        )?;
        if let Some(s) = size
            && !s.is_finite()
        {
            return Err(DataError::bad(format!("alert {i} size is not finite: {s}")));
        }
        // An explicit side wins; else the sign of a signed position size (CoinGlass v4).
        let side = o.get("side").and_then(read::side).or(match size {
            Some(s) if s > 0.0 => Some(Side::Long),
            Some(s) if s < 0.0 => Some(Side::Short),
            _ => None,
        });
        let t = match field(o, TIME) {
            None => None,
            Some(v) => Some(time_ms(v).ok_or_else(|| {
                DataError::bad(format!("alert {i} unreadable time {}", read::short(v)))
            })?),
        };
        let instrument = field(o, INSTRUMENT).and_then(text);
        let (Some(time_ms), Some(side), Some(instrument)) = (t, side, instrument) else {
            if t.is_none() {
                no_time += 1;
            } else {
                no_side += 1;
            }
            continue;
        };
        if notional_usd == 0.0 {
            continue;
        }
        let venue = field(o, VENUE)
            .and_then(text)
            .or_else(|| default_venue.clone());
        alerts.push(WhaleAlert {
            time_ms,
            instrument,
            side,
            notional_usd,
            venue,
        });
    }
    if alerts.is_empty() {
        return Err(DataError::empty(if rows.is_empty() {
            "empty list".to_string()
        } else {
            format!(
                "{} alerts, none usable ({no_time} without a time, {no_side} without a side or instrument, rest zero notional)",
                rows.len()
            )
        }));
    }
    alerts.sort_by_key(|a| a.time_ms);
    Ok(WhaleAlerts { alerts })
}
