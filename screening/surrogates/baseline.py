"""The random-forest conductivity baseline of the walking skeleton (kept for comparison)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

from screening.config import get_settings
from screening.datasets import dataset_checksums, load_obelix
from screening.descriptors.composition import LiChemistry, composition_table, magpie_labels
from screening.errors import ModelNotFoundError
from screening.surrogates.cards import json_default, new_card
from screening.surrogates.persistence import load_skops


@dataclass
class ConductivityBaseline:
    """Random forest on composition descriptors -> log10 sigma (S/cm), spread of trees as uncertainty.

    The walking-skeleton baseline, kept for comparison (``models/conductivity_baseline``)
    and for :func:`screening.pipeline.predict_conductivity`; :func:`predict` uses the
    ``conductivity`` model instead.
    """

    n_estimators: int = 300
    min_samples_leaf: int = 2
    random_state: int = 0
    model_: RandomForestRegressor | None = None
    card_: dict = field(default_factory=dict)

    name = "conductivity_baseline"
    features = magpie_labels() + LiChemistry().feature_labels()

    def fit(self, formulas, log10_sigma) -> ConductivityBaseline:
        X = self._features(formulas)
        y = np.asarray(log10_sigma, dtype=float)
        ok = np.isfinite(y) & np.isfinite(X).all(axis=1)
        self.model_ = RandomForestRegressor(
            n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf, random_state=self.random_state, n_jobs=1
        ).fit(X[ok], y[ok])
        return self

    @classmethod
    def _features(cls, formulas) -> np.ndarray:
        table = composition_table(list(formulas), check_balance=False)
        return table[cls.features].to_numpy(dtype=float)

    def predict(self, formulas) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation (over trees) of log10 sigma; NaN for unusable formulas."""
        if self.model_ is None:
            raise RuntimeError("ConductivityBaseline is not fitted")
        X = self._features(formulas)
        mean = np.full(len(X), np.nan)
        std = np.full(len(X), np.nan)
        ok = np.isfinite(X).all(axis=1)
        if ok.any():
            per_tree = np.stack([t.predict(X[ok]) for t in self.model_.estimators_])
            mean[ok] = per_tree.mean(axis=0)
            std[ok] = per_tree.std(axis=0)
        return mean, std

    def save(self, directory: str | Path | None = None) -> Path:
        import skops.io as sio

        directory = Path(directory or get_settings().models_dir / self.name)
        directory.mkdir(parents=True, exist_ok=True)
        sio.dump(self.model_, directory / "model.skops")
        (directory / "card.json").write_text(json.dumps(self.card_, indent=2, default=json_default) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path | None = None) -> ConductivityBaseline:
        directory = Path(directory or get_settings().models_dir / cls.name)
        model = cls()
        model.model_ = load_skops(directory / "model.skops")
        card = directory / "card.json"
        model.card_ = json.loads(card.read_text()) if card.is_file() else {}
        return model


def train_conductivity_baseline(save: bool = True, models_dir: str | Path | None = None) -> ConductivityBaseline:
    """Train the baseline on the OBELiX train split, evaluate on the official test split, and save."""
    t0 = time.perf_counter()
    train, test = load_obelix("train"), load_obelix("test")
    model = ConductivityBaseline().fit(train["formula"], train["log10_sigma_S_cm"])
    mean, _ = model.predict(test["formula"])
    y = test["log10_sigma_S_cm"].to_numpy()
    ok = np.isfinite(mean) & np.isfinite(y)
    median = float(np.median(train["log10_sigma_S_cm"].dropna()))
    model.card_ = new_card(**{
        "name": model.name,
        "target": "log10_sigma_S_cm",
        "features": "Magpie statistics + Li chemistry (screening.descriptors.composition)",
        "train": {"dataset": "obelix/train.csv", "rows": int(len(train))},
        "test": {"dataset": "obelix/test.csv", "rows": int(ok.sum())},
        "metrics_test": {
            "mae": float(np.mean(np.abs(mean[ok] - y[ok]))),
            "mae_median_baseline": float(np.mean(np.abs(median - y[ok]))),
            "spearman": float(pd.Series(mean[ok]).corr(pd.Series(y[ok]), method="spearman")),
        },
        "censoring": "values '<X' read as X/10 (screening.datasets.CENSORED_FACTOR)",
        "data_sha256": {k: v for k, v in dataset_checksums().items() if k.startswith("obelix/")},
        "params": {"n_estimators": model.n_estimators, "min_samples_leaf": model.min_samples_leaf, "random_state": model.random_state},
        "train_seconds": round(time.perf_counter() - t0, 2),
    })
    if save:
        model.save(Path(models_dir) / model.name if models_dir else None)
    return model


def load_conductivity_baseline(train_if_missing: bool = False) -> ConductivityBaseline:
    """Load the saved baseline (ModelNotFoundError when missing); ``train_if_missing``: train and save it instead."""
    try:
        return ConductivityBaseline.load()
    except ModelNotFoundError:
        if not train_if_missing:
            raise
        return train_conductivity_baseline(save=True)
