//! `/gpts/*` reverse proxy: the public gateway a custom GPT's Actions call, forwarding to the
//! Python backend (`PY_BASE_URL`) with the prefix stripped.
//!
//! A thin handler over one pooled hyper-util client. Bodies stream both ways (nothing is
//! buffered, so a 1 GB response does not grow memory); every failure is a JSON answer that
//! never names the backend's address. Header rules live in [`headers`], the construction of
//! the backend target (the path-safety invariant) in [`path`].
//!
//! Serve the router with [`server::serve`] (header read timeout, `TCP_NODELAY`, connect info),
//! or at least with `axum::serve(.., app.into_make_service_with_connect_info::<SocketAddr>())`
//! so `X-Forwarded-For` can carry the client address.

pub mod actions;
pub mod cli;
pub mod fit;
pub mod headers;
mod openapi;
pub mod path;
mod reply;
mod upload;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::routing::any;
use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Method, StatusCode, Uri, Version, header};
use http_body_util::{BodyExt as _, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

pub use headers::strip_hop_by_hop;
pub use path::PathRejection;
use reply::Problem;

/// Default `GPTS_PREFIX`.
pub const DEFAULT_PREFIX: &str = "/gpts";
/// Default `GPTS_MAX_BODY`: 10 MiB, far above any Action call, far below a memory problem.
pub const DEFAULT_MAX_BODY: u64 = 10 * 1024 * 1024;
/// Default header timeout: FastAPI handlers that call upstream APIs can take tens of seconds.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Default bound on a whole answer (headers and body) from the backend: ChatGPT gives up
/// after 45 s, so the gateway answers before that, with a JSON 504 when it can.
pub const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(44);
/// How long the published operation list is reused before the backend spec is fetched again.
const SPEC_TTL: Duration = Duration::from_secs(60);
/// Cap on the backend's `/openapi.json` the gateway buffers to rewrite (the only buffered body).
const SPEC_MAX: usize = 16 * 1024 * 1024;
/// Idle keep-alive connections to the backend are closed after this long.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// Everything the gateway needs, as typed values (parse env/CLI with [`ProxyArgs`]).
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// `PY_BASE_URL`: plain `http://` origin, optionally with a path prefix (`http://h:8000/py`).
    pub base: url::Url,
    /// `GPTS_PREFIX`: public path prefix that is stripped, default `/gpts`.
    pub prefix: String,
    /// `GPTS_MAX_BODY`: largest inbound body in bytes (Content-Length and streamed), else 413.
    pub max_body: u64,
    /// `GPTS_API_KEY`: when set, callers must present it (Bearer or `X-API-Key`), else 401.
    pub api_key: Option<String>,
    /// Backend must send response headers within this, else 504.
    pub header_timeout: Duration,
    /// `PUBLIC_URL`: origin the public reaches the gateway at, for `/openapi.json` `servers`.
    pub public_url: Option<url::Url>,
    /// `GPTS_OPERATIONS`: operations to publish (operationIds or `METHOD /path`); empty = the
    /// five modules' routes first, then the rest ranked (at most 30 in all).
    pub operations: Vec<String>,
    /// `GPTS_FORWARD_ALL`: forward every path, not only the published operations.
    pub forward_all: bool,
    /// Bound on the whole backend answer, headers and body (default 44 s). Must not be shorter
    /// than `header_timeout`.
    pub answer_timeout: Duration,
    /// Discovery preferences used to put the five modules' routes first (default: a SOL run).
    pub match_prefs: Option<crate::discovery::matcher::MatchPrefs>,
    /// The backend budget shared with the runs (`SNIPER_BUDGET_PER_MIN`); each forwarded request
    /// spends one of the gateway's share, else `429` with `Retry-After`. `None`: unlimited.
    pub budget: Option<Arc<crate::budget::Budget>>,
}

impl ProxyConfig {
    /// A config with the documented defaults for everything but the backend.
    pub fn new(base: url::Url) -> Self {
        ProxyConfig {
            base,
            prefix: DEFAULT_PREFIX.to_owned(),
            max_body: DEFAULT_MAX_BODY,
            api_key: None,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            public_url: None,
            operations: Vec::new(),
            forward_all: false,
            answer_timeout: DEFAULT_ANSWER_TIMEOUT,
            match_prefs: None,
            budget: None,
        }
    }
}

/// Why a [`ProxyConfig`] cannot start a gateway; each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `https://` (or any non-http) backend: the gateway speaks plain HTTP/1.1 to the backend.
    #[error(
        "PY_BASE_URL must use http:// (got {0}://): the gateway talks plain HTTP/1.1 to a backend on a private network; terminate TLS in front of the gateway instead"
    )]
    UnsupportedScheme(String),
    /// No host, or credentials, query or fragment in the base URL.
    #[error(
        "PY_BASE_URL must be http://host[:port][/path] without user, query or fragment (got {0})"
    )]
    BadBase(String),
    /// The base path contains segments the path-safety rules refuse.
    #[error("PY_BASE_URL path is not allowed: {0}")]
    BadBasePath(PathRejection),
    /// Prefix empty, `/`, not starting with `/`, or with characters outside `[A-Za-z0-9._~-/]`.
    #[error(
        "GPTS_PREFIX must look like /gpts (a non-root path of letters, digits, . _ ~ -), got {0:?}"
    )]
    BadPrefix(String),
    /// `GPTS_API_KEY` set but empty: refused rather than silently running without auth.
    #[error("GPTS_API_KEY is set but empty; unset it to disable auth or give it a value")]
    EmptyApiKey,
    /// A zero header timeout would answer every request with 504.
    #[error("the backend header timeout must be greater than zero")]
    ZeroTimeout,
    /// Header timeout longer than the whole-answer bound (44 s: ChatGPT gives up after 45 s).
    #[error(
        "GPTS_HEADER_TIMEOUT_SECS must be at most {0} (ChatGPT gives up after 45 s; accepted: 1..={0})"
    )]
    TimeoutTooLong(u64),
    /// `PUBLIC_URL` that is not an http(s) origin[/path].
    #[error("PUBLIC_URL must be http(s)://host[:port][/path] without query or fragment (got {0})")]
    BadPublicUrl(String),
}

/// CLI flags / environment for the gateway, to flatten into `sniper serve` and `sniper proxy`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProxyArgs {
    /// Public path prefix forwarded to the backend with the prefix stripped.
    #[arg(long, env = "GPTS_PREFIX", default_value = DEFAULT_PREFIX)]
    pub gpts_prefix: String,
    /// Largest inbound request body in bytes (413 above).
    #[arg(long, env = "GPTS_MAX_BODY", default_value_t = DEFAULT_MAX_BODY)]
    pub gpts_max_body: u64,
    /// If set, requests under the prefix need `Authorization: Bearer <key>` or `X-API-Key`.
    #[arg(long, env = "GPTS_API_KEY", hide_env_values = true)]
    pub gpts_api_key: Option<String>,
    /// Seconds the backend may take to send response headers (504 after).
    #[arg(long, env = "GPTS_HEADER_TIMEOUT_SECS", default_value_t = DEFAULT_HEADER_TIMEOUT.as_secs())]
    pub gpts_header_timeout_secs: u64,
    /// Public origin of the gateway, used in `<prefix>/openapi.json` `servers`.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<url::Url>,
    /// Operations `<prefix>/openapi.json` publishes (and the gateway forwards), comma-separated
    /// operationIds or `METHOD /path`; at most 30. Default: the five modules' routes, then the rest.
    #[arg(long, env = "GPTS_OPERATIONS", value_delimiter = ',')]
    pub gpts_operations: Vec<String>,
    /// Forward every path under the prefix, not only the published operations (on/off).
    #[arg(long, env = "GPTS_FORWARD_ALL", default_value = "off")]
    pub gpts_forward_all: String,
    /// Hosts the listener answers (`Host` header), comma-separated `host` or `host:port`, `*` for
    /// any. Default: the listen address, localhost/127.0.0.1/[::1] on the listen port, and
    /// PUBLIC_URL's host. Other hosts get 421 (DNS-rebinding guard).
    #[arg(long, env = "SNIPER_ALLOWED_HOSTS")]
    pub allowed_hosts: Option<String>,
}

impl ProxyArgs {
    /// Typed, validated config for the backend at `base` (`PY_BASE_URL`, validated by the caller).
    pub fn into_config(self, base: url::Url) -> Result<ProxyConfig, crate::command::CommandError> {
        let forward_all = crate::config::parse_bool("GPTS_FORWARD_ALL", &self.gpts_forward_all)?;
        let cfg = ProxyConfig {
            base,
            prefix: self.gpts_prefix,
            max_body: self.gpts_max_body,
            api_key: self.gpts_api_key,
            header_timeout: Duration::from_secs(self.gpts_header_timeout_secs),
            public_url: self.public_url,
            operations: self
                .gpts_operations
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            forward_all,
            answer_timeout: DEFAULT_ANSWER_TIMEOUT,
            match_prefs: None,
            budget: None,
        };
        Gateway::new(cfg.clone())?;
        Ok(cfg)
    }
}

/// The `/gpts` router (`prefix`, `prefix/` and `prefix/*`), to merge with the rest of the
/// server. Has no fallback, so merging is allowed; `/gptsx` falls to the server's fallback.
///
/// # Panics
/// If the config is invalid; validate first with [`ProxyArgs::into_config`] or use
/// [`try_router`] to get the [`ConfigError`].
pub fn router(cfg: ProxyConfig) -> Router {
    match try_router(cfg) {
        Ok(r) => r,
        Err(e) => panic!("invalid gateway config: {e}"),
    }
}

/// [`router`] returning the configuration error instead of panicking.
pub fn try_router(cfg: ProxyConfig) -> Result<Router, ConfigError> {
    let gw = Arc::new(Gateway::new(cfg)?);
    let p = gw.prefix.to_string();
    let mut r = Router::new()
        .route(&p, any(handle))
        .route(&format!("{p}/"), any(handle))
        .route(&format!("{p}/{{*rest}}"), any(handle));
    if !p.starts_with(LEGACY_PREFIX) {
        r = r
            .route(LEGACY_PREFIX, any(legacy))
            .route(&format!("{LEGACY_PREFIX}/{{*rest}}"), any(legacy));
    }
    Ok(r.with_state(gw))
}

/// The gateway's old path: answered with `308` to the same place under the prefix.
pub const LEGACY_PREFIX: &str = "/api/gpts";

/// `308 Permanent Redirect` from `/api/gpts/x?y` to `<prefix>/x?y` (method and body kept).
async fn legacy(State(gw): State<Arc<Gateway>>, uri: Uri) -> Response {
    let rest = uri.path().strip_prefix(LEGACY_PREFIX).unwrap_or_default();
    let mut to = String::with_capacity(gw.prefix.len() + rest.len() + 16);
    to.push_str(&gw.prefix);
    to.push_str(rest);
    if let Some(q) = uri.query() {
        to.push('?');
        to.push_str(q);
    }
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(v) = HeaderValue::from_str(&to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

use upload::UpBody;

/// The gateway's state: validated config in the shapes the hot path wants, and the pool.
struct Gateway {
    client: Client<HttpConnector, UpBody>,
    authority: Authority,
    host: HeaderValue,
    base_path: Box<str>,
    prefix: Box<str>,
    prefix_value: HeaderValue,
    max_body: u64,
    api_key: Option<Box<[u8]>>,
    header_timeout: Duration,
    answer_timeout: Duration,
    public_url: Option<Box<str>>,
    forward_all: bool,
    publish_opts: actions::PublishOptions,
    /// The published operations and when they were built (`None` until the first fetch).
    published: std::sync::RwLock<Option<(tokio::time::Instant, Arc<actions::Published>)>>,
    /// Single flight for refreshing `published`.
    refreshing: tokio::sync::Mutex<()>,
    budget: Option<Arc<crate::budget::Budget>>,
}

impl Gateway {
    fn new(cfg: ProxyConfig) -> Result<Self, ConfigError> {
        let base = &cfg.base;
        if base.scheme() != "http" {
            return Err(ConfigError::UnsupportedScheme(base.scheme().to_owned()));
        }
        let bad_base = || ConfigError::BadBase(base.to_string());
        if base.host_str().is_none_or(str::is_empty)
            || !base.username().is_empty()
            || base.password().is_some()
            || base.query().is_some()
            || base.fragment().is_some()
        {
            return Err(bad_base());
        }
        let host_port = &base[url::Position::BeforeHost..url::Position::AfterPort];
        let authority: Authority = host_port.parse().map_err(|_| bad_base())?;
        let host = HeaderValue::from_str(host_port).map_err(|_| bad_base())?;
        let base_path = base.path().trim_end_matches('/');
        path::check_rest(base_path).map_err(ConfigError::BadBasePath)?;

        let prefix = cfg.prefix.trim_end_matches('/');
        let prefix_ok = prefix.starts_with('/')
            && prefix.len() > 1
            && prefix.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'~' | b'-')
            })
            && path::check_rest(prefix).is_ok();
        if !prefix_ok {
            return Err(ConfigError::BadPrefix(cfg.prefix.clone()));
        }
        let prefix_value = HeaderValue::from_str(prefix)
            .map_err(|_| ConfigError::BadPrefix(cfg.prefix.clone()))?;

        let api_key = match cfg.api_key.as_deref().map(str::trim) {
            Some("") => return Err(ConfigError::EmptyApiKey),
            Some(k) => Some(k.as_bytes().into()),
            None => None,
        };
        if cfg.header_timeout.is_zero() || cfg.answer_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        if cfg.header_timeout > cfg.answer_timeout {
            return Err(ConfigError::TimeoutTooLong(cfg.answer_timeout.as_secs()));
        }
        let public_url = match &cfg.public_url {
            Some(u) => {
                if !matches!(u.scheme(), "http" | "https")
                    || u.host_str().is_none()
                    || u.query().is_some()
                    || u.fragment().is_some()
                {
                    return Err(ConfigError::BadPublicUrl(u.to_string()));
                }
                Some(u.as_str().trim_end_matches('/').into())
            }
            None => None,
        };

        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE)
            .build(connector);

        Ok(Gateway {
            budget: cfg.budget.clone(),
            client,
            authority,
            host,
            base_path: base_path.into(),
            prefix: prefix.into(),
            prefix_value,
            max_body: cfg.max_body,
            api_key,
            header_timeout: cfg.header_timeout,
            answer_timeout: cfg.answer_timeout,
            public_url,
            forward_all: cfg.forward_all,
            publish_opts: actions::PublishOptions {
                operations: cfg.operations,
                key_required: cfg.api_key.is_some(),
                prefs: cfg.match_prefs,
            },
            published: std::sync::RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// The absolute backend URI for a path-and-query built by [`path::target`].
    fn backend_uri(&self, path_and_query: String) -> Option<Uri> {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(Scheme::HTTP);
        parts.authority = Some(self.authority.clone());
        parts.path_and_query =
            Some(PathAndQuery::from_maybe_shared(Bytes::from(path_and_query)).ok()?);
        Uri::from_parts(parts).ok()
    }

    async fn forward(&self, req: Request) -> Response {
        let (mut parts, body) = req.into_parts();
        if parts.version >= Version::HTTP_2 {
            // HTTP/2 always carries `:authority` in the URI; it plays the role of `Host`.
            if !parts.headers.contains_key(header::HOST)
                && let Some(host) = parts
                    .uri
                    .authority()
                    .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            {
                parts.headers.insert(header::HOST, host);
            }
        } else if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
            // HTTP/1 absolute-form targets (`GET http://other/gpts/x`) are refused outright: the
            // gateway only ever connects to its backend, and such a target hints at misuse.
            return Problem::BadPath.response();
        }
        let Some(rest) = parts.uri.path().strip_prefix(&*self.prefix) else {
            return Problem::NotFound.response();
        };
        // The spec is public (ChatGPT imports it by URL without credentials); operations are not.
        if rest == "/openapi.json" && matches!(parts.method, Method::GET | Method::HEAD) {
            return self.openapi(&parts).await;
        }
        if let Some(key) = &self.api_key {
            match headers::check_key(&parts.headers, key) {
                // The gateway key is for the gateway; the backend never sees it.
                Some(headers::KeySource::Bearer) => {
                    drop(parts.headers.remove(header::AUTHORIZATION))
                }
                Some(headers::KeySource::ApiKey) => drop(parts.headers.remove(headers::X_API_KEY)),
                None => return Problem::Unauthorized.response(),
            }
        }
        if !self.forward_all {
            match self.published(false).await {
                Ok(p) if p.allows(parts.method.as_str(), rest) => {}
                Ok(_) => return Problem::NotPublished.response(),
                Err(problem) => return problem.response(),
            }
        }
        // Only an authenticated, published request spends the gateway's share of the budget.
        if let Some(b) = &self.budget
            && let Err(refused) = b.try_spend(crate::budget::Consumer::Gateway).await
        {
            return reply::budget_spent(&refused);
        }
        let target = match path::target(&self.base_path, rest, parts.uri.query()) {
            Ok(t) => t,
            Err(PathRejection::NotUnderPrefix) => return Problem::NotFound.response(),
            Err(_) => return Problem::BadPath.response(),
        };
        if let Some(len) = parts.headers.get(header::CONTENT_LENGTH)
            && len
                .to_str()
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .is_none_or(|n| n > self.max_body)
        {
            return Problem::TooLarge.response();
        }
        let Some(uri) = self.backend_uri(target) else {
            return Problem::BadPath.response();
        };
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        if parts.headers.contains_key(header::TRANSFER_ENCODING) {
            // RFC 9112 §6.3: chunked framing wins; a Content-Length beside it is a lie.
            parts.headers.remove(header::CONTENT_LENGTH);
        }
        strip_hop_by_hop(&mut parts.headers);
        // hyper answered any `Expect: 100-continue` on this hop already.
        parts.headers.remove(header::EXPECT);
        // The gateway must read JSON answers to keep them under ChatGPT's size limit.
        parts.headers.remove(header::ACCEPT_ENCODING);
        let head = parts.method == Method::HEAD;
        headers::set_forwarding(
            &mut parts.headers,
            headers::Hop {
                peer,
                prefix: &self.prefix_value,
                backend_host: &self.host,
            },
        );
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        parts.extensions.clear();
        let limit = usize::try_from(self.max_body).unwrap_or(usize::MAX);
        let (body, sent) = UpBody::new(body, limit);
        let mut pending = std::pin::pin!(self.client.request(Request::from_parts(parts, body)));
        // The header timeout starts once the request body is fully sent (at once for bodiless
        // requests): a slow upload is not a slow backend.
        if let Some(sent) = sent {
            tokio::select! {
                biased;
                res = &mut pending => {
                    let deadline = tokio::time::Instant::now() + self.answer_timeout;
                    return self.answer(Ok(res), head, deadline).await;
                }
                _ = sent => {}
            }
        }
        let deadline = tokio::time::Instant::now() + self.answer_timeout;
        let res = tokio::time::timeout(self.header_timeout, pending).await;
        self.answer(res, head, deadline).await
    }

    /// The published operations, fetched from the backend's spec when missing, older than
    /// [`SPEC_TTL`] or `fresh` is asked; a stale list is kept when a refresh fails.
    async fn published(&self, fresh: bool) -> Result<Arc<actions::Published>, Problem> {
        let current = || {
            self.published
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        };
        if !fresh
            && let Some((at, p)) = current()
            && at.elapsed() < SPEC_TTL
        {
            return Ok(p);
        }
        let _one = self.refreshing.lock().await;
        let stale = current();
        if !fresh
            && let Some((at, p)) = &stale
            && at.elapsed() < SPEC_TTL
        {
            return Ok(p.clone());
        }
        let built = match tokio::time::timeout(self.header_timeout, self.fetch_spec()).await {
            Ok(Ok(spec)) => actions::publish(&spec, &self.publish_opts).map_err(|e| {
                tracing::warn!(error = %e, "gateway: cannot publish the backend spec");
                Problem::BadSpec
            }),
            Ok(Err(problem)) => Err(problem),
            Err(_) => Err(Problem::Timeout),
        };
        match built {
            Ok(p) => {
                if !p.unknown.is_empty() {
                    tracing::warn!(unknown = ?p.unknown, "GPTS_OPERATIONS names operations the backend spec does not have");
                }
                let p = Arc::new(p);
                *self.published.write().unwrap_or_else(|e| e.into_inner()) =
                    Some((tokio::time::Instant::now(), p.clone()));
                Ok(p)
            }
            Err(problem) => match stale {
                Some((_, p)) => {
                    tracing::warn!(
                        ?problem,
                        "gateway: spec refresh failed; keeping the previous operations"
                    );
                    Ok(p)
                }
                None => Err(problem),
            },
        }
    }

    /// The backend's `/openapi.json` bytes (bounded by [`SPEC_MAX`]).
    async fn fetch_spec(&self) -> Result<Bytes, Problem> {
        let mut path = String::with_capacity(self.base_path.len() + 13);
        path.push_str(&self.base_path);
        path.push_str("/openapi.json");
        let Some(uri) = self.backend_uri(path) else {
            return Err(Problem::BadSpec);
        };
        let mut req = Request::new(UpBody::empty());
        *req.uri_mut() = uri;
        req.headers_mut().insert(header::HOST, self.host.clone());
        req.headers_mut()
            .insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let res = self.client.request(req).await.map_err(|e| classify(&e))?;
        if !res.status().is_success() {
            return Err(Problem::BadSpec);
        }
        let body = Limited::new(res.into_body(), SPEC_MAX).collect().await;
        body.map(|b| b.to_bytes()).map_err(|_| Problem::BadSpec)
    }

    /// Turns the backend exchange's outcome into the client's response. JSON answers of unknown
    /// length or over [`fit::MAX_ANSWER`] are buffered (until `deadline`) and fitted; a non-JSON
    /// error page becomes a JSON error with the backend's status; everything else streams, cut
    /// off (connection reset, never a short valid-looking body) at `deadline`.
    async fn answer(
        &self,
        res: Result<
            Result<http::Response<hyper::body::Incoming>, hyper_util::client::legacy::Error>,
            tokio::time::error::Elapsed,
        >,
        head: bool,
        deadline: tokio::time::Instant,
    ) -> Response {
        match res {
            Ok(Ok(res)) => {
                let (mut parts, body) = res.into_parts();
                if parts.headers.contains_key(header::TRANSFER_ENCODING) {
                    // RFC 9112 §6.3: chunked framing wins; never pass the stale length on.
                    parts.headers.remove(header::CONTENT_LENGTH);
                }
                strip_hop_by_hop(&mut parts.headers);
                if head {
                    return Response::from_parts(parts, Body::new(body));
                }
                let json = is_json(&parts.headers);
                if parts.status.as_u16() >= 400 && is_html(&parts.headers) {
                    tracing::warn!(
                        status = parts.status.as_u16(),
                        "gateway: backend error page replaced by JSON"
                    );
                    return reply::backend_error(parts.status);
                }
                let encoded = parts
                    .headers
                    .get(header::CONTENT_ENCODING)
                    .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
                let small =
                    content_length(&parts.headers).is_some_and(|n| n <= fit::MAX_ANSWER as u64);
                // A compressed JSON answer is decoded and fitted like any other (issue 22 item 5):
                // its size on the wire says nothing of its size for the client.
                if json && (encoded || !small) {
                    return buffered(parts, body, deadline).await;
                }
                Response::from_parts(parts, Body::new(DeadlineBody::new(body, deadline)))
            }
            Ok(Err(e)) => {
                let problem = classify(&e);
                tracing::warn!(error = %ErrorChain(&e), ?problem, "gateway: backend request failed");
                problem.response()
            }
            Err(_) => {
                tracing::warn!(timeout = ?self.header_timeout, "gateway: backend sent no headers in time");
                Problem::Timeout.response()
            }
        }
    }

    /// The backend's `/openapi.json` as a GPT Action accepts it ([`actions::publish`]), with
    /// `servers` pointing at the public gateway URL. Always fetched fresh.
    async fn openapi(&self, inbound: &http::request::Parts) -> Response {
        let public = match &self.public_url {
            Some(u) => u.to_string(),
            None => {
                let h = |name| inbound.headers.get(name).map(HeaderValue::as_bytes);
                match openapi::derive_public(
                    h(headers::X_FORWARDED_PROTO),
                    h(headers::X_FORWARDED_HOST),
                    h(header::HOST),
                ) {
                    Some(p) => p,
                    None => return Problem::NoPublicUrl.response(),
                }
            }
        };
        let servers = openapi::servers_url(&public, &self.prefix);
        match self.published(true).await {
            Ok(p) => reply::json(StatusCode::OK, Bytes::from(p.render(&servers))),
            Err(problem) => problem.response(),
        }
    }
}

/// Whether the `Content-Type` is JSON (`application/json`, `application/*+json`).
fn is_json(h: &http::HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            let t = t.trim();
            t.eq_ignore_ascii_case("application/json")
                || (t.len() > 5 && t[t.len() - 5..].eq_ignore_ascii_case("+json"))
        })
}

/// Whether the `Content-Type` is an HTML page (`text/html`, `application/xhtml+xml`).
fn is_html(h: &http::HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            let t = t.trim();
            t.eq_ignore_ascii_case("text/html") || t.eq_ignore_ascii_case("application/xhtml+xml")
        })
}

fn content_length(h: &http::HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Reads a JSON answer whole (bounded by [`SPEC_MAX`] and `deadline`) and fits it under
/// [`fit::MAX_ANSWER`].
async fn buffered(
    mut parts: http::response::Parts,
    body: hyper::body::Incoming,
    deadline: tokio::time::Instant,
) -> Response {
    let collected = tokio::time::timeout_at(deadline, Limited::new(body, SPEC_MAX).collect()).await;
    let bytes = match collected {
        Err(_) => {
            tracing::warn!("gateway: backend answer not complete before the deadline");
            return Problem::Timeout.response();
        }
        Ok(Err(e)) => {
            let too_large = e.is::<http_body_util::LengthLimitError>();
            tracing::warn!(error = %e, "gateway: cannot read the backend answer");
            return if too_large {
                Problem::AnswerTooLarge.response()
            } else {
                Problem::BadResponse.response()
            };
        }
        Ok(Ok(b)) => b.to_bytes(),
    };
    // Decoded within SPEC_MAX (a gzip bomb stops there), then fitted under MAX_ANSWER like any
    // answer; what goes out is identity-coded.
    let bytes = match crate::upstream::decode_body(&parts.headers, &bytes, SPEC_MAX) {
        Ok(None) => bytes,
        Ok(Some(decoded)) => {
            parts.headers.remove(header::CONTENT_ENCODING);
            Bytes::from(decoded)
        }
        Err(crate::upstream::DecodeError::TooLarge { .. }) => {
            tracing::warn!("gateway: compressed answer decodes over the size limit");
            return Problem::AnswerTooLarge.response();
        }
        Err(e) => {
            tracing::warn!(error = %e, "gateway: backend answer not decodable");
            return Problem::BadResponse.response();
        }
    };
    let bytes = match fit::fit(&bytes, fit::MAX_ANSWER) {
        Ok(None) => bytes,
        Ok(Some(out)) => {
            tracing::info!(
                from = bytes.len(),
                to = out.len(),
                "gateway: answer shortened for ChatGPT"
            );
            parts.headers.remove(header::ETAG);
            parts
                .headers
                .insert("x-truncated", HeaderValue::from_static("true"));
            Bytes::from(out)
        }
        Err(e) => {
            tracing::warn!(error = %e, size = bytes.len(), "gateway: answer over the size limit");
            return Problem::AnswerTooLarge.response();
        }
    };
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Response::from_parts(parts, Body::from(bytes))
}

/// A body that fails (so the connection is reset rather than the answer silently shortened)
/// once `deadline` passes.
struct DeadlineBody<B> {
    inner: B,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl<B> DeadlineBody<B> {
    fn new(inner: B, deadline: tokio::time::Instant) -> Self {
        DeadlineBody {
            inner,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }
}

/// The answer deadline passed while the body was streaming.
#[derive(Debug, thiserror::Error)]
#[error("the backend answer did not finish before the gateway deadline")]
struct AnswerDeadline;

impl<B> hyper::body::Body for DeadlineBody<B>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        use std::future::Future as _;
        if self.sleep.as_mut().poll(cx).is_ready() {
            tracing::warn!("gateway: backend answer cut at the deadline");
            return std::task::Poll::Ready(Some(Err(Box::new(AnswerDeadline))));
        }
        std::pin::Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

async fn handle(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    gw.forward(req).await
}

/// Maps a client error to the answer: body over the limit (hit while streaming) → 413,
/// connect failure → 502 unreachable, anything else (reset, garbage) → 502 bad response.
fn classify(e: &hyper_util::client::legacy::Error) -> Problem {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return Problem::TooLarge;
        }
        source = err.source();
    }
    if e.is_connect() {
        Problem::Unreachable
    } else {
        Problem::BadResponse
    }
}

/// Displays an error with its sources, for the log (internal side only).
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut s = self.0.source();
        while let Some(e) = s {
            write!(f, ": {e}")?;
            s = e.source();
        }
        Ok(())
    }
}

crate::command::config_errors!(ConfigError);

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(base: &str) -> ProxyConfig {
        ProxyConfig::new(base.parse().unwrap())
    }

    #[test]
    fn https_backend_is_a_clear_startup_error() {
        let err = Gateway::new(cfg("https://backend:8443")).err().unwrap();
        assert!(matches!(err, ConfigError::UnsupportedScheme(ref s) if s == "https"));
        assert!(err.to_string().contains("http://"));
    }

    #[test]
    fn base_and_prefix_are_validated() {
        assert!(Gateway::new(cfg("http://u:p@h:1")).is_err());
        assert!(Gateway::new(cfg("http://h:1/?q=1")).is_err());
        let g = Gateway::new(cfg("http://h:8000/py/")).unwrap();
        assert_eq!(&*g.base_path, "/py");
        assert_eq!(g.host, "h:8000");
        let g = Gateway::new(cfg("http://h:80")).unwrap();
        assert_eq!(&*g.base_path, "");
        assert_eq!(g.host, "h");
        for bad in ["", "/", "gpts", "/g pts", "/a//b", "/a/../b", "/{x}", "/*x"] {
            let mut c = cfg("http://h:1");
            c.prefix = bad.to_owned();
            assert!(
                matches!(Gateway::new(c), Err(ConfigError::BadPrefix(_))),
                "{bad:?}"
            );
        }
        let mut c = cfg("http://h:1");
        c.prefix = "/gpts/".to_owned();
        assert_eq!(&*Gateway::new(c).unwrap().prefix, "/gpts");
        let mut c = cfg("http://h:1");
        c.api_key = Some("  ".to_owned());
        assert!(matches!(Gateway::new(c), Err(ConfigError::EmptyApiKey)));
        let mut c = cfg("http://h:1");
        c.header_timeout = Duration::ZERO;
        assert!(matches!(Gateway::new(c), Err(ConfigError::ZeroTimeout)));
        let mut c = cfg("http://h:1");
        c.public_url = Some("ftp://x".parse().unwrap());
        assert!(matches!(Gateway::new(c), Err(ConfigError::BadPublicUrl(_))));
    }
}
