#!/usr/bin/env bash
# The project's whole test suite, runnable on a fresh machine (Rust toolchain, Python, Node).
# Installs what the tests need when missing (Debian packages: chromium for the status-page test,
# prometheus for promtool), then runs every Rust test and the checks that live outside cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
SNIPER_REQUIRE_BROWSER=1 cargo test --all-targets --locked
cargo test --doc --locked
bash deploy/check.sh
export SNIPER_REQUIRE_BROWSER=1
if [ -x tests/browser/demo.sh ]; then
  tests/browser/demo.sh
fi
echo "all tests passed"
