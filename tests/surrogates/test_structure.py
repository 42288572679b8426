"""The structure-aware conductivity model and predict() on structures (fast)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from screening.config import get_settings
from screening.datasets import load_obelix_structures
from screening.surrogates import PREDICT_COLUMNS, STRUCTURE_MODEL_NAME, predict

# value of predict(["Li6PS5Cl"]) before the structure model existed: formulas must not change
LI6PS5CL_LOG10_SIGMA = -3.3351862475233216
IDS = ["019", "09w"]  # LiTi2(PO4)3 (NASICON), Li6PS5Br-type argyrodite (both disordered CIFs)
SIGMA = ["log10_sigma_S_cm", "log10_sigma_S_cm_std", "log10_sigma_S_cm_lo80", "log10_sigma_S_cm_hi80"]


@pytest.fixture(scope="module")
def structures() -> list[Structure]:
    loaded = load_obelix_structures(IDS)
    return [loaded[i][0] for i in IDS]


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads((get_settings().models_dir / STRUCTURE_MODEL_NAME / "card.json").read_text())


def _expected_columns() -> list[str]:
    cols = list(PREDICT_COLUMNS)
    cols.insert(cols.index("log10_sigma_S_cm_hi80") + 1, "conductivity_model")
    return cols


def test_formulas_unchanged():
    out = predict(["Li6PS5Cl"], stability=False)
    assert list(out.columns) == list(PREDICT_COLUMNS)  # no conductivity_model column for formulas only
    assert out.loc[0, "log10_sigma_S_cm"] == pytest.approx(LI6PS5CL_LOG10_SIGMA, abs=1e-12)


def test_card_exists_and_metrics_finite(card):
    assert (get_settings().models_dir / STRUCTURE_MODEL_NAME / "CARD.md").is_file()
    assert (get_settings().models_dir / STRUCTURE_MODEL_NAME / "model.skops").stat().st_size < 10e6
    m = card["metrics_test"]
    for key in ("mae", "spearman", "coverage80", "mae_composition_model", "spearman_composition_model", "mae_median_baseline"):
        assert math.isfinite(m[key]), key
    assert m["n"] == card["metrics_test_composition_model_same_rows"]["n"] > 20
    assert isinstance(card["better_than_composition_on_test"], bool)
    assert card["better_than_composition_on_test"] == (m["mae"] < m["mae_composition_model"])
    assert 0.5 <= m["coverage80"] <= 1.0
    cv = card["cv_structure_vs_composition"]  # the default is chosen on train, not on the test rows
    assert cv["structure_better"] == (cv["mae_oof_structure"] < cv["mae_oof_composition"])
    assert cv["rows"] > 200 and len(cv["mae_oof_structure_per_repeat"]) == len(cv["mae_oof_composition_per_repeat"]) >= 2
    if "round6_selection" not in card:  # a model from before round 6: its default came from the CV above
        assert card["better_than_composition_in_cv"] == cv["structure_better"]
        return
    # the round-6 rule (train only) decides the default: the shipped candidate is its winner
    sel = card["round6_selection"]
    assert card["better_than_composition_in_cv"] == card["chosen_by_round6_rule"] == (sel["winner"] == card["model"].split(":")[0] != "composition")
    scores = sel["rule"]["candidates"]
    assert set(scores) == {"composition", "struct_hgb", "phys_hgb_mono", "phys_ridge", "stack_mono", "stack_ridge"}
    eligible = {n: v["score"] for n, v in scores.items() if v["eligible"]}
    assert sel["winner"] in eligible and eligible[sel["winner"]] < min(eligible.values()) + 0.005


def test_structures_use_structure_model(structures):
    out = predict(structures + ["Li3PS4"], stability=False, structure_model=True)
    assert list(out.columns) == _expected_columns()
    assert out["conductivity_model"].tolist() == ["structure", "structure", "composition"]
    assert out["error"].isna().all(), out["error"].tolist()
    assert np.isfinite(out[SIGMA].to_numpy(float)).all()
    assert (out["log10_sigma_S_cm_lo80"] < out["log10_sigma_S_cm"]).all()
    assert (out["log10_sigma_S_cm"] < out["log10_sigma_S_cm_hi80"]).all()
    # composition model forced: same numbers as predicting the structures' formulas
    comp = predict(structures, stability=False, structure_model=False)
    assert comp["conductivity_model"].tolist() == ["composition", "composition"]
    ref = predict([s.composition.formula for s in structures], stability=False)
    np.testing.assert_allclose(comp[SIGMA].to_numpy(float), ref[SIGMA].to_numpy(float))
    # the other properties do not depend on the conductivity model
    np.testing.assert_allclose(out.loc[:1, "G_VRH_GPa"].to_numpy(float), comp["G_VRH_GPa"].to_numpy(float))


def test_default_follows_card_flag(structures, card):
    out = predict(structures[:1], stability=False)
    expected = "structure" if card["better_than_composition_in_cv"] else "composition"
    assert out["conductivity_model"].tolist() == [expected]


def test_structure_without_li_is_an_error_row():
    """No Li, no Li-ion conductivity: an error row naming it (issue 27; it used to get the composition model's number)."""
    nacl = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    out = predict([nacl], stability=False, structure_model=True)
    assert out["conductivity_model"].tolist() == [None]
    assert "no lithium" in out.loc[0, "error"] and np.isnan(out.loc[0, "log10_sigma_S_cm"])


def test_dataframe_with_structure_column_and_ase(structures):
    from pymatgen.io.ase import AseAtomsAdaptor

    df = pd.DataFrame({"candidate_id": ["a", "b", "c"], "structure": [structures[0], None, structures[1]],
                       "formula": [None, "Li3YCl6", None]})  # fmt: skip
    out = predict(df, stability=False, structure_model=True)
    assert out["candidate_id"].tolist() == ["a", "b", "c"]
    assert out["conductivity_model"].tolist() == ["structure", "composition", "structure"]
    li2s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.7), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]])
    atoms = AseAtomsAdaptor.get_atoms(li2s)  # ordered antifluorite Li2S as ase Atoms
    one = predict(atoms, stability=False, structure_model=True)
    assert len(one) == 1 and one.loc[0, "conductivity_model"] in ("structure", "composition")
    assert np.isfinite(one.loc[0, "log10_sigma_S_cm"])
