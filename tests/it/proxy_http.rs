//! The `/gpts` gateway over real loopback sockets: in-process axum backends on 127.0.0.1:0,
//! the gateway router served the way `sniper serve` serves it, and raw TCP clients where a
//! well-behaved client would normalise the request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt as _;
use http_body_util::BodyExt as _;
use sniper::gateway::{ProxyConfig, router};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// Guard so a broken streaming test fails instead of hanging; never a timing assertion.
const GUARD: Duration = Duration::from_secs(20);

async fn serve(app: Router) -> SocketAddr {
    crate::support::stub::serve(app).await.addr
}

/// These tests are about forwarding itself: every path is forwarded (`GPTS_FORWARD_ALL=on`);
/// publishing only the spec's operations is tested in `gpts_actions.rs`.
fn config(base: &str) -> ProxyConfig {
    let mut c = ProxyConfig::new(base.parse().unwrap());
    c.forward_all = true;
    c
}

async fn gateway(cfg: ProxyConfig) -> SocketAddr {
    serve(router(cfg)).await
}

/// One request as the backend saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: HeaderMap,
    body_len: usize,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }
    fn last(&self) -> Seen {
        self.all().pop().expect("backend received nothing")
    }
}

/// Records every request and answers with hop-by-hop headers that must not reach the client.
async fn record(State(log): State<Log>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    log.0.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        target: parts.uri.to_string(),
        headers: parts.headers,
        body_len: body.len(),
    });
    let mut res = (
        StatusCode::IM_A_TEAPOT,
        format!("{{\"method\":\"{}\"}}", parts.method),
    )
        .into_response();
    let h = res.headers_mut();
    h.insert("connection", HeaderValue::from_static("x-resp-secret"));
    h.insert("x-resp-secret", HeaderValue::from_static("1"));
    h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
    h.insert("proxy-connection", HeaderValue::from_static("keep-alive"));
    h.insert("trailer", HeaderValue::from_static("x-checksum"));
    h.insert("x-resp-kept", HeaderValue::from_static("1"));
    res
}

async fn recording_backend() -> (SocketAddr, Log) {
    let log = Log::default();
    let app = Router::new().fallback(record).with_state(log.clone());
    (serve(app).await, log)
}

/// A raw HTTP/1.1 exchange: `request` is sent byte-for-byte, the connection read to its end.
async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(GUARD, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    split_response(&buf)
}

fn split_response(buf: &[u8]) -> (u16, String, Vec<u8>) {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no response head");
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, buf[end + 4..].to_vec())
}

fn get_raw(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n").into_bytes()
}

fn json_error(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).expect("error body is JSON");
    v["error"].as_str().expect("error code").to_owned()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[tokio::test]
async fn prefix_edges_map_to_base_root_and_keep_query_bytes() {
    let (backend, log) = recording_backend().await;
    let gw = gateway(config(&format!("http://{backend}"))).await;
    let cases = [
        ("/gpts", "/"),
        ("/gpts/", "/"),
        ("/gpts?x=1", "/?x=1"),
        ("/gpts/?", "/?"),
        (
            "/gpts/api/a%20b/c?x=%2F..&y=a+b&&z=%zz;w",
            "/api/a%20b/c?x=%2F..&y=a+b&&z=%zz;w",
        ),
        ("/gpts/%252e%252e/x", "/%252e%252e/x"),
        ("/gpts/a/.../b.c/..x", "/a/.../b.c/..x"),
    ];
    for (sent, want) in cases {
        let (status, _, _) = raw(gw, &get_raw(sent)).await;
        assert_eq!(status, 418, "{sent}");
        assert_eq!(log.last().target, want, "{sent}");
    }
    let before = log.all().len();
    for sent in ["/gptsx", "/gptsx/a", "/gpt", "/GPTS/a", "/x/../gpts/a"] {
        let (status, _, _) = raw(gw, &get_raw(sent)).await;
        assert_eq!(status, 404, "{sent}");
    }
    assert_eq!(
        log.all().len(),
        before,
        "a non-prefix path reached the backend"
    );
}

#[tokio::test]
async fn base_with_path_prefix_stays_under_it() {
    let (backend, log) = recording_backend().await;
    let gw = gateway(config(&format!("http://{backend}/py"))).await;
    for (sent, want) in [
        ("/gpts", "/py/"),
        ("/gpts/", "/py/"),
        ("/gpts/a/b?q=1", "/py/a/b?q=1"),
    ] {
        let (status, _, _) = raw(gw, &get_raw(sent)).await;
        assert_eq!(status, 418, "{sent}");
        assert_eq!(log.last().target, want, "{sent}");
    }
    let before = log.all().len();
    let (status, _, body) = raw(gw, &get_raw("/gpts/../admin")).await;
    assert_eq!((status, json_error(&body).as_str()), (400, "bad_path"));
    assert_eq!(log.all().len(), before);
}

#[tokio::test]
async fn hostile_paths_never_reach_the_backend() {
    let (backend, log) = recording_backend().await;
    let gw = gateway(config(&format!("http://{backend}/py"))).await;
    let hostile = [
        "/gpts/..",
        "/gpts/../secret",
        "/gpts/a/../../secret",
        "/gpts/%2e%2e/secret",
        "/gpts/%2E%2E/secret",
        "/gpts/.%2e/secret",
        "/gpts/%2e/secret",
        "/gpts/..;x=1/secret",
        "/gpts/a%2fb",
        "/gpts/a%2F..%2F..%2Fsecret",
        "/gpts//evil.example/x",
        "/gpts/a//b",
        "/gpts/a%5c..%5csecret",
        "/gpts/a%00b",
        "/gpts/..\\secret",
        "/gpts/a\\b",
        "http://evil.example/gpts/x",
        "http://127.0.0.1:1/gpts/x",
        "/gptsx/../gpts/a",
        "//gpts/x",
    ];
    for target in hostile {
        let (status, _, body) = raw(gw, &get_raw(target)).await;
        assert!(status == 400 || status == 404, "{target}: {status}");
        if status == 400 {
            assert_eq!(json_error(&body), "bad_path", "{target}");
        }
    }
    let seen: Vec<String> = log.all().into_iter().map(|s| s.target).collect();
    assert!(seen.is_empty(), "backend received {seen:?}");
}

#[tokio::test]
async fn hop_by_hop_removed_both_ways_and_forwarding_headers_added() {
    let (backend, log) = recording_backend().await;
    let gw = gateway(config(&format!("http://{backend}"))).await;
    let req = "GET /gpts/h HTTP/1.1\r\nHost: public.example:8443\r\nConnection: close, X-Secret\r\n\
        X-Secret: s\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n\
        Trailer: x-checksum\r\nX-Forwarded-For: 198.51.100.1\r\nX-Kept: 1\r\n\r\n";
    let (status, head, _) = raw(gw, req.as_bytes()).await;
    assert_eq!(status, 418);
    let seen = log.last();
    for gone in [
        "x-secret",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "transfer-encoding",
    ] {
        assert!(!seen.headers.contains_key(gone), "backend got {gone}");
    }
    // The gateway speaks keep-alive to the backend whatever the client asked for.
    assert!(
        !seen
            .headers
            .get("connection")
            .is_some_and(|v| v.to_str().unwrap().contains("close"))
    );
    assert_eq!(seen.headers["host"], backend.to_string());
    assert_eq!(seen.headers["x-forwarded-for"], "198.51.100.1, 127.0.0.1");
    assert_eq!(seen.headers["x-forwarded-host"], "public.example:8443");
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    assert_eq!(seen.headers["x-forwarded-prefix"], "/gpts");
    assert_eq!(seen.headers["x-kept"], "1");

    let head = head.to_ascii_lowercase();
    assert!(head.contains("\r\nx-resp-kept: 1"), "{head}");
    for gone in ["x-resp-secret", "keep-alive", "proxy-connection", "trailer"] {
        assert!(
            !head.contains(&format!("\r\n{gone}:")),
            "client got {gone}: {head}"
        );
    }
}

#[tokio::test]
async fn all_methods_and_bodies_pass_through() {
    let (backend, log) = recording_backend().await;
    let gw = gateway(config(&format!("http://{backend}"))).await;
    let c = client();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE"] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let res = c
            .request(m, format!("http://{gw}/gpts/m"))
            .body("x".repeat(1000))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 418);
        assert_eq!(
            res.text().await.unwrap(),
            format!("{{\"method\":\"{method}\"}}")
        );
        let seen = log.last();
        assert_eq!((seen.method.as_str(), seen.body_len), (method, 1000));
    }
    let res = c.head(format!("http://{gw}/gpts/m")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 418);
    assert_eq!(log.last().method, "HEAD");
}

#[tokio::test]
async fn slow_chunked_response_reaches_the_client_incrementally() {
    let (go_tx, go_rx) = oneshot::channel::<()>();
    let go = Arc::new(Mutex::new(Some(go_rx)));
    let app = Router::new().route(
        "/slow",
        get(move || {
            let go = go.lock().unwrap().take().unwrap();
            async move {
                let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(1);
                tokio::spawn(async move {
                    tx.send(Ok(Bytes::from_static(b"first;"))).await.unwrap();
                    // The second chunk waits until the client has seen the first.
                    go.await.unwrap();
                    tx.send(Ok(Bytes::from_static(b"second"))).await.unwrap();
                });
                Body::from_stream(tokio_stream(rx))
            }
        }),
    );
    let backend = serve(app).await;
    let gw = gateway(config(&format!("http://{backend}"))).await;
    let run = async {
        let mut res = client()
            .get(format!("http://{gw}/gpts/slow"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let first = res.chunk().await.unwrap().unwrap();
        assert_eq!(&first[..], b"first;");
        go_tx.send(()).unwrap();
        let mut rest = Vec::new();
        while let Some(c) = res.chunk().await.unwrap() {
            rest.extend_from_slice(&c);
        }
        assert_eq!(rest, b"second");
    };
    tokio::time::timeout(GUARD, run)
        .await
        .expect("first chunk was held back: response buffered");
}

/// `mpsc::Receiver` as a `Stream` without pulling in tokio-stream.
fn tokio_stream<T: Send + 'static>(
    rx: mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
}

#[tokio::test]
async fn large_upload_streams_to_the_backend() {
    const CHUNK: usize = 64 * 1024;
    const TOTAL: usize = 50 * 1024 * 1024;
    let (first_tx, first_rx) = oneshot::channel::<()>();
    let first_tx = Arc::new(Mutex::new(Some(first_tx)));
    let app = Router::new().route(
        "/upload",
        post(move |req: Request| {
            let first = first_tx.lock().unwrap().take().unwrap();
            async move {
                let mut body = req.into_body().into_data_stream();
                let mut total = 0usize;
                let mut first = Some(first);
                while let Some(chunk) = body.next().await {
                    total += chunk.unwrap().len();
                    if let Some(f) = first.take() {
                        f.send(()).unwrap();
                    }
                }
                total.to_string()
            }
        }),
    );
    let backend = serve(app).await;
    let mut cfg = config(&format!("http://{backend}"));
    cfg.max_body = 64 * 1024 * 1024;
    let gw = gateway(cfg).await;

    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let send = tokio::spawn(async move {
        let chunk = Bytes::from(vec![7u8; CHUNK]);
        tx.send(Ok(chunk.clone())).await.unwrap();
        // The rest is sent only once the backend holds the first chunk: a buffering gateway
        // would wait for the whole body and this test would hit the guard.
        first_rx.await.unwrap();
        for _ in 1..TOTAL / CHUNK {
            tx.send(Ok(chunk.clone())).await.unwrap();
        }
    });
    let res = tokio::time::timeout(
        GUARD,
        client()
            .post(format!("http://{gw}/gpts/upload"))
            .body(reqwest::Body::wrap_stream(tokio_stream(rx)))
            .send(),
    )
    .await
    .expect("upload did not stream")
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), TOTAL.to_string());
    send.await.unwrap();
}

#[tokio::test]
async fn refused_backend_is_502_without_its_address() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = gateway(config(&format!("http://{closed}"))).await;
    let res = client()
        .get(format!("http://{gw}/gpts/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    let body = res.bytes().await.unwrap();
    assert_eq!(json_error(&body), "backend_unreachable");
    let text = String::from_utf8_lossy(&body);
    assert!(
        !text.contains("127.0.0.1") && !text.contains(&closed.port().to_string()),
        "{text}"
    );
}

#[tokio::test]
async fn backend_without_headers_in_time_is_504() {
    // Accepts, reads, never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let mut cfg = config(&format!("http://{addr}"));
    cfg.header_timeout = Duration::from_millis(300);
    let gw = gateway(cfg).await;
    let res = client()
        .get(format!("http://{gw}/gpts/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 504);
    let body = res.bytes().await.unwrap();
    assert_eq!(json_error(&body), "backend_timeout");
    assert!(!String::from_utf8_lossy(&body).contains(&addr.port().to_string()));
}

#[tokio::test]
async fn backend_closing_mid_headers_is_502() {
    let rude = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = rude.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = rude.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-").await;
        }
    });
    let gw = gateway(config(&format!("http://{addr}"))).await;
    let res = client()
        .get(format!("http://{gw}/gpts/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    assert_eq!(
        json_error(&res.bytes().await.unwrap()),
        "backend_bad_response"
    );
}

#[tokio::test]
async fn body_over_limit_is_413_by_content_length_and_while_streaming() {
    let (backend, log) = recording_backend().await;
    let mut cfg = config(&format!("http://{backend}"));
    cfg.max_body = 1000;
    let gw = gateway(cfg).await;

    // Declared too large: refused before any byte of body is read or the backend is asked.
    let req =
        "POST /gpts/u HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nContent-Length: 1001\r\n\r\n";
    let (status, _, body) = raw(gw, req.as_bytes()).await;
    assert_eq!(
        (status, json_error(&body).as_str()),
        (413, "payload_too_large")
    );
    assert!(log.all().is_empty());

    // Exactly the limit passes.
    let mut req =
        b"POST /gpts/u HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nContent-Length: 1000\r\n\r\n"
            .to_vec();
    req.extend_from_slice(&[b'a'; 1000]);
    let (status, _, _) = raw(gw, &req).await;
    assert_eq!(status, 418);
    assert_eq!(log.last().body_len, 1000);

    // Chunked, no length up front: cut off while streaming.
    let mut req = b"POST /gpts/u HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        req.extend_from_slice(b"258\r\n");
        req.extend_from_slice(&[b'b'; 600]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let (status, _, body) = raw(gw, &req).await;
    assert_eq!(
        (status, json_error(&body).as_str()),
        (413, "payload_too_large")
    );
    assert!(log.all().iter().all(|s| s.body_len <= 1000));
}

#[tokio::test]
async fn api_key_required_and_accepted_both_ways_never_forwarded() {
    let (backend, log) = recording_backend().await;
    let mut cfg = config(&format!("http://{backend}"));
    cfg.api_key = Some("k3y-0123456789".to_owned());
    let gw = gateway(cfg).await;
    let c = client();
    let url = format!("http://{gw}/gpts/a");

    let res = c.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_eq!(json_error(&res.bytes().await.unwrap()), "unauthorized");
    for (h, v) in [
        ("authorization", "Bearer wrong"),
        ("x-api-key", "k3y-012345678"),
        ("authorization", "k3y-0123456789"),
    ] {
        let res = c.get(&url).header(h, v).send().await.unwrap();
        assert_eq!(res.status(), 401, "{h}: {v}");
    }
    assert!(log.all().is_empty());

    let res = c
        .get(&url)
        .header("authorization", "Bearer k3y-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 418);
    assert!(!log.last().headers.contains_key("authorization"));
    let res = c
        .get(&url)
        .header("x-api-key", "k3y-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 418);
    assert!(!log.last().headers.contains_key("x-api-key"));
}

fn spec_backend() -> Router {
    let spec = || async {
        axum::Json(serde_json::json!({
            "openapi": "3.1.0",
            "servers": [{"url": "http://10.0.0.5:8000"}],
            "paths": {"/api/etf/flows": {"get": {"operationId": "etf"}}}
        }))
    };
    Router::new()
        .route("/openapi.json", get(spec))
        .route("/py/openapi.json", get(spec))
}

#[tokio::test]
async fn openapi_servers_point_at_the_public_gateway() {
    let backend = serve(spec_backend()).await;

    let mut cfg = config(&format!("http://{backend}/py"));
    cfg.public_url = Some("https://gw.example.com/".parse().unwrap());
    let gw = gateway(cfg).await;
    let body = client()
        .get(format!("http://{gw}/gpts/openapi.json"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["servers"],
        serde_json::json!([{"url": "https://gw.example.com/gpts"}])
    );
    assert_eq!(v["paths"]["/api/etf/flows"]["get"]["operationId"], "etf");

    // Without PUBLIC_URL: Host plus X-Forwarded-Proto from the TLS terminator in front.
    let gw = gateway(config(&format!("http://{backend}"))).await;
    let req = "GET /gpts/openapi.json HTTP/1.1\r\nHost: gw.local:8080\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n";
    let (status, _, body) = raw(gw, req.as_bytes()).await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["servers"],
        serde_json::json!([{"url": "https://gw.local:8080/gpts"}])
    );
}

#[tokio::test]
async fn http2_prior_knowledge_clients_are_proxied() {
    let (backend, log) = recording_backend().await;
    let gw = gateway(config(&format!("http://{backend}"))).await;
    let tcp = TcpStream::connect(gw).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = axum::http::Request::get("http://gw.example:9/gpts/h2?x=1")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let res = send.send_request(req).await.unwrap();
    assert_eq!(res.status().as_u16(), 418);
    let seen = log.last();
    assert_eq!(seen.target, "/h2?x=1");
    assert_eq!(seen.headers["x-forwarded-host"], "gw.example:9");
    assert_eq!(seen.headers["host"], backend.to_string());
}

#[tokio::test]
async fn public_listener_closes_slow_header_senders_and_shuts_down() {
    let (backend, log) = recording_backend().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(sniper::web::server::serve(
        listener,
        router(config(&format!("http://{backend}"))),
        Duration::from_millis(200),
        async {
            let _ = stop_rx.await;
        },
    ));

    // A complete request is served, with the peer in X-Forwarded-For.
    let (status, _, _) = raw(gw, &get_raw("/gpts/ok")).await;
    assert_eq!(status, 418);
    assert_eq!(log.last().headers["x-forwarded-for"], "127.0.0.1");

    // Headers never finished: the server hangs up instead of holding the socket forever.
    let mut s = TcpStream::connect(gw).await.unwrap();
    s.write_all(b"GET /gpts/slow HTTP/1.1\r\nHost: gw\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(GUARD, s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "slow header sender was never disconnected");
    assert!(log.all().iter().all(|seen| seen.target != "/slow"));

    stop_tx.send(()).unwrap();
    tokio::time::timeout(GUARD, server)
        .await
        .expect("serve did not return after shutdown")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn header_timeout_starts_after_the_upload_not_before() {
    let (got_tx, got_rx) = oneshot::channel::<()>();
    let got_tx = Arc::new(Mutex::new(Some(got_tx)));
    let app = Router::new().route(
        "/upload",
        post(move |req: Request| {
            let got = got_tx.lock().unwrap().take().unwrap();
            async move {
                let mut body = req.into_body().into_data_stream();
                let mut total = 0;
                let mut got = Some(got);
                while let Some(chunk) = body.next().await {
                    total += chunk.unwrap().len();
                    if let Some(g) = got.take() {
                        g.send(()).unwrap();
                    }
                }
                total.to_string()
            }
        }),
    );
    let backend = serve(app).await;
    let mut cfg = config(&format!("http://{backend}"));
    cfg.header_timeout = Duration::from_millis(500);
    let gw = gateway(cfg).await;

    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    tokio::spawn(async move {
        tx.send(Ok(Bytes::from_static(b"part one;"))).await.unwrap();
        got_rx.await.unwrap();
        // The client, not the backend, is slow: longer than the header timeout.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        tx.send(Ok(Bytes::from_static(b"part two"))).await.unwrap();
    });
    let res = client()
        .post(format!("http://{gw}/gpts/upload"))
        .body(reqwest::Body::wrap_stream(tokio_stream(rx)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "17");
}
