//! The binary: exit codes and messages.

use crate::support::process::{self, sniper};

#[test]
fn bad_environment_values_exit_2_naming_the_variable() {
    let cases = [
        ("FEATURE_ETF", "maybe"),
        ("FEATURE_HEATMAP", "yes"),
        ("FEATURE_SPOT_OB", ""),
        ("FEATURE_WHALE_ALERTS", "2"),
        ("FEATURE_BIAS", "disabled"),
        ("PY_BASE_URL", "ftp://x"),
        ("TRADING_TIMEZONE", "Mars/Olympus"),
        ("ACTIVE_TRADING_START", "25:00"),
        ("ACTIVE_TRADING_END", "7pm"),
        ("SNIPER_MODULE_TIMEOUT", "3"),
        ("SNIPER_RUN_DEADLINE", "fast"),
        ("SNIPER_SYMBOLS", "USDT"),
        ("SPOT_OB_DEPTH", "0"),
        ("HEATMAP_TIMEFRAME", "2h"),
    ];
    for (var, value) in cases {
        let out = sniper()
            .args(["once"])
            .env(var, value)
            .env(
                "PY_BASE_URL",
                if var == "PY_BASE_URL" {
                    value
                } else {
                    "http://127.0.0.1:9"
                },
            )
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {err}");
        assert!(err.contains(var), "{var}: {err}");
        assert!(err.contains("expected"), "{var}: {err}");
    }
}

#[test]
fn a_flag_beats_the_variable() {
    let out = sniper()
        .args(["once", "--feature-etf", "maybe"])
        .env("FEATURE_ETF", "on")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = sniper()
        .args([
            "once",
            "--py-base-url",
            "http://127.0.0.1:9",
            "--feature-etf",
            "off",
            "--json",
        ])
        .env("FEATURE_ETF", "bogus-but-overridden")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn backend_down_exits_1_with_json() {
    let out = sniper()
        .args(["once", "--json"])
        .env("PY_BASE_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["success"], false);
    assert_eq!(v["softFails"].as_array().unwrap().len(), 5);
}

/// Start a daemon command, return it with the base URL it printed.
fn start_daemon(args: &[&str], envs: &[(&str, &str)]) -> (process::Daemon, String) {
    let mut c = sniper();
    c.args(args).env("SNIPER_LISTEN", "127.0.0.1:0");
    for (k, v) in envs {
        c.env(k, v);
    }
    process::start(c)
}

fn get(url: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        match client.get(url).send().await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(_) => (0, String::new()),
        }
    })
}

fn sigterm_and_wait(mut child: process::Daemon) -> Option<i32> {
    process::sigterm(&child);
    process::wait_exit(&mut child, std::time::Duration::from_secs(5))
}

#[test]
fn demo_serves_the_sandbox_and_stops_on_sigterm() {
    let (child, url) = start_daemon(&["demo"], &[]);
    let mut body = String::new();
    for _ in 0..100 {
        let (code, b) = get(&format!("{url}/api/runs/latest"));
        if code == 200 {
            body = b;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let v: serde_json::Value = serde_json::from_str(&body).expect("a run result");
    assert_eq!(v["results"][0]["sandbox"], true);
    assert_eq!(v["results"][0]["success"], true);
    let (code, health) = get(&format!("{url}/health"));
    assert_eq!(code, 200, "{health}");
    let (code, metrics) = get(&format!("{url}/metrics"));
    assert_eq!(code, 200);
    assert!(metrics.contains("sniper_runs_total"), "{metrics}");
    let (code, page) = get(&format!("{url}/"));
    assert_eq!(code, 200);
    assert!(page.contains("<html"));
    // The gateway in the same listener reaches the (sandbox) backend with the prefix stripped.
    let (code, bias) = get(&format!("{url}/gpts/institutional/bias?symbol=ETH"));
    assert_eq!(code, 200, "{bias}");
    let bias: serde_json::Value = serde_json::from_str(&bias).unwrap();
    assert_eq!(bias["symbol"], "ETH");
    let (code, body) = get(&format!("{url}/gptsx/institutional/bias"));
    assert_eq!(code, 404);
    assert!(body.contains("not_found"), "{body}");
    assert_eq!(sigterm_and_wait(child), Some(0));
}

#[test]
fn help_documents_every_variable() {
    let out = sniper().args(["once", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "PY_BASE_URL",
        "FEATURE_ETF",
        "FEATURE_HEATMAP",
        "FEATURE_SPOT_OB",
        "FEATURE_WHALE_ALERTS",
        "FEATURE_BIAS",
        "TRADING_TIMEZONE",
        "ACTIVE_TRADING_START",
        "ACTIVE_TRADING_END",
        "SNIPER_SYMBOLS",
        "SNIPER_MODULE_TIMEOUT",
        "SNIPER_RUN_DEADLINE",
    ] {
        assert!(help.contains(var), "{var} missing from --help");
    }
}

#[test]
fn symbol_command_prints_one_line_and_rejects_junk() {
    let out = sniper()
        .args(["symbol", "SOL", "--venue", "okx", "--market", "perp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SOL-USDT-SWAP\n");
    let out = sniper()
        .args(["symbol", "SOLUSDC", "--venue", "binance"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SOLUSDC\n");
    for bad in ["USDT", "", "SOL$", "USDTUSDT"] {
        let out = sniper().args(["symbol", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(!out.stderr.is_empty());
    }
}

/// Commands that only read history never create a database: a mistyped `SNIPER_DB` is an error
/// naming the path (the file is still absent afterwards), not an empty "no runs" answer.
#[test]
fn reading_commands_refuse_a_missing_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.db");
    for cmd in [&["history"][..], &["signals"], &["score", "--json"]] {
        let out = sniper().args(cmd).env("SNIPER_DB", &typo).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{cmd:?}: {err}");
        assert!(err.contains("no state database"), "{cmd:?}: {err}");
        assert!(err.contains("typo.db"), "{cmd:?}: {err}");
        assert!(!typo.exists(), "{cmd:?} created the file");
    }
}
