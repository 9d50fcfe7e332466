//! The request body on its way to the backend: limited to `max_body` while streaming, and
//! able to say when it has been sent in full, so the header timeout measures the backend's
//! thinking time rather than the client's upload speed.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use bytes::Bytes;
use http_body_util::Limited;
use hyper::body::{Frame, SizeHint};
use tokio::sync::oneshot;

/// Inbound body, capped, with an optional "fully sent" signal (absent for empty bodies, which
/// are the common case and so cost no channel).
pub struct UpBody {
    inner: Limited<Body>,
    sent: Option<oneshot::Sender<()>>,
}

impl UpBody {
    /// Wraps `body` with the `limit`; returns a receiver completing when the body has been
    /// read to its end (or failed), unless the body is already known to be empty.
    pub fn new(body: Body, limit: usize) -> (Self, Option<oneshot::Receiver<()>>) {
        let inner = Limited::new(body, limit);
        if hyper::body::Body::is_end_stream(&inner) {
            return (UpBody { inner, sent: None }, None);
        }
        let (tx, rx) = oneshot::channel();
        (
            UpBody {
                inner,
                sent: Some(tx),
            },
            Some(rx),
        )
    }

    /// An empty body (for the gateway's own backend requests).
    pub fn empty() -> Self {
        UpBody {
            inner: Limited::new(Body::empty(), 0),
            sent: None,
        }
    }
}

impl hyper::body::Body for UpBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if !matches!(frame, Some(Ok(_)))
            && let Some(tx) = self.sent.take()
        {
            let _ = tx.send(());
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
