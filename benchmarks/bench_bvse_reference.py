"""BVSE barriers of this module against bvlain and published values, on ordered structures.

Usage::

    PYTHONPATH=/path/to/bvlain python benchmarks/bench_bvse_reference.py [--n-obelix 10]

Structures: antifluorite Li2S (a = 5.70 A, built here), the ordered seeds Li3OCl and
Li7P3S11, and the first ``--n-obelix`` OBELiX CIFs (sorted by id) that are ordered, have
at most 80 sites and that bvlain can decorate with oxidation states (pymatgen
``BVAnalyzer``). For each it prints our 1D/2D/3D barriers at the default grid
(0.2 A, 26-connected) and at a fine reference grid (0.1 A), and bvlain 0.25.1's
(``Lain.bvse_distribution(mobile_ion="Li1+", r_cut=10, resolution=0.2, k=100,
use_softbv_covalent_radii=True)``, ``percolation_barriers(encut=5)``) when the package is
importable (``pip install bvlain --no-deps`` or ``pip download`` + ``PYTHONPATH``).

The published values found (benchmarks/data/bvse_reference/README.md) are printed at the
end; none of them could be recomputed on the structure they were computed on.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

from pymatgen.core import Lattice, Structure

from screening.datasets import dataset_path
from screening.descriptors.bondvalence import FEATURE_LABELS, bvse_barriers
from screening.structures import read_structure

ROOT = Path(__file__).resolve().parents[1]


def _bvlain(structure: Structure) -> tuple[float, float, float] | None:
    try:
        from bvlain import Lain
    except ImportError:
        return None
    calc = Lain(verbose=False)
    with contextlib.redirect_stdout(io.StringIO()):
        calc.read_structure(structure)
        calc.bvse_distribution(mobile_ion="Li1+", r_cut=10.0, resolution=0.2, k=100, use_softbv_covalent_radii=True)
        e = calc.percolation_barriers(encut=5.0)
    return tuple(float(e[k]) for k in ("E_1D", "E_2D", "E_3D"))


def _bvlain_ok(structure: Structure) -> bool:
    try:
        from pymatgen.analysis.bond_valence import BVAnalyzer

        BVAnalyzer(forbidden_species=["O-", "P3-"]).get_oxi_state_decorated_structure(structure)
        return True
    except Exception:
        return False


def structures(n_obelix: int, tmp: str) -> list[tuple[str, str, Structure]]:
    li2s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.70), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]])
    out = [("Li2S", "antifluorite, a = 5.70 A (built)", li2s)]
    for seed in ("Li3OCl_antiperovskite", "Li7P3S11"):
        out.append((seed.split("_")[0], f"seeds/{seed}.cif", read_structure(ROOT / "seeds" / f"{seed}.cif")))
    with tarfile.open(dataset_path("obelix/all_cifs.tar.gz")) as tar:
        tar.extractall(tmp, filter="data")
    found = 0
    for f in sorted(Path(tmp, "all_randomized_cifs").glob("*.cif")):
        if found >= n_obelix:
            break
        try:
            s = read_structure(f)
        except Exception:
            continue
        if not s.is_ordered or len(s) > 80 or "Li" not in s.composition.as_dict() or not _bvlain_ok(s):
            continue
        try:
            bvse_barriers(s, resolution_A=0.4)
        except Exception:
            continue
        out.append((s.composition.reduced_formula, f"OBELiX `{f.stem}`", s))
        found += 1
    return out


def _fmt(values) -> str:
    return "/".join("inf" if v == float("inf") or v > 4.99 else f"{v:.2f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-obelix", type=int, default=10)
    parser.add_argument("--fine", type=float, default=0.1)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        items = structures(args.n_obelix, tmp)
    print(f"| structure | source | sites | ours default 1D/2D/3D (eV) | ours {args.fine:g} A | bvlain 0.2 A "
          "| 3D: default - bvlain | time default (s) |")
    print("|---|---|---|---|---|---|---|---|")
    diffs = []
    for name, source, s in items:
        t0 = time.perf_counter()
        ours = bvse_barriers(s, timeout_s=600)
        dt = time.perf_counter() - t0
        fine = bvse_barriers(s, resolution_A=args.fine, max_points=10**8, timeout_s=1200)
        ref = _bvlain(s)
        o = [ours[k] for k in FEATURE_LABELS]
        f = [fine[k] for k in FEATURE_LABELS]
        if ref is not None and o[2] < 5 and ref[2] < 5:
            d = o[2] - ref[2]
            diffs.append(d)
            dtxt = f"{d:+.3f}"
        else:
            dtxt = "-"
        print(f"| {name} | {source} | {len(s)} | {_fmt(o)} | {_fmt(f)} | {_fmt(ref) if ref else 'n/a'} | {dtxt} "
              f"| {dt:.1f} |", flush=True)
    if diffs:
        import numpy as np

        d = np.abs(diffs)
        print(f"\n3D barrier, ours (default) - bvlain: median |diff| {np.median(d):.3f} eV, max {d.max():.3f} eV "
              f"over {len(d)} structures")


if __name__ == "__main__":
    main()
