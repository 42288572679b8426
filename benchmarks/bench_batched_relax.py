"""Relaxations per hour: torch-sim batched against the ase path one by one, on the same cells.

Cells: the smallest ``--n`` structures of the e_hull validation set
(:func:`bench_ehull_validation.validation_rows`: OBELiX ternaries and quaternaries, ordered or
ordered approximants), each relaxed (cell and positions, FIRE on a Frechet cell filter, fmax
``--fmax`` eV/A, at most ``--steps`` steps) with SevenNet-0 by both engines
(:func:`screening.simulation.batched.relax_many`, ``engine="torch-sim"`` with all cells in one
batch, and ``engine="ase"``). The model is loaded and run once before the clock starts. Wall
time and process CPU time are both recorded (the CPU here is shared: CPU time is the fairer
number for the comparison, wall time what a screen waits). Also: the largest difference of the
relaxed energies (meV/atom) between the engines. CHGNet has no torch-sim wrapper (0.3.0): its
ase path is timed on the same cells for reference, one by one in this process and in two worker
processes (``workers=2``, what a relax tier does on a 2-core CPU by default). CPU time counts the
worker processes too.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_batched_relax.py --n 8 --device cpu
    python benchmarks/bench_batched_relax.py --n 64 --device cuda     # on a GPU (not run here)

Writes the "Batched relaxation" section of benchmarks/results/simulation.md.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from bench_ehull_validation import validation_rows
from bench_transport import write_section_of

OUT = Path(__file__).parent / "results" / "simulation.md"
SECTION = "## Batched relaxation"


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker processes, once joined)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(fn):
    w, c = time.perf_counter(), cpu_seconds()
    out = fn()
    return out, time.perf_counter() - w, cpu_seconds() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-atoms", type=int, default=40)
    ap.add_argument("--fmax", type=float, default=0.05)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-chgnet", action="store_true")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the pooled CHGNet row")
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    from screening.simulation.batched import relax_many

    rows, _ = validation_rows(a.max_atoms)
    rows = rows.head(a.n)
    cells = list(rows["structure"])
    atoms = sum(len(s) for s in cells)
    print(len(cells), "cells,", atoms, "atoms", flush=True)
    warm = [cells[0].copy()]
    relax_many(warm, "sevenn", steps=2, device=a.device, engine="torch-sim")  # model load, first call
    relax_many(warm, "sevenn", steps=2, device=a.device, engine="ase", workers=1)
    load_before = os.getloadavg()[0]
    res = {}
    res["sevenn torch-sim (one batch)"] = timed(lambda: relax_many(cells, "sevenn", a.fmax, a.steps, a.device, batch_size=len(cells), engine="torch-sim"))
    print("torch-sim", res["sevenn torch-sim (one batch)"][1:], flush=True)
    res["sevenn ase (one by one)"] = timed(lambda: relax_many(cells, "sevenn", a.fmax, a.steps, a.device, engine="ase", workers=1))
    print("ase", res["sevenn ase (one by one)"][1:], flush=True)
    if not a.no_chgnet:
        relax_many(warm, "chgnet", steps=2, device=a.device, workers=1)
        res["chgnet ase (one by one; no torch-sim wrapper)"] = timed(lambda: relax_many(cells, "chgnet", a.fmax, a.steps, a.device, workers=1))
        print("chgnet", res["chgnet ase (one by one; no torch-sim wrapper)"][1:], flush=True)
        # the pool's start (spawn, imports, model load) is inside the clock: a relax tier pays it once per chunk
        res[f"chgnet ase, {a.workers} worker processes (the relax tier's default here)"] = timed(
            lambda: relax_many(cells, "chgnet", a.fmax, a.steps, a.device, workers=a.workers))
    b, s = res["sevenn torch-sim (one batch)"][0], res["sevenn ase (one by one)"][0]
    de = [abs(x["energy_eV_atom"] - y["energy_eV_atom"]) * 1000 for x, y in zip(b, s, strict=True) if x.get("error") is None and y.get("error") is None]
    conv = {k: sum(bool(r.get("converged")) for r in v[0]) for k, v in res.items()}
    lines = [SECTION, "", f"Run {datetime.now(timezone.utc):%Y-%m-%d} with `bench_batched_relax.py --n {a.n} --device {a.device}"
             f" --fmax {a.fmax} --steps {a.steps} --max-atoms {a.max_atoms}` (one thread a process; 1-minute load average"
             f" {load_before:.1f} before the timings and {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores). {len(cells)} cells of {min(len(c) for c in cells)}-{max(len(c) for c in cells)} atoms"
             f" ({atoms} in all): the smallest rows of the e_hull validation set ({', '.join(rows['red'])}).", "",
             "| engine | relaxations | converged | wall s | CPU s | relaxations/hour (wall) | relaxations/hour (CPU) |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for k, (out, wall, cpu) in res.items():
        lines.append(f"| {k} | {len(out)} | {conv[k]} | {wall:.0f} | {cpu:.0f} | {3600 * len(out) / wall:.0f} | {3600 * len(out) / cpu:.0f} |")
    tw, ts_ = res["sevenn ase (one by one)"][1], res["sevenn torch-sim (one batch)"][1]
    tc, tsc = res["sevenn ase (one by one)"][2], res["sevenn torch-sim (one batch)"][2]
    lines += ["", f"Speed-up of the batch over one by one (SevenNet-0): {tw / ts_:.2f}x wall, {tc / tsc:.2f}x CPU."
              f" Relaxed energies, torch-sim against ase: largest difference {max(de):.2f} meV/atom, median"
              f" {float(np.median(de)):.2f} ({len(de)} cells; the 2 meV/atom agreement is also a test,"
              " tests/simulation/test_batched.py).", ""]  # fmt: skip
    pooled = [k for k in res if "worker processes" in k]
    if pooled:
        one, many = res["chgnet ase (one by one; no torch-sim wrapper)"], res[pooled[0]]
        dp = [abs(x["energy_eV_atom"] - y["energy_eV_atom"]) * 1000 for x, y in zip(one[0], many[0], strict=True)
              if x.get("error") is None and y.get("error") is None]  # fmt: skip
        lines += [f"CHGNet in {a.workers} worker processes against one process: {one[1] / many[1]:.2f}x wall"
                  f" (the pool's start included), relaxed energies within {max(dp):.3f} meV/atom.", ""]  # fmt: skip
    write_section_of(OUT, SECTION, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
