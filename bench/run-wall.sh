#!/usr/bin/env bash
# run-wall.sh -- a run's wall time with all five modules delayed 200 ms, against the sandbox,
# beside the design's TypeScript baseline on the same backend, in the same run.
# Prints per-tool median wall time over N runs and the ratio to the slowest module (200 ms).
# Usage: bench/run-wall.sh [runs=15]
set -euo pipefail
runs=${1:-15}; delay=200
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin="$root/target/release/sniper"
port=18290; work=$(mktemp -d)
cleanup() { kill "$sb" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$bin" sandbox --listen 127.0.0.1:$port --delay-ms $delay --licensed 2>/dev/null & sb=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/openapi.json" >/dev/null && break; sleep 0.1; done
export PY_BASE_URL=http://127.0.0.1:$port
: > "$work/sniper"
for _ in $(seq "$runs"); do
  s=$(date +%s%N); "$bin" once --json > "$work/out"; e=$(date +%s%N)
  echo $(( (e - s) / 1000000 )) >> "$work/sniper-process"
  python3 -c 'import sys,json; print(json.loads(open(sys.argv[1]).readline())["durationMs"])' "$work/out" >> "$work/sniper"
done
base_dir="$root/../shared/baseline/seed-ts"
if [ -d "$base_dir" ] && command -v node >/dev/null; then
  cp -r "$base_dir" "$work/seed-ts"; chmod -R u+w "$work/seed-ts"
  (cd "$work/seed-ts" && npm ci --no-audit --no-fund >/dev/null 2>&1)
  : > "$work/design"
  for _ in $(seq "$runs"); do
    (cd "$work/seed-ts" && npx tsx run-once.ts) | python3 -c 'import sys,json; print(json.loads(sys.stdin.read())["ms"])' >> "$work/design"
  done
fi
python3 - "$work" "$delay" <<'PY'
import sys, os, statistics as st
work, delay = sys.argv[1], int(sys.argv[2])
print(f"{'tool':<28} {'median ms':>10} {'ratio to slowest module':>24}")
for name, label in (("sniper", "sniper run (5 modules)"), ("sniper-process", "sniper once, whole process"), ("design", "design seed-ts (3 modules)")):
    p = os.path.join(work, name)
    if not os.path.exists(p): continue
    v = [float(x) for x in open(p) if x.strip()]
    m = st.median(v)
    print(f"{label:<28} {m:>10.0f} {m/delay:>24.2f}")
PY
