//! Instruments: one model for the symbols traders paste from every exchange, parsed strictly and
//! formatted back into each venue's native id.
//!
//! ```
//! use sniper::symbol::{parse, Market, Venue};
//! let perp = parse("BTC-USDT-SWAP", None, None).unwrap();
//! assert_eq!(perp.format(Venue::Binance).unwrap(), "BTCUSDT");
//! assert_eq!(perp.format(Venue::Kraken).unwrap(), "PF_XBTUSDT");
//! let spot = parse("SOL", None, None).unwrap();
//! assert_eq!(spot.format(Venue::Ccxt).unwrap(), "SOL/USDT");
//! assert!(parse("USDT", None, Some(Market::Perp)).is_err());
//! ```
//!
//! Parsing never allocates on success: assets are stored inline and the tables are fixed slices.
//! Glued codes (`SOLUSDC`) split at the longest known quote suffix; strings that carry their kind
//! (`-SWAP`, `_PERP`, `PF_`, `:USDT`, an expiry) must agree with the caller's market, and plain pairs
//! take the caller's market (spot when none is given).

mod asset;
mod cli;
mod expiry;
mod format;
mod parse;

use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use serde::Serialize;

pub use asset::{Asset, MAX_ASSET_LEN};
pub use cli::{SymbolArgs, run_symbol_cli};
pub use parse::{parse, parse_with};

/// Which symbol form a backend parameter wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SymbolForm {
    /// `SOL`
    Base,
    /// `SOLUSDT`
    Spot,
    /// `SOL-USDT-SWAP`
    Perp,
}

/// Quote used when the user gives only a coin (`SOL` → `SOL/USDT`), as the design did.
pub const DEFAULT_QUOTE: &str = "USDT";

/// An exchange (or CCXT's unified notation) whose symbol spelling sniper reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Venue {
    Okx,
    Binance,
    Bybit,
    Deribit,
    /// Kraken spot (`XBTUSD`) and Kraken Futures (`PF_XBTUSD`, `PI_XBTUSD`, `FI_XBTUSD_250328`).
    Kraken,
    Coinbase,
    /// KuCoin spot (`BTC-USDT`) and futures (`XBTUSDTM`).
    Kucoin,
    Gate,
    Hyperliquid,
    /// CCXT unified symbols: `BTC/USDT`, `BTC/USDT:USDT`, `BTC/USD:BTC-250328`.
    Ccxt,
}

impl Venue {
    /// Every venue, in a stable order (used for `--json` and tests).
    pub const ALL: [Venue; 10] = [
        Venue::Okx,
        Venue::Binance,
        Venue::Bybit,
        Venue::Deribit,
        Venue::Kraken,
        Venue::Coinbase,
        Venue::Kucoin,
        Venue::Gate,
        Venue::Hyperliquid,
        Venue::Ccxt,
    ];

    /// The lowercase name accepted by `--venue`.
    pub fn as_str(self) -> &'static str {
        match self {
            Venue::Okx => "okx",
            Venue::Binance => "binance",
            Venue::Bybit => "bybit",
            Venue::Deribit => "deribit",
            Venue::Kraken => "kraken",
            Venue::Coinbase => "coinbase",
            Venue::Kucoin => "kucoin",
            Venue::Gate => "gate",
            Venue::Hyperliquid => "hyperliquid",
            Venue::Ccxt => "ccxt",
        }
    }

    /// Venues whose USD-quoted contracts are inverse (coin-margined) and whose stablecoin-quoted
    /// contracts are linear, so the quote alone tells which one an id means (`BTCUSD` on Bybit).
    pub(crate) fn usd_means_inverse(self) -> bool {
        matches!(
            self,
            Venue::Okx
                | Venue::Binance
                | Venue::Bybit
                | Venue::Deribit
                | Venue::Kucoin
                | Venue::Gate
        )
    }

    /// The quote a bare coin gets on this venue.
    pub(crate) fn default_quote(self) -> &'static str {
        match self {
            Venue::Hyperliquid => "USDC",
            Venue::Coinbase | Venue::Kraken => "USD",
            _ => DEFAULT_QUOTE,
        }
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Venue {
    type Err = SymbolError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let venue = match lower.as_str() {
            "okx" | "okex" => Venue::Okx,
            "binance" => Venue::Binance,
            "bybit" => Venue::Bybit,
            "deribit" => Venue::Deribit,
            "kraken" | "krakenfutures" => Venue::Kraken,
            "coinbase" => Venue::Coinbase,
            "kucoin" | "kucoinfutures" => Venue::Kucoin,
            "gate" | "gateio" => Venue::Gate,
            "hyperliquid" => Venue::Hyperliquid,
            "ccxt" => Venue::Ccxt,
            _ => {
                return Err(SymbolError::UnknownVenue { name: s.to_owned() });
            }
        };
        Ok(venue)
    }
}

/// Which market a caller wants: the only thing an id like `BTCUSDT` cannot say by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Market {
    Spot,
    Perp,
    Future,
}

impl Market {
    /// The lowercase name accepted by `--market`.
    pub fn as_str(self) -> &'static str {
        match self {
            Market::Spot => "spot",
            Market::Perp => "perp",
            Market::Future => "future",
        }
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Market {
    type Err = SymbolError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "spot" => Ok(Market::Spot),
            "perp" | "swap" | "perpetual" => Ok(Market::Perp),
            "future" | "futures" | "delivery" => Ok(Market::Future),
            _ => Err(SymbolError::UnknownMarket { name: s.to_owned() }),
        }
    }
}

/// How a contract is margined and settled: linear contracts settle in the quote (USDT),
/// inverse ones in the base coin (BTC for `BTC/USD:BTC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Margin {
    Linear,
    Inverse,
}

/// What is traded: spot, a perpetual, or a future that expires on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Spot,
    Perpetual { margin: Margin },
    Future { margin: Margin, expiry: Date },
}

/// One tradable instrument, independent of how any venue spells it. Cheap to copy.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Instrument {
    base: Asset,
    quote: Asset,
    kind: Kind,
}

impl Instrument {
    /// Builds an instrument, refusing a base equal to its quote.
    pub fn new(base: Asset, quote: Asset, kind: Kind) -> Result<Instrument, SymbolError> {
        if base == quote {
            return Err(SymbolError::SameBaseQuote {
                asset: base.as_str().to_owned(),
            });
        }
        Ok(Instrument { base, quote, kind })
    }

    /// Shorthand for a spot pair from two codes.
    pub fn spot(base: &str, quote: &str) -> Result<Instrument, SymbolError> {
        Instrument::new(Asset::new(base)?, Asset::new(quote)?, Kind::Spot)
    }

    /// The coin traded (`BTC`).
    pub fn base(&self) -> &str {
        self.base.as_str()
    }

    /// What it is priced in (`USDT`).
    pub fn quote(&self) -> &str {
        self.quote.as_str()
    }

    /// The asset profits and losses settle in: the quote for linear contracts, the base for
    /// inverse ones, none for spot.
    pub fn settle(&self) -> Option<&str> {
        match self.margin()? {
            Margin::Linear => Some(self.quote.as_str()),
            Margin::Inverse => Some(self.base.as_str()),
        }
    }

    /// Base asset as a value.
    pub fn base_asset(&self) -> Asset {
        self.base
    }

    /// Quote asset as a value.
    pub fn quote_asset(&self) -> Asset {
        self.quote
    }

    /// The full kind (margin and expiry included).
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Spot, perp or future.
    pub fn market(&self) -> Market {
        match self.kind {
            Kind::Spot => Market::Spot,
            Kind::Perpetual { .. } => Market::Perp,
            Kind::Future { .. } => Market::Future,
        }
    }

    /// Linear or inverse; `None` for spot.
    pub fn margin(&self) -> Option<Margin> {
        match self.kind {
            Kind::Spot => None,
            Kind::Perpetual { margin } | Kind::Future { margin, .. } => Some(margin),
        }
    }

    /// The expiry day of a dated future.
    pub fn expiry(&self) -> Option<Date> {
        match self.kind {
            Kind::Future { expiry, .. } => Some(expiry),
            _ => None,
        }
    }

    /// The venue-native id of this instrument, or why the venue cannot list it.
    pub fn format(&self, venue: Venue) -> Result<String, SymbolError> {
        format::format(self, venue)
    }

    /// The spot market of the same pair.
    pub fn to_spot(&self) -> Instrument {
        Instrument {
            kind: Kind::Spot,
            ..*self
        }
    }

    /// The linear perpetual of the same pair, settled in the quote.
    pub fn to_perp(&self) -> Instrument {
        Instrument {
            kind: Kind::Perpetual {
                margin: Margin::Linear,
            },
            ..*self
        }
    }

    /// The perpetual of the same pair as `venue` lists it: an existing perpetual is kept, and on
    /// venues where USD-quoted contracts are inverse (`BTC-USD-SWAP`) the USD pair becomes inverse.
    pub fn perp_on(&self, venue: Venue) -> Instrument {
        if let Kind::Perpetual { .. } = self.kind {
            return *self;
        }
        let margin = if venue.usd_means_inverse() && self.quote.is_usd() {
            Margin::Inverse
        } else {
            Margin::Linear
        };
        Instrument {
            kind: Kind::Perpetual { margin },
            ..*self
        }
    }
}

impl Instrument {
    /// What `venue` lists in place of this instrument when it does not list it itself: Hyperliquid
    /// and Coinbase International settle every linear perpetual in USDC, so a linear perpetual
    /// quoted in another dollar (`1000PEPEUSDT` on Binance) has the coin's USDC perpetual as its
    /// counterpart there (`kPEPE`). `None` when the venue lists this instrument, or nothing close.
    pub fn counterpart_on(&self, venue: Venue) -> Option<Instrument> {
        if self.format(venue).is_ok() || !matches!(venue, Venue::Hyperliquid | Venue::Coinbase) {
            return None;
        }
        let dollar = matches!(
            self.quote(),
            "USD" | "USDT" | "FDUSD" | "BUSD" | "TUSD" | "DAI"
        );
        if !dollar
            || self.kind
                != (Kind::Perpetual {
                    margin: Margin::Linear,
                })
        {
            return None;
        }
        let counterpart = Instrument::new(self.base, Asset::from_static("USDC"), self.kind).ok()?;
        counterpart.format(venue).is_ok().then_some(counterpart)
    }
}

impl fmt::Debug for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instrument({self})")
    }
}

/// CCXT unified notation, which names every kind without a venue: `BTC/USDT:USDT-250328`.
impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format::ccxt(self))
    }
}

impl Serialize for Instrument {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Instrument", 7)?;
        s.serialize_field("symbol", &format::ccxt(self))?;
        s.serialize_field("base", self.base())?;
        s.serialize_field("quote", self.quote())?;
        s.serialize_field("settle", &self.settle())?;
        s.serialize_field("market", &self.market())?;
        s.serialize_field("margin", &self.margin())?;
        s.serialize_field("expiry", &self.expiry().map(|d| d.to_string()))?;
        s.end()
    }
}

/// Why a symbol was refused, worded for the trader who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    #[error("no symbol given: type a coin like SOL or a pair like SOL/USDT")]
    Empty,
    #[error("symbol is {len} characters long; the longest accepted is {max}")]
    TooLong { len: usize, max: usize },
    #[error(
        "'{ch}' at position {pos} is not allowed in a symbol (letters, digits and / - _ : only)"
    )]
    IllegalChar { ch: char, pos: usize },
    #[error(
        "{asset} is a quote currency, not a coin: name the coin, e.g. SOL{asset} or SOL/{asset}"
    )]
    OnlyQuote { asset: String },
    #[error("base and quote are both {asset}: a market needs two different assets")]
    SameBaseQuote { asset: String },
    #[error("'{asset}' is not an asset code: {reason}")]
    InvalidAsset { asset: String, reason: &'static str },
    #[error(
        "unknown venue '{name}': use okx, binance, bybit, deribit, kraken, coinbase, kucoin, gate, hyperliquid or ccxt"
    )]
    UnknownVenue { name: String },
    #[error("unknown market '{name}': use spot, perp or future")]
    UnknownMarket { name: String },
    #[error("expiry '{text}' is not a real date: {reason}")]
    InvalidExpiry { text: String, reason: &'static str },
    #[error(
        "'{input}' names no expiry: a dated future needs one, e.g. BTC-USD-250328 or BTC/USD:BTC-250328"
    )]
    MissingExpiry { input: String },
    #[error("'{input}' is a {found} market, but {wanted} was asked for")]
    MarketMismatch {
        input: String,
        found: Market,
        wanted: Market,
    },
    #[error("'{input}' settles in {settle}, which is neither its base nor its quote")]
    UnsupportedSettle { input: String, settle: String },
    #[error("'{input}' is an option; sniper handles spot, perpetuals and dated futures only")]
    Option { input: String },
    #[error("{venue} does not list {what}")]
    Unsupported { venue: Venue, what: &'static str },
    #[error("could not read '{input}' as a symbol: try SOL, SOLUSDT, SOL/USDT or BTC-USDT-SWAP")]
    Malformed { input: String },
    #[error("could not write the result: {0}")]
    Output(String),
}

/// The design's `normalizeSymbol(s, 'spot')`, kept as a wrapper with its results for good input:
/// `SOL` → `SOLUSDT`, `SOLUSDC` → `SOLUSDC`, `BTC-USDT-SWAP` → `BTCUSDT`.
pub fn normalize_spot(input: &str) -> Result<String, SymbolError> {
    parse(input, None, None)?.to_spot().format(Venue::Binance)
}

/// The design's `normalizeSymbol(s, 'derivatives')`: `SOL` → `SOL-USDT-SWAP`.
pub fn normalize_perp(input: &str) -> Result<String, SymbolError> {
    parse(input, None, None)?
        .perp_on(Venue::Okx)
        .format(Venue::Okx)
}

/// The three forms the runner sends to modules, from one user input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SymbolForms {
    /// `SOL`
    pub base: String,
    /// `SOLUSDT` (Binance-style spot id)
    pub spot: String,
    /// `SOL-USDT-SWAP` (OKX-style perpetual id)
    pub perp: String,
}

/// `SOL` → (`SOL`, `SOLUSDT`, `SOL-USDT-SWAP`); `SOLUSDC` → (`SOL`, `SOLUSDC`, `SOL-USDC-SWAP`);
/// `BTC-USDT-SWAP` → (`BTC`, `BTCUSDT`, `BTC-USDT-SWAP`).
pub fn forms(input: &str) -> Result<SymbolForms, SymbolError> {
    let instrument = parse(input, None, None)?;
    Ok(SymbolForms {
        base: instrument.base().to_owned(),
        spot: instrument.to_spot().format(Venue::Binance)?,
        perp: instrument.perp_on(Venue::Okx).format(Venue::Okx)?,
    })
}

/// Reads a comma-separated list (`--symbol SOL,BTC,ETH`, `SNIPER_SYMBOLS`) into the forms of each
/// symbol, in order and without duplicates. The first refused entry fails the whole list, so a typo
/// is reported instead of silently dropped.
pub fn forms_list(input: &str) -> Result<Vec<SymbolForms>, SymbolError> {
    let mut out: Vec<SymbolForms> = Vec::new();
    for entry in input.split(',') {
        let f = forms(entry)?;
        if !out.contains(&f) {
            out.push(f);
        }
    }
    Ok(out)
}
