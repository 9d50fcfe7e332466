//! The sandbox answers like the real backend, with usable data: one run for SOL and BTC with every
//! module on and ETF licensed has every module `ok` and every feature present, and the features
//! agree with the data that was served.

use crate::support as common;

use common::sandbox_runner;
use jiff::civil::Weekday;
use serde_json::Value;
use sniper::market::{MarketData, Side, features::instrument_matches};
use sniper::module_id::ModuleId;
use sniper::run::modules::Outcome;
use sniper::run::runner::RunResult;
use sniper::sandbox::{Sandbox, Shape};

fn assert_all_ok(r: &RunResult) {
    for m in ModuleId::ALL {
        assert!(
            matches!(r.context[&m].call.outcome, Outcome::Ok { .. }),
            "{} {m}: {:?}",
            r.symbols.input,
            r.context[&m].call.outcome
        );
    }
    assert!(r.soft_fails.is_empty(), "{:?}", r.soft_fails);
}

/// The raw body the sandbox serves for a module's recorded request (same path and query).
async fn served(sb: &Sandbox, m: ModuleId, query_has: &str) -> Value {
    let hit = sb
        .state
        .hits_for(m)
        .into_iter()
        .find(|h| h.query.as_deref().unwrap_or("").contains(query_has))
        .unwrap_or_else(|| panic!("no {m} request with {query_has}"));
    let url = match &hit.query {
        Some(q) => format!("{}{}?{q}", sb.url(), hit.path),
        None => format!("{}{}", sb.url(), hit.path),
    };
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("x-sandbox").map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
}

/// Every object served says it is sandbox data: the body, or each element of a top-level list.
fn says_sandbox(v: &Value) -> bool {
    match v {
        Value::Array(a) => !a.is_empty() && a.iter().all(|e| e["sandbox"] == true),
        other => other["sandbox"] == true,
    }
}

#[tokio::test]
async fn sol_and_btc_runs_have_every_module_ok_and_every_feature() {
    let (sb, runner) = sandbox_runner(&["--symbol", "SOL,BTC"]).await;
    sb.state.set_licensed(true);
    let results = runner.run_once().await;
    assert_eq!(results.len(), 2);
    for r in &results {
        assert_all_ok(r);
        let f = &r.features;
        let base = r.symbols.input.as_str();

        // Book: mid and the 1 % imbalance recomputed from the served levels.
        let Some(MarketData::OrderBook(book)) = r.market.get(&ModuleId::SpotOb) else {
            panic!("no book")
        };
        let bf = f.book.as_ref().expect("book feature");
        let (bb, ba) = (book.bids[0].price, book.asks[0].price);
        assert!(bb < ba, "{bb} {ba}");
        assert!((bf.mid - (bb + ba) / 2.0).abs() < 1e-9);
        assert_eq!(book.bids.len(), 50);
        assert_eq!(book.asks.len(), 50);
        assert_eq!(book.instrument.as_deref(), Some(r.symbols.spot.as_str()));
        assert_eq!(book.note, None, "served as asked");
        let lo = bf.mid * 0.99;
        let hi = bf.mid * 1.01;
        let bid: f64 = book
            .bids
            .iter()
            .filter(|l| l.price >= lo)
            .map(|l| l.price * l.size)
            .sum();
        let ask: f64 = book
            .asks
            .iter()
            .filter(|l| l.price <= hi)
            .map(|l| l.price * l.size)
            .sum();
        let band = bf.bands.iter().find(|b| b.pct == 1.0).expect("1 % band");
        let imb = band.imbalance.expect("imbalance");
        assert!((-1.0..=1.0).contains(&imb));
        assert!((imb - (bid - ask) / (bid + ask)).abs() < 1e-9);
        for b in &bf.bands {
            assert!(b.imbalance.is_some_and(|i| (-1.0..=1.0).contains(&i)));
        }

        // Liquidations: nearest clusters either side of the book's mid, from the served levels.
        let Some(MarketData::Liquidations(liq)) = r.market.get(&ModuleId::Heatmap) else {
            panic!("no liquidations")
        };
        let lf = f.liquidations.as_ref().expect("liquidation feature");
        assert_eq!(lf.mid, bf.mid);
        let above = lf.nearest_above.as_ref().expect("a cluster above");
        let below = lf.nearest_below.as_ref().expect("a cluster below");
        assert!(above.price >= lf.mid);
        assert!(below.price < lf.mid);
        let want_above = liq
            .levels
            .iter()
            .map(|l| l.price)
            .filter(|p| *p >= lf.mid)
            .fold(f64::INFINITY, f64::min);
        assert_eq!(above.price, want_above);
        assert!(liq.levels.iter().any(|l| l.side == Some(Side::Long)));
        assert!(liq.levels.iter().any(|l| l.side == Some(Side::Short)));
        assert!(
            liq.levels
                .iter()
                .filter(|l| l.side == Some(Side::Long))
                .all(|l| l.price < lf.mid),
            "longs are liquidated below the price"
        );

        // ETF: weekdays only, the features from those days.
        let Some(MarketData::EtfFlows(etf)) = r.market.get(&ModuleId::Etf) else {
            panic!("no etf")
        };
        let ef = f.etf.as_ref().expect("etf feature");
        assert!(etf.days.len() >= 15, "{}", etf.days.len());
        assert!(
            etf.days
                .iter()
                .all(|d| !matches!(d.date.weekday(), Weekday::Saturday | Weekday::Sunday)),
            "{:?}",
            etf.days
        );
        let last = etf.days.last().unwrap();
        assert_eq!(ef.latest_date, last.date.to_string());
        let sum7: f64 = etf.days.iter().rev().take(7).map(|d| d.net_flow_usd).sum();
        assert!((ef.sum_7d_usd - sum7).abs() < 1.0);
        assert!(ef.ratio_to_prior_7d_mean_abs.is_some());

        // Whales: the count of this symbol's alerts in the last hour of the served list.
        let Some(MarketData::WhaleAlerts(w)) = r.market.get(&ModuleId::WhaleAlerts) else {
            panic!("no whales")
        };
        assert!((3..=9).contains(&w.alerts.len()), "{}", w.alerts.len());
        let wf = f.whales.as_ref().expect("whale feature");
        let from = r.timestamp.as_millisecond() - 3_600_000;
        let mine: Vec<_> = w
            .alerts
            .iter()
            .filter(|a| a.time_ms >= from && instrument_matches(&a.instrument, base))
            .collect();
        assert_eq!(wf.count as usize, mine.len());
        let net: f64 = mine
            .iter()
            .map(|a| match a.side {
                Side::Long => a.notional_usd,
                Side::Short => -a.notional_usd,
            })
            .sum();
        assert!((wf.net_notional_usd - net).abs() < 1e-6);

        // Bias: as served.
        let Some(MarketData::Bias(b)) = r.market.get(&ModuleId::Bias) else {
            panic!("no bias")
        };
        let bias = f.bias.as_ref().expect("bias feature");
        assert_eq!(bias.direction, b.direction);
        assert!((-1.0..=1.0).contains(&bias.score));
    }

    // The raw bodies: the real backend's shapes, each object marked as sandbox data.
    let book = served(&sb, ModuleId::SpotOb, "SOLUSDT").await;
    assert!(says_sandbox(&book));
    assert_eq!(book["symbol"], "SOLUSDT");
    assert!(book["bids"][0].is_array() && book["timestamp"].is_string());
    let heat = served(&sb, ModuleId::Heatmap, "SOL").await;
    assert!(heat.is_array() && says_sandbox(&heat), "{heat}");
    assert!(heat[0]["price_level"].is_number() && heat[0]["liquidation_amount"].is_number());
    let whales = served(&sb, ModuleId::WhaleAlerts, "").await;
    assert!(whales.is_array() && says_sandbox(&whales), "{whales}");
    let n = whales.as_array().map_or(0, Vec::len);
    assert!((3..=9).contains(&n), "{n}");
    assert!(whales.as_array().unwrap().iter().all(|a| {
        a["timestamp"].as_str().is_some_and(|t| t.ends_with(" WIB"))
            && (500_000.0..=5_000_000.0).contains(&a["notional_value"].as_f64().unwrap_or(0.0))
    }));
    let etf = served(&sb, ModuleId::Etf, "asset=BTC").await;
    assert!(etf.is_array() && says_sandbox(&etf), "{etf}");
    assert!(etf.as_array().unwrap().iter().all(|d| {
        let f = d["flow_usd"].as_f64().unwrap_or(f64::NAN);
        (-500e6..=800e6).contains(&f)
    }));
    let bias = served(&sb, ModuleId::Bias, "SOL").await;
    assert!(
        says_sandbox(&bias) && bias["success"] == true && bias["bias"]["direction"].is_string()
    );
}

#[tokio::test]
async fn other_shapes_parse_too() {
    for (shape, exchange) in [
        (Shape::Coinglass, "binance"),
        (Shape::Exchange, "binance"),
        (Shape::Exchange, "okx"),
    ] {
        let (sb, runner) = sandbox_runner(&["--spot-ob-exchange", exchange]).await;
        sb.state.set_licensed(true);
        sb.state.set_shape(shape);
        let r = runner.run_once().await.remove(0);
        assert_all_ok(&r);
        let f = &r.features;
        assert!(
            f.book.is_some()
                && f.liquidations.is_some()
                && f.etf.is_some()
                && f.whales.is_some()
                && f.bias.is_some(),
            "{shape:?} {exchange}: {f:?}"
        );
        let heat = served(&sb, ModuleId::Heatmap, "").await;
        assert_eq!(heat["code"], "0", "{shape:?}");
        assert!(says_sandbox(&heat));
    }
}

#[tokio::test]
async fn shape_is_switchable_over_http() {
    let (sb, _runner) = sandbox_runner(&[]).await;
    let c = reqwest::Client::new();
    let url = format!("{}/__sandbox/shape", sb.url());
    let body = c.get(&url).send().await.unwrap().bytes().await.unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["shape"], "real");
    let resp = c
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"shape": "coinglass"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(sb.state.shape(), Shape::Coinglass);
    let bad = c
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"shape": "nope"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}
