#!/usr/bin/env bash
# Checks the deploy files: Prometheus rules (syntax + unit tests) and every PromQL query of the
# Grafana dashboard (parsed by promtool as recording rules). Needs promtool (Debian: prometheus)
# and python3. Usage: bash deploy/check.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
promtool check rules "$here/prometheus/sniper-rules.yml"
promtool test rules "$here/prometheus/sniper-rules.test.yml"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 - "$here/grafana/sniper-dashboard.json" "$tmp/dashboard-rules.yml" <<'PY'
import json, sys
dash = json.load(open(sys.argv[1]))
lines = ["groups:", "  - name: dashboard", "    rules:"]
n = 0
for p in dash["panels"]:
    for t in p.get("targets", []):
        expr = t["expr"].replace("$__rate_interval", "5m").replace("$instance", ".*")
        n += 1
        lines.append(f"      - record: dashboard:panel{p['id']}:{t['refId']}")
        lines.append("        expr: " + json.dumps(expr))
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
print(f"dashboard: {len(dash['panels'])} panels, {n} queries")
PY
promtool check rules "$tmp/dashboard-rules.yml"
if command -v systemd-analyze >/dev/null; then
  # verify wants ExecStart to exist: check a copy pointing at /bin/true.
  sed 's#^ExecStart=/usr/local/bin/sniper#ExecStart=/bin/true#' "$here/sniper.service" > "$tmp/sniper.service"
  systemd-analyze verify --man=no "$tmp/sniper.service"
  systemd-analyze security --offline=true --threshold=20 "$tmp/sniper.service" | tail -1
fi
echo "deploy files OK"
