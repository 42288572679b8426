"""Tests of screening.descriptors.cost."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from pymatgen.analysis.cost import CostAnalyzer, CostDBElements
from pymatgen.core import Composition

from screening.descriptors.cost import (
    DEFAULT_EXCLUDED_ELEMENTS,
    CostFeaturizer,
    cost_descriptors,
    cost_missing_elements,
    cost_per_kg,
    cost_per_kg_many,
    element_cost_table,
    excluded_fraction,
)
from screening.errors import InvalidCompositionError


@pytest.mark.parametrize("formula", ["Li2S", "Li6PS5Cl", "Li7La3Zr2O12", "Li3InCl6"])
def test_matches_pymatgen_cost_analyzer(formula):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = float(CostAnalyzer(CostDBElements()).get_cost_per_kg(formula))
    assert cost_per_kg(formula) == pytest.approx(reference, rel=1e-4)


def test_pinned_li2s_and_composition_input():
    table = element_cost_table()
    li2s = Composition("Li2S")
    expected = (2 * 6.941 * table["Li"] + 32.065 * table["S"]) / (2 * 6.941 + 32.065)
    assert cost_per_kg(li2s) == pytest.approx(expected, rel=1e-3)
    assert cost_per_kg("Li2S") == cost_per_kg(li2s)


def test_missing_price_gives_nan_and_names_element():
    d = cost_descriptors("LiPuO2")
    assert math.isnan(d["cost_usd_per_kg"])
    assert d["cost_missing_elements"] == "Pu"
    assert cost_missing_elements("Li2S") == []
    assert cost_descriptors("Li2S")["cost_missing_elements"] == ""


def test_excluded_fraction():
    assert "Pb" in DEFAULT_EXCLUDED_ELEMENTS and "Li" not in DEFAULT_EXCLUDED_ELEMENTS
    assert excluded_fraction("Li3PbCl5") == pytest.approx(1 / 9)
    assert excluded_fraction("LiCdCl3") == pytest.approx(0.2)
    assert excluded_fraction("Li2S") == 0.0
    assert excluded_fraction("Li2S", excluded={"S"}) == pytest.approx(1 / 3)


def test_bad_formula():
    with pytest.raises(InvalidCompositionError, match="Xx2"):
        cost_per_kg("Xx2")
    assert np.isnan(cost_per_kg_many(["Li2S", "Xx2"])[1])


def test_many_random_formulas():
    rng = np.random.default_rng(1)
    elements = ["S", "P", "Cl", "O", "La", "Zr", "Ge", "Si", "Br", "I", "Y", "In", "Al", "Ti", "N", "B", "F"]
    formulas = [f"Li{rng.integers(1, 9)}{rng.choice(elements)}{rng.integers(1, 5)}{rng.choice(elements)}"
                f"{rng.integers(1, 8)}" for _ in range(20_000)]
    values = cost_per_kg_many(formulas)
    assert np.isfinite(values).all() and (values > 0).all()


def test_featurizer():
    df = pd.DataFrame({"composition": [Composition("Li2S"), Composition("Li3PbCl5")]})
    f = CostFeaturizer()
    f.set_n_jobs(1)
    out = f.featurize_dataframe(df, "composition", ignore_errors=True, return_errors=True, pbar=False)
    assert out.loc[0, "cost_usd_per_kg"] == pytest.approx(cost_per_kg("Li2S"))
    assert out.loc[1, "excluded_element_fraction"] == pytest.approx(1 / 9)
    assert f.citations() and f.implementors()
