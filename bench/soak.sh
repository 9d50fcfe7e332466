#!/usr/bin/env bash
# soak.sh -- sniper serve against a flapping sandbox backend, bounded in time.
# The sandbox's faults flip every PHASE s (default 20) through: healthy, 500s, 10 s hangs,
# connection resets mid-body, 429s (Retry-After: 5), on every module; the last quarter of the
# time (at least 45 s) the backend stays healthy. Every second it samples /ready, /api/status,
# and the daemon's RSS and open fds. Prints: RSS min/max, fds max, runs, recovery time after the
# last fault (first successful run after the backend healed for good), and /ready's truth (% of
# samples where /ready's 200/503 matched whether the last run succeeded).
# Usage: bench/soak.sh [seconds=600]    (SNIPER_BIN=path skips the release build)
set -euo pipefail
duration=${1:-600}; phase=${PHASE:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SNIPER_BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  SNIPER_BIN="$root/target/release/sniper"
fi
sb_port=${SB_PORT:-18391}; port=${PORT:-18392}
work=$(mktemp -d)
cleanup() { kill "${sn:-}" "${sb:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$SNIPER_BIN" sandbox --listen 127.0.0.1:$sb_port 2>"$work/sandbox.log" & sb=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$sb_port/openapi.json" >/dev/null && break; sleep 0.1; done
SNIPER_LISTEN=127.0.0.1:$port SNIPER_DB="$work/soak.db" PY_BASE_URL=http://127.0.0.1:$sb_port \
  SNIPER_INTERVAL=1s ACTIVE_TRADING_START=00:00 ACTIVE_TRADING_END=00:00 \
  "$SNIPER_BIN" serve 2>"$work/serve.log" & sn=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done

# fault <name>: sets the same fault on every module (healthy clears them).
fault() {
  local f
  case $1 in
    healthy) f=null ;;
    500s) f='{"status":500}' ;;
    hang) f='{"delay_ms":10000}' ;;
    reset) f='{"reset":true}' ;;
    429s) f='{"status":429,"retry_after":"5"}' ;;
  esac
  for m in etf heatmap spot_ob whale_alerts bias; do
    curl -sf -X POST -H 'content-type: application/json' \
      -d "{\"module\":\"$m\",\"fault\":$f}" "http://127.0.0.1:$sb_port/__sandbox/faults" >/dev/null
  done
  echo "$(date +%s.%N) $1" >> "$work/phases"
}

tail_s=$(( duration / 4 > 45 ? duration / 4 : 45 ))
flap_until=$(( duration - tail_s ))
modes=(healthy 500s hang reset 429s)
start=$(date +%s); i=0; current=""
echo "soak: ${duration}s, faults flip every ${phase}s for ${flap_until}s, then healthy" >&2
while :; do
  now=$(date +%s); t=$(( now - start ))
  [ "$t" -ge "$duration" ] && break
  if [ "$t" -ge "$flap_until" ]; then want=healthy; else want=${modes[$(( (t / phase) % ${#modes[@]} ))]}; fi
  if [ "$want" != "$current" ]; then fault "$want"; current=$want; fi
  ready=$(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://127.0.0.1:$port/ready" || true)
  status=$(curl -s -m 2 "http://127.0.0.1:$port/api/status" || echo '{}')
  rss=$(awk '/VmRSS/ {print $2}' /proc/$sn/status)
  fds=$(ls /proc/$sn/fd | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\n' "$(date +%s.%N)" "$ready" "$rss" "$fds" \
    "$(printf '%s' "$status" | tr -d '\n\t')" >> "$work/samples"
  sleep 1
done
curl -s "http://127.0.0.1:$port/metrics" > "$work/metrics"
python3 - "$work" <<'PY'
import sys, json, datetime, re
work = sys.argv[1]
def ts(s):
    # 2026-11-29T13:29:30.867418039Z -> microseconds, UTC.
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", s)
    base = datetime.datetime.fromisoformat(m.group(1)).replace(tzinfo=datetime.timezone.utc)
    return base.timestamp() + float("0." + (m.group(2) or "0"))
phases = [l.split() for l in open(f"{work}/phases")]
heal = float(phases[-1][0]) if phases[-1][1] == "healthy" else None
rows = []
for line in open(f"{work}/samples"):
    t, ready, rss, fds, status = line.rstrip("\n").split("\t", 4)
    try:
        st = json.loads(status)
    except ValueError:
        st = {}
    rows.append((float(t), ready, int(rss), int(fds), st))
rss = [r[2] for r in rows]; fds = [r[3] for r in rows]
runs = sum(float(l.rsplit(" ", 1)[1]) for l in open(f"{work}/metrics") if l.startswith("sniper_runs_total{"))
truth_n = truth_ok = 0
recovery = None
for t, ready, _, _, st in rows:
    last = st.get("last_run")
    if last and ready in ("200", "503"):
        truth_n += 1
        truth_ok += (ready == "200") == bool(last.get("success"))
    if heal and recovery is None and last and last.get("success") and last.get("at"):
        at = ts(last["at"])
        if at >= heal:
            recovery = at - heal
print(f"samples {len(rows)}  runs {runs:.0f}")
print(f"RSS min {min(rss)/1024:.1f} MB  max {max(rss)/1024:.1f} MB   fds max {max(fds)}")
print("recovery after the last fault: " + (f"{recovery:.1f} s" if recovery is not None else "no successful run after the backend healed"))
if truth_n:
    print(f"/ready truth: {100*truth_ok/truth_n:.1f}% of {truth_n} samples matched the last run's success")
errs = sum(float(l.rsplit(" ", 1)[1]) for l in open(f"{work}/metrics") if l.startswith("sniper_store_errors_total{"))
print(f"store errors {errs:.0f}")
PY
