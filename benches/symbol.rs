//! Parse + format throughput over a mix of real symbol spellings (goal: ≥ 5 million per second on one core).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sniper::symbol::{Market, Venue, parse};

const INPUTS: &[(&str, Option<Venue>, Option<Market>, Venue)] = &[
    ("SOL", None, None, Venue::Binance),
    ("SOLUSDT", None, None, Venue::Okx),
    (
        "1000PEPEUSDT",
        Some(Venue::Binance),
        Some(Market::Perp),
        Venue::Okx,
    ),
    ("sol-usdt", None, None, Venue::Binance),
    ("BTC/USDT:USDT", None, None, Venue::Bybit),
    ("BTC-USDT-SWAP", None, None, Venue::Binance),
    ("BTC-USD-250328", None, None, Venue::Deribit),
    ("BTCUSD_PERP", None, None, Venue::Okx),
    ("PF_XBTUSD", None, None, Venue::Ccxt),
    ("XXBTZUSD", None, None, Venue::Coinbase),
    ("BTC-28MAR25", None, None, Venue::Binance),
    ("XBTUSDTM", None, None, Venue::Gate),
];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("symbol");
    group.throughput(Throughput::Elements(INPUTS.len() as u64));
    group.bench_function("parse_format_mix", |b| {
        b.iter(|| {
            for (input, venue, market, target) in INPUTS {
                let i = parse(black_box(input), *venue, *market).unwrap();
                black_box(i.format(*target).unwrap());
            }
        })
    });
    group.bench_function("parse_only_mix", |b| {
        b.iter(|| {
            for (input, venue, market, _) in INPUTS {
                black_box(parse(black_box(input), *venue, *market).unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
