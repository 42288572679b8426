"""The simulation tier's place in a screen: structures from the source, simulated numbers used by the ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Structure

from screening.pipeline import ScreenParameters, candidate_structures, rank_funnel, simulation_tier, use_simulated


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "candidate_id": ["a", "b"],
            "formula": ["Li3YCl6", "LiCl"],
            "log10_sigma_S_cm": [-4.0, -5.0],
            "log10_sigma_S_cm_std": [1.0, 1.0],
            "log10_sigma_S_cm_lo80": [-5.3, -6.3],
            "log10_sigma_S_cm_hi80": [-2.7, -3.7],
            "e_hull_eV_atom": [0.05, 0.0],
            "e_hull_source": ["predicted", "reference"],
            "window_low_V": [0.6, 0.0],
            "window_high_V": [4.3, 4.3],
            "window_width_V": [3.7, 4.3],
            "mlip_log10_sigma_S_cm": [-2.5, np.nan],
            "mlip_log10_sigma_S_cm_std": [0.2, np.nan],
            "mlip_e_hull_eV_atom": [0.02, np.nan],
            "mlip_md_ps": [20.0, 20.0],
            "mlip_transport_ok": [True, True],
        }
    )


def test_simulated_numbers_replace_predicted_ones_and_say_so():
    used = use_simulated(_table())
    assert used["log10_sigma_S_cm"].tolist()[0] == -2.5 and used["log10_sigma_S_cm"].tolist()[1] == -5.0
    assert used["conductivity_source"].tolist() == ["simulation", "composition"]
    assert used["e_hull_ranked_source"].tolist() == ["simulation", "reference"]
    assert used.loc[0, "e_hull_eV_atom"] == 0.02
    assert np.isclose(used.loc[0, "log10_sigma_S_cm_hi80"] - used.loc[0, "log10_sigma_S_cm_lo80"], 2 * 1.2816 * 0.2)


def test_neither_the_swap_nor_the_ranking_changes_the_callers_table():
    table = _table()
    before = table.copy()
    ranked = rank_funnel(use_simulated(table))
    pd.testing.assert_frame_equal(table, before)  # no copy of the data is made, and nothing is written through
    assert ranked.set_index("candidate_id").loc["a", "log10_sigma_S_cm"] == -2.5


def test_a_short_md_conductivity_is_shown_but_not_ranked_on():
    used = use_simulated(_table().assign(mlip_md_ps=[0.4, 0.4]))
    assert used["conductivity_source"].tolist() == ["composition", "composition"]
    assert used.loc[0, "log10_sigma_S_cm"] == -4.0 and used.loc[0, "mlip_log10_sigma_S_cm"] == -2.5
    assert used["e_hull_ranked_source"].tolist() == ["simulation", "reference"]  # the relaxed energy still counts


def test_an_md_conductivity_that_fails_the_quality_checks_is_not_ranked_on():
    for failed in (_table().assign(mlip_transport_ok=[False, False]), _table().drop(columns="mlip_transport_ok")):
        used = use_simulated(failed)
        assert used["conductivity_source"].tolist() == ["composition", "composition"]
        assert used.loc[0, "log10_sigma_S_cm"] == -4.0


def test_ranking_uses_the_simulated_conductivity():
    table = _table()
    table["mlip_log10_sigma_S_cm"] = [np.nan, -1.0]  # the simulation finds LiCl the better conductor
    ranked = rank_funnel(use_simulated(table), preset="conductivity-first")
    assert ranked.iloc[0]["candidate_id"] == "b"


def test_the_ranked_view_shows_the_numbers_the_ranking_used_beside_the_tiers_own(tmp_path):
    from screening.pipeline import score_table
    from screening.store import ResultStore

    table = _table()
    store = ResultStore(tmp_path / "s.duckdb")
    store.start_run({}, flow="screen", run_id="r")  # top() shows a run the store knows
    store.write("candidates", "r", table[["candidate_id", "formula"]])
    store.write("predictions", "r", table[["candidate_id", "log10_sigma_S_cm"]])
    store.write("stability", "r", table[["candidate_id", "e_hull_eV_atom", "e_hull_source"]])
    store.write("simulation", "r", table[["candidate_id", "mlip_log10_sigma_S_cm", "mlip_e_hull_eV_atom", "mlip_md_ps", "mlip_transport_ok"]])
    store.write("scores", "r", score_table(rank_funnel(use_simulated(table))))
    top = store.top(2, run_id="r").set_index("candidate_id")
    # a: simulated numbers ranked; the tiers' own numbers stay under their names
    assert top.loc["a", "ranked_log10_sigma_S_cm"] == -2.5 and top.loc["a", "log10_sigma_S_cm"] == -4.0
    assert top.loc["a", "ranked_e_hull_eV_atom"] == 0.02 and top.loc["a", "e_hull_eV_atom"] == 0.05
    assert top.loc["a", ["conductivity_source", "e_hull_ranked_source"]].tolist() == ["simulation", "simulation"]
    assert top.loc["b", ["conductivity_source", "e_hull_ranked_source"]].tolist() == ["composition", "reference"]
    assert top.loc["b", "ranked_log10_sigma_S_cm"] == top.loc["b", "log10_sigma_S_cm"]


def test_structures_come_from_the_source_and_missing_ones_are_error_texts():
    params = ScreenParameters(source="obelix")
    frame = pd.DataFrame({"candidate_id": ["obelix-122", "obelix-nonexistent"]})
    got = candidate_structures(params, frame)
    # OBELiX 122 is Li6PS5Cl with a CIF (S/Cl sharing the 4a/4c sites): its own structure, not an error text
    assert isinstance(got[0], Structure), got[0]
    assert got[0].composition.fractional_composition.almost_equals(Composition("Li6PS5Cl").fractional_composition, rtol=0.01)
    assert isinstance(got[1], str) and "nonexistent" in got[1]


def test_a_candidate_without_structure_is_an_error_row_not_a_dead_batch():
    out = simulation_tier(pd.DataFrame({"candidate_id": ["x"]}), ["x: structure not found"])
    assert out["candidate_id"].tolist() == ["x"] and "not found" in out["simulation_error"].iloc[0]


def test_simulation_is_a_tier_of_the_form():
    params = ScreenParameters(tiers=["composition", "stability", "simulation"], simulation_top_k=5, potential="sevenn")
    assert params.tiers[-1] == "simulation" and params.simulation_top_k == 5


def test_measured_conductivity_wins_over_simulated_and_predicted_ones_where_known():
    from screening.pipeline import MEASURED_SCATTER_LOG10, use_measured

    table = use_simulated(_table().assign(measured_log10_sigma_S_cm=[-4.0, np.nan]))
    used = use_measured(table)
    assert used["log10_sigma_S_cm"].tolist() == [-4.0, -5.0]
    assert used["conductivity_source"].tolist() == ["measured", "composition"]
    assert used.loc[0, "log10_sigma_S_cm_std"] == MEASURED_SCATTER_LOG10
    assert np.isclose(used.loc[0, "log10_sigma_S_cm_hi80"] - used.loc[0, "log10_sigma_S_cm_lo80"], 2 * 1.2816 * MEASURED_SCATTER_LOG10)
    assert table.loc[0, "log10_sigma_S_cm"] == -2.5  # the input is not changed
    assert used["e_hull_eV_atom"].tolist() == table["e_hull_eV_atom"].tolist()  # only the conductivity
    assert use_measured(_table())["log10_sigma_S_cm"].tolist() == _table()["log10_sigma_S_cm"].tolist()  # no column: unchanged



def test_the_measured_scatter_is_the_one_obelix_repeats_give():
    from screening.pipeline import MEASURED_SCATTER_LOG10
    from screening.training.conductivity import conductivity_data, repeat_scatter

    s = repeat_scatter(conductivity_data("train"), conductivity_data("test"))
    assert (s["compositions"], s["rows"]) == (65, 163)
    assert round(s["pooled_std"], 3) == MEASURED_SCATTER_LOG10
    assert round(s["loo_mae"], 2) == 0.72  # the floor quoted in the README and models.md
