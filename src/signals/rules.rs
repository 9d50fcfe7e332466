//! The thresholds of every layer and of the confluence, read from a TOML rules file
//! (`SNIPER_RULES`) over compiled-in defaults. Unknown keys are refused, so a typo never silently
//! leaves a default in force.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Environment variable naming the rules file.
pub const RULES_ENV: &str = "SNIPER_RULES";

/// Every threshold. A file may set any subset; the rest keep [`Rules::default`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// Order book layer.
    pub book: BookRules,
    /// Liquidation magnet layer.
    pub liquidations: LiqRules,
    /// Whale flow layer.
    pub whales: WhaleRules,
    /// ETF flow layer.
    pub etf: EtfRules,
    /// Institutional bias layer.
    pub bias: BiasRules,
    /// How layers combine.
    pub confluence: ConfluenceRules,
    /// When a call is delivered again.
    pub delivery: DeliveryRules,
}

/// Order book: imbalance within ±1 % of the mid, and walls near the mid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BookRules {
    /// |imbalance| (in [0, 1], bids − asks over their sum, within 1 %) at or above which the book
    /// is watch; its sign is the direction. Default 0.2 (bids 50 % larger than asks).
    pub imbalance_watch: f64,
    /// |imbalance| at or above which the book alone is action. Default 0.4 (bids 2.3× asks).
    pub imbalance_action: f64,
    /// A wall is a level at least this many times the median level of its side. Default 6.
    pub wall_ratio: f64,
    /// Walls count only within this distance of the mid, basis points. Default 100 (1 %).
    pub wall_max_bps: f64,
}

/// Liquidation magnet: the nearest cluster pulls the price (below mid → long, above → short).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiqRules {
    /// Smallest cluster notional that counts, USD. Default 1 000 000 (the design's "> $1 M").
    pub min_notional_usd: f64,
    /// A counted cluster within this distance is watch, bps. Default 100 (1 %).
    pub watch_bps: f64,
    /// A counted cluster within this distance is action, bps. Default 50 (the design's 0.5 %).
    pub action_bps: f64,
    /// How a cluster is read: `resistance` (default: a cluster above the price holds it back →
    /// short, below supports it → long) or `magnet` (price is drawn to the cluster: above → long,
    /// below → short). `sniper replay --rules` scores both on the same price path.
    pub reading: LiqReading,
}

/// How a liquidation cluster near the price is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiqReading {
    /// Above the price → short, below → long (the cluster is a barrier).
    #[default]
    Resistance,
    /// Above the price → long, below → short (price is drawn to the liquidity).
    Magnet,
}

/// Whale flow: the symbol's net notional (longs − shorts) in the features' window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WhaleRules {
    /// |net| at or above which whales are watch, USD. Default 1 000 000 (the design's ≥ $1 M).
    pub watch_usd: f64,
    /// |net| at or above which whales are action, USD. Default 5 000 000.
    pub action_usd: f64,
}

/// ETF: the latest day's net flow against the mean |flow| of the 7 days before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EtfRules {
    /// |latest| must exceed this to count at all, USD. Default 0 (the design's "inflow > 0").
    pub min_flow_usd: f64,
    /// |latest / prior mean| at or above which ETF is watch (also watch when no ratio exists
    /// yet). Default 1.0 (a day at least as large as a usual day).
    pub watch_ratio: f64,
    /// |latest / prior mean| at or above which ETF is action. Default 2.0.
    pub action_ratio: f64,
}

/// Bias: the backend's signed score in [−1, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BiasRules {
    /// |score| at or above which bias is watch. Default 0.2.
    pub watch_score: f64,
    /// |score| at or above which bias is action. Default 0.5.
    pub action_score: f64,
}

/// Confluence of the layers into one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfluenceRules {
    /// Layers agreeing on a direction for watch. Default 2.
    pub watch_min_agree: u32,
    /// Layers agreeing for action (at least one of them action). Default 3.
    pub action_min_agree: u32,
    /// Weights of the layers in the score (book, liquidations, whales, etf, bias). Default 1 each.
    pub weights: Weights,
}

/// Per-layer weights of the 0–100 score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// Order book.
    pub book: f64,
    /// Liquidation magnet.
    pub liquidations: f64,
    /// Whale flow.
    pub whales: f64,
    /// ETF flow.
    pub etf: f64,
    /// Bias.
    pub bias: f64,
}

/// Re-delivery: a call (symbol, direction, level) is delivered once, and again only after
/// the cooldown, on escalation watch → action, or when the score rose by `score_step`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryRules {
    /// Seconds before the same symbol and direction is delivered again. Default 900 (15 min).
    pub cooldown_secs: u64,
    /// Score points above the last delivered score that re-deliver within the cooldown.
    /// Default 15; 0 disables.
    pub score_step: u32,
    /// Deliver watch calls too (false: only action). Default true.
    pub deliver_watch: bool,
}

impl Default for BookRules {
    fn default() -> Self {
        BookRules {
            imbalance_watch: 0.2,
            imbalance_action: 0.4,
            wall_ratio: 6.0,
            wall_max_bps: 100.0,
        }
    }
}
impl Default for LiqRules {
    fn default() -> Self {
        LiqRules {
            min_notional_usd: 1_000_000.0,
            watch_bps: 100.0,
            action_bps: 50.0,
            reading: LiqReading::Resistance,
        }
    }
}
impl Default for WhaleRules {
    fn default() -> Self {
        WhaleRules {
            watch_usd: 1_000_000.0,
            action_usd: 5_000_000.0,
        }
    }
}
impl Default for EtfRules {
    fn default() -> Self {
        EtfRules {
            min_flow_usd: 0.0,
            watch_ratio: 1.0,
            action_ratio: 2.0,
        }
    }
}
impl Default for BiasRules {
    fn default() -> Self {
        BiasRules {
            watch_score: 0.2,
            action_score: 0.5,
        }
    }
}
impl Default for ConfluenceRules {
    fn default() -> Self {
        ConfluenceRules {
            watch_min_agree: 2,
            action_min_agree: 3,
            weights: Weights::default(),
        }
    }
}
impl Default for Weights {
    fn default() -> Self {
        Weights {
            book: 1.0,
            liquidations: 1.0,
            whales: 1.0,
            etf: 1.0,
            bias: 1.0,
        }
    }
}
impl Default for DeliveryRules {
    fn default() -> Self {
        DeliveryRules {
            cooldown_secs: 900,
            score_step: 15,
            deliver_watch: true,
        }
    }
}

/// Why a rules file was refused. The message names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file could not be read.
    #[error("{RULES_ENV}={path:?}: cannot read the rules file: {source}")]
    Read {
        /// The path.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value of the wrong type (toml names the key and line).
    #[error("{RULES_ENV}={path:?}: {message}")]
    Parse {
        /// The path.
        path: String,
        /// toml's message (it names the key).
        message: String,
    },
    /// A value out of its range.
    #[error("{RULES_ENV}={path:?}: {key} = {value} is invalid: {expected}")]
    Invalid {
        /// The path.
        path: String,
        /// Dotted key, e.g. `book.imbalance_action`.
        key: &'static str,
        /// The value as read.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
}

impl Rules {
    /// Parse TOML text over the defaults and validate it. `path` is only for messages.
    pub fn from_toml(text: &str, path: &str) -> Result<Rules, RulesError> {
        let rules: Rules = toml::from_str(text).map_err(|e| RulesError::Parse {
            path: path.to_string(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        rules.validate(path)?;
        Ok(rules)
    }

    /// Read and parse the file at `path`; `None` gives the defaults.
    pub fn load(path: Option<&str>) -> Result<Rules, RulesError> {
        let Some(path) = path.filter(|p| !p.trim().is_empty()) else {
            return Ok(Rules::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
            path: path.to_string(),
            source,
        })?;
        Rules::from_toml(&text, path)
    }

    /// The effective rules as TOML (what `sniper rules` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot print the rules: {e}\n"))
    }

    /// The cooldown as a duration.
    pub fn cooldown(&self) -> Duration {
        Duration::from_secs(self.delivery.cooldown_secs)
    }

    fn validate(&self, path: &str) -> Result<(), RulesError> {
        let bad = |key: &'static str, value: f64, expected: &'static str| {
            Err(RulesError::Invalid {
                path: path.to_string(),
                key,
                value: value.to_string(),
                expected,
            })
        };
        let nonneg: [(&'static str, f64); 16] = [
            ("book.imbalance_watch", self.book.imbalance_watch),
            ("book.imbalance_action", self.book.imbalance_action),
            ("book.wall_ratio", self.book.wall_ratio),
            ("book.wall_max_bps", self.book.wall_max_bps),
            (
                "liquidations.min_notional_usd",
                self.liquidations.min_notional_usd,
            ),
            ("liquidations.watch_bps", self.liquidations.watch_bps),
            ("liquidations.action_bps", self.liquidations.action_bps),
            ("whales.watch_usd", self.whales.watch_usd),
            ("whales.action_usd", self.whales.action_usd),
            ("etf.min_flow_usd", self.etf.min_flow_usd),
            ("etf.watch_ratio", self.etf.watch_ratio),
            ("etf.action_ratio", self.etf.action_ratio),
            ("bias.watch_score", self.bias.watch_score),
            ("bias.action_score", self.bias.action_score),
            ("confluence.weights.book", self.confluence.weights.book),
            (
                "confluence.weights.liquidations",
                self.confluence.weights.liquidations,
            ),
        ];
        let more: [(&'static str, f64); 3] = [
            ("confluence.weights.whales", self.confluence.weights.whales),
            ("confluence.weights.etf", self.confluence.weights.etf),
            ("confluence.weights.bias", self.confluence.weights.bias),
        ];
        for (k, v) in nonneg.into_iter().chain(more) {
            if !(v.is_finite() && v >= 0.0) {
                return bad(k, v, "a finite number ≥ 0");
            }
        }
        let pairs: [(&'static str, f64, f64); 5] = [
            (
                "book.imbalance_action",
                self.book.imbalance_watch,
                self.book.imbalance_action,
            ),
            (
                "liquidations.action_bps",
                self.liquidations.action_bps,
                self.liquidations.watch_bps,
            ),
            (
                "whales.action_usd",
                self.whales.watch_usd,
                self.whales.action_usd,
            ),
            (
                "etf.action_ratio",
                self.etf.watch_ratio,
                self.etf.action_ratio,
            ),
            (
                "bias.action_score",
                self.bias.watch_score,
                self.bias.action_score,
            ),
        ];
        for (k, lo, hi) in pairs {
            if lo > hi {
                let v = if k == "liquidations.action_bps" {
                    lo
                } else {
                    hi
                };
                return bad(
                    k,
                    v,
                    "the action threshold must be at least as strict as the watch one",
                );
            }
        }
        if self.book.imbalance_action > 1.0 {
            return bad(
                "book.imbalance_action",
                self.book.imbalance_action,
                "a number in [0, 1]",
            );
        }
        if self.bias.action_score > 1.0 {
            return bad(
                "bias.action_score",
                self.bias.action_score,
                "a number in [0, 1]",
            );
        }
        let c = &self.confluence;
        if c.watch_min_agree == 0 || c.watch_min_agree > 5 {
            return bad(
                "confluence.watch_min_agree",
                f64::from(c.watch_min_agree),
                "1 to 5",
            );
        }
        if c.action_min_agree < c.watch_min_agree || c.action_min_agree > 5 {
            return bad(
                "confluence.action_min_agree",
                f64::from(c.action_min_agree),
                "watch_min_agree to 5",
            );
        }
        if c.weights.book
            + c.weights.liquidations
            + c.weights.whales
            + c.weights.etf
            + c.weights.bias
            <= 0.0
        {
            return bad("confluence.weights", 0.0, "at least one weight > 0");
        }
        Ok(())
    }
}

crate::command::config_errors!(RulesError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_toml() {
        let d = Rules::default();
        assert_eq!(Rules::from_toml(&d.to_toml(), "x").unwrap(), d);
    }

    #[test]
    fn partial_file_keeps_other_defaults() {
        let r = Rules::from_toml("[whales]\nwatch_usd = 2e6\n", "r.toml").unwrap();
        assert_eq!(r.whales.watch_usd, 2e6);
        assert_eq!(r.whales.action_usd, WhaleRules::default().action_usd);
        assert_eq!(r.book, BookRules::default());
    }

    #[test]
    fn liquidation_reading_is_a_setting() {
        assert_eq!(
            Rules::default().liquidations.reading,
            LiqReading::Resistance
        );
        let r = Rules::from_toml("[liquidations]\nreading = \"magnet\"\n", "r.toml").unwrap();
        assert_eq!(r.liquidations.reading, LiqReading::Magnet);
        assert_eq!(Rules::from_toml(&r.to_toml(), "x").unwrap(), r);
        let e = Rules::from_toml("[liquidations]\nreading = \"gravity\"\n", "r.toml").unwrap_err();
        assert!(
            e.to_string().contains("reading") || e.to_string().contains("gravity"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Rules::from_toml("[whales]\nwatch_usdd = 1\n", "r.toml").unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("watch_usdd") && m.contains("SNIPER_RULES"),
            "{m}"
        );
        let e = Rules::from_toml("[wales]\n", "r.toml").unwrap_err();
        assert!(e.to_string().contains("wales"), "{e}");
    }

    #[test]
    fn wrong_type_and_range_are_named() {
        let e = Rules::from_toml("[bias]\nwatch_score = \"high\"\n", "r.toml").unwrap_err();
        assert!(e.to_string().contains("watch_score"), "{e}");
        let e = Rules::from_toml("[bias]\nwatch_score = 0.6\n", "r.toml").unwrap_err();
        assert!(e.to_string().contains("bias.action_score"), "{e}");
        let e = Rules::from_toml("[confluence]\nwatch_min_agree = 0\n", "r.toml").unwrap_err();
        assert!(e.to_string().contains("confluence.watch_min_agree"), "{e}");
        let e = Rules::from_toml("[book]\nwall_ratio = -1\n", "r.toml").unwrap_err();
        assert!(e.to_string().contains("book.wall_ratio"), "{e}");
    }
}
