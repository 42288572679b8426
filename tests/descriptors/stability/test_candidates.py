"""Candidate-specific stability, unsupported chemistry and bounded cost per formula (issues 9, 10, 13)."""

import math

import numpy as np
import pytest
from pymatgen.analysis.interface_reactions import InterfacialReactivity
from pymatgen.analysis.reaction_calculator import ReactionError
from pymatgen.core import Composition, Element

from screening.descriptors.stability import (
    STABILITY_COLUMNS,
    Z80,
    ReferenceHull,
    default_hull,
    electrochemical_window,
    energy_above_hull,
    reaction_energy,
    stability_descriptors,
    stability_table,
)
from screening.descriptors.stability.reference import minimum_energy_at_kinks
from screening.errors import UnsupportedChemistryError

MANY = "LiNaKRbCsBeMgCaSrBaScYLaTiZrHfVPS4Cl"  # 20 elements
#: 46 elements, each in the reference data (H, Li-F, Na-Cl, K-Br, Rb-Sn)
FORTY_SIX = "".join(Element.from_Z(z).symbol for z in [1, *range(3, 10), *range(11, 18), *range(19, 36), *range(37, 51)])


@pytest.mark.parametrize(("formula", "element"), [("FrCl", "Fr"), ("Li2Po", "Po"), ("XeLi2", "Xe"), ("RaCl2", "Ra"), ("LiAmO2", "Am")])
def test_elements_without_reference_phases_are_refused(formula, element):
    with pytest.raises(UnsupportedChemistryError, match=element):
        electrochemical_window(formula)
    with pytest.raises(UnsupportedChemistryError, match=element):
        energy_above_hull(formula, -0.5)
    with pytest.raises(UnsupportedChemistryError, match=element):
        reaction_energy(formula, "Li")


def test_unsupported_rows_are_error_rows():
    table = stability_table(["Li2Po", "LiFrCl2", "LiCl"], [-0.5, -1.2, -2.0], [0.1, 0.1, 0.1])
    assert "Po" in table.loc[0, "error"] and "Fr" in table.loc[1, "error"]
    assert table.loc[:1, ["e_hull_eV_atom", "window_low_V", "e_rxn_li_eV_atom"]].isna().all().all()
    assert table.loc[2, "error"] is None and table.loc[2, "window_high_V"] > 4


def test_too_many_elements_is_an_error_row_not_a_crash():
    assert len(Composition(FORTY_SIX).elements) == 46 and len(Composition(MANY).elements) == 20
    table = stability_table([MANY, FORTY_SIX, "Li3PS4"])
    assert "max_elements" in table.loc[0, "error"] and "max_elements" in table.loc[1, "error"]
    assert table.loc[2, "error"] is None


def test_subsystems_from_the_element_index_match_every_subset():
    import itertools

    hull = default_hull()
    system = frozenset({"Li", "P", "S", "Cl", "Br"})
    brute = {frozenset(s) for n in range(1, 6) for s in itertools.combinations(sorted(system), n)} & set(hull._by_system)
    assert set(hull.subsystems(system)) == brute
    # a large system on a small hull is answered without walking its 2^44 subsets
    small = ReferenceHull(["LiF", "Li2O"], [-3.2, -2.1], max_elements=3)
    assert small.hull_energy("Li2OF0") == pytest.approx(-2.1)
    with pytest.raises(UnsupportedChemistryError, match="Na"):
        small.hull_energy("NaF")


def test_li6ps5br_and_li6ps5cl_differ():
    table = stability_table(["Li6PS5Br", "Li6PS5Cl"])
    cols = ["window_low_V", "window_high_V", *(c for c in STABILITY_COLUMNS if c.startswith("e_rxn"))]
    a, b = table.loc[0, cols].to_numpy(float), table.loc[1, cols].to_numpy(float)
    assert np.abs(a - b).max() > 1e-3


def test_candidate_window_is_its_own_not_the_facets():
    hull = default_hull()
    formula = "LiClC3H7NO"  # inside a facet of the reference hull: zero-width facet window
    facet = stability_descriptors(formula)
    assert facet["window_source"] == "facet" and facet["window_width_V"] == pytest.approx(0.0, abs=1e-9)
    e0 = hull.hull_energy(formula)
    own = stability_descriptors(formula, e0 + 0.05, candidate=True)
    assert own["window_source"] == "predicted" and own["window_width_V"] > 1e-3
    assert own["e_hull_eV_atom"] == pytest.approx(0.05) and not own["e_hull_clipped"]
    # more reactive than the hull bound when above the hull
    assert own["e_rxn_li_eV_atom"] <= facet["e_rxn_li_eV_atom"] + 1e-12


def test_candidate_below_the_hull_is_clipped_and_flagged():
    hull = default_hull()
    e0 = hull.hull_energy("Li3YCl6")
    table = stability_table(["Li3YCl6", "Li3YCl6", "Li3PS4"], [e0 - 0.2, e0 + 0.1, 0.0], [0.05, float("nan"), 0.3])
    assert list(table["window_source"]) == ["predicted", "predicted", "reference"]
    assert table.loc[0, "e_hull_eV_atom"] == 0.0 and table.loc[0, "e_hull_clipped"]
    assert table.loc[0, "e_hull_raw_eV_atom"] == pytest.approx(-0.2)
    assert table.loc[0, "e_hull_eV_atom_hi80"] == pytest.approx(max(0.0, -0.2 + Z80 * 0.05))
    assert table.loc[0, "e_hull_eV_atom_std"] == pytest.approx(0.05)
    # clipped at the hull: same reactions as the hull bound, not a new ground state
    assert table.loc[0, "e_rxn_li_eV_atom"] == pytest.approx(hull.reaction_energy("Li3YCl6", "Li"), abs=1e-9)
    assert table.loc[1, "e_hull_eV_atom"] == pytest.approx(0.1) and not table.loc[1, "e_hull_clipped"]
    assert math.isnan(table.loc[1, "e_hull_eV_atom_hi80"])  # spread unknown
    # a reference composition keeps its DFT energy, spread 0, whatever was predicted
    assert table.loc[2, "e_hull_eV_atom"] == pytest.approx(0.0, abs=1e-9) and table.loc[2, "e_hull_eV_atom_std"] == 0.0
    assert table.loc[2, "e_hull_eV_atom_hi80"] == table.loc[2, "e_hull_eV_atom"]


def test_phase_energy_must_be_below_the_hull():
    hull = default_hull()
    with pytest.raises(ValueError, match="not below the hull"):
        hull.electrochemical_window("Li3YCl6", phase_energy_eV_atom=hull.hull_energy("Li3YCl6") + 0.01)


def test_private_interfacial_reactivity_energy_path_still_works():
    # reference.minimum_energy falls back on InterfacialReactivity._get_energy at the kinks when
    # pymatgen cannot balance a reaction; check that path against pymatgen's own minimum
    hull = default_hull()
    for formula, partner in (("Li3PS4", "Li"), ("Li6PS5Cl", "LiCoO2"), ("Li7La3Zr2O12", "H2O")):
        c1, c2 = Composition(formula), Composition(partner)
        ir = InterfacialReactivity(c1, c2, hull._pd_for(c1, c2), norm=True, use_hull_energy=True)
        assert minimum_energy_at_kinks(ir) == pytest.approx(ir.minimum[1], abs=1e-9)
    formula = "Li24.19992Si0.2P3.8S20Br4"
    c1, c2 = Composition(formula), Composition("Li")
    ir = InterfacialReactivity(c1, c2, hull._pd_for(c1, c2), norm=True, use_hull_energy=True)
    try:
        ir.minimum  # noqa: B018 - still unbalanceable? then the fallback is what the pymatgen path uses
    except ReactionError:
        pass
    assert hull.reaction_energy(formula, "Li", method="pymatgen") == pytest.approx(hull.reaction_energy(formula, "Li"), abs=1e-6)
