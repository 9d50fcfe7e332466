//! The binary: exit codes and messages.

use std::process::Command;

fn sniper() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sniper"));
    for (k, _) in std::env::vars() {
        if k.starts_with("FEATURE_") || k.starts_with("SNIPER_") || k == "PY_BASE_URL" {
            c.env_remove(k);
        }
    }
    c
}

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

#[test]
fn demo_runs_against_the_sandbox_and_says_so() {
    let out = sniper()
        .args(["demo", "--runs", "1", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(v["sandbox"], true);
    assert_eq!(v["success"], true);
    assert!(String::from_utf8_lossy(&out.stderr).contains("SANDBOX"));
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
