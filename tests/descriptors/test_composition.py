"""Composition descriptors: agreement with matminer, chemistry, families, charge balance."""

import numpy as np
import pytest
from matminer.featurizers.composition import ElementProperty
from pymatgen.core import Composition

from screening.descriptors.composition import (
    FastMagpie,
    LiChemistry,
    check_charge_balance,
    chemistry_descriptors,
    composition_table,
    family_of,
    magpie_labels,
    magpie_table,
)
from screening.errors import InvalidCompositionError

FORMULAS = ["Li6PS5Cl", "Li7La3Zr2O12", "Li3YCl6", "Li1.3Al0.3Ti1.7(PO4)3", "LiCl", "Li3N", "Li10GeP2S12", "Li0.34La0.55TiO3"]


def test_magpie_matches_matminer():
    ref = ElementProperty.from_preset("magpie")
    assert magpie_labels() == ref.feature_labels()
    expected = np.array([ref.featurize(Composition(f)) for f in FORMULAS])
    got = magpie_table(FORMULAS).to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_chemistry_of_argyrodite():
    d = chemistry_descriptors("Li6PS5Cl")
    assert d["li_fraction"] == pytest.approx(6 / 13)
    assert d["li_per_anion"] == pytest.approx(1.0)
    assert d["anions"] == "Cl,S"
    # S2- x5 + Cl- = 11 negative charges over 7 cations (6 Li+ and P5+)
    assert d["cation_oxidation_state_mean"] == pytest.approx(11 / 7)
    assert d["family"] == "sulfide"


@pytest.mark.parametrize(
    "formula, family",
    [("Li6PS5Cl", "sulfide"), ("Li7La3Zr2O12", "oxide"), ("Li3YCl6", "halide"), ("Li3N", "nitride"),
     ("Li3OCl", "mixed-anion"), ("Li2SO4", "oxide"), ("Li6.5La3Zr1.75Te0.25O12", "oxide")],
)  # fmt: skip
def test_family(formula, family):
    assert family_of(formula) == family


def test_charge_balance():
    for f in FORMULAS:
        check_charge_balance(f)
    for bad in ("LiCl3", "Li2O5", "Li5PS2"):
        with pytest.raises(InvalidCompositionError, match=f"{bad}: not charge balanced"):
            check_charge_balance(bad)


def test_batch_keeps_bad_rows():
    table = composition_table(["Li3PS4", "Xx2O", "LiCl3", "Li)("])
    assert list(table["formula"]) == ["Li3PS4", "Xx2O", "LiCl3", "Li)("]
    assert table["error"].iloc[0] is None
    assert "Xx" in table["error"].iloc[1]
    assert "LiCl3: not charge balanced" in table["error"].iloc[2]
    assert "Li)(" in table["error"].iloc[3]
    assert table.loc[1:, "MagpieData mean Number"].isna().all()
    assert np.isfinite(table.loc[0, "MagpieData mean Number"])


def test_featurizers_plug_into_matminer():
    import pandas as pd

    df = pd.DataFrame({"composition": [Composition(f) for f in FORMULAS[:3]]})
    out = LiChemistry().featurize_dataframe(df, "composition", pbar=False)
    assert "li_fraction" in out and out["li_fraction"].notna().all()
    out = FastMagpie().featurize_dataframe(df, "composition", pbar=False)
    assert out["MagpieData mean Number"].notna().all()
    assert FastMagpie().citations() and LiChemistry().implementors()
