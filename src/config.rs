//! Configuration: read once from flags and environment variables, validated, turned into typed values.
//!
//! Every variable has a matching flag (a flag beats the variable). An invalid value is a
//! [`ConfigError`] naming the variable, the value and what is accepted; `main` exits with code 2.

use std::time::Duration;

use clap::Args;
use url::Url;

use crate::module_id::ModuleId;
use crate::resilience::breaker::{BreakerConfig, BreakerMode, BreakerSettings};
use crate::window::{ActiveWindow, WindowError};

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {var}={value:?}: expected {accepted}")]
pub struct ConfigError {
    /// The environment variable (the flag has the same name in kebab case).
    pub var: &'static str,
    pub value: String,
    pub accepted: String,
}

impl ConfigError {
    pub fn new(var: &'static str, value: &str, accepted: impl Into<String>) -> Self {
        ConfigError {
            var,
            value: value.to_string(),
            accepted: accepted.into(),
        }
    }
}

/// Raw configuration as given on the command line or in the environment. Shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Backend base URL; may carry a path prefix (http://host:8000/py). Requests never leave it.
    #[arg(long, env = "PY_BASE_URL", default_value = "http://127.0.0.1:8000")]
    pub py_base_url: String,
    /// ETF flows module: on|off|true|false|1|0.
    #[arg(long, env = "FEATURE_ETF", default_value = "on")]
    pub feature_etf: String,
    /// Liquidation heatmap module: on|off|true|false|1|0.
    #[arg(long, env = "FEATURE_HEATMAP", default_value = "on")]
    pub feature_heatmap: String,
    /// Spot order book module: on|off|true|false|1|0.
    #[arg(long, env = "FEATURE_SPOT_OB", default_value = "on")]
    pub feature_spot_ob: String,
    /// Whale alerts module: on|off|true|false|1|0.
    #[arg(long, env = "FEATURE_WHALE_ALERTS", default_value = "on")]
    pub feature_whale_alerts: String,
    /// Institutional bias module: on|off|true|false|1|0.
    #[arg(long, env = "FEATURE_BIAS", default_value = "on")]
    pub feature_bias: String,
    /// IANA time zone of the active trading window.
    #[arg(long, env = "TRADING_TIMEZONE", default_value = "Asia/Jakarta")]
    pub trading_timezone: String,
    /// Start of the active trading window (HH:MM, inclusive).
    #[arg(long, env = "ACTIVE_TRADING_START", default_value = "07:00")]
    pub active_trading_start: String,
    /// End of the active trading window (HH:MM, exclusive; may be before the start to cross midnight).
    #[arg(long, env = "ACTIVE_TRADING_END", default_value = "23:30")]
    pub active_trading_end: String,
    /// Symbols to run, comma separated (SOL, SOLUSDT, SOL-USDT-SWAP, SOL/USDT …).
    #[arg(long = "symbol", env = "SNIPER_SYMBOLS", default_value = "SOL")]
    pub symbols: String,
    /// Timeout of each module (e.g. 500ms, 3s).
    #[arg(long, env = "SNIPER_MODULE_TIMEOUT", default_value = "3s")]
    pub module_timeout: String,
    /// Deadline of a whole run.
    #[arg(long, env = "SNIPER_RUN_DEADLINE", default_value = "5s")]
    pub run_deadline: String,
    /// TCP connect timeout to the backend.
    #[arg(long, env = "SNIPER_CONNECT_TIMEOUT", default_value = "1s")]
    pub connect_timeout: String,
    /// Largest response body accepted from the backend, in bytes (checked while streaming).
    #[arg(long, env = "SNIPER_MAX_BODY", default_value = "8388608")]
    pub max_body: String,
    /// How long a fetched /openapi.json is trusted.
    #[arg(long, env = "SNIPER_DISCOVERY_TTL", default_value = "10m")]
    pub discovery_ttl: String,
    /// How long a run waits for discovery before using what it has (last good map or defaults).
    #[arg(long, env = "SNIPER_DISCOVERY_TIMEOUT", default_value = "1s")]
    pub discovery_timeout: String,
    /// How long a module's circuit stays open after an entitlement answer (402, "upgrade plan").
    #[arg(long, env = "SNIPER_BREAKER_ENTITLEMENT_OPEN", default_value_t = fmt_duration(BreakerConfig::default().entitlement_open))]
    pub breaker_entitlement_open: String,
    /// Longest a rate-limited module waits (a longer Retry-After is capped to this).
    #[arg(long, env = "SNIPER_BREAKER_RATE_LIMIT_CAP", default_value_t = fmt_duration(BreakerConfig::default().rate_limit_cap))]
    pub breaker_rate_limit_cap: String,
    /// Consecutive transient or bad-payload failures that open a circuit.
    #[arg(long, env = "SNIPER_BREAKER_FAILURE_THRESHOLD", default_value_t = BreakerConfig::default().failure_threshold.to_string())]
    pub breaker_failure_threshold: String,
    /// First open time of the doubling schedule after transient failures.
    #[arg(long, env = "SNIPER_BREAKER_BASE_OPEN", default_value_t = fmt_duration(BreakerConfig::default().base_open))]
    pub breaker_base_open: String,
    /// Longest open time of the doubling schedule.
    #[arg(long, env = "SNIPER_BREAKER_MAX_OPEN", default_value_t = fmt_duration(BreakerConfig::default().max_open))]
    pub breaker_max_open: String,
    /// Longest open time after transient failures (5xx, timeouts, resets): a healed backend is
    /// probed at most this long after it heals.
    #[arg(long, env = "SNIPER_BREAKER_TRANSIENT_MAX_OPEN", default_value_t = fmt_duration(BreakerConfig::default().transient_max_open))]
    pub breaker_transient_max_open: String,
    /// Modules whose circuit is forced open, comma separated (etf,heatmap,spot_ob,whale_alerts,bias).
    #[arg(long, env = "SNIPER_BREAKER_FORCE_OPEN", default_value = "")]
    pub breaker_force_open: String,
    /// Modules whose breaker is disabled (always call, never trip), comma separated.
    #[arg(long, env = "SNIPER_BREAKER_DISABLE", default_value = "")]
    pub breaker_disable: String,
    /// Asset whose ETF flows are fetched (the design asks BTC).
    #[arg(long, env = "ETF_ASSET", default_value = "BTC")]
    pub etf_asset: String,
    /// Heatmap timeframe: 5m|15m|1h|4h|1d.
    #[arg(long, env = "HEATMAP_TIMEFRAME", default_value = "1h")]
    pub heatmap_timeframe: String,
    /// Symbol form sent to the heatmap only when the backend's spec gives no evidence (enum,
    /// pattern, example, default, description): base (SOL), spot (SOLUSDT) or perp
    /// (SOL-USDT-SWAP). Unset: base, the form the real backend documents.
    #[arg(long, env = "HEATMAP_SYMBOL_FORM")]
    pub heatmap_symbol_form: Option<String>,
    /// Maximum age of the order book's newest point before it is `SPOT_OB_STALE`.
    #[arg(long, env = "SNIPER_MAX_AGE_SPOT_OB", default_value_t = fmt_duration(crate::market::default_max_age(ModuleId::SpotOb)))]
    pub max_age_spot_ob: String,
    /// Maximum age of the heatmap's newest point before it is `HEATMAP_STALE`.
    #[arg(long, env = "SNIPER_MAX_AGE_HEATMAP", default_value_t = fmt_duration(crate::market::default_max_age(ModuleId::Heatmap)))]
    pub max_age_heatmap: String,
    /// Maximum age of the newest whale alert before the feed is `WHALE_ALERTS_STALE`.
    #[arg(long, env = "SNIPER_MAX_AGE_WHALE_ALERTS", default_value_t = fmt_duration(crate::market::default_max_age(ModuleId::WhaleAlerts)))]
    pub max_age_whale_alerts: String,
    /// Maximum age of the newest ETF day (from the end of that day) before `ETF_STALE`.
    #[arg(long, env = "SNIPER_MAX_AGE_ETF", default_value_t = fmt_duration(crate::market::default_max_age(ModuleId::Etf)))]
    pub max_age_etf: String,
    /// Refresh interval of the order book: its data is reused, not fetched, while younger (0 = every run).
    #[arg(long, env = "SNIPER_REFRESH_SPOT_OB", default_value_t = fmt_duration(crate::market::default_refresh(ModuleId::SpotOb)))]
    pub refresh_spot_ob: String,
    /// Refresh interval of the liquidation heatmap.
    #[arg(long, env = "SNIPER_REFRESH_HEATMAP", default_value_t = fmt_duration(crate::market::default_refresh(ModuleId::Heatmap)))]
    pub refresh_heatmap: String,
    /// Refresh interval of whale alerts.
    #[arg(long, env = "SNIPER_REFRESH_WHALE_ALERTS", default_value_t = fmt_duration(crate::market::default_refresh(ModuleId::WhaleAlerts)))]
    pub refresh_whale_alerts: String,
    /// Refresh interval of ETF flows (they change once a trading day).
    #[arg(long, env = "SNIPER_REFRESH_ETF", default_value_t = fmt_duration(crate::market::default_refresh(ModuleId::Etf)))]
    pub refresh_etf: String,
    /// Refresh interval of the institutional bias.
    #[arg(long, env = "SNIPER_REFRESH_BIAS", default_value_t = fmt_duration(crate::market::default_refresh(ModuleId::Bias)))]
    pub refresh_bias: String,
    /// Backend requests a minute shared by scheduled runs, manual runs and the gateway (unset = unlimited).
    #[arg(long, env = "SNIPER_BUDGET_PER_MIN")]
    pub budget_per_min: Option<String>,
    /// Shares of the budget in percent: scheduled/manual/gateway.
    #[arg(long, env = "SNIPER_BUDGET_SHARES", default_value = "60/10/30")]
    pub budget_shares: String,
    /// Most backend requests of the runs in flight at once (all symbols and modules together).
    #[arg(long, env = "SNIPER_MAX_IN_FLIGHT", default_value = "64")]
    pub max_in_flight: String,
    /// Maximum age of the bias before it is `BIAS_STALE`.
    #[arg(long, env = "SNIPER_MAX_AGE_BIAS", default_value_t = fmt_duration(crate::market::default_max_age(ModuleId::Bias)))]
    pub max_age_bias: String,
    /// Exchange of the spot order book.
    #[arg(long, env = "SPOT_OB_EXCHANGE", default_value = "binance")]
    pub spot_ob_exchange: String,
    /// Depth of the spot order book (1..=5000).
    #[arg(long, env = "SPOT_OB_DEPTH", default_value = "50")]
    pub spot_ob_depth: String,
    /// How far ahead of this host's clock a point's time may be (the backend's clock skew);
    /// further ahead, the answer is `<MODULE>_STALE` ("time in the future"). `0` allows none.
    #[arg(long, env = "SNIPER_MAX_CLOCK_SKEW", default_value = "5s")]
    pub max_clock_skew: String,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub base_url: Url,
    pub features: Features,
    /// The active trading window (`TRADING_TIMEZONE`, `ACTIVE_TRADING_START`, `ACTIVE_TRADING_END`).
    pub window: ActiveWindow,
    /// The configured symbols, parsed once: what the user typed and the forms modules send.
    pub symbols: Vec<RunSymbol>,
    pub module_timeout: Duration,
    pub run_deadline: Duration,
    pub connect_timeout: Duration,
    pub max_body: usize,
    pub discovery_ttl: Duration,
    pub discovery_timeout: Duration,
    pub breaker: BreakerSettings,
    pub etf_asset: String,
    pub heatmap_timeframe: String,
    /// `None`: the module's own default (base), used only where the spec gives no evidence.
    pub heatmap_symbol_form: Option<crate::symbol::SymbolForm>,
    /// Per module: how long usable data is reused before it is fetched again.
    pub refresh: std::collections::BTreeMap<crate::module_id::ModuleId, Duration>,
    /// The backend budget and its shares.
    pub budget: crate::budget::BudgetConfig,
    /// Most backend requests of the runs in flight at once.
    pub max_in_flight: usize,
    /// Per module: how old the newest point may be before the answer is stale.
    pub max_age: std::collections::BTreeMap<crate::module_id::ModuleId, Duration>,
    pub spot_ob_exchange: String,
    pub spot_ob_depth: u32,
    /// How far ahead of now a point's time may be before it is refused (`SNIPER_MAX_CLOCK_SKEW`).
    pub max_clock_skew: Duration,
    /// True when the backend is the embedded sandbox; every result then says so.
    pub sandbox: bool,
}

/// One configured symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSymbol {
    /// As given (`SOL`, `BTC-USDT-SWAP` …).
    pub input: String,
    pub forms: crate::symbol::SymbolForms,
}

/// Which modules are enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    pub etf: bool,
    pub heatmap: bool,
    pub spot_ob: bool,
    pub whale_alerts: bool,
    pub bias: bool,
}

impl Features {
    pub fn enabled(&self, m: ModuleId) -> bool {
        match m {
            ModuleId::Etf => self.etf,
            ModuleId::Heatmap => self.heatmap,
            ModuleId::SpotOb => self.spot_ob,
            ModuleId::WhaleAlerts => self.whale_alerts,
            ModuleId::Bias => self.bias,
        }
    }
}

/// Heatmap timeframes sniper accepts.
pub const HEATMAP_TIMEFRAMES: [&str; 5] = ["5m", "15m", "1h", "4h", "1d"];

impl ConfigArgs {
    /// Validate everything; the first bad value is reported.
    pub fn validate(&self) -> Result<Config, ConfigError> {
        let base_url = parse_base_url("PY_BASE_URL", &self.py_base_url)?;
        let features = Features {
            etf: parse_bool("FEATURE_ETF", &self.feature_etf)?,
            heatmap: parse_bool("FEATURE_HEATMAP", &self.feature_heatmap)?,
            spot_ob: parse_bool("FEATURE_SPOT_OB", &self.feature_spot_ob)?,
            whale_alerts: parse_bool("FEATURE_WHALE_ALERTS", &self.feature_whale_alerts)?,
            bias: parse_bool("FEATURE_BIAS", &self.feature_bias)?,
        };
        let window = ActiveWindow::parse(
            &self.trading_timezone,
            &self.active_trading_start,
            &self.active_trading_end,
        )
        .map_err(|e| match e {
            WindowError::Time { var, value } => ConfigError::new(
                var,
                &value,
                "a time of day HH:MM on the 24-hour clock (07:00)",
            ),
            WindowError::TimeZone { value } => ConfigError::new(
                "TRADING_TIMEZONE",
                &value,
                "an IANA time zone name such as Asia/Jakarta or America/New_York",
            ),
        })?;
        let symbols = parse_symbols("SNIPER_SYMBOLS", &self.symbols)?;
        let module_timeout = parse_duration("SNIPER_MODULE_TIMEOUT", &self.module_timeout)?;
        let run_deadline = parse_duration("SNIPER_RUN_DEADLINE", &self.run_deadline)?;
        let connect_timeout = parse_duration("SNIPER_CONNECT_TIMEOUT", &self.connect_timeout)?;
        let max_body = parse_range("SNIPER_MAX_BODY", &self.max_body, 1024, 1 << 30)? as usize;
        let discovery_ttl = parse_duration("SNIPER_DISCOVERY_TTL", &self.discovery_ttl)?;
        let discovery_timeout =
            parse_duration("SNIPER_DISCOVERY_TIMEOUT", &self.discovery_timeout)?;
        let breaker = self.breaker_settings()?;
        let etf_asset = self.etf_asset.trim().to_ascii_uppercase();
        if etf_asset.is_empty()
            || etf_asset.len() > 16
            || !etf_asset.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(ConfigError::new(
                "ETF_ASSET",
                &self.etf_asset,
                "an asset code of 1-16 letters or digits, such as BTC or ETH",
            ));
        }
        let heatmap_timeframe = self.heatmap_timeframe.trim().to_string();
        if !HEATMAP_TIMEFRAMES.contains(&heatmap_timeframe.as_str()) {
            return Err(ConfigError::new(
                "HEATMAP_TIMEFRAME",
                &self.heatmap_timeframe,
                "one of 5m, 15m, 1h, 4h, 1d",
            ));
        }
        let heatmap_symbol_form = match self
            .heatmap_symbol_form
            .as_deref()
            .map(|v| (v, v.trim().to_ascii_lowercase()))
        {
            None => None,
            Some((_, v)) if v.is_empty() => None,
            Some((_, v)) if v == "base" => Some(crate::symbol::SymbolForm::Base),
            Some((_, v)) if v == "spot" => Some(crate::symbol::SymbolForm::Spot),
            Some((_, v)) if v == "perp" => Some(crate::symbol::SymbolForm::Perp),
            Some((raw, _)) => {
                return Err(ConfigError::new(
                    "HEATMAP_SYMBOL_FORM",
                    raw,
                    "one of base, spot, perp (or unset)",
                ));
            }
        };
        let mut max_age = std::collections::BTreeMap::new();
        for (m, var, v) in [
            (
                crate::module_id::ModuleId::SpotOb,
                "SNIPER_MAX_AGE_SPOT_OB",
                &self.max_age_spot_ob,
            ),
            (
                crate::module_id::ModuleId::Heatmap,
                "SNIPER_MAX_AGE_HEATMAP",
                &self.max_age_heatmap,
            ),
            (
                crate::module_id::ModuleId::WhaleAlerts,
                "SNIPER_MAX_AGE_WHALE_ALERTS",
                &self.max_age_whale_alerts,
            ),
            (
                crate::module_id::ModuleId::Etf,
                "SNIPER_MAX_AGE_ETF",
                &self.max_age_etf,
            ),
            (
                crate::module_id::ModuleId::Bias,
                "SNIPER_MAX_AGE_BIAS",
                &self.max_age_bias,
            ),
        ] {
            max_age.insert(m, parse_duration(var, v)?);
        }
        let mut refresh = std::collections::BTreeMap::new();
        for (m, var, v) in [
            (
                crate::module_id::ModuleId::SpotOb,
                "SNIPER_REFRESH_SPOT_OB",
                &self.refresh_spot_ob,
            ),
            (
                crate::module_id::ModuleId::Heatmap,
                "SNIPER_REFRESH_HEATMAP",
                &self.refresh_heatmap,
            ),
            (
                crate::module_id::ModuleId::WhaleAlerts,
                "SNIPER_REFRESH_WHALE_ALERTS",
                &self.refresh_whale_alerts,
            ),
            (
                crate::module_id::ModuleId::Etf,
                "SNIPER_REFRESH_ETF",
                &self.refresh_etf,
            ),
            (
                crate::module_id::ModuleId::Bias,
                "SNIPER_REFRESH_BIAS",
                &self.refresh_bias,
            ),
        ] {
            refresh.insert(m, parse_duration_or_zero(var, v)?);
        }
        let budget = crate::budget::BudgetConfig {
            per_min: match self.budget_per_min.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(v) => Some(
                    v.parse::<std::num::NonZeroU32>()
                        .ok()
                        .filter(|n| n.get() <= 1_000_000)
                        .ok_or_else(|| {
                            ConfigError::new(
                                "SNIPER_BUDGET_PER_MIN",
                                v,
                                "a whole number of requests a minute, 1..=1000000 (unset = unlimited)",
                            )
                        })?,
                ),
            },
            shares_pct: parse_shares("SNIPER_BUDGET_SHARES", &self.budget_shares)?,
        };
        let max_in_flight =
            parse_range("SNIPER_MAX_IN_FLIGHT", &self.max_in_flight, 1, 4096)? as usize;
        let spot_ob_exchange = self.spot_ob_exchange.trim().to_ascii_lowercase();
        if spot_ob_exchange.is_empty()
            || spot_ob_exchange.len() > 32
            || !spot_ob_exchange
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ConfigError::new(
                "SPOT_OB_EXCHANGE",
                &self.spot_ob_exchange,
                "an exchange name of letters, digits, '-' or '_' (e.g. binance)",
            ));
        }
        let spot_ob_depth = parse_range("SPOT_OB_DEPTH", &self.spot_ob_depth, 1, 5000)? as u32;
        Ok(Config {
            base_url,
            features,
            window,
            symbols,
            module_timeout,
            run_deadline,
            connect_timeout,
            max_body,
            discovery_ttl,
            discovery_timeout,
            breaker,
            etf_asset,
            heatmap_timeframe,
            heatmap_symbol_form,
            max_age,
            refresh,
            budget,
            max_in_flight,
            spot_ob_exchange,
            spot_ob_depth,
            max_clock_skew: if ["0", "0s", "0ms"].contains(&self.max_clock_skew.trim()) {
                Duration::ZERO
            } else {
                parse_duration("SNIPER_MAX_CLOCK_SKEW", &self.max_clock_skew)?
            },
            sandbox: false,
        })
    }
}

impl ConfigArgs {
    fn breaker_settings(&self) -> Result<BreakerSettings, ConfigError> {
        let config = BreakerConfig {
            entitlement_open: parse_duration(
                "SNIPER_BREAKER_ENTITLEMENT_OPEN",
                &self.breaker_entitlement_open,
            )?,
            rate_limit_cap: parse_duration(
                "SNIPER_BREAKER_RATE_LIMIT_CAP",
                &self.breaker_rate_limit_cap,
            )?,
            failure_threshold: parse_range(
                "SNIPER_BREAKER_FAILURE_THRESHOLD",
                &self.breaker_failure_threshold,
                1,
                1000,
            )? as u32,
            base_open: parse_duration("SNIPER_BREAKER_BASE_OPEN", &self.breaker_base_open)?,
            max_open: parse_duration("SNIPER_BREAKER_MAX_OPEN", &self.breaker_max_open)?,
            transient_max_open: parse_duration(
                "SNIPER_BREAKER_TRANSIENT_MAX_OPEN",
                &self.breaker_transient_max_open,
            )?,
        };
        if config.base_open > config.max_open {
            return Err(ConfigError::new(
                "SNIPER_BREAKER_BASE_OPEN",
                &self.breaker_base_open,
                format!(
                    "a duration no longer than SNIPER_BREAKER_MAX_OPEN ({})",
                    self.breaker_max_open
                ),
            ));
        }
        let mut modes = std::collections::BTreeMap::new();
        for m in parse_modules("SNIPER_BREAKER_FORCE_OPEN", &self.breaker_force_open)? {
            modes.insert(m, BreakerMode::ForcedOpen);
        }
        for m in parse_modules("SNIPER_BREAKER_DISABLE", &self.breaker_disable)? {
            if modes.insert(m, BreakerMode::Disabled).is_some() {
                return Err(ConfigError::new(
                    "SNIPER_BREAKER_DISABLE",
                    &self.breaker_disable,
                    format!("modules not also in SNIPER_BREAKER_FORCE_OPEN ({m} is in both)"),
                ));
            }
        }
        Ok(BreakerSettings { config, modes })
    }
}

/// A comma-separated list of module names (empty allowed).
pub fn parse_modules(var: &'static str, value: &str) -> Result<Vec<ModuleId>, ConfigError> {
    let mut out = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match ModuleId::parse(&part.to_ascii_lowercase()) {
            Some(m) => out.push(m),
            None => {
                return Err(ConfigError::new(
                    var,
                    value,
                    "comma-separated module names from etf, heatmap, spot_ob, whale_alerts, bias",
                ));
            }
        }
    }
    Ok(out)
}

/// `on/off/true/false/1/0`, any case. Anything else is an error, never "on".
pub fn parse_bool(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err(ConfigError::new(
            var,
            value,
            "one of on, off, true, false, 1, 0 (any case)",
        )),
    }
}

/// The canonical spelling of a duration, in the largest unit that states it exactly (`0s`,
/// `500ms`, `30s`, `15m`, `96h`): what `--help` shows as a default, and what [`parse_duration`]
/// reads back to the same value. Defaults are declared once, as typed values next to the rule
/// they serve; the flags' default strings are made from them with this.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0s".into(),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

/// What every duration setting accepts (named in its error message).
pub const DURATION_FORMS: &str = "a positive duration: integers with a unit ms, s, m, h or d (500ms, 5s, 1m, 1h; parts add up: 1m30s)";

/// Why a duration text was refused by [`duration_within`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationError {
    /// Digits only: no unit (`5` is not guessed to mean seconds).
    BareNumber,
    /// Not `<integer><unit>` parts, or an unknown unit.
    Malformed,
    /// Zero, or longer than the caller's maximum.
    OutOfRange,
}

/// The one duration grammar of sniper (settings, flags, `sniper score`, the chat's `/mute`): one
/// or more `<integer><unit>` parts that add up (`500ms`, `5s`, `1m30s`, `4h`, `30d`, `2w`), unit
/// `ms`, `s`, `m`, `h`, `d` or `w`; positive and at most `max`.
///
/// # Errors
/// [`DurationError`] saying which rule the text broke.
pub fn duration_within(value: &str, max: Duration) -> Result<Duration, DurationError> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DurationError::BareNumber);
    }
    let mut rest = v;
    let mut ms: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::Malformed)?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_ms: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return Err(DurationError::Malformed),
        };
        ms = n
            .checked_mul(unit_ms)
            .and_then(|p| ms.checked_add(p))
            .ok_or(DurationError::OutOfRange)?;
        rest = &rest[unit_len..];
    }
    let d = Duration::from_millis(ms);
    if ms == 0 || d > max {
        return Err(DurationError::OutOfRange);
    }
    Ok(d)
}

/// The longest duration a setting may have: over 30 days is certainly a typo.
pub const MAX_SETTING_DURATION: Duration = Duration::from_secs(30 * 86_400);

/// The duration of a setting (`SNIPER_INTERVAL`, `--module-timeout`, …): [`duration_within`]
/// up to [`MAX_SETTING_DURATION`]. A bare number is refused — it names no unit
/// (`SNIPER_INTERVAL=5` is not guessed to mean seconds).
///
/// # Errors
/// [`ConfigError`] naming `var`, the value and [`DURATION_FORMS`].
pub fn parse_duration(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    duration_within(value, MAX_SETTING_DURATION).map_err(|e| {
        let accepted = match e {
            DurationError::BareNumber => format!(
                "{DURATION_FORMS}; a bare number has no unit: write {}s for seconds",
                value.trim()
            ),
            DurationError::Malformed | DurationError::OutOfRange => {
                format!("{DURATION_FORMS}, at most 30 days")
            }
        };
        ConfigError::new(var, value, accepted)
    })
}

/// An integer within `lo..=hi`.
pub fn parse_range(var: &'static str, value: &str, lo: u64, hi: u64) -> Result<u64, ConfigError> {
    let err = || ConfigError::new(var, value, format!("an integer from {lo} to {hi}"));
    let n: u64 = value.trim().parse().map_err(|_| err())?;
    if n < lo || n > hi {
        return Err(err());
    }
    Ok(n)
}

/// `PY_BASE_URL`: http(s) with a host, no credentials, query or fragment; trailing slash removed.
pub fn parse_base_url(var: &'static str, value: &str) -> Result<Url, ConfigError> {
    let err = || {
        ConfigError::new(
            var,
            value,
            "an http:// or https:// URL with a host, optionally a path prefix, no query (http://127.0.0.1:8000/py)",
        )
    };
    let url = Url::parse(value.trim()).map_err(|_| err())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(err());
    }
    Ok(url)
}

/// Comma-separated symbols, each checked by the symbol parser.
fn parse_symbols(var: &'static str, value: &str) -> Result<Vec<RunSymbol>, ConfigError> {
    let mut out: Vec<RunSymbol> = Vec::new();
    for s in value.split(',') {
        let s = s.trim();
        let forms = crate::symbol::forms(s).map_err(|e| {
            ConfigError::new(
                var,
                value,
                format!("comma-separated symbols such as SOL,BTC,ETH ({s:?}: {e})"),
            )
        })?;
        if !out.iter().any(|x| x.input.eq_ignore_ascii_case(s)) {
            out.push(RunSymbol {
                input: s.to_string(),
                forms,
            });
        }
    }
    if out.len() > MAX_SYMBOLS {
        return Err(ConfigError::new(
            var,
            value,
            format!("at most {MAX_SYMBOLS} symbols"),
        ));
    }
    Ok(out)
}

/// Most symbols a configuration may list: a sanity bound on a typo (a pasted file), not a limit of
/// the runner, whose backend requests are bounded by `SNIPER_MAX_IN_FLIGHT` and the budget.
pub const MAX_SYMBOLS: usize = 2000;

/// A duration where `0` (any unit, or bare) means "every time".
fn parse_duration_or_zero(var: &'static str, v: &str) -> Result<Duration, ConfigError> {
    if ["0", "0ms", "0s", "0m", "0h"].contains(&v.trim()) {
        return Ok(Duration::ZERO);
    }
    parse_duration(var, v).map_err(|mut e| {
        e.accepted = format!("{} — or 0 for every run", e.accepted);
        e
    })
}

/// Budget shares `scheduled/manual/gateway` in percent, summing to at most 100.
fn parse_shares(var: &'static str, v: &str) -> Result<[u32; 3], ConfigError> {
    let err = || {
        ConfigError::new(
            var,
            v,
            "three percentages scheduled/manual/gateway summing to at most 100, such as 60/10/30",
        )
    };
    let parts: Vec<&str> = v.split('/').map(str::trim).collect();
    if parts.len() != 3 {
        return Err(err());
    }
    let mut out = [0u32; 3];
    for (o, p) in out.iter_mut().zip(&parts) {
        *o = p.parse().map_err(|_| err())?;
    }
    if out.iter().sum::<u32>() > 100 || out.iter().all(|x| *x == 0) {
        return Err(err());
    }
    Ok(out)
}

crate::command::config_errors!(ConfigError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_strict() {
        for v in ["on", "ON", "true", "True", "1", " on "] {
            assert_eq!(parse_bool("X", v), Ok(true), "{v}");
        }
        for v in ["off", "OFF", "false", "0"] {
            assert_eq!(parse_bool("X", v), Ok(false), "{v}");
        }
        for v in ["", "yes", "enabled", "2", "onn"] {
            let e = parse_bool("FEATURE_ETF", v).unwrap_err();
            assert_eq!(e.var, "FEATURE_ETF");
            assert!(e.to_string().contains("on, off"), "{e}");
        }
    }

    #[test]
    fn every_duration_variable_refuses_a_bare_number_alike() {
        // One rule: `SNIPER_INTERVAL=5` and `SNIPER_MODULE_TIMEOUT=5` get the same answer.
        for var in [
            "SNIPER_INTERVAL",
            "SNIPER_MODULE_TIMEOUT",
            "SNIPER_IDLE_TIMEOUT",
        ] {
            let e = parse_duration(var, "5").unwrap_err().to_string();
            assert!(e.contains(var), "{e}");
            assert!(e.contains("500ms, 5s, 1m, 1h"), "{e}");
            assert!(e.contains("write 5s for seconds"), "{e}");
        }
        assert_eq!(
            parse_duration("X", "1h30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_duration("X", "1s500ms").unwrap(),
            Duration::from_millis(1500)
        );
        for bad in ["1m30", "m30s", "1m 30s", "30x"] {
            assert!(parse_duration("X", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_default_is_spelled_so_it_reads_back_the_same() {
        use crate::market::{default_max_age, default_refresh};
        let mut all: Vec<Duration> = ModuleId::ALL
            .into_iter()
            .flat_map(|m| [default_max_age(m), default_refresh(m)])
            .collect();
        let b = BreakerConfig::default();
        all.extend([
            b.entitlement_open,
            b.rate_limit_cap,
            b.base_open,
            b.max_open,
            b.transient_max_open,
            Duration::from_millis(1500),
        ]);
        for d in all {
            let s = fmt_duration(d);
            let back = if d.is_zero() {
                parse_duration_or_zero("X", &s)
            } else {
                parse_duration("X", &s)
            };
            assert_eq!(back, Ok(d), "{s}");
        }
        assert_eq!(fmt_duration(Duration::from_secs(96 * 3600)), "96h");
        assert_eq!(fmt_duration(Duration::from_secs(90)), "90s");
        // The flags' defaults are the typed defaults: no flag given, the typed value results.
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            args: ConfigArgs,
        }
        let flags = <Flags as clap::Parser>::try_parse_from(["sniper"]).expect("defaults parse");
        let cfg = flags.args.validate().expect("defaults are valid");
        assert_eq!(cfg.max_age[&ModuleId::Etf], default_max_age(ModuleId::Etf));
        assert_eq!(
            cfg.refresh[&ModuleId::Bias],
            default_refresh(ModuleId::Bias)
        );
        assert_eq!(cfg.breaker.config, BreakerConfig::default());
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("X", "500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(parse_duration("X", "5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("X", "1m").unwrap(), Duration::from_secs(60));
        assert_eq!(
            parse_duration("X", "1h").unwrap(),
            Duration::from_secs(3600)
        );
        assert_eq!(
            parse_duration("X", "2d").unwrap(),
            Duration::from_secs(2 * 86_400)
        );
        // The one grammar: `sniper score --since` and the chat's `/mute` read the same text.
        assert_eq!(
            duration_within("1m30s", Duration::from_secs(3600)),
            Ok(Duration::from_secs(90))
        );
        assert_eq!(
            duration_within("5", Duration::from_secs(3600)),
            Err(DurationError::BareNumber)
        );
        assert_eq!(
            duration_within("2h", Duration::from_secs(3600)),
            Err(DurationError::OutOfRange)
        );
        for v in [
            "",
            "5",
            "s",
            "0s",
            "-1s",
            "1.5s",
            "5 s",
            "31d",
            "5y",
            "99999999999999999999h",
        ] {
            assert!(parse_duration("X", v).is_err(), "{v}");
        }
    }

    #[test]
    fn base_urls() {
        assert!(parse_base_url("X", "http://127.0.0.1:8000").is_ok());
        assert_eq!(
            parse_base_url("X", "http://h:8000/py/").unwrap().path(),
            "/py/"
        );
        for v in [
            "ftp://h",
            "127.0.0.1:8000",
            "http://u:p@h",
            "http://h/?q=1",
            "",
        ] {
            assert!(parse_base_url("X", v).is_err(), "{v}");
        }
    }
}
