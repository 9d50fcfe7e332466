//! Writing an [`Instrument`] as each venue's native id, refusing what the venue does not list.

use super::asset::{is_quote_only, kraken_legacy_code, split_glued, split_kraken_legacy};
use super::expiry::{push_ddmmmyy, push_month_code, push_yymmdd, push_yyyymmdd};
use super::{Instrument, Kind, Margin, SymbolError, Venue};

fn unsupported(venue: Venue, what: &'static str) -> SymbolError {
    SymbolError::Unsupported { venue, what }
}

/// Appends `base` and `quote` glued, refusing pairs whose glued code would read back as another
/// split (a glued id is only safe when its quote is a known suffix that splits there).
fn push_glued(out: &mut String, venue: Venue, base: &str, quote: &str) -> Result<(), SymbolError> {
    let start = out.len();
    out.push_str(base);
    out.push_str(quote);
    match split_glued(&out[start..]) {
        Some((b, q)) if b == base && q == quote => Ok(()),
        _ => Err(unsupported(
            venue,
            "this pair as a glued code (it would read back as another pair)",
        )),
    }
}

/// CCXT unified: `BTC/USDT`, `BTC/USDT:USDT`, `BTC/USD:BTC-250328`.
pub fn ccxt(i: &Instrument) -> String {
    let mut out = String::with_capacity(32);
    out.push_str(i.base());
    out.push('/');
    out.push_str(i.quote());
    if let Some(settle) = i.settle() {
        out.push(':');
        out.push_str(settle);
    }
    if let Some(expiry) = i.expiry() {
        out.push('-');
        push_yymmdd(&mut out, expiry);
    }
    out
}

pub fn format(i: &Instrument, venue: Venue) -> Result<String, SymbolError> {
    let (base, quote) = (i.base(), i.quote());
    if venue.usd_means_inverse()
        && let Some(margin) = i.margin()
        && (margin == Margin::Inverse) != i.quote_asset().is_usd()
    {
        return Err(unsupported(
            venue,
            if margin == Margin::Inverse {
                "inverse contracts quoted in anything but USD"
            } else {
                "linear contracts quoted in USD"
            },
        ));
    }
    let mut out = String::with_capacity(base.len() + quote.len() + 12);
    match (venue, i.kind()) {
        (Venue::Ccxt, _) => return Ok(ccxt(i)),

        (Venue::Okx, kind) => {
            out.push_str(base);
            out.push('-');
            out.push_str(quote);
            match kind {
                Kind::Spot => {}
                Kind::Perpetual { .. } => out.push_str("-SWAP"),
                Kind::Future { expiry, .. } => {
                    out.push('-');
                    push_yymmdd(&mut out, expiry);
                }
            }
        }

        (Venue::Binance, kind) => {
            push_glued(&mut out, venue, base, quote)?;
            match kind {
                Kind::Spot
                | Kind::Perpetual {
                    margin: Margin::Linear,
                } => {}
                Kind::Perpetual {
                    margin: Margin::Inverse,
                } => out.push_str("_PERP"),
                Kind::Future { expiry, .. } => {
                    out.push('_');
                    push_yymmdd(&mut out, expiry);
                }
            }
        }

        // USDC-settled contracts have their own ids: BTCPERP, BTC-27SEP24.
        (
            Venue::Bybit,
            Kind::Perpetual {
                margin: Margin::Linear,
            },
        ) if quote == "USDC" => {
            out.push_str(base);
            out.push_str("PERP");
        }
        (
            Venue::Bybit,
            Kind::Future {
                margin: Margin::Linear,
                expiry,
            },
        ) if quote == "USDC" => {
            if split_glued(base).is_some() {
                return Err(unsupported(
                    venue,
                    "this coin as a USDC future (its name reads as a pair)",
                ));
            }
            out.push_str(base);
            out.push('-');
            push_ddmmmyy(&mut out, expiry);
        }
        (Venue::Bybit, kind) => {
            push_glued(&mut out, venue, base, quote)?;
            match kind {
                Kind::Spot | Kind::Perpetual { .. } => {}
                Kind::Future {
                    margin: Margin::Linear,
                    expiry,
                } => {
                    out.push('-');
                    push_ddmmmyy(&mut out, expiry);
                }
                Kind::Future {
                    margin: Margin::Inverse,
                    expiry,
                } => push_month_code(&mut out, expiry).ok_or_else(|| {
                    unsupported(
                        venue,
                        "inverse futures expiring on any day but the last Friday of a month",
                    )
                })?,
            }
        }

        (Venue::Deribit, kind) => {
            let inverse = i.margin() == Some(Margin::Inverse);
            if inverse && split_glued(base).is_some() {
                return Err(unsupported(
                    venue,
                    "this coin as an inverse contract (its name reads as a pair)",
                ));
            }
            out.push_str(base);
            if !inverse {
                out.push('_');
                out.push_str(quote);
            }
            match kind {
                Kind::Spot => {}
                Kind::Perpetual { .. } => out.push_str("-PERPETUAL"),
                Kind::Future { expiry, .. } => {
                    out.push('-');
                    push_ddmmmyy(&mut out, expiry);
                }
            }
        }

        (Venue::Kraken, kind) => {
            match kind {
                Kind::Spot => {}
                Kind::Perpetual {
                    margin: Margin::Linear,
                } => out.push_str("PF_"),
                Kind::Perpetual {
                    margin: Margin::Inverse,
                } => out.push_str("PI_"),
                Kind::Future {
                    margin: Margin::Linear,
                    ..
                } => out.push_str("FF_"),
                Kind::Future {
                    margin: Margin::Inverse,
                    ..
                } => out.push_str("FI_"),
            }
            if let (Kind::Spot, Some(lb), Some(lq)) =
                (kind, kraken_legacy_code(base), kraken_legacy_code(quote))
                && lb.starts_with('X')
            {
                out.push_str(lb);
                out.push_str(lq);
                return Ok(out);
            }
            let (b, q) = (i.base_asset(), i.quote_asset());
            push_glued(&mut out, venue, b.kraken_code(), q.kraken_code())?;
            if split_kraken_legacy(&out).is_some() {
                return Err(unsupported(
                    venue,
                    "this pair (its code reads as a different legacy pair)",
                ));
            }
            if let Some(expiry) = i.expiry() {
                out.push('_');
                push_yymmdd(&mut out, expiry);
            }
        }

        (Venue::Coinbase, Kind::Spot) => {
            out.push_str(base);
            out.push('-');
            out.push_str(quote);
        }
        (
            Venue::Coinbase,
            Kind::Perpetual {
                margin: Margin::Linear,
            },
        ) if quote == "USDC" => {
            out.push_str(base);
            out.push_str("-PERP-INTX");
        }
        (Venue::Coinbase, Kind::Perpetual { .. }) => {
            return Err(unsupported(venue, "perpetuals other than linear USDC ones"));
        }
        (Venue::Coinbase, Kind::Future { .. }) => return Err(unsupported(venue, "dated futures")),

        (Venue::Kucoin, Kind::Spot) => {
            out.push_str(base);
            out.push('-');
            out.push_str(quote);
        }
        (Venue::Kucoin, Kind::Perpetual { .. }) => {
            if !matches!(quote, "USDT" | "USDC" | "USD") {
                return Err(unsupported(
                    venue,
                    "perpetuals quoted in anything but USDT, USDC or USD",
                ));
            }
            push_glued(&mut out, venue, i.base_asset().kucoin_futures_code(), quote)?;
            out.push('M');
        }
        (Venue::Kucoin, Kind::Future { .. }) => {
            return Err(unsupported(
                venue,
                "dated futures under a name sniper knows (its delivery codes are not mapped)",
            ));
        }

        (Venue::Gate, kind) => {
            out.push_str(base);
            out.push('_');
            out.push_str(quote);
            if let Kind::Future { expiry, .. } = kind {
                out.push('_');
                push_yyyymmdd(&mut out, expiry);
            }
        }

        (Venue::Hyperliquid, kind) => {
            if quote != "USDC" {
                return Err(unsupported(venue, "markets quoted in anything but USDC"));
            }
            match kind {
                Kind::Spot => {
                    out.push_str(base);
                    out.push_str("/USDC");
                }
                Kind::Perpetual {
                    margin: Margin::Linear,
                } => {
                    if split_glued(base).is_some() || is_quote_only(base) {
                        return Err(unsupported(
                            venue,
                            "this coin as a perpetual (its name reads as a pair)",
                        ));
                    }
                    push_hyperliquid_coin(&mut out, base);
                }
                Kind::Perpetual {
                    margin: Margin::Inverse,
                } => return Err(unsupported(venue, "inverse perpetuals")),
                Kind::Future { .. } => return Err(unsupported(venue, "dated futures")),
            }
        }
    }
    Ok(out)
}

/// Hyperliquid names a 1000-coin lot with a lowercase `k`: `1000PEPE` → `kPEPE` (`1000000MOG`,
/// whose lot is not a plain thousand, stays as it is).
fn push_hyperliquid_coin(out: &mut String, base: &str) {
    match base.strip_prefix("1000") {
        Some(coin) if coin.starts_with(|c: char| c.is_ascii_alphabetic()) => {
            out.push('k');
            out.push_str(coin);
        }
        _ => out.push_str(base),
    }
}
