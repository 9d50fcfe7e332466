//! Order book parser (`spot_ob`). Shapes: see [`OrderBook`].

use serde_json::{Map, Value};

use super::error::finite_non_negative;
use super::read::{self, field, kind, num, text, time_ms};
use super::{Asked, DataError, Level, OrderBook};

const PRICE: &[&str] = &["price", "px", "p"];
const SIZE: &[&str] = &["size", "qty", "quantity", "amount", "sz", "q", "volume"];
const VENUE: &[&str] = &["exchange", "venue", "source", "ex"];
const INSTRUMENT: &[&str] = &["symbol", "instId", "instrument", "pair", "s"];
const TIME: &[&str] = &["timestamp", "ts", "time", "E", "T", "updated_at"];

pub(crate) fn parse(body: &Value, asked: &Asked) -> Result<OrderBook, DataError> {
    let inner = read::unwrap_envelope(body)?;
    let Some(obj) = find_book(inner) else {
        return Err(match inner {
            Value::Array(a) if a.is_empty() => DataError::empty("empty list"),
            other => DataError::bad(format!("no bids/asks in the {}", kind(other))),
        });
    };
    let outer = body.as_object();
    let pick = |keys: &[&str]| -> Option<String> {
        field(obj, keys)
            .and_then(text)
            .or_else(|| outer.and_then(|o| field(o, keys)).and_then(text))
    };
    let venue = pick(VENUE);
    let instrument = pick(INSTRUMENT);
    let time_ms = match field(obj, TIME) {
        None => None,
        Some(v) => Some(
            time_ms(v)
                .ok_or_else(|| DataError::bad(format!("unreadable time {}", read::short(v))))?,
        ),
    };
    let bids = levels(obj.get("bids"), "bids")?;
    let asks = levels(obj.get("asks"), "asks")?;
    check_order(&bids, "bids", |a, b| a > b)?;
    check_order(&asks, "asks", |a, b| a < b)?;
    match (bids.first(), asks.first()) {
        (None, None) => return Err(DataError::empty("no level with a non-zero size")),
        (None, Some(_)) => return Err(DataError::empty("no bids (one-sided book has no mid)")),
        (Some(_), None) => return Err(DataError::empty("no asks (one-sided book has no mid)")),
        (Some(b), Some(a)) if b.price > a.price => {
            return Err(DataError::bad(format!(
                "crossed: best bid {} > best ask {}",
                b.price, a.price
            )));
        }
        _ => {}
    }
    let note = note(venue.as_deref(), instrument.as_deref(), asked);
    Ok(OrderBook {
        venue,
        instrument,
        time_ms,
        bids,
        asks,
        note,
    })
}

/// The object holding `bids`/`asks`: the value itself, its `data` (object or first element of a
/// list, as OKX), `data.data`, or `orderbook`/`book`/`result`.
fn find_book(v: &Value) -> Option<&Map<String, Value>> {
    let mut cur = v;
    for _ in 0..4 {
        cur = match cur {
            Value::Object(o) if o.contains_key("bids") || o.contains_key("asks") => return Some(o),
            Value::Object(o) => ["data", "orderbook", "book", "result"]
                .iter()
                .find_map(|k| o.get(*k))?,
            Value::Array(a) => a.first()?,
            _ => return None,
        };
    }
    None
}

fn levels(v: Option<&Value>, side: &str) -> Result<Vec<Level>, DataError> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    if v.is_null() {
        return Ok(Vec::new());
    }
    let Some(items) = v.as_array() else {
        return Err(DataError::bad(format!(
            "{side} is a {}, not a list",
            kind(v)
        )));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let (p, s) = match item {
            Value::Array(a) if a.len() >= 2 => (num(&a[0]), num(&a[1])),
            Value::Object(o) => (field(o, PRICE).and_then(num), field(o, SIZE).and_then(num)),
            other => {
                return Err(DataError::bad(format!(
                    "{side}[{i}] is not a level: {}",
                    read::short(other)
                )));
            }
        };
        let (Some(p), Some(s)) = (p, s) else {
            return Err(DataError::bad(format!(
                "{side}[{i}] has no numeric price and size: {}",
                read::short(item)
            )));
        };
        let price = finite_non_negative(p, &format!("{side}[{i}] price"))?;
        let size = finite_non_negative(s, &format!("{side}[{i}] size"))?;
        if size == 0.0 {
            continue;
        }
        if price == 0.0 {
            return Err(DataError::bad(format!(
                "{side}[{i}] has size {size} at price 0"
            )));
        }
        out.push(Level { price, size });
    }
    Ok(out)
}

/// `better(a, b)`: must hold for each consecutive pair (strict: a repeated price is unsorted too).
fn check_order(
    levels: &[Level],
    side: &str,
    better: fn(f64, f64) -> bool,
) -> Result<(), DataError> {
    for (i, w) in levels.windows(2).enumerate() {
        if !better(w[0].price, w[1].price) {
            return Err(DataError::bad(format!(
                "unsorted {side}: {} then {} at level {}",
                w[0].price,
                w[1].price,
                i + 1
            )));
        }
    }
    Ok(())
}

/// Upper-case letters and digits only: `SOL-USDT` and `solusdt` compare equal.
fn canon(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A note when the answer is for another venue or instrument than asked, or says it is a fallback.
fn note(venue: Option<&str>, instrument: Option<&str>, asked: &Asked) -> Option<String> {
    let venue_differs =
        matches!((venue, asked.venue.as_deref()), (Some(v), Some(a)) if canon(v) != canon(a));
    let inst_differs = matches!((instrument, asked.instrument.as_deref()), (Some(i), Some(a)) if canon(i) != canon(a));
    let fallback = venue.is_some_and(|v| v.to_ascii_lowercase().contains("fallback"));
    if !(venue_differs || inst_differs || fallback) {
        return None;
    }
    let served = format!("{}/{}", venue.unwrap_or("?"), instrument.unwrap_or("?"));
    let mut s = format!("served from {served}");
    if asked.venue.is_some() || asked.instrument.is_some() {
        s.push_str(&format!(
            ", asked {}/{}",
            asked.venue.as_deref().unwrap_or("?"),
            asked.instrument.as_deref().unwrap_or("?")
        ));
    }
    Some(s)
}
