//! The deploy files (Prometheus rules and their unit tests, the Grafana dashboard) only name
//! metrics that sniper actually exposes. promtool checks their syntax (`deploy/check.sh`); this
//! checks the names against the real exposition.

use std::collections::BTreeSet;
use std::time::Duration;

use sniper::module_id::ModuleId;
use sniper::obs::metrics::{AlertChannel, BreakerState, DeliveryResult, Metrics, RunOutcome};

/// Every sample name in a fully populated exposition.
fn exposed() -> BTreeSet<String> {
    let m = Metrics::new();
    m.record_run(
        RunOutcome::Partial,
        Duration::from_secs(1),
        4,
        &[ModuleId::Etf],
    );
    m.record_module(ModuleId::Etf, None, Duration::from_millis(5));
    m.set_breaker_state(ModuleId::Etf, BreakerState::Open);
    m.set_consecutive_failures(0);
    m.set_in_window(true);
    m.record_alert_delivery(AlertChannel::Webhook, DeliveryResult::Ok);
    m.encode()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(['{', ' ']).next().unwrap_or("").to_string())
        .collect()
}

/// Identifiers starting with `sniper_` in `text`.
fn referenced(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|t| t.starts_with("sniper_"))
        .map(str::to_string)
        .collect()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn rules_and_dashboard_name_only_exposed_metrics() {
    let exposed = exposed();
    for file in [
        "deploy/prometheus/sniper-rules.yml",
        "deploy/prometheus/sniper-rules.test.yml",
    ] {
        let names = referenced(&read(file));
        assert!(!names.is_empty(), "{file}");
        let unknown: Vec<_> = names.difference(&exposed).collect();
        assert!(
            unknown.is_empty(),
            "{file} names unexposed metrics {unknown:?}"
        );
    }
    let dash: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/sniper-dashboard.json")).unwrap();
    let panels = dash["panels"].as_array().unwrap();
    let mut used = BTreeSet::new();
    for p in panels {
        for t in p["targets"].as_array().unwrap() {
            let names = referenced(t["expr"].as_str().unwrap());
            assert!(
                !names.is_empty(),
                "panel {} has a query without a sniper metric",
                p["title"]
            );
            used.extend(names);
        }
    }
    let unknown: Vec<_> = used.difference(&exposed).collect();
    assert!(
        unknown.is_empty(),
        "dashboard names unexposed metrics {unknown:?}"
    );
    // Every metric family appears on the dashboard.
    for family in [
        "sniper_soft_fail_total",
        "sniper_hard_fail_total",
        "sniper_consecutive_failures",
        "sniper_modules_active",
        "sniper_runs_total",
        "sniper_run_duration_seconds_bucket",
        "sniper_module_duration_seconds_bucket",
        "sniper_breaker_state",
        "sniper_upstream_requests_total",
        "sniper_in_active_window",
        "sniper_alert_deliveries_total",
    ] {
        assert!(exposed.contains(family), "{family} not exposed");
        assert!(used.contains(family), "{family} not on the dashboard");
    }
}

/// The systemd unit only sets variables sniper reads: each `Environment=NAME=` names a variable
/// of the README's configuration table (a `RUST_LOG` would be silently ignored).
#[test]
fn unit_sets_only_variables_sniper_reads() {
    let readme = read("README.md");
    let unit = read("deploy/sniper.service");
    let set: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Environment="))
        .filter_map(|kv| kv.split('=').next())
        .collect();
    assert!(!set.is_empty(), "the unit sets no variable");
    for name in set {
        assert!(
            readme.contains(&format!("`{name}`")),
            "deploy/sniper.service sets {name}, which sniper does not read"
        );
    }
}
