"""Conformal prediction intervals (:class:`ConformalRegressor`)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import GroupKFold, KFold

#: z value of a central 80 % Gaussian interval (to turn an interval into a std)
Z80 = 1.2815515655446004


class ConformalRegressor(RegressorMixin, BaseEstimator):
    """A regressor with Mondrian split-conformal prediction intervals.

    Parameters
    ----------
    estimator
        Any scikit-learn regressor (cloned; default a HistGradientBoostingRegressor).
    coverage
        Nominal coverage of the interval (0.8: an 80 % interval).
    calibration
        An int ``k``: calibration residuals are out-of-fold predictions of a (grouped,
        when ``groups`` are given) k-fold cross-validation on the training data, and the
        final estimator is refitted on all of it (CV+-style). A float in (0, 1): that
        fraction of the training data, drawn with ``random_state``, is held out for
        calibration and the estimator is fitted on the rest (split conformal).
    min_stratum_size
        A stratum (coarse family) with fewer calibration residuals uses the pooled quantile.
    random_state
        Seed of the calibration split / fold shuffling.

    Attributes
    ----------
    estimator_ : the fitted regressor
    quantile_ : float, pooled conformal quantile of |residual|
    stratum_quantiles_ : dict[str, float], per-stratum quantiles
    calibration_residuals_ : ndarray, the signed calibration residuals (y - prediction)
    calibration_predictions_ : ndarray, the calibration (out-of-fold) predictions
    calibration_index_ : ndarray, row indices of the calibration residuals
    """

    def __init__(self, estimator=None, coverage: float = 0.8, calibration: int | float = 5, min_stratum_size: int = 30, random_state: int = 0):
        self.estimator = estimator
        self.coverage = coverage
        self.calibration = calibration
        self.min_stratum_size = min_stratum_size
        self.random_state = random_state

    def _base(self):
        est = self.estimator if self.estimator is not None else HistGradientBoostingRegressor(random_state=self.random_state)
        return clone(est)

    @staticmethod
    def _conformal_quantile(abs_res: np.ndarray, coverage: float) -> float:
        n = len(abs_res)
        if n == 0:
            return float("nan")
        level = min(1.0, math.ceil((n + 1) * coverage) / n)
        return float(np.quantile(abs_res, level, method="higher"))

    def fit(self, X, y, groups=None, strata=None) -> ConformalRegressor:
        """Fit the estimator and calibrate the intervals (see the class docstring)."""
        X = np.asarray(X, float)
        y = np.asarray(y, float)
        if not 0 < self.coverage < 1:
            raise ValueError(f"coverage={self.coverage!r}: expected a number in (0, 1)")
        strata = np.asarray(strata if strata is not None else np.full(len(y), "all"), dtype=object)
        if isinstance(self.calibration, float):
            if not 0 < self.calibration < 1:
                raise ValueError(f"calibration={self.calibration!r}: a float must be a fraction in (0, 1)")
            rng = np.random.default_rng(self.random_state)
            perm = rng.permutation(len(y))
            n_cal = int(round(self.calibration * len(y)))
            cal, fit_idx = np.sort(perm[:n_cal]), np.sort(perm[n_cal:])
            self.estimator_ = self._base().fit(X[fit_idx], y[fit_idx])
            pred = self.estimator_.predict(X[cal])
        else:
            k = int(self.calibration)
            if groups is not None:
                splitter = GroupKFold(n_splits=k)
                splits = splitter.split(X, y, groups)
            else:
                splits = KFold(n_splits=k, shuffle=True, random_state=self.random_state).split(X)
            cal = np.arange(len(y))
            pred = np.full(len(y), np.nan)
            for tr, te in splits:
                pred[te] = self._base().fit(X[tr], y[tr]).predict(X[te])
            self.estimator_ = self._base().fit(X, y)
        self.calibration_index_ = cal
        self.calibration_predictions_ = pred
        self.calibration_residuals_ = y[cal] - pred
        abs_res = np.abs(self.calibration_residuals_)
        self.quantile_ = self._conformal_quantile(abs_res, self.coverage)
        cal_strata = strata[cal]
        self.stratum_quantiles_ = {}
        for s in sorted(set(cal_strata.tolist())):
            r = abs_res[cal_strata == s]
            if len(r) >= self.min_stratum_size:
                self.stratum_quantiles_[str(s)] = self._conformal_quantile(r, self.coverage)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Point predictions."""
        return self.estimator_.predict(np.asarray(X, float))

    def half_widths(self, strata: Iterable[str] | None, n: int) -> np.ndarray:
        """Interval half-width of each row from its stratum (pooled quantile for unknown strata)."""
        if strata is None:
            return np.full(n, self.quantile_)
        return np.array([self.stratum_quantiles_.get(str(s), self.quantile_) for s in strata], dtype=float)

    def predict_interval(self, X, strata=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(mean, lo, hi)``: point prediction and the ``coverage`` conformal interval."""
        mean = self.predict(X)
        hw = self.half_widths(strata, len(mean))
        return mean, mean - hw, mean + hw

