#!/usr/bin/env bash
# Browser check of the sniper status page: load URL in headless Chromium, dump the DOM after the
# page's scripts ran, take a phone-sized screenshot, and fail unless the page shows the five
# modules, at least one run, and no error.
#
# usage: tests/browser/check.sh URL OUTDIR
#   writes OUTDIR/dom.html, OUTDIR/status.png and chromium logs; exit 0 = pass, 1 = page check
#   failed, 2 = usage / chromium missing or crashed.
# env: CHROMIUM (default: chromium on PATH); CHECK_TIMEOUT seconds per chromium run (default 60);
#      CHECK_ATTEMPTS (default 3) DOM checks, CHECK_RETRY_DELAY seconds apart (default 3), so a
#      freshly started server has time to finish its first run.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 URL OUTDIR" >&2
  exit 2
fi
url=$1
out=$2
chromium=${CHROMIUM:-$(command -v chromium || true)}
if [ -z "$chromium" ] || [ ! -x "$chromium" ]; then
  echo "check.sh: chromium not found; install it with: apt-get install -y chromium" >&2
  exit 2
fi
mkdir -p "$out"
profiles=()
cleanup() { if [ ${#profiles[@]} -gt 0 ]; then rm -rf "${profiles[@]}"; fi; }
trap cleanup EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --virtual-time-budget=8000)
limit=${CHECK_TIMEOUT:-60}
attempts=${CHECK_ATTEMPTS:-3}
delay=${CHECK_RETRY_DELAY:-3}
dom="$out/dom.html"

# Each chromium run gets a fresh user-data dir.
run_chromium() {
  local profile
  profile=$(mktemp -d)
  profiles+=("$profile")
  timeout "$limit" "$chromium" "${flags[@]}" --user-data-dir="$profile" "$@"
}

problems=()
problem() { problems+=("$*"); }

check_dom() {
  problems=()
  # The page sets data-loaded="true" on <body> only after both APIs answered and rendered.
  grep -q '<body[^>]*data-loaded="true"' "$dom" ||
    problem "page never finished loading (body data-loaded is not true)"

  # #error must be present and hidden; if shown, report its text.
  local error_tag msg
  error_tag=$(grep -o '<div[^>]*id="error"[^>]*>' "$dom" | head -n1 || true)
  if [ -z "$error_tag" ]; then
    problem "no #error element in the page"
  elif ! printf '%s' "$error_tag" | grep -q ' hidden'; then
    msg=$(grep -o '<div[^>]*id="error"[^>]*>[^<]*' "$dom" | head -n1 | sed 's/^<[^>]*>//')
    problem "page shows an error: $msg"
  fi

  local module_tags m
  module_tags=$(grep -o '<li[^>]*>' "$dom" | grep 'class="module"' || true)
  modules=0
  for m in etf heatmap spot_ob whale_alerts bias; do
    if printf '%s\n' "$module_tags" | grep -q "data-module=\"$m\""; then
      modules=$((modules + 1))
    else
      problem "module $m not shown in #modules"
    fi
  done

  runs=$(grep -o '<button[^>]*class="run [a-z]*"' "$dom" | wc -l | tr -d ' ')
  [ "$runs" -ge 1 ] || problem "no runs in #timeline"
  [ ${#problems[@]} -eq 0 ]
}

for attempt in $(seq 1 "$attempts"); do
  if ! run_chromium --dump-dom "$url" >"$dom" 2>"$out/chromium-dom.log"; then
    echo "check.sh: chromium --dump-dom failed (see $out/chromium-dom.log)" >&2
    exit 2
  fi
  if check_dom; then
    break
  fi
  if [ "$attempt" -lt "$attempts" ]; then
    echo "check.sh: attempt $attempt/$attempts: ${problems[0]}; retrying in ${delay}s" >&2
    sleep "$delay"
  fi
done

if ! run_chromium --screenshot="$out/status.png" --window-size=412,900 "$url" \
    >"$out/chromium-shot.log" 2>&1; then
  echo "check.sh: chromium --screenshot failed (see $out/chromium-shot.log)" >&2
  exit 2
fi
[ -s "$out/status.png" ] || problem "no screenshot written"

if [ ${#problems[@]} -ne 0 ]; then
  for p in "${problems[@]}"; do echo "FAIL: $p" >&2; done
  echo "check.sh: FAILED for $url (DOM in $dom, screenshot $out/status.png)" >&2
  exit 1
fi
echo "check.sh: ok — $modules modules, $runs runs, no error; screenshot $out/status.png"
