"""Conformal prediction intervals (:class:`ConformalRegressor`)."""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingRegressor
from sklearn.model_selection import GroupKFold, KFold
from sklearn.pipeline import Pipeline

#: z value of a central 80 % Gaussian interval (to turn an interval into a std)
Z80 = 1.2815515655446004


def fit_weighted(est, X, y, sample_weight=None):
    """``est.fit(X, y)`` with ``sample_weight`` when given: routed to the last step of a Pipeline,
    dropped for an estimator whose ``fit`` does not take it (e.g. kNN). Returns ``est``."""
    if sample_weight is None:
        return est.fit(X, y)
    if isinstance(est, Pipeline):
        last = est.steps[-1][1]
        if "sample_weight" not in inspect.signature(last.fit).parameters:
            return est.fit(X, y)
        return est.fit(X, y, **{f"{est.steps[-1][0]}__sample_weight": sample_weight})
    if "sample_weight" not in inspect.signature(est.fit).parameters:
        return est.fit(X, y)
    return est.fit(X, y, sample_weight=sample_weight)


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
    adaptive
        False: one interval width per stratum (Mondrian split conformal). True: normalised
        (locally weighted) conformal (Papadopoulos et al. 2008; Lei et al. 2018): a
        difficulty model predicts ``|residual|`` from the features, the conformal quantile is
        taken of ``|residual| / difficulty`` per stratum, and a row's half-width is that
        quantile times its own difficulty, so rows the model knows less about get wider
        intervals. The calibration difficulties are out-of-fold (same folds as the
        residuals), so the coverage guarantee of the calibration step is kept.
    difficulty
        The regressor of ``|residual|`` when ``adaptive`` (cloned; default an extra-trees
        forest of 200 trees with leaves of at least 10 rows, suited to hundreds of rows; on
        10^4-10^5 rows a boosted model is as good and its file a few MB instead of hundreds).

    Attributes
    ----------
    estimator_ : the fitted regressor
    quantile_ : float, pooled conformal quantile of |residual|
    stratum_quantiles_ : dict[str, float], per-stratum quantiles
    calibration_residuals_ : ndarray, the signed calibration residuals (y - prediction)
    calibration_predictions_ : ndarray, the calibration (out-of-fold) predictions
    calibration_index_ : ndarray, row indices of the calibration residuals
    calibration_scales_ : ndarray, the difficulty of each calibration row (1 when not adaptive)
    difficulty_ : the fitted difficulty model (None when not adaptive)
    scale_floor_ : float, smallest difficulty used (a quarter of the median |residual|)
    """

    def __init__(
        self, estimator=None, coverage: float = 0.8, calibration: int | float = 5, min_stratum_size: int = 30,
        random_state: int = 0, adaptive: bool = False, difficulty=None,
    ):  # fmt: skip
        self.estimator = estimator
        self.coverage = coverage
        self.calibration = calibration
        self.min_stratum_size = min_stratum_size
        self.random_state = random_state
        self.adaptive = adaptive
        self.difficulty = difficulty

    def _difficulty_model(self):
        if getattr(self, "difficulty", None) is not None:
            return clone(self.difficulty)
        # a smooth forest: on the ~500 OBELiX rows it gave calibrated coverage per family with
        # narrower intervals than a boosted residual model (see the conductivity card)
        return ExtraTreesRegressor(n_estimators=200, min_samples_leaf=10, max_features=0.3, random_state=self.random_state, n_jobs=1)

    def _fit_difficulty(self, X: np.ndarray, abs_res: np.ndarray, groups) -> np.ndarray:
        """Fit the difficulty model on all calibration rows; return their out-of-fold difficulties."""
        self.scale_floor_ = float(max(0.25 * np.median(abs_res), 1e-6))
        k = int(self.calibration) if not isinstance(self.calibration, float) else 5
        if groups is not None:
            splits = GroupKFold(n_splits=k).split(X, abs_res, groups)
        else:
            splits = KFold(n_splits=k, shuffle=True, random_state=self.random_state).split(X)
        oof = np.full(len(abs_res), np.nan)
        for tr, te in splits:
            oof[te] = self._difficulty_model().fit(X[tr], abs_res[tr]).predict(X[te])
        self.difficulty_ = self._difficulty_model().fit(X, abs_res)
        return np.maximum(oof, self.scale_floor_)

    def scales(self, X) -> np.ndarray:
        """The difficulty of each row (ones when not adaptive)."""
        X = np.asarray(X, float)
        if not getattr(self, "adaptive", False) or getattr(self, "difficulty_", None) is None:
            return np.ones(len(X))
        return np.maximum(self.difficulty_.predict(X), self.scale_floor_)

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

    def fit(self, X, y, groups=None, strata=None, sample_weight=None) -> ConformalRegressor:
        """Fit the estimator and calibrate the intervals (see the class docstring).

        ``sample_weight`` (optional) weights the rows when fitting the estimator (not the
        conformal quantiles: every calibration residual counts once)."""
        X = np.asarray(X, float)
        y = np.asarray(y, float)
        w = None if sample_weight is None else np.asarray(sample_weight, float)
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
            self.estimator_ = fit_weighted(self._base(), X[fit_idx], y[fit_idx], None if w is None else w[fit_idx])
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
                pred[te] = fit_weighted(self._base(), X[tr], y[tr], None if w is None else w[tr]).predict(X[te])
            self.estimator_ = fit_weighted(self._base(), X, y, w)
        self.calibration_index_ = cal
        self.calibration_predictions_ = pred
        self.calibration_residuals_ = y[cal] - pred
        abs_res = np.abs(self.calibration_residuals_)
        self.difficulty_ = None
        if self.adaptive:
            cal_groups = None if groups is None else np.asarray(groups)[cal]
            self.calibration_scales_ = self._fit_difficulty(X[cal], abs_res, cal_groups)
        else:
            self.calibration_scales_ = np.ones(len(abs_res))
        scores = abs_res / self.calibration_scales_
        self.quantile_ = self._conformal_quantile(scores, self.coverage)
        cal_strata = strata[cal]
        self.stratum_quantiles_ = {}
        for s in sorted(set(cal_strata.tolist())):
            r = scores[cal_strata == s]
            if len(r) >= self.min_stratum_size:
                self.stratum_quantiles_[str(s)] = self._conformal_quantile(r, self.coverage)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Point predictions."""
        return self.estimator_.predict(np.asarray(X, float))

    def half_widths(self, strata: Iterable[str] | None, n: int, scales: np.ndarray | None = None) -> np.ndarray:
        """Interval half-width of each row: its stratum's quantile (pooled for unknown strata)
        times its difficulty ``scales`` (ones when None or not adaptive)."""
        if strata is None:
            q = np.full(n, self.quantile_)
        else:
            q = np.array([self.stratum_quantiles_.get(str(s), self.quantile_) for s in strata], dtype=float)
        return q if scales is None else q * np.asarray(scales, float)

    def predict_interval(self, X, strata=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(mean, lo, hi)``: point prediction and the ``coverage`` conformal interval."""
        mean = self.predict(X)
        hw = self.half_widths(strata, len(mean), self.scales(X))
        return mean, mean - hw, mean + hw

