"""Benchmark of candidate enumeration: size, speed and memory of the default space.

Run from the repository root::

    python benchmarks/bench_enumeration.py            # print the numbers
    python benchmarks/bench_enumeration.py --write    # and rewrite benchmarks/results/enumeration.md
    python benchmarks/bench_enumeration.py --write --tracemalloc   # plus the tracemalloc pass (~4 min)

What it measures (one process pinned to one core, BLAS threads 1):

1. the whole default space of :func:`screening.candidates.enumerate_candidates`
   (no arguments): wall and CPU time, candidates per family, peak resident memory
   (``resource.getrusage``);
2. with ``--tracemalloc``, the same pass under ``tracemalloc`` (about 15x slower): peak
   Python memory, to show that the stream keeps memory bounded (candidates are
   counted, not kept);
3. structures for a random subset (reservoir sample, seed 0) of the stream:
   structures per second with :meth:`Candidate.structure`.

Targets (issue 4): at least 100,000 composition-level candidates in under 2 minutes on
one core, peak memory under 2 GB; 50 structures a second or more.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import datetime as dt
import platform
import random
import resource
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from screening.candidates import EnumerationReport, enumerate_candidates, load_seeds  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "enumeration.md"


def _pin_one_core() -> str:
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):  # not Linux
        return "not pinned"


def enumerate_pass(sample_size: int = 0, seed: int = 0) -> dict:
    """One pass over the default space; returns counts, timings and a reservoir sample."""
    rng = random.Random(seed)
    report = EnumerationReport()
    per_family: Counter = Counter()
    sample = []
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for cand in enumerate_candidates(report=report):
        n += 1
        per_family[cand.family] += 1
        if sample_size:
            if len(sample) < sample_size:
                sample.append(cand)
            else:
                j = rng.randrange(n)
                if j < sample_size:
                    sample[j] = cand
    return {
        "n": n,
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "per_family": dict(per_family),
        "report": report,
        "sample": sample,
    }


def structure_pass(sample: list) -> dict:
    """Build the structures of a sample; returns the rate overall and per family."""
    per_family: dict[str, list[float]] = {}
    errors = 0
    t0 = time.perf_counter()
    for cand in sample:
        t = time.perf_counter()
        try:
            cand.structure()
        except Exception:  # counted, not fatal (bad input is never fatal to a batch)
            errors += 1
        per_family.setdefault(cand.family, []).append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    return {
        "n": len(sample),
        "wall_s": wall,
        "rate": len(sample) / wall,
        "errors": errors,
        "per_family_rate": {f: len(v) / sum(v) for f, v in per_family.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite benchmarks/results/enumeration.md")
    parser.add_argument("--sample", type=int, default=1000, help="structures to build (default 1000)")
    parser.add_argument("--tracemalloc", action="store_true", help="add the (slow) tracemalloc pass")
    args = parser.parse_args(argv)

    pinned = _pin_one_core()
    load_seeds()  # warm imports (pymatgen) so that they are not timed
    enumerate_candidates(seeds=["Li3OCl"]).__next__()

    run = enumerate_pass(sample_size=args.sample)
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux
    print(f"candidates: {run['n']:,} in {run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU "
          f"({run['n'] / run['wall_s']:,.0f}/s); peak RSS {rss_gb:.2f} GB")
    print("per family:", run["per_family"])

    traced = None
    if args.tracemalloc:
        tracemalloc.start()
        run2 = enumerate_pass()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        traced = {"peak_mb": peak / 1024**2, "wall_s": run2["wall_s"]}
        print(f"tracemalloc: peak {traced['peak_mb']:.0f} MB (pass took {run2['wall_s']:.1f} s under tracing)")

    structures = structure_pass(run["sample"])
    rates = {k: round(v) for k, v in structures["per_family_rate"].items()}
    print(f"structures: {structures['n']} in {structures['wall_s']:.1f} s = {structures['rate']:.0f}/s, "
          f"errors {structures['errors']}; per family {rates}")

    if args.write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(_markdown(run, rss_gb, traced, structures, pinned))
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


def _markdown(run: dict, rss_gb: float, traced: dict | None, structures: dict, pinned: str) -> str:
    df = run["report"].to_frame()
    table = df.pivot_table(index=["family", "prototype"], columns="filter", values="count", observed=False)
    table = table.astype(int)
    header = "| family | prototype | " + " | ".join(table.columns.astype(str)) + " |"
    lines = [header, "|" + "---|" * (len(table.columns) + 2)]
    for (fam, proto), row in table.iterrows():
        lines.append(f"| {fam} | {proto} | " + " | ".join(f"{v:,}" for v in row) + " |")
    fam_rows = "\n".join(f"| {f} | {n:,} |" for f, n in sorted(run["per_family"].items()))
    traced_line = (
        f"| peak Python memory (tracemalloc pass) | {traced['peak_mb']:.0f} MB (that pass: {traced['wall_s']:.0f} s) |"
        if traced else ""
    )
    command = "python benchmarks/bench_enumeration.py --write" + (" --tracemalloc" if traced else "")
    return f"""# Candidate enumeration benchmark

Produced by `{command}` on {dt.date.today().isoformat()}.
Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs, Python
{platform.python_version()}, {platform.system()}; the process was {pinned}, BLAS threads 1.

## Default space (`enumerate_candidates()` with no arguments)

| measure | value |
|---|---|
| distinct candidates | {run['n']:,} |
| wall time | {run['wall_s']:.1f} s |
| CPU time | {run['cpu_s']:.1f} s |
| rate | {run['n'] / run['wall_s']:,.0f} candidates/s |
| peak resident memory (getrusage, whole process) | {rss_gb:.2f} GB |
{traced_line}

Target: at least 100,000 candidates in under 2 minutes on one core, under 2 GB.
Composition-level generation builds no structures.

| family | candidates |
|---|---|
{fam_rows}

## Structures

{structures['n']} candidates drawn at random (reservoir sample, seed 0) from the stream;
`Candidate.structure()` for each: **{structures['rate']:.0f} structures/s**
({structures['wall_s']:.1f} s, {structures['errors']} errors); per family
{', '.join(f'{k} {v:.0f}/s' for k, v in sorted(structures['per_family_rate'].items()))}.
Target: 50 a second or more.

## Filter counts per prototype

Candidates left after each filter (`EnumerationReport.to_frame()`); the first four are
counted as the combinations the surviving options allow, the last two by iteration.

{chr(10).join(lines)}
"""


if __name__ == "__main__":
    raise SystemExit(main())
