//! The five signal modules, by name. The names are used everywhere: JSON, flags, metrics, the store.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One of the five signal modules sniper calls on every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleId {
    /// ETF flows (`/advanced/etf/flows`), often behind a paid plan (402).
    Etf,
    /// Liquidation heatmap.
    Heatmap,
    /// Spot order book.
    SpotOb,
    /// Whale alerts.
    WhaleAlerts,
    /// Institutional bias.
    Bias,
}

impl ModuleId {
    /// All modules, in the order results are shown.
    pub const ALL: [ModuleId; 5] = [
        ModuleId::Etf,
        ModuleId::Heatmap,
        ModuleId::SpotOb,
        ModuleId::WhaleAlerts,
        ModuleId::Bias,
    ];

    /// The wire name: `etf`, `heatmap`, `spot_ob`, `whale_alerts`, `bias`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModuleId::Etf => "etf",
            ModuleId::Heatmap => "heatmap",
            ModuleId::SpotOb => "spot_ob",
            ModuleId::WhaleAlerts => "whale_alerts",
            ModuleId::Bias => "bias",
        }
    }

    /// Upper-case name used as the prefix of soft-fail codes and feature variables (`SPOT_OB`).
    pub fn upper(self) -> &'static str {
        match self {
            ModuleId::Etf => "ETF",
            ModuleId::Heatmap => "HEATMAP",
            ModuleId::SpotOb => "SPOT_OB",
            ModuleId::WhaleAlerts => "WHALE_ALERTS",
            ModuleId::Bias => "BIAS",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<ModuleId> {
        ModuleId::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for ModuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
