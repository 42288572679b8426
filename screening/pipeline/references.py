"""Known solid electrolytes drawn beside a run's candidates: their measured conductivity (OBELiX) and their window.

A plot of predicted conductivities with five-decade intervals is read against materials
whose numbers a battery scientist knows: LGPS, Li6PS5Cl, Li7P3S11, beta-Li3PS4, Li3InCl6,
Li3YCl6, LLZO and LATP's parent LiTi2(PO4)3. Their conductivity is the median of the
bundled OBELiX measurements of that reduced formula (room temperature, as OBELiX reports
them); their window and reaction energies come from the same reference hull as the
candidates' (:func:`screening.descriptors.stability.stability_descriptors`). LiCl, a
common reference for halides, has no OBELiX measurement and is left out.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from screening.columns import SIGMA

__all__ = ["REFERENCE_MATERIALS", "reference_points"]

#: reduced formula -> label of the known electrolytes drawn on a run's plot
REFERENCE_MATERIALS = {
    "Li10Ge(PS6)2": "LGPS", "Li6PS5Cl": "Li6PS5Cl", "Li7P3S11": "Li7P3S11", "Li3PS4": "β-Li3PS4",
    "Li3InCl6": "Li3InCl6", "Li3YCl6": "Li3YCl6", "Li7La3Zr2O12": "LLZO", "LiTi2(PO4)3": "LiTi2(PO4)3",
}  # fmt: skip


def _reduced(formula: object) -> str | None:
    from pymatgen.core import Composition

    try:
        return Composition(str(formula)).reduced_formula
    except Exception:  # OBELiX has a few formulas pymatgen cannot parse ("...1.0*...")
        return None


@lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    from screening.datasets import load_obelix
    from screening.descriptors.stability import stability_descriptors

    obelix = load_obelix()
    reduced = obelix["formula"].map(_reduced)
    rows = []
    for formula, label in REFERENCE_MATERIALS.items():
        measured = pd.to_numeric(obelix.loc[reduced == formula, SIGMA], errors="coerce").dropna()
        if measured.empty:
            continue
        try:
            stability = stability_descriptors(formula)
        except Exception:  # a chemistry the hull cannot describe: the point is drawn without its window
            stability = {}
        rows.append({"formula": formula, "label": label, "measured_log10_sigma_S_cm": float(measured.median()),
                     "n_measurements": len(measured), **stability})  # fmt: skip
    return pd.DataFrame(rows)


def reference_points(x: str) -> pd.DataFrame:
    """``label``, ``measured_log10_sigma_S_cm`` and column ``x`` (NaN where unknown) of every reference material."""
    table = _table()
    out = table[["formula", "label", "measured_log10_sigma_S_cm"]].copy()
    out[x] = pd.to_numeric(table[x], errors="coerce") if x in table else np.nan
    return out
