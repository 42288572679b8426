#!/usr/bin/env bash
# The MLIP measurements of issue 24 on a GPU, in one command (nothing in the project depends on it):
# relaxations per hour batched (torch-sim) vs one by one, MD transport at full length, e_hull validation.
#   bash benchmarks/gpu_mlip.sh [work dir]      (about 2-4 h on one GPU; each step caches its rows in the work dir)
set -euo pipefail
cd "$(dirname "$0")"
WORK=${1:-/tmp/mlip_gpu}
PY=${PYTHON:-python}
mkdir -p "$WORK"
"$PY" bench_batched_relax.py --n 64 --device cuda 2>&1 | tee "$WORK/batched_relax.log"
"$PY" bench_ehull_validation.py --potentials chgnet,sevenn --max-atoms 160 --work "$WORK/ehull" 2>&1 | tee "$WORK/ehull.log"
"$PY" bench_transport.py --device cuda --materials gpu --temperatures 700,850,1000 --ps 20 --min-atoms 100 \
    --work "$WORK/transport" 2>&1 | tee "$WORK/transport.log"
