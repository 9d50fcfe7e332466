//! Several symbols run concurrently; symbol-independent modules are fetched once per run.

use crate::support as common;

use common::sandbox_runner;
use sniper::module_id::ModuleId;

#[tokio::test]
async fn several_symbols_share_market_wide_modules() {
    let (sb, runner) = sandbox_runner(&["--symbol", "SOL,BTC,ETH"]).await;
    sb.state.set_licensed(true);
    let results = runner.run_once().await;
    assert_eq!(results.len(), 3);
    let inputs: Vec<&str> = results.iter().map(|r| r.symbols.input.as_str()).collect();
    assert_eq!(inputs, ["SOL", "BTC", "ETH"]);
    assert!(
        results
            .iter()
            .all(|r| r.success && r.used_modules.len() == 5)
    );
    assert_eq!(sb.state.hits_for(ModuleId::Etf).len(), 1);
    assert_eq!(sb.state.hits_for(ModuleId::WhaleAlerts).len(), 1);
    let mut hm: Vec<String> = sb
        .state
        .hits_for(ModuleId::Heatmap)
        .into_iter()
        .map(|h| h.query.unwrap_or_default())
        .collect();
    hm.sort();
    assert_eq!(
        hm,
        [
            "symbol=BTC&timeframe=1h",
            "symbol=ETH&timeframe=1h",
            "symbol=SOL&timeframe=1h"
        ]
    );
    let ob = sb.state.hits_for(ModuleId::SpotOb);
    assert!(
        ob.iter()
            .any(|h| h.query.as_deref() == Some("symbol=BTCUSDT&exchange=binance&depth=50"))
    );
}

#[tokio::test]
async fn glued_usdc_pairs_are_not_glued_again() {
    // The design built SOLUSDCUSDT.
    let (sb, runner) = sandbox_runner(&["--symbol", "SOLUSDC"]).await;
    let r = runner.run_once().await.remove(0);
    assert_eq!(r.symbols.spot, "SOLUSDC");
    assert_eq!(r.symbols.perp, "SOL-USDC-SWAP");
    let ob = sb.state.hits_for(ModuleId::SpotOb);
    assert_eq!(
        ob[0].query.as_deref(),
        Some("symbol=SOLUSDC&exchange=binance&depth=50")
    );
    assert!(
        !sb.state
            .hits()
            .iter()
            .any(|h| h.query.clone().unwrap_or_default().contains("USDCUSDT"))
    );
}

#[tokio::test]
async fn heatmap_symbol_form_is_configurable_on_default_shapes_too() {
    let (sb, runner) = sandbox_runner(&["--heatmap-symbol-form", "base"]).await;
    sb.state.set_spec(sniper::sandbox::SpecMode::Status(404));
    runner.run_once().await;
    let hm = sb.state.hits_for(ModuleId::Heatmap);
    assert_eq!(hm[0].query.as_deref(), Some("symbol=SOL&timeframe=1h"));
}
