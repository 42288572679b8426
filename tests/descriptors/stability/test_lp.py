"""The LP stability descriptors (default) against the pymatgen phase-diagram path they replace."""

import math

import pytest

from screening.datasets import load_obelix
from screening.descriptors.stability import ReferenceHull, default_hull, stability_descriptors

PARTNERS = ("Li", "LiCoO2", "H2O")
ENUMERATED_LIKE = [
    "Li2.5Na0.5Y0.75Sc0.25Cl5Br", "Li5.5PS4.5Cl0.75Br0.75", "Li6.25Al0.25La3Zr2O12", "Li1.3Al0.3Ti1.7(PO4)3",
    "Li2.25Zr0.75Fe0.25Cl6", "Li3OCl", "GeS2", "LiCl", "Li", "Li3YCl6", "LiClC3H7NO", "Li2.65Na0.5Y0.85Mn0.15Cl6",
]  # fmt: skip
TOL = 1e-6


def _sample_obelix(n=40):
    formulas = list(dict.fromkeys(load_obelix()["formula"]))
    return formulas[:: max(1, len(formulas) // n)][:n]


def _descriptors(hull, formula, method):
    w = hull.electrochemical_window(formula, method=method)
    out = {"low": w.low_V, "high": w.high_V, "hull": hull.hull_energy(formula, method=method)}
    for p in PARTNERS:
        out[p] = hull.reaction_energy(formula, p, method=method)
    return out


@pytest.fixture(scope="module")
def pairs():
    hull = default_hull()
    rows = {}
    for formula in ENUMERATED_LIKE + _sample_obelix():
        try:
            ref = _descriptors(hull, formula, "pymatgen")
        except Exception:  # a formula pymatgen cannot handle is no comparison
            continue
        rows[formula] = (_descriptors(hull, formula, "lp"), ref)
    return rows


def test_lp_agrees_with_pymatgen(pairs):
    assert len(pairs) >= 45
    worst = {}
    for formula, (lp, ref) in pairs.items():
        for key in ref:
            a, b = lp[key], ref[key]
            if math.isinf(b):
                assert a == b, (formula, key, a, b)
                continue
            worst[key] = max(worst.get(key, 0.0), abs(a - b))
            assert a == pytest.approx(b, abs=TOL), (formula, key, a, b)
    assert set(worst) == {"low", "high", "hull", *PARTNERS}


def test_special_windows(pairs):
    lp = {f: pairs[f][0] for f in ("GeS2", "LiClC3H7NO", "Li", "LiCl")}
    assert lp["GeS2"]["low"] == pytest.approx(1.898, abs=1e-3) and lp["GeS2"]["high"] == math.inf  # nothing releases Li
    assert lp["LiClC3H7NO"]["low"] == pytest.approx(lp["LiClC3H7NO"]["high"], abs=1e-9)  # inside a facet: zero width
    assert lp["LiClC3H7NO"]["low"] == pytest.approx(1.7086, abs=1e-3)
    assert lp["Li"]["low"] == lp["Li"]["high"] == 0.0
    assert lp["LiCl"]["low"] == 0.0 and lp["LiCl"]["Li"] == 0.0


def test_hand_computed_binary():
    # Li-O with Li2O alone at -2.1 eV/atom: 2/3 mu_Li + 1/3 mu_O = -2.1, mu <= 0 -> mu_Li in [-3.15, 0]
    hull = ReferenceHull(["Li2O"], [-2.1])
    w = hull.electrochemical_window("Li2O")
    assert (w.low_V, w.high_V) == (0.0, pytest.approx(3.15, abs=1e-9))
    assert w.reduction_reaction == "stable against Li metal" and "O" in w.oxidation_reaction
    assert hull.hull_energy("LiO") == pytest.approx(-2.1 * 0.75)  # 3/4 Li2O + 1/4 O
    # Li2O + O: every mixture lies on the Li2O-O tie line -> no reaction
    assert hull.reaction_energy("Li2O", "O") == 0.0
    # Li + O -> Li2O: most negative at the Li2O composition, x = 2/3 of Li
    assert hull.reaction_energy("Li", "O2") == pytest.approx(-2.1)


@pytest.mark.filterwarnings("ignore:The reactant")  # pymatgen: positive formation energy, hull energy used
def test_given_formation_energy_matches_pymatgen():
    hull = default_hull()
    for formula in ("Li3PS4", "Li6PS5Cl", "Li3YCl6", "LiCl", "Li2.25Zr0.75Fe0.25Cl6"):
        e0 = hull.hull_energy(formula)
        for de in (-0.1, 0.0, 0.05, 0.3, 5.0):  # below, on and above the hull, positive formation energy
            for p in PARTNERS:
                a = hull.reaction_energy(formula, p, formation_energy_eV_atom=e0 + de)
                b = hull.reaction_energy(formula, p, formation_energy_eV_atom=e0 + de, method="pymatgen")
                assert a == pytest.approx(b, abs=TOL), (formula, p, de)


def test_decomposition_and_reaction_texts():
    hull = default_hull()
    assert hull.decomposition("Li3YCl6") == pytest.approx({"LiCl": 0.6, "YCl3": 0.4})
    w = hull.electrochemical_window("Li3PS4")
    assert w.reduction_reaction.startswith("Li3PS4 + Li -> ") and "Li2S" in w.reduction_reaction
    assert w.oxidation_reaction.startswith("Li3PS4 -> Li + ")
    assert hull.electrochemical_window("GeS2").oxidation_reaction == "no Li released"


def test_method_keyword():
    hull = default_hull()
    assert hull.method == "lp"
    d_lp = stability_descriptors("Li6PS5Cl", method="lp")
    d_pm = stability_descriptors("Li6PS5Cl", method="pymatgen")
    assert d_lp == pytest.approx(d_pm, abs=TOL, nan_ok=True)
    with pytest.raises(ValueError, match="method"):
        hull.hull_energy("LiCl", method="qhull")
    with pytest.raises(ValueError, match="method"):
        ReferenceHull(["LiF"], [-3.2], method="exact")
    assert ReferenceHull(["LiF"], [-3.2], method="pymatgen").hull_energy("LiF") == pytest.approx(-3.2)
