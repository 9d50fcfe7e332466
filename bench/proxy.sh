#!/usr/bin/env bash
# proxy.sh -- benchmark sniper's /gpts gateway against nginx doing the same proxying.
#
# Usage: bench/proxy.sh [rounds]          (run from anywhere inside the repository)
#   nginx (apt nginx-light) serves a static JSON file as the backend and also proxies /gpts/ to it;
#   wrk (apt) loads both proxies in interleaved rounds. Prints median req/s and p99 per target,
#   the ratio to nginx, then the gateway's RSS idle, after >= 100 000 proxied requests, and after
#   streaming a 1 GiB response through it.
# Env: PROXY_BIN (prebuilt examples/proxy; default: cargo build --release --example proxy),
#      PROXY_THREADS (0 = one worker per core, 1 = current-thread), PROXY_WORKERS (N reuseport
#      current-thread workers; overrides PROXY_THREADS), DURATION (s, default 4),
#      CONNS (default 32), BIG=0 to skip the 1 GiB streaming check. Loopback only; bounded loops.
set -euo pipefail
rounds=${1:-3}; duration=${DURATION:-4}; conns=${CONNS:-32}
repo=$(cd "$(dirname "$0")/.." && pwd); work=$(mktemp -d); chmod 755 "$work"
UP=18280; NGX=18281; GW=18283
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
command -v nginx >/dev/null && command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light wrk >/dev/null; }

if [ -z "${PROXY_BIN:-}" ]; then
  (cd "$repo" && cargo build --release --example proxy -q)
  PROXY_BIN="${CARGO_TARGET_DIR:-$repo/target}/release/examples/proxy"
fi

mkdir -p "$work/www/advanced/spot"
python3 -c "import json;print(json.dumps({'symbol':'SOLUSDT','exchange':'binance','bids':[[150-0.01*i,10+i] for i in range(50)],'asks':[[150+0.01*i,10+i] for i in range(50)]}))" > "$work/www/advanced/spot/orderbook"
truncate -s 1G "$work/www/big"
cat > "$work/nginx.conf" <<NGX
worker_processes 1; pid $work/nginx.pid; error_log $work/nginx.err warn;
events { worker_connections 4096; }
http { access_log off; default_type application/json; sendfile on;
  upstream up { server 127.0.0.1:$UP; keepalive 64; }
  server { listen 127.0.0.1:$UP; root $work/www; location / { try_files \$uri =404; } }
  server { listen 127.0.0.1:$NGX; location /gpts/ { proxy_pass http://up/; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NGX
nginx -c "$work/nginx.conf"

LISTEN=127.0.0.1:$GW PY_BASE_URL=http://127.0.0.1:$UP RUST_LOG=${RUST_LOG:-warn} "$PROXY_BIN" >"$work/gw.log" 2>&1 &
pid=$!
wait_up() { for _ in $(seq 100); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "not answering: $1" >&2; return 1; }
path=/gpts/advanced/spot/orderbook
wait_up "http://127.0.0.1:$NGX$path"; wait_up "http://127.0.0.1:$GW$path" || { cat "$work/gw.log"; exit 1; }
curl -sf "http://127.0.0.1:$GW$path" | cmp -s - "$work/www/advanced/spot/orderbook" || { echo "gateway body differs from backend" >&2; exit 1; }
rss() { awk -v k="$2:" '$1==k{print $2/1024}' "/proc/$1/status"; }
rss_idle=$(rss "$pid" VmRSS)

total=0
for r in $(seq "$rounds"); do
  for t in "nginx|http://127.0.0.1:$NGX$path" "sniper|http://127.0.0.1:$GW$path"; do
    name=${t%%|*}; url=${t#*|}
    wrk -t1 -c"$conns" -d"${duration}s" --latency "$url" > "$work/w" 2>&1 || true
    rps=$(awk '/Requests\/sec/{print $2}' "$work/w"); p99=$(awk '$1=="99%"{print $2}' "$work/w")
    [ "$name" = sniper ] && total=$((total + $(awk '/requests in/{print $1}' "$work/w")))
    echo "$name $rps $p99" >> "$work/results"
  done
done
for _ in $(seq 20); do  # top up to 100 000 proxied requests for the RSS figure (bounded)
  [ "$total" -ge 100000 ] && break
  wrk -t1 -c"$conns" -d2s "http://127.0.0.1:$GW$path" > "$work/w" 2>&1 || true
  total=$((total + $(awk '/requests in/{print $1}' "$work/w")))
done
rss_load=$(rss "$pid" VmRSS); hwm_load=$(rss "$pid" VmHWM)

python3 - "$work/results" <<'PY'
import sys, statistics as st
def ms(v):
    for u, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(u): return float(v[:-len(u)]) * f
    return float("nan")
rows = {}
for line in open(sys.argv[1]):
    n, rps, p99 = line.split(); rows.setdefault(n, []).append((float(rps), ms(p99)))
med = {n: (st.median(r for r, _ in v), st.median(p for _, p in v)) for n, v in rows.items()}
ng = med["nginx"][0]
print(f"{'target':<8} {'req/s':>10} {'p99 ms':>8} {'vs nginx':>9}")
for n, (r, p) in med.items(): print(f"{n:<8} {r:>10.0f} {p:>8.2f} {r/ng:>9.2f}")
PY
printf 'sniper RSS: idle %.1f MB; after %d proxied requests %.1f MB (peak %.1f MB)\n' "$rss_idle" "$total" "$rss_load" "$hwm_load"
if [ "${BIG:-1}" = 1 ]; then
  got=$(curl -sf "http://127.0.0.1:$GW/gpts/big" | wc -c)
  printf 'sniper RSS: after streaming a %d-byte response %.1f MB (peak %.1f MB)\n' "$got" "$(rss "$pid" VmRSS)" "$(rss "$pid" VmHWM)"
fi
