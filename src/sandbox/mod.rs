//! The sandbox backend: an axum app that behaves like the real FastAPI market-data backend.
//!
//! SANDBOX DATA — nothing it serves is real. Every body carries `"sandbox": true`.
//! It serves its own `/openapi.json` generated from its route table, validates parameters like
//! FastAPI (422 on a missing required or disallowed value), answers ETF with 402 unless licensed,
//! and has per-module fault knobs (status, delay, garbage, hang, reset mid-body, connection drop before any
//! response, huge body, error envelope).
//! Its 200 bodies are market data a trader would recognise ([`market`]): a book around a slowly
//! moving price, liquidation clusters at leverage tiers, whale alerts of the last hour, weekday ETF
//! flows, a bias; in the real backend's shapes by default, other formats by [`Shape`]
//! (`POST /__sandbox/shape {"shape": "coinglass"}`, `sniper sandbox --shape`).
//! Tests use it to count what the backend *received*; `sniper demo` runs against it.

pub mod cli;
pub mod market;

pub use market::Shape;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

use crate::module_id::ModuleId;

/// A parameter of a sandbox route.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RouteParam {
    pub name: String,
    /// `path` or `query`
    pub location: String,
    pub required: bool,
    #[serde(default)]
    pub allowed: Vec<String>,
}

/// One route of a sandbox build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RouteDef {
    /// Path with `{placeholders}`.
    pub path: String,
    pub module: ModuleId,
    pub params: Vec<RouteParam>,
}

fn q(name: &str, required: bool) -> RouteParam {
    RouteParam {
        name: name.into(),
        location: "query".into(),
        required,
        allowed: Vec::new(),
    }
}

/// The default build: the real backend's routes for the five modules.
pub fn default_routes() -> Vec<RouteDef> {
    let mut tf = q("timeframe", false);
    tf.allowed = ["5m", "15m", "1h", "4h", "1d"].map(String::from).to_vec();
    vec![
        RouteDef {
            path: "/advanced/etf/flows".into(),
            module: ModuleId::Etf,
            params: vec![q("asset", false), q("window", false), q("days", false)],
        },
        RouteDef {
            path: "/advanced/liquidation/heatmap".into(),
            module: ModuleId::Heatmap,
            params: vec![q("symbol", true), tf],
        },
        RouteDef {
            path: "/advanced/spot/orderbook".into(),
            module: ModuleId::SpotOb,
            params: vec![q("symbol", true), q("exchange", false), q("depth", false)],
        },
        RouteDef {
            path: "/advanced/whale/alerts".into(),
            module: ModuleId::WhaleAlerts,
            params: vec![q("exchange", false)],
        },
        RouteDef {
            path: "/institutional/bias".into(),
            module: ModuleId::Bias,
            params: vec![q("symbol", false)],
        },
    ]
}

/// A fault injected on one module's routes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Fault {
    /// Answer with this status (and a JSON error body).
    #[serde(default)]
    pub status: Option<u16>,
    /// `Retry-After` header value to add.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// With `status`: answer this JSON body instead of the default `{"detail":"sandbox fault …"}`.
    #[serde(default)]
    pub body: Option<Value>,
    /// Only requests naming one of these symbols (a path segment or query value containing it,
    /// case-insensitive) meet the fault; empty = every request of the module.
    #[serde(default)]
    pub symbols: Vec<String>,
    /// Wait this long before answering.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Never answer.
    #[serde(default)]
    pub hang: bool,
    /// Answer 200 with a body that is not JSON.
    #[serde(default)]
    pub garbage: bool,
    /// Answer 200 with CoinGlass's error envelope `{"code":"401","msg":"Upgrade plan"}`.
    #[serde(default)]
    pub envelope: bool,
    /// Answer 200 with a JSON body of about this many bytes.
    #[serde(default)]
    pub body_bytes: Option<usize>,
    /// Send part of the body, then break the connection.
    #[serde(default)]
    pub reset: bool,
    /// Drop the TCP connection with a RST as soon as the request head is read, before any byte
    /// of a response. Connection refused is a property of a whole origin (every module shares
    /// `PY_BASE_URL`), so per module this is the closest real event: the worker serving that
    /// route dies or refuses the request, and the client sees the connection torn down with
    /// nothing received. Only works when served by [`Sandbox::start`] (it owns the sockets);
    /// through a bare [`router`] the fault answers 500.
    #[serde(default)]
    pub close: bool,
}

/// What the spec endpoint serves.
#[derive(Debug, Clone)]
pub enum SpecMode {
    /// Generated from the route table.
    Generated,
    /// This document, verbatim.
    Custom(Value),
    /// These bytes with this content type.
    Raw(Bytes, &'static str),
    /// This status, no spec.
    Status(u16),
}

/// One request the sandbox received.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub path: String,
    pub query: Option<String>,
    /// The module whose route matched, if any.
    pub module: Option<ModuleId>,
    /// When it arrived, Unix epoch milliseconds (so tests can check request spacing, e.g.
    /// nothing before a `Retry-After` ran out).
    pub at_ms: i64,
}

/// Shared state of a running sandbox; tests drive it directly.
pub struct SandboxState {
    routes: RwLock<Vec<RouteDef>>,
    spec: RwLock<SpecMode>,
    faults: RwLock<HashMap<ModuleId, Fault>>,
    hits: Mutex<Vec<Hit>>,
    licensed: AtomicBool,
    shape: RwLock<Shape>,
    /// Bytes of huge bodies ([`Fault::body_bytes`]) produced so far: what the client pulled.
    big_body_bytes: AtomicU64,
}

impl SandboxState {
    fn new() -> Arc<SandboxState> {
        Arc::new(SandboxState {
            routes: RwLock::new(default_routes()),
            spec: RwLock::new(SpecMode::Generated),
            faults: RwLock::new(HashMap::new()),
            hits: Mutex::new(Vec::new()),
            licensed: AtomicBool::new(false),
            shape: RwLock::new(Shape::default()),
            big_body_bytes: AtomicU64::new(0),
        })
    }

    /// Inject a fault on a module's routes.
    pub fn set_fault(&self, m: ModuleId, f: Fault) {
        write(&self.faults).insert(m, f);
    }

    /// Remove every fault.
    pub fn clear_faults(&self) {
        write(&self.faults).clear();
    }

    /// Replace the route table (a different backend "build").
    pub fn set_routes(&self, routes: Vec<RouteDef>) {
        *write(&self.routes) = routes;
    }

    /// Choose what `/openapi.json` serves.
    pub fn set_spec(&self, mode: SpecMode) {
        *write(&self.spec) = mode;
    }

    /// ETF answers 200 when licensed, 402 otherwise (the default).
    pub fn set_licensed(&self, yes: bool) {
        self.licensed.store(yes, Ordering::SeqCst);
    }

    /// The format module answers are served in ([`Shape::Real`] by default).
    pub fn set_shape(&self, shape: Shape) {
        *write(&self.shape) = shape;
    }

    /// The current answer format.
    pub fn shape(&self) -> Shape {
        *read(&self.shape)
    }

    /// Everything received so far.
    pub fn hits(&self) -> Vec<Hit> {
        lock(&self.hits).clone()
    }

    /// Requests received on a module's routes.
    pub fn hits_for(&self, m: ModuleId) -> Vec<Hit> {
        lock(&self.hits)
            .iter()
            .filter(|h| h.module == Some(m))
            .cloned()
            .collect()
    }

    /// Requests received for `/openapi.json`.
    pub fn spec_hits(&self) -> usize {
        lock(&self.hits)
            .iter()
            .filter(|h| h.path.ends_with("/openapi.json"))
            .count()
    }

    /// Bytes of huge bodies ([`Fault::body_bytes`]) the server has produced so far. The body is
    /// generated lazily as the connection accepts it, so this shows how much a client read
    /// (plus what fits in the socket buffers) before it gave up.
    pub fn big_body_bytes(&self) -> u64 {
        self.big_body_bytes.load(Ordering::SeqCst)
    }

    /// Forget the recorded requests.
    pub fn clear_hits(&self) {
        lock(&self.hits).clear();
    }

    /// The generated OpenAPI 3.1 document for the current route table.
    pub fn generated_spec(&self) -> Value {
        let mut paths = serde_json::Map::new();
        for r in read(&self.routes).iter() {
            let params: Vec<Value> = r
                .params
                .iter()
                .map(|p| {
                    let mut schema = json!({"type": "string", "title": p.name});
                    if !p.allowed.is_empty() {
                        schema["enum"] = json!(p.allowed);
                    }
                    json!({"name": p.name, "in": p.location, "required": p.required, "schema": schema})
                })
                .collect();
            paths.insert(
                r.path.clone(),
                json!({"get": {
                    "summary": format!("{} (sandbox)", r.module),
                    "operationId": format!("get_{}", r.module),
                    "tags": ["advanced"],
                    "parameters": params,
                    "responses": {"200": {"description": "Successful Response"}}
                }}),
            );
        }
        json!({
            "openapi": "3.1.0",
            "info": {"title": "sniper sandbox backend (SANDBOX DATA, not real)", "version": "1.0.0"},
            "paths": paths
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}
fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

/// A running sandbox.
pub struct Sandbox {
    pub addr: SocketAddr,
    pub state: Arc<SandboxState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Sandbox {
    /// Start on `addr` (use `127.0.0.1:0` for a free port).
    pub async fn start(addr: SocketAddr) -> std::io::Result<Sandbox> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = SandboxState::new();
        let app = router(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, rx));
        Ok(Sandbox {
            addr,
            state,
            shutdown: Some(tx),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Lets a handler tear down the TCP connection its request came on ([`Fault::close`]).
#[derive(Clone)]
struct ConnCloser(Arc<tokio::sync::Notify>);

/// The accept loop. Not `axum::serve`: that one hides the sockets, and [`Fault::close`] needs
/// to reset one. Each connection gets a [`ConnCloser`] in its requests' extensions. On shutdown
/// the listener is closed at once (new connections are refused) and open connections dropped.
async fn serve(
    listener: TcpListener,
    app: Router,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // e.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "sandbox accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        tokio::spawn(serve_conn(stream, app.clone(), stop_rx.clone()));
    }
    drop(listener);
    drop(stop_tx);
}

async fn serve_conn(stream: TcpStream, app: Router, mut stop: tokio::sync::watch::Receiver<()>) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use tower::ServiceExt;

    let _ = stream.set_nodelay(true);
    // A second handle on the socket, kept to reset it on `Fault::close` (hyper owns the first).
    let (stream, spare) = match split_handle(stream) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::warn!(error = %e, "sandbox cannot duplicate a socket handle; dropping the connection");
            return;
        }
    };
    let closer = ConnCloser(Arc::new(tokio::sync::Notify::new()));
    let svc_closer = closer.clone();
    let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(svc_closer.clone());
        app.clone().oneshot(req.map(Body::new))
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::select! {
        r = conn => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "sandbox connection ended with an error");
            }
        }
        _ = closer.0.notified() => {
            // SO_LINGER 0: closing the last handle sends RST instead of FIN.
            match TcpStream::from_std(spare) {
                Ok(s) => {
                    if let Err(e) = s.set_zero_linger() {
                        tracing::warn!(error = %e, "sandbox cannot set SO_LINGER 0; closing with FIN");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "sandbox cannot reset the connection"),
            }
        }
        _ = stop.changed() => {}
    }
}

/// The stream and a duplicate handle on the same socket.
fn split_handle(stream: TcpStream) -> std::io::Result<(TcpStream, std::net::TcpStream)> {
    let std = stream.into_std()?;
    let spare = std.try_clone()?;
    Ok((TcpStream::from_std(std)?, spare))
}

/// The sandbox's axum router.
pub fn router(state: Arc<SandboxState>) -> Router {
    Router::new()
        .route("/openapi.json", get(spec))
        .route("/__sandbox/faults", post(set_faults))
        .route("/__sandbox/hits", get(get_hits))
        .route("/__sandbox/shape", get(get_shape).post(set_shape))
        .fallback(handle)
        .with_state(state)
}

async fn spec(State(s): State<Arc<SandboxState>>, req: Request) -> Response {
    lock(&s.hits).push(Hit {
        path: req.uri().path().to_string(),
        query: req.uri().query().map(str::to_string),
        module: None,
        at_ms: jiff::Timestamp::now().as_millisecond(),
    });
    let mode = read(&s.spec).clone();
    match mode {
        SpecMode::Generated => axum::Json(s.generated_spec()).into_response(),
        SpecMode::Custom(v) => axum::Json(v).into_response(),
        SpecMode::Raw(b, ct) => ([(header::CONTENT_TYPE, ct)], b).into_response(),
        SpecMode::Status(code) => StatusCode::from_u16(code)
            .unwrap_or(StatusCode::NOT_FOUND)
            .into_response(),
    }
}

#[derive(Deserialize)]
struct FaultReq {
    module: ModuleId,
    #[serde(default)]
    fault: Option<Fault>,
}

async fn set_faults(
    State(s): State<Arc<SandboxState>>,
    axum::Json(r): axum::Json<FaultReq>,
) -> StatusCode {
    match r.fault {
        Some(f) => s.set_fault(r.module, f),
        None => {
            write(&s.faults).remove(&r.module);
        }
    }
    StatusCode::NO_CONTENT
}

#[derive(Serialize, Deserialize)]
struct ShapeReq {
    shape: Shape,
}

/// `{"shape": "real"|"coinglass"|"exchange"}`.
async fn get_shape(State(s): State<Arc<SandboxState>>) -> axum::Json<ShapeReq> {
    axum::Json(ShapeReq { shape: s.shape() })
}

async fn set_shape(
    State(s): State<Arc<SandboxState>>,
    axum::Json(r): axum::Json<ShapeReq>,
) -> StatusCode {
    s.set_shape(r.shape);
    StatusCode::NO_CONTENT
}

async fn get_hits(State(s): State<Arc<SandboxState>>) -> axum::Json<Vec<Hit>> {
    axum::Json(s.hits())
}

fn json_status(code: StatusCode, body: Value) -> Response {
    (code, axum::Json(body)).into_response()
}

/// Match `path` against a template; captures by placeholder name.
fn match_path(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let t: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let p: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if t.len() != p.len() {
        return None;
    }
    let mut caps = HashMap::new();
    for (a, b) in t.iter().zip(p.iter()) {
        if let Some(name) = a.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let v = percent_encoding::percent_decode_str(b)
                .decode_utf8()
                .ok()?
                .into_owned();
            caps.insert(name.to_string(), v);
        } else if a != b {
            return None;
        }
    }
    Some(caps)
}

async fn handle(State(s): State<Arc<SandboxState>>, req: Request) -> Response {
    let closer = req.extensions().get::<ConnCloser>().cloned();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let matched = read(&s.routes)
        .iter()
        .find_map(|r| match_path(&r.path, &path).map(|caps| (r.clone(), caps)));
    lock(&s.hits).push(Hit {
        path: path.clone(),
        query: query.clone(),
        module: matched.as_ref().map(|(r, _)| r.module),
        at_ms: jiff::Timestamp::now().as_millisecond(),
    });
    let Some((route, mut params)) = matched else {
        return json_status(StatusCode::NOT_FOUND, json!({"detail": "Not Found"}));
    };
    for (k, v) in url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        params
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    let fault = read(&s.faults)
        .get(&route.module)
        .cloned()
        .filter(|f| {
            f.symbols.is_empty()
                || f.symbols.iter().any(|sym| {
                    let sym = sym.to_lowercase();
                    path.to_lowercase().contains(&sym)
                        || params.values().any(|v| v.to_lowercase().contains(&sym))
                })
        })
        .unwrap_or_default();
    if let Some(ms) = fault.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if fault.hang {
        std::future::pending::<()>().await;
    }
    if fault.close {
        let Some(closer) = closer else {
            return json_status(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"detail": "the close fault needs Sandbox::start's server", "sandbox": true}),
            );
        };
        // The connection task drops the connection; this handler is dropped with it.
        closer.0.notify_one();
        std::future::pending::<()>().await;
    }
    if let Some(code) = fault.status {
        let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = fault.body.clone().unwrap_or_else(
            || json!({"detail": format!("sandbox fault {}", code.as_u16()), "sandbox": true}),
        );
        let mut resp = json_status(code, body);
        if let Some(ra) = fault.retry_after.as_deref()
            && let Ok(v) = HeaderValue::from_str(ra)
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    if fault.garbage {
        return (
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>502 Bad Gateway</body></html>",
        )
            .into_response();
    }
    if fault.envelope {
        return json_status(
            StatusCode::OK,
            json!({"code": "401", "msg": "Upgrade plan", "sandbox": true}),
        );
    }
    if let Some(n) = fault.body_bytes {
        return big_body(n, s.clone());
    }
    if fault.reset {
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"{\"sandbox\": true, \"data\": [")),
            Err(std::io::Error::other("sandbox reset")),
        ];
        return Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, "100000")
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    // FastAPI-like validation.
    for p in &route.params {
        match params.get(&p.name) {
            None if p.required => {
                return json_status(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"detail": [{"loc": [p.location, p.name], "msg": "Field required", "type": "missing"}]}),
                );
            }
            Some(v) if !p.allowed.is_empty() && !p.allowed.contains(v) => {
                return json_status(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"detail": [{"loc": [p.location, p.name], "msg": format!("Input should be one of {:?}", p.allowed), "type": "enum"}]}),
                );
            }
            _ => {}
        }
    }
    if route.module == ModuleId::Etf && !s.licensed.load(Ordering::SeqCst) {
        return json_status(
            StatusCode::PAYMENT_REQUIRED,
            json!({"detail": "ETF flows require a paid plan (sandbox)", "sandbox": true}),
        );
    }
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let mut resp = json_status(
        StatusCode::OK,
        market::body(route.module, s.shape(), &params, now_ms),
    );
    resp.headers_mut()
        .insert("x-sandbox", HeaderValue::from_static("true"));
    resp
}

fn big_body(n: usize, s: Arc<SandboxState>) -> Response {
    // A valid JSON string of about n bytes, streamed in 64 KiB chunks.
    const CHUNK: usize = 64 * 1024;
    let chunks = n / CHUNK + 1;
    let stream = futures_util::stream::iter((0..chunks + 2).map(move |i| {
        let b = if i == 0 {
            Bytes::from_static(b"{\"sandbox\":true,\"pad\":\"")
        } else if i == chunks + 1 {
            Bytes::from_static(b"\"}")
        } else {
            Bytes::from(vec![b'x'; CHUNK])
        };
        s.big_body_bytes.fetch_add(b.len() as u64, Ordering::SeqCst);
        Ok::<_, std::io::Error>(b)
    }));
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
