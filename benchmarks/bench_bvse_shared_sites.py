"""BVSE on sites that Li shares with another cation: mean-field weights against the majority rule.

For every OBELiX CIF with at least one site occupied by Li and by another cation (as the A
sites of LLTO, La 0.32 / Li 0.5), the 3D barrier under each policy of
``screening.descriptors.bondvalence.SHARED_SITE_POLICIES``, and how well each orders the
measured room-temperature conductivities (Spearman of -barrier against log10 sigma; one row per
structure, the OBELiX value of its entry). The seed structures with shared sites are listed too.

    python benchmarks/bench_bvse_shared_sites.py            # markdown to stdout
"""

from __future__ import annotations

import math
import platform
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from screening.datasets import load_obelix
from screening.descriptors.bondvalence import SHARED_SITE_POLICIES, bvse_barriers
from screening.errors import ScreeningError
from screening.structures import read_structure

ROOT = Path(__file__).resolve().parents[1]


def shares_li_with_a_cation(structure) -> bool:
    from screening.descriptors.structural import anion_elements

    anions = set(anion_elements(structure))
    for site in structure:
        amounts = site.species.get_el_amt_dict()
        if "Li" in amounts and any(el not in ("Li", *anions) for el in amounts):
            return True
    return False


def barrier_3d(structure, policy: str) -> float:
    try:
        return bvse_barriers(structure, shared_sites=policy, timeout_s=120)["bvse_barrier_3d_eV"]
    except ScreeningError:
        return math.nan


def main() -> None:
    warnings.simplefilter("ignore")
    df = load_obelix("all", structures=True)
    df = df[df["structure"].notna()].reset_index(drop=True)
    rows = []
    t0 = time.perf_counter()
    for _, r in df.iterrows():
        s = r["structure"]
        if not shares_li_with_a_cation(s):
            continue
        rows.append((r["id"], r["formula"], r["log10_sigma_S_cm"], *(barrier_3d(s, p) for p in SHARED_SITE_POLICIES)))
    elapsed = time.perf_counter() - t0
    print("# BVSE on sites shared by Li and another cation\n")
    print(f"- date: {date.today()}; machine: {platform.machine()}, Python {platform.python_version()}")
    print("- command: `python benchmarks/bench_bvse_shared_sites.py`")
    print(f"- OBELiX CIFs with a site shared by Li and another cation: {len(rows)} of {len(df)} ({elapsed:.0f} s)\n")
    y = np.array([r[2] for r in rows], float)
    print("| policy | structures with a finite 3D barrier | median 3D barrier (eV) | Spearman(-barrier, log10 sigma) |")
    print("|---|---:|---:|---:|")
    for k, policy in enumerate(SHARED_SITE_POLICIES):
        b = np.array([r[3 + k] for r in rows], float)
        b = np.where(np.isfinite(b), b, 5.0)  # no 3D path below 5 eV: the largest barrier
        ok = np.isfinite(y) & ~np.isnan(np.array([r[3 + k] for r in rows], float))
        rho = spearmanr(-b[ok], y[ok])[0]
        n_finite = int(np.isfinite(np.array([r[3 + k] for r in rows], float)).sum())
        print(f"| {policy} | {n_finite} | {np.nanmedian(b[ok]):.3f} | {rho:.3f} (n = {int(ok.sum())}) |")
    print("\n| id | formula | log10 sigma | " + " | ".join(f"3D {p} (eV)" for p in SHARED_SITE_POLICIES) + " |")
    print("|---|---|---:|" + "---:|" * len(SHARED_SITE_POLICIES))
    for r in sorted(rows, key=lambda r: -r[2] if np.isfinite(r[2]) else 99):
        print(f"| {r[0]} | {r[1]} | {r[2]:.2f} | " + " | ".join(f"{v:.3f}" for v in r[3:]) + " |")
    print("\nSeeds with shared sites:\n")
    for cif in sorted((ROOT / "seeds").glob("*.cif")):
        s = read_structure(cif)
        if shares_li_with_a_cation(s):
            vals = ", ".join(f"{p} {barrier_3d(s, p):.3f}" for p in SHARED_SITE_POLICIES)
            print(f"- {cif.name}: 3D barrier {vals} eV")


if __name__ == "__main__":
    main()
