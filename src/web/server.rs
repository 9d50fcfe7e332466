//! A listener loop fit for the public side, which `axum::serve` is not quite: it sets no
//! header read timeout (one slow client per socket can hold connections open forever).
//!
//! Serves any axum `Router` (the gateway merged with `/health`, `/metrics`…) over HTTP/1.1 and
//! h2c with `TCP_NODELAY`, a request-header deadline, an idle timeout, a bound on open
//! connections, `ConnectInfo<SocketAddr>` for `X-Forwarded-For`, and graceful shutdown.
//!
//! Idle connections: hyper's header read timeout does not cover the bytes hyper-util's
//! HTTP/1-or-h2 detection waits for, so a client that connects and sends nothing was held forever
//! (2 000 such sockets exhausted the file limit and made `/health` time out). Each connection here
//! records its last byte read or written and whether a request is in flight; one with no request
//! in flight and no byte for `idle_timeout` is closed — before its first request, between
//! requests, and on h2 alike.
//!
//! Connection bound: at `max_connections`, a new connection closes the longest-idle one to make
//! room (an idle keep-alive or a silent socket costs nothing to drop, and `/health` from a load
//! balancer must get through a crowd of idle sockets); only when every connection has a request
//! in flight is the new one closed at once (the client sees EOF at once instead of waiting in the
//! kernel's backlog). Accept errors (EMFILE…) also close the longest-idle connection to free a
//! descriptor, and back off 50 ms doubling to 1 s, logged once per streak.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tower::ServiceExt as _;

/// Default for `header_read_timeout`: a client must finish sending request headers within
/// this (slowloris guard); generous for any real client.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);
/// Default idle timeout: a connection with no request in flight and no byte either way for this
/// long is closed (`SNIPER_IDLE_TIMEOUT`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Default bound on open connections (`SNIPER_MAX_CONNECTIONS`).
pub const MAX_CONNECTIONS: usize = 512;
/// Upper bound on waiting for in-flight requests after the shutdown signal.
pub const DRAIN: Duration = Duration::from_secs(10);
/// First pause after an accept error (e.g. out of file descriptors) so the loop does not spin;
/// doubles per further error up to [`ACCEPT_BACKOFF_MAX`].
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Limits of [`serve_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// HTTP/1 request headers must arrive within this.
    pub header_read_timeout: Duration,
    /// A connection idle this long (no request in flight, no byte read or written) is closed.
    pub idle_timeout: Duration,
    /// Open connections at most (see the module docs for what happens beyond); at least 1.
    pub max_connections: usize,
    /// After the shutdown signal, requests in flight get this long to finish.
    pub drain: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: HEADER_READ_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            drain: DRAIN,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then drains in-flight connections
/// (bounded by [`DRAIN`]). Each request carries `ConnectInfo<SocketAddr>` of its TCP peer. An
/// HTTP/1 connection whose request headers take longer than `header_read_timeout` is closed.
/// Other limits are [`ServeOptions::default`]'s.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let opts = ServeOptions {
        header_read_timeout,
        ..ServeOptions::default()
    };
    serve_with(listener, app, opts, shutdown).await
}

/// One open connection's bookkeeping, shared by its task, its IO and the accept loop.
struct ConnState {
    /// Milliseconds since `epoch` of the last byte read or written (or request start/end).
    last_ms: AtomicU64,
    epoch: Instant,
    in_flight: AtomicUsize,
    /// Asked to close (evicted); set once.
    evicted: AtomicBool,
    kill: Notify,
}

impl ConnState {
    fn new() -> Arc<ConnState> {
        Arc::new(ConnState {
            last_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            in_flight: AtomicUsize::new(0),
            evicted: AtomicBool::new(false),
            kill: Notify::new(),
        })
    }

    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last_activity(&self) -> Instant {
        self.epoch + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
    }
}

/// Counts a request in flight for its connection until dropped.
struct InFlight(Arc<ConnState>);

impl InFlight {
    fn new(c: Arc<ConnState>) -> Self {
        c.in_flight.fetch_add(1, Ordering::Relaxed);
        c.touch();
        InFlight(c)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A TCP stream that records when a byte last went through it.
struct Tracked {
    inner: TcpStream,
    state: Arc<ConnState>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.state.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.state.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.state.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The open connections, for the bound and for eviction.
#[derive(Default)]
struct Registry {
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ConnState>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Open connections not already asked to close.
    fn live(&self) -> usize {
        self.lock()
            .values()
            .filter(|c| !c.evicted.load(Ordering::Relaxed))
            .count()
    }

    /// Asks the longest-idle connection with no request in flight to close; false if none.
    fn evict_idlest(&self) -> bool {
        let conns = self.lock();
        let victim = conns
            .values()
            .filter(|c| c.is_idle() && !c.evicted.load(Ordering::Relaxed))
            .min_by_key(|c| c.last_activity());
        match victim {
            Some(c) => {
                c.evicted.store(true, Ordering::Relaxed);
                c.kill.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Removes a connection from the registry when its task ends.
struct Registered {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

/// [`serve`] with every limit explicit (see the module docs).
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let registry = Arc::new(Registry::default());
    let max = opts.max_connections.max(1);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = ACCEPT_BACKOFF;
    let mut accept_errors: u64 = 0;
    let mut refused: u64 = 0;
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    if accept_errors == 0 {
                        tracing::warn!(error = %e, open = registry.live(), "accept failed; backing off");
                    }
                    accept_errors += 1;
                    // Out of descriptors is the usual cause: free one.
                    registry.evict_idlest();
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = &mut shutdown => break,
                    }
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if accept_errors > 0 {
            tracing::info!(errors = accept_errors, "accepting again");
            accept_errors = 0;
            backoff = ACCEPT_BACKOFF;
        }
        if registry.live() >= max && !registry.evict_idlest() {
            // Every connection has a request in flight: refuse this one at once.
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    max,
                    refused,
                    "connection limit reached; closing new connections"
                );
            }
            drop(tcp);
            continue;
        }
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let state = ConnState::new();
        let id = registry.next_id.fetch_add(1, Ordering::Relaxed);
        registry.lock().insert(id, state.clone());
        let registered = Registered {
            registry: registry.clone(),
            id,
        };
        let app = app.clone();
        let svc_state = state.clone();
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let guard = InFlight::new(svc_state.clone());
            let fut = app.clone().oneshot(req.map(Body::new));
            async move {
                let r = fut.await;
                drop(guard);
                r
            }
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let idle_timeout = opts.idle_timeout;
        tokio::spawn(async move {
            let _registered = registered;
            let io = TokioIo::new(Tracked {
                inner: tcp,
                state: state.clone(),
            });
            let conn = watcher.watch(builder.serve_connection(io, svc));
            tokio::pin!(conn);
            loop {
                let idle_at = state.last_activity() + idle_timeout;
                tokio::select! {
                    r = &mut conn => {
                        if let Err(e) = r {
                            tracing::trace!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    () = state.kill.notified() => {
                        tracing::debug!(%peer, "closing an idle connection to make room");
                        break;
                    }
                    () = tokio::time::sleep_until(idle_at) => {
                        if state.is_idle() && state.last_activity() + idle_timeout <= Instant::now() {
                            tracing::debug!(%peer, "closing an idle connection");
                            break;
                        }
                        if !state.is_idle() {
                            // A request in flight: look again after another idle period.
                            state.touch();
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(opts.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            drain_secs = opts.drain.as_secs_f64(),
            "connections still open after the drain period; closing"
        );
    }
    Ok(())
}

/// Raises the soft limit on open files (`RLIMIT_NOFILE`) to the hard limit, so the connection
/// bound, not a default soft limit of 1 024, is what limits the server. Returns the soft limit in
/// force afterwards; on failure logs a warning and returns `None` (serving goes on).
pub fn raise_nofile_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => {
            tracing::debug!(nofile = n, "open-file limit raised to the hard limit");
            Some(n)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit; keeping it");
            None
        }
    }
}
