#!/usr/bin/env bash
# validate.sh -- the served /gpts/openapi.json, checked by a real OpenAPI validator
# (openapi-spec-validator, pip-installed into a venv under target/) and by `sniper gpts check`,
# for `sniper proxy` in front of the sandbox and of every fixture spec in
# ../shared/fixtures/openapi (each served as /openapi.json by python's http.server).
# Loopback only; every wait is bounded. Exit 1 on the first invalid spec.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd); cd "$repo"
fixtures=${FIXTURES:-$repo/../shared/fixtures/openapi}
venv=$repo/target/gpts-venv
if [ ! -x "$venv/bin/openapi-spec-validator" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q openapi-spec-validator
fi
cargo build -q --bin sniper
bin=${CARGO_TARGET_DIR:-$repo/target}/debug/sniper
work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not answering: $1" >&2; return 1; }

check_through_proxy() { # name backend_url
  local name=$1 backend=$2 port; port=$(free_port)
  PY_BASE_URL=$backend SNIPER_LISTEN=127.0.0.1:$port PUBLIC_URL=https://gpt.example.test \
    GPTS_API_KEY=validate-key "$bin" proxy >"$work/proxy-$port.log" 2>&1 & pids+=($!)
  wait_up "http://127.0.0.1:$port/health"
  curl -sf "http://127.0.0.1:$port/gpts/openapi.json" -o "$work/served.json" \
    || { echo "$name: /gpts/openapi.json failed" >&2; cat "$work/proxy-$port.log" >&2; return 1; }
  "$venv/bin/openapi-spec-validator" "$work/served.json" >/dev/null \
    || { echo "$name: openapi-spec-validator refused the served spec" >&2; "$venv/bin/openapi-spec-validator" "$work/served.json" >&2 || true; return 1; }
  "$bin" gpts check "$work/served.json" >"$work/check.txt" \
    || { echo "$name: sniper gpts check found violations" >&2; cat "$work/check.txt" >&2; return 1; }
  echo "ok: $name"
}

sb_port=$(free_port)
"$bin" sandbox --listen "127.0.0.1:$sb_port" >"$work/sandbox.log" 2>&1 & pids+=($!)
wait_up "http://127.0.0.1:$sb_port/openapi.json"
check_through_proxy sandbox "http://127.0.0.1:$sb_port"

for spec in "$fixtures"/*.json; do
  dir=$work/www-$(basename "$spec" .json); mkdir -p "$dir"; cp "$spec" "$dir/openapi.json"
  port=$(free_port)
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir" >/dev/null 2>&1 & pids+=($!)
  wait_up "http://127.0.0.1:$port/openapi.json"
  check_through_proxy "$(basename "$spec")" "http://127.0.0.1:$port"
done
echo "gpts: every served spec is valid"
