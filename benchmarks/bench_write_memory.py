"""Transient memory of writing one tier-0 chunk into a large store, with and without DuckDB's memory limit.

    .venv/bin/python benchmarks/bench_write_memory.py STORE.duckdb            # store's own limit (WRITE_MEMORY_LIMIT)
    .venv/bin/python benchmarks/bench_write_memory.py STORE.duckdb --no-limit # DuckDB's default (80 % of RAM)

STORE is a screen's store (e.g. the one `bench_screen.py 1000000 --space large` leaves in
/tmp/bench_screen_*/); it is copied first. Writes 4 chunks of 10,000 rows (candidates,
descriptors, predictions copied from the run under new ids) and prints the peak RSS growth.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from screening.store import ResultStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("store", type=Path)
    parser.add_argument("--no-limit", action="store_true")
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp()) / "copy.duckdb"
    shutil.copy(args.store, path)
    limit = "19GB" if args.no_limit else None  # (about DuckDB's own default, 80 % of this machine's 24 GiB); None: the store's
    store = ResultStore(path)
    run = store.query("SELECT run_id FROM runs")["run_id"].iloc[0]
    tables = {t: store.query(f"SELECT * EXCLUDE (run_id) FROM {t} WHERE run_id = ? LIMIT 10000", [run])
              for t in ("candidates", "descriptors", "predictions")}  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for i in range(4):
        for t in tables.values():
            t["candidate_id"] = t["candidate_id"] + f"-w{i}"
        start = time.perf_counter()
        store.write_many(run, tables, replace=False, memory_limit=limit)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"write {i}: {time.perf_counter() - start:.2f} s, peak RSS {peak:.0f} MiB (+{peak - before:.0f} over the peak before the writes)")


if __name__ == "__main__":
    main()
