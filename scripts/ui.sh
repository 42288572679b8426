#!/usr/bin/env bash
# Start a local Prefect server on 127.0.0.1 and serve the screen/train/evaluate deployments.
# Open the printed address, pick a deployment, "Run" > "Custom run", fill the form.
# Ctrl-C stops both. PORT (default 4200) and PY (default .venv/bin/python) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PORT=${PORT:-4200}
export PREFECT_HOME=${PREFECT_HOME:-$PWD/.prefect}
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
export PREFECT_API_URL="http://127.0.0.1:${PORT}/api"
"$PY" -m prefect server start --host 127.0.0.1 --port "$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 120); do
  curl -fs "$PREFECT_API_URL/health" >/dev/null 2>&1 && break
  sleep 1
done
echo "Prefect UI: http://127.0.0.1:${PORT}  (deployments: screen, train, evaluate)"
"$PY" -m flows.serve
