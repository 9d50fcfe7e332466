//! The design's checklist as integration tests, over real HTTP against the sandbox backend.

use crate::support as common;

use std::time::{Duration, Instant};

use common::sandbox_runner;
use sniper::module_id::ModuleId;
use sniper::run::modules::Outcome;
use sniper::sandbox::{Fault, RouteDef, SpecMode};

fn code(r: &sniper::run::runner::RunResult, m: ModuleId) -> Option<String> {
    match &r.context[&m].call.outcome {
        Outcome::SoftFail { code, .. } => Some(code.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn feature_etf_off_sends_no_etf_request() {
    let (sb, runner) = sandbox_runner(&["--feature-etf", "off"]).await;
    let r = runner.run_once().await.remove(0);
    assert!(r.success);
    assert_eq!(r.context[&ModuleId::Etf].call.outcome, Outcome::Disabled);
    assert!(!r.soft_fails.iter().any(|c| c.contains("ETF")));
    assert!(sb.state.hits_for(ModuleId::Etf).is_empty());
    assert_eq!(r.used_modules.len(), 4);
}

#[tokio::test]
async fn etf_402_soft_fails_and_opens_the_circuit() {
    let (sb, runner) = sandbox_runner(&[]).await;
    let r = runner.run_once().await.remove(0);
    assert!(r.success, "other modules carry the run");
    assert_eq!(
        code(&r, ModuleId::Etf).as_deref(),
        Some("ETF_PAYMENT_REQUIRED")
    );
    assert_eq!(sb.state.hits_for(ModuleId::Etf).len(), 1);
    let r2 = runner.run_once().await.remove(0);
    assert!(r2.success);
    assert_eq!(
        code(&r2, ModuleId::Etf).as_deref(),
        Some("ETF_CIRCUIT_OPEN")
    );
    assert_eq!(
        sb.state.hits_for(ModuleId::Etf).len(),
        1,
        "no ETF request while the circuit is open"
    );
}

#[tokio::test]
async fn licensed_etf_succeeds() {
    let (sb, runner) = sandbox_runner(&[]).await;
    sb.state.set_licensed(true);
    let r = runner.run_once().await.remove(0);
    assert_eq!(r.used_modules.len(), 5, "{:?}", r.errors);
    let hits = sb.state.hits_for(ModuleId::Etf);
    assert_eq!(hits[0].query.as_deref(), Some("asset=BTC&days=30"));
}

#[tokio::test]
async fn missing_heatmap_and_orderbook_routes_degrade() {
    let (sb, runner) = sandbox_runner(&[]).await;
    let routes = sniper::sandbox::default_routes()
        .into_iter()
        .filter(|r| !matches!(r.module, ModuleId::Heatmap | ModuleId::SpotOb))
        .collect::<Vec<RouteDef>>();
    sb.state.set_routes(routes);
    let r = runner.run_once().await.remove(0);
    assert!(r.success);
    assert_eq!(
        code(&r, ModuleId::Heatmap).as_deref(),
        Some("HEATMAP_NOT_AVAILABLE")
    );
    assert_eq!(
        code(&r, ModuleId::SpotOb).as_deref(),
        Some("SPOT_OB_NOT_AVAILABLE")
    );
    assert!(r.used_modules.contains(&ModuleId::Bias));
    // The design's three URL shapes were each probed once on 404, in order.
    let paths: Vec<String> = sb
        .state
        .hits()
        .iter()
        .filter(|h| h.path.contains("heatmap"))
        .map(|h| format!("{}?{}", h.path, h.query.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        paths,
        vec![
            "/advanced/liquidation/heatmap?symbol=SOL&timeframe=1h",
            "/advanced/liquidation/heatmap/SOL?timeframe=1h",
            "/advanced/liquidation/heatmap?asset=SOL&tf=1h",
        ]
    );
}

#[tokio::test]
async fn every_module_failing_is_a_failed_run() {
    let (sb, runner) = sandbox_runner(&[]).await;
    for m in ModuleId::ALL {
        sb.state.set_fault(
            m,
            Fault {
                status: Some(500),
                ..Fault::default()
            },
        );
    }
    let r = runner.run_once().await.remove(0);
    assert!(!r.success);
    assert!(r.used_modules.is_empty());
    assert_eq!(r.soft_fails.len(), 5);
}

#[tokio::test]
async fn a_hanging_module_does_not_stall_the_run() {
    let (sb, runner) = sandbox_runner(&["--module-timeout", "300ms", "--run-deadline", "2s"]).await;
    sb.state.set_fault(
        ModuleId::Heatmap,
        Fault {
            hang: true,
            ..Fault::default()
        },
    );
    let t0 = Instant::now();
    let r = runner.run_once().await.remove(0);
    // Bounded far above the module timeout only so a regression fails instead of hanging CI.
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(
        code(&r, ModuleId::Heatmap).as_deref(),
        Some("HEATMAP_TIMEOUT")
    );
    assert!(r.success);
    assert_eq!(r.used_modules.len(), 3, "{:?}", r.errors);
}

#[tokio::test]
async fn backend_down_gives_soft_fails() {
    let (sb, runner) = sandbox_runner(&[]).await;
    drop(sb);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = runner.run_once().await.remove(0);
    assert!(!r.success);
    for m in ModuleId::ALL {
        assert_eq!(
            code(&r, m),
            Some(format!("{}_UPSTREAM_UNREACHABLE", m.upper())),
            "{m}"
        );
    }
}

#[tokio::test]
async fn path_template_routes_get_the_real_symbol() {
    // A build that only has the path-template heatmap route: the design requested `{symbol}`.
    let (sb, runner) = sandbox_runner(&[]).await;
    let mut routes = sniper::sandbox::default_routes();
    for r in &mut routes {
        if r.module == ModuleId::Heatmap {
            r.path = "/advanced/liquidation/heatmap/{symbol}".into();
            r.params[0].location = "path".into();
        }
    }
    sb.state.set_routes(routes);
    let r = runner.run_once().await.remove(0);
    assert!(
        r.used_modules.contains(&ModuleId::Heatmap),
        "{:?}",
        r.errors
    );
    let hm = sb.state.hits_for(ModuleId::Heatmap);
    assert_eq!(hm.len(), 1);
    // The spec says nothing of the form: the heatmap's own default, the base form the real
    // backend documents ("e.g., BTC, ETH, SOL").
    assert_eq!(hm[0].path, "/advanced/liquidation/heatmap/SOL");
    assert!(
        !sb.state
            .hits()
            .iter()
            .any(|h| h.path.contains('{') || h.path.contains("%7B"))
    );
    match &r.context[&ModuleId::Heatmap].call.outcome {
        Outcome::Ok {
            data: sniper::market::MarketData::Liquidations(l),
        } => assert_eq!(l.symbol.as_deref(), Some("SOL")),
        o => panic!("{o:?}"),
    }
}

#[tokio::test]
async fn spec_is_cached_between_runs() {
    let (sb, runner) = sandbox_runner(&[]).await;
    for _ in 0..3 {
        runner.run_once().await;
    }
    assert_eq!(sb.state.spec_hits(), 1);
}

#[tokio::test]
async fn broken_spec_falls_back_to_defaults() {
    let (sb, runner) = sandbox_runner(&[]).await;
    sb.state.set_spec(SpecMode::Raw(
        bytes::Bytes::from_static(b"<html>oops</html>"),
        "text/html",
    ));
    let r = runner.run_once().await.remove(0);
    assert_eq!(r.used_modules.len(), 4, "{:?}", r.errors);
    sb.state.set_spec(SpecMode::Status(404));
    let (sb2, runner2) = sandbox_runner(&[]).await;
    sb2.state.set_spec(SpecMode::Status(404));
    let r = runner2.run_once().await.remove(0);
    assert_eq!(r.used_modules.len(), 4, "{:?}", r.errors);
}

#[tokio::test]
async fn result_json_keeps_the_design_fields() {
    let (_sb, runner) = sandbox_runner(&[]).await;
    let r = runner.run_once().await.remove(0);
    let v = serde_json::to_value(&r).unwrap();
    for k in [
        "success",
        "softFails",
        "usedModules",
        "context",
        "errors",
        "symbols",
        "timestamp",
    ] {
        assert!(v.get(k).is_some(), "{k} missing in {v}");
    }
    assert_eq!(v["symbols"]["spot"], "SOLUSDT");
    assert_eq!(v["symbols"]["perp"], "SOL-USDT-SWAP");
    assert_eq!(v["sandbox"], true);
    assert_eq!(v["context"]["etf"]["status"], "soft_fail");
    assert_eq!(v["context"]["etf"]["code"], "ETF_PAYMENT_REQUIRED");
    assert_eq!(v["context"]["heatmap"]["status"], "ok");
    assert!(v["context"]["heatmap"]["latency_ms"].is_u64());
    // The heatmap is asked in the base form (the spec says nothing; the real backend documents it).
    assert_eq!(v["context"]["heatmap"]["data"]["symbol"], "SOL");
}

/// A `sniper sandbox` reached through `PY_BASE_URL` (not `demo`): its answers say
/// `x-sandbox: true`, so the results say SANDBOX although nothing configured it — fake data is
/// never shown as real. A real backend (the same runner code, no header) stays unmarked.
#[tokio::test]
async fn a_sandbox_reached_by_url_is_still_labelled_sandbox() {
    let sb = sniper::sandbox::Sandbox::start(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let url = sb.url();
    let cfg = crate::support::config(&["--py-base-url", url.as_str(), "--symbol", "SOL"]);
    assert!(!cfg.sandbox, "nothing configured the sandbox");
    let runner = sniper::run::Runner::new(cfg, sniper::run::system_clock()).unwrap();
    let results = runner.run_once().await;
    assert!(results.iter().any(|r| r.success), "the sandbox answered");
    assert!(
        results.iter().all(|r| r.sandbox),
        "results not labelled SANDBOX"
    );
    let text = sniper::run::runner::summary(&results[0]);
    assert!(text.contains("SANDBOX"), "{text}");
}
