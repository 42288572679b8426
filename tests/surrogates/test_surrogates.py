"""Surrogate models: features, conformal intervals, persistence, predict() and its failure rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from screening.config import get_settings
from screening.errors import ModelNotFoundError
from screening.surrogates import (
    MODEL_NAMES,
    PREDICT_COLUMNS,
    ConformalRegressor,
    Surrogate,
    coarse_family,
    element_fractions,
    feature_table,
    load_model,
    predict,
    prototype_of,
)


@pytest.mark.parametrize(
    "formula, proto",
    [
        ("Li6PS5Cl", "argyrodite"), ("Li10GeP2S12", "LGPS"), ("Li3PS4", "thiophosphate"), ("Li7La3Zr2O12", "garnet"),
        ("LiTi2(PO4)3", "NASICON"), ("Li0.33La0.56TiO3", "perovskite"), ("Li3OCl", "antiperovskite"),
        ("Li3YCl6", "halide"), ("Li3N", "nitride"), ("LiBH4", "hydride"),
    ],
)  # fmt: skip
def test_prototype_of(formula, proto):
    assert prototype_of(formula) == proto


def test_coarse_family_and_fractions():
    from pymatgen.core import Composition

    comps = [Composition(f) for f in ("Li6PS5Cl", "Li2O", "LiCl", "Li3N", "LiAlO2F", "LiAl")]
    f = element_fractions(comps)
    assert f.sum(axis=1) == pytest.approx(np.ones(6))
    assert coarse_family(f).tolist() == ["sulfide", "oxide", "halide", "nitride", "mixed-anion", "no-anion"]


def test_feature_table_marks_bad_rows():
    X, errors, strata = feature_table(["Li3PS4", "Xx2O", "", "Li2Og"], "conductivity")
    assert errors[0] is None and np.isfinite(X.iloc[0]).all()
    for i in (1, 2, 3):
        assert errors[i] and X.iloc[i].isna().all()
    with pytest.raises(ValueError, match="kind"):
        feature_table(["Li"], "nope")


def test_conformal_regressor_coverage_and_strata():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 2))
    strata = np.where(X[:, 0] > 0, "noisy", "quiet")
    y = X @ [1.0, 2.0] + rng.normal(size=2000) * np.where(strata == "noisy", 2.0, 0.2)
    reg = ConformalRegressor(LinearRegression(), coverage=0.8, calibration=5).fit(X[:1000], y[:1000], strata=strata[:1000])
    mean, lo, hi = reg.predict_interval(X[1000:], strata[1000:])
    inside = (y[1000:] >= lo) & (y[1000:] <= hi)
    assert 0.75 <= inside.mean() <= 0.85
    assert reg.stratum_quantiles_["noisy"] > 5 * reg.stratum_quantiles_["quiet"]
    # unknown stratum -> pooled quantile; split calibration also works
    assert reg.half_widths(["other"], 1)[0] == reg.quantile_
    split = ConformalRegressor(LinearRegression(), calibration=0.25).fit(X, y)
    assert len(split.calibration_index_) == 500
    with pytest.raises(ValueError, match="calibration"):
        ConformalRegressor(LinearRegression(), calibration=1.5).fit(X, y)


def test_surrogate_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(100, 3)), rng.normal(size=100)
    reg = ConformalRegressor(LinearRegression(), calibration=0.2).fit(X, y)
    Surrogate("toy", "y", "basic", reg, {"name": "toy", "metrics_test": {"mae": 0.5}}).save(tmp_path)
    back = Surrogate.load("toy", tmp_path)
    assert np.allclose(back.regressor.predict(X), reg.predict(X))
    assert json.loads((tmp_path / "toy" / "card.json").read_text())["metrics_test"]["mae"] == 0.5
    assert "# Model card: toy" in (tmp_path / "toy" / "CARD.md").read_text()
    with pytest.raises(ModelNotFoundError, match="absent.*make train"):
        Surrogate.load("absent", tmp_path)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_cards_are_complete(name):
    d = get_settings().models_dir / name
    card = json.loads((d / "card.json").read_text())
    for key in ("target", "features", "train", "test", "split", "uncertainty", "data_sha256", "code_version", "retrain"):
        assert key in card, f"{name}: card lacks {key}"
    assert (d / "CARD.md").is_file()
    assert (d / "model.skops").stat().st_size < 15e6


@pytest.mark.parametrize("name", [*MODEL_NAMES, "conductivity_structure"])
def test_shipped_cards_validate_against_the_model_card_schema(name):
    from screening.surrogates.cards import ModelCard

    card = ModelCard.model_validate_json((get_settings().models_dir / name / "card.json").read_text())
    assert len(card.git_commit) >= 7 and card.git_commit != "unknown"
    assert {"scikit-learn", "pymatgen", "numpy"} <= set(card.package_versions) and card.metrics_test


def test_a_trainer_refuses_to_write_a_card_that_does_not_validate(tmp_path):
    from pydantic import ValidationError

    from screening.training.common import finish_model

    reg = ConformalRegressor(LinearRegression(), calibration=0.2)
    with pytest.raises(ValidationError, match="data_sha256"):  # no data checksums: not a card
        finish_model("toy", "y", "basic", reg, {"metrics_test": {"mae": 1.0}}, 0.0, True, tmp_path)
    assert not (tmp_path / "toy").exists()


def test_adaptive_intervals_follow_the_noise_within_one_stratum():
    """Noise that grows with a feature, one stratum: Mondrian intervals have one width, normalised ones follow the noise."""
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, size=(3000, 2))
    y = X @ [1.0, 2.0] + rng.normal(size=3000) * (0.1 + 2.0 * X[:, 0])
    fit, test = slice(0, 1500), slice(1500, None)
    flat = ConformalRegressor(LinearRegression(), calibration=5).fit(X[fit], y[fit])
    adaptive = ConformalRegressor(LinearRegression(), calibration=5, adaptive=True).fit(X[fit], y[fit])
    _, lo_f, hi_f = flat.predict_interval(X[test])
    _, lo_a, hi_a = adaptive.predict_interval(X[test])
    assert len(np.unique(np.round(hi_f - lo_f, 9))) == 1 and len(np.unique(np.round(hi_a - lo_a, 9))) > 100
    for lo, hi in ((lo_f, hi_f), (lo_a, hi_a)):
        assert 0.75 <= np.mean((y[test] >= lo) & (y[test] <= hi)) <= 0.85
    quiet, noisy = X[test][:, 0] < 0.2, X[test][:, 0] > 0.8
    width = hi_a - lo_a
    assert width[noisy].mean() > 3 * width[quiet].mean()
    # conditional coverage: the flat interval over-covers quiet rows and under-covers noisy ones, the adaptive one less so
    cover = lambda lo, hi, m: np.mean((y[test][m] >= lo[m]) & (y[test][m] <= hi[m]))  # noqa: E731
    assert cover(lo_a, hi_a, noisy) > cover(lo_f, hi_f, noisy) and cover(lo_a, hi_a, quiet) < cover(lo_f, hi_f, quiet)


def test_conductivity_card_meets_targets():
    card = json.loads((get_settings().models_dir / "conductivity" / "card.json").read_text())
    m = card["metrics_test"]
    assert m["mae"] < m["mae_rf_magpie_baseline"] < m["mae_median_baseline"]
    assert m["roc_auc_fast_vs_slow"] >= 0.85
    assert 0.75 <= m["coverage80"] <= 0.85 and m["distinct_interval_widths"] >= 20
    # honest evaluation beside the official split: novel compositions and every family with >= 10 test rows
    assert card["metrics_test_novel"]["rows"] >= 20 and card["metrics_test_novel"]["coverage80"] >= 0.65
    assert card["metrics_test_per_family"] and all(f["coverage80"] >= 0.65 for f in card["metrics_test_per_family"].values())


def test_every_surrogate_uncertainty_is_per_candidate():
    from screening.enumeration import enumerate_candidates

    formulas = [c.formula for c in enumerate_candidates(limit=50, seed=0)]
    out = predict(formulas, stability=False)
    for column in ("log10_sigma_S_cm_std", "formation_energy_eV_atom_std", "log10_G_VRH_GPa_std", "log10_K_VRH_GPa_std"):
        std = out[column].dropna()
        assert len(std) >= 45 and std.round(6).nunique() >= 20, column
    # one applicability-domain column per training set, in [0, 2]
    for column in ("conductivity_train_distance", "formation_energy_train_distance", "moduli_train_distance"):
        d = out[column].dropna()
        assert len(d) >= 45 and d.between(0, 2).all() and d.nunique() >= 10, column


@pytest.mark.parametrize("name", ["formation_energy", "shear_modulus", "bulk_modulus"])
def test_large_data_cards_report_adaptive_coverage(name):
    card = json.loads((get_settings().models_dir / name / "card.json").read_text())
    m = card["metrics_test"]
    assert 0.75 <= m["coverage80"] <= 0.85 and m["distinct_interval_widths"] >= 100
    assert "adaptive" in card["uncertainty"] and "train_distance" in card["applicability_domain"]
    assert card["metrics_test_novel"]["rows"] >= 100 and 0.7 <= card["metrics_test_novel"]["coverage80"] <= 0.9
    assert all(0.7 <= f["coverage80"] <= 0.92 for f in card["metrics_test_per_family"].values())


def test_domain_distance_of_known_and_unseen_systems():
    out = predict(["LiCl", "Li2O", "LiFePO4"], stability=False)
    assert (out["formation_energy_train_distance"] < 0.05).all()  # compositions of Materials Project
    assert out.loc[0, "moduli_train_distance"] < 0.05


def test_predict_every_column_and_uncertainty():
    out = predict(["Li6PS5Cl", "Li7La3Zr2O12", "LiCl"])
    assert list(out.columns) == list(PREDICT_COLUMNS)
    assert out["error"].isna().all(), out["error"].tolist()
    text = ("formula", "family", "prototype", "e_hull_source", "window_source", "e_hull_clipped", "error")
    numeric = [c for c in PREDICT_COLUMNS if c not in text]
    assert np.isfinite(out[numeric].to_numpy(float)).all()
    assert (out["log10_sigma_S_cm_lo80"] < out["log10_sigma_S_cm"]).all()
    assert (out["G_VRH_GPa_lo80"] < out["G_VRH_GPa"]).all() and (out["G_VRH_GPa"] < out["G_VRH_GPa_hi80"]).all()
    assert out["family"].tolist() == ["sulfide", "oxide", "halide"]
    assert out["prototype"].tolist() == ["argyrodite", "garnet", "halide"]
    # LiCl is in the reference data; a fast argyrodite predicted faster than LiCl
    assert out.loc[2, "e_hull_source"] == "reference"
    assert out.loc[0, "log10_sigma_S_cm"] > out.loc[2, "log10_sigma_S_cm"]


def test_predict_bad_items_give_error_rows():
    from pymatgen.core import Lattice, Structure

    s = Structure(Lattice.cubic(4.2), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    items = ["Li3PS4", "Xx2O", "not a formula((", None, 42, s, "LiUuo", "LiAm"]
    out = predict(items, stability=False)
    assert len(out) == len(items)
    assert out.loc[0, "error"] is None and np.isfinite(out.loc[0, "log10_sigma_S_cm"])
    for i in (1, 2, 3, 4, 6):
        assert isinstance(out.loc[i, "error"], str) and out.loc[i, "error"], i
        assert np.isnan(out.loc[i, "log10_sigma_S_cm"])
    assert out.loc[5, "error"] is None and out.loc[5, "formula"] == "Li1 Cl1"
    assert out[["window_low_V", "e_hull_eV_atom"]].isna().all().all()  # stability=False


def test_predict_dataframe_keeps_columns():
    df = pd.DataFrame({"candidate_id": ["x1", "x2"], "formula": ["Li3YCl6", "Li3InCl6"], "note": ["a", "b"]})
    out = predict(df, stability=False)
    assert out["candidate_id"].tolist() == ["x1", "x2"] and out["note"].tolist() == ["a", "b"]
    assert out["formula"].tolist() == ["Li3YCl6", "Li3InCl6"]
    with pytest.raises(KeyError, match="formula"):
        predict(pd.DataFrame({"x": [1]}))


def test_top_level_api():
    import screening

    assert screening.predict is predict
    out = screening.rank(predict(["Li6PS5Cl", "Li3YCl6", "Li2O"]), kappa=1.0)
    assert len(out) == 3 and "score" in out


@pytest.mark.slow
def test_retrain_conductivity_reproduces_card(tmp_path):
    from screening.training.retrain import train_conductivity

    card = json.loads((get_settings().models_dir / "conductivity" / "card.json").read_text())
    chosen = card["model"].split(":", 1)[0]  # the chosen candidate only: the selection itself is not re-run here
    model = train_conductivity(save=True, models_dir=tmp_path, candidates=[chosen])
    for key in ("mae", "spearman", "coverage80", "roc_auc_fast_vs_slow"):
        assert model.card["metrics_test"][key] == pytest.approx(card["metrics_test"][key], abs=1e-6)
    assert load_model("conductivity", tmp_path).card["metrics_test"]["mae"] == pytest.approx(card["metrics_test"]["mae"], abs=1e-6)


def test_predict_outside_the_domain_gives_error_rows_naming_the_element_or_the_imbalance():
    out = predict(["Li2Po", "Xe2Li", "LiFrCl2", "LiCl3"])
    assert out["formula"].tolist() == ["Li2Po", "Xe2Li", "LiFrCl2", "LiCl3"]
    for formula, named in zip(out["formula"], ["Po", "Xe", "Fr", "not charge balanced"]):
        assert named in out.set_index("formula").at[formula, "error"]
    numbers = out.drop(columns=["formula", "family", "prototype", "error"]).apply(pd.to_numeric, errors="coerce")
    assert numbers.isna().all().all()  # no numbers at all


def test_reference_elements_are_the_hulls():
    from screening.descriptors.stability import default_hull, reference_elements

    assert reference_elements() == default_hull().elements


def test_composition_keys_and_weights_count_one_composition_once():
    from pymatgen.core import Composition

    from screening.surrogates.features import element_fractions
    from screening.surrogates.selection import composition_keys, sample_weights

    comps = [Composition(f) for f in ("Li3.4Ge0.4P0.6S4", "Li10.2Ge1.2P1.8S12", "Li7La3Zr2O12")]
    fr = element_fractions(comps)
    keys = composition_keys(fr)
    assert keys[0] == keys[1] != keys[2]
    assert sample_weights(fr, np.zeros(3, bool), per_composition=True).tolist() == [0.5, 0.5, 1.0]
    assert sample_weights(fr, np.array([False, False, True]), per_composition=False, censored_weight=0.5).tolist() == [1, 1, 0.5]
    assert sample_weights(fr, np.zeros(3, bool), per_composition=False) is None


def test_model_spec_is_the_model_configuration_and_candidate_its_deprecated_name():
    from screening.surrogates import selection

    spec = selection.CONDUCTIVITY_CANDIDATES["hgb_compw"]
    make, per_composition, censored_weight = spec  # still unpacks as the old tuple
    assert isinstance(spec, selection.ModelSpec) and per_composition and censored_weight == 1.0
    assert set(selection.DEFAULT_CANDIDATES) == set(selection.CONDUCTIVITY_CANDIDATES)
    with pytest.warns(DeprecationWarning, match="ModelSpec"):
        assert selection.Candidate is selection.ModelSpec
    with pytest.raises(AttributeError):
        selection.AnionFeatures  # noqa: B018  (a rejected round-4 experiment, removed)


def test_conformal_regressor_passes_sample_weights_to_the_estimator():
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 3)), rng.normal(size=200)
    w = np.where(X[:, 0] > 0, 10.0, 0.1)
    tree = lambda: HistGradientBoostingRegressor(max_iter=20, random_state=0)  # noqa: E731
    weighted = ConformalRegressor(tree(), calibration=5).fit(X, y, sample_weight=w)
    plain = ConformalRegressor(tree(), calibration=5).fit(X, y)
    assert not np.allclose(weighted.predict(X), plain.predict(X))
    # estimators without sample_weight (kNN, also inside a Pipeline) are fitted unweighted
    knn = make_pipeline(StandardScaler(), KNeighborsRegressor())
    assert np.allclose(ConformalRegressor(knn, calibration=5).fit(X, y, sample_weight=w).predict(X),
                       ConformalRegressor(knn, calibration=5).fit(X, y).predict(X))  # fmt: skip
