//! Expiry date codes used in futures ids: `250328` (YYMMDD), `20250328` (YYYYMMDD), `28MAR25`
//! (DDMMMYY) and Bybit's month codes (`H25` = March 2025, last Friday).

use jiff::civil::{Date, Weekday};

use super::SymbolError;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// CME month letters, January to December (Bybit inverse futures: `BTCUSDH25`).
const MONTH_CODES: [u8; 12] = *b"FGHJKMNQUVXZ";

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u32, |acc, b| {
        acc.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

fn make(year: u32, month: u32, day: u32, text: &str) -> Result<Date, SymbolError> {
    let invalid = |reason: &'static str| SymbolError::InvalidExpiry {
        text: text.to_owned(),
        reason,
    };
    if !(1..=12).contains(&month) {
        return Err(invalid("there is no such month"));
    }
    if !(2000..=2099).contains(&year) {
        return Err(invalid("the year is outside 2000-2099"));
    }
    Date::new(year as i16, month as i8, day as i8)
        .map_err(|_| invalid("that day does not exist in that month"))
}

/// `250328` → 2025-03-28. `None` when `s` is not six digits; an error when it is but names no real day.
pub fn parse_yymmdd(s: &str) -> Option<Result<Date, SymbolError>> {
    if s.len() != 6 {
        return None;
    }
    let n = digits(s)?;
    Some(make(2000 + n / 10000, (n / 100) % 100, n % 100, s))
}

/// `20250328` → 2025-03-28 (Gate delivery contracts).
pub fn parse_yyyymmdd(s: &str) -> Option<Result<Date, SymbolError>> {
    if s.len() != 8 {
        return None;
    }
    let n = digits(s)?;
    Some(make(n / 10000, (n / 100) % 100, n % 100, s))
}

/// `28MAR25` or `7MAR25` → a date (Deribit, Bybit linear futures).
pub fn parse_ddmmmyy(s: &str) -> Option<Result<Date, SymbolError>> {
    let n = s.len();
    if !(6..=7).contains(&n) || !s.is_char_boundary(n - 5) {
        return None;
    }
    let (day, rest) = s.split_at(n - 5);
    let (mon, year) = rest.split_at(3);
    let day = digits(day)?;
    let year = digits(year)?;
    if !mon.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let Some(month) = MONTHS.iter().position(|m| *m == mon) else {
        return Some(Err(SymbolError::InvalidExpiry {
            text: s.to_owned(),
            reason: "the month is not JAN..DEC",
        }));
    };
    Some(make(2000 + year, month as u32 + 1, day, s))
}

/// `H25` → the last Friday of March 2025 (Bybit inverse futures). `None` when not that shape.
pub fn parse_month_code(s: &str) -> Option<Result<Date, SymbolError>> {
    let b = s.as_bytes();
    if b.len() != 3 {
        return None;
    }
    let month = MONTH_CODES.iter().position(|&c| c == b[0])?;
    let year = digits(&s[1..])?;
    Some(make(2000 + year, month as u32 + 1, 1, s).and_then(|first| last_friday(first, s)))
}

fn last_friday(any_day_of_month: Date, text: &str) -> Result<Date, SymbolError> {
    any_day_of_month
        .nth_weekday_of_month(-1, Weekday::Friday)
        .map_err(|_| SymbolError::InvalidExpiry {
            text: text.to_owned(),
            reason: "no last Friday in that month",
        })
}

fn push2(out: &mut String, n: i8) {
    out.push(char::from(b'0' + (n / 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Appends `YYMMDD`.
pub fn push_yymmdd(out: &mut String, d: Date) {
    push2(out, (d.year() % 100) as i8);
    push2(out, d.month());
    push2(out, d.day());
}

/// Appends `YYYYMMDD`.
pub fn push_yyyymmdd(out: &mut String, d: Date) {
    push2(out, (d.year() / 100) as i8);
    push_yymmdd(out, d);
}

/// Appends `DDMMMYY` with the day unpadded, as Deribit writes it (`7MAR25`, `28MAR25`).
pub fn push_ddmmmyy(out: &mut String, d: Date) {
    if d.day() >= 10 {
        out.push(char::from(b'0' + (d.day() / 10) as u8));
    }
    out.push(char::from(b'0' + (d.day() % 10) as u8));
    out.push_str(MONTHS[(d.month() - 1) as usize]);
    push2(out, (d.year() % 100) as i8);
}

/// Appends Bybit's month code (`H25`) when `d` is the last Friday of its month; `None` otherwise,
/// because the code cannot name any other day.
pub fn push_month_code(out: &mut String, d: Date) -> Option<()> {
    let friday = d.nth_weekday_of_month(-1, Weekday::Friday).ok()?;
    if friday != d {
        return None;
    }
    out.push(char::from(MONTH_CODES[(d.month() - 1) as usize]));
    push2(out, (d.year() % 100) as i8);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_the_same_day() {
        let d = Date::new(2025, 3, 28).unwrap();
        assert_eq!(parse_yymmdd("250328").unwrap().unwrap(), d);
        assert_eq!(parse_yyyymmdd("20250328").unwrap().unwrap(), d);
        assert_eq!(parse_ddmmmyy("28MAR25").unwrap().unwrap(), d);
        assert_eq!(parse_month_code("H25").unwrap().unwrap(), d);
        assert_eq!(
            parse_ddmmmyy("7MAR25").unwrap().unwrap(),
            Date::new(2025, 3, 7).unwrap()
        );
    }

    #[test]
    fn impossible_days_are_errors_not_other_days() {
        assert!(parse_yymmdd("250230").unwrap().is_err());
        assert!(parse_yymmdd("251301").unwrap().is_err());
        assert!(parse_ddmmmyy("30FEB25").unwrap().is_err());
        assert!(parse_ddmmmyy("28XYZ25").unwrap().is_err());
        assert!(parse_yymmdd("25032").is_none());
        assert!(parse_ddmmmyy("PERPETUAL").is_none());
    }

    #[test]
    fn month_code_only_names_last_fridays() {
        let mut s = String::new();
        assert!(push_month_code(&mut s, Date::new(2025, 3, 27).unwrap()).is_none());
        assert!(push_month_code(&mut s, Date::new(2025, 3, 28).unwrap()).is_some());
        assert_eq!(s, "H25");
    }
}
