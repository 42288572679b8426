"""Ranking: filters, Pareto ranks, weighted and uncertainty-aware scores, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from screening.ranking import DEFAULT_OBJECTIVES, apply_filters, pareto_ranks, rank


@pytest.fixture()
def table():
    return pd.DataFrame(
        {
            "candidate_id": list("abcde"),
            "log10_sigma_S_cm": [-2.0, -3.0, -4.0, -2.5, np.nan],
            "log10_sigma_S_cm_std": [0.1, 2.0, 0.1, 0.1, 0.1],
            "window_width_V": [0.5, 3.0, 1.0, 0.4, 2.0],
            "e_hull_eV_atom": [0.0, 0.02, 0.3, 0.0, 0.0],
        }
    )


def test_pareto_ranks_pinned():
    values = np.array([[1, 1], [2, 0], [0, 0], [2, 2], [np.nan, 1]], float)
    assert pareto_ranks(values).tolist() == [2, 2, 3, 1, 0]


def test_rank_uses_present_objectives_and_sorts(table):
    out = rank(table, weights={"log10_sigma_S_cm": 1.0, "window_width_V": 1.0})
    assert out["rank"].tolist() == [1, 2, 3, 4, 5]
    assert out.iloc[-1]["candidate_id"] == "e"  # NaN objective: not ranked, last
    assert not out.iloc[-1]["passes_filters"]
    front = set(out.loc[out["pareto_rank"] == 1, "candidate_id"])
    assert front == {"a", "b"}  # c and d are dominated


def test_filters_exclude_rows(table):
    out = rank(table, filters={"e_hull_eV_atom": (None, 0.1)})
    failed = set(out.loc[~out["passes_filters"], "candidate_id"])
    assert failed == {"c", "e"}
    assert apply_filters(table, {"window_width_V": (1.0, 2.5)}).tolist() == [False, False, True, False, True]


def test_ucb_promotes_uncertain_candidate(table):
    plain = rank(table, weights={"log10_sigma_S_cm": 1.0}, objectives={"log10_sigma_S_cm": 1})
    ucb = rank(table, weights={"log10_sigma_S_cm": 1.0}, objectives={"log10_sigma_S_cm": 1}, kappa=1.0)
    assert plain.iloc[0]["candidate_id"] == "a"
    assert ucb.iloc[0]["candidate_id"] == "b"  # -3 + 2 = -1 beats -2 + 0.1
    assert ucb.loc[ucb["candidate_id"] == "b", "ucb_log10_sigma_S_cm"].item() == pytest.approx(-1.0)


def test_minimised_objective_direction():
    t = pd.DataFrame({"cost_usd_per_kg": [50.0, 5.0, 500.0]})
    out = rank(t, weights={"cost_usd_per_kg": 1.0})
    assert out["cost_usd_per_kg"].tolist() == [5.0, 50.0, 500.0]
    assert "cost_usd_per_kg" in DEFAULT_OBJECTIVES


@pytest.mark.parametrize(
    "kwargs, exc, text",
    [
        ({"weights": {"nonsense": 1.0}}, KeyError, "nonsense"),
        ({"filters": {"missing_col": (0, 1)}}, KeyError, "missing_col"),
        ({"weights": {"window_width_V": -1.0}}, ValueError, "window_width_V"),
        ({"weights": {"window_width_V": float("nan")}}, ValueError, "window_width_V"),
        ({"filters": {"window_width_V": (3, 1)}}, ValueError, "window_width_V"),
        ({"filters": {"window_width_V": 3}}, ValueError, "window_width_V"),
        ({"kappa": -1}, ValueError, "kappa"),
        ({"objectives": {"window_width_V": 2}}, ValueError, "window_width_V"),
    ],
)
def test_validation_names_the_culprit(table, kwargs, exc, text):
    with pytest.raises(exc, match=text):
        rank(table, **kwargs)


def test_no_objective_present():
    with pytest.raises(KeyError, match="none of the objectives"):
        rank(pd.DataFrame({"x": [1.0]}))
