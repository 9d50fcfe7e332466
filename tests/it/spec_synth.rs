//! Synthesized backend builds (as JSON): renamed routes and parameters, decoys, prefixes, Swagger 2,
//! `$ref`s and cycles, junk, hostile path keys. Asserts on the request sniper would send.

use serde_json::{Value, json};
use sniper::discovery::matcher::{DiscoveryReport, MatchPrefs, match_all};
use sniper::discovery::openapi::{ParamLocation, Spec, SpecLimits, SpecVersion, parse_spec};
use sniper::discovery::template::FilledRequest;
use sniper::module_id::ModuleId;

fn parse(doc: &Value) -> Spec {
    parse_spec(doc.to_string().as_bytes(), &SpecLimits::default()).unwrap()
}

fn report(doc: &Value) -> DiscoveryReport {
    match_all(&parse(doc), &MatchPrefs::default())
}

fn send(r: &DiscoveryReport, m: ModuleId) -> (String, FilledRequest) {
    let t = r
        .chosen(m)
        .unwrap_or_else(|| panic!("{m}: nothing chosen: {r:#?}"));
    (
        t.path.clone(),
        t.fill(&MatchPrefs::default().inputs_for(m)).unwrap(),
    )
}

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn get(params: Value) -> Value {
    json!({"get": {"parameters": params, "responses": {"200": {"description": "ok"}}}})
}

fn p(name: &str, loc: &str, required: bool, schema: Value) -> Value {
    json!({"name": name, "in": loc, "required": required, "schema": schema})
}

#[test]
fn renamed_routes_with_path_params_and_decoys() {
    let doc = json!({
        "openapi": "3.0.3",
        "paths": {
            "/api/v2/orderbook/spot/{exchange}/{symbol}": get(json!([
                p("exchange", "path", true, json!({"type": "string"})),
                p("symbol", "path", true, json!({"type": "string", "example": "BTCUSDT"})),
                p("limit", "query", false, json!({"type": "integer"})),
            ])),
            "/api/v2/orderbook/spot/test": get(json!([p("symbol", "query", false, json!({"type": "string"}))])),
            "/api/v2/orderbook/spot/subscribe": {"post": {"parameters": [p("symbol", "query", true, json!({"type": "string"}))]}},
            "/api/v2/spot/orderbook/debug/{symbol}": get(json!([p("symbol", "path", true, json!({"type": "string"}))])),
            "/docs/spot/orderbook/{symbol}": get(json!([p("symbol", "path", true, json!({"type": "string"}))])),
            "/api/v2/liq/heatmap/{coin}": get(json!([
                p("coin", "path", true, json!({"type": "string", "description": "Coin, e.g. BTC, ETH"})),
                p("tf", "query", false, json!({"type": "string", "enum": ["1h", "4h", "12h"]})),
            ])),
            "/api/v2/liq/heatmap/health": get(json!([])),
        }
    });
    let r = report(&doc);
    let (path, f) = send(&r, ModuleId::SpotOb);
    assert_eq!(path, "/api/v2/orderbook/spot/{exchange}/{symbol}");
    assert_eq!(
        f.segments,
        ["api", "v2", "orderbook", "spot", "binance", "SOLUSDT"]
    );
    assert_eq!(f.query, q(&[("limit", "50")]));
    let alts = &r.module(ModuleId::SpotOb).unwrap().alternatives;
    assert_eq!(alts.len(), 4, "{alts:#?}");
    assert!(alts.iter().all(|a| a.lost_because.is_some()));

    let (path, f) = send(&r, ModuleId::Heatmap);
    assert_eq!(path, "/api/v2/liq/heatmap/{coin}");
    assert_eq!(f.segments, ["api", "v2", "liq", "heatmap", "SOL"]);
    assert_eq!(f.query, q(&[("tf", "1h")]));
}

#[test]
fn renamed_params_are_sent_under_the_specs_names() {
    let doc = json!({
        "openapi": "3.1.0",
        "paths": {
            "/signals/liquidation-heatmap": get(json!([
                p("coin", "query", true, json!({"type": "string"})),
                p("interval", "query", false, json!({"type": ["string", "null"], "pattern": "^(15m|1h|4h)$"})),
            ])),
            "/signals/spot-orderbook": get(json!([
                p("instId", "query", true, json!({"type": "string"})),
                p("venue", "query", false, json!({"anyOf": [{"type": "string"}, {"type": "null"}]})),
                p("size", "query", false, json!({"type": "integer"})),
            ])),
            "/signals/whales/alerts": get(json!([p("ex", "query", false, json!({"type": "string"}))])),
            "/signals/etf/netflows": get(json!([
                p("ticker", "query", false, json!({"type": "string", "enum": ["BTC", "ETH"]})),
                p("days", "query", false, json!({"type": "integer"})),
            ])),
        }
    });
    let r = report(&doc);
    let (_, f) = send(&r, ModuleId::Heatmap);
    assert_eq!(f.query, q(&[("coin", "SOL"), ("interval", "1h")]));
    // instId is OKX's perpetual id: the swap form.
    let (_, f) = send(&r, ModuleId::SpotOb);
    assert_eq!(
        f.query,
        q(&[
            ("instId", "SOL-USDT-SWAP"),
            ("venue", "binance"),
            ("size", "50")
        ])
    );
    let (path, f) = send(&r, ModuleId::WhaleAlerts);
    assert_eq!(path, "/signals/whales/alerts");
    assert!(f.query.is_empty());
    let (_, f) = send(&r, ModuleId::Etf);
    assert_eq!(f.query, q(&[("ticker", "BTC")]));
}

#[test]
fn relative_server_prefix_is_honoured_absolute_is_not() {
    let doc = json!({
        "openapi": "3.0.0",
        "servers": [{"url": "https://prod.example.com/api"}, {"url": "/py/"}, {"url": "/other"}],
        "paths": {"/advanced/whale/alerts": get(json!([]))}
    });
    let spec = parse(&doc);
    assert_eq!(spec.prefix, "/py");
    assert!(
        spec.ignored
            .iter()
            .any(|i| i.what.contains("prod.example.com"))
    );
    assert!(spec.ignored.iter().any(|i| i.what.contains("/other")));
    let r = match_all(&spec, &MatchPrefs::default());
    let (path, f) = send(&r, ModuleId::WhaleAlerts);
    assert_eq!(path, "/py/advanced/whale/alerts");
    assert_eq!(f.segments, ["py", "advanced", "whale", "alerts"]);
}

#[test]
fn hostile_server_prefix_is_refused() {
    for url in ["//evil.example/x", "/a/../b", "/a/%2e%2e/b", "/x\\y"] {
        let doc = json!({"openapi": "3.0.0", "servers": [{"url": url}], "paths": {}});
        let spec = parse(&doc);
        assert_eq!(spec.prefix, "", "{url}");
        assert_eq!(spec.ignored.len(), 1, "{url}: {:?}", spec.ignored);
    }
}

#[test]
fn swagger2_base_path_and_params_on_the_parameter() {
    let doc = json!({
        "swagger": "2.0",
        "host": "prod.example.com",
        "basePath": "/v1",
        "parameters": {
            "Sym": {"name": "symbol", "in": "query", "required": true, "type": "string", "description": "Pair like SOLUSDT"}
        },
        "paths": {
            "/spot/orderbook": {"get": {"parameters": [
                {"$ref": "#/parameters/Sym"},
                {"name": "depth", "in": "query", "type": "integer", "enum": [20, 50, 100]},
                {"name": "body", "in": "body", "required": false, "schema": {"type": "object"}}
            ]}},
            "/liquidation/heatmap": {"get": {"parameters": [
                {"$ref": "#/parameters/Sym"},
                {"name": "timeframe", "in": "query", "type": "string", "enum": ["4h", "1d"]}
            ]}}
        }
    });
    let spec = parse(&doc);
    assert_eq!(spec.version, SpecVersion::Swagger2);
    assert_eq!(spec.prefix, "/v1");
    assert!(spec.ignored.iter().any(|i| i.what.contains("host")));
    let r = match_all(&spec, &MatchPrefs::default());
    let (path, f) = send(&r, ModuleId::SpotOb);
    assert_eq!(path, "/v1/spot/orderbook");
    assert_eq!(f.query, q(&[("symbol", "SOLUSDT"), ("depth", "50")]));
    // The only heatmap route does not accept 1h: disqualified with the reason, nothing chosen.
    let hm = r.module(ModuleId::Heatmap).unwrap();
    assert!(hm.chosen.is_none());
    let why = hm.alternatives[0].lost_because.as_deref().unwrap();
    assert!(why.contains("timeframe") && why.contains("4h"), "{why}");
}

#[test]
fn components_refs_path_item_refs_and_path_level_merge() {
    let doc = json!({
        "openapi": "3.1.0",
        "components": {
            "parameters": {
                "Symbol": {"$ref": "#/components/parameters/SymbolReal"},
                "SymbolReal": {"name": "symbol", "in": "query", "required": true, "schema": {"$ref": "#/components/schemas/Sym"}},
                "Tf": {"name": "timeframe", "in": "query", "schema": {"type": "string", "default": "4h"}}
            },
            "schemas": {"Sym": {"type": "string", "examples": ["SOL-USDT-SWAP"]}},
            "pathItems": {
                "Heat": {
                    "parameters": [{"$ref": "#/components/parameters/Tf"}, {"name": "exchange", "in": "query", "schema": {"type": "string"}}],
                    "get": {"operationId": "getLiquidationHeatmap", "parameters": [
                        {"$ref": "#/components/parameters/Symbol"},
                        {"name": "timeframe", "in": "query", "schema": {"type": "string", "enum": ["1h", "4h"]}}
                    ]}
                }
            }
        },
        "paths": {"/liquidation/heatmap": {"$ref": "#/components/pathItems/Heat"}}
    });
    let spec = parse(&doc);
    assert!(spec.ignored.is_empty(), "{:?}", spec.ignored);
    let op = &spec.operations[0];
    let names: Vec<&str> = op.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["exchange", "symbol", "timeframe"]);
    // The operation's own timeframe (with its enum) overrides the path-level one.
    let tf = op.params.iter().find(|p| p.name == "timeframe").unwrap();
    assert_eq!(tf.enum_values, ["1h", "4h"]);
    let r = match_all(&spec, &MatchPrefs::default());
    let (_, f) = send(&r, ModuleId::Heatmap);
    // examples say SOL-USDT-SWAP: the perp form.
    assert_eq!(
        f.query,
        q(&[("symbol", "SOL-USDT-SWAP"), ("timeframe", "1h")])
    );
}

#[test]
fn ref_cycles_are_bounded_and_reported() {
    let doc = json!({
        "openapi": "3.0.0",
        "components": {"parameters": {
            "A": {"$ref": "#/components/parameters/B"},
            "B": {"$ref": "#/components/parameters/A"},
            "Self": {"$ref": "#/components/parameters/Self"}
        }},
        "paths": {
            "/whale/alerts": {"get": {"parameters": [
                {"$ref": "#/components/parameters/A"},
                {"$ref": "#/components/parameters/Self"},
                {"$ref": "#/components/parameters/Missing"},
                {"$ref": "https://elsewhere.example/params.json#/X"}
            ]}},
            "/loop": {"$ref": "#/paths/~1loop"}
        }
    });
    let spec = parse(&doc);
    assert_eq!(spec.operations.len(), 1);
    assert!(spec.operations[0].params.is_empty());
    let whys: Vec<&str> = spec.ignored.iter().map(|i| i.why.as_str()).collect();
    assert_eq!(
        whys.iter().filter(|w| w.contains("cyclic")).count(),
        3,
        "{whys:?}"
    );
    assert!(whys.iter().any(|w| w.contains("dangling")));
    assert!(whys.iter().any(|w| w.contains("external")));
    assert!(report(&doc).chosen(ModuleId::WhaleAlerts).is_some());
}

#[test]
fn junk_is_skipped_not_fatal() {
    let doc = json!({
        "openapi": "3.0.0",
        "servers": "not an array",
        "x-whatever": {"deep": [1, 2, 3]},
        "paths": {
            "/a": "not an object",
            "/b": {"get": "not an object", "parameters": 7},
            "/c": {"get": {"parameters": [
                5, {"in": "query"}, {"name": "x", "in": "nowhere"},
                {"name": "symbol", "in": "query", "schema": "wrong", "required": "yes"}
            ], "tags": "nope", "operationId": 12}},
            "/institutional/bias": get(json!([p("symbol", "query", false, json!({"type": "string", "default": "BTC"}))])),
        }
    });
    let spec = parse(&doc);
    assert!(spec.ignored.len() >= 6, "{:?}", spec.ignored);
    let c = spec.operations.iter().find(|o| o.path == "/c").unwrap();
    assert_eq!(c.params.len(), 1);
    assert!(!c.params[0].required);
    assert!(c.operation_id.is_none());
    let r = match_all(&spec, &MatchPrefs::default());
    let (_, f) = send(&r, ModuleId::Bias);
    assert_eq!(f.query, q(&[("symbol", "SOL")]));
}

#[test]
fn missing_or_wrong_paths_yields_empty_spec() {
    for doc in [
        json!({"openapi": "3.0.0"}),
        json!({"openapi": "3.0.0", "paths": [1, 2]}),
    ] {
        let spec = parse(&doc);
        assert!(spec.operations.is_empty());
        assert_eq!(spec.ignored.len(), 1);
        let r = match_all(&spec, &MatchPrefs::default());
        assert!(r.modules.iter().all(|m| m.chosen.is_none()));
    }
}

#[test]
fn hostile_path_keys_are_ignored_and_reported() {
    let hostile = [
        "http://evil.example/liquidation/heatmap",
        "//evil.example/liquidation/heatmap",
        "/x/../liquidation/heatmap",
        "/x/%2E%2e/liquidation/heatmap",
        "/x/%2e./liquidation/heatmap",
        "/x\\liquidation/heatmap",
        "/x%2Fliquidation/heatmap",
        "/x%5cliquidation/heatmap",
    ];
    let mut paths = serde_json::Map::new();
    for h in hostile {
        paths.insert(
            h.into(),
            get(json!([p(
                "symbol",
                "query",
                true,
                json!({"type": "string"})
            )])),
        );
    }
    paths.insert(
        "/safe/liq/heatmap".into(),
        get(json!([p(
            "symbol",
            "query",
            true,
            json!({"type": "string"})
        )])),
    );
    let doc = json!({"openapi": "3.0.0", "paths": paths});
    let spec = parse(&doc);
    assert_eq!(spec.operations.len(), 1);
    assert_eq!(spec.ignored.len(), hostile.len(), "{:?}", spec.ignored);
    for h in hostile {
        assert!(
            spec.ignored.iter().any(|i| i.what == format!("path {h}")),
            "{h}"
        );
    }
    let r = match_all(&spec, &MatchPrefs::default());
    assert_eq!(
        r.chosen(ModuleId::Heatmap).unwrap().path,
        "/safe/liq/heatmap"
    );
}

#[test]
fn required_params_sniper_cannot_fill_disqualify() {
    let doc = json!({
        "openapi": "3.0.0",
        "paths": {
            "/premium/liquidation/heatmap": get(json!([
                p("symbol", "query", true, json!({"type": "string"})),
                p("api_key", "query", true, json!({"type": "string"})),
            ])),
            "/vip/liquidation/heatmap": get(json!([
                p("symbol", "query", true, json!({"type": "string"})),
                p("X-Token", "header", true, json!({"type": "string"})),
            ])),
            "/perp/liquidation/heatmap": get(json!([
                p("symbol", "query", true, json!({"type": "string", "enum": ["BTC-USDT-SWAP", "ETH-USDT-SWAP"]})),
            ])),
            "/sol/liquidation/heatmap": get(json!([])),
            "/liq/heatmap": get(json!([
                p("symbol", "query", true, json!({"type": "string"})),
                p("mode", "query", true, json!({"type": "string", "default": "full"})),
            ])),
        }
    });
    let r = report(&doc);
    let (path, f) = send(&r, ModuleId::Heatmap);
    assert_eq!(path, "/liq/heatmap");
    assert_eq!(f.query, q(&[("symbol", "SOL"), ("mode", "full")]));
    let alts = &r.module(ModuleId::Heatmap).unwrap().alternatives;
    let why = |path: &str| {
        alts.iter()
            .find(|a| a.template.path == path)
            .and_then(|a| a.lost_because.clone())
            .unwrap()
    };
    assert!(why("/premium/liquidation/heatmap").contains("api_key"));
    assert!(why("/vip/liquidation/heatmap").contains("x-token"));
    assert!(why("/perp/liquidation/heatmap").contains("SOL-USDT-SWAP"));
    assert!(why("/sol/liquidation/heatmap").contains("no symbol"));
}

#[test]
fn non_get_only_routes_choose_nothing() {
    let doc = json!({
        "openapi": "3.0.0",
        "paths": {"/whale/alerts": {"post": {"parameters": []}, "delete": {}}}
    });
    let r = report(&doc);
    let w = r.module(ModuleId::WhaleAlerts).unwrap();
    assert!(w.chosen.is_none());
    assert_eq!(w.alternatives.len(), 2);
    assert!(
        w.alternatives
            .iter()
            .all(|a| a.lost_because.as_deref().unwrap().contains("GET"))
    );
}

#[test]
fn path_params_are_always_required() {
    let doc = json!({"openapi": "3.0.0", "paths": {"/x/{symbol}": get(json!([
        p("symbol", "path", false, json!({"type": "string"}))
    ]))}});
    let spec = parse(&doc);
    assert_eq!(spec.operations[0].params[0].location, ParamLocation::Path);
    assert!(spec.operations[0].params[0].required);
}

#[test]
fn required_request_body_disqualifies_even_with_content_pruned() {
    let doc = json!({
        "openapi": "3.0.0",
        "components": {"requestBodies": {"B": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}}}},
        "paths": {
            "/whale/alerts": {"get": {"requestBody": {"$ref": "#/components/requestBodies/B"}}},
            "/whales/alerts/feed": {"get": {"requestBody": {"required": false, "content": {}}}}
        }
    });
    let spec = parse(&doc);
    let with_body = spec
        .operations
        .iter()
        .find(|o| o.path == "/whale/alerts")
        .unwrap();
    assert!(with_body.body_required);
    let r = match_all(&spec, &MatchPrefs::default());
    assert_eq!(
        r.chosen(ModuleId::WhaleAlerts).unwrap().path,
        "/whales/alerts/feed"
    );
    let lost = &r.module(ModuleId::WhaleAlerts).unwrap().alternatives[0];
    assert!(lost.lost_because.as_deref().unwrap().contains("body"));
}

#[test]
fn async_variant_loses_to_plain_but_is_used_alone() {
    let sym = || json!([p("symbol", "query", true, json!({"type": "string"}))]);
    let both = json!({"openapi": "3.0.0", "paths": {
        "/spot/orderbook-async": get(sym()),
        "/spot/orderbook": get(sym()),
    }});
    assert_eq!(
        report(&both).chosen(ModuleId::SpotOb).unwrap().path,
        "/spot/orderbook"
    );
    let alone = json!({"openapi": "3.0.0", "paths": {"/spot/orderbook-async": get(sym())}});
    assert_eq!(
        report(&alone).chosen(ModuleId::SpotOb).unwrap().path,
        "/spot/orderbook-async"
    );
}
