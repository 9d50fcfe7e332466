#!/usr/bin/env bash
# The project's whole test suite, runnable on a fresh machine (Rust toolchain, Python, Node).
# Installs what the tests need when missing (Debian packages: chromium for the status-page test,
# prometheus for promtool), then runs every Rust test and the checks that live outside cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# The store conformance suite starts a throwaway PostgreSQL (initdb/pg_ctl) and must not skip.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  install() { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends --fix-missing "${need[@]}" >/dev/null; }
  $SUDO apt-get update -qq
  # One retry after repairing: a flaky mirror can leave a half-installed package behind.
  install || { $SUDO apt-get -f install -y -qq >/dev/null || true; $SUDO apt-get update -qq; install; }
fi
export SNIPER_REQUIRE_POSTGRES=1
SNIPER_REQUIRE_BROWSER=1 cargo test --all-targets --locked
cargo test --doc --locked
bash deploy/check.sh
export SNIPER_REQUIRE_BROWSER=1
if [ -x tests/browser/demo.sh ]; then
  tests/browser/demo.sh
fi
tests/gpts/validate.sh
tests/replicas/run.sh
echo "all tests passed"
