//! Every real backend spec in shared/fixtures/openapi, parsed and matched, with expectations written
//! by reading each document.

use sniper::discovery::matcher::{DiscoveryReport, MatchPrefs, match_all, render_report};
use sniper::discovery::openapi::{Spec, SpecLimits, parse_spec};
use sniper::discovery::template::{FilledRequest, Location, Role, SymbolForm};
use sniper::module_id::ModuleId;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/openapi");

fn fixture_dir() -> std::path::PathBuf {
    // The worktree lives at /work/wt/<name> and main at /work/main: both are two levels below
    // /work, next to /work/shared. CI clones main with shared/ beside it.
    let candidates = [
        std::path::PathBuf::from(DIR),
        std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/openapi"
        )),
    ];
    candidates
        .iter()
        .find(|p| p.is_dir())
        .cloned()
        .expect("shared/fixtures/openapi not found next to the crate")
}

fn load(name: &str) -> (Spec, DiscoveryReport) {
    let bytes = std::fs::read(fixture_dir().join(name)).unwrap();
    let spec = parse_spec(&bytes, &SpecLimits::default()).unwrap();
    let report = match_all(&spec, &MatchPrefs::default());
    (spec, report)
}

fn filled(r: &DiscoveryReport, m: ModuleId) -> (String, FilledRequest) {
    let t = r.chosen(m).unwrap_or_else(|| panic!("{m}: nothing chosen"));
    let f = t
        .fill(&MatchPrefs::default().inputs_for(m))
        .unwrap_or_else(|e| panic!("{m}: chosen template cannot be filled: {e}"));
    (t.path.clone(), f)
}

fn query<'a>(f: &'a FilledRequest, name: &str) -> Option<&'a str> {
    f.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// No filled request may carry a literal `{placeholder}` (the design's bug).
fn no_literal_placeholders(f: &FilledRequest) {
    for s in &f.segments {
        assert!(
            !s.contains('{') && !s.contains('}'),
            "literal placeholder in {s}"
        );
    }
}

#[test]
fn every_fixture_parses_and_every_chosen_request_fills() {
    let mut n = 0;
    for entry in std::fs::read_dir(fixture_dir()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let spec = parse_spec(&bytes, &SpecLimits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!spec.operations.is_empty(), "{}", path.display());
        let report = match_all(&spec, &MatchPrefs::default());
        for m in ModuleId::ALL {
            if let Some(t) = report.chosen(m) {
                assert_eq!(t.method, "GET");
                let f = t.fill(&MatchPrefs::default().inputs_for(m)).unwrap();
                no_literal_placeholders(&f);
            }
        }
        n += 1;
    }
    assert_eq!(n, 4, "expected the four fixtures");
}

#[test]
fn generated_spec_whale_and_etf() {
    let (spec, r) = load("rcz87-coinglass-system.openapi.json");
    assert!(spec.prefix.is_empty());
    let (path, f) = filled(&r, ModuleId::WhaleAlerts);
    assert_eq!(path, "/advanced/whale/alerts");
    let t = r.chosen(ModuleId::WhaleAlerts).unwrap();
    assert!(
        t.params
            .iter()
            .any(|p| p.name == "exchange" && p.role == Role::Exchange)
    );
    // No exchange preference: the backend's default (hyperliquid) is left alone.
    assert!(f.query.is_empty());

    let (path, f) = filled(&r, ModuleId::Etf);
    assert_eq!(path, "/advanced/etf/flows");
    assert_eq!(query(&f, "asset"), Some("BTC"));
    let alts = &r.module(ModuleId::Etf).unwrap().alternatives;
    assert!(alts.iter().all(|a| a.lost_because.is_some()));
}

#[test]
fn generated_spec_heatmap_fills_symbol_and_allowed_timeframe() {
    let (_, r) = load("rcz87-coinglass-system.openapi.json");
    let (path, f) = filled(&r, ModuleId::Heatmap);
    assert!(path.starts_with("/advanced/liquidation/heatmap"), "{path}");
    no_literal_placeholders(&f);
    // The symbol is really sent, in path or query.
    let sym_in_path = f.segments.last().map(String::as_str) == Some("SOL");
    assert!(sym_in_path || query(&f, "symbol") == Some("SOL"), "{f:?}");
    assert_eq!(query(&f, "timeframe"), Some("1h"));
    // Aliases are not sent twice.
    assert_eq!(query(&f, "tf"), None);
    assert_eq!(query(&f, "asset"), None);
}

#[test]
fn generated_spec_heatmap_path_variant_respects_pattern() {
    let (_, r) = load("rcz87-coinglass-system.openapi.json");
    let rep = r.module(ModuleId::Heatmap).unwrap();
    let variant = rep
        .alternatives
        .iter()
        .chain(rep.chosen.iter())
        .find(|c| c.template.path == "/advanced/liquidation/heatmap/{symbol}")
        .unwrap();
    let tf = variant
        .template
        .params
        .iter()
        .find(|p| p.name == "timeframe")
        .unwrap();
    assert_eq!(tf.pattern.as_deref(), Some("^(1h|4h|1d)$"));
    let mut inputs = MatchPrefs::default().inputs_for(ModuleId::Heatmap);
    inputs.timeframes = vec!["15m".into(), "4h".into()];
    let f = variant.template.fill(&inputs).unwrap();
    assert_eq!(f.segments, ["advanced", "liquidation", "heatmap", "SOL"]);
    assert_eq!(query(&f, "timeframe"), Some("4h"));
    inputs.timeframes = vec!["15m".into()];
    assert!(variant.template.fill(&inputs).is_err());
}

#[test]
fn generated_spec_spot_orderbook_is_real_route() {
    let (_, r) = load("rcz87-coinglass-system.openapi.json");
    let (path, f) = filled(&r, ModuleId::SpotOb);
    assert!(path.starts_with("/advanced/spot/orderbook"), "{path}");
    assert!(!path.contains("test") && !path.contains("async"), "{path}");
    let all = format!("{:?} {:?}", f.segments, f.query);
    assert!(all.contains("SOLUSDT"), "{all}");
    assert!(all.contains("binance"), "{all}");
    assert!(all.contains("50"), "{all}");
    let rep = r.module(ModuleId::SpotOb).unwrap();
    for decoy in [
        "/advanced/spot/orderbook-test",
        "/advanced/spot/orderbook-async",
    ] {
        let c = rep
            .alternatives
            .iter()
            .find(|c| c.template.path == decoy)
            .unwrap_or_else(|| panic!("{decoy} not among alternatives"));
        assert!(
            c.lost_because.as_deref().unwrap().contains("decoy"),
            "{c:?}"
        );
    }
}

#[test]
fn generated_spec_bias_takes_symbol_not_multi() {
    let (_, r) = load("rcz87-coinglass-system.openapi.json");
    let (path, f) = filled(&r, ModuleId::Bias);
    assert!(path.ends_with("/institutional/bias"), "{path}");
    assert_eq!(query(&f, "symbol"), Some("SOL"));
}

#[test]
fn hand_written_specs_ignore_production_servers_and_use_py_paths() {
    for name in [
        "rcz87-openapi-spec.json",
        "rcz87-openapi-compact-large.json",
    ] {
        let (spec, r) = load(name);
        assert!(spec.prefix.is_empty(), "{name}");
        assert!(
            spec.ignored
                .iter()
                .any(|i| i.what.contains("https://guardiansofthegreentoken.com")),
            "{name}: {:?}",
            spec.ignored
        );
        let (path, f) = filled(&r, ModuleId::Heatmap);
        assert_eq!(path, "/py/advanced/liquidation/heatmap/{symbol}");
        assert_eq!(
            f.segments,
            ["py", "advanced", "liquidation", "heatmap", "SOL"]
        );
        let t = r.chosen(ModuleId::SpotOb).unwrap();
        assert_eq!(t.path, "/py/advanced/spot/orderbook/{symbol}");
        // "e.g., BTC, ETH, SOL" in the description: the base form.
        let sym = t
            .params
            .iter()
            .find(|p| p.location == Location::Path)
            .unwrap();
        assert_eq!(sym.role, Role::Symbol(SymbolForm::Base));
        let f = t
            .fill(&MatchPrefs::default().inputs_for(ModuleId::SpotOb))
            .unwrap();
        assert_eq!(query(&f, "depth"), Some("50"));
        // GET /health's summary claims ETF flows; a health route is not a data source.
        assert!(r.chosen(ModuleId::Etf).is_none(), "{name}");
        assert!(r.chosen(ModuleId::WhaleAlerts).is_none(), "{name}");
        assert!(r.chosen(ModuleId::Bias).is_none(), "{name}");
    }
}

#[test]
fn hand_written_spot_depth_enum_refuses_unlisted_depth() {
    let (_, r) = load("rcz87-openapi-spec.json");
    let t = r.chosen(ModuleId::SpotOb).unwrap();
    let mut inputs = MatchPrefs::default().inputs_for(ModuleId::SpotOb);
    inputs.depth = Some(30);
    let e = t.fill(&inputs).unwrap_err();
    assert!(e.to_string().contains("depth"), "{e}");
}

#[test]
fn gpt_actions_spec_bias_only() {
    let (spec, r) = load("rcz87-gpt-actions.json");
    assert!(
        spec.ignored
            .iter()
            .any(|i| i.what.contains("https://guardiansofthetoken.com"))
    );
    let (path, f) = filled(&r, ModuleId::Bias);
    assert_eq!(path, "/gpts/institutional/bias");
    assert_eq!(query(&f, "symbol"), Some("SOL"));
    for m in [
        ModuleId::Etf,
        ModuleId::Heatmap,
        ModuleId::SpotOb,
        ModuleId::WhaleAlerts,
    ] {
        assert!(r.chosen(m).is_none(), "{m}");
    }
    // The POST whale route is listed and lost.
    let w = r.module(ModuleId::WhaleAlerts).unwrap();
    assert!(w.alternatives.iter().any(|a| a.template.method == "POST"));
}

#[test]
fn report_for_generated_spec_snapshot() {
    let (_, r) = load("rcz87-coinglass-system.openapi.json");
    insta::assert_snapshot!("generated_spec_report", render_report(&r));
}

#[test]
fn report_serializes_to_json() {
    let (_, r) = load("rcz87-coinglass-system.openapi.json");
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["modules"][0]["module"], "etf");
    assert_eq!(v["modules"][0]["chosen"]["template"]["source"], "spec");
}
