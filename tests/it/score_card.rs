//! The scorecard (issue 23) end to end: a synthetic path with a known edge, the SQLite file store
//! (price path recorded from runs, calls graded by the engine, `sniper score --json`), the
//! PostgreSQL price path (when `SNIPER_TEST_PG_URL` is set), the binary with `--calls/--prices`
//! files (exit 2 naming line and column), the track record in a delivered call, `/api/scorecard`
//! over loopback HTTP, and replay of two rule sets side by side (snapshot).

use crate::support as common;

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::Value;
use sniper::market::{
    BiasFeatures, BookFeatures, Cluster, Direction, LiqFeatures, SymbolFeatures, WhaleFeatures,
};
use sniper::run::runner::{RunResult, Symbols};
use sniper::score::cli::{ScoreArgs, ScoreOpts};
use sniper::score::{OneSeries, Options, Point, ScoreCall, Side, parse_horizons, score_all};
use sniper::signals::{Rules, SignalEngine};
use sniper::store::{AsyncStore, PricePoint, SqliteStore, StateStore};

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Uniform in [0, 1) from a seed and an index.
fn unif(seed: u64, i: u64) -> f64 {
    (splitmix(seed ^ i.wrapping_mul(0x2545_f491_4f6c_dd1d)) >> 11) as f64 / (1u64 << 53) as f64
}

/// A random walk of 5-second mids: ±`step_bps` each step.
fn walk(n: usize, t0: i64, seed: u64, step_bps: f64) -> Vec<Point> {
    let mut p = 100.0;
    (0..n)
        .map(|i| {
            let up = unif(seed, i as u64) < 0.5;
            p *= 1.0 + if up { step_bps } else { -step_bps } / 1e4;
            Point::mid(t0 + i as i64 * 5000, p, Some(2.0))
        })
        .collect()
}

fn sc(at_ms: i64, side: Side, level: &str) -> ScoreCall {
    ScoreCall {
        at_ms,
        symbol: "SYN".into(),
        side,
        level: Some(level.into()),
        score: Some(60),
        agreeing: vec![],
        rules: None,
    }
}

#[test]
fn known_edge_scores_inside_its_interval_and_random_covers_chance() {
    // 20 days of 5-second mids; a call every 10 minutes after the first hour.
    let pts = walk(20 * 17_280, 0, 42, 3.0);
    let as_of = pts.last().unwrap().at_ms;
    let h = 3_600_000;
    let mut calls = Vec::new();
    let mut edge_sides = 0u64;
    for (k, at) in (1..2800).map(|k| (k as u64, 3_600_000 + k as i64 * 600_000)) {
        // The "edge" signal knows the next hour's sign and tells it 65 % of the time.
        let now = sniper::score::at_or_before(&pts, at).unwrap().price;
        let later = sniper::score::at_or_before(&pts, at + h).unwrap().price;
        let truth = if later > now { Side::Long } else { Side::Short };
        let right = unif(7, k) < 0.65;
        edge_sides += u64::from(right);
        let side = match (truth, right) {
            (s, true) => s,
            (Side::Long, false) => Side::Short,
            (Side::Short, false) => Side::Long,
        };
        calls.push(sc(at, side, "edge"));
        // The "random" signal: a fair coin, independent of the path. (Seeds are fixed, so the
        // check is deterministic; the property itself holds 95 % of the time.)
        let coin = if unif(5, k) < 0.5 {
            Side::Long
        } else {
            Side::Short
        };
        calls.push(sc(at, coin, "coin"));
    }
    let opts = Options {
        horizons: parse_horizons("h", "1h").unwrap(),
        cost_bps: Some(0.0),
        max_gap_ms: None,
        as_of_ms: as_of,
        seed: 3,
    };
    let card = score_all(OneSeries(pts), opts, &mut calls).unwrap();
    let edge = &card.group("level_direction", "edge long").unwrap().horizons["1h"];
    let edge_s = &card
        .group("level_direction", "edge short")
        .unwrap()
        .horizons["1h"];
    let n = edge.n + edge_s.n;
    let hits = edge.hits + edge_s.hits;
    // Flat hours (exit = entry) are no hit for either side: the edge is at most the coin's 65 %.
    let [lo, hi] = sniper::score::wilson95(hits, n).unwrap();
    let true_rate = edge_sides as f64 / 2799.0;
    assert!(
        lo <= 0.65 && 0.65 <= hi + 0.02,
        "edge {hits}/{n}: [{lo}, {hi}]"
    );
    assert!(
        lo > 0.55,
        "the edge is detected against chance: [{lo}, {hi}]"
    );
    assert!((true_rate - 0.65).abs() < 0.03);
    // The coin: its interval covers what chance gives at the same times.
    let coin_n = ["coin long", "coin short"]
        .iter()
        .map(|k| card.group("level_direction", k).unwrap().horizons["1h"].clone())
        .fold((0, 0), |(h, n), s| (h + s.hits, n + s.n));
    let [clo, chi] = sniper::score::wilson95(coin_n.0, coin_n.1).unwrap();
    let chance = card.baseline.random["1h"].hit_rate.unwrap();
    assert!(
        clo <= chance && chance <= chi,
        "coin [{clo}, {chi}] vs chance {chance}"
    );
    assert!(chi < lo, "the coin's interval lies below the edge's");
    assert_eq!(card.overall["1h"].pending + card.overall["1h"].gaps, 0);
}

fn ago(s: i64) -> Timestamp {
    Timestamp::now() - jiff::SignedDuration::from_secs(s)
}

fn book(mid: f64) -> BookFeatures {
    BookFeatures {
        mid,
        spread_bps: 2.0,
        bands: vec![],
        reach_pct: None,
        bid_wall: None,
        ask_wall: None,
        venue: None,
        note: None,
    }
}

fn result(symbol: &str, at: Timestamp, f: SymbolFeatures, sandbox: bool) -> RunResult {
    RunResult {
        success: true,
        soft_fails: vec![],
        used_modules: vec![],
        context: BTreeMap::new(),
        errors: vec![],
        symbols: Symbols {
            input: symbol.into(),
            spot: format!("{symbol}USDT"),
            perp: format!("{symbol}-USDT-SWAP"),
        },
        timestamp: at,
        duration_ms: 1,
        sandbox,
        features: f,
        market: BTreeMap::new(),
        backend: "http://127.0.0.1:8000".into(),
        trigger: sniper::run::Trigger::Schedule,
    }
}

/// Bias and whales both long: a watch long call (two agreeing layers).
fn long_feats(mid: f64) -> SymbolFeatures {
    SymbolFeatures {
        book: Some(book(mid)),
        bias: Some(BiasFeatures {
            direction: Direction::Neutral,
            score: 0.3,
            confidence: None,
        }),
        whales: Some(WhaleFeatures {
            window_secs: 3600,
            count: 3,
            net_notional_usd: 2e6,
            largest: None,
        }),
        ..Default::default()
    }
}

/// A day-old path of one-minute mids for `sym`, rising 1 bp a minute, and 40 long calls graded
/// by the engine every 20 minutes (one price point per run recorded by `record_prices`).
async fn seed_sqlite(st: &AsyncStore, engine: &SignalEngine) {
    // One "now", whole seconds: the points are exactly a minute apart.
    let t0 = Timestamp::from_second(Timestamp::now().as_second() - 26 * 3600).unwrap();
    let mut runs = Vec::new();
    for m in 0..(24 * 60) {
        let at = t0 + jiff::SignedDuration::from_secs(m * 60);
        let mid = 100.0 * (1.0 + m as f64 * 1e-4);
        runs.push(result("SOL", at, long_feats(mid), false));
    }
    // Every minute's book is on the path (what the daemon records after each run).
    sniper::score::record::record_prices(st, &runs).await;
    for r in runs.iter().step_by(20).take(40) {
        engine.after_run(std::slice::from_ref(r)).await;
    }
}

#[tokio::test]
async fn sqlite_file_store_records_the_path_and_scores_the_engine_calls() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let st = AsyncStore::new(Arc::new(SqliteStore::open(db.to_str().unwrap()).unwrap()));
    let engine = SignalEngine::new(Rules::default(), vec![], st.clone(), None)
        .await
        .unwrap();
    seed_sqlite(&st, &engine).await;
    assert_eq!(st.price_symbols().await.unwrap(), vec!["SOL".to_string()]);
    drop(engine);
    drop(st);
    let mut out = Vec::new();
    let args = ScoreArgs {
        since: Some("30d".into()),
        json: true,
        opts: ScoreOpts {
            horizons: Some("5m,1h".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    sniper::score::cli::score(db.to_str().unwrap(), &args, &mut out).unwrap();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    let o = &doc["overall"]["1h"];
    for k in [
        "n",
        "hits",
        "hit_rate",
        "ci95",
        "mean_bps",
        "median_bps",
        "mfe_bps",
        "mae_bps",
        "pending",
        "gaps",
    ] {
        assert!(o.get(k).is_some(), "overall.1h.{k} missing: {o}");
    }
    assert_eq!(o["n"], 40);
    // +60 bps an hour against a 1 bp cost (half the 2 bps spread): every long is a hit.
    assert_eq!(o["hits"], 40);
    // Call k at minute 20k: exit/entry − 1 = 60e-4 / (1 + 20k·1e-4).
    let want = (0..40)
        .map(|k| 60.0 / (1.0 + 20.0 * k as f64 * 1e-4))
        .sum::<f64>()
        / 40.0;
    assert!(
        (o["mean_bps"].as_f64().unwrap() - want).abs() < 1e-6,
        "{o} vs {want}"
    );
    assert_eq!(o["mae_bps"], 0.0, "a rising path has no adverse excursion");
    assert!(o["ci95"][0].as_f64().unwrap() > 0.9);
    assert_eq!(doc["overall"]["5m"]["n"], 40);
    let groups = doc["groups"].as_array().unwrap();
    let keys: Vec<&str> = groups.iter().map(|g| g["key"].as_str().unwrap()).collect();
    assert!(keys.contains(&"watch long") && keys.contains(&"SOL") && keys.contains(&"bias"));
    assert_eq!(doc["baseline"]["long"]["1h"]["hits"], 40);
    assert_eq!(doc["sandbox"], false);
}

#[tokio::test]
async fn delivered_call_carries_its_kinds_track_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let st = AsyncStore::new(Arc::new(SqliteStore::open(db.to_str().unwrap()).unwrap()));
    let metrics = sniper::obs::metrics::Metrics::new();
    let engine = SignalEngine::new(
        Rules::default(),
        vec!["webhook"],
        st.clone(),
        Some(metrics.clone()),
    )
    .await
    .unwrap();
    seed_sqlite(&st, &engine).await;
    let rows = st.outbox().await.unwrap();
    let first = &rows[0].body;
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .contains("track record: no track record yet (0 calls)"),
        "{first}"
    );
    // A new call now: 40 earlier watch longs resolved at 1 h.
    engine
        .after_run(&[result("SOL", ago(60), long_feats(120.0), false)])
        .await;
    let rows = st.outbox().await.unwrap();
    let last = &rows.last().unwrap().body;
    let tr = &last["track_record"];
    assert_eq!(tr["kind"], "watch long");
    assert_eq!(tr["n"], 40);
    assert_eq!(tr["hit_rate"], 1.0);
    let text = last["text"].as_str().unwrap();
    assert!(
        text.contains("track record: long watch: 100 % of 40 up after 1 h (95 % 91–100 %; chance"),
        "{text}"
    );
    // The same scorecard feeds the Prometheus gauges per level, direction and horizon.
    let m = metrics.encode();
    let line = |name: &str| {
        m.lines()
            .find(|l| {
                l.starts_with(&format!(
                    "{name}{{level=\"watch\",direction=\"long\",horizon=\"1h\"}}"
                ))
            })
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
    };
    assert_eq!(line("sniper_score_hit_rate"), Some(1.0), "{m}");
    assert_eq!(line("sniper_score_resolved"), Some(40.0), "{m}");
    assert!(line("sniper_score_ci95_low").unwrap() > 0.9);
}

#[test]
fn postgres_price_path_scores_file_calls() {
    let Some(url) = std::env::var("SNIPER_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("SNIPER_TEST_PG_URL unset: skipping the PostgreSQL price path");
        return;
    };
    let pg = sniper::store::postgres::PgStore::open(&url, "score-test").unwrap();
    let sym = format!("T{}", std::process::id());
    let t0 = Timestamp::now().as_millisecond() - 3 * 3_600_000;
    let pts: Vec<PricePoint> = (0..120)
        .map(|i| PricePoint {
            at_ms: t0 + i * 60_000,
            mid: 100.0 - i as f64 * 0.01,
            spread_bps: Some(1.0),
        })
        .collect();
    pg.save_prices(&sym, &pts).unwrap();
    let mut calls: Vec<ScoreCall> = (0..10)
        .map(|i| ScoreCall {
            symbol: sym.clone(),
            ..sc(t0 + i * 60_000, Side::Short, "action")
        })
        .collect();
    let opts = ScoreOpts {
        horizons: Some("15m,1h".into()),
        ..Default::default()
    }
    .options(Timestamp::now().as_millisecond())
    .unwrap();
    let card = score_all(sniper::score::StorePrices(&pg), opts, &mut calls).unwrap();
    assert_eq!(card.overall["15m"].n, 10);
    assert_eq!(card.overall["15m"].hits, 10);
    pg.prune_prices(t0 + 1).unwrap();
}

fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_sniper"))
}

#[test]
fn binary_scores_files_and_refuses_bad_ones_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("c.jsonl");
    let prices = dir.path().join("p.csv");
    // Hourly candles (ccxt export): open_time ms; the close is known one hour later.
    let mut csv = String::from("open_time,open,high,low,close,volume\n");
    for i in 0..48i64 {
        let o = 100.0 + i as f64;
        csv.push_str(&format!(
            "{},{o},{},{},{},10\n",
            1_767_225_600_000 + i * 3_600_000,
            o + 2.0,
            o - 0.5,
            o + 1.0
        ));
    }
    std::fs::write(&prices, csv).unwrap();
    std::fs::write(
        &calls,
        "{\"at\":\"2026-01-01T05:00:00Z\",\"symbol\":\"BTC\",\"direction\":\"long\",\"level\":\"action\"}\n\
         {\"at\":1767247200000,\"symbol\":\"BTC\",\"direction\":\"short\"}\n\
         {\"at\":1767247200000,\"symbol\":\"ETH\",\"direction\":\"long\"}\n",
    )
    .unwrap();
    let out = bin()
        .args([
            "score",
            "--json",
            "--symbol",
            "BTC",
            "--horizons",
            "1h,4h",
            "--cost-bps",
            "0",
        ])
        .arg("--calls")
        .arg(&calls)
        .arg("--prices")
        .arg(&prices)
        .env("SNIPER_DB", dir.path().join("unused.db"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["skipped"], 1);
    assert_eq!(doc["overall"]["1h"]["n"], 2);
    assert_eq!(
        doc["overall"]["1h"]["hits"], 1,
        "the long wins, the short loses"
    );
    // Text form too.
    let out = bin()
        .args(["score", "--horizons", "1h"])
        .arg("--calls")
        .arg(&calls)
        .arg("--prices")
        .arg(&prices)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("(< 30 resolved)"));
    // Bad files and flags: exit 2, the message names line and column / the flag.
    std::fs::write(dir.path().join("bad.csv"), "time,price\n10,1\n10,2\n").unwrap();
    std::fs::write(
        dir.path().join("bad.jsonl"),
        "{\"at\":1,\"symbol\":\"B\",\"direction\":\"long\"}\n{\"at\":1,\"symbol\":\"B\",\"direction\":\"sideways\"}\n",
    )
    .unwrap();
    for (args, want) in [
        (
            vec!["--prices", "bad.csv", "--calls", "c.jsonl"],
            "bad.csv:3: column time",
        ),
        (
            vec!["--calls", "bad.jsonl", "--prices", "p.csv"],
            "bad.jsonl:2: column direction",
        ),
        (
            vec![
                "--horizons",
                "5m,soon",
                "--calls",
                "c.jsonl",
                "--prices",
                "p.csv",
            ],
            "--horizons",
        ),
        (
            vec!["--cost-bps=-1", "--calls", "c.jsonl", "--prices", "p.csv"],
            "--cost-bps",
        ),
    ] {
        let out = bin()
            .arg("score")
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// A liquidation cluster 40 bps above the mid with $2 M: resistance reads short, magnet long.
fn liq_feats(mid: f64) -> SymbolFeatures {
    SymbolFeatures {
        book: Some(book(mid)),
        liquidations: Some(LiqFeatures {
            mid,
            nearest_above: Some(Cluster {
                price: mid * 1.004,
                notional_usd: 2e6,
                distance_bps: 40.0,
            }),
            nearest_below: None,
            within_1pct_usd: 2e6,
            within_2pct_usd: 2e6,
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn replay_scores_resistance_and_magnet_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let st = AsyncStore::new(Arc::new(SqliteStore::open(db.to_str().unwrap()).unwrap()));
    let engine = SignalEngine::new(Rules::default(), vec![], st.clone(), None)
        .await
        .unwrap();
    // The price is drawn up to the cluster: one-minute mids rising 0.5 bp a minute over a day,
    // with a dip every 7th minute.
    let t0 = Timestamp::from_second(Timestamp::now().as_second() - 26 * 3600).unwrap();
    let mut runs = Vec::new();
    for m in 0..(24 * 60) {
        let mid = 100.0 * (1.0 + m as f64 * 5e-5) * if m % 7 == 0 { 0.999 } else { 1.0 };
        let at = t0 + jiff::SignedDuration::from_secs(m * 60);
        runs.push(result("BTC", at, liq_feats(mid), true));
    }
    sniper::score::record::record_prices(&st, &runs).await;
    for r in runs.iter().step_by(15).take(60) {
        engine.after_run(std::slice::from_ref(r)).await;
    }
    drop(engine);
    drop(st);
    let res = dir.path().join("resistance.toml");
    let mag = dir.path().join("magnet.toml");
    // One agreeing layer is enough for a watch call in both sets.
    let common = "[confluence]\nwatch_min_agree = 1\naction_min_agree = 1\n";
    std::fs::write(
        &res,
        format!("{common}[liquidations]\nreading = \"resistance\"\n"),
    )
    .unwrap();
    std::fs::write(
        &mag,
        format!("{common}[liquidations]\nreading = \"magnet\"\n"),
    )
    .unwrap();
    let mut out = Vec::new();
    sniper::signals::cli::replay(
        db.to_str().unwrap(),
        &sniper::signals::cli::ReplayArgs {
            rules: vec![res.to_str().unwrap().into(), mag.to_str().unwrap().into()],
            symbol: None,
            since: None,
            json: false,
            score: ScoreOpts {
                horizons: Some("15m,1h".into()),
                cost_bps: Some("0".into()),
                ..Default::default()
            },
        },
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    insta::assert_snapshot!(text);
}

#[tokio::test]
async fn api_scorecard_over_loopback_http() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let st = AsyncStore::new(Arc::new(SqliteStore::open(db.to_str().unwrap()).unwrap()));
    let engine = SignalEngine::new(Rules::default(), vec![], st.clone(), None)
        .await
        .unwrap();
    seed_sqlite(&st, &engine).await;
    let app = sniper::signals::api::routes(engine.clone(), st.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let c = reqwest::Client::new();
    let doc = c
        .get(format!("http://{addr}/api/scorecard?horizon=1h"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["overall"]["1h"]["n"], 40);
    let chart = &doc["chart"]["symbols"][0];
    assert_eq!(chart["symbol"], "SOL");
    // The last 24 h of the path: ≤ 720 points, the calls of those 24 h marked won.
    let n = chart["prices"].as_array().unwrap().len();
    assert!(n > 300 && n <= 720, "{n}");
    let calls = chart["calls"].as_array().unwrap();
    assert!(!calls.is_empty());
    assert!(calls.iter().all(|c| c["outcome"] == "won"), "{calls:?}");
    let r = c
        .get(format!("http://{addr}/api/scorecard?horizon=2h"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(e["param"], "horizon");
}

/// The status page in headless Chromium draws each symbol's price line and the calls' markers
/// from `/api/scorecard`, and the scorecard table. Skipped (with a message) without Chromium,
/// unless `SNIPER_REQUIRE_BROWSER=1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_draws_price_line_and_markers_in_chromium() {
    let Some(chromium) = crate::support::browser::chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let st = AsyncStore::new(Arc::new(SqliteStore::open(db.to_str().unwrap()).unwrap()));
    let engine = SignalEngine::new(Rules::default(), vec![], st.clone(), None)
        .await
        .unwrap();
    seed_sqlite(&st, &engine).await;
    let app = sniper::daemon::status::routes(st.clone())
        .merge(sniper::signals::api::routes(engine.clone(), st.clone()));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let args = vec!["--dump-dom".to_string(), format!("http://{addr}/")];
    let out = tokio::task::spawn_blocking(move || {
        crate::support::browser::run_chromium(&chromium, &args)
    })
    .await
    .unwrap();
    server.abort();
    let dom = String::from_utf8_lossy(&out.stdout);
    if let Some(d) = std::env::var_os("SNIPER_BROWSER_OUT") {
        std::fs::write(
            std::path::Path::new(&d).join("score_dom.html"),
            dom.as_bytes(),
        )
        .unwrap();
    }
    assert!(
        dom.contains("id=\"scorecard\" data-loaded=\"true\""),
        "scorecard block never loaded: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = dom
        .split("class=\"chart scoreline\"")
        .nth(1)
        .expect("a price line svg");
    assert!(line.contains("data-symbol=\"SOL\""));
    assert!(line.contains("<polyline class=\"priceline\""));
    // The seeded calls of the last 24 h all won at 1 h: green markers, none lost.
    let won = dom.matches("class=\"mark won\"").count();
    assert!(won >= 10, "{won} won markers");
    assert_eq!(dom.matches("class=\"mark lost\"").count(), 0);
    assert!(
        dom.contains("data-key=\"watch long\""),
        "scorecard table row"
    );
    assert!(dom.contains("100 % (91 %–100 %)"), "interval shown");
}

/// A call's track record is scored as known at its run: prices recorded after the run (a later
/// crash, a spike) change nothing in it.
#[tokio::test]
async fn track_record_sees_nothing_after_the_run() {
    let mut cards = Vec::new();
    for spike in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let st = AsyncStore::new(Arc::new(
            SqliteStore::open(dir.path().join("x.db").to_str().unwrap()).unwrap(),
        ));
        let engine = SignalEngine::new(Rules::default(), vec![], st.clone(), None)
            .await
            .unwrap();
        seed_sqlite(&st, &engine).await;
        // 30 min after the last seeded call (minute 780 of the path): the later calls' horizons
        // reach past the run.
        let at =
            Timestamp::from_second(Timestamp::now().as_second() - 26 * 3600 + 810 * 60).unwrap();
        if spike {
            // After the run at `at`: the path crashes by half.
            let pts: Vec<PricePoint> = (1..200)
                .map(|i| PricePoint {
                    at_ms: at.as_millisecond() + i * 30_000,
                    mid: 50.0,
                    spread_bps: Some(2.0),
                })
                .collect();
            st.save_prices("SOL".into(), pts).await.unwrap();
        }
        let card = engine.track_card(at.as_millisecond()).await.unwrap();
        let mut v = serde_json::to_value(&*card).unwrap();
        // The two stores were seeded a moment apart; everything else must match.
        v.as_object_mut().unwrap().remove("as_of_ms");
        cards.push(v);
    }
    assert!(
        cards[0] == cards[1],
        "prices after the run changed the track record"
    );
    assert_eq!(cards[0]["overall"]["1h"]["n"], 38);
    assert_eq!(cards[0]["overall"]["1h"]["pending"], 2);
}

/// The daemon's own run against the sandbox records each symbol's mid and spread (the price path
/// the scorecard reads), in the SQLite file.
#[tokio::test]
async fn daemon_runs_record_the_price_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    let (_sb, runner) = common::sandbox_runner(&["--symbol", "SOL,BTC"]).await;
    let st = AsyncStore::new(Arc::new(SqliteStore::open(db.to_str().unwrap()).unwrap()));
    let window = runner.config().window.clone();
    let app = sniper::daemon::server::App::new(
        runner,
        &sniper::daemon::scheduler::SchedulerConfig::default(),
        sniper::obs::metrics::Metrics::new(),
        Some(st.clone()),
        window,
        sniper::daemon::server::AppOptions::default(),
    )
    .await;
    let before = Timestamp::now().as_millisecond();
    let results = app.run_and_record().await;
    let after = Timestamp::now().as_millisecond();
    let syms = st.price_symbols().await.unwrap();
    assert_eq!(syms, vec!["BTC".to_string(), "SOL".to_string()]);
    for r in &results {
        let book = r.features.book.as_ref().expect("the sandbox serves a book");
        let pts = st
            .prices(r.symbols.input.clone(), before - 1000, after)
            .await
            .unwrap();
        assert_eq!(pts.len(), 1, "{}", r.symbols.input);
        assert_eq!(pts[0].mid, book.mid);
        assert_eq!(pts[0].spread_bps, Some(book.spread_bps));
        assert_eq!(pts[0].at_ms, r.timestamp.as_millisecond());
    }
}
