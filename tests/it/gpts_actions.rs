//! The gateway as ChatGPT sees it, over real loopback sockets: the published Actions spec for
//! every fixture spec, forwarding only what is published, answers ChatGPT can take, framing,
//! the old path, and the access layer (Host allow-list, SNIPER_API_KEY, cross-site) on the
//! daemon's router.

use crate::support as common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};
use sniper::gateway::actions;
use sniper::gateway::{ProxyConfig, router};
use sniper::web::access::{self, AccessPolicy, HostRule};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const GUARD: Duration = Duration::from_secs(20);
const KEY: &str = "gw-key-0123456789";

fn fixtures() -> Vec<(String, Vec<u8>)> {
    // `../shared` beside the repository; `../../shared` from a worktree under it.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = [
        "../shared/fixtures/openapi",
        "../../shared/fixtures/openapi",
    ]
    .into_iter()
    .map(|d| root.join(d))
    .find(|d| d.is_dir())
    .unwrap_or_else(|| root.join("../shared/fixtures/openapi"));
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no fixture specs in {}", dir.display());
    out
}

async fn serve(app: Router) -> SocketAddr {
    crate::support::stub::serve_as_sniper(app).await.addr
}

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, HeaderMap)>>>);

/// A backend serving `spec` at /openapi.json and echoing every other request as JSON.
async fn spec_backend(spec: Vec<u8>, seen: Seen) -> SocketAddr {
    let app = Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let spec = spec.clone();
                async move { ([("content-type", "application/json")], spec) }
            }),
        )
        .fallback(move |req: Request| {
            let seen = seen.clone();
            async move {
                let target = req.uri().to_string();
                seen.0
                    .lock()
                    .unwrap()
                    .push((target.clone(), req.headers().clone()));
                axum::Json(json!({"echo": target})).into_response()
            }
        });
    serve(app).await
}

fn gw_config(backend: SocketAddr) -> ProxyConfig {
    let mut cfg = ProxyConfig::new(format!("http://{backend}").parse().unwrap());
    cfg.public_url = Some("https://gpt.example.test".parse().unwrap());
    cfg.api_key = Some(KEY.to_owned());
    cfg
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get_json(url: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = client().get(url);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let res = tokio::time::timeout(GUARD, req.send())
        .await
        .unwrap()
        .unwrap();
    let code = res.status().as_u16();
    let body = res.bytes().await.unwrap();
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{code} not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (code, v)
}

#[tokio::test]
async fn every_fixture_spec_is_published_as_a_valid_actions_spec() {
    for (name, bytes) in fixtures() {
        let backend = spec_backend(bytes.clone(), Seen::default()).await;
        let gw = serve(router(gw_config(backend))).await;
        // The spec is served without the key.
        let (code, doc) = get_json(&format!("http://{gw}/gpts/openapi.json"), None).await;
        assert_eq!(code, 200, "{name}: {doc}");
        assert_eq!(actions::check(&doc), Vec::<String>::new(), "{name}");
        assert_eq!(
            doc["servers"],
            json!([{"url": "https://gpt.example.test/gpts"}])
        );
        assert_eq!(
            doc["security"],
            json!([{actions::SCHEME_NAME: []}]),
            "{name}"
        );
        let paths = doc["paths"].as_object().unwrap();
        let n: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert!(n > 0 && n <= actions::MAX_OPERATIONS, "{name}: {n}");
        for p in paths.keys() {
            assert!(!p.contains("debug") && !p.contains("test"), "{name}: {p}");
        }
        // The five modules' routes discovery chooses are published first.
        let (_, report) =
            sniper::discovery::match_spec(&bytes, &Default::default(), &Default::default(), "")
                .unwrap();
        for m in sniper::module_id::ModuleId::ALL {
            if let Some(t) = report.chosen(m) {
                let method = t.method.to_ascii_lowercase();
                assert!(
                    paths.iter().any(
                        |(p, item)| t.path.ends_with(p.as_str()) && item.get(&method).is_some()
                    ),
                    "{name}: {m} route {} {} not published",
                    t.method,
                    t.path
                );
            }
        }
    }
}

#[tokio::test]
async fn the_real_backend_spec_is_fixed_where_it_broke_the_rules() {
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n.ends_with("rcz87-coinglass-system.openapi.json"))
        .unwrap();
    let raw: Value = serde_json::from_slice(&bytes).unwrap();
    let before = actions::check(&raw);
    assert!(
        before.iter().any(|v| v.contains("operations (max 30)")),
        "{before:?}"
    );
    assert!(
        before.iter().any(|v| v.contains("does not match")),
        "{before:?}"
    );
    let backend = spec_backend(bytes, Seen::default()).await;
    let gw = serve(router(gw_config(backend))).await;
    let (_, a) = get_json(&format!("http://{gw}/gpts/openapi.json"), None).await;
    let (_, b) = get_json(&format!("http://{gw}/gpts/openapi.json"), None).await;
    assert_eq!(a, b, "stable across fetches");
    // A fresh gateway (a restart) publishes the same ids.
    let gw2 = serve(router(gw_config(backend))).await;
    let (_, c) = get_json(&format!("http://{gw2}/gpts/openapi.json"), None).await;
    assert_eq!(a, c);
}

#[tokio::test]
async fn only_published_operations_are_forwarded_and_need_the_key() {
    let spec = serde_json::to_vec(&json!({
        "openapi": "3.1.0",
        "paths": {
            "/advanced/ticker/{symbol}": {"get": {"operationId": "ticker"}},
            "/debug/routes": {"get": {"operationId": "routes"}},
        }
    }))
    .unwrap();
    let seen = Seen::default();
    let backend = spec_backend(spec, seen.clone()).await;
    let gw = serve(router(gw_config(backend))).await;
    let url = format!("http://{gw}/gpts/advanced/ticker/SOL?x=1");
    assert_eq!(get_json(&url, None).await.0, 401);
    assert_eq!(get_json(&url, Some("wrong")).await.0, 401);
    let (code, v) = get_json(&url, Some(KEY)).await;
    assert_eq!(
        (code, &v["echo"]),
        (200, &json!("/advanced/ticker/SOL?x=1"))
    );
    let (code, v) = get_json(&format!("http://{gw}/gpts/debug/routes"), Some(KEY)).await;
    assert_eq!((code, v["error"].as_str()), (404, Some("not_published")));
    let (code, _) = get_json(&format!("http://{gw}/gpts/advanced/ticker"), Some(KEY)).await;
    assert_eq!(code, 404);
    let forwarded: Vec<String> = seen.0.lock().unwrap().iter().map(|s| s.0.clone()).collect();
    assert_eq!(forwarded, ["/advanced/ticker/SOL?x=1"]);

    // GPTS_OPERATIONS chooses; GPTS_FORWARD_ALL keeps the old behaviour.
    let mut cfg = gw_config(backend);
    cfg.operations = vec!["GET /debug/routes".into()];
    let gw = serve(router(cfg)).await;
    assert_eq!(
        get_json(&format!("http://{gw}/gpts/debug/routes"), Some(KEY))
            .await
            .0,
        200
    );
    let ticker = format!("http://{gw}/gpts/advanced/ticker/SOL");
    assert_eq!(get_json(&ticker, Some(KEY)).await.0, 404);
    let mut cfg = gw_config(backend);
    cfg.forward_all = true;
    let gw = serve(router(cfg)).await;
    assert_eq!(
        get_json(&format!("http://{gw}/gpts/anything"), Some(KEY))
            .await
            .0,
        200
    );
}

/// A backend of canned answers: `/openapi.json` publishes everything under `/x/*`.
async fn canned_backend() -> SocketAddr {
    let big = json!({
        "symbol": "SOL",
        "rows": (0..20_000).map(|i| json!({"t": i, "price": 150.25, "side": "buy"})).collect::<Vec<_>>(),
    });
    let big = serde_json::to_vec(&big).unwrap();
    let big2 = big.clone();
    let spec = json!({"openapi": "3.1.0", "paths": {
        "/x/big-chunked": {"get": {}}, "/x/big-length": {"get": {}},
        "/x/html-error": {"get": {}}, "/x/small": {"get": {}},
    }});
    let app = Router::new()
        .route(
            "/openapi.json",
            get(move || async move { axum::Json(spec) }),
        )
        .route(
            "/x/big-chunked",
            get(move || {
                let big = big.clone();
                async move {
                    // A stream: no Content-Length, the gateway must buffer and fit.
                    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                        big.chunks(8192).map(|c| Ok(c.to_vec())).collect();
                    (
                        [("content-type", "application/json; charset=utf-8")],
                        axum::body::Body::from_stream(futures_util::stream::iter(chunks)),
                    )
                }
            }),
        )
        .route(
            "/x/big-length",
            get(move || {
                let big = big2.clone();
                async move { ([("content-type", "application/json")], big) }
            }),
        )
        .route(
            "/x/html-error",
            get(|| async {
                (
                    axum::http::StatusCode::BAD_GATEWAY,
                    [("content-type", "text/html")],
                    "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>",
                )
            }),
        )
        .route(
            "/x/small",
            get(|| async { axum::Json(json!({"ok": true})) }),
        );
    serve(app).await
}

#[tokio::test]
async fn oversize_json_is_shortened_to_valid_json_and_html_errors_become_json() {
    let backend = canned_backend().await;
    let mut cfg = gw_config(backend);
    cfg.api_key = None;
    let gw = serve(router(cfg)).await;
    for path in ["big-chunked", "big-length"] {
        let res = client()
            .get(format!("http://{gw}/gpts/x/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body = res.bytes().await.unwrap();
        assert!(body.len() <= 100_000, "{path}: {}", body.len());
        let v: Value = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(v["truncated"], true, "{path}");
        assert_eq!(v["symbol"], "SOL");
        let rows = v["rows"].as_array().unwrap();
        assert!(!rows.is_empty() && rows.len() < 20_000);
    }
    let (code, v) = get_json(&format!("http://{gw}/gpts/x/html-error"), None).await;
    assert_eq!((code, v["error"].as_str()), (502, Some("backend_error")));
    assert_eq!(v["status"], 502);
    let (code, v) = get_json(&format!("http://{gw}/gpts/x/small"), None).await;
    assert_eq!((code, v), (200, json!({"ok": true})));
}

/// Accepts connections and writes `answer` after reading the request head (the spec request
/// gets a one-route spec).
async fn raw_backend(answer: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = s.write_all(answer).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn chunked_with_content_length_is_never_truncated() {
    let backend = raw_backend(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\nConnection: close\r\n\r\n14\r\n{\"ok\":\"full body!!\"}\r\n0\r\n\r\n",
    )
    .await;
    let mut cfg = gw_config(backend);
    cfg.forward_all = true;
    cfg.api_key = None;
    let gw = serve(router(cfg)).await;
    let mut s = TcpStream::connect(gw).await.unwrap();
    s.write_all(b"GET /gpts/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(GUARD, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    assert!(!text.contains("content-length: 3\r\n"), "{text}");
    let status: u16 = text.split(' ').nth(1).unwrap().parse().unwrap();
    if status == 200 {
        assert!(text.contains("full body!!"), "{text}");
    } else {
        assert_eq!(status, 502, "{text}");
    }
}

#[tokio::test]
async fn proxy_authorization_stays_here_and_old_path_redirects() {
    let seen = Seen::default();
    let spec =
        serde_json::to_vec(&json!({"openapi": "3.1.0", "paths": {"/x": {"get": {}}}})).unwrap();
    let backend = spec_backend(spec, seen.clone()).await;
    let mut cfg = gw_config(backend);
    cfg.api_key = None;
    let gw = serve(router(cfg)).await;
    let res = client()
        .get(format!("http://{gw}/gpts/x"))
        .header("proxy-authorization", "Basic c2VjcmV0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let headers = seen.0.lock().unwrap()[0].1.clone();
    assert!(!headers.contains_key("proxy-authorization"));

    for (from, to) in [
        ("/api/gpts/x?y=1", "/gpts/x?y=1"),
        ("/api/gpts/a/b", "/gpts/a/b"),
        ("/api/gpts", "/gpts"),
    ] {
        let res = client()
            .post(format!("http://{gw}{from}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 308, "{from}");
        assert_eq!(res.headers()["location"], to, "{from}");
    }
}

/// The daemon's router (API, page, gateway) behind the access layer, as `serve` builds it.
async fn daemon(
    api_key: Option<&str>,
    public_reads: bool,
) -> (sniper::sandbox::Sandbox, SocketAddr) {
    use sniper::daemon::server::{App, api_router};
    let (sb, runner) = common::sandbox_runner(&[]).await;
    let store = sniper::store::AsyncStore::new(Arc::new(
        sniper::store::SqliteStore::open(":memory:").unwrap(),
    ));
    let window = runner.config().window.clone();
    let app = App::new(
        runner,
        &Default::default(),
        sniper::obs::metrics::Metrics::new(),
        Some(store.clone()),
        window,
        Default::default(),
    )
    .await;
    let mut gcfg = ProxyConfig::new(sb.url().parse().unwrap());
    gcfg.api_key = Some(KEY.to_owned());
    let r = api_router(app, true)
        .merge(sniper::daemon::status::routes(store))
        .merge(router(gcfg))
        .fallback(sniper::web::not_found);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let policy = AccessPolicy {
        hosts: HostRule::new(None, addr, Some(&"https://gw.example.com".parse().unwrap())).unwrap(),
        api_key: api_key.map(str::to_owned),
        public_reads,
        gpts_prefix: "/gpts".into(),
    };
    tokio::spawn(sniper::web::server::serve(
        listener,
        access::layer(r, policy),
        sniper::web::server::HEADER_READ_TIMEOUT,
        std::future::pending(),
    ));
    (sb, addr)
}

#[derive(Clone, Copy, Debug)]
enum Caller {
    NoKey,
    WrongKey,
    RightKey,
    CrossSite,
}

async fn call(addr: SocketAddr, method: &str, path: &str, who: Caller, key: &str) -> u16 {
    let url = format!("http://{addr}{path}");
    let mut req = client().request(method.parse().unwrap(), &url);
    req = match who {
        Caller::NoKey => req,
        Caller::WrongKey => req.bearer_auth("nope"),
        Caller::RightKey => req.bearer_auth(key),
        Caller::CrossSite => req
            .bearer_auth(key)
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site"),
    };
    tokio::time::timeout(GUARD, req.send())
        .await
        .unwrap()
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn auth_matrix_over_http() {
    use Caller::*;
    const API: &str = "api-key-0123456789";
    // (method, path, [no key, wrong key, right key, cross-site]) with SNIPER_API_KEY set.
    let locked: [(&str, &str, [u16; 4]); 5] = [
        ("GET", "/", [401, 401, 200, 200]),
        ("GET", "/api/status", [401, 401, 200, 200]),
        ("GET", "/api/runs", [401, 401, 200, 200]),
        ("POST", "/api/run", [401, 401, 200, 403]),
        ("GET", "/metrics", [401, 401, 200, 200]),
    ];
    let (_sb, addr) = daemon(Some(API), false).await;
    for (method, path, want) in locked {
        for (i, who) in [NoKey, WrongKey, RightKey, CrossSite]
            .into_iter()
            .enumerate()
        {
            let got = call(addr, method, path, who, API).await;
            assert_eq!(got, want[i], "{method} {path} {who:?}");
        }
    }
    // Probes answer everyone (their own 200/503 depends on the loop, not on the caller).
    for probe in ["/health", "/ready"] {
        for who in [NoKey, WrongKey, RightKey, CrossSite] {
            let code = call(addr, "GET", probe, who, API).await;
            assert!(code == 200 || code == 503, "{probe} {who:?}: {code}");
        }
    }
    // The gateway answers to its own key only.
    for (who, want) in [(NoKey, 401), (WrongKey, 401), (RightKey, 401)] {
        assert_eq!(call(addr, "GET", "/gpts/openapi.json", who, API).await, 200);
        assert_eq!(
            call(addr, "GET", "/gpts/institutional/bias?symbol=SOL", who, API).await,
            want
        );
    }
    assert_eq!(
        call(
            addr,
            "GET",
            "/gpts/institutional/bias?symbol=SOL",
            RightKey,
            KEY
        )
        .await,
        200
    );

    // Public reads: GETs open, writes still need the key.
    let (_sb, addr) = daemon(Some(API), true).await;
    assert_eq!(call(addr, "GET", "/api/status", NoKey, API).await, 200);
    assert_eq!(call(addr, "GET", "/", NoKey, API).await, 200);
    assert_eq!(call(addr, "POST", "/api/run", NoKey, API).await, 401);
    assert_eq!(call(addr, "POST", "/api/run", RightKey, API).await, 200);

    // No key: open, but never cross-site writes.
    let (_sb, addr) = daemon(None, false).await;
    assert_eq!(call(addr, "GET", "/api/status", NoKey, API).await, 200);
    assert_eq!(call(addr, "POST", "/api/run", CrossSite, API).await, 403);
    assert_eq!(call(addr, "POST", "/api/run", NoKey, API).await, 200);
}

async fn with_host(addr: SocketAddr, path: &str, host: &str) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(GUARD, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf)
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn host_allow_list_table() {
    let (_sb, addr) = daemon(None, false).await;
    let port = addr.port();
    let table: Vec<(String, &str, u16)> = vec![
        (format!("127.0.0.1:{port}"), "/api/status", 200),
        (format!("localhost:{port}"), "/api/status", 200),
        (format!("[::1]:{port}"), "/api/status", 200),
        ("gw.example.com".into(), "/api/status", 200),
        ("rebind.evil.example".into(), "/api/status", 421),
        (format!("rebind.evil.example:{port}"), "/", 421),
        (
            format!("localhost:{}", port.wrapping_add(1)),
            "/api/status",
            421,
        ),
        ("rebind.evil.example".into(), "/gpts/openapi.json", 421),
        ("rebind.evil.example".into(), "/health", 200),
    ];
    for (host, path, want) in table {
        let got = with_host(addr, path, &host).await;
        if path == "/health" {
            // Liveness is 200 or 503 by the loop's state; never refused for its Host.
            assert!(got == 200 || got == 503, "{host} {path}: {got}");
        } else {
            assert_eq!(got, want, "{host} {path}");
        }
    }
}

#[tokio::test]
async fn the_whole_answer_is_bounded_not_only_the_headers() {
    use futures_util::StreamExt as _;
    // Headers at once, then a body that never ends: JSON (buffered) and plain text (streamed).
    let stalled = |ct: &'static str| {
        get(move || async move {
            let first =
                futures_util::stream::iter([Ok::<_, std::io::Error>(b"{\"a\":[1,".to_vec())]);
            let body = axum::body::Body::from_stream(first.chain(futures_util::stream::pending()));
            ([("content-type", ct)], body)
        })
    };
    let app = Router::new()
        .route("/x/json", stalled("application/json"))
        .route("/x/text", stalled("text/plain"));
    let backend = serve(app).await;
    let mut cfg = gw_config(backend);
    cfg.api_key = None;
    cfg.forward_all = true;
    cfg.header_timeout = Duration::from_millis(300);
    cfg.answer_timeout = Duration::from_millis(600);
    let gw = serve(router(cfg)).await;
    let (code, v) = get_json(&format!("http://{gw}/gpts/x/json"), None).await;
    assert_eq!((code, v["error"].as_str()), (504, Some("backend_timeout")));
    let res = client()
        .get(format!("http://{gw}/gpts/x/text"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = tokio::time::timeout(GUARD, res.bytes()).await.unwrap();
    assert!(
        body.is_err(),
        "a cut stream must fail, not end cleanly: {body:?}"
    );
}
