//! Headless Chromium for the page tests: where it is, and one way to run it (a throwaway profile,
//! no network chatter, a bounded virtual time, killed after 90 s).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Chromium's path (`CHROMIUM`, else `/usr/bin/chromium`), or `None` with a note when it is
/// missing.
///
/// # Panics
/// When it is missing and `SNIPER_REQUIRE_BROWSER=1` (CI): the page tests must run.
pub fn chromium() -> Option<PathBuf> {
    let p = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var("SNIPER_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "SNIPER_REQUIRE_BROWSER=1 but chromium is missing (apt-get install -y chromium)"
    );
    eprintln!("skipping browser test: chromium not installed (apt-get install -y chromium)");
    None
}

/// Run headless `bin` with `args` (e.g. `--dump-dom URL`) and a fresh profile; blocking.
pub fn run_chromium(bin: &Path, args: &[String]) -> std::process::Output {
    let profile = tempfile::tempdir().expect("a temp profile");
    Command::new("timeout")
        .arg("90")
        .arg(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=8000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .expect("chromium runs")
}
