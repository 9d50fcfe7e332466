//! The pure core against the lead's sandbox over real HTTP on loopback: fetch the sandbox's own
//! `/openapi.json`, parse, match, fill, send, and assert on what the sandbox *received*.

use sniper::discovery::matcher::{MatchPrefs, match_all};
use sniper::discovery::openapi::{SpecLimits, parse_spec};
use sniper::discovery::template::FilledRequest;
use sniper::module_id::ModuleId;
use sniper::sandbox::{RouteDef, RouteParam, Sandbox, default_routes};

fn url_for(base: &str, f: &FilledRequest) -> url::Url {
    let mut u = url::Url::parse(base).unwrap();
    u.path_segments_mut().unwrap().clear().extend(&f.segments);
    if !f.query.is_empty() {
        u.query_pairs_mut().extend_pairs(&f.query);
    }
    u
}

fn param(name: &str, location: &str, required: bool, allowed: &[&str]) -> RouteParam {
    RouteParam {
        name: name.into(),
        location: location.into(),
        required,
        allowed: allowed.iter().map(|s| s.to_string()).collect(),
    }
}

/// Fetch, parse, match, fill and call every module; returns (module, status) per call.
async fn run_all(sb: &Sandbox) -> Vec<(ModuleId, u16)> {
    let client = reqwest::Client::new();
    let body = client
        .get(format!("{}/openapi.json", sb.url()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let spec = parse_spec(&body, &SpecLimits::default()).unwrap();
    let prefs = MatchPrefs::default();
    let report = match_all(&spec, &prefs);
    let mut out = Vec::new();
    for m in ModuleId::ALL {
        let t = report
            .chosen(m)
            .unwrap_or_else(|| panic!("{m}: nothing chosen"));
        let f = t.fill(&prefs.inputs_for(m)).unwrap();
        let status = client
            .get(url_for(&sb.url(), &f))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        out.push((m, status));
    }
    out
}

#[tokio::test]
async fn generated_build_receives_the_right_requests() {
    let sb = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let statuses = run_all(&sb).await;
    for (m, s) in &statuses {
        let want = if *m == ModuleId::Etf { 402 } else { 200 };
        assert_eq!(*s, want, "{m}");
    }
    let hit = |m: ModuleId| {
        let h = sb.state.hits_for(m);
        assert_eq!(h.len(), 1, "{m}: {h:?}");
        (h[0].path.clone(), h[0].query.clone().unwrap_or_default())
    };
    assert_eq!(
        hit(ModuleId::Heatmap),
        (
            "/advanced/liquidation/heatmap".into(),
            "symbol=SOL&timeframe=1h".into()
        )
    );
    assert_eq!(
        hit(ModuleId::SpotOb),
        (
            "/advanced/spot/orderbook".into(),
            "symbol=SOLUSDT&exchange=binance&depth=50".into()
        )
    );
    assert_eq!(
        hit(ModuleId::Etf),
        ("/advanced/etf/flows".into(), "asset=BTC".into())
    );
    assert_eq!(
        hit(ModuleId::WhaleAlerts),
        ("/advanced/whale/alerts".into(), String::new())
    );
    assert_eq!(
        hit(ModuleId::Bias),
        ("/institutional/bias".into(), "symbol=SOL".into())
    );
}

#[tokio::test]
async fn renamed_build_with_path_params_and_renamed_query_params() {
    let sb = Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut routes: Vec<RouteDef> = default_routes()
        .into_iter()
        .filter(|r| !matches!(r.module, ModuleId::SpotOb | ModuleId::Heatmap))
        .collect();
    routes.push(RouteDef {
        path: "/api/v2/orderbook/spot/{exchange}/{symbol}".into(),
        module: ModuleId::SpotOb,
        params: vec![
            param("exchange", "path", true, &[]),
            param("symbol", "path", true, &[]),
            param("limit", "query", false, &["20", "50", "100"]),
        ],
    });
    routes.push(RouteDef {
        path: "/api/v2/liquidations/heatmap".into(),
        module: ModuleId::Heatmap,
        params: vec![
            param("coin", "query", true, &[]),
            param("tf", "query", false, &["4h", "1h"]),
        ],
    });
    sb.state.set_routes(routes);
    let statuses = run_all(&sb).await;
    assert!(
        statuses
            .iter()
            .all(|(m, s)| *m == ModuleId::Etf || *s == 200),
        "{statuses:?}"
    );
    let ob = &sb.state.hits_for(ModuleId::SpotOb)[0];
    assert_eq!(ob.path, "/api/v2/orderbook/spot/binance/SOLUSDT");
    assert_eq!(ob.query.as_deref(), Some("limit=50"));
    let hm = &sb.state.hits_for(ModuleId::Heatmap)[0];
    assert_eq!(hm.path, "/api/v2/liquidations/heatmap");
    assert_eq!(hm.query.as_deref(), Some("coin=SOL&tf=1h"));
}
