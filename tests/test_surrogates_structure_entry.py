"""The structure tier's entry point into the structure-aware conductivity model."""

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Structure

from screening.surrogates.features import structure_descriptor_row
from screening.surrogates.structure import STRUCTURE_CONDUCTIVITY_COLUMNS, structure_conductivity


def test_structure_conductivity_rows_and_missing_features():
    st = Structure.from_file("seeds/Li6PS5Cl_argyrodite.cif")
    row = structure_descriptor_row(st, bvse=True)
    bad = dict(row, struct_li_li_min_dist_A=float("nan")) if "struct_li_li_min_dist_A" in row else {k: np.nan for k in row}
    out = structure_conductivity(["Li6PS5Cl", "Li6PS5Cl"], pd.DataFrame([row, bad], index=[7, 9]))
    assert list(out.columns) == list(STRUCTURE_CONDUCTIVITY_COLUMNS)
    assert list(out.index) == [7, 9]
    lo, mid, hi = (out.loc[7, f"structure_log10_sigma_S_cm{s}"] for s in ("_lo80", "", "_hi80"))
    assert lo < mid < hi and -12 < mid < 1
    assert out.loc[9].isna().all()  # a row without its structural features gets no number


def test_structure_conductivity_refuses_mismatched_input():
    with pytest.raises(ValueError, match="2 formulas for 1"):
        structure_conductivity(["LiCl", "Li3InCl6"], pd.DataFrame([{"x": 1.0}]))
    with pytest.raises(KeyError, match="missing"):
        structure_conductivity(["LiCl"], pd.DataFrame([{"x": 1.0}]))
