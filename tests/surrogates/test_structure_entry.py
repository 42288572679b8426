"""The structure tier's entry point into the structure-aware conductivity model."""

import pandas as pd
import pytest
from pymatgen.core import Structure

from screening.surrogates import STRUCTURE_MODEL_NAME, load_model
from screening.surrogates.features import structure_descriptor_row
from screening.surrogates.structure import STRUCTURE_CONDUCTIVITY_COLUMNS, structure_conductivity


def test_structure_conductivity_rows_and_missing_features():
    st = Structure.from_file("seeds/Li6PS5Cl_argyrodite.cif")
    row = structure_descriptor_row(st, bvse=True)
    bad = dict(row, struct_volume_per_atom_A3=float("nan"))  # a required feature (the card's required_features)
    no_li_pair = dict(row, struct_li_li_min_dist_A=float("nan"), bvse_barrier_3d_eV=float("nan"))  # the model takes these
    out = structure_conductivity(["Li6PS5Cl"] * 3, pd.DataFrame([row, bad, no_li_pair], index=[7, 9, 11]))
    assert list(out.columns) == list(STRUCTURE_CONDUCTIVITY_COLUMNS)
    assert list(out.index) == [7, 9, 11]
    lo, mid, hi = (out.loc[7, f"structure_log10_sigma_S_cm{s}"] for s in ("_lo80", "", "_hi80"))
    assert lo < mid < hi and -12 < mid < 1
    assert out.loc[9].isna().all()  # a row without a required structural feature gets no number
    card = load_model(STRUCTURE_MODEL_NAME).card
    if "required_features" in card:  # round-6 models take a missing Li-Li distance or barrier
        assert "struct_li_li_min_dist_A" not in card["required_features"]
        lo, mid, hi = (out.loc[11, f"structure_log10_sigma_S_cm{s}"] for s in ("_lo80", "", "_hi80"))
        assert lo < mid < hi and -12 < mid < 1
    else:  # earlier models need every non-BVSE structure feature
        assert out.loc[11].isna().all()


def test_structure_conductivity_refuses_mismatched_input():
    with pytest.raises(ValueError, match="2 formulas for 1"):
        structure_conductivity(["LiCl", "Li3InCl6"], pd.DataFrame([{"x": 1.0}]))
    with pytest.raises(KeyError, match="missing"):
        structure_conductivity(["LiCl"], pd.DataFrame([{"x": 1.0}]))
