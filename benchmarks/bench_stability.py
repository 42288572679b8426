"""Speed of the stability tier: linear programs (default) against pymatgen phase diagrams.

Times ``stability_descriptors`` (window + interface reactions with Li, LiCoO2 and H2O +
hull energy) per formula with ``method="lp"`` and ``method="pymatgen"``, each on a fresh
:class:`ReferenceHull` (cold caches: no phase diagram, no LP table), on

* 100 OBELiX formulas (every k-th distinct formula), and
* 200 enumerated halide candidates (every 200th of the first 40,000 of
  ``enumerate_candidates(families=["halide"])``: many distinct 5-7 element systems),

then a second, warm pass over the same formulas; reports the largest absolute difference
between the two methods per column. Writes benchmarks/results/stability.md.

    .venv/bin/python benchmarks/bench_stability.py
"""

from __future__ import annotations

import itertools
import math
import os
import platform
import time
import warnings
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from screening.datasets import load_obelix  # noqa: E402
from screening.descriptors.stability import ReferenceHull, as_composition, stability_descriptors  # noqa: E402
from screening.enumeration import enumerate_candidates  # noqa: E402

OUT = Path(__file__).parent / "results" / "stability.md"
METHODS = ("lp", "pymatgen")


def _run(formulas: list[str], hull: ReferenceHull, method: str) -> tuple[float, dict[str, dict], int]:
    results, failures = {}, 0
    t = time.perf_counter()
    for f in formulas:
        try:
            results[f] = stability_descriptors(f, hull=hull, method=method)
        except Exception:
            failures += 1
    return time.perf_counter() - t, results, failures


def _max_diff(a: dict[str, dict], b: dict[str, dict]) -> dict[str, float]:
    worst: dict[str, float] = {}
    for f in a.keys() & b.keys():
        for key, x in a[f].items():
            y = b[f][key]
            if not isinstance(x, float) or not isinstance(y, float):  # labels (window_source) must agree exactly
                if x != y:
                    worst[key] = math.inf
                continue
            if (math.isnan(x) and math.isnan(y)) or x == y:  # NaN or equal (inf included)
                d = 0.0
            else:
                d = abs(x - y)
            worst[key] = max(worst.get(key, 0.0), d)
    return worst


def main() -> None:
    warnings.filterwarnings("ignore")
    distinct = list(dict.fromkeys(load_obelix()["formula"]))
    obelix = distinct[:: len(distinct) // 100][:100]
    stream = enumerate_candidates(families=["halide"])
    candidates = [c.formula for c in itertools.islice(stream, 0, 40_000, 200)]
    for f in obelix + candidates:  # parse once (a process-wide cache) so that both methods start equal
        try:
            as_composition(f)
        except Exception:
            pass

    sets = {"OBELiX (100 formulas)": obelix, "halide candidates (200)": candidates}
    rows, diffs = [], {}
    for name, formulas in sets.items():
        out = {}
        for method in METHODS:
            hull = ReferenceHull.from_mp_ground_states(method=method)  # cold caches
            cold, res, fail = _run(formulas, hull, method)
            warm, _, _ = _run(formulas, hull, method)
            out[method] = res
            n_sys = len({frozenset(el.symbol for el in as_composition(f).elements) for f in res})
            rows.append(
                f"| {name} | {method} | {1000 * cold / len(formulas):.1f} | {1000 * warm / len(formulas):.1f} "
                f"| {n_sys} | {fail} |"
            )
            print(rows[-1], flush=True)
        diffs[name] = _max_diff(out["lp"], out["pymatgen"])

    speedups = []
    for i in range(0, len(rows), 2):
        lp_ms, pm_ms = float(rows[i].split("|")[3]), float(rows[i + 1].split("|")[3])
        speedups.append(f"{pm_ms / lp_ms:.0f}x")
    lines = [
        "# Stability tier benchmark: linear programs vs pymatgen phase diagrams",
        "",
        f"- date: {date.today()}; machine: {platform.machine()}, {os.cpu_count()} cores (shared), one core used",
        "- `stability_descriptors`: Li/Li+ window, interface reaction energies with Li, LiCoO2 and H2O, hull energy",
        "- cold: a fresh `ReferenceHull.from_mp_ground_states()` per method (no phase diagram or LP table cached; "
        "building the hull object itself, ~3 s, not counted); warm: a second pass over the same formulas",
        "",
        "| formulas | method | cold ms/formula | warm ms/formula | chemical systems | failures |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Speed-up of the LP path, cold: {', '.join(f'{n}: {s}' for n, s in zip(sets, speedups))}.",
        "",
        "Largest absolute difference LP - pymatgen (V for the window, eV/atom otherwise):",
        "",
        "| column | " + " | ".join(sets) + " |",
        "|---|" + "---|" * len(sets),
    ]
    keys = sorted({k for d in diffs.values() for k in d})
    for key in keys:
        lines.append(f"| {key} | " + " | ".join(f"{diffs[n].get(key, float('nan')):.1e}" for n in sets) + " |")
    lines += ["", "Run: `.venv/bin/python benchmarks/bench_stability.py`"]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
