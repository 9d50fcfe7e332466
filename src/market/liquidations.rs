//! Liquidation heatmap parser (`heatmap`). Shapes: see [`LiquidationLevels`].

use serde_json::{Map, Value};

use super::error::finite_non_negative;
use super::read::{self, field, kind, num, num_field, text, time_ms};
use super::{DataError, LiqBucket, LiqLevel, LiquidationLevels};

const LIST: &[&str] = &["levels", "rows", "heatmap", "liquidations", "items", "data"];
const PRICE: &[&str] = &["price_level", "price", "liq_price", "level", "p"];
const AMOUNT: &[&str] = &[
    "liquidation_amount",
    "liq_usd",
    "notional_usd",
    "liquidation_usd",
    "amount_usd",
    "usd",
    "value_usd",
    "amount",
    "value",
];
const LONG: &[&str] = &[
    "long_liquidation_usd",
    "aggregated_long_liquidation_usd",
    "long_usd",
    "longs_usd",
];
const SHORT: &[&str] = &[
    "short_liquidation_usd",
    "aggregated_short_liquidation_usd",
    "short_usd",
    "shorts_usd",
];
const TIME: &[&str] = &["timestamp", "time", "ts", "t", "create_time"];
const SYMBOL: &[&str] = &["symbol", "coin", "instrument", "pair", "instId"];
const MID: &[&str] = &[
    "current_price",
    "mark_price",
    "mid_price",
    "last_price",
    "price",
];

pub(crate) fn parse(body: &Value) -> Result<LiquidationLevels, DataError> {
    let inner = read::unwrap_envelope(body)?;
    let outer = body.as_object();
    let top = inner.as_object().or(outer);
    let top_symbol = top.and_then(|o| field(o, SYMBOL)).and_then(text);
    let top_time = match top.and_then(|o| field(o, &["timestamp", "ts", "time"])) {
        None => None,
        Some(v) => Some(time_of(v)?),
    };

    if let Some(o) = heatmap_model(inner) {
        return coinglass_model(o, top_symbol, top_time);
    }

    let Some(rows) = read::list(inner, LIST) else {
        return Err(DataError::bad(format!(
            "no liquidation rows in the {}",
            kind(inner)
        )));
    };
    let mut levels = Vec::new();
    let mut history = Vec::new();
    let mut symbol = top_symbol;
    let mut newest = top_time;
    for (i, row) in rows.iter().enumerate() {
        let what = |f: &str| format!("row {i} {f}");
        match row {
            Value::Array(a) if a.len() >= 2 => {
                let (Some(p), Some(n)) = (num(&a[0]), num(&a[1])) else {
                    return Err(DataError::bad(format!(
                        "{} not numeric",
                        what("[price, usd]")
                    )));
                };
                push_level(&mut levels, p, n, None, &what("price"))?;
            }
            Value::Object(o) => {
                if symbol.is_none() {
                    symbol = field(o, SYMBOL).and_then(text);
                }
                let t = match field(o, TIME) {
                    None => None,
                    Some(v) => Some(time_of(v)?),
                };
                if PRICE.iter().any(|k| o.contains_key(*k)) {
                    // A null price or amount is an unusable row, dropped like a zero one.
                    let p = num_field(o, PRICE, &what("price"))?.unwrap_or(0.0);
                    let n = num_field(o, AMOUNT, &what("amount"))?.unwrap_or(0.0);
                    let side = o.get("side").and_then(read::side);
                    if push_level(&mut levels, p, n, side, &what("price"))? {
                        newest = newest.max(t);
                    }
                } else if LONG.iter().chain(SHORT).any(|k| o.contains_key(*k)) {
                    if let Some(b) = bucket(o, t, i)? {
                        newest = newest.max(Some(b.time_ms));
                        history.push(b);
                    }
                } else {
                    return Err(DataError::bad(format!(
                        "row {i} has neither a price nor long/short liquidation usd"
                    )));
                }
            }
            other => {
                return Err(DataError::bad(format!(
                    "row {i} is a {}, not a level",
                    kind(other)
                )));
            }
        }
    }
    if levels.is_empty() && history.is_empty() {
        return Err(DataError::empty(if rows.is_empty() {
            "empty list".to_string()
        } else {
            format!("{} rows, none with a non-zero price and amount", rows.len())
        }));
    }
    levels.sort_by(|a, b| a.price.total_cmp(&b.price));
    history.sort_by_key(|b| b.time_ms);
    // A bucket is stamped with its start; its data is current until its end, one spacing later.
    if let [.., prev, last] = history.as_slice() {
        let end = last.time_ms.saturating_add(last.time_ms - prev.time_ms);
        newest = newest.max(Some(end));
    }
    let mid_price = match top.and_then(|o| field(o, MID)) {
        Some(v) if !v.is_array() && !v.is_object() => num(v).filter(|m| m.is_finite() && *m > 0.0),
        _ => None,
    };
    Ok(LiquidationLevels {
        symbol,
        time_ms: newest,
        levels,
        history,
        mid_price,
    })
}

fn time_of(v: &Value) -> Result<i64, DataError> {
    time_ms(v).ok_or_else(|| DataError::bad(format!("unreadable time {}", read::short(v))))
}

/// Validates and keeps a level with a non-zero price and amount; returns whether it was kept.
fn push_level(
    levels: &mut Vec<LiqLevel>,
    price: f64,
    notional_usd: f64,
    side: Option<super::Side>,
    what: &str,
) -> Result<bool, DataError> {
    let price = finite_non_negative(price, what)?;
    let notional_usd = finite_non_negative(notional_usd, "liquidation amount")?;
    if price == 0.0 || notional_usd == 0.0 {
        return Ok(false);
    }
    levels.push(LiqLevel {
        price,
        notional_usd,
        side,
    });
    Ok(true)
}

fn bucket(
    o: &Map<String, Value>,
    t: Option<i64>,
    i: usize,
) -> Result<Option<LiqBucket>, DataError> {
    let long = num_field(o, LONG, "long liquidation usd")?;
    let short = num_field(o, SHORT, "short liquidation usd")?;
    if long.is_none() && short.is_none() {
        return Ok(None);
    }
    let Some(time_ms) = t else {
        return Err(DataError::bad(format!(
            "liquidation bucket {i} has no time"
        )));
    };
    let long_usd = finite_non_negative(long.unwrap_or(0.0), "long liquidation usd")?;
    let short_usd = finite_non_negative(short.unwrap_or(0.0), "short liquidation usd")?;
    if long_usd == 0.0 && short_usd == 0.0 {
        return Ok(None);
    }
    Ok(Some(LiqBucket {
        time_ms,
        long_usd,
        short_usd,
    }))
}

/// The CoinGlass v4 heatmap model object (`y_axis` + `liquidation_leverage_data`), wherever nested.
fn heatmap_model(v: &Value) -> Option<&Map<String, Value>> {
    let mut cur = v;
    for _ in 0..3 {
        let o = cur.as_object()?;
        if o.contains_key("y_axis") && o.contains_key("liquidation_leverage_data") {
            return Some(o);
        }
        cur = o.get("data")?;
    }
    None
}

fn coinglass_model(
    o: &Map<String, Value>,
    symbol: Option<String>,
    time: Option<i64>,
) -> Result<LiquidationLevels, DataError> {
    let (Some(ys), Some(cells)) = (
        o.get("y_axis").and_then(Value::as_array),
        o.get("liquidation_leverage_data").and_then(Value::as_array),
    ) else {
        return Err(DataError::bad(
            "heatmap model: y_axis or data is not a list",
        ));
    };
    let mut prices = Vec::with_capacity(ys.len());
    for (i, y) in ys.iter().enumerate() {
        let p = num(y).ok_or_else(|| DataError::bad(format!("y_axis[{i}] not numeric")))?;
        prices.push(finite_non_negative(p, "y_axis price")?);
    }
    let mut sums = vec![0.0_f64; prices.len()];
    for (i, c) in cells.iter().enumerate() {
        let cell = c.as_array().filter(|a| a.len() >= 3);
        let Some(cell) = cell else {
            return Err(DataError::bad(format!(
                "heatmap cell {i} is not [x, y, usd]"
            )));
        };
        let (Some(y), Some(usd)) = (num(&cell[1]), num(&cell[2])) else {
            return Err(DataError::bad(format!("heatmap cell {i} not numeric")));
        };
        let usd = finite_non_negative(usd, "heatmap cell usd")?;
        if !(y.is_finite() && y >= 0.0 && y.fract() == 0.0 && (y as usize) < sums.len()) {
            return Err(DataError::bad(format!(
                "heatmap cell {i} y index {y} out of range"
            )));
        }
        sums[y as usize] += usd;
    }
    let mut levels = Vec::new();
    for (p, n) in prices.into_iter().zip(sums) {
        push_level(&mut levels, p, n, None, "y_axis price")?;
    }
    if levels.is_empty() {
        return Err(DataError::empty("heatmap model with no non-zero cell"));
    }
    levels.sort_by(|a, b| a.price.total_cmp(&b.price));
    // Candles [t, o, h, l, c, …]: the last close is the current price, its time the newest point.
    let last = o
        .get("price_candlesticks")
        .and_then(Value::as_array)
        .and_then(|c| c.last())
        .and_then(Value::as_array);
    let mid_price = last
        .and_then(|c| c.get(4))
        .and_then(num)
        .filter(|m| m.is_finite() && *m > 0.0);
    let candle_time = last.and_then(|c| c.first()).and_then(time_ms);
    Ok(LiquidationLevels {
        symbol,
        time_ms: candle_time.max(time),
        levels,
        history: Vec::new(),
        mid_price,
    })
}
