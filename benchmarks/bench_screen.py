"""End-to-end speed of a composition-tier screen of enumerated candidates into the store.

Each size runs in its own process (``screening screen`` through the Prefect flow, with a
fresh PREFECT_HOME so nothing comes from the cache) and is timed from outside; peak
memory is the child's maximum RSS (``getrusage``: the largest process so far, so give the
sizes in increasing order or one at a time) and the resident memory of the child and its
descendants together, sampled every 0.25 s. The stability tier runs on the best K only.

    .venv/bin/python benchmarks/bench_screen.py 1000 10000 100000 --top-k 200

The structure tier is off unless ``--structure-top-k K`` is given (then it runs on the best K
after the stability tier, and its cost is added to the table: the tier's wall time, its
structure fetch, seconds per described candidate, and the median and largest seconds of one
row inside its task, ``structure_wall_s``):

    .venv/bin/python benchmarks/bench_screen.py 10000 100000 --top-k 2000 --structure-top-k 300

Each size is a stratified, seeded sample (``limit``) of the chosen enumeration space
(``--space default``: about 0.48 million candidates; ``--space large``: about 1.26 million).
Rows are printed as a markdown table.

    .venv/bin/python benchmarks/bench_screen.py 10000 100000 1000000 --space large --top-k 2000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(n: int, top_k: int, workers: int, space: str = "default", runner: str = "threads", chunk_size: int = 2000,
        memory_log: Path | None = None, structure_top_k: int | None = None) -> dict:  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="bench_screen_"))
    env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    env.pop("PREFECT_API_URL", None)
    argv = [sys.executable, "-m", "flows.cli", "--store", str(tmp / "bench.duckdb"), "screen", "--source", "enumerated",
            "--limit", str(n), "--chunk-size", str(chunk_size), "--stability-top-k", str(top_k),
            "--max-workers", str(workers), "--run-id", f"bench{n}", "--top-n", "5", "--space", space,
            "--task-runner", runner]  # fmt: skip
    if structure_top_k:
        argv += ["--tiers", "composition,stability,structure", "--structure-top-k", str(structure_top_k)]
    else:
        argv += ["--tiers", "composition,stability"]
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        tree_peak = _sample_tree(proc, log=memory_log)
        wall = time.perf_counter() - t
        if proc.returncode:
            out.seek(0)
            raise RuntimeError(out.read()[-6000:])
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # MiB, max over children so far
    from screening.store import ResultStore

    store = ResultStore(tmp / "bench.duckdb")
    row = store.query("SELECT n_candidates, n_errors, timings FROM runs").iloc[0]
    n_rows = store.query("SELECT count(*) AS n FROM candidates")["n"].item()
    n_pareto = store.query("SELECT count(*) FILTER (WHERE passes_gates) AS passed, "
                           "count(*) FILTER (WHERE passes_gates AND pareto_rank > 0) AS with_front FROM scores")  # fmt: skip
    size_mb = (tmp / "bench.duckdb").stat().st_size / 1e6
    structure = store.query("SELECT count(*) AS n, count(*) FILTER (WHERE structure_log10_sigma_S_cm IS NULL) AS failed, "
                            "median(structure_wall_s) AS row_median_s, max(structure_wall_s) AS row_max_s, "
                            "sum(structure_wall_s) AS row_sum_s FROM structure").iloc[0].to_dict()  # fmt: skip
    return {"structure": structure,"n": n, "stored": int(n_rows), "errors": int(row["n_errors"]), "wall_s": wall, "ms_per_candidate": 1000 * wall / n,
            "peak_rss_MiB_so_far": rss, "tree_peak_MiB": tree_peak, "timings": row["timings"], "store_MB": size_mb,
            "passed": int(n_pareto["passed"].item()), "with_front": int(n_pareto["with_front"].item())}  # fmt: skip


def _sample_tree(proc: subprocess.Popen, every: float = 0.25, log: Path | None = None) -> float:
    """Wait for ``proc``; the largest resident memory (MiB) of it and its descendants together, sampled.

    ``log``: a CSV of ``seconds, tree MiB, largest process MiB`` every 5 s (the memory over the run's phases).
    """
    import psutil

    root, peak, t0, last = psutil.Process(proc.pid), 0.0, time.perf_counter(), -10.0
    rows = ["seconds,tree_MiB,largest_process_MiB"]
    while proc.poll() is None:
        sizes = []
        for p in [root, *root.children(recursive=True)]:
            try:
                sizes.append(p.memory_info().rss / 2**20)
            except psutil.Error:  # ended between the listing and the reading
                continue
        peak = max(peak, sum(sizes))
        now = time.perf_counter() - t0
        if now - last >= 5.0 and sizes:
            rows.append(f"{now:.0f},{sum(sizes):.0f},{max(sizes):.0f}")
            last = now
        time.sleep(every)
    if log is not None:
        log.write_text("\n".join(rows) + "\n")
    return peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10000, 100000])
    parser.add_argument("--top-k", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--space", default="default", choices=["default", "large"])
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--task-runner", default="threads", choices=["threads", "dask"])
    parser.add_argument("--memory-log", type=Path, help="folder for one CSV per size: resident memory every 5 s")
    parser.add_argument("--structure-top-k", type=int, help="run the structure tier on the best K (default: off)")
    args = parser.parse_args()
    extra = " structure tier s (fetch s) | described (no estimate) | structure s / candidate | row s median (max, sum) |"
    print("| candidates | rows stored | errors | wall s | ms / candidate (wall) | tier 0 s | tier 0 ms / candidate |"
          " stability s |" + (extra if args.structure_top_k else "") + " rank s | passed gates | with pareto_rank |"
          " peak RSS MiB (largest process) | peak RSS MiB (process tree, sampled) | store MB |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|---:|" if args.structure_top_k else "") + "---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        log = args.memory_log / f"memory_{n}.csv" if args.memory_log else None
        r = run(n, args.top_k, args.workers, args.space, args.task_runner, args.chunk_size, log, args.structure_top_k)
        t = json.loads(r["timings"])
        cells = ""
        if args.structure_top_k:
            st, k = r["structure"], max(int(r["structure"]["n"]), 1)
            cells = (f" {t.get('structure_s', 0):.1f} ({t.get('structure_fetch_s', 0):.1f}) | {int(st['n']):,} ({int(st['failed'])}) |"
                     f" {t.get('structure_s', 0) / k:.2f} | {st['row_median_s']:.2f} ({st['row_max_s']:.2f}, {st['row_sum_s']:.0f}) |")  # fmt: skip
        print(f"| {r['n']:,} | {r['stored']:,} | {r['errors']} | {r['wall_s']:.1f} | {r['ms_per_candidate']:.2f} |"
              f" {t['composition_s']:.1f} | {1000 * t['composition_s'] / r['n']:.2f} | {t.get('stability_s', 0):.1f} |{cells}"
              f" {t['rank_s']:.1f} | {r['passed']:,} | {r['with_front']:,} | {r['peak_rss_MiB_so_far']:.0f} | {r['tree_peak_MiB']:.0f} | {r['store_MB']:.0f} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
