//! PostgreSQL for the tests: the server `tests/replicas/run.sh` starts (`SNIPER_TEST_PG_URL`).
//! Without it the PostgreSQL tests say so and return — unless CI says they must run
//! (`SNIPER_REQUIRE_PG=1`), then they fail.

/// The test server's URL, `None` (with a note on stderr) when there is none and none is required.
///
/// # Panics
/// When `SNIPER_REQUIRE_PG=1` and `SNIPER_TEST_PG_URL` is unset or empty.
pub fn url() -> Option<String> {
    let url = std::env::var("SNIPER_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        let required = std::env::var("SNIPER_REQUIRE_PG").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "SNIPER_REQUIRE_PG=1 but SNIPER_TEST_PG_URL is unset: the PostgreSQL tests must run"
        );
        eprintln!("SNIPER_TEST_PG_URL unset: skipping (tests/replicas/run.sh runs these)");
    }
    url
}
