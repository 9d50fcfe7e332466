//! Importing calls and prices from elsewhere.
//!
//! - Calls (`--calls FILE`): JSON lines, one object per line: `at` (RFC 3339 text or epoch s or ms
//!   number), `symbol`, `direction` (`long`/`short`), optional `level` and `score` (0–100).
//! - Prices (`--prices FILE`): CSV with a header (the shape exchanges and ccxt export): a time
//!   column `time`, `timestamp`, `open_time` or `date` (epoch seconds or milliseconds, or RFC 3339 /
//!   ISO 8601 with an offset) and either `price` or candle columns `open,high,low,close[,volume]`.
//!   A candle's time is its open; its close is known only one interval later, so the point is
//!   stamped at open + interval (the interval = the median spacing of the opens). Rows must be
//!   strictly increasing in time: unsorted or duplicate rows are refused.
//!
//! Every error names the file, the line (1-based, the header is line 1) and the column.

use jiff::Timestamp;

use super::{Point, ScoreCall, Side};

/// A bad import file: where and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: column {column}: {message}")]
pub struct ImportError {
    /// The file as given.
    pub file: String,
    /// 1-based line (0: the file as a whole).
    pub line: usize,
    /// The column (CSV header name or JSON key).
    pub column: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

fn err(file: &str, line: usize, column: &str, message: impl Into<String>) -> ImportError {
    ImportError {
        file: file.to_string(),
        line,
        column: column.to_string(),
        message: message.into(),
    }
}

/// Which price columns a file has (their indexes).
#[derive(Clone, Copy)]
enum Shape {
    /// `price`.
    Price(usize),
    /// `open, high, low, close`.
    Candle(usize, usize, usize, usize),
}

const TIME_COLUMNS: [&str; 4] = ["time", "timestamp", "open_time", "date"];

/// Parse a time: epoch seconds (< 10^11) or milliseconds, or RFC 3339 / ISO 8601 with an offset
/// (`2026-11-29T12:00:00Z`, `2026-11-29 12:00:00+00:00`). Returns epoch ms.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim().trim_matches('"');
    if let Ok(n) = s.parse::<i64>() {
        return Some(if n.abs() < 100_000_000_000 {
            n.checked_mul(1000)?
        } else {
            n
        });
    }
    if let Ok(x) = s.parse::<f64>() {
        if !x.is_finite() {
            return None;
        }
        let ms = if x.abs() < 1e11 { x * 1000.0 } else { x };
        return Some(ms.round() as i64);
    }
    s.parse::<Timestamp>()
        .or_else(|_| s.replacen(' ', "T", 1).parse::<Timestamp>())
        .ok()
        .map(|t| t.as_millisecond())
}

/// Parse a CSV price file (see the module docs). `file` names it in errors.
pub fn parse_prices_csv(file: &str, text: &str) -> Result<Vec<Point>, ImportError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((hl, header)) = lines.next() else {
        return Err(err(file, 0, "-", "empty file: expected a CSV header"));
    };
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let find = |name: &str| cols.iter().position(|c| c == name);
    let Some(ti) = TIME_COLUMNS.iter().find_map(|n| find(n)) else {
        return Err(err(
            file,
            hl + 1,
            "-",
            format!(
                "no time column: expected one of {}",
                TIME_COLUMNS.join(", ")
            ),
        ));
    };
    let shape = match (
        find("price"),
        find("open"),
        find("high"),
        find("low"),
        find("close"),
    ) {
        (_, Some(o), Some(h), Some(l), Some(c)) => Shape::Candle(o, h, l, c),
        (Some(p), ..) => Shape::Price(p),
        _ => {
            return Err(err(
                file,
                hl + 1,
                "-",
                "no price column: expected `price` or `open,high,low,close[,volume]`",
            ));
        }
    };
    // (open time, close, high, low) per row, with its line.
    let mut rows: Vec<(usize, i64, f64, f64, f64)> = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        let f: Vec<&str> = line
            .split(',')
            .map(|x| x.trim().trim_matches('"'))
            .collect();
        let cell = |j: usize| -> Result<&str, ImportError> {
            f.get(j).copied().ok_or_else(|| {
                err(
                    file,
                    n,
                    &cols[j],
                    format!(
                        "missing: the row has {} fields, the header {}",
                        f.len(),
                        cols.len()
                    ),
                )
            })
        };
        let num = |j: usize| -> Result<f64, ImportError> {
            let v = cell(j)?;
            match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
                _ => Err(err(
                    file,
                    n,
                    &cols[j],
                    format!("{v:?} is not a positive number"),
                )),
            }
        };
        let tv = cell(ti)?;
        let t = parse_time(tv).ok_or_else(|| {
            err(
                file,
                n,
                &cols[ti],
                format!("{tv:?} is not a time: expected epoch s or ms, or RFC 3339 with an offset"),
            )
        })?;
        if let Some(&(pl, pt, ..)) = rows.last()
            && t <= pt
        {
            let what = if t == pt { "duplicate" } else { "unsorted" };
            return Err(err(
                file,
                n,
                &cols[ti],
                format!(
                    "{what} time: not after line {pl}; rows must be strictly increasing in time"
                ),
            ));
        }
        let (p, h, l) = match shape {
            Shape::Candle(oi, hi, li, ci) => {
                let (_o, h, l, c) = (num(oi)?, num(hi)?, num(li)?, num(ci)?);
                if h < l {
                    return Err(err(file, n, &cols[hi], "high below low"));
                }
                (c, h, l)
            }
            Shape::Price(pi) => {
                let p = num(pi)?;
                (p, p, p)
            }
        };
        rows.push((n, t, p, h, l));
    }
    if let Shape::Price(_) = shape {
        return Ok(rows
            .into_iter()
            .map(|(_, t, p, _, _)| Point::mid(t, p, None))
            .collect());
    }
    let opens: Vec<Point> = rows.iter().map(|r| Point::mid(r.1, r.2, None)).collect();
    let Some(interval) = super::median_spacing(&opens) else {
        return Err(err(
            file,
            0,
            &cols[ti],
            "candles need at least two rows to tell their interval",
        ));
    };
    Ok(rows
        .into_iter()
        .map(|(_, t, c, h, l)| Point {
            at_ms: t + interval,
            from_ms: t,
            price: c,
            high: h,
            low: l,
            spread_bps: None,
        })
        .collect())
}

/// Parse JSON-lines calls (see the module docs). `file` names it in errors.
pub fn parse_calls_jsonl(file: &str, text: &str) -> Result<Vec<ScoreCall>, ImportError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            err(
                file,
                n,
                &format!("{}", e.column()),
                format!("not JSON: {e}"),
            )
        })?;
        let Some(o) = v.as_object() else {
            return Err(err(file, n, "-", "expected one JSON object per line"));
        };
        // One time rule for calls and prices: a number is epoch seconds or milliseconds by its
        // magnitude ([`parse_time`]).
        let at_ms = match o.get("at") {
            Some(serde_json::Value::Number(x)) => parse_time(&x.to_string()),
            Some(serde_json::Value::String(s)) => {
                s.parse::<Timestamp>().ok().map(|t| t.as_millisecond())
            }
            _ => None,
        }
        .ok_or_else(|| {
            err(
                file,
                n,
                "at",
                "expected an RFC 3339 time or epoch seconds/milliseconds",
            )
        })?;
        let symbol = o
            .get("symbol")
            .and_then(|s| s.as_str())
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| err(file, n, "symbol", "expected a non-empty string"))?
            .trim()
            .to_string();
        let side = o
            .get("direction")
            .and_then(|s| s.as_str())
            .and_then(Side::parse)
            .ok_or_else(|| err(file, n, "direction", "expected long or short"))?;
        let level = match o.get("level") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(err(file, n, "level", "expected a string (watch, action)")),
        };
        let score = match o.get("score") {
            None | Some(serde_json::Value::Null) => None,
            Some(x) => match x.as_f64() {
                Some(s) if (0.0..=100.0).contains(&s) => Some(s.round() as u32),
                _ => return Err(err(file, n, "score", "expected a number from 0 to 100")),
            },
        };
        out.push(ScoreCall {
            at_ms,
            symbol,
            side,
            level,
            score,
            agreeing: Vec::new(),
            rules: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_with_iso_and_epoch_times() {
        let p = parse_prices_csv(
            "p.csv",
            "time,price\n2026-01-01T00:00:00Z,100\n2026-01-01 00:00:05+00:00,101\n",
        )
        .unwrap();
        assert_eq!(p[1].at_ms - p[0].at_ms, 5000);
        let s =
            parse_prices_csv("p.csv", "timestamp,price\n1767225600,100\n1767225605,101\n").unwrap();
        let ms = parse_prices_csv(
            "p.csv",
            "timestamp,price\n1767225600000,100\n1767225605000,101\n",
        )
        .unwrap();
        assert_eq!(s, ms);
        assert_eq!(s[0].at_ms, p[0].at_ms);
    }

    #[test]
    fn candles_are_known_at_their_close() {
        let p = parse_prices_csv(
            "c.csv",
            "open_time,open,high,low,close,volume\n0,100,110,90,105,1\n60,105,106,104,104,1\n",
        )
        .unwrap();
        assert_eq!((p[0].at_ms, p[0].from_ms, p[0].price), (60_000, 0, 105.0));
        assert_eq!((p[0].high, p[0].low), (110.0, 90.0));
        assert_eq!(p[1].at_ms, 120_000);
    }

    #[test]
    fn bad_files_name_line_and_column() {
        let cases = [
            ("time,price\n5,1\n4,1\n", "p.csv:3: column time", "unsorted"),
            (
                "time,price\n5,1\n5,2\n",
                "p.csv:3: column time",
                "duplicate",
            ),
            (
                "time,price\n5,abc\n",
                "p.csv:2: column price",
                "positive number",
            ),
            (
                "time,price\nyesterday,1\n",
                "p.csv:2: column time",
                "RFC 3339",
            ),
            ("when,price\n5,1\n", "p.csv:1", "time column"),
            ("time,close\n5,1\n", "p.csv:1", "open,high,low,close"),
            ("time,price\n5\n", "p.csv:2: column price", "missing"),
            (
                "time,open,high,low,close\n5,1,2,1,1\n",
                "p.csv:0",
                "two rows",
            ),
        ];
        for (text, place, what) in cases {
            let e = parse_prices_csv("p.csv", text).unwrap_err().to_string();
            assert!(e.starts_with(place) && e.contains(what), "{text:?}: {e}");
        }
    }

    #[test]
    fn calls_parse_and_bad_lines_are_named() {
        let c = parse_calls_jsonl(
            "c.jsonl",
            "{\"at\":\"2026-01-01T00:00:00Z\",\"symbol\":\"BTC\",\"direction\":\"long\",\"level\":\"action\",\"score\":71}\n\n{\"at\":1767225600000,\"symbol\":\"ETH\",\"direction\":\"short\"}\n",
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].at_ms, c[1].at_ms);
        assert_eq!((c[0].score, c[1].side), (Some(71), Side::Short));
        for (text, place) in [
            (
                "{\"at\":1,\"symbol\":\"B\",\"direction\":\"up-ish\"}",
                "c.jsonl:1: column direction",
            ),
            (
                "\n{\"at\":\"monday\",\"symbol\":\"B\",\"direction\":\"long\"}",
                "c.jsonl:2: column at",
            ),
            (
                "{\"at\":1,\"direction\":\"long\"}",
                "c.jsonl:1: column symbol",
            ),
            (
                "{\"at\":1,\"symbol\":\"B\",\"direction\":\"long\",\"score\":101}",
                "c.jsonl:1: column score",
            ),
            ("{\"at\":1,", "c.jsonl:1: column"),
        ] {
            let e = parse_calls_jsonl("c.jsonl", text).unwrap_err().to_string();
            assert!(e.starts_with(place), "{text:?}: {e}");
        }
    }
}
