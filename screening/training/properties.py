"""The property models learnt from Materials Project data: formation energy and the elastic moduli.

Trained on 10^4-10^5 compositions (matbench ``mp_e_form`` and elasticity), with locally
adaptive conformal intervals and an applicability-domain index of the training compositions
(:class:`~screening.surrogates.domain.SubsystemDomain`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import roc_auc_score

from screening.chemistry import ELEMENTS
from screening.datasets import (
    load_elasticity,
    load_mp_formation_energies,
    load_mp_ground_states,
)
from screening.surrogates import (
    ConformalRegressor,
    Surrogate,
    feature_table,
)
from screening.surrogates.domain import SubsystemDomain
from screening.surrogates.selection import (
    NOVEL_L1,
)
from screening.surrogates.selection import regression_metrics as _regression_metrics
from screening.surrogates.selection import subset_metrics as _subset_metrics
from screening.training.common import COVERAGE, SEED, checksums, finish_model, retrain_text

__all__ = ["train_formation_energy", "train_moduli"]

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
        "data_sha256": {**checksums("matbench/mp_e_form"), **checksums("mp_ground_states/")},
        "seed": SEED,
        "retrain": retrain_text("formation_energy"),
        "limitations": [
            "polymorphs: one formation energy per composition (the model averages polymorphs of mp_e_form)",
            "stable/unstable classification near the hull is unreliable (see metrics_test_decomposition_energy)",
        ],
    }
    return finish_model("formation_energy", "formation_energy_eV_atom", "basic", reg, card, t0, save, models_dir,
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
    out: dict[str, Surrogate] = {}
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
            "data_sha256": checksums("matbench/log10_"),
            "seed": SEED,
            "retrain": retrain_text(name),
            "limitations": [
                "matbench elasticity is mostly metals and intermetallics; few Li ionic conductors",
                "one value per composition: polymorphs differ",
            ],
        }
        # the shared feature pass counts towards the first model
        out[name] = finish_model(name, col, "basic", reg, card, t0 if not out else t1, save, models_dir,
                                  train_domain=domain.to_arrays())  # fmt: skip
    return out
