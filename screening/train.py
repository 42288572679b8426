"""Retrain every surrogate model deterministically and rewrite its model card.

``python -m screening.train`` (``make train``) trains, in order, the conductivity model
(OBELiX), the formation-energy model (matbench mp_e_form), the shear and bulk modulus
models (matbench elasticity), the structure-aware conductivity model (OBELiX rows with a
CIF: ``conductivity_structure``) and the walking-skeleton conductivity baseline, evaluates
each on held-out data and writes ``models/<name>/{model.skops,card.json,CARD.md}``.
Everything is seeded (``SEED``); a retrain reproduces the cards' metrics.

``python -m screening.train conductivity`` trains only the named models.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from screening.chemistry import ELEMENTS
from screening.datasets import (
    dataset_checksums,
    load_elasticity,
    load_mp_formation_energies,
    load_mp_ground_states,
    load_obelix,
)
from screening.errors import ModelNotFoundError
from screening.surrogates import (
    ConductivityBaseline,
    ConformalRegressor,
    Surrogate,
    feature_table,
    train_conductivity_baseline,
)
from screening.surrogates.cards import new_card
from screening.surrogates.domain import SubsystemDomain
from screening.surrogates.selection import (
    CONDUCTIVITY_CANDIDATES,
    CV_REPEATS,
    NOVEL_L1,
    STRUCTURE_CANDIDATES,
    chemical_system,
    composition_keys,
    dedup_metrics,
    sample_weights,
    select_conductivity,
    structure_vs_composition_cv,
)
from screening.surrogates.selection import novel_rows as _novel
from screening.surrogates.selection import regression_metrics as _regression_metrics
from screening.surrogates.selection import subset_metrics as _subset_metrics

__all__ = ["SEED", "CONDUCTIVITY_CANDIDATES", "STRUCTURE_CANDIDATES", "train_conductivity", "train_conductivity_structure", "train_formation_energy", "train_moduli", "train_all", "main"]

SEED = 0
COVERAGE = 0.8
FAST_LOG10 = -4.0  # "fast" conductor: sigma > 1e-4 S/cm
SLOW_LOG10 = -8.0  # "slow" conductor: sigma < 1e-8 S/cm


def _retrain_text(name: str) -> str:
    return f"python -m screening.train {name}  (or `make train` for every model); seeded, deterministic"


def _checksums(prefix: str) -> dict[str, str]:
    return {k: v for k, v in dataset_checksums().items() if k.startswith(prefix)}


def _finish_model(
    name: str, target: str, kind: str, reg: object, card: dict, t0: float, save: bool, models_dir: str | Path | None,
    train_fractions: np.ndarray | None = None, train_domain: dict | None = None,
) -> Surrogate:
    """The one way a trainer ends: a validated :class:`~screening.surrogates.cards.ModelCard` (code version,
    git commit, package versions, training date, ``train_seconds`` since ``t0``), the model, saved when ``save``."""
    card = new_card(**{**card, "name": name, "target": target, "train_seconds": round(time.perf_counter() - t0, 2)})
    model = Surrogate(name, target, kind, reg, card, train_fractions, train_domain)
    if save:
        model.save(models_dir)
    return model


# --------------------------------------------------------------------------- conductivity


def train_conductivity(save: bool = True, models_dir: str | Path | None = None, candidates: list[str] | None = None) -> Surrogate:
    """Conductivity model: choose by repeated grouped CV on the OBELiX train split, test on the official test split.

    ``candidates``: names of :data:`~screening.surrogates.selection.CONDUCTIVITY_CANDIDATES` to compare
    (default :data:`~screening.surrogates.selection.DEFAULT_CANDIDATES`).
    """
    t0 = time.perf_counter()
    train, test = load_obelix("train"), load_obelix("test")
    Xtr, err_tr, strata_tr = feature_table(train["formula"].tolist(), "conductivity")
    Xte, err_te, strata_te = feature_table(test["formula"].tolist(), "conductivity")
    ytr, yte = train["log10_sigma_S_cm"].to_numpy(float), test["log10_sigma_S_cm"].to_numpy(float)
    ok_tr = np.isfinite(Xtr.to_numpy(float)).all(axis=1) & np.isfinite(ytr)
    ok_te = np.isfinite(Xte.to_numpy(float)).all(axis=1) & np.isfinite(yte)
    X, y, strata = Xtr.to_numpy(float)[ok_tr], ytr[ok_tr], strata_tr[ok_tr]
    groups = np.array([chemical_system(f) for f in train["formula"][ok_tr]])
    frac_cols = [c for c in Xtr.columns if c.startswith("frac_")]
    fractions, cens_tr = Xtr[ok_tr][frac_cols].to_numpy(float), train["censored"].to_numpy(bool)[ok_tr]
    best, cv_scores = select_conductivity(X, y, groups, fractions, cens_tr, NOVEL_L1, candidates=candidates)
    make, per_comp, cens_w = CONDUCTIVITY_CANDIDATES[best]
    weights = sample_weights(fractions, cens_tr, per_comp, cens_w)
    reg = ConformalRegressor(make(), coverage=COVERAGE, calibration=5, random_state=SEED, adaptive=True)
    reg.fit(X, y, groups=groups, strata=strata, sample_weight=weights)
    Xt = Xte.to_numpy(float)[ok_te]
    mean, lo, hi = reg.predict_interval(Xt, strata_te[ok_te])
    yt = yte[ok_te]
    metrics = _regression_metrics(yt, mean, lo, hi)
    metrics["distinct_interval_widths"] = int(len(np.unique(np.round(hi - lo, 6))))
    subsets = _subset_metrics(yt, mean, lo, hi, strata_te[ok_te], _novel(Xtr[ok_tr], Xte[ok_te]))
    subsets["metrics_test_dedup"] = dedup_metrics(yt, mean, lo, hi, fractions, Xte[ok_te][frac_cols].to_numpy(float))
    cens = test["censored"].to_numpy(bool)[ok_te]
    metrics["mae_uncensored"] = float(np.mean(np.abs(mean - yt)[~cens]))
    fast, slow = yt > FAST_LOG10, yt < SLOW_LOG10
    sel = fast | slow
    metrics["roc_auc_fast_vs_slow"] = float(roc_auc_score(fast[sel], mean[sel]))
    metrics["n_fast"], metrics["n_slow"] = int(fast.sum()), int(slow.sum())
    median = float(np.median(y))
    metrics["mae_median_baseline"] = float(np.mean(np.abs(median - yt)))
    rf = ConductivityBaseline(random_state=SEED).fit(train["formula"], ytr)
    rf_mean, _ = rf.predict(test["formula"][ok_te])
    metrics["mae_rf_magpie_baseline"] = float(np.mean(np.abs(rf_mean - yt)))
    metrics["spearman_rf_magpie_baseline"] = float(spearmanr(rf_mean, yt)[0])
    cal_abs = np.abs(reg.calibration_residuals_)
    inside_oof = cal_abs <= reg.half_widths(strata, len(y), reg.calibration_scales_)
    card = {
        "name": "conductivity",
        "summary": "log10 room-temperature Li-ion conductivity (S/cm) from composition alone, with an 80 % conformal interval.",
        "target": "log10_sigma_S_cm",
        "model": f"{best}: {type(reg.estimator_).__name__} {reg.estimator_.get_params()}",
        "features": f"{X.shape[1]} composition features in: Magpie (132) + element fractions (94) + Li chemistry (10) "
        "+ coarse family one-hot (6) + composition-derived prototype one-hot (16, screening.surrogates.prototype_of); "
        "candidates named *grouped* replace the 94 element fractions by 18 grouped fractions "
        "(screening.surrogates.selection.GroupedFractions: Li, O, S, Se+Te, F, Cl+Br+I, N, H, P+As, Si+Ge+Sn, ...)",
        "sample_weights": "candidates named *compw* weight each train row 1/n, n = train rows of the same fractional "
        "composition (atomic fractions rounded to 4 decimals), so repeated measurements count once in total; "
        "*censored0.5* halves the weight of censored rows; the conformal calibration counts every row once",
        "train": {"dataset": "obelix/train.csv", "rows": int(ok_tr.sum()), "unusable_formulas": int((~ok_tr).sum()),
                  "distinct_fractional_compositions": len(set(composition_keys(fractions)))},
        "test": {"dataset": "obelix/test.csv", "rows": int(ok_te.sum()), "unusable_formulas": int((~ok_te).sum())},
        "split": "official OBELiX train/test split (near-duplicates kept on one side); test never used for selection",
        "selection": f"5-fold GroupKFold (groups = chemical system) CV on train only, repeated with {len(CV_REPEATS)} "
        "shuffles of the groups: the candidate with the lowest out-of-fold MAE over all rows, averaged over the "
        f"repeats; the out-of-fold MAE on the novel-like rows (further than {NOVEL_L1} L1 in atomic fractions from "
        "every row of the other folds) is reported. One unshuffled split, or the sum of both MAEs as the criterion, "
        "chose a model that was worse on test (benchmarks/results/models.md). The default candidates are round 4's "
        "winner (hgb_seeds10_mf0.5: mean of 10 HGBs with max_features=0.5 and seeds 0-9) under a pre-registered rule "
        "(lower mean OOF MAE by > 2 SE of the paired per-repeat differences and in >= 4 of 5 repeats) and the model it "
        "replaced; the other round-4 candidates are in benchmarks/results/models.md",
        "cv_selection": cv_scores,
        "uncertainty": "normalised (locally adaptive) CV+ conformal: a difficulty model (extra trees on the features) "
        "predicts |out-of-fold residual| (grouped 5-fold CV on train, difficulties also out-of-fold); the conformal "
        f"quantile of |residual| / difficulty per coarse family (>= {reg.min_stratum_size} rows, else pooled) times a "
        "candidate's own difficulty is its half-width; std = half-width / 1.2816",
        "conformal_quantiles": {"pooled": reg.quantile_, **reg.stratum_quantiles_},
        "metrics_cv_train": {"mae_oof": float(np.mean(cal_abs)), "coverage80_oof": float(np.mean(inside_oof)),
                             **{f"coverage80_oof_{f}": float(np.mean(inside_oof[strata == f])) for f in sorted(set(strata.tolist()))
                                if (strata == f).sum() >= 10}},
        **subsets,
        "censoring": "29 train / 8 test values are '<X' (below the detection limit); read as X/10 (CENSORED_FACTOR, "
        "i.e. one decade below the limit) and used as targets (weight see sample_weights); test MAE is also given without them",
        "metrics_test": metrics,
        "data_sha256": _checksums("obelix/"),
        "seed": SEED,
        "retrain": _retrain_text("conductivity"),
        "limitations": [
            "composition only: polymorphs and processing (sintering, grain boundaries) are invisible",
            "OBELiX has 478 training rows, dominated by NASICON, garnet, argyrodite and LGPS families",
            "intervals are calibrated on the training families; far-out-of-distribution chemistries get the pooled width",
            f"the chosen candidate is the best of {len(cv_scores)} by CV on train, so its CV MAE is optimistic (selection "
            "bias); the test metrics, computed once after the choice, are the estimate to quote",
        ],
    }
    fractions = Xtr[ok_tr][[c for c in Xtr.columns if c.startswith("frac_")]].to_numpy(np.float32)
    return _finish_model("conductivity", "log10_sigma_S_cm", "conductivity", reg, card, t0, save, models_dir, fractions)


# --------------------------------------------------------------------------- conductivity from structure

_STRUCTURE_ROWS_CACHE: dict[tuple[str, bool], dict[str, float] | None] = {}


def _structure_rows(ids: list[str], structures: list[object], bvse: bool) -> list[dict[str, float] | None]:
    """Structure features of OBELiX entries, computed once per (id, bvse) per process; None when they fail."""
    from screening.surrogates import structure_descriptor_row

    out = []
    for i, s in zip(ids, structures):
        key = (str(i), bvse)
        if key not in _STRUCTURE_ROWS_CACHE:
            try:
                _STRUCTURE_ROWS_CACHE[key] = structure_descriptor_row(s, bvse=bvse) if s is not None else None
            except ValueError:  # ScreeningError (no Li, BVSE failed ...) or pymatgen's ValueError: the row has no structure features
                _STRUCTURE_ROWS_CACHE[key] = None
        out.append(_STRUCTURE_ROWS_CACHE[key])
    return out


def _structure_matrix(df: pd.DataFrame, bvse: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(X, ok, labels)``: composition + structure features of the rows of an OBELiX table."""
    from screening.surrogates import CONDUCTIVITY_FEATURES, structural_feature_labels

    Xc, _, _ = feature_table(df["formula"].tolist(), "conductivity")
    labels = structural_feature_labels(bvse)
    rows = _structure_rows(df["id"].tolist(), df["structure"].tolist(), bvse)
    Xs = np.array([[r[k] for k in labels] if r is not None else [np.nan] * len(labels) for r in rows], float)
    ok = np.isfinite(Xc.to_numpy(float)).all(axis=1) & np.array([r is not None for r in rows])
    return np.hstack([Xc.to_numpy(float), Xs]), ok, CONDUCTIVITY_FEATURES + labels


def train_conductivity_structure(save: bool = True, models_dir: str | Path | None = None) -> Surrogate:
    """Conductivity from composition + crystal structure, on the OBELiX rows that have a CIF.

    Features: the conductivity model's composition features + structural descriptors
    (+ BVSE barriers when they lower the grouped CV MAE). The feature set and estimator are
    chosen by 5-fold GroupKFold (chemical system) CV on train only; the test rows with a
    structure are scored with both this model and the composition model
    (``models/conductivity``) and reported. Whether :func:`screening.surrogates.predict` uses
    it by default for structures is decided on train only (``better_than_composition_in_cv``,
    :func:`~screening.surrogates.selection.structure_vs_composition_cv`), never on the test rows.
    """
    from screening.surrogates import CONDUCTIVITY_FEATURES, load_model

    t0 = time.perf_counter()
    train, test = load_obelix("train", structures=True), load_obelix("test", structures=True)
    has_tr, has_te = train["structure"].notna().to_numpy(), test["structure"].notna().to_numpy()
    train, test = train[has_tr].reset_index(drop=True), test[has_te].reset_index(drop=True)
    ytr, yte = train["log10_sigma_S_cm"].to_numpy(float), test["log10_sigma_S_cm"].to_numpy(float)
    cv = GroupKFold(n_splits=5)
    cv_mae: dict[str, float] = {}
    data = {}
    for bvse in (False, True):
        X, ok, labels = _structure_matrix(train, bvse)
        ok &= np.isfinite(ytr)
        data[bvse] = (X, ok, labels)
    # one common set of training rows (structure descriptors computed) for every candidate
    ok_tr = data[False][1] & data[True][1]
    groups = np.array([chemical_system(f) for f in train["formula"][ok_tr]])
    y = ytr[ok_tr]
    n_comp = len(CONDUCTIVITY_FEATURES)
    for bvse in (False, True):
        X = data[bvse][0][ok_tr]
        for name, make in STRUCTURE_CANDIDATES.items():
            oof = cross_val_predict(make(), X, y, cv=cv, groups=groups)
            cv_mae[f"{'comp+struct+bvse' if bvse else 'comp+struct'}/{name}"] = float(np.mean(np.abs(oof - y)))
    for name, make in STRUCTURE_CANDIDATES.items():  # reference: composition features alone, same rows
        oof = cross_val_predict(make(), data[False][0][ok_tr][:, :n_comp], y, cv=cv, groups=groups)
        cv_mae[f"comp_only(reference)/{name}"] = float(np.mean(np.abs(oof - y)))
    best = min((k for k in cv_mae if not k.startswith("comp_only")), key=cv_mae.get)
    use_bvse = best.startswith("comp+struct+bvse")
    est_name = best.split("/", 1)[1]
    X, _, labels = data[use_bvse]
    X = X[ok_tr]
    _, _, strata_tr = feature_table(train["formula"][ok_tr].tolist(), "conductivity")
    reg = ConformalRegressor(STRUCTURE_CANDIDATES[est_name](), coverage=COVERAGE, calibration=5, random_state=SEED)
    reg.fit(X, y, groups=groups, strata=strata_tr)
    # test: rows with a structure whose descriptors compute (the others fall back to composition in predict)
    Xte, ok_te, _ = _structure_matrix(test, use_bvse)
    ok_te &= np.isfinite(yte)
    _, _, strata_te = feature_table(test["formula"][ok_te].tolist(), "conductivity")
    yt = yte[ok_te]
    mean, lo, hi = reg.predict_interval(Xte[ok_te], strata_te)
    metrics = _regression_metrics(yt, mean, lo, hi)
    metrics["mae_median_baseline"] = float(np.mean(np.abs(np.median(y) - yt)))
    try:  # the composition model as shipped (models_dir, else the default models directory)
        comp_model = load_model("conductivity", models_dir)
    except ModelNotFoundError:
        try:
            comp_model = load_model("conductivity")
        except ModelNotFoundError:
            comp_model = train_conductivity(save=False)
    cm, clo, chi = comp_model.regressor.predict_interval(Xte[ok_te][:, :n_comp], strata_te)
    comp_metrics = _regression_metrics(yt, cm, clo, chi)
    metrics["mae_composition_model"] = comp_metrics["mae"]
    metrics["spearman_composition_model"] = comp_metrics["spearman"]
    metrics["coverage80_composition_model"] = comp_metrics["coverage80"]
    # diagnostic (not used for any choice): the best composition-only candidate of the CV above, fitted on the
    # same train rows as this model, so that "fewer rows" and "structure features" can be told apart
    comp_best = min((k for k in cv_mae if k.startswith("comp_only")), key=cv_mae.get).split("/", 1)[1]
    same_rows = STRUCTURE_CANDIDATES[comp_best]().fit(X[:, :n_comp], y).predict(Xte[ok_te][:, :n_comp])
    metrics["mae_composition_features_same_train_rows"] = float(np.mean(np.abs(same_rows - yt)))
    metrics["spearman_composition_features_same_train_rows"] = float(spearmanr(same_rows, yt)[0])
    better = bool(metrics["mae"] < comp_metrics["mae"])  # reported only: the choice below is made on train
    cv_choice = structure_vs_composition_cv(train, ok_tr, X, y, groups, est_name)
    cal_abs = np.abs(reg.calibration_residuals_)
    n_struct = X.shape[1] - n_comp
    card = {
        "name": "conductivity_structure",
        "summary": "log10 room-temperature Li-ion conductivity (S/cm) from composition + crystal structure, with an 80 % "
        "conformal interval. Used by predict() for structures only when better_than_composition_in_cv is true "
        "(repeated grouped CV on train, against the composition model trained on every train row).",
        "target": "log10_sigma_S_cm",
        "model": f"{est_name}: {type(reg.estimator_).__name__} {reg.estimator_.get_params()}",
        "features": f"{X.shape[1]}: the conductivity model's {n_comp} composition features + {n_struct} structure features "
        f"(screening.descriptors.structural{' + BVSE barriers, screening.descriptors.bondvalence' if use_bvse else ''}; "
        "anion framework one-hot)",
        "feature_labels": labels,
        "uses_bvse": use_bvse,
        "train": {"dataset": "obelix/train.csv + bundled CIFs", "rows": int(ok_tr.sum()), "rows_with_structure": int(has_tr.sum()),
                  "structure_descriptors_failed": int(has_tr.sum() - ok_tr.sum())},
        "test": {"dataset": "obelix/test.csv + bundled CIFs", "rows": int(ok_te.sum()), "rows_with_structure": int(has_te.sum()),
                 "structure_descriptors_failed": int(has_te.sum() - ok_te.sum())},
        "split": "official OBELiX train/test split restricted to rows with a CIF; test never used for selection",
        "selection": "feature set (with/without BVSE) and estimator with the lowest 5-fold GroupKFold (groups = chemical "
        "system) CV MAE on the train rows with a structure",
        "cv_selection": cv_mae,
        "uncertainty": "Mondrian CV+ conformal (ConformalRegressor): |out-of-fold residual| quantiles (grouped 5-fold CV "
        f"on train) per coarse family (>= {reg.min_stratum_size} rows, else pooled); std = half-width / 1.2816",
        "conformal_quantiles": {"pooled": reg.quantile_, **reg.stratum_quantiles_},
        "metrics_cv_train": {"mae_oof": float(np.mean(cal_abs)), "coverage80_oof": float(np.mean(cal_abs <= reg.half_widths(strata_tr, len(y))))},
        "metrics_test": metrics,
        "metrics_test_composition_model_same_rows": comp_metrics,
        "better_than_composition_on_test": better,
        "cv_structure_vs_composition": cv_choice,
        "better_than_composition_in_cv": cv_choice["structure_better"],
        "data_sha256": _checksums("obelix/"),
        "seed": SEED,
        "retrain": _retrain_text("conductivity_structure"),
        "limitations": [
            f"trained on only {int(ok_tr.sum())} OBELiX rows with a CIF (the composition model has 478)",
            "CIFs are the reported (often disordered) structures; processing and microstructure stay invisible",
            "test subset is small: the comparison with the composition model has a large sampling error",
        ],
    }
    return _finish_model("conductivity_structure", "log10_sigma_S_cm", "conductivity_structure", reg, card, t0, save, models_dir)


# --------------------------------------------------------------------------- formation energy


_DIFFICULTY_TEXT = "HistGradientBoosting, 200 iterations of 15 leaves of at least 50 rows"
_DOMAIN_TEXT = ("train_distance: L1 distance in atomic fractions to the nearest training composition made of the "
                "candidate's elements only (its chemical system or a subsystem; 2 when there is none), "
                "screening.surrogates.domain.SubsystemDomain")  # fmt: skip
_SUBSYSTEM_NOVEL = (f"test rows further than {NOVEL_L1} atomic-fraction L1 from every train row of their chemical system "
                    "and its subsystems (the applicability-domain column; 2 when there is none)")  # fmt: skip


def _large_data_difficulty() -> HistGradientBoostingRegressor:
    """The |residual| model of the adaptive intervals of the models trained on 10^4-10^5 rows (see _DIFFICULTY_TEXT)."""
    return HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=50,
                                         early_stopping=False, random_state=SEED)  # fmt: skip


def _fractions(X: pd.DataFrame) -> np.ndarray:
    """The element-fraction columns of a feature table, in :data:`~screening.chemistry.ELEMENTS` order."""
    return X[[f"frac_{s}" for s in ELEMENTS]].to_numpy(float)


def train_formation_energy(save: bool = True, models_dir: str | Path | None = None, max_rows: int | None = None) -> Surrogate:
    """Formation energy from composition (mp_e_form), evaluated on held-out MP ground states.

    Every mp_e_form composition whose reduced formula is in the evaluation set (the test
    split of :func:`~screening.datasets.load_mp_ground_states`) is removed from training.
    The predicted decomposition energy of an evaluation compound is its predicted
    formation energy minus the DFT energy of the hull of the competing phases
    (``Ef_true - Ed_true``): what :func:`screening.surrogates.predict` does for a new
    candidate against the reference hull.
    """
    t0 = time.perf_counter()
    ef = load_mp_formation_energies()
    gs = load_mp_ground_states()
    ev = gs[gs["split"] == "test"].reset_index(drop=True)
    reduced = lambda fs: np.array([Composition(f).reduced_formula for f in fs])  # noqa: E731
    held = set(reduced(ev["formula"]))
    ef_red = reduced(ef["formula"])
    keep = ~np.isin(ef_red, list(held))
    train = ef[keep].reset_index(drop=True)
    if max_rows:
        train = train.sample(n=min(max_rows, len(train)), random_state=SEED).reset_index(drop=True)
    X, errs, strata = feature_table(train["formula"].tolist(), "basic")
    Xv, y = X.to_numpy(float), train["formation_energy_eV_atom"].to_numpy(float)
    ok = np.isfinite(Xv).all(axis=1) & np.isfinite(y)
    est = HistGradientBoostingRegressor(
        max_iter=400, learning_rate=0.1, max_leaf_nodes=63, min_samples_leaf=20, early_stopping=False, random_state=SEED
    )
    reg = ConformalRegressor(est, coverage=COVERAGE, calibration=0.1, random_state=SEED, adaptive=True,
                             difficulty=_large_data_difficulty()).fit(Xv[ok], y[ok], strata=strata[ok])  # fmt: skip
    domain = SubsystemDomain.from_fractions(_fractions(X)[ok])
    Xe, err_e, strata_e = feature_table(ev["formula"].tolist(), "basic")
    ok_e = np.isfinite(Xe.to_numpy(float)).all(axis=1)
    mean, lo, hi = reg.predict_interval(Xe.to_numpy(float)[ok_e], strata_e[ok_e])
    ef_true = ev["formation_energy_eV_atom"].to_numpy(float)[ok_e]
    ed_true = ev["decomposition_energy_eV_atom"].to_numpy(float)[ok_e]
    ed_pred = mean - (ef_true - ed_true)
    metrics = _regression_metrics(ef_true, mean, lo, hi)
    metrics["mae_mean_baseline"] = float(np.mean(np.abs(np.mean(y[ok]) - ef_true)))
    metrics["distinct_interval_widths"] = int(len(np.unique(np.round(hi - lo, 6))))
    subsets = _subset_metrics(ef_true, mean, lo, hi, strata_e[ok_e], domain.distance(_fractions(Xe)[ok_e]) > NOVEL_L1,
                              novel_definition=_SUBSYSTEM_NOVEL)  # fmt: skip
    ed = {"mae": float(np.mean(np.abs(ed_pred - ed_true))), "mae_zero_baseline": float(np.mean(np.abs(ed_true))),
          "spearman": float(spearmanr(ed_pred, ed_true)[0])}  # fmt: skip
    for thr in (0.0, 0.05):
        t, p = ed_true <= thr, ed_pred <= thr
        tp = float(np.sum(t & p))
        ed[f"stable_at_{thr:g}_fraction_true"] = float(t.mean())
        ed[f"stable_at_{thr:g}_accuracy"] = float(np.mean(t == p))
        ed[f"stable_at_{thr:g}_precision"] = tp / max(1.0, float(p.sum()))
        ed[f"stable_at_{thr:g}_recall"] = tp / max(1.0, float(t.sum()))
        ed[f"stable_at_{thr:g}_f1"] = 2 * tp / max(1.0, float(p.sum() + t.sum()))
        ed[f"stable_at_{thr:g}_roc_auc"] = float(roc_auc_score(t, -ed_pred))
    card = {
        "name": "formation_energy",
        "summary": "Formation energy (eV/atom, elements at 0) of a composition; its energy above the reference hull follows.",
        "target": "formation_energy_eV_atom",
        "model": f"HistGradientBoostingRegressor {est.get_params()}",
        "features": "Magpie (132) + element fractions (94), vectorised",
        "train": {"dataset": "matbench/mp_e_form.csv", "rows": int(ok.sum()), "removed_overlap_with_eval": int((~keep).sum())},
        "test": {"dataset": "mp_ground_states/E{f,d}_test.csv (Bartel et al. 2020 test split)", "rows": int(ok_e.sum())},
        "split": "train: mp_e_form minus every reduced formula of the evaluation set; 10 % of it held out for calibration",
        "uncertainty": "normalised (locally adaptive) split conformal on the 10 % calibration part of train: a "
        f"difficulty model ({_DIFFICULTY_TEXT}) predicts |residual| (out-of-fold on the calibration rows); the "
        "quantile of |residual| / difficulty per coarse family times a candidate's own difficulty is its half-width; "
        "std = half-width / 1.2816",
        "applicability_domain": _DOMAIN_TEXT,
        "conformal_quantiles": {"pooled": reg.quantile_, **reg.stratum_quantiles_},
        "metrics_test": metrics,
        **subsets,
        "metrics_test_formation_energy": metrics,
        "metrics_test_decomposition_energy": ed,
        "evaluation_note": "Ed_pred = Ef_pred - (Ef_true - Ed_true): the prediction against the DFT hull of the competing "
        "phases. Composition-only models have small Ef errors but weak stability classification (Bartel et al., "
        "npj Comput. Mater. 6, 97 (2020)): Ed errors do not benefit from error cancellation here.",
        "data_sha256": {**_checksums("matbench/mp_e_form"), **_checksums("mp_ground_states/")},
        "seed": SEED,
        "retrain": _retrain_text("formation_energy"),
        "limitations": [
            "polymorphs: one formation energy per composition (the model averages polymorphs of mp_e_form)",
            "stable/unstable classification near the hull is unreliable (see metrics_test_decomposition_energy)",
        ],
    }
    return _finish_model("formation_energy", "formation_energy_eV_atom", "basic", reg, card, t0, save, models_dir,
                         train_domain=domain.to_arrays())  # fmt: skip


# --------------------------------------------------------------------------- moduli


def train_moduli(save: bool = True, models_dir: str | Path | None = None) -> dict[str, Surrogate]:
    """log10 G_VRH and log10 K_VRH from composition (matbench elasticity), seeded 80/20 held-out split."""
    t0 = time.perf_counter()
    df = load_elasticity()
    rng = np.random.default_rng(SEED)
    is_test = np.zeros(len(df), bool)
    is_test[rng.permutation(len(df))[: int(round(0.2 * len(df)))]] = True
    X, errs, strata = feature_table(df["formula"].tolist(), "basic")
    Xv = X.to_numpy(float)
    ok = np.isfinite(Xv).all(axis=1)
    fractions = _fractions(X)
    out = {}
    for name, col in (("shear_modulus", "log10_G_VRH_GPa"), ("bulk_modulus", "log10_K_VRH_GPa")):
        t1 = time.perf_counter()
        y = df[col].to_numpy(float)
        tr, te = ok & ~is_test & np.isfinite(y), ok & is_test & np.isfinite(y)
        est = HistGradientBoostingRegressor(
            max_iter=300, learning_rate=0.05, max_leaf_nodes=31, min_samples_leaf=10, early_stopping=False, random_state=SEED
        )
        reg = ConformalRegressor(est, coverage=COVERAGE, calibration=5, random_state=SEED, adaptive=True,
                                 difficulty=_large_data_difficulty()).fit(Xv[tr], y[tr], strata=strata[tr])  # fmt: skip
        domain = SubsystemDomain.from_fractions(fractions[tr])
        mean, lo, hi = reg.predict_interval(Xv[te], strata[te])
        metrics = _regression_metrics(y[te], mean, lo, hi)
        metrics["mae_mean_baseline"] = float(np.mean(np.abs(np.mean(y[tr]) - y[te])))
        metrics["mae_GPa"] = float(np.mean(np.abs(10**mean - 10 ** y[te])))
        metrics["distinct_interval_widths"] = int(len(np.unique(np.round(hi - lo, 6))))
        subsets = _subset_metrics(y[te], mean, lo, hi, strata[te], domain.distance(fractions[te]) > NOVEL_L1,
                                  novel_definition=_SUBSYSTEM_NOVEL)  # fmt: skip
        card = {
            "name": name,
            "summary": f"{col} (Voigt-Reuss-Hill, DFT) from composition; feeds K_IC (Niu), Pugh and Monroe-Newman ratios.",
            "target": col,
            "model": f"HistGradientBoostingRegressor {est.get_params()}",
            "features": "Magpie (132) + element fractions (94), vectorised",
            "train": {"dataset": "matbench/log10_{G,K}_VRH.csv", "rows": int(tr.sum())},
            "test": {"dataset": "matbench/log10_{G,K}_VRH.csv", "rows": int(te.sum())},
            "split": f"random 80/20 split of the rows, numpy default_rng({SEED}).permutation",
            "uncertainty": "normalised (locally adaptive) CV+ conformal (5-fold shuffled KFold on train): a difficulty "
            f"model ({_DIFFICULTY_TEXT}) predicts the |out-of-fold residual| (difficulties also out-of-fold); the "
            "quantile of |residual| / difficulty per coarse family times a candidate's own difficulty is its "
            "half-width; std = half-width / 1.2816",
            "applicability_domain": _DOMAIN_TEXT,
            "conformal_quantiles": {"pooled": reg.quantile_, **reg.stratum_quantiles_},
            "metrics_test": metrics,
            **subsets,
            "volume_per_atom": "for K_IC (Niu) predict() uses the Magpie mean elemental ground-state volume per atom "
            "(MagpieData mean GSvolume_pa), a composition-only estimate of the crystal's volume per atom",
            "data_sha256": _checksums("matbench/log10_"),
            "seed": SEED,
            "retrain": _retrain_text(name),
            "limitations": [
                "matbench elasticity is mostly metals and intermetallics; few Li ionic conductors",
                "one value per composition: polymorphs differ",
            ],
        }
        # the shared feature pass counts towards the first model
        out[name] = _finish_model(name, col, "basic", reg, card, t0 if not out else t1, save, models_dir,
                                  train_domain=domain.to_arrays())  # fmt: skip
    return out


# --------------------------------------------------------------------------- all


def single_threaded(fn):
    """Run ``fn`` with OpenMP/BLAS limited to one thread.

    HistGradientBoosting's OpenMP threads spin-wait: on a shared, oversubscribed machine a
    2-thread fit was ~50x slower than a 1-thread fit. One thread also makes the floating-
    point summation order, hence the trained model, independent of the machine.
    """
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1):
            return fn(*args, **kwargs)

    return wrapper


def train_all(names: list[str] | None = None, models_dir: str | Path | None = None, save: bool = True) -> dict[str, Surrogate]:
    """Train the named models (default all); save them and their cards when ``save``; return them."""
    names = names or ["conductivity", "formation_energy", "moduli", "conductivity_structure", "conductivity_baseline"]
    done: dict[str, object] = {}
    for name in names:
        t = time.perf_counter()
        if name == "conductivity":
            done[name] = train_conductivity(save=save, models_dir=models_dir)
        elif name == "formation_energy":
            done[name] = train_formation_energy(save=save, models_dir=models_dir)
        elif name in ("moduli", "shear_modulus", "bulk_modulus"):
            done.update(train_moduli(save=save, models_dir=models_dir))
        elif name == "conductivity_structure":
            done[name] = train_conductivity_structure(save=save, models_dir=models_dir)
        elif name == "conductivity_baseline":
            done[name] = train_conductivity_baseline(save=save, models_dir=models_dir)
        else:
            raise ValueError(f"unknown model {name!r}: expected conductivity, formation_energy, moduli, conductivity_structure, conductivity_baseline")
        print(f"trained {name} in {time.perf_counter() - t:.1f} s", flush=True)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m screening.train", description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="conductivity, formation_energy, moduli, conductivity_structure, conductivity_baseline (default: all)")
    args = parser.parse_args(argv)
    train_all(args.models or None)
    return 0


train_conductivity = single_threaded(train_conductivity)
train_formation_energy = single_threaded(train_formation_energy)
train_moduli = single_threaded(train_moduli)
train_conductivity_structure = single_threaded(train_conductivity_structure)

if __name__ == "__main__":
    sys.exit(main())
