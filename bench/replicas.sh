#!/usr/bin/env bash
# Replicas on PostgreSQL (issue 17): tick-claim latency with 3 replicas racing (median, p99) and
# the store work a run pays around its backend calls, PostgreSQL beside a SQLite file.
# Starts a throwaway PostgreSQL on loopback (tests/replicas/pg.sh; default durability settings).
# Usage: bench/replicas.sh [rounds]   (default 300)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tests/replicas/pg.sh"
trap pg_stop EXIT
trap 'exit 130' INT TERM
cargo build --quiet --release --locked --manifest-path "$root/Cargo.toml" --example replica_store
pg_start
"${CARGO_TARGET_DIR:-$root/target}/release/examples/replica_store" "$PG_URL" "${1:-300}"
