//! The one webhook client: failure alerts (`ALERT_WEBHOOK_URL`) and signal calls
//! (`SIGNAL_WEBHOOK_URL`) POST JSON through a [`WebhookClient`].
//!
//! Redirects are never followed by the HTTP client. [`super::classify::classify_webhook`]
//! decides: `301`/`302`/`303` are failed deliveries naming the `Location` (a POST turned into a
//! body-less GET would reach a landing page, not the receiver); `307`/`308` are re-POSTed with the
//! same body and `Idempotency-Key` to a target on the same host (http → https allowed), at most
//! [`super::classify::MAX_REDIRECT_HOPS`] hops.

use std::time::Duration;

use super::classify::{Failure, FailureKind, classify_webhook};

/// A webhook delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The URL that answered 2xx (differs from the configured one after a 307/308).
    pub url: url::Url,
    /// How many 307/308 hops were followed.
    pub hops: u32,
}

/// POSTs JSON bodies with an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    timeout: Duration,
}

impl WebhookClient {
    /// A client over `http`, which must not follow redirects
    /// ([`super::telegram::no_redirect_client`]); `timeout` bounds each hop.
    pub fn new(http: reqwest::Client, timeout: Duration) -> Self {
        WebhookClient { http, timeout }
    }

    /// POST `body` (JSON bytes) to `url` with header `Idempotency-Key: key`, following allowed
    /// 307/308 hops. Errors never contain the body; a transport error is `Transient` (status 0).
    pub async fn post(&self, url: &url::Url, key: &str, body: &[u8]) -> Result<Posted, Failure> {
        let mut current = url.clone();
        let mut hops = 0;
        loop {
            let sent = self
                .http
                .post(current.as_str())
                .header("Idempotency-Key", key)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec())
                .timeout(self.timeout)
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    return Err(Failure::new(
                        FailureKind::Transient { status: 0 },
                        if e.is_timeout() {
                            "timeout".to_string()
                        } else {
                            e.without_url().to_string()
                        },
                    ));
                }
            };
            let h = |name| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let location = h(http::header::LOCATION);
            let retry_after = h(http::header::RETRY_AFTER);
            match classify_webhook(
                resp.status().as_u16(),
                &current,
                location.as_deref(),
                retry_after.as_deref(),
                hops,
            ) {
                Ok(()) => return Ok(Posted { url: current, hops }),
                Err(Failure {
                    kind: FailureKind::Follow { target, status },
                    ..
                }) => {
                    tracing::info!(
                        status,
                        hop = hops + 1,
                        "webhook redirect: re-POSTing the same body and key"
                    );
                    current = *target;
                    hops += 1;
                }
                Err(f) => return Err(f),
            }
        }
    }
}
