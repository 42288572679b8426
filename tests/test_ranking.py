"""Ranking: gates, weighted score, Pareto annotation, presets, validation, the scalable sort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from screening.errors import ScreeningError
from screening.ranking import (
    DEFAULT_OBJECTIVES,
    DEFAULT_WEIGHTS,
    OBJECTIVES,
    PRESETS,
    apply_filters,
    gate_funnel,
    objective_correlations,
    pareto_ranks,
    pareto_ranks_reference,
    rank,
    resolve_preset,
    validate_filters,
    validate_weights,
)


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


def screen_table(n=40, seed=0):
    """A table with every objective and gate column, random values."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 2.5, n)
    return pd.DataFrame(
        {
            "candidate_id": [f"c{i}" for i in range(n)],
            "log10_sigma_S_cm": rng.uniform(-8, -1, n),
            "log10_sigma_S_cm_std": rng.uniform(0.2, 1.0, n),
            "log10_sigma_S_cm_hi80": rng.uniform(-7, 0, n),
            "e_hull_eV_atom": rng.uniform(0, 0.2, n),
            "e_hull_eV_atom_std": rng.uniform(0, 0.1, n),
            "window_low_V": low,
            "window_high_V": low + rng.uniform(0, 3, n),
            "window_width_V": rng.uniform(0, 3, n),
            "K_IC_MPa_m05": rng.uniform(0.1, 2, n),
            "G_over_G_Li": rng.uniform(1, 10, n),
            "e_rxn_h2o_eV_atom": -rng.uniform(0, 0.3, n),
            "cost_usd_per_kg": 10 ** rng.uniform(0, 4, n),
        }
    )


# ------------------------------------------------------------------ non-dominated sort


def test_pareto_ranks_pinned():
    values = np.array([[1, 1], [2, 0], [0, 0], [2, 2], [np.nan, 1]], float)
    assert pareto_ranks(values).tolist() == [2, 2, 3, 1, 0]
    assert pareto_ranks_reference(values).tolist() == [2, 2, 3, 1, 0]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("block", [1, 7, 512])
def test_pareto_ranks_match_reference_with_ties(seed, block):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 400)), int(rng.integers(1, 7))
    x = rng.integers(0, 4, size=(n, m)).astype(float)  # many ties and duplicates
    x[rng.random(n) < 0.05, 0] = np.nan
    x[rng.random(n) < 0.05, -1] = np.inf
    assert (pareto_ranks(x, block=block) == pareto_ranks_reference(x)).all()
    y = rng.normal(size=(n, m))
    assert (pareto_ranks(y, block=block) == pareto_ranks_reference(y)).all()


def test_every_passing_row_gets_a_front_beyond_old_cap():
    t = screen_table(6000, seed=3).assign(e_hull_eV_atom=0.0, log10_sigma_S_cm_hi80=0.0, window_width_V=1.0)
    out = rank(t)
    assert out["passes_gates"].all() and (out["pareto_rank"] > 0).all()


# ------------------------------------------------------------------ score and order


def test_rank_uses_present_objectives_and_sorts(table):
    out = rank(table, weights={"log10_sigma_S_cm": 1.0, "window_width_V": 1.0})
    assert out["rank"].tolist() == [1, 2, 3, 4, 5]
    assert out["candidate_id"].tolist()[-2:] == ["e", "c"]  # incomplete e, then c failing the e_hull gate
    e = out.iloc[-2]
    assert e["passes_gates"] == (e["gate_failed"] == "") and not e["complete"] and "log10_sigma_S_cm" in e["missing"]
    front = set(out.loc[(out["pareto_rank"] == 1) & out["complete"], "candidate_id"])
    assert front == {"a", "b"}  # d is dominated by a; c fails the e_hull gate
    assert out.set_index("candidate_id").loc["c", "pareto_rank"] == 0


def test_default_gates_remove_and_name_the_gate(table):
    out = rank(table, weights={"log10_sigma_S_cm": 1.0})
    c = out.set_index("candidate_id").loc["c"]
    assert not c["passes_gates"] and c["gate_failed"] == "e_hull_eV_atom" and np.isnan(c["score"])
    assert set(out.tail(2)["candidate_id"]) == {"c", "e"}  # failing rows sink
    assert out.set_index("candidate_id").loc["e", "gate_failed"] == "no_objective"  # only objective is NaN
    with pytest.warns(DeprecationWarning, match="'passes_filters' is deprecated: read 'passes_gates'"):
        assert (out["passes_filters"] == out["passes_gates"]).all()  # the deprecated alias: same values, warns
    funnel = pd.DataFrame(out.attrs["gate_funnel"]).set_index("gate")
    assert funnel.loc["e_hull_eV_atom", "failed"] == 1
    assert not funnel.loc["log10_sigma_S_cm_hi80", "applied"]  # column absent: reported, not applied


def test_each_gate_counts_its_rows():
    t = screen_table(200)
    funnel = gate_funnel(t).set_index("gate")
    assert funnel.loc["e_hull_eV_atom", "failed"] == (t["e_hull_eV_atom"] > 0.1).sum()
    entered = t["e_hull_eV_atom"] <= 0.1  # the rows the second gate sees: those that passed the first
    assert funnel.loc["log10_sigma_S_cm_hi80", "in"] == entered.sum()
    assert funnel.loc["log10_sigma_S_cm_hi80", "failed"] == (entered & (t["log10_sigma_S_cm_hi80"] < -5)).sum()
    out = rank(t)
    assert out["passes_gates"].sum() == funnel["remaining"].iloc[-1]
    hull = out["gate_failed"].str.contains("e_hull_eV_atom")
    assert hull.sum() == funnel.loc["e_hull_eV_atom", "failed"]


def test_e_hull_gate_on_upper_bound_is_stricter():
    t = screen_table(200)
    point, ucb = rank(t), rank(t, e_hull_z=2.0)
    assert ucb["passes_gates"].sum() < point["passes_gates"].sum()
    bound = t["e_hull_eV_atom"] + 2 * t["e_hull_eV_atom_std"]
    assert set(ucb.loc[ucb["gate_failed"].str.contains("e_hull"), "candidate_id"]) == set(t.loc[bound > 0.1, "candidate_id"])


def test_missing_gate_column_values_rank_after_complete_rows():
    t = screen_table(30).assign(e_hull_eV_atom=0.0, log10_sigma_S_cm_hi80=0.0, window_width_V=1.0)
    t.loc[:4, ["window_low_V", "window_high_V", "window_width_V"]] = np.nan  # stability tier not run
    t.loc[:4, "log10_sigma_S_cm"] = 5.0  # the best conductors
    out = rank(t)
    assert out["passes_gates"].tolist() == [True] * 25 + [False] * 5  # not passed: never checked
    assert (out["gate_failed"] == "").all()  # ... and not failed either
    assert out["complete"].tolist() == [True] * 25 + [False] * 5
    assert set(out.tail(5)["candidate_id"]) == {f"c{i}" for i in range(5)}
    assert (out.tail(5)["missing"].str.contains("window_width_V")).all()
    assert (out.tail(5)["pareto_rank"] > 0).all()  # ranked among rows with the same data


def test_pareto_front_is_annotation_not_sort_key():
    t = pd.DataFrame({"log10_sigma_S_cm": [-2.0, -2.1, -6.0], "K_IC_MPa_m05": [1.0, 0.9, 2.0]})
    out = rank(t, weights={"log10_sigma_S_cm": 1.0, "K_IC_MPa_m05": 0.1})
    assert out["log10_sigma_S_cm"].tolist() == [-2.0, -2.1, -6.0]
    assert out["pareto_rank"].tolist() == [1, 2, 1]


def test_ucb_promotes_uncertain_candidate(table):
    plain = rank(table, weights={"log10_sigma_S_cm": 1.0}, objectives={"log10_sigma_S_cm": 1}, gates=False)
    ucb = rank(table, weights={"log10_sigma_S_cm": 1.0}, objectives={"log10_sigma_S_cm": 1}, kappa=1.0, gates=False)
    assert plain.iloc[0]["candidate_id"] == "a"
    assert ucb.iloc[0]["candidate_id"] == "b"  # -3 + 2 = -1 beats -2 + 0.1
    assert ucb.loc[ucb["candidate_id"] == "b", "ucb_log10_sigma_S_cm"].item() == pytest.approx(-1.0)


@pytest.mark.parametrize("normalise", ["rank", "robust_z"])
def test_minimised_objective_direction_and_inf(normalise):
    t = pd.DataFrame({"cost_usd_per_kg": [50.0, 5.0, 500.0], "window_high_V": [3.0, np.inf, 2.0]})
    out = rank(t, weights={"cost_usd_per_kg": 1.0}, normalise=normalise)
    assert out["cost_usd_per_kg"].tolist() == [5.0, 50.0, 500.0]
    out = rank(t, weights={"window_high_V": 1.0}, normalise=normalise)
    assert out["window_high_V"].tolist() == [np.inf, 3.0, 2.0]


def test_monroe_newman_is_a_flag_not_an_objective():
    t = screen_table(10)
    t.loc[0, "G_over_G_Li"] = np.nan
    out = rank(t).set_index("candidate_id")
    flag = out["monroe_newman_pass"]
    assert pd.isna(flag["c0"])
    expected = t.set_index("candidate_id")["G_over_G_Li"].drop("c0") > 2
    assert (flag.drop("c0").reindex(expected.index) == expected).all()
    assert "G_over_G_Li" not in OBJECTIVES


def test_one_term_per_failure_mode():
    modes = [OBJECTIVES[c].failure_mode for c in DEFAULT_OBJECTIVES]
    assert len(modes) == len(set(modes)) == 6
    for p in PRESETS.values():
        assert set(p.weights) <= set(DEFAULT_OBJECTIVES)
    assert DEFAULT_WEIGHTS == PRESETS["balanced"].weights


def test_presets_change_order_and_gates():
    t = screen_table(300).assign(e_hull_eV_atom=0.0, log10_sigma_S_cm_hi80=0.0, window_width_V=1.0)
    hv = rank(t, preset="high-voltage-cathode")
    assert (hv.loc[hv["passes_gates"], "window_high_V"] >= 4.0).all()
    assert not hv["passes_gates"].all()
    li = rank(t, preset="li-metal-anode")
    cf = rank(t, preset="conductivity-first")
    assert li["window_low_V"].head(30).mean() < cf["window_low_V"].head(30).mean()
    assert cf["log10_sigma_S_cm"].head(30).mean() > li["log10_sigma_S_cm"].head(30).mean()


def test_objective_correlations_pairs():
    t = screen_table(50)
    t["e_rxn_li_eV_atom"] = -t["window_low_V"] ** 3  # monotone: Spearman -1
    corr = objective_correlations(t)
    k = len([c for c in OBJECTIVES if c in t])
    assert len(corr) == k * (k - 1) // 2
    top = corr.iloc[0]
    assert {top["a"], top["b"]} == {"window_low_V", "e_rxn_li_eV_atom"} and top["spearman"] == pytest.approx(-1.0)


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"weights": {"nonsense": 1.0}}, "nonsense"),
        ({"filters": {"missing_col": (0, 1)}}, "missing_col"),
        ({"filters": {"window_with_V": (1, None)}}, "window_with_V"),
        ({"weights": {"window_width_V": -1.0}}, "window_width_V"),
        ({"weights": {"log10_sigma_S_cm": float("nan")}}, "log10_sigma_S_cm"),
        ({"weights": {"log10_sigma_S_cm": float("inf")}}, "log10_sigma_S_cm"),
        ({"filters": {"window_width_V": (3, 1)}}, "window_width_V"),
        ({"filters": {"window_width_V": 3}}, "window_width_V"),
        ({"kappa": -1}, "kappa"),
        ({"objectives": {"window_width_V": 2}}, "window_width_V"),
        ({"preset": "fastest"}, "fastest"),
        ({"normalise": "minmax"}, "minmax"),
    ],
)
def test_validation_names_the_culprit(table, kwargs, text):
    with pytest.raises(ScreeningError, match=text):
        rank(table, **kwargs)


def test_validators_before_any_work():
    assert validate_weights({"log10_sigma_S_cm": 2}) == {"log10_sigma_S_cm": 2.0}
    with pytest.raises(ScreeningError, match="log10_sigma_S_cm"):
        validate_weights({"log10_sigma_S_cm": -1})
    with pytest.raises(ScreeningError, match="window_with_V"):
        validate_filters({"window_with_V": (1, None)})
    assert validate_filters({"window_width_V": [1, None]}) == {"window_width_V": (1.0, None)}
    assert resolve_preset("Conductivity_First").name == "conductivity-first"
    with pytest.raises(ScreeningError, match="balanced"):
        resolve_preset("nope")


def test_apply_filters(table):
    assert apply_filters(table, {"window_width_V": (1.0, 2.5)}).tolist() == [False, False, True, False, True]
    with pytest.raises(ScreeningError, match="missing_col"):
        apply_filters(table, {"missing_col": (0, 1)})


def test_no_objective_present():
    with pytest.raises(ScreeningError, match="none of the objectives"):
        rank(pd.DataFrame({"x": [1.0]}))


# ------------------------------------------------------------------ known materials (issue 10)


@pytest.mark.slow
def test_known_materials_balanced_preset_targets():
    """OBELiX screen (tier 0 + stability on every row), `balanced`: fast conductors high, insulators low.

    These compositions are in the conductivity model's training data: a check that the
    ranking does not bury what the model knows, not a validation of the model.
    """
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ranking.py"
    spec = importlib.util.spec_from_file_location("bench_ranking", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    k = bench.known_materials_metrics(rank(bench.known_materials_table(), preset="balanced"))
    assert k["fast_n"] >= 20 and k["ins_n"] >= 20
    assert k["fast_median_pct"] <= 25.0
    assert k["ins_in_top10"] == 0
    assert k["top20_max_e_hull"] <= 0.1


def test_ranks_do_not_depend_on_the_order_rows_come_in():
    t = screen_table(60, seed=3)
    t.loc[t.index[:20], "log10_sigma_S_cm"] = np.nan  # many ties: rows that fail a gate or lack a value
    t.loc[t.index[20:30], "e_hull_eV_atom"] = 0.5
    a = rank(t).set_index("candidate_id")["rank"]
    b = rank(t.sample(frac=1.0, random_state=7)).set_index("candidate_id")["rank"]
    pd.testing.assert_series_equal(a.sort_index(), b.sort_index())


def test_unsorted_ranking_gives_the_same_ranks_in_the_input_order():
    t = screen_table(50, seed=4)
    ranked = rank(t)
    unsorted = rank(t, sort=False)
    assert list(unsorted["candidate_id"]) == list(t["candidate_id"])
    merged = unsorted.merge(ranked, on="candidate_id", suffixes=("", "_sorted"))
    for c in ("rank", "score", "pareto_rank", "passes_gates", "gate_failed"):
        pd.testing.assert_series_equal(merged[c], merged[f"{c}_sorted"], check_names=False)
