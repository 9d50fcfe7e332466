//! The real `sniper serve` process on loopback against the sandbox: idle connections are closed
//! and bounded under a low file limit, and SIGTERM drains the requests in flight.

use std::process::{Child, Command};
use std::time::Duration;

use sniper::module_id::ModuleId;
use sniper::sandbox::{Fault, Sandbox};
use tokio::io::AsyncReadExt;

use crate::support::process::{self, sigterm};

/// Starts `sniper serve` (through `sh`, so `ulimit` can apply first) and returns it with its
/// base URL.
fn start(backend: &str, ulimit: Option<u32>, env: &[(&str, &str)]) -> (process::Daemon, String) {
    let script = match ulimit {
        // Hard and soft: sniper's raise-to-hard cannot undo it.
        Some(n) => format!("ulimit -n {n} && exec \"$0\" serve"),
        None => "exec \"$0\" serve".to_string(),
    };
    let mut c = Command::new("sh");
    process::clean_env(&mut c)
        .args(["-c", &script, process::BIN])
        .env("SNIPER_LISTEN", "127.0.0.1:0")
        .env("SNIPER_DB", ":memory:")
        .env("PY_BASE_URL", backend)
        .env("SNIPER_INTERVAL", "1h")
        // Every run asks for the bias (its default refresh is 1 min): the test counts runs by it.
        .env("SNIPER_REFRESH_BIAS", "0")
        .env("ACTIVE_TRADING_START", "00:00")
        .env("ACTIVE_TRADING_END", "00:00");
    for (k, v) in env {
        c.env(k, v);
    }
    process::start(c)
}

async fn wait_exit(child: &mut Child) -> Option<i32> {
    for _ in 0..300 {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    panic!("did not exit within 15 s of SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_bounded_and_closed() {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let (mut child, url) = start(
        &sb.url(),
        Some(128),
        &[
            ("SNIPER_MAX_CONNECTIONS", "64"),
            ("SNIPER_IDLE_TIMEOUT", "1s"),
        ],
    );
    let addr = url.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let health = client.get(format!("{url}/health")).send().await;
    let code = health.map(|r| r.status().as_u16()).unwrap_or(0);
    assert_eq!(code, 200, "/health behind 300 idle connections");
    // Every idle connection is closed by the server: a read ends (EOF or reset) instead of
    // waiting.
    let mut closed = 0;
    for s in &mut idle {
        let mut buf = [0u8; 16];
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
            _ => {}
        }
    }
    assert_eq!(closed, idle.len(), "idle connections left open");
    let code = client
        .get(format!("{url}/health"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(code, 200);
    sigterm(&child);
    assert_eq!(wait_exit(&mut child).await, Some(0));
}

/// SIGTERM while a 4 s `/gpts` request and a `POST /api/run` (whose backend answers in 4 s) are
/// in flight: both complete with 200, then the process exits 0 (it used to cut them after 2 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_requests_in_flight() {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let (mut child, url) = start(
        &sb.url(),
        None,
        &[
            ("SNIPER_MODULE_TIMEOUT", "8s"),
            ("SNIPER_RUN_DEADLINE", "8s"),
        ],
    );
    let client = reqwest::Client::new();
    // The start-up run is over: nothing of the loop is in flight at SIGTERM.
    for _ in 0..100 {
        let r = client.get(format!("{url}/api/runs/latest")).send().await;
        if r.map(|r| r.status().as_u16() == 200).unwrap_or(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sb.state.set_fault(
        ModuleId::Bias,
        Fault {
            delay_ms: Some(4000),
            ..Fault::default()
        },
    );
    let gpts = tokio::spawn({
        let (client, url) = (client.clone(), url.clone());
        async move {
            let r = client
                .get(format!("{url}/gpts/institutional/bias?symbol=SOL"))
                .send()
                .await?;
            let code = r.status().as_u16();
            r.bytes().await.map(|_| code)
        }
    });
    let run = tokio::spawn({
        let (client, url) = (client.clone(), url.clone());
        async move {
            let r = client.post(format!("{url}/api/run")).send().await?;
            let code = r.status().as_u16();
            r.bytes().await.map(|b| (code, b))
        }
    });
    // Both requests have reached the backend.
    for _ in 0..100 {
        if sb.state.hits_for(ModuleId::Bias).len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(sb.state.hits_for(ModuleId::Bias).len() >= 3);
    sigterm(&child);
    let gpts = gpts.await.unwrap();
    assert_eq!(gpts.ok(), Some(200), "/gpts request cut by shutdown");
    let (code, body) = run.await.unwrap().expect("POST /api/run got an answer");
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["results"][0]["trigger"], "manual");
    assert_eq!(wait_exit(&mut child).await, Some(0));
}
