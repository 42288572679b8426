"""The random-forest conductivity baseline of the walking skeleton: a comparison in the conductivity card.

:func:`screening.training.conductivity.train_conductivity` fits it on the same train split and
reports its test MAE (``mae_rf_magpie_baseline``). It is not shipped as a model (the saved
``models/conductivity_baseline`` was removed in issue 26); screens use ``models/conductivity``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from screening.descriptors.composition import LiChemistry, composition_table, magpie_labels


@dataclass
class ConductivityBaseline:
    """Random forest on composition descriptors -> log10 sigma (S/cm), spread of trees as uncertainty.

    Fitted fresh where it is compared (the conductivity card); :func:`screening.surrogates.predict`
    uses the ``conductivity`` model.
    """

    n_estimators: int = 300
    min_samples_leaf: int = 2
    random_state: int = 0
    model_: RandomForestRegressor | None = None

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
