//! Why a body is not usable data.

use thiserror::Error;

use crate::module_id::ModuleId;

/// Why a module's body is not usable data. The wire code is [`DataError::code`].
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DataError {
    /// The body was understood but holds no usable point: `[]`, only zero-size levels, all-zero or
    /// null prices, a one-sided book.
    #[error("no usable data: {reason}")]
    Empty {
        /// What was missing.
        reason: String,
    },
    /// The body is not a shape this layer reads, or breaks an integrity rule: crossed book, unsorted
    /// levels, negative size, NaN/inf, a non-zero envelope code.
    #[error("bad payload: {reason}")]
    BadPayload {
        /// What was wrong, with the offending value where short.
        reason: String,
    },
    /// The newest point is older than the module's maximum age.
    #[error("stale: newest point is {age_ms} ms old (max {max_age_ms} ms)")]
    Stale {
        /// Age of the newest point at the time of parsing.
        age_ms: i64,
        /// The maximum age allowed.
        max_age_ms: i64,
    },
    /// The newest point is further ahead of this host's clock than the skew allowed: a time in
    /// the future (a wrong stamp, or local time without its zone) is never fresh. Code
    /// `<MODULE>_STALE`.
    #[error(
        "time in the future: newest point is {ahead_ms} ms ahead of now (clock skew allowed {max_skew_ms} ms)"
    )]
    Future {
        /// How far ahead of now the newest point is.
        ahead_ms: i64,
        /// The skew allowed (`SNIPER_MAX_CLOCK_SKEW`).
        max_skew_ms: i64,
    },
}

impl DataError {
    /// The soft-fail code: `<MODULE>_EMPTY`, `<MODULE>_BAD_PAYLOAD` or `<MODULE>_STALE`, with the
    /// module's upper-case name ([`ModuleId::upper`]).
    pub fn code(&self, module: ModuleId) -> String {
        let kind = match self {
            DataError::Empty { .. } => "EMPTY",
            DataError::BadPayload { .. } => "BAD_PAYLOAD",
            DataError::Stale { .. } | DataError::Future { .. } => "STALE",
        };
        format!("{}_{kind}", module.upper())
    }

    pub(crate) fn empty(reason: impl Into<String>) -> DataError {
        DataError::Empty {
            reason: reason.into(),
        }
    }

    pub(crate) fn bad(reason: impl Into<String>) -> DataError {
        DataError::BadPayload {
            reason: reason.into(),
        }
    }
}

/// A finite, non-negative number, or BadPayload naming `what`.
pub(crate) fn finite_non_negative(x: f64, what: &str) -> Result<f64, DataError> {
    if !x.is_finite() {
        return Err(DataError::bad(format!("{what} is not finite: {x}")));
    }
    if x < 0.0 {
        return Err(DataError::bad(format!("{what} is negative: {x}")));
    }
    Ok(x)
}
