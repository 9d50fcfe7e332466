//! Reading any common spelling of a symbol into an [`Instrument`], without allocating on success.

use jiff::civil::Date;

use super::asset::{is_quote_only, split_glued, split_kraken_legacy};
use super::expiry::{parse_ddmmmyy, parse_month_code, parse_yymmdd, parse_yyyymmdd};
use super::{Asset, Instrument, Kind, Margin, Market, SymbolError, Venue};

/// Longest input accepted. Real ids top out near 30 (`BTC-USD-241227-60000-P`).
pub const MAX_INPUT: usize = 48;

/// What the string itself says about the market.
#[derive(Clone, Copy)]
enum Shape {
    /// A plain pair or coin (`SOLUSDT`, `SOL/USDT`, `SOL`): the caller's market decides.
    Pair,
    /// The string names its kind (`-SWAP`, `_PERP`, `:USDT`, an expiry).
    Kind(Kind),
}

struct Read {
    base: Asset,
    /// `None` for a bare coin, which takes the venue's default quote.
    quote: Option<Asset>,
    shape: Shape,
}

/// Parses `input` as written on any venue (or none): bare coins (`SOL`), glued (`SOLUSDT`),
/// separated (`sol-usdt`, `SOL_USDT`, `SOL:USDT`), CCXT unified (`BTC/USD:BTC-250328`) and
/// venue ids (`BTC-USDT-SWAP`, `BTCUSD_PERP`, `BTC-28MAR25`, `PF_XBTUSD`, `XBTUSDTM`, …).
///
/// `venue` is the venue the string comes from. It sets defaults for strings that do not say them:
/// the quote of a bare coin (USDC on Hyperliquid, USD on Coinbase and Kraken, USDT elsewhere),
/// whether a USD pair asked as a perp is inverse, and which venue a dated id shared by two venues
/// belongs to (`BTC-27SEP24`: Deribit's inverse future, or Bybit's USDC one). Naming another venue
/// also turns off the id shapes only one venue uses (`PF_USDT` is a Gate spot pair). `market`
/// decides what a plain pair is (spot when `None`) and must agree with a string that names its own
/// kind.
pub fn parse(
    input: &str,
    venue: Option<Venue>,
    market: Option<Market>,
) -> Result<Instrument, SymbolError> {
    parse_with(input, venue, None, market)
}

/// [`parse`] with two venue hints: `from`, the venue the string comes from (as in [`parse`]), and
/// `to`, the venue it is about to be printed for. `to` is a guess about the source used only when
/// `from` is `None`, and only to settle what the string leaves open (a bare coin's quote, a USD
/// pair's margin, a dated id two venues share). A string that names its instrument by itself
/// (`PF_XBTUSD`, `BTC-USDT-SWAP`, `BTCPERP`, `kPEPE`, …) reads the same whatever `to` is.
pub fn parse_with(
    input: &str,
    from: Option<Venue>,
    to: Option<Venue>,
    market: Option<Market>,
) -> Result<Instrument, SymbolError> {
    let mut buf = [0u8; BUF_LEN];
    let (s, kilo) = normalise(input, &mut buf)?;
    // `kPEPE` is Hyperliquid's spelling: it says where it comes from.
    let from = if kilo && from.is_none() {
        Some(Venue::Hyperliquid)
    } else {
        from
    };
    let hints = Hints {
        from,
        guess: from.or(to),
    };
    let read = read(s, hints)?;
    resolve(read, s, hints, market)
}

/// What the caller knows about where a string comes from.
#[derive(Clone, Copy)]
struct Hints {
    /// The venue named as the source: besides defaults, it turns off other venues' id shapes.
    from: Option<Venue>,
    /// The source, or failing that the venue printed for: used only for what the string leaves open.
    guess: Option<Venue>,
}

impl Hints {
    /// Whether id shapes only `venue` uses may be read: not when another real venue is the source.
    fn allows(self, venue: Venue) -> bool {
        matches!(self.from, None | Some(Venue::Ccxt)) || self.from == Some(venue)
    }
}

/// Hyperliquid writes a 1000-coin lot with a lowercase `k` (`kPEPE` is Binance's `1000PEPE`).
const KILO: &str = "1000";

/// Room for the input plus `k` widened to [`KILO`].
const BUF_LEN: usize = MAX_INPUT + KILO.len() - 1;

/// Trims, checks the characters and uppercases into `buf`. A leading lowercase `k` before an
/// uppercase letter (`kPEPE`, Hyperliquid's 1000-lot) is written as `1000`, and reported.
fn normalise<'b>(input: &str, buf: &'b mut [u8; BUF_LEN]) -> Result<(&'b str, bool), SymbolError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(SymbolError::Empty);
    }
    if trimmed.len() > MAX_INPUT {
        // Report a bad character first: it is the more useful message.
        if let Some((pos, ch)) = trimmed.chars().enumerate().find(|(_, c)| !allowed(*c)) {
            return Err(SymbolError::IllegalChar { ch, pos: pos + 1 });
        }
        return Err(SymbolError::TooLong {
            len: trimmed.chars().count(),
            max: MAX_INPUT,
        });
    }
    let bytes = trimmed.as_bytes();
    let kilo = bytes.len() > 1 && bytes[0] == b'k' && bytes[1].is_ascii_uppercase();
    let (skip, mut len) = if kilo {
        buf[..KILO.len()].copy_from_slice(KILO.as_bytes());
        (1, KILO.len())
    } else {
        (0, 0)
    };
    for (i, &b) in bytes.iter().enumerate().skip(skip) {
        if !allowed(char::from(b)) {
            // Slow path, errors only: name the character and its position in characters.
            let pos = trimmed[..i].chars().count();
            let ch = trimmed[i..].chars().next().unwrap_or('?');
            return Err(SymbolError::IllegalChar { ch, pos: pos + 1 });
        }
        buf[len] = b.to_ascii_uppercase();
        len += 1;
    }
    // Only ASCII was written above.
    let s = std::str::from_utf8(&buf[..len]).map_err(|_| SymbolError::Malformed {
        input: input.to_owned(),
    })?;
    Ok((s, kilo))
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | ':')
}

fn resolve(
    read: Read,
    s: &str,
    hints: Hints,
    market: Option<Market>,
) -> Result<Instrument, SymbolError> {
    let venue = hints.guess;
    let bare = read.quote.is_none();
    let quote = match read.quote {
        Some(q) => q,
        None => Asset::from_static(venue.map_or(super::DEFAULT_QUOTE, Venue::default_quote)),
    };
    let kind = match read.shape {
        Shape::Kind(kind) => {
            let found = market_of(kind);
            if let Some(wanted) = market
                && wanted != found
            {
                return Err(SymbolError::MarketMismatch {
                    input: s.to_owned(),
                    found,
                    wanted,
                });
            }
            kind
        }
        Shape::Pair => {
            // Hyperliquid lists perpetuals under the bare coin name.
            let default = if bare && venue == Some(Venue::Hyperliquid) {
                Market::Perp
            } else {
                Market::Spot
            };
            match market.unwrap_or(default) {
                Market::Spot => Kind::Spot,
                Market::Perp => {
                    let inverse = venue.is_some_and(Venue::usd_means_inverse) && quote.is_usd();
                    Kind::Perpetual {
                        margin: if inverse {
                            Margin::Inverse
                        } else {
                            Margin::Linear
                        },
                    }
                }
                Market::Future => {
                    return Err(SymbolError::MissingExpiry {
                        input: s.to_owned(),
                    });
                }
            }
        }
    };
    Instrument::new(read.base, quote, kind)
}

fn market_of(kind: Kind) -> Market {
    match kind {
        Kind::Spot => Market::Spot,
        Kind::Perpetual { .. } => Market::Perp,
        Kind::Future { .. } => Market::Future,
    }
}

fn malformed(s: &str) -> SymbolError {
    SymbolError::Malformed {
        input: s.to_owned(),
    }
}

fn option(s: &str) -> SymbolError {
    SymbolError::Option {
        input: s.to_owned(),
    }
}

/// A code with no separators.
fn word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// On venue ids, a USD quote means an inverse contract and a stablecoin quote a linear one.
fn usd_rule(quote: Asset) -> Margin {
    if quote.is_usd() {
        Margin::Inverse
    } else {
        Margin::Linear
    }
}

fn pair(base: &str, quote: &str) -> Result<Read, SymbolError> {
    Ok(Read {
        base: Asset::new(base)?,
        quote: Some(Asset::new(quote)?),
        shape: Shape::Pair,
    })
}

fn perp(base: &str, quote: &str, margin: Option<Margin>) -> Result<Read, SymbolError> {
    let quote = Asset::new(quote)?;
    Ok(Read {
        base: Asset::new(base)?,
        quote: Some(quote),
        shape: Shape::Kind(Kind::Perpetual {
            margin: margin.unwrap_or_else(|| usd_rule(quote)),
        }),
    })
}

fn future(
    base: &str,
    quote: &str,
    margin: Option<Margin>,
    expiry: Date,
) -> Result<Read, SymbolError> {
    let quote = Asset::new(quote)?;
    Ok(Read {
        base: Asset::new(base)?,
        quote: Some(quote),
        shape: Shape::Kind(Kind::Future {
            margin: margin.unwrap_or_else(|| usd_rule(quote)),
            expiry,
        }),
    })
}

/// A glued pair that must split (`XBTUSD` inside `PF_XBTUSD`).
fn glued<'a>(s: &'a str, whole: &str) -> Result<(&'a str, &'a str), SymbolError> {
    split_glued(s).ok_or_else(|| malformed(whole))
}

fn read(s: &str, hints: Hints) -> Result<Read, SymbolError> {
    // One pass to learn which separators occur; most input is one word (`SOL`, `SOLUSDT`).
    let (mut slash, mut colon, mut dash) = (false, false, false);
    for b in s.bytes() {
        match b {
            b'/' => slash = true,
            b':' => colon = true,
            b'-' | b'_' => dash = true,
            _ => {}
        }
    }
    if !(slash || colon || dash) {
        return read_word(s, hints);
    }
    if slash && let Some((base, rest)) = s.split_once('/') {
        return read_unified(s, base, rest);
    }
    // Kraken Futures: PF_ linear perp, PI_ inverse perp, FF_ linear future, FI_ inverse future.
    // Skipped when another venue is named as the source (`PF_USDT` is a spot pair on Gate), but
    // not for the venue printed for; a string that does not complete the pattern is read as
    // anything else would be.
    if hints.allows(Venue::Kraken)
        && let Some(read) = read_kraken_futures(s)
    {
        return read;
    }
    if colon && let Some((a, b)) = s.split_once(':') {
        return if word(a) && word(b) {
            pair(a, b)
        } else {
            Err(malformed(s))
        };
    }
    // Deribit: BTC-PERPETUAL (inverse, USD) and BTC_USDC-PERPETUAL (linear).
    if let Some(head) = s.strip_suffix("-PERPETUAL") {
        return match head.split_once('_') {
            Some((b, q)) if word(b) && word(q) => perp(b, q, None),
            None if word(head) => perp(head, "USD", Some(Margin::Inverse)),
            _ => Err(malformed(s)),
        };
    }
    // Coinbase International perpetuals, USDC-settled.
    if let Some(base) = s.strip_suffix("-PERP-INTX") {
        return if word(base) {
            perp(base, "USDC", Some(Margin::Linear))
        } else {
            Err(malformed(s))
        };
    }
    // Binance coin-margined perpetuals: BTCUSD_PERP.
    if let Some(code) = s.strip_suffix("_PERP") {
        let (b, q) = glued(code, s)?;
        return perp(b, q, None);
    }
    read_tokens(s, hints)
}

fn read_kraken_futures(s: &str) -> Option<Result<Read, SymbolError>> {
    let prefix = s.get(..3)?;
    if !matches!(prefix, "PF_" | "PI_" | "FF_" | "FI_") {
        return None;
    }
    let rest = &s[3..];
    let margin = if prefix.as_bytes()[1] == b'I' {
        Margin::Inverse
    } else {
        Margin::Linear
    };
    if prefix.starts_with('P') {
        let (b, q) = split_glued(rest)?;
        return Some(perp(b, q, Some(margin)));
    }
    let (code, date) = rest.split_once('_')?;
    let expiry = parse_yymmdd(date)?;
    let (b, q) = split_glued(code)?;
    Some(expiry.and_then(|expiry| future(b, q, Some(margin), expiry)))
}

/// `BASE/QUOTE`, `BASE/QUOTE:SETTLE`, `BASE/QUOTE:SETTLE-YYMMDD` (and options, refused).
fn read_unified(s: &str, base: &str, rest: &str) -> Result<Read, SymbolError> {
    if !word(base) {
        return Err(malformed(s));
    }
    let Some((quote, tail)) = rest.split_once(':') else {
        return if word(rest) {
            pair(base, rest)
        } else {
            Err(malformed(s))
        };
    };
    if !word(quote) {
        return Err(malformed(s));
    }
    let mut parts = tail.split('-');
    let settle = parts.next().unwrap_or("");
    let date = parts.next();
    let strike = parts.next();
    let right = parts.next();
    if parts.next().is_some() || !word(settle) {
        return Err(malformed(s));
    }
    if strike.is_some() {
        return if matches!(right, Some("C" | "P")) {
            Err(option(s))
        } else {
            Err(malformed(s))
        };
    }
    let (base_a, quote_a, settle_a) = (Asset::new(base)?, Asset::new(quote)?, Asset::new(settle)?);
    let margin = if settle_a == quote_a {
        Margin::Linear
    } else if settle_a == base_a {
        Margin::Inverse
    } else {
        return Err(SymbolError::UnsupportedSettle {
            input: s.to_owned(),
            settle: settle.to_owned(),
        });
    };
    let kind = match date {
        None => Kind::Perpetual { margin },
        Some(d) => Kind::Future {
            margin,
            expiry: parse_yymmdd(d).ok_or_else(|| malformed(s))??,
        },
    };
    Ok(Read {
        base: base_a,
        quote: Some(quote_a),
        shape: Shape::Kind(kind),
    })
}

/// Forms split by `-` and `_`.
fn read_tokens(s: &str, hints: Hints) -> Result<Read, SymbolError> {
    const MAX_TOKENS: usize = 6;
    let mut tokens = [""; MAX_TOKENS];
    let mut seps = [0u8; MAX_TOKENS];
    let mut n = 0;
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if b == b'-' || b == b'_' {
            if n + 1 >= MAX_TOKENS {
                return Err(malformed(s));
            }
            tokens[n] = &s[start..i];
            seps[n] = b;
            n += 1;
            start = i + 1;
        }
    }
    tokens[n] = &s[start..];
    n += 1;
    if tokens[..n].iter().any(|t| t.is_empty()) {
        return Err(malformed(s));
    }
    if n >= 4 {
        // BTC-USD-241227-60000-P (OKX), ETH-231229-800-C (Binance), BTC-26JAN24-39000-C (Deribit),
        // BTC-30MAY25-70000-C-USDT (Bybit).
        return if tokens[2..n].iter().any(|t| matches!(*t, "C" | "P")) {
            Err(option(s))
        } else {
            Err(malformed(s))
        };
    }
    match n {
        1 => read_word(s, hints),
        2 => {
            let (a, b) = (tokens[0], tokens[1]);
            if seps[0] == b'-' {
                if let Some(expiry) = parse_ddmmmyy(b) {
                    let expiry = expiry?;
                    // BTCUSDT-28MAR25 (Bybit linear), BTC-28MAR25 (Deribit inverse, or on Bybit its
                    // USDC-settled future: only the venue tells which).
                    return match split_glued(a) {
                        Some((base, quote)) => future(base, quote, None, expiry),
                        None if hints.guess == Some(Venue::Bybit) => {
                            future(a, "USDC", Some(Margin::Linear), expiry)
                        }
                        None => future(a, "USD", Some(Margin::Inverse), expiry),
                    };
                }
            } else if let Some(expiry) = parse_yymmdd(b) {
                // BTCUSDT_250328 (Binance).
                let (base, quote) = glued(a, s)?;
                return future(base, quote, None, expiry?);
            }
            pair(a, b)
        }
        _ => {
            let (a, b, c) = (tokens[0], tokens[1], tokens[2]);
            match (seps[0], seps[1]) {
                // OKX: BTC-USDT-SWAP, BTC-USD-250328.
                (b'-', b'-') if c == "SWAP" => perp(a, b, None),
                (b'-', b'-') => match parse_yymmdd(c) {
                    Some(expiry) => future(a, b, None, expiry?),
                    None => Err(malformed(s)),
                },
                // Deribit linear futures: BTC_USDC-28MAR25.
                (b'_', b'-') => match parse_ddmmmyy(c) {
                    Some(expiry) => future(a, b, None, expiry?),
                    None => Err(malformed(s)),
                },
                // Gate delivery: BTC_USDT_20250328.
                (b'_', b'_') => match parse_yyyymmdd(c) {
                    Some(expiry) => future(a, b, None, expiry?),
                    None => Err(malformed(s)),
                },
                _ => Err(malformed(s)),
            }
        }
    }
}

/// One word: Kraken legacy pairs, Bybit USDC perpetuals and inverse futures, KuCoin futures, glued
/// pairs, bare coins.
fn read_word(s: &str, hints: Hints) -> Result<Read, SymbolError> {
    // Kraken's legacy `XXBTZUSD` only when the source may be Kraken: `XAAAZUSD` from Binance is
    // the glued pair XAAAZ/USD.
    if hints.allows(Venue::Kraken)
        && let Some((b, q)) = split_kraken_legacy(s)
    {
        return pair(b, q);
    }
    // Bybit USDC perpetuals: BTCPERP (BTC/USDC:USDC). `PERP` alone is a coin.
    if hints.allows(Venue::Bybit)
        && let Some(base) = s.strip_suffix("PERP")
        && word(base)
    {
        return perp(base, "USDC", Some(Margin::Linear));
    }
    // Bybit inverse futures: BTCUSDH25 (last Friday of March 2025).
    if s.len() > 6
        && let Some(expiry) = parse_month_code(&s[s.len() - 3..])
        && let Some(base) = s[..s.len() - 3].strip_suffix("USD")
        && word(base)
    {
        return future(base, "USD", Some(Margin::Inverse), expiry?);
    }
    // KuCoin futures: XBTUSDTM (linear), XBTUSDM (inverse).
    if let Some(code) = s.strip_suffix('M')
        && let Some((b, q)) = split_glued(code)
        && matches!(q, "USDT" | "USDC" | "USD")
    {
        return perp(b, q, None);
    }
    if is_quote_only(s) {
        return Err(SymbolError::OnlyQuote {
            asset: s.to_owned(),
        });
    }
    if let Some((b, q)) = split_glued(s) {
        return pair(b, q);
    }
    Ok(Read {
        base: Asset::new(s)?,
        quote: None,
        shape: Shape::Pair,
    })
}
