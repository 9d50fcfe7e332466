//! Market data for one symbol, as a run handles it (issue 22 item 17): the five modules' bodies as
//! bytes (the sandbox's real-backend shapes, a 50-level book) → JSON → parse and validate
//! (`market::parse`) → per-symbol features. Goal: ≤ 100 µs for the five together.
//!
//! Run: `cargo bench --bench market`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sniper::market::{Asked, MarketData, default_max_age, features, parse};
use sniper::module_id::ModuleId;
use sniper::sandbox::Shape;
use sniper::sandbox::market::body;

fn bench(c: &mut Criterion) {
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let params: HashMap<String, String> = [
        ("symbol".to_string(), "SOLUSDT".to_string()),
        ("exchange".to_string(), "binance".to_string()),
        ("depth".to_string(), "50".to_string()),
    ]
    .into_iter()
    .collect();
    let bodies: Vec<(ModuleId, Vec<u8>)> = ModuleId::ALL
        .into_iter()
        .map(|m| {
            let v = body(m, Shape::Real, &params, now_ms);
            (m, serde_json::to_vec(&v).expect("json"))
        })
        .collect();
    // Every body must be usable data, or the figure would measure the error paths.
    for (m, b) in &bodies {
        let v: serde_json::Value = serde_json::from_slice(b).expect("json");
        parse(*m, &v, now_ms, default_max_age(*m), &Asked::default())
            .unwrap_or_else(|e| panic!("{m}: {e}"));
    }
    let asked = Asked::default();
    let mut group = c.benchmark_group("market");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("five_modules_one_symbol", |b| {
        b.iter(|| {
            let mut data: Vec<MarketData> = Vec::with_capacity(5);
            for (m, bytes) in &bodies {
                let v: serde_json::Value = serde_json::from_slice(black_box(bytes)).expect("json");
                if let Ok(d) = parse(*m, &v, now_ms, default_max_age(*m), &asked) {
                    data.push(d);
                }
            }
            let refs: Vec<&MarketData> = data.iter().collect();
            black_box(features(&refs, "SOL", now_ms))
        })
    });
    // Each module alone (bytes → JSON → parse + validate), to see where the time goes.
    for (m, bytes) in &bodies {
        group.bench_function(format!("parse_{}", m.as_str()), |b| {
            b.iter(|| {
                let v: serde_json::Value = serde_json::from_slice(black_box(bytes)).expect("json");
                black_box(parse(*m, &v, now_ms, default_max_age(*m), &asked).is_ok())
            })
        });
    }
    // The JSON decoding alone of the largest body, for comparison.
    if let Some((_, bytes)) = bodies.iter().find(|(m, _)| *m == ModuleId::Etf) {
        group.bench_function("json_only_etf", |b| {
            b.iter(|| {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(bytes)).is_ok())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
