//! ETF flows parser (`etf`). Shapes: see [`EtfFlows`].

use serde_json::Value;

use super::read::{self, field, kind, num_field, text};
use super::{DataError, EtfDay, EtfFlows};

const LIST: &[&str] = &["flows", "days", "rows", "items", "data"];
const DATE: &[&str] = &["date", "day", "timestamp", "time", "ts"];
const FLOW: &[&str] = &[
    "net_flow_usd",
    "flow_usd",
    "net_flow",
    "netflow",
    "net_inflow",
    "total_net_flow",
    "change_usd",
];
const ASSET: &[&str] = &["asset", "symbol", "coin"];
const TICKER: &[&str] = &["etf_ticker", "ticker"];
/// The per-ticker breakdown of a day (CoinGlass v4 and the rcz87 backend: `etf_flows`).
const BREAKDOWN: &[&str] = &["etf_flows", "flows_by_ticker", "tickers"];

/// The sum of a row's per-ticker flows (`etf_flows: [{etf_ticker, flow_usd}]`), `None` when the row
/// has no breakdown or none of its tickers reports a flow (null on a holiday).
fn per_ticker(o: &serde_json::Map<String, Value>, i: usize) -> Result<Option<f64>, DataError> {
    let Some(list) = field(o, BREAKDOWN).and_then(Value::as_array) else {
        return Ok(None);
    };
    let mut sum = None;
    for (j, item) in list.iter().enumerate() {
        let Some(t) = item.as_object() else {
            return Err(DataError::bad(format!(
                "row {i} etf_flows[{j}] is a {}, not an object",
                kind(item)
            )));
        };
        if let Some(f) = num_field(t, FLOW, &format!("row {i} etf_flows[{j}] flow"))? {
            if !f.is_finite() {
                return Err(DataError::bad(format!(
                    "row {i} etf_flows[{j}] flow is not finite: {f}"
                )));
            }
            sum = Some(sum.unwrap_or(0.0) + f);
        }
    }
    Ok(sum)
}

pub(crate) fn parse(body: &Value) -> Result<EtfFlows, DataError> {
    let inner = read::unwrap_envelope(body)?;
    let asset = [inner.as_object(), body.as_object()]
        .into_iter()
        .flatten()
        .find_map(|o| field(o, ASSET).and_then(text));
    let Some(rows) = read::list(inner, LIST) else {
        return Err(DataError::bad(format!(
            "no ETF rows in the {}",
            kind(inner)
        )));
    };
    // (date, net flow, the row's ticker when the row is one ETF's flow of one day)
    let mut rows_read: Vec<(jiff::civil::Date, f64, Option<String>)> = Vec::new();
    let mut disagreements: Vec<String> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let Some(o) = row.as_object() else {
            return Err(DataError::bad(format!(
                "row {i} is a {}, not an object",
                kind(row)
            )));
        };
        let Some(dv) = field(o, DATE) else {
            return Err(DataError::bad(format!("row {i} has no date")));
        };
        let date = read::date(dv).ok_or_else(|| {
            DataError::bad(format!("row {i} unreadable date {}", read::short(dv)))
        })?;
        let total = num_field(o, FLOW, &format!("row {i} flow"))?;
        let breakdown = per_ticker(o, i)?;
        let flow = match (breakdown, total) {
            (Some(sum), total) => {
                if let Some(t) = total
                    && t.is_finite()
                    && (t - sum).abs() > (t.abs() * 1e-3).max(1.0)
                {
                    disagreements.push(format!("{date}: tickers sum to {sum:.0}, row says {t:.0}"));
                }
                sum
            }
            (None, Some(t)) => t,
            (None, None) => continue, // no flow reported that day (holiday rows carry null)
        };
        if !flow.is_finite() {
            return Err(DataError::bad(format!(
                "row {i} flow is not finite: {flow}"
            )));
        }
        let ticker = field(o, TICKER).and_then(text);
        rows_read.push((date, flow, ticker));
    }
    rows_read.sort_by_key(|r| r.0);
    // One row per day, or one row per ticker and day (the older shape: summed per day).
    let mut days: Vec<EtfDay> = Vec::with_capacity(rows_read.len());
    let mut tickers_of_day: Vec<String> = Vec::new();
    for (date, flow, ticker) in rows_read {
        match days.last_mut() {
            Some(last) if last.date == date => {
                let Some(t) = ticker.filter(|_| !tickers_of_day.is_empty()) else {
                    return Err(DataError::bad(format!("two rows for {date}")));
                };
                if tickers_of_day.contains(&t) {
                    return Err(DataError::bad(format!("two rows for {t} on {date}")));
                }
                tickers_of_day.push(t);
                last.net_flow_usd += flow;
            }
            _ => {
                tickers_of_day = ticker.into_iter().collect();
                days.push(EtfDay {
                    date,
                    net_flow_usd: flow,
                });
            }
        }
    }
    if days.is_empty() {
        return Err(DataError::empty(if rows.is_empty() {
            "empty list".to_string()
        } else {
            format!("{} rows, none with a flow", rows.len())
        }));
    }
    if days.iter().all(|d| d.net_flow_usd == 0.0) {
        return Err(DataError::empty(format!(
            "{} days, all flows 0",
            days.len()
        )));
    }
    let note = (!disagreements.is_empty()).then(|| {
        format!(
            "per-ticker flows disagree with the row's total on {} day(s) (the tickers' sum is used): {}",
            disagreements.len(),
            disagreements.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
        )
    });
    Ok(EtfFlows { asset, days, note })
}
