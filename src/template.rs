//! Request templates: what a module asks discovery for, and how a template becomes a request.
//!
//! A template is data (method, path with `{params}`, typed parameters with roles). It comes either
//! from the backend's OpenAPI document (`Source::Spec`) or from the design's default paths and URL
//! shapes (`Source::Default`). Filling it is pure: [`RequestTemplate::fill`] turns a template and the
//! module's inputs into a path and query pairs, or says why it cannot.

use serde::{Deserialize, Serialize};

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    Path,
    Query,
}

/// Which symbol form a backend parameter wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SymbolForm {
    /// `SOL`
    Base,
    /// `SOLUSDT`
    Spot,
    /// `SOL-USDT-SWAP`
    Perp,
}

/// What sniper knows how to fill a parameter with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "role", content = "form")]
pub enum Role {
    Symbol(SymbolForm),
    Exchange,
    Timeframe,
    Depth,
    Days,
    /// A parameter sniper has no value for; it is sent only if it has a default and is required.
    Other,
}

/// One parameter of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    /// The backend's own name (`symbol`, `tf`, `instId`…).
    pub name: String,
    pub location: Location,
    pub role: Role,
    pub required: bool,
    /// Allowed values from the spec's `enum` (strings), empty when unconstrained.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    /// The spec's `pattern`, if any (checked by the filler with a small anchored-alternation matcher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The spec's default, rendered as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// Where a template came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Chosen from the backend's OpenAPI document.
    Spec,
    /// The design's default path or one of its fallback URL shapes.
    Default,
}

/// A request a module can make: GET `path` (relative to the configured base, may hold `{name}`
/// placeholders, each matched by a `Location::Path` param) with query params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestTemplate {
    pub method: String,
    pub path: String,
    pub params: Vec<Param>,
    pub source: Source,
}

/// The values a module offers for each role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// `SOL`
    pub base: String,
    /// `SOLUSDT`
    pub spot: String,
    /// `SOL-USDT-SWAP`
    pub perp: String,
    /// Which form to use when the parameter does not say (per-module configuration).
    pub default_symbol_form: Option<SymbolForm>,
    pub exchange: Option<String>,
    /// Preferred timeframes, first is the module's choice; the filler picks the first allowed.
    pub timeframes: Vec<String>,
    pub depth: Option<u32>,
    pub days: Option<u32>,
}

/// A filled request: path with placeholders replaced (each segment value percent-encoded
/// later by `upstream::Url`), and query pairs in template order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilledRequest {
    /// Path segments, unencoded (`["advanced", "liquidation", "heatmap", "SOL"]`).
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
}

/// Why a template cannot be filled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum FillError {
    #[error("required parameter `{0}` has no value sniper can supply")]
    Unfillable(String),
    #[error(
        "no allowed value for parameter `{name}` (wanted one of {wanted:?}, backend allows {allowed:?})"
    )]
    NotAllowed {
        name: String,
        wanted: Vec<String>,
        allowed: Vec<String>,
    },
    #[error("path placeholder `{0}` has no matching parameter")]
    DanglingPlaceholder(String),
}

impl RequestTemplate {
    /// Fill the template from `inputs`. Pure.
    pub fn fill(&self, inputs: &Inputs) -> Result<FilledRequest, FillError> {
        let mut segments = Vec::new();
        for seg in self.path.split('/').filter(|s| !s.is_empty()) {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let param = self
                    .params
                    .iter()
                    .find(|p| p.name == name && p.location == Location::Path)
                    .ok_or_else(|| FillError::DanglingPlaceholder(name.to_string()))?;
                match value_for(param, inputs)? {
                    Some(v) => segments.push(v),
                    None => return Err(FillError::Unfillable(param.name.clone())),
                }
            } else {
                segments.push(seg.to_string());
            }
        }
        let mut query = Vec::new();
        for p in self.params.iter().filter(|p| p.location == Location::Query) {
            if let Some(v) = value_for(p, inputs)? {
                query.push((p.name.clone(), v));
            } else if p.required {
                return Err(FillError::Unfillable(p.name.clone()));
            }
        }
        Ok(FilledRequest { segments, query })
    }
}

/// The value for one parameter, checked against its `enum`; `None` when sniper has nothing to send
/// (optional parameters are then left to the backend's default).
fn value_for(p: &Param, inputs: &Inputs) -> Result<Option<String>, FillError> {
    let wanted: Vec<String> = match p.role {
        Role::Symbol(form) => vec![match form {
            SymbolForm::Base => inputs.base.clone(),
            SymbolForm::Spot => inputs.spot.clone(),
            SymbolForm::Perp => inputs.perp.clone(),
        }],
        Role::Exchange => inputs.exchange.iter().cloned().collect(),
        Role::Timeframe => inputs.timeframes.clone(),
        Role::Depth => inputs.depth.iter().map(u32::to_string).collect(),
        Role::Days => inputs.days.iter().map(u32::to_string).collect(),
        Role::Other => {
            return Ok(if p.required { p.default.clone() } else { None });
        }
    };
    if wanted.is_empty() {
        return Ok(if p.required { p.default.clone() } else { None });
    }
    if p.allowed.is_empty() {
        return Ok(wanted.into_iter().next());
    }
    match wanted.iter().find(|w| p.allowed.contains(w)) {
        Some(v) => Ok(Some(v.clone())),
        None => Err(FillError::NotAllowed {
            name: p.name.clone(),
            wanted,
            allowed: p.allowed.clone(),
        }),
    }
}
