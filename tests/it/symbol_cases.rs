//! The issue's examples, the design's bad cases (each with its expected error), and the CLI.

use jiff::civil::date;
use sniper::symbol::{
    Instrument, Kind, Margin, Market, SymbolArgs, SymbolError, SymbolForms, Venue, forms,
    forms_list, normalize_perp, normalize_spot, parse, parse_with, run_symbol_cli,
};

fn ccxt(input: &str, venue: Option<Venue>, market: Option<Market>) -> String {
    parse(input, venue, market)
        .unwrap_or_else(|e| panic!("{input}: {e}"))
        .format(Venue::Ccxt)
        .unwrap()
}

#[test]
fn every_form_from_the_issue_reads_as_the_right_instrument() {
    let cases: &[(&str, Option<Venue>, Option<Market>, &str)] = &[
        ("SOL", None, None, "SOL/USDT"),
        ("SOLUSDT", None, None, "SOL/USDT"),
        ("SOLUSDC", None, None, "SOL/USDC"),
        ("1000PEPEUSDT", None, None, "1000PEPE/USDT"),
        ("ETHBTC", None, None, "ETH/BTC"),
        ("SOL/USDT", None, None, "SOL/USDT"),
        ("sol-usdt", None, None, "SOL/USDT"),
        ("SOL_USDT", None, None, "SOL/USDT"),
        ("SOL:USDT", None, None, "SOL/USDT"),
        ("  sol/usdt ", None, None, "SOL/USDT"),
        ("SOL/USDT:USDT", None, None, "SOL/USDT:USDT"),
        ("BTC/USD:BTC", None, None, "BTC/USD:BTC"),
        ("BTC/USDT:USDT-250328", None, None, "BTC/USDT:USDT-250328"),
        ("BTC-USDT-SWAP", None, None, "BTC/USDT:USDT"),
        ("BTC-USD-SWAP", None, None, "BTC/USD:BTC"),
        ("BTC-USD-250328", None, None, "BTC/USD:BTC-250328"),
        (
            "BTCUSDT",
            Some(Venue::Binance),
            Some(Market::Spot),
            "BTC/USDT",
        ),
        (
            "BTCUSDT",
            Some(Venue::Binance),
            Some(Market::Perp),
            "BTC/USDT:USDT",
        ),
        ("BTCUSDT_250328", None, None, "BTC/USDT:USDT-250328"),
        ("BTCUSD_PERP", None, None, "BTC/USD:BTC"),
        (
            "BTCUSD",
            Some(Venue::Bybit),
            Some(Market::Perp),
            "BTC/USD:BTC",
        ),
        ("BTCUSDH25", None, None, "BTC/USD:BTC-250328"),
        ("BTCUSDT-28MAR25", None, None, "BTC/USDT:USDT-250328"),
        ("BTC-PERPETUAL", None, None, "BTC/USD:BTC"),
        ("BTC-28MAR25", None, None, "BTC/USD:BTC-250328"),
        ("BTC_USDC-PERPETUAL", None, None, "BTC/USDC:USDC"),
        ("XBTUSD", None, None, "BTC/USD"),
        ("XETHXXBT", None, None, "ETH/BTC"),
        ("PF_USDT", Some(Venue::Gate), None, "PF/USDT"),
        ("WUSDTM", None, None, "W/USDT:USDT"),
        ("XXBTZUSD", None, None, "BTC/USD"),
        ("XETHZEUR", None, None, "ETH/EUR"),
        ("XDGUSD", Some(Venue::Kraken), None, "DOGE/USD"),
        ("PF_XBTUSD", None, None, "BTC/USD:USD"),
        ("PI_XBTUSD", None, None, "BTC/USD:BTC"),
        ("FI_XBTUSD_250328", None, None, "BTC/USD:BTC-250328"),
        ("BTC-USD", None, None, "BTC/USD"),
        ("BTC-PERP-INTX", None, None, "BTC/USDC:USDC"),
        ("XBTUSDTM", None, None, "BTC/USDT:USDT"),
        ("XBTUSDM", None, None, "BTC/USD:BTC"),
        ("BTC_USDT", None, None, "BTC/USDT"),
        (
            "BTC_USDT",
            Some(Venue::Gate),
            Some(Market::Perp),
            "BTC/USDT:USDT",
        ),
        ("BTC_USDT_20250328", None, None, "BTC/USDT:USDT-250328"),
        ("SOL", Some(Venue::Hyperliquid), None, "SOL/USDC:USDC"),
        (
            "SOL/USDC",
            Some(Venue::Hyperliquid),
            Some(Market::Spot),
            "SOL/USDC",
        ),
        ("USDTUSD", None, None, "USDT/USD"),
        ("WBTC", None, None, "WBTC/USDT"),
        ("STETH", None, None, "STETH/USDT"),
        ("BTCFDUSD", None, None, "BTC/FDUSD"),
        ("ETH", None, None, "ETH/USDT"),
    ];
    for (input, venue, market, want) in cases {
        assert_eq!(
            ccxt(input, *venue, *market),
            *want,
            "{input} {venue:?} {market:?}"
        );
    }
}

#[test]
fn the_instrument_model_exposes_its_parts() {
    let i = parse("BTC-USD-250328", None, None).unwrap();
    assert_eq!(
        (i.base(), i.quote(), i.settle()),
        ("BTC", "USD", Some("BTC"))
    );
    assert_eq!(i.market(), Market::Future);
    assert_eq!(
        i.kind(),
        Kind::Future {
            margin: Margin::Inverse,
            expiry: date(2025, 3, 28)
        }
    );
    assert_eq!(i.to_spot().format(Venue::Ccxt).unwrap(), "BTC/USD");
    assert_eq!(i.to_perp().format(Venue::Ccxt).unwrap(), "BTC/USD:USD");
    assert_eq!(
        Instrument::spot("sol", "usdt").unwrap(),
        parse("SOL", None, None).unwrap()
    );
}

#[test]
fn one_perp_formatted_on_every_venue() {
    let i = parse("SOL/USDT:USDT", None, None).unwrap();
    let got: Vec<_> = Venue::ALL
        .iter()
        .map(|v| i.format(*v).map_err(|e| e.to_string()))
        .collect();
    assert_eq!(got[0].as_deref(), Ok("SOL-USDT-SWAP"));
    assert_eq!(got[1].as_deref(), Ok("SOLUSDT"));
    assert_eq!(got[2].as_deref(), Ok("SOLUSDT"));
    assert_eq!(got[3].as_deref(), Ok("SOL_USDT-PERPETUAL"));
    assert_eq!(got[4].as_deref(), Ok("PF_SOLUSDT"));
    assert!(got[5].is_err(), "coinbase lists USDC perps only");
    assert_eq!(got[6].as_deref(), Ok("SOLUSDTM"));
    assert_eq!(got[7].as_deref(), Ok("SOL_USDT"));
    assert!(got[8].is_err(), "hyperliquid quotes in USDC");
    assert_eq!(got[9].as_deref(), Ok("SOL/USDT:USDT"));
}

#[test]
fn design_wrappers_keep_good_results_and_fix_the_bad_ones() {
    assert_eq!(normalize_spot("SOL").unwrap(), "SOLUSDT");
    assert_eq!(normalize_perp("SOL").unwrap(), "SOL-USDT-SWAP");
    assert_eq!(normalize_spot("SOLUSDT").unwrap(), "SOLUSDT");
    assert_eq!(normalize_perp("SOLUSDT").unwrap(), "SOL-USDT-SWAP");
    // Design: SOLUSDC -> SOLUSDCUSDT.
    assert_eq!(normalize_spot("SOLUSDC").unwrap(), "SOLUSDC");
    assert_eq!(normalize_perp("SOLUSDC").unwrap(), "SOL-USDC-SWAP");
    // Design: BTC-USDT-SWAP asked as spot stayed a swap.
    assert_eq!(normalize_spot("BTC-USDT-SWAP").unwrap(), "BTCUSDT");
}

#[test]
fn design_bad_cases_are_typed_errors() {
    // Design: USDT -> -USDT-SWAP.
    assert_eq!(
        normalize_perp("USDT"),
        Err(SymbolError::OnlyQuote {
            asset: "USDT".into()
        })
    );
    assert_eq!(
        normalize_spot("usdc"),
        Err(SymbolError::OnlyQuote {
            asset: "USDC".into()
        })
    );
    // Design: empty -> USDT.
    assert_eq!(normalize_spot(""), Err(SymbolError::Empty));
    assert_eq!(normalize_perp("   "), Err(SymbolError::Empty));
    // Design: BTC-USDT-SWAP asked as spot stayed a swap; asking parse for spot explicitly says why not.
    assert_eq!(
        parse("BTC-USDT-SWAP", None, Some(Market::Spot)),
        Err(SymbolError::MarketMismatch {
            input: "BTC-USDT-SWAP".into(),
            found: Market::Perp,
            wanted: Market::Spot
        })
    );
}

#[test]
fn other_rejections_name_the_problem() {
    assert!(matches!(
        parse("SOL$", None, None),
        Err(SymbolError::IllegalChar { ch: '$', pos: 4 })
    ));
    assert!(matches!(
        parse("SOL USDT", None, None),
        Err(SymbolError::IllegalChar { ch: ' ', pos: 4 })
    ));
    assert!(matches!(
        parse("USDTUSDT", None, None),
        Err(SymbolError::SameBaseQuote { .. })
    ));
    assert!(matches!(
        parse("BTC/BTC", None, None),
        Err(SymbolError::SameBaseQuote { .. })
    ));
    assert!(matches!(
        parse("BTC-USD-250230", None, None),
        Err(SymbolError::InvalidExpiry { .. })
    ));
    assert!(matches!(
        parse("BTC-30FEB25", None, None),
        Err(SymbolError::InvalidExpiry { .. })
    ));
    assert!(matches!(
        parse("BTC/USDT:USDT-251301", None, None),
        Err(SymbolError::InvalidExpiry { .. })
    ));
    assert!(matches!(
        parse("SOL", None, Some(Market::Future)),
        Err(SymbolError::MissingExpiry { .. })
    ));
    assert!(matches!(
        parse("BTC/USDT:ETH", None, None),
        Err(SymbolError::UnsupportedSettle { .. })
    ));
    assert!(matches!(
        parse("BTC-USD-241227-60000-P", None, None),
        Err(SymbolError::Option { .. })
    ));
    assert!(matches!(
        parse("BTC//USDT", None, None),
        Err(SymbolError::Malformed { .. })
    ));
    assert!(matches!(
        parse("BTC--USDT", None, None),
        Err(SymbolError::Malformed { .. })
    ));
    for bad in ["1000", "1000/USDT", "ABCDEFGHIJKLMNOPUSDT"] {
        assert!(
            matches!(
                parse(bad, None, None),
                Err(SymbolError::InvalidAsset { .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        parse(&"A".repeat(49), None, None),
        Err(SymbolError::TooLong { len: 49, .. })
    ));
    assert!(matches!(
        "binanse".parse::<Venue>(),
        Err(SymbolError::UnknownVenue { .. })
    ));
    assert!(matches!(
        "option".parse::<Market>(),
        Err(SymbolError::UnknownMarket { .. })
    ));
    let msg = parse("USDT", None, None).unwrap_err().to_string();
    assert!(
        msg.contains("quote currency") && msg.contains("SOLUSDT"),
        "{msg}"
    );
}

#[test]
fn venues_refuse_what_they_do_not_list() {
    let inverse_future = parse("BTC-USD-250327", None, None).unwrap();
    assert!(matches!(
        inverse_future.format(Venue::Coinbase),
        Err(SymbolError::Unsupported { .. })
    ));
    // 2025-03-27 is a Thursday: Bybit's month code cannot name it.
    assert!(matches!(
        inverse_future.format(Venue::Bybit),
        Err(SymbolError::Unsupported { .. })
    ));
    let linear_usd = parse("BTC/USD:USD", None, None).unwrap();
    assert!(matches!(
        linear_usd.format(Venue::Okx),
        Err(SymbolError::Unsupported { .. })
    ));
    assert_eq!(linear_usd.format(Venue::Kraken).unwrap(), "PF_XBTUSD");
}

#[test]
fn forms_give_the_three_runner_forms() {
    let f = |base: &str, spot: &str, perp: &str| SymbolForms {
        base: base.into(),
        spot: spot.into(),
        perp: perp.into(),
    };
    assert_eq!(forms("SOL").unwrap(), f("SOL", "SOLUSDT", "SOL-USDT-SWAP"));
    assert_eq!(
        forms("SOLUSDC").unwrap(),
        f("SOL", "SOLUSDC", "SOL-USDC-SWAP")
    );
    assert_eq!(
        forms("BTC-USDT-SWAP").unwrap(),
        f("BTC", "BTCUSDT", "BTC-USDT-SWAP")
    );
    assert_eq!(
        forms("BTC-USD-250328").unwrap(),
        f("BTC", "BTCUSD", "BTC-USD-SWAP")
    );
    assert_eq!(
        forms("1000pepe").unwrap(),
        f("1000PEPE", "1000PEPEUSDT", "1000PEPE-USDT-SWAP")
    );
    assert!(forms("USDT").is_err());
}

fn cli(
    input: &str,
    venue: Option<Venue>,
    market: Option<Market>,
    json: bool,
) -> Result<String, SymbolError> {
    cli_from(input, None, venue, market, json)
}

fn cli_from(
    input: &str,
    from: Option<Venue>,
    venue: Option<Venue>,
    market: Option<Market>,
    json: bool,
) -> Result<String, SymbolError> {
    let args = SymbolArgs {
        input: input.into(),
        venue,
        from,
        market,
        json,
    };
    let mut out = Vec::new();
    run_symbol_cli(&args, &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn cli_prints_one_line_or_json() {
    assert_eq!(
        cli("sol", Some(Venue::Okx), Some(Market::Perp), false).unwrap(),
        "SOL-USDT-SWAP\n"
    );
    assert_eq!(cli("XXBTZUSD", None, None, false).unwrap(), "BTC/USD\n");
    let json: serde_json::Value =
        serde_json::from_str(&cli("BTC-USD-SWAP", None, None, true).unwrap()).unwrap();
    assert_eq!(json["instrument"]["symbol"], "BTC/USD:BTC");
    assert_eq!(json["instrument"]["margin"], "inverse");
    assert_eq!(json["instrument"]["settle"], "BTC");
    assert_eq!(json["venues"]["binance"], "BTCUSD_PERP");
    assert_eq!(json["venues"]["deribit"], "BTC-PERPETUAL");
    assert!(
        json["unsupported"]["hyperliquid"]
            .as_str()
            .unwrap()
            .contains("USDC")
    );
    assert!(matches!(
        cli("USDT", None, None, false),
        Err(SymbolError::OnlyQuote { .. })
    ));
}

#[test]
fn cli_args_parse_with_clap() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        args: SymbolArgs,
    }
    let cmd = Cmd::try_parse_from([
        "symbol", "BTCUSDT", "--venue", "okx", "--market", "perp", "--json",
    ])
    .unwrap();
    assert_eq!(cmd.args.venue, Some(Venue::Okx));
    assert_eq!(cmd.args.market, Some(Market::Perp));
    assert!(cmd.args.json);
    assert!(Cmd::try_parse_from(["symbol", "BTC", "--venue", "nope"]).is_err());
}

#[test]
fn symbol_lists_keep_order_drop_duplicates_and_report_typos() {
    let list = forms_list("SOL, btc,ETH,SOLUSDT").unwrap();
    let spots: Vec<_> = list.iter().map(|f| f.spot.as_str()).collect();
    assert_eq!(spots, ["SOLUSDT", "BTCUSDT", "ETHUSDT"]);
    assert_eq!(forms_list("SOL,,BTC"), Err(SymbolError::Empty));
    assert!(matches!(
        forms_list("SOL,US DT"),
        Err(SymbolError::IllegalChar { .. })
    ));
}

/// (input, --from, --venue, --market, the line printed).
type CliCase = (
    &'static str,
    Option<Venue>,
    Option<Venue>,
    Option<Market>,
    &'static str,
);

/// `sniper symbol <input> [--from] [--venue] [--market]`, one line, without the newline.
fn line(input: &str, from: Option<Venue>, venue: Option<Venue>, market: Option<Market>) -> String {
    let out = cli_from(input, from, venue, market, false)
        .unwrap_or_else(|e| panic!("{input} {from:?} -> {venue:?}: {e}"));
    out.trim_end().to_owned()
}

#[test]
fn bybit_usdc_contracts_have_their_own_ids() {
    use Venue::*;
    // (input, --from, --venue, --market, printed)
    let cases: &[CliCase] = &[
        // Was BTCPERPUSDT: BTCPERP is Bybit's USDC perpetual.
        ("BTCPERP", None, Some(Bybit), None, "BTCPERP"),
        ("BTCPERP", None, None, None, "BTC/USDC:USDC"),
        ("ETHPERP", Some(Bybit), Some(Okx), None, "ETH-USDC-SWAP"),
        ("BTCPERP", None, Some(Binance), None, "BTCUSDC"),
        ("BTCPERP", None, Some(Hyperliquid), None, "BTC"),
        // PERP alone is Perpetual Protocol's coin.
        ("PERP", None, None, None, "PERP/USDT"),
        (
            "PERPUSDT",
            Some(Bybit),
            None,
            Some(Market::Perp),
            "PERP/USDT:USDT",
        ),
        // Was BTCUSDU24: on Bybit, BTC-27SEP24 is the USDC future.
        ("BTC-27SEP24", None, Some(Bybit), None, "BTC-27SEP24"),
        (
            "BTC-27SEP24",
            Some(Bybit),
            None,
            None,
            "BTC/USDC:USDC-240927",
        ),
        (
            "BTC-27SEP24",
            Some(Bybit),
            Some(Deribit),
            None,
            "BTC_USDC-27SEP24",
        ),
        // Deribit's id of the same spelling is the inverse future, and stays the default.
        ("BTC-27SEP24", None, None, None, "BTC/USD:BTC-240927"),
        ("BTC-27SEP24", Some(Deribit), Some(Bybit), None, "BTCUSDU24"),
        ("BTC-27SEP24", None, Some(Okx), None, "BTC-USD-240927"),
        // Bybit's USDT futures keep their glued quote.
        (
            "BTCUSDT-27SEP24",
            None,
            Some(Bybit),
            None,
            "BTCUSDT-27SEP24",
        ),
        // The other direction: USDC-settled contracts printed for Bybit.
        ("BTC/USDC:USDC", None, Some(Bybit), None, "BTCPERP"),
        (
            "BTC/USDC:USDC-240927",
            None,
            Some(Bybit),
            None,
            "BTC-27SEP24",
        ),
        ("BTC-USDC-SWAP", None, Some(Bybit), None, "BTCPERP"),
        (
            "SOLUSDC",
            Some(Binance),
            Some(Bybit),
            Some(Market::Perp),
            "SOLPERP",
        ),
        ("BTC_USDC-PERPETUAL", None, Some(Bybit), None, "BTCPERP"),
        // Bybit spot in USDC is still glued.
        ("BTC/USDC", None, Some(Bybit), None, "BTCUSDC"),
    ];
    for (input, from, venue, market, want) in cases {
        assert_eq!(
            line(input, *from, *venue, *market),
            *want,
            "{input} --from {from:?} --venue {venue:?} --market {market:?}"
        );
    }
}

#[test]
fn usdc_settled_contracts_on_every_venue() {
    // (venue, perp BTC/USDC:USDC, future BTC/USDC:USDC-240927); None = the venue refuses it.
    let table: &[(Venue, Option<&str>, Option<&str>)] = &[
        (Venue::Okx, Some("BTC-USDC-SWAP"), Some("BTC-USDC-240927")),
        (Venue::Binance, Some("BTCUSDC"), Some("BTCUSDC_240927")),
        (Venue::Bybit, Some("BTCPERP"), Some("BTC-27SEP24")),
        (
            Venue::Deribit,
            Some("BTC_USDC-PERPETUAL"),
            Some("BTC_USDC-27SEP24"),
        ),
        (Venue::Kraken, Some("PF_XBTUSDC"), Some("FF_XBTUSDC_240927")),
        (Venue::Coinbase, Some("BTC-PERP-INTX"), None),
        (Venue::Kucoin, Some("XBTUSDCM"), None),
        (Venue::Gate, Some("BTC_USDC"), Some("BTC_USDC_20240927")),
        (Venue::Hyperliquid, Some("BTC"), None),
        (
            Venue::Ccxt,
            Some("BTC/USDC:USDC"),
            Some("BTC/USDC:USDC-240927"),
        ),
    ];
    assert_eq!(table.len(), Venue::ALL.len());
    let perp = parse("BTC/USDC:USDC", None, None).unwrap();
    let future = parse("BTC/USDC:USDC-240927", None, None).unwrap();
    for (venue, perp_id, future_id) in table {
        for (instrument, want) in [(perp, perp_id), (future, future_id)] {
            match want {
                Some(id) => {
                    assert_eq!(
                        instrument.format(*venue).as_deref(),
                        Ok(*id),
                        "{instrument} on {venue}"
                    );
                    // And back: the id read as that venue's is the same instrument.
                    assert_eq!(
                        parse(id, Some(*venue), Some(instrument.market())),
                        Ok(instrument),
                        "{venue} {id}"
                    );
                }
                None => assert!(
                    matches!(
                        instrument.format(*venue),
                        Err(SymbolError::Unsupported { .. })
                    ),
                    "{instrument} on {venue}"
                ),
            }
        }
    }
}

#[test]
fn the_venue_printed_does_not_change_how_an_unambiguous_id_reads() {
    // Ids that name their instrument by themselves: every `--venue` reads them as no venue does.
    let ids = [
        "PF_XBTUSD",
        "PI_XBTUSD",
        "FI_XBTUSD_250328",
        "FF_XBTUSD_250328",
        "PF_SOLUSDT",
        "BTC-USDT-SWAP",
        "BTC-USD-SWAP",
        "BTC-USD-250328",
        "BTCUSD_PERP",
        "BTCUSDT_250328",
        "BTCUSDH25",
        "BTCUSDT-28MAR25",
        "BTC-PERPETUAL",
        "BTC_USDC-PERPETUAL",
        "BTC_USDC-28MAR25",
        "BTC-PERP-INTX",
        "XBTUSDTM",
        "XBTUSDM",
        "BTCPERP",
        "BTC_USDT_20250328",
        "BTC/USDT:USDT",
        "BTC/USD:BTC-250328",
        "XXBTZUSD",
        "kPEPE",
        "SOLUSDC",
        "SOL/USDT",
    ];
    for id in ids {
        let alone = parse(id, None, None).unwrap_or_else(|e| panic!("{id}: {e}"));
        for venue in Venue::ALL {
            assert_eq!(
                parse_with(id, None, Some(venue), None),
                Ok(alone),
                "{id} printed for {venue}"
            );
            if let Ok(want) = alone.format(venue) {
                assert_eq!(
                    line(id, None, Some(venue), None),
                    want,
                    "{id} --venue {venue}"
                );
            }
        }
    }
    // Was PF/XBTUSD.
    assert_eq!(
        line("PF_XBTUSD", None, Some(Venue::Ccxt), None),
        "BTC/USD:USD"
    );
    // Gate lists no linear USD perpetual: refused, not read as a Gate pair PF/XBTUSD.
    assert!(matches!(
        cli("PF_XBTUSD", Some(Venue::Gate), None, false),
        Err(SymbolError::Unsupported {
            venue: Venue::Gate,
            ..
        })
    ));
    assert_eq!(
        line("PI_XBTUSD", None, Some(Venue::Okx), None),
        "BTC-USD-SWAP"
    );
    assert_eq!(
        line("FI_XBTUSD_250328", None, Some(Venue::Ccxt), None),
        "BTC/USD:BTC-250328"
    );
    // A source venue named with --from still reads its own ids: PF_USDT is a Gate spot pair.
    assert_eq!(line("PF_USDT", Some(Venue::Gate), None, None), "PF/USDT");
    // What the string leaves open still takes the printed venue's default when --from is absent.
    assert_eq!(line("SOL", None, Some(Venue::Hyperliquid), None), "SOL");
    assert_eq!(
        line("BTCUSD", None, Some(Venue::Bybit), Some(Market::Perp)),
        "BTCUSD"
    );
    // ... and --from wins over it.
    assert_eq!(
        line("SOL", Some(Venue::Binance), Some(Venue::Ccxt), None),
        "SOL/USDT"
    );
}

#[test]
fn hyperliquid_kilo_prefix_keeps_its_meaning() {
    use Venue::*;
    let perp = Some(Market::Perp);
    // (input, --from, --venue, --market, printed)
    let cases: &[CliCase] = &[
        // Was KPEPE.
        ("kPEPE", None, Some(Hyperliquid), perp, "kPEPE"),
        ("kPEPE", Some(Hyperliquid), Some(Hyperliquid), None, "kPEPE"),
        ("kPEPE", None, None, None, "1000PEPE/USDC:USDC"),
        ("kPEPE", None, Some(Binance), None, "1000PEPEUSDC"),
        ("kPEPE", None, Some(Bybit), None, "1000PEPEPERP"),
        ("kSHIB", None, Some(Okx), None, "1000SHIB-USDC-SWAP"),
        ("kBONK/USDC:USDC", None, Some(Hyperliquid), None, "kBONK"),
        // Binance's 1000-lot perps, printed for Hyperliquid (which settles perps in USDC only).
        (
            "1000PEPEUSDT",
            Some(Binance),
            Some(Hyperliquid),
            perp,
            "kPEPE",
        ),
        (
            "1000PEPEUSDC",
            Some(Binance),
            Some(Hyperliquid),
            perp,
            "kPEPE",
        ),
        (
            "1000SHIBUSDT",
            Some(Bybit),
            Some(Hyperliquid),
            perp,
            "kSHIB",
        ),
        ("1000PEPE/USDC:USDC", None, Some(Hyperliquid), None, "kPEPE"),
        // ... and back to the 1000PEPE forms.
        ("kPEPE", None, Some(Binance), None, "1000PEPEUSDC"),
        (
            "1000PEPE-USDT-SWAP",
            None,
            Some(Binance),
            None,
            "1000PEPEUSDT",
        ),
        (
            "1000PEPE-USDT-SWAP",
            None,
            Some(Bybit),
            None,
            "1000PEPEUSDT",
        ),
        // A lot that is not a plain thousand, and all-caps or all-lowercase names, are coins.
        ("1000000MOG", None, Some(Hyperliquid), perp, "1000000MOG"),
        ("KPEPE", None, Some(Hyperliquid), perp, "KPEPE"),
        ("kpepe", None, Some(Hyperliquid), perp, "KPEPE"),
        ("KAITO", None, Some(Hyperliquid), perp, "KAITO"),
    ];
    for (input, from, venue, market, want) in cases {
        assert_eq!(
            line(input, *from, *venue, *market),
            *want,
            "{input} --from {from:?} --venue {venue:?} --market {market:?}"
        );
    }
    // kPEPE is 1000PEPE, not a coin named KPEPE.
    let i = parse("kPEPE", Some(Hyperliquid), None).unwrap();
    assert_eq!(
        (i.base(), i.quote(), i.market()),
        ("1000PEPE", "USDC", Market::Perp)
    );
    // The instrument itself stays strict: Hyperliquid lists no USDT perpetual; the CLI prints its
    // USDC counterpart, and the JSON report names it as such.
    let usdt = parse("1000PEPEUSDT", Some(Binance), perp).unwrap();
    assert!(usdt.format(Hyperliquid).is_err());
    assert_eq!(
        usdt.counterpart_on(Hyperliquid).map(|c| c.to_string()),
        Some("1000PEPE/USDC:USDC".to_owned())
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli_from("1000PEPEUSDT", Some(Binance), None, perp, true).unwrap())
            .unwrap();
    assert_eq!(json["venues"]["binance"], "1000PEPEUSDT");
    assert_eq!(json["venues"]["bybit"], "1000PEPEUSDT");
    assert_eq!(json["counterparts"]["hyperliquid"], "kPEPE");
    assert!(json["unsupported"]["hyperliquid"].is_string());
    // Inverse contracts have no counterpart there.
    assert!(cli("BTC-USD-SWAP", Some(Hyperliquid), None, false).is_err());
}

#[test]
fn cli_from_is_its_own_option() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        args: SymbolArgs,
    }
    let cmd = Cmd::try_parse_from([
        "symbol",
        "BTC-27SEP24",
        "--from",
        "bybit",
        "--venue",
        "ccxt",
    ])
    .unwrap();
    assert_eq!(cmd.args.from, Some(Venue::Bybit));
    assert_eq!(cmd.args.venue, Some(Venue::Ccxt));
    let mut out = Vec::new();
    run_symbol_cli(&cmd.args, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "BTC/USDC:USDC-240927\n");
    assert!(Cmd::try_parse_from(["symbol", "BTC", "--from", "nope"]).is_err());
}
