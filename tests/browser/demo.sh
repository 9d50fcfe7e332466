#!/usr/bin/env bash
# The status page of a real `sniper demo`, checked in headless Chromium (tests/browser/check.sh):
# the five modules, at least one run, no error; the screenshot lands in target/browser/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cargo build --quiet --locked --manifest-path "$root/Cargo.toml" --bin sniper
bin=${CARGO_TARGET_DIR:-$root/target}/debug/sniper
out="$root/target/browser"; mkdir -p "$out"
log=$(mktemp)
SNIPER_LISTEN=127.0.0.1:0 SNIPER_INTERVAL=1s "$bin" demo >/dev/null 2>"$log" & pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
url=""
for _ in $(seq 100); do
  url=$(grep -o 'status page http://127.0.0.1:[0-9]*/' "$log" | head -1 | sed 's/status page //') || true
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "demo did not print its address"; cat "$log"; exit 1; }
"$root/tests/browser/check.sh" "$url" "$out"
echo "browser check passed on $url; screenshot: $out/status.png"
