"""Speed of the tier-0 composition descriptors on one core.

Target (issue 3): at least 1,000 formulas a second for the composition descriptors
(Magpie statistics + Li chemistry + charge-balance check), and the stability descriptors'
cost per formula for reference. Writes benchmarks/results/composition.md.

    .venv/bin/python benchmarks/bench_composition.py
"""

from __future__ import annotations

import os
import platform
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


from screening.chemistry import clear_formula_cache  # noqa: E402
from screening.datasets import load_mp_ground_states, load_obelix  # noqa: E402
from screening.descriptors.composition import composition_table  # noqa: E402
from screening.descriptors.stability import default_hull, stability_descriptors  # noqa: E402

OUT = Path(__file__).parent / "results" / "composition.md"


def main() -> None:
    obelix = sorted(set(load_obelix()["formula"]))
    li = load_mp_ground_states()
    li = li[li["formula"].str.contains("Li")]["formula"].drop_duplicates().tolist()
    formulas = (obelix + li)[:10_000]  # distinct formulas: measured electrolytes, then MP Li compounds

    composition_table(["Li3PS4", "LiCl"])  # warm the element tables
    clear_formula_cache()  # every formula is parsed inside the timed call
    t = time.perf_counter()
    table = composition_table(formulas)
    dt = time.perf_counter() - t
    n_err = int(table["error"].notna().sum())

    hull = default_hull()
    sample = sorted(set(obelix))[:100]
    t = time.perf_counter()
    failures = 0
    for f in sample:
        try:
            stability_descriptors(f, hull=hull)
        except Exception:
            failures += 1
    dt_stab = time.perf_counter() - t

    lines = [
        "# Composition descriptor benchmark",
        "",
        f"- date: {date.today()}; machine: {platform.machine()}, {os.cpu_count()} cores, one core used",
        f"- composition descriptors (`composition_table`, Magpie 132 + chemistry + charge check): "
        f"{len(formulas)} distinct formulas, cold parse cache, in {dt:.2f} s = **{len(formulas) / dt:,.0f} formulas/s** (target >= 1,000); "
        f"{n_err} rows with an error text",
        f"- stability descriptors (`stability_descriptors`, window + 3 interface reactions + hull, cold cache): "
        f"{len(sample)} OBELiX formulas in {dt_stab:.1f} s = {1000 * dt_stab / len(sample):.0f} ms/formula; {failures} failures",
        "",
        "Run: `.venv/bin/python benchmarks/bench_composition.py`",
    ]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
