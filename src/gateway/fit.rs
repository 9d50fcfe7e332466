//! Fitting a JSON answer under ChatGPT's size limit without cutting bytes: the largest arrays
//! are shortened and the document is marked `"truncated": true`.

use serde_json::{Map, Value};

/// Largest answer ChatGPT takes, in characters (bytes are an upper bound of characters).
pub const MAX_ANSWER: usize = 100_000;
/// Shortening rounds before giving up (each halves one array).
const MAX_ROUNDS: usize = 256;

/// Why an answer cannot be fitted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error("the answer is not valid JSON")]
    NotJson,
    #[error("the answer cannot be shortened under the limit")]
    CannotShrink,
}

/// `body` unchanged when it is at most `limit` bytes, else the same JSON with the largest
/// arrays halved until it fits, and `"truncated": true` added to the top-level object (a
/// top-level array becomes `{"truncated": true, "items": [...]}`).
pub fn fit(body: &[u8], limit: usize) -> Result<Option<Vec<u8>>, FitError> {
    if body.len() <= limit {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| FitError::NotJson)?;
    let mut v = match v {
        Value::Object(mut o) => {
            o.insert("truncated".into(), Value::Bool(true));
            Value::Object(o)
        }
        Value::Array(a) => {
            let mut o = Map::new();
            o.insert("truncated".into(), Value::Bool(true));
            o.insert("items".into(), Value::Array(a));
            Value::Object(o)
        }
        _ => return Err(FitError::CannotShrink),
    };
    for _ in 0..MAX_ROUNDS {
        let mut best: Option<(usize, String)> = None;
        let size = measure(&v, &mut String::new(), &mut best);
        if size <= limit {
            let out = serde_json::to_vec(&v).map_err(|_| FitError::CannotShrink)?;
            if out.len() <= limit {
                return Ok(Some(out));
            }
        }
        let Some((_, pointer)) = best else {
            return Err(FitError::CannotShrink);
        };
        match v.pointer_mut(&pointer) {
            Some(Value::Array(a)) => a.truncate(a.len() / 2),
            _ => return Err(FitError::CannotShrink),
        }
    }
    Err(FitError::CannotShrink)
}

/// Serialised size of `v` (compact form); records in `best` the JSON pointer of the largest
/// array with at least two elements.
fn measure(v: &Value, at: &mut String, best: &mut Option<(usize, String)>) -> usize {
    let size = match v {
        Value::Null => 4,
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => escaped_len(s),
        Value::Array(a) => {
            let mut n = 2 + a.len().saturating_sub(1);
            for (i, x) in a.iter().enumerate() {
                let len = at.len();
                at.push('/');
                at.push_str(&i.to_string());
                n += measure(x, at, best);
                at.truncate(len);
            }
            n
        }
        Value::Object(o) => {
            let mut n = 2 + o.len().saturating_sub(1);
            for (k, x) in o {
                let len = at.len();
                at.push('/');
                at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                n += escaped_len(k) + 1 + measure(x, at, best);
                at.truncate(len);
            }
            n
        }
    };
    if let Value::Array(a) = v
        && a.len() >= 2
        && best.as_ref().is_none_or(|(b, _)| size > *b)
    {
        *best = Some((size, at.clone()));
    }
    size
}

fn escaped_len(s: &str) -> usize {
    serde_json::to_string(s).map_or(s.len() + 2, |e| e.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn small_answers_pass_unchanged() {
        assert_eq!(fit(b"{\"a\":1}", 100), Ok(None));
        assert_eq!(fit(b"not json but small", 100), Ok(None));
    }

    #[test]
    fn largest_array_is_shortened_and_marked() {
        let doc = json!({
            "symbol": "SOL",
            "small": [1, 2, 3],
            "rows": (0..5000).map(|i| json!({"p": i, "q": "x"})).collect::<Vec<_>>(),
        });
        let bytes = serde_json::to_vec(&doc).unwrap();
        let out = fit(&bytes, 10_000).unwrap().unwrap();
        assert!(out.len() <= 10_000);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["truncated"], true);
        assert_eq!(v["symbol"], "SOL");
        assert_eq!(v["small"], json!([1, 2, 3]));
        let rows = v["rows"].as_array().unwrap();
        assert!(!rows.is_empty() && rows.len() < 5000);
        assert_eq!(rows[0], json!({"p": 0, "q": "x"}));
    }

    #[test]
    fn top_level_array_is_wrapped_and_unshrinkable_is_an_error() {
        let bytes = serde_json::to_vec(&(0..10_000).collect::<Vec<_>>()).unwrap();
        let v: Value = serde_json::from_slice(&fit(&bytes, 1000).unwrap().unwrap()).unwrap();
        assert_eq!(v["truncated"], true);
        assert!(v["items"].as_array().unwrap().len() > 10);
        let big = serde_json::to_vec(&json!({"s": "y".repeat(5000)})).unwrap();
        assert_eq!(fit(&big, 1000), Err(FitError::CannotShrink));
        assert_eq!(fit(&[b'{'; 2000], 1000), Err(FitError::NotJson));
    }

    #[test]
    fn measure_agrees_with_serde() {
        let doc = json!({"a/b~": [1, -2.5, null, true, false, "é\"\n"], "o": {"k": []}});
        let mut best = None;
        let n = measure(&doc, &mut String::new(), &mut best);
        assert_eq!(n, serde_json::to_vec(&doc).unwrap().len());
        assert_eq!(best.unwrap().1, "/a~1b~0");
    }
}
