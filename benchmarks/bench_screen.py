"""End-to-end speed of a composition-tier screen of enumerated candidates into the store.

Each size runs in its own process (``screening screen`` through the Prefect flow, with a
fresh PREFECT_HOME so nothing comes from the cache) and is timed from outside; peak
memory is the child's maximum RSS. The stability tier runs on the best K only.

    .venv/bin/python benchmarks/bench_screen.py 1000 10000 100000 --top-k 200

The default enumeration space (``enumerate_candidates()`` with no arguments) holds 312,818
candidates, so every size is a prefix of it. Rows are printed as a markdown table.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(n: int, top_k: int, workers: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench_screen_"))
    env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    env.pop("PREFECT_API_URL", None)
    argv = [sys.executable, "-m", "screening.cli", "--store", str(tmp / "bench.duckdb"), "screen", "--source", "enumerated",
            "--limit", str(n), "--chunk-size", "2000", "--stability-top-k", str(top_k),
            "--max-workers", str(workers), "--run-id", f"bench{n}", "--top-n", "5"]  # fmt: skip
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise RuntimeError(proc.stdout[-3000:] + proc.stderr[-3000:])
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # MiB, max over children so far
    from screening.store import ResultStore

    store = ResultStore(tmp / "bench.duckdb")
    row = store.query("SELECT n_candidates, n_errors, timings FROM runs").iloc[0]
    n_rows = store.query("SELECT count(*) AS n FROM ranked")["n"].item()
    return {"n": n, "stored": int(n_rows), "errors": int(row["n_errors"]), "wall_s": wall, "ms_per_candidate": 1000 * wall / n,
            "peak_rss_MiB_so_far": rss, "timings": row["timings"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10000, 100000])
    parser.add_argument("--top-k", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for n in args.sizes:
        r = run(n, args.top_k, args.workers)
        print(f"| {r['n']} | {r['stored']} | {r['errors']} | {r['wall_s']:.1f} | {r['ms_per_candidate']:.2f} | "
              f"{r['peak_rss_MiB_so_far']:.0f} | {r['timings']} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
