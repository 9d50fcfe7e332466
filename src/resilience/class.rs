//! Error classes of one upstream exchange, and the soft-fail codes derived from them.
//!
//! Every failure a module meets is one of these classes; the breaker decides on the
//! class, the run result shows the code. Codes are derived, never matched by substring.

use serde::{Deserialize, Serialize};

/// Why an upstream call did not produce usable data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum ErrorClass {
    /// 402, or 401/403 naming a plan or feature, or a 2xx body with an error envelope
    /// such as CoinGlass's `{"code":"401","msg":"Upgrade plan"}`.
    Entitlement { status: u16 },
    /// 401/403 without a plan message.
    Auth { status: u16 },
    /// 404 (after every URL shape was tried).
    RouteMissing,
    /// 429; any non-2xx answer carrying `Retry-After`; 418 (exchanges' IP ban); a known ban body
    /// ("… until <epoch ms>", Binance `-1003`, OKX `50011`, "rate limit" / "too many requests"
    /// messages, also in 2xx envelopes). `retry_after_secs` is the server's wish (the header, or
    /// the time left until the ban's end), if it said one.
    RateLimited { retry_after_secs: Option<u64> },
    /// Other 5xx, timeouts, connection refused or reset.
    Transient { kind: TransientKind },
    /// Not JSON, over the size cap, a 2xx error envelope that names no better class, or a
    /// request the backend refused (400, 422, …): answered, but no usable data.
    BadPayload { kind: PayloadKind },
}

/// What kind of transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "status")]
pub enum TransientKind {
    /// A 5xx status (other than a 503 carrying `Retry-After`).
    Status(u16),
    /// The module's timeout elapsed.
    Timeout,
    /// The backend could not be reached (refused, DNS, connect timeout).
    Connect,
    /// The connection broke mid-response.
    Reset,
}

/// Why a body was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadKind {
    /// The body is not JSON.
    NotJson,
    /// The body is over the size cap (after decoding, for a compressed body).
    TooLarge,
    /// The body is compressed in a coding sniper does not decode (`br`, `zstd`, …) or does not
    /// decode as the coding it claims (issue 22 item 5).
    Encoding,
    /// A 2xx JSON error envelope (`{"code":"40001",…}`, `{"success":false}`) with no plan,
    /// auth, rate-limit or 5xx meaning.
    ErrorEnvelope,
    /// A non-2xx answer that refuses the request itself (400, 409, 422, unexpected 3xx…):
    /// sending it again cannot help.
    Rejected,
}

impl ErrorClass {
    /// Stable, bounded label for metrics (`sniper_upstream_requests_total{class}`).
    pub fn label(&self) -> &'static str {
        match self {
            ErrorClass::Entitlement { .. } => "entitlement",
            ErrorClass::Auth { .. } => "auth",
            ErrorClass::RouteMissing => "route_missing",
            ErrorClass::RateLimited { .. } => "rate_limited",
            ErrorClass::Transient { .. } => "transient",
            ErrorClass::BadPayload { .. } => "bad_payload",
        }
    }

    /// The soft-fail code shown in the run result, for the module with upper-case name `module_upper`
    /// (e.g. `ETF`, `SPOT_OB`): always `<MODULE>_<KIND>` (the design's contract; issue 22 item 10),
    /// the same in `softFails`, `errors`, logs and metrics:
    /// `_PAYMENT_REQUIRED`, `_UPSTREAM_AUTH`, `_NOT_AVAILABLE`, `_RATE_LIMITED`, `_TIMEOUT`,
    /// `_UPSTREAM_UNREACHABLE`, `_UPSTREAM_ERROR`, `_BAD_PAYLOAD`.
    pub fn code(&self, module_upper: &str) -> String {
        let kind = match self {
            ErrorClass::Entitlement { .. } => "PAYMENT_REQUIRED",
            ErrorClass::Auth { .. } => "UPSTREAM_AUTH",
            ErrorClass::RouteMissing => "NOT_AVAILABLE",
            ErrorClass::RateLimited { .. } => "RATE_LIMITED",
            ErrorClass::Transient {
                kind: TransientKind::Timeout,
            } => "TIMEOUT",
            ErrorClass::Transient {
                kind: TransientKind::Connect | TransientKind::Reset,
            } => "UPSTREAM_UNREACHABLE",
            ErrorClass::Transient {
                kind: TransientKind::Status(_),
            } => "UPSTREAM_ERROR",
            ErrorClass::BadPayload { .. } => "BAD_PAYLOAD",
        };
        format!("{module_upper}_{kind}")
    }
}
