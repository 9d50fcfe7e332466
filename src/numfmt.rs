//! Numbers for people (issue 22 item 13): the one formatter of prices, amounts and signed values
//! for the CLI, run summaries and delivered messages (the status page has its own small JS twin).
//! Never float noise (`91338.66500000001`), never a negative zero (`-0.0`), the sign before the
//! currency (`+$940K`, not `$+0.94M`).

/// A price with the precision its size needs: 2 decimals from 1 000 up, with thousands separators
/// (`91,338.67`); 6 significant digits below (`141.384`, `1.23450` → `1.2345`, `0.000123456`),
/// trailing zeros beyond the second decimal dropped. Non-finite values read `—`.
pub fn price(p: f64) -> String {
    if !p.is_finite() {
        return "—".to_string();
    }
    let a = p.abs();
    let text = if a >= 1000.0 {
        group(&format!("{a:.2}"))
    } else if a == 0.0 {
        "0".to_string()
    } else {
        let digits_before = (a.log10().floor() as i32 + 1).max(1);
        let decimals = (6 - digits_before).max(2) as usize;
        let decimals = if a < 1.0 {
            // Leading zeros after the point do not count as significant.
            let zeros = (-a.log10()).floor() as usize;
            (zeros + 6).min(12)
        } else {
            decimals
        };
        trim_zeros(&format!("{a:.decimals$}"), 2)
    };
    if p < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        format!("-{text}")
    } else {
        text
    }
}

/// A USD amount, short: `$4.1M`, `-$120M`, `$950K`, `$12`; with `sign`, a `+` for positive amounts
/// (`+$940K`). Zero (and what rounds to it) has no sign: `$0`.
pub fn money(x: f64, sign: bool) -> String {
    if !x.is_finite() {
        return "—".to_string();
    }
    let a = x.abs();
    let s = if a >= 1e9 {
        format!("{:.1}B", a / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", a / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}K", a / 1e3)
    } else {
        format!("{a:.0}")
    };
    let s = s
        .replace(".0B", "B")
        .replace(".0M", "M")
        .replace(".0K", "K");
    if s == "0" {
        return "$0".to_string();
    }
    match (x < 0.0, sign) {
        (true, _) => format!("-${s}"),
        (false, true) => format!("+${s}"),
        (false, false) => format!("${s}"),
    }
}

/// A signed value with `decimals` decimals (`+0.31`, `-1.2`); what rounds to zero is `0.00`, never
/// `-0.00` or `+0.00`.
pub fn signed(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return "—".to_string();
    }
    let s = format!("{:.decimals$}", x.abs());
    if s.chars().all(|c| c == '0' || c == '.') {
        return s;
    }
    if x < 0.0 {
        format!("-{s}")
    } else {
        format!("+{s}")
    }
}

fn group(fixed: &str) -> String {
    let (int, frac) = fixed.split_once('.').unwrap_or((fixed, ""));
    let mut out = String::with_capacity(fixed.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

fn trim_zeros(s: &str, keep: usize) -> String {
    let Some((int, frac)) = s.split_once('.') else {
        return s.to_string();
    };
    let mut frac = frac.trim_end_matches('0').to_string();
    while frac.len() < keep {
        frac.push('0');
    }
    format!("{int}.{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_read_like_prices() {
        assert_eq!(price(91_338.665_000_000_01), "91,338.67");
        assert_eq!(price(141.3841), "141.384");
        assert_eq!(price(1.2345), "1.2345");
        assert_eq!(price(2.0), "2.00");
        assert_eq!(price(0.000_123_456), "0.000123456");
        assert_eq!(price(1_234_567.5), "1,234,567.50");
        assert_eq!(price(-0.0), "0");
        assert_eq!(price(f64::NAN), "—");
    }

    #[test]
    fn amounts_and_signs() {
        assert_eq!(money(940_000.0, true), "+$940K");
        assert_eq!(money(-120e6, false), "-$120M");
        assert_eq!(money(4.1e6, false), "$4.1M");
        assert_eq!(money(-0.2, true), "$0");
        assert_eq!(signed(-0.0001, 2), "0.00");
        assert_eq!(signed(-0.31, 2), "-0.31");
        assert_eq!(signed(0.5, 1), "+0.5");
    }
}
