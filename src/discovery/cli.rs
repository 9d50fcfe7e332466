//! `sniper discover`: what discovery chose on the backend's `/openapi.json`, and why.

use std::collections::BTreeMap;
use std::io::Write;

use crate::command::{CommandError, Doing};
use crate::config::Config;
use crate::module_id::ModuleId;

/// Fetches the spec once and prints the report (text, or pretty JSON with `json`).
pub async fn discover(cfg: Config, json: bool, out: &mut dyn Write) -> Result<(), CommandError> {
    let (_, discovery) = super::from_config(&cfg).doing(|| "building the HTTP client".into())?;
    let map = discovery.routes().await;
    let report = discovery.report();
    let write = |out: &mut dyn Write| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if json {
            let routes: BTreeMap<_, _> = ModuleId::ALL
                .iter()
                .map(|m| (m.as_str(), discovery.current_route(*m)))
                .collect();
            let v = serde_json::json!({
                "from_spec": map.from_spec,
                "note": map.note,
                "report": report.as_deref(),
                "routes": routes,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        } else {
            match (&report, map.from_spec) {
                (Some(r), true) => write!(out, "{}", super::matcher::render_report(r))?,
                _ => writeln!(
                    out,
                    "no usable spec ({}); modules use the design's default paths and URL shapes",
                    map.note.as_deref().unwrap_or("unknown reason")
                )?,
            }
        }
        Ok(())
    };
    write(out).map_err(|e| CommandError::failed("writing the report", e))
}
