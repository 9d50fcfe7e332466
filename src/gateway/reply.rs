//! The gateway's own answers: small JSON error bodies built without serialising per request.
//!
//! Bodies name the problem and never the backend's address, which stays private.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

/// One of the gateway's own error answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Path refused by the safety rules, or an absolute-form request target.
    BadPath,
    /// Not under the prefix (only reachable if the router is nested oddly).
    NotFound,
    /// Missing or wrong gateway key.
    Unauthorized,
    /// Inbound body over the limit (the body text carries the limit).
    TooLarge,
    /// The backend refused the connection or could not be reached.
    Unreachable,
    /// The backend connection broke or answered something that is not HTTP.
    BadResponse,
    /// The backend did not send response headers within the header timeout.
    Timeout,
    /// `/openapi.json` could not be served as JSON (backend answered non-2xx or non-JSON).
    BadSpec,
    /// No public URL configured and none derivable from the request.
    NoPublicUrl,
    /// The path is not one of the operations `<prefix>/openapi.json` publishes.
    NotPublished,
    /// A JSON answer over the size limit that cannot be shortened, or over the buffer cap.
    AnswerTooLarge,
}

impl Problem {
    /// Status code and a static JSON body.
    fn parts(self) -> (StatusCode, &'static str) {
        match self {
            Problem::BadPath => (
                StatusCode::BAD_REQUEST,
                r#"{"error":"bad_path","message":"request path is not allowed"}"#,
            ),
            Problem::NotFound => (
                StatusCode::NOT_FOUND,
                r#"{"error":"not_found","message":"no such route"}"#,
            ),
            Problem::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                r#"{"error":"unauthorized","message":"missing or invalid API key: send Authorization: Bearer <key> or X-API-Key: <key>"}"#,
            ),
            Problem::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"error":"payload_too_large","message":"request body exceeds the gateway limit"}"#,
            ),
            Problem::Unreachable => (
                StatusCode::BAD_GATEWAY,
                r#"{"error":"backend_unreachable","message":"the backend refused the connection or could not be reached"}"#,
            ),
            Problem::BadResponse => (
                StatusCode::BAD_GATEWAY,
                r#"{"error":"backend_bad_response","message":"the backend closed the connection or sent an invalid response"}"#,
            ),
            Problem::Timeout => (
                StatusCode::GATEWAY_TIMEOUT,
                r#"{"error":"backend_timeout","message":"the backend did not answer in time"}"#,
            ),
            Problem::BadSpec => (
                StatusCode::BAD_GATEWAY,
                r#"{"error":"backend_bad_spec","message":"the backend's /openapi.json is unavailable or not a JSON object"}"#,
            ),
            Problem::NotPublished => (
                StatusCode::NOT_FOUND,
                r#"{"error":"not_published","message":"this operation is not published in the gateway's openapi.json (see GPTS_OPERATIONS)"}"#,
            ),
            Problem::AnswerTooLarge => (
                StatusCode::BAD_GATEWAY,
                r#"{"error":"answer_too_large","message":"the backend answer is over 100000 characters and cannot be shortened; ask for less (fewer symbols, a shorter range)"}"#,
            ),
            Problem::NoPublicUrl => (
                StatusCode::BAD_REQUEST,
                r#"{"error":"no_public_url","message":"cannot derive the public URL from Host; set PUBLIC_URL"}"#,
            ),
        }
    }

    /// The HTTP answer for this problem.
    pub fn response(self) -> Response {
        let (status, body) = self.parts();
        let mut res = json(status, Bytes::from_static(body.as_bytes()));
        if self == Problem::Unauthorized {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// The gateway's share of the backend budget is spent: `429` JSON with `Retry-After`.
pub fn budget_spent(refused: &crate::budget::Refused) -> Response {
    let secs = refused.retry_after_secs();
    let body = serde_json::json!({
        "error": "budget_spent",
        "message": refused.to_string(),
        "retry_after_secs": secs,
    });
    let mut res = json(StatusCode::TOO_MANY_REQUESTS, Bytes::from(body.to_string()));
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    res
}

/// A backend error answered with a non-JSON page (HTML…): the same status, a JSON body.
pub fn backend_error(status: StatusCode) -> Response {
    let body = format!(
        r#"{{"error":"backend_error","status":{},"message":"the backend answered {} with a non-JSON page"}}"#,
        status.as_u16(),
        status
    );
    json(status, Bytes::from(body))
}

/// A JSON response with `Cache-Control: no-store` (gateway errors must not be cached).
pub fn json(status: StatusCode, body: Bytes) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_body_is_json_with_an_error_code() {
        use Problem::*;
        for p in [
            BadPath,
            NotFound,
            Unauthorized,
            TooLarge,
            Unreachable,
            BadResponse,
            Timeout,
            BadSpec,
            NoPublicUrl,
        ] {
            let (status, body) = p.parts();
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            assert!(v["error"].as_str().is_some_and(|s| !s.is_empty()), "{p:?}");
            assert!(status.is_client_error() || status.is_server_error());
        }
    }
}
