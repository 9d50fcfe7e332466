//! Parse + match the largest real backend spec (rcz87-openapi-compact-large.json, 688 KB).
//! Goal: ≤ 10 ms per parse+match. Run: `cargo bench --bench discovery`.

use criterion::{Criterion, criterion_group, criterion_main};
use sniper::discovery::matcher::{MatchPrefs, match_all};
use sniper::discovery::openapi::{SpecLimits, parse_spec};
use std::hint::black_box;

fn fixture() -> Vec<u8> {
    let dir = env!("CARGO_MANIFEST_DIR");
    for rel in [
        "/../../shared/fixtures/openapi",
        "/../shared/fixtures/openapi",
    ] {
        let p = format!("{dir}{rel}/rcz87-openapi-compact-large.json");
        if let Ok(b) = std::fs::read(&p) {
            return b;
        }
    }
    panic!("rcz87-openapi-compact-large.json not found next to the crate");
}

fn bench(c: &mut Criterion) {
    let bytes = fixture();
    let limits = SpecLimits::default();
    let prefs = MatchPrefs::default();
    // Baseline measured in the same run: serde_json building the tree, nothing else.
    c.bench_function("serde_json_value_only", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&bytes)))
    });
    c.bench_function("parse_compact_large", |b| {
        b.iter(|| parse_spec(black_box(&bytes), &limits))
    });
    let spec = parse_spec(&bytes, &limits).expect("fixture parses");
    c.bench_function("match_compact_large", |b| {
        b.iter(|| match_all(black_box(&spec), &prefs))
    });
    c.bench_function("parse_and_match_compact_large", |b| {
        b.iter(|| {
            let spec = parse_spec(black_box(&bytes), &limits).expect("fixture parses");
            match_all(&spec, &prefs)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
