"""The stability descriptors of a partially occupied structure describe its nearest charge-balanced composition."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymatgen.core import Composition

from screening.descriptors import describe
from screening.descriptors.stability.balance import balanced_composition

SEEDS = sorted((Path(__file__).resolve().parents[3] / "seeds").glob("*.cif"))


@pytest.mark.parametrize("cif", SEEDS, ids=[p.stem for p in SEEDS])
def test_every_seed_has_a_window_of_nonzero_width(cif):
    row = describe(cif, bvse=False)
    assert row["window_width_V"] > 0.05, (row["formula"], row["stability_formula"], row["window_low_V"], row["window_high_V"])


def test_the_li3incl6_seed_gets_the_window_of_li3incl6():
    row = describe(next(p for p in SEEDS if p.stem.startswith("Li3InCl6")), bvse=False)
    assert row["formula"] == "Li6In2.03Cl12" and row["stability_formula"] == "Li3InCl6"
    assert row["stability_formula_rule"] == "amounts rounded to 0.1"
    assert row["window_low_V"] == pytest.approx(2.62, abs=0.01) and row["window_high_V"] == pytest.approx(4.30, abs=0.01)


@pytest.mark.parametrize(
    "formula, expected, rule",
    [
        ("Li3YCl6", "Li3YCl6", "as given"),
        ("Li55.99968La24Zr16O96", "Li7La3Zr2O12", "amounts rounded to 0.1"),
        ("Li5.5In2.03Cl12", "Li5.91In2.03Cl12", "Li content balanced"),
        ("In2Cl3", "In2Cl3", "not charge balanced"),
    ],
)
def test_balanced_composition_rules(formula, expected, rule):
    comp, used = balanced_composition(Composition(formula))
    assert used == rule and comp.fractional_composition.almost_equals(Composition(expected).fractional_composition, rtol=1e-6)
