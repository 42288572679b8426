"""Benchmark of the structural and BVSE descriptors on the OBELiX CIFs (one core).

Usage::

    python benchmarks/bench_structural.py [--bvse-sample 20] [--out benchmarks/results/structural.md]

Extracts the bundled ``datasets/obelix/all_cifs.tar.gz`` into a temporary folder, reads
every CIF (reading is timed separately), times :func:`structural_descriptors` on each
structure, then :func:`bvse_barriers` on a seeded random sample, counts failures by
their error message, and writes a Markdown report.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import platform
import random
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from screening.datasets import dataset_path
from screening.descriptors.bondvalence import (
    DEFAULT_CONNECTIVITY,
    DEFAULT_MAX_POINTS,
    DEFAULT_RESOLUTION_A,
    bvse_barriers,
)
from screening.descriptors.structural import structural_descriptors
from screening.errors import ScreeningError
from screening.structures import read_structure

ARCHIVE = dataset_path("obelix/all_cifs.tar.gz")  # the bundled copy, checksummed
KEEP_FROM = "## BVSE: grid convergence"  # this section and the following ones are kept on rewrite


def _reason(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text.split(': ', 1)[-1][:90]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bvse-sample", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "structural.md")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(ARCHIVE) as tar:
            tar.extractall(tmp, filter="data")
        files = sorted(Path(tmp, "all_randomized_cifs").glob("*.cif"))
        t0 = time.perf_counter()
        structures, read_fail = [], collections.Counter()
        for f in files:
            try:
                structures.append((f.stem, read_structure(f)))
            except ScreeningError as exc:
                read_fail[_reason(exc)] += 1
        t_read = time.perf_counter() - t0

    # structural descriptors
    times, fails, ok = [], collections.Counter(), 0
    for _, s in structures:
        start = time.perf_counter()
        try:
            structural_descriptors(s)
            ok += 1
        except ScreeningError as exc:
            fails[_reason(exc)] += 1
        times.append(time.perf_counter() - start)
    times = np.array(times)
    sites = np.array([len(s) for _, s in structures])
    disordered = sum(not s.is_ordered for _, s in structures)

    # BVSE on a seeded sample
    rng = random.Random(0)
    sample = rng.sample(structures, min(args.bvse_sample, len(structures)))
    bv_times, bv_fails, bv_rows = [], collections.Counter(), []
    for sid, s in sample:
        start = time.perf_counter()
        try:
            out = bvse_barriers(s, timeout_s=30.0, name=sid)
            bv_rows.append((sid, s.composition.reduced_formula, len(s), out["bvse_barrier_3d_eV"]))
        except ScreeningError as exc:
            bv_fails[_reason(exc)] += 1
            bv_rows.append((sid, s.composition.reduced_formula, len(s), float("nan")))
        bv_times.append(time.perf_counter() - start)
    bv_times = np.array(bv_times)

    lines = [
        "# Structural and BVSE descriptor benchmark (OBELiX)",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores (shared with other jobs), one core used; "
        f"Python {platform.python_version()}",
        f"- data: {len(files)} OBELiX CIFs, {len(structures)} read ({disordered} with partial occupancies), "
        f"median {int(np.median(sites))} sites (max {sites.max()}); reading: {t_read / len(files) * 1e3:.1f} ms/file "
        "(not included below)",
        "- command: `python benchmarks/bench_structural.py`",
        "",
        "## structural_descriptors (all structural descriptors, no BVSE)",
        "",
        f"- {len(structures) / times.sum():.1f} structures/s ({times.sum():.1f} s in total); "
        f"median {np.median(times) * 1e3:.1f} ms, 90th percentile {np.percentile(times, 90) * 1e3:.1f} ms, "
        f"max {times.max() * 1e3:.0f} ms",
        f"- succeeded: {ok}/{len(structures)}; failures (ScreeningError, the row would get NaN + error text):",
    ]
    lines += [f"  - {n} x {reason}" for reason, n in fails.most_common()] or ["  - none"]
    lines += [
        "",
        f"## bvse_barriers (sample of {len(sample)}, seed 0, defaults: primitive cell, {DEFAULT_RESOLUTION_A:g} A "
        f"spacing, {DEFAULT_CONNECTIVITY}-connected, at most {DEFAULT_MAX_POINTS:,} grid points)",
        "",
        f"- median {np.median(bv_times):.2f} s/structure, mean {bv_times.mean():.2f} s, max {bv_times.max():.2f} s",
        f"- failures: {sum(bv_fails.values())}",
    ]
    lines += [f"  - {n} x {reason}" for reason, n in bv_fails.most_common()]
    lines += ["", "| id | formula | sites | 3D barrier (eV) |", "|---|---|---|---|"]
    lines += [f"| {sid} | {formula} | {n} | {b:.3f} |" for sid, formula, n, b in bv_rows]
    lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    kept = ""
    if args.out.exists() and KEEP_FROM in args.out.read_text():  # sections written by other scripts
        kept = "\n" + KEEP_FROM + args.out.read_text().split(KEEP_FROM, 1)[1]
    args.out.write_text("\n".join(lines) + kept)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
