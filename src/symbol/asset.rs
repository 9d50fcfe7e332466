//! Asset codes (`BTC`, `USDT`, `1000PEPE`) stored inline, and the small fixed tables that drive parsing.

use std::fmt;

use super::SymbolError;

/// Longest asset code accepted (`1000000MOG` is 10; leave room for longer listings).
pub const MAX_ASSET_LEN: usize = 15;

/// One asset code: uppercase ASCII letters and digits, stored inline so that an [`super::Instrument`]
/// is `Copy` and parsing allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Asset {
    len: u8,
    buf: [u8; MAX_ASSET_LEN],
}

/// Venue aliases for the same coin: Kraken and KuCoin futures call bitcoin `XBT`, Kraken calls dogecoin `XDG`.
const ALIASES: &[(&str, &str)] = &[("XBT", "BTC"), ("XDG", "DOGE")];

impl Asset {
    /// Builds an asset from a code, uppercasing it and resolving aliases (`xbt` → `BTC`).
    pub fn new(code: &str) -> Result<Asset, SymbolError> {
        let bytes = code.as_bytes();
        if bytes.is_empty() {
            return Err(SymbolError::InvalidAsset {
                asset: String::new(),
                reason: "it is empty",
            });
        }
        if bytes.len() > MAX_ASSET_LEN {
            return Err(SymbolError::InvalidAsset {
                asset: code.to_owned(),
                reason: "it is longer than 15 characters",
            });
        }
        let mut buf = [0u8; MAX_ASSET_LEN];
        buf[..bytes.len()].copy_from_slice(bytes);
        let (mut alnum, mut all_digits) = (true, true);
        for b in &mut buf[..bytes.len()] {
            *b = b.to_ascii_uppercase();
            alnum &= b.is_ascii_alphanumeric();
            all_digits &= b.is_ascii_digit();
        }
        if !alnum {
            return Err(SymbolError::InvalidAsset {
                asset: code.to_owned(),
                reason: "an asset code holds only letters and digits",
            });
        }
        if all_digits {
            return Err(SymbolError::InvalidAsset {
                asset: code.to_owned(),
                reason: "an asset code cannot be only digits",
            });
        }
        let asset = Asset {
            len: bytes.len() as u8,
            buf,
        };
        if asset.len == 3 && asset.buf[0] == b'X' {
            // Only X-prefixed three-letter codes can be aliases; everything else skips the table.
            let head = [asset.buf[0], asset.buf[1], asset.buf[2]];
            for (alias, canonical) in ALIASES {
                if alias.as_bytes() == head {
                    return Ok(Asset::from_static(canonical));
                }
            }
        }
        Ok(asset)
    }

    /// Builds an asset from a code known to be valid (tables in this module).
    pub(crate) fn from_static(code: &str) -> Asset {
        let mut buf = [0u8; MAX_ASSET_LEN];
        let n = code.len().min(MAX_ASSET_LEN);
        buf[..n].copy_from_slice(&code.as_bytes()[..n]);
        Asset { len: n as u8, buf }
    }

    /// The code, e.g. `"BTC"`.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters and digits are ever stored, so this never fails.
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }

    /// The code Kraken uses (`BTC` → `XBT`, `DOGE` → `XDG`).
    pub fn kraken_code(&self) -> &str {
        match self.as_str() {
            "BTC" => "XBT",
            "DOGE" => "XDG",
            s => s,
        }
    }

    /// The code KuCoin futures uses (`BTC` → `XBT`).
    pub fn kucoin_futures_code(&self) -> &str {
        match self.as_str() {
            "BTC" => "XBT",
            s => s,
        }
    }

    /// True for `USD` itself (the quote of inverse contracts on most venues).
    pub fn is_usd(&self) -> bool {
        self.len == 3 && self.buf[..3] == *b"USD"
    }
}

impl fmt::Debug for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A quote currency recognised at the end of a glued code (`SOLUSDT`).
pub struct Quote {
    pub code: &'static str,
    /// Stablecoins and fiat are never traded as a bare base: `USDT` alone is a mistake, `ETH` alone is not.
    pub quote_only: bool,
    /// Shortest base accepted in front of it. Crypto quotes need 3 so that `WBTC`, `STETH`
    /// and `WETH` stay coins instead of splitting into `W/BTC`, `ST/ETH`, `W/ETH`.
    pub min_base: usize,
}

/// Known quotes, longest first, so a glued code splits at the longest known suffix
/// (`BTCFDUSD` → `BTC/FDUSD`, not `BTCFD/USD`).
pub const QUOTES: &[Quote] = &[
    q("FDUSD", true, 1),
    q("USDT", true, 1),
    q("USDC", true, 1),
    q("BUSD", true, 1),
    q("TUSD", true, 1),
    q("DAI", true, 1),
    q("USD", true, 1),
    q("EUR", true, 1),
    q("GBP", true, 1),
    q("JPY", true, 1),
    q("TRY", true, 1),
    q("BRL", true, 1),
    q("AUD", true, 1),
    q("CAD", true, 1),
    q("CHF", true, 1),
    q("BTC", false, 3),
    q("XBT", false, 3),
    q("ETH", false, 3),
    q("BNB", false, 3),
];

const fn q(code: &'static str, quote_only: bool, min_base: usize) -> Quote {
    Quote {
        code,
        quote_only,
        min_base,
    }
}

/// Splits a glued code at a known quote suffix: `1000PEPEUSDT` → (`1000PEPE`, `USDT`).
///
/// The longest suffix wins (`BTCFDUSD` → `BTC/FDUSD`), except that a split whose base is itself a
/// known code is preferred (the longest such base: `USDTUSD` → `USDT/USD`, not `USD/TUSD`).
pub fn split_glued(s: &str) -> Option<(&str, &str)> {
    let last = *s.as_bytes().last()?;
    let mut first: Option<(&str, &str)> = None;
    let mut ambiguous = false;
    for quote in QUOTES {
        // One byte compare rules out most quotes before any string compare.
        if quote.code.as_bytes()[quote.code.len() - 1] != last {
            continue;
        }
        let Some(base) = s.strip_suffix(quote.code) else {
            continue;
        };
        if base.len() < quote.min_base {
            continue;
        }
        if first.is_some() {
            ambiguous = true;
            break;
        }
        first = Some((base, quote.code));
    }
    if !ambiguous {
        return first;
    }
    // Two quotes fit (`USDTUSD`: `TUSD` and `USD`): prefer the longest base that is itself a known code.
    let mut known: Option<(&str, &str)> = None;
    for quote in QUOTES {
        if let Some(base) = s.strip_suffix(quote.code)
            && base.len() >= quote.min_base
            && QUOTES.iter().any(|k| k.code == base)
            && known.is_none_or(|(b, _)| base.len() > b.len())
        {
            known = Some((base, quote.code));
        }
    }
    known.or(first)
}

/// True when `s` is a stablecoin or fiat code that cannot be a bare base.
pub fn is_quote_only(s: &str) -> bool {
    QUOTES.iter().any(|q| q.quote_only && q.code == s)
}

/// Kraken's legacy spot pairs (`XXBTZUSD`, `XETHZEUR`): an `X`-prefixed base, then an `X`- or
/// `Z`-prefixed quote, four letters each.
pub fn split_kraken_legacy(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    if b.len() != 8 || b[0] != b'X' || !(b[4] == b'X' || b[4] == b'Z') {
        return None;
    }
    let base = &s[1..4];
    let quote = &s[5..8];
    let known_quote = matches!(
        quote,
        "USD" | "EUR" | "GBP" | "JPY" | "CAD" | "CHF" | "AUD" | "XBT" | "ETH"
    );
    (known_quote && base.bytes().all(|c| c.is_ascii_uppercase())).then_some((base, quote))
}

/// Kraken's four-letter legacy code for the assets listed before its 2017 naming change
/// (`BTC` → `XXBT`, `USD` → `ZUSD`). Kraken's REST id for a pair of two such assets is the two
/// codes glued (`XXBTZUSD`, `XETHXXBT`); every other pair uses its short name (`XBTUSDT`).
pub fn kraken_legacy_code(asset: &str) -> Option<&'static str> {
    Some(match asset {
        "BTC" => "XXBT",
        "ETH" => "XETH",
        "LTC" => "XLTC",
        "XRP" => "XXRP",
        "XLM" => "XXLM",
        "ETC" => "XETC",
        "XMR" => "XXMR",
        "ZEC" => "XZEC",
        "MLN" => "XMLN",
        "REP" => "XREP",
        "USD" => "ZUSD",
        "EUR" => "ZEUR",
        "GBP" => "ZGBP",
        "JPY" => "ZJPY",
        "CAD" => "ZCAD",
        _ => return None,
    })
}
