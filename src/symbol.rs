//! Minimal symbol forms (placeholder until the full instrument model lands).

/// The three forms the runner sends to modules, from one user input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolForms {
    pub base: String,
    pub spot: String,
    pub perp: String,
}

/// Why a symbol was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SymbolError(String);

/// `SOL` → `SOL`, `SOLUSDT`, `SOL-USDT-SWAP`.
pub fn forms(input: &str) -> Result<SymbolForms, SymbolError> {
    let s = input.trim().to_ascii_uppercase();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(SymbolError(format!("not a symbol: {input:?}")));
    }
    let base = s.strip_suffix("USDT").unwrap_or(&s).to_string();
    if base.is_empty() {
        return Err(SymbolError("only a quote asset".into()));
    }
    Ok(SymbolForms {
        spot: format!("{base}USDT"),
        perp: format!("{base}-USDT-SWAP"),
        base,
    })
}
