"""Grid convergence and cell independence of the BVSE barriers (one core).

Usage::

    python benchmarks/bench_bvse_convergence.py [--spacings 0.3 0.25 0.2 0.15 0.1 0.075]

For each structure (the framework-relevant seeds and antifluorite Li2S) and each grid
spacing h it computes the 1D/2D/3D barriers of :func:`bvse_barriers` with 6- and
26-connectivity (no cap on the grid: ``max_points`` = 10^9) and the time taken, on the
primitive cell; then the same structures as 2x2x2 supercells at the default settings.
Prints Markdown tables (the numbers of ``benchmarks/results/structural.md``, section
"BVSE: grid convergence").
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from pymatgen.core import Lattice, Structure

from screening.descriptors.bondvalence import FEATURE_LABELS, bvse_barriers, reduced_cell
from screening.structures import read_structure

ROOT = Path(__file__).resolve().parents[1]
SEEDS = [
    "Li6PS5Cl_argyrodite.cif",
    "Li10GeP2S12_LGPS.cif",
    "Li7La3Zr2O12_cubic.cif",
    "Li3OCl_antiperovskite.cif",
    "beta-Li3PS4.cif",
    "Li7P3S11.cif",
    "Li3YCl6_P-3m1.cif",
    "LiTi2PO43_NASICON.cif",
]


def structures() -> list[tuple[str, Structure]]:
    li2s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.70), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]])
    out = [("Li2S (a = 5.70 A)", li2s)]
    out += [(name.removesuffix(".cif"), read_structure(ROOT / "seeds" / name)) for name in SEEDS]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spacings", type=float, nargs="+", default=[0.3, 0.25, 0.2, 0.15, 0.1, 0.075])
    parser.add_argument("--connectivity", type=int, nargs="+", default=[6, 26])
    parser.add_argument("--supercell", action="store_true", help="also the 2x2x2 supercell check")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    cols = " | ".join(f"h={h:g}" for h in args.spacings)
    print(f"| structure | sites (primitive) | conn. | {cols} |")
    print("|---|---|---|" + "---|" * len(args.spacings))
    for label, s in structures():
        prim = reduced_cell(s)
        for conn in args.connectivity:
            cells = []
            for h in args.spacings:
                t0 = time.perf_counter()
                out = bvse_barriers(prim, resolution_A=h, max_points=10**9, timeout_s=3600, connectivity=conn)
                dt = time.perf_counter() - t0
                cells.append(f"{out['bvse_barrier_3d_eV']:.3f} ({dt:.1f} s)")
            print(f"| {label} | {len(s)} ({len(prim)}) | {conn} | " + " | ".join(cells) + " |", flush=True)
    if args.supercell:
        print()
        print("| structure | cell | sites | 1D | 2D | 3D | time (s) |")
        print("|---|---|---|---|---|---|---|")
        for label, s in structures():
            for n in (1, 2, 3):
                if (n == 3 and len(s) > 40) or (n == 2 and len(s) > 80):
                    continue
                big = s.make_supercell(n, in_place=False)
                for reduce in (False, True) if n > 1 else (True,):
                    t0 = time.perf_counter()
                    out = bvse_barriers(big, timeout_s=3600, reduce_cell=reduce)
                    dt = time.perf_counter() - t0
                    tag = f"{n}x{n}x{n}" + ("" if reduce else " (reduce_cell=False)")
                    vals = " | ".join(f"{out[k]:.3f}" for k in FEATURE_LABELS)
                    print(f"| {label} | {tag} | {len(big)} | {vals} | {dt:.1f} |", flush=True)


if __name__ == "__main__":
    main()
