"""Speed of ``ResultStore.top(20)`` on a store of 1,000,000 candidates.

Builds (once, in a temporary directory, or at ``--path`` and kept) a store with one run of
N synthetic candidates: candidates (hashed ids like the real ones, so the ids' min/max
statistics do not help), 20 descriptor columns, stability, predictions and scores, all
written through ``ResultStore.write`` in chunks of 100,000. Then, for ``top(20)``,
``top(20, family=...)``, ``top(20, min_window_V=...)`` and two cases that miss the cached
prefix (``n=5000``; a filter that few pass), it reports

* cold: the first call in a fresh Python process (``ResultStore(path)`` already made, so
  no import time; the file is in the OS page cache), and the same including
  ``ResultStore(path, read_only=True)`` (what the command line pays);
* warm: best of ``--repeat`` calls after one warm-up, each opening its own read-only
  connection, as users do;
* connect: opening and closing a read-only connection alone;

and the load average of the machine before and after.

    .venv/bin/python benchmarks/bench_store.py --rows 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
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
        ids = ["c-" + hashlib.sha1(str(i).encode()).hexdigest()[:12] for i in idx]
        fam = np.array(["sulfide", "halide", "oxide"])[idx % 3]
        store.write("candidates", run, pd.DataFrame({"candidate_id": ids, "formula": "Li3YCl6", "family": fam, "error": None}))
        store.write("descriptors", run, pd.DataFrame({"candidate_id": ids, **{f"feature_{k}": rng.random(len(idx)) for k in range(20)}}))
        store.write("stability", run, pd.DataFrame({"candidate_id": ids, "window_width_V": rng.random(len(idx)) * 4}))
        store.write("predictions", run, pd.DataFrame({"candidate_id": ids, "log10_sigma_S_cm": rng.normal(-5, 2, len(idx))}))
        store.write("scores", run, pd.DataFrame({"candidate_id": ids, "passes_gates": True, "pareto_rank": 1,
                                                 "score": rng.random(len(idx)), "rank": order[idx]}))  # fmt: skip
    store.finish_run(run)
    return store


CASES = {
    "top(20)": {},
    "top(20, family='halide')": {"family": "halide"},
    "top(20, min_window_V=3.5)": {"min_window_V": 3.5},
    "top(20, family='oxide', min_window_V=3.9)": {"family": "oxide", "min_window_V": 3.9},
    "top(20, min_window_V=3.999) (misses the cache)": {"min_window_V": 3.999},
    "top(5000) (misses the cache)": {"n": 5000},
    "top(20, columns='all')": {"columns": "all"},
}

_COLD = """
import json, sys, time
t0 = time.perf_counter()
from screening.store import ResultStore
path, kwargs, with_init = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"
if not with_init:
    store = ResultStore(path, read_only=True)
t = time.perf_counter()
if with_init:
    store = ResultStore(path, read_only=True)
n = kwargs.pop("n", 20)
rows = store.top(n, **kwargs)
print(json.dumps({"s": time.perf_counter() - t, "rows": len(rows)}))
"""


def cold(path: Path, kwargs: dict, with_init: bool) -> float:
    out = subprocess.run([sys.executable, "-c", _COLD, str(path), json.dumps(kwargs), "1" if with_init else "0"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])["s"]


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
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--path", type=Path, help="store to use (built there when missing, and kept)")
    args = parser.parse_args()
    path = args.path or Path(tempfile.mkdtemp(prefix="bench_store_")) / "big.duckdb"
    if not path.exists():
        t = time.perf_counter()
        build(path, args.rows)
        print(f"built {args.rows} rows in {time.perf_counter() - t:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)")
    store = ResultStore(path)
    print(f"load average before: {os.getloadavg()}")
    print(f"connect (read-only, open + close): {1000 * best_of(lambda: duckdb.connect(str(path), read_only=True).close(), args.repeat):.1f} ms")
    print(f"ResultStore(path): {1000 * best_of(lambda: ResultStore(path), args.repeat):.1f} ms")
    print(f"ResultStore(path, read_only=True): {1000 * best_of(lambda: ResultStore(path, read_only=True), args.repeat):.1f} ms")
    sql = "SELECT formula, log10_sigma_S_cm FROM ranked WHERE family = 'halide' ORDER BY rank LIMIT 20"
    print(f"query (sandboxed connection) {sql!r}: {1000 * best_of(lambda: store.query(sql), args.repeat):.1f} ms")
    print("| query | cold | cold incl. ResultStore(path, read_only=True) | warm (best of %d) |" % args.repeat)
    print("|---|---:|---:|---:|")
    for label, kwargs in CASES.items():
        kw = dict(kwargs)
        n = kw.pop("n", 20)
        fn = lambda n=n, kw=kw: store.top(n, **kw)  # noqa: E731
        assert len(fn()) == n, label
        c1, c2 = cold(path, kwargs, False), cold(path, kwargs, True)
        print(f"| `{label}` | {1000 * c1:.0f} ms | {1000 * c2:.0f} ms | {1000 * best_of(fn, args.repeat):.0f} ms |")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
