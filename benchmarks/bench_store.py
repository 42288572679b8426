"""Speed of ``ResultStore.top(20)`` on a store of 1,000,000 candidates.

Builds (once, in a temporary directory) a store with one run of N synthetic candidates:
candidates, 20 descriptor columns, stability, predictions and scores, all written through
``ResultStore.write`` in chunks of 100,000; then times ``top(20)``, ``top(20, family=...)``
and ``top(20, min_window_V=...)`` (best of 5 after one warm-up, each call opening its own
read-only connection as users do).

    .venv/bin/python benchmarks/bench_store.py --rows 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from screening.store import ResultStore


def build(path: Path, rows: int, chunk: int = 100_000) -> ResultStore:
    rng = np.random.default_rng(0)
    store = ResultStore(path)
    run = store.start_run({"rows": rows}, run_id="big")
    order = rng.permutation(rows) + 1
    for start in range(0, rows, chunk):
        idx = np.arange(start, min(rows, start + chunk))
        ids = [f"cand-{i:07d}" for i in idx]
        fam = np.array(["sulfide", "halide", "oxide"])[idx % 3]
        store.write("candidates", run, pd.DataFrame({"candidate_id": ids, "formula": "Li3YCl6", "family": fam, "error": None}))
        store.write("descriptors", run, pd.DataFrame({"candidate_id": ids, **{f"feature_{k}": rng.random(len(idx)) for k in range(20)}}))
        store.write("stability", run, pd.DataFrame({"candidate_id": ids, "window_width_V": rng.random(len(idx)) * 4}))
        store.write("predictions", run, pd.DataFrame({"candidate_id": ids, "log10_sigma_S_cm": rng.normal(-5, 2, len(idx))}))
        store.write("scores", run, pd.DataFrame({"candidate_id": ids, "passes_filters": True, "pareto_rank": 1,
                                                 "score": rng.random(len(idx)), "rank": order[idx]}))  # fmt: skip
    store.finish_run(run)
    return store


def best_of(fn, repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp(prefix="bench_store_")) / "big.duckdb"
    t = time.perf_counter()
    store = build(path, args.rows)
    print(f"built {args.rows} rows in {time.perf_counter() - t:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)")
    for label, fn in [
        ("top(20)", lambda: store.top(20)),
        ("top(20, family='halide')", lambda: store.top(20, family="halide")),
        ("top(20, min_window_V=3.5)", lambda: store.top(20, min_window_V=3.5)),
    ]:
        assert len(fn()) == 20
        print(f"| {label} | {1000 * best_of(fn):.0f} ms |")


if __name__ == "__main__":
    main()
