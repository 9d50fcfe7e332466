//! `sniper symbol <INPUT>`: parse a pasted symbol and print it for a venue, or as JSON for all.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::{Instrument, Market, SymbolError, Venue, parse_with};

/// Arguments of `sniper symbol`. Without `--venue` the symbol is printed in CCXT unified notation.
#[derive(Debug, Clone, clap::Args)]
pub struct SymbolArgs {
    /// The symbol as you have it: SOL, SOLUSDT, SOL/USDT:USDT, BTC-USDT-SWAP, PF_XBTUSD, …
    pub input: String,
    /// Venue to print for: okx, binance, bybit, deribit, kraken, coinbase, kucoin, gate,
    /// hyperliquid or ccxt. It never changes how an id that names its market is read; without
    /// --from it settles only what the symbol leaves open (a bare coin's quote, BTC-27SEP24). When
    /// the venue does not list the market but lists its USDC counterpart (Hyperliquid, Coinbase
    /// perpetuals), that counterpart is printed.
    #[arg(long)]
    pub venue: Option<Venue>,
    /// Venue the symbol comes from, for ids that differ by venue (BTC-27SEP24 is Deribit's inverse
    /// future and Bybit's USDC one; a bare coin's quote). Same names as --venue.
    #[arg(long)]
    pub from: Option<Venue>,
    /// Market wanted when the symbol does not say: spot, perp or future.
    #[arg(long)]
    pub market: Option<Market>,
    /// Print the parsed instrument and its id on every venue as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    input: &'a str,
    instrument: Instrument,
    /// Venue → native id, for venues that list this instrument.
    venues: BTreeMap<&'static str, String>,
    /// Venue → why it cannot list this instrument.
    unsupported: BTreeMap<&'static str, String>,
    /// Venue → the id of what it lists in place of this instrument (its USDC perpetual).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    counterparts: BTreeMap<&'static str, String>,
}

/// Runs `sniper symbol`: one line with the id (script-friendly), or the JSON report with `--json`.
/// A refused symbol is an `Err` whose message is meant for the user (the CLI exits 2 with it).
pub fn run_symbol_cli(args: &SymbolArgs, out: &mut dyn Write) -> Result<(), SymbolError> {
    let instrument = parse_with(&args.input, args.from, args.venue, args.market)?;
    tracing::debug!(input = %args.input, instrument = %instrument, "symbol parsed");
    let io = |e: std::io::Error| SymbolError::Output(e.to_string());
    if args.json {
        let mut report = Report {
            input: &args.input,
            instrument,
            venues: BTreeMap::new(),
            unsupported: BTreeMap::new(),
            counterparts: BTreeMap::new(),
        };
        for venue in Venue::ALL {
            match instrument.format(venue) {
                Ok(id) => report.venues.insert(venue.as_str(), id),
                Err(e) => report.unsupported.insert(venue.as_str(), e.to_string()),
            };
            if let Some(id) = counterpart_id(&instrument, venue) {
                report.counterparts.insert(venue.as_str(), id);
            }
        }
        serde_json::to_writer_pretty(&mut *out, &report)
            .map_err(|e| SymbolError::Output(e.to_string()))?;
        writeln!(out).map_err(io)?;
    } else {
        let venue = args.venue.unwrap_or(Venue::Ccxt);
        let id = match instrument.format(venue) {
            Ok(id) => id,
            Err(refused) => {
                let id = counterpart_id(&instrument, venue).ok_or(refused)?;
                // stdout stays the bare id; say on stderr that it is not the same market.
                tracing::info!(%instrument, %venue, "not listed there; printing its counterpart {id}");
                id
            }
        };
        writeln!(out, "{id}").map_err(io)?;
    }
    Ok(())
}

/// The id of the market `venue` lists in place of `instrument`, if any.
fn counterpart_id(instrument: &Instrument, venue: Venue) -> Option<String> {
    let counterpart = instrument.counterpart_on(venue)?;
    counterpart.format(venue).ok()
}
