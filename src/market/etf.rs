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
    let mut days = Vec::with_capacity(rows.len());
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
        let Some(flow) = num_field(o, FLOW, &format!("row {i} flow"))? else {
            continue; // no flow reported that day (holiday rows carry null)
        };
        if !flow.is_finite() {
            return Err(DataError::bad(format!(
                "row {i} flow is not finite: {flow}"
            )));
        }
        days.push(EtfDay {
            date,
            net_flow_usd: flow,
        });
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
    days.sort_by_key(|d| d.date);
    if let Some(w) = days.windows(2).find(|w| w[0].date == w[1].date) {
        return Err(DataError::bad(format!("two rows for {}", w[0].date)));
    }
    Ok(EtfFlows { asset, days })
}
