//! Scorecard benchmark (issue 23): 100 000 calls against one year of 5-second mids for 3 symbols
//! (3 × 6.3 M points), horizons 5m,15m,1h,4h. The price path is generated in the windows the
//! scorer asks for (a random walk, deterministic), so the figure shows that scoring streams: peak
//! memory stays far below the 450 MB the whole path would take as points.
//!
//! Run: `cargo run --release --example score_bench [calls] [days]` — prints wall time, calls/s
//! and peak RSS (VmHWM).

use std::collections::HashMap;
use std::time::Instant;

use sniper::score::{Options, Point, PriceSource, ScoreCall, ScoreError, Scorer, Side};

const STEP_MS: i64 = 5000;

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A random walk per symbol, generated forward as windows are asked (oldest first).
#[derive(Default)]
struct Walk {
    /// symbol → (next index, price there).
    state: HashMap<String, (i64, f64)>,
}

impl PriceSource for Walk {
    fn window(&mut self, symbol: &str, from_ms: i64, to_ms: i64) -> Result<Vec<Point>, ScoreError> {
        let seed = symbol
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31) ^ u64::from(b));
        let first = from_ms.max(0).div_euclid(STEP_MS) + i64::from(from_ms.rem_euclid(STEP_MS) > 0);
        let (mut i, mut p) = *self.state.get(symbol).unwrap_or(&(first, 100.0));
        i = i.max(first);
        let mut out = Vec::new();
        while i * STEP_MS <= to_ms {
            let r = splitmix(seed ^ i as u64);
            p *= 1.0 + ((r >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 4e-4;
            out.push(Point::mid(i * STEP_MS, p, Some(1.5)));
            i += 1;
        }
        self.state.insert(symbol.to_string(), (i, p));
        Ok(out)
    }
}

fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n_calls: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let days: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(365);
    let span = days * 86_400_000;
    let syms = ["BTC", "ETH", "SOL"];
    let opts = Options {
        horizons: sniper::score::parse_horizons("h", "5m,15m,1h,4h").expect("horizons"),
        cost_bps: None,
        max_gap_ms: None,
        as_of_ms: span,
        seed: 1,
    };
    let rss0 = peak_rss_kb();
    let t = Instant::now();
    let mut s = Scorer::new(Walk::default(), opts);
    for k in 0..n_calls {
        let at_ms = (span as u128 * k as u128 / n_calls as u128) as i64;
        let r = splitmix(k ^ 0xabc);
        let c = ScoreCall {
            at_ms,
            symbol: syms[(r % 3) as usize].to_string(),
            side: if r & 8 == 0 { Side::Long } else { Side::Short },
            level: Some(if r & 16 == 0 { "watch" } else { "action" }.into()),
            score: Some((r >> 8) as u32 % 101),
            agreeing: vec!["book".into()],
            rules: None,
        };
        if let Err(e) = s.push(&c) {
            eprintln!("scoring failed: {e}");
            std::process::exit(1);
        }
    }
    let card = s.finish();
    let wall = t.elapsed();
    let o = &card.overall["1h"];
    println!(
        "scored {} calls × 4 horizons against {} days of 5 s mids × {} symbols in {:.2} s ({:.0} calls/s)",
        card.calls,
        days,
        syms.len(),
        wall.as_secs_f64(),
        card.calls as f64 / wall.as_secs_f64()
    );
    println!(
        "1h: n {} hit rate {:.3} ci95 {:?} pending {} gaps {}",
        o.n,
        o.hit_rate.unwrap_or(f64::NAN),
        o.ci95,
        o.pending,
        o.gaps
    );
    println!(
        "peak RSS {} MB (before scoring {} MB); the whole path as points would be {} MB",
        peak_rss_kb().map_or(0, |k| k / 1024),
        rss0.map_or(0, |k| k / 1024),
        (days * 86_400_000 / STEP_MS) as u64
            * syms.len() as u64
            * std::mem::size_of::<Point>() as u64
            / 1_048_576
    );
}
