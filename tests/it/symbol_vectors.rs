//! Public market data (ccxt static market files, see tests/data/ccxt_markets.csv): every
//! (venue id, unified symbol) row must round-trip through parse and format.

use sniper::symbol::{Market, SymbolError, Venue, parse};

const DATA: &str = include_str!("../data/ccxt_markets.csv");

fn market_of_unified(symbol: &str) -> Market {
    match symbol.split_once(':') {
        None => Market::Spot,
        Some((_, tail)) if tail.contains('-') => Market::Future,
        Some(_) => Market::Perp,
    }
}

fn rows() -> Vec<(Venue, &'static str, &'static str)> {
    DATA.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("venue,") && !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split(',');
            let venue: Venue = cols.next().unwrap().parse().unwrap();
            (venue, cols.next().unwrap(), cols.next().unwrap())
        })
        .collect()
}

#[test]
fn every_ccxt_row_round_trips() {
    let rows = rows();
    assert!(rows.len() >= 60, "vector table shrank to {}", rows.len());
    let mut checked = 0;
    for (venue, id, symbol) in rows {
        let is_option = symbol.ends_with("-C") || symbol.ends_with("-P");
        if is_option {
            assert!(
                matches!(
                    parse(id, Some(venue), None),
                    Err(SymbolError::Option { .. })
                ),
                "{venue} {id} should be refused as an option"
            );
            assert!(
                matches!(parse(symbol, None, None), Err(SymbolError::Option { .. })),
                "{symbol}"
            );
            continue;
        }
        let market = market_of_unified(symbol);
        let unified = parse(symbol, None, None).unwrap_or_else(|e| panic!("{symbol}: {e}"));
        let native =
            parse(id, Some(venue), Some(market)).unwrap_or_else(|e| panic!("{venue} {id}: {e}"));
        assert_eq!(native, unified, "{venue} {id} vs {symbol}");
        assert_eq!(
            unified.format(venue).unwrap(),
            id,
            "format {symbol} for {venue}"
        );
        assert_eq!(unified.format(Venue::Ccxt).unwrap(), symbol);
        assert_eq!(unified.market(), market);
        checked += 1;
    }
    assert!(checked >= 55);
}
