//! The design's default paths and fallback URL shapes, as request templates in rank order.
//!
//! Used when the backend has no usable `/openapi.json` or the spec has no match for a module,
//! and after a spec route answers 404. Shapes are probed in order on 404.

use crate::discovery::template::{Location, Param, RequestTemplate, Role, Source, SymbolForm};
use crate::module_id::ModuleId;

fn p(name: &str, location: Location, role: Role, required: bool) -> Param {
    Param {
        name: name.to_string(),
        location,
        role,
        required,
        allowed: Vec::new(),
        pattern: None,
        default: None,
        form_pinned: false,
    }
}

fn t(path: &str, params: Vec<Param>) -> RequestTemplate {
    RequestTemplate {
        method: "GET".to_string(),
        path: path.to_string(),
        params,
        source: Source::Default,
    }
}

/// The design's default path of each module.
pub fn default_path(m: ModuleId) -> &'static str {
    match m {
        ModuleId::Etf => "/advanced/etf/flows",
        ModuleId::Heatmap => "/advanced/liquidation/heatmap",
        ModuleId::SpotOb => "/advanced/spot/orderbook",
        ModuleId::WhaleAlerts => "/advanced/whale/alerts",
        ModuleId::Bias => "/institutional/bias",
    }
}

/// The URL shapes the design tries for a module whose route lives at `base`, in its order.
pub fn shapes(m: ModuleId, base: &str) -> Vec<RequestTemplate> {
    use Location::{Path, Query};
    let base = base.trim_end_matches('/');
    let perp = Role::Symbol(SymbolForm::Perp);
    let spot = Role::Symbol(SymbolForm::Spot);
    let asset = Role::Symbol(SymbolForm::Base);
    match m {
        ModuleId::Heatmap => vec![
            t(
                base,
                vec![
                    p("symbol", Query, perp, true),
                    p("timeframe", Query, Role::Timeframe, false),
                ],
            ),
            t(
                &format!("{base}/{{symbol}}"),
                vec![
                    p("symbol", Path, perp, true),
                    p("timeframe", Query, Role::Timeframe, false),
                ],
            ),
            t(
                base,
                vec![
                    p("asset", Query, perp, true),
                    p("tf", Query, Role::Timeframe, false),
                ],
            ),
        ],
        ModuleId::SpotOb => vec![
            t(
                base,
                vec![
                    p("symbol", Query, spot, true),
                    p("exchange", Query, Role::Exchange, false),
                    p("depth", Query, Role::Depth, false),
                ],
            ),
            t(
                &format!("{base}/{{exchange}}/{{symbol}}"),
                vec![
                    p("exchange", Path, Role::Exchange, true),
                    p("symbol", Path, spot, true),
                    p("depth", Query, Role::Depth, false),
                ],
            ),
            t(
                &format!("{base}/{{symbol}}"),
                vec![
                    p("symbol", Path, spot, true),
                    p("ex", Query, Role::Exchange, false),
                    p("limit", Query, Role::Depth, false),
                ],
            ),
        ],
        ModuleId::Etf => vec![t(base, vec![p("asset", Query, asset, true)])],
        ModuleId::WhaleAlerts => vec![t(base, vec![])],
        ModuleId::Bias => vec![t(base, vec![p("symbol", Query, asset, false)])],
    }
}

/// The default candidates of a module: its shapes at the default path.
pub fn default_candidates(m: ModuleId) -> Vec<RequestTemplate> {
    shapes(m, default_path(m))
}
