"""Structure-aware conductivity models built to extrapolate to unseen families (round 6, issue 23).

The candidates of the round-6 protocol (``benchmarks/results/models.md``, "Round 6"), all applied
to the same input as the shipped structure model: a row of the 258 composition features
followed by the structure features of
:func:`~screening.surrogates.features.structural_feature_labels` (``bvse=True``).

- ``composition``: the shipped composition estimator on the composition features alone;
- ``struct_hgb``: the first structure model (boosted trees on composition + structure);
- ``phys_hgb_mono``: shallow boosted trees on a physics block :data:`PHYSICS_LABELS` only
  (barriers, Li-sublattice geometry, volumes, anion chemistry; nothing that names a family or an
  element), monotone decreasing in the three BVSE barriers;
- ``phys_ridge``: an Arrhenius-like linear form, log10 sigma = a - b Ea + c . P (ridge);
- ``stack_mono`` / ``stack_ridge``: the same two on [composition-model prediction, P], monotone
  increasing in the composition prediction (out-of-fold for the training rows).

:class:`StructureConductivityModel` fits one candidate and calibrates its 80 % interval by
split-conformal CV+ with the calibration folds grouped by OBELiX family, so the widths are those
of predicting a family the model has not seen.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from screening.chemistry import ANION_CHARGES, CHALCOGENS, ELEMENTS, HALOGENS
from screening.surrogates.conformal import ConformalRegressor
from screening.surrogates.features import CONDUCTIVITY_FEATURES, structural_feature_labels
from screening.surrogates.selection import _FRAC, CONDUCTIVITY_CANDIDATES, STRUCTURE_CANDIDATES

__all__ = ["ANION_FEATURES", "AnionFeatures", "BARRIERS", "CANDIDATES", "PHYSICS_LABELS", "REQUIRED_FEATURES", "StructureConductivityModel", "physics_block"]

SEED = 0


#: electronic polarisabilities of anions in crystals (A^3, sodium D line) from Tessman, Kahn & Shockley,
#: "Electronic polarizabilities of ions in crystals", Phys. Rev. 92, 890 (1953): F- 0.64, Cl- 2.96,
#: Br- 4.16, I- 6.43; O2- 0.5-3.2, S2- 4.8-5.9, Se2- 6.0-7.5, Te2- 8.3-10.2 (ions they could not treat
#: additively: the midpoint of their range is used). N3- is not in the table (left out of the mean).
ANION_POLARISABILITY_A3: dict[str, float] = {
    "F": 0.64, "Cl": 2.96, "Br": 4.16, "I": 6.43,
    "O": (0.5 + 3.2) / 2, "S": (4.8 + 5.9) / 2, "Se": (6.0 + 7.5) / 2, "Te": (8.3 + 10.2) / 2,
}  # fmt: skip

#: names of the columns :class:`AnionFeatures` appends
ANION_FEATURES = ("anion_polarisability_mean_A3", "li_per_anion_charge", "anion_share_O", "anion_share_S_Se_Te", "anion_share_halogen")


class AnionFeatures(TransformerMixin, BaseEstimator):
    """Append 5 anion-sublattice columns (:data:`ANION_FEATURES`), computed from the element fractions.

    Anions follow :func:`screening.chemistry.anions_of` (the elements of ``ANION_CHARGES``; S, Se, Te
    with at least 3 O each are oxoanion cations), without its fallback for anion-free formulas:
    those rows get -1 (as undefined descriptors in ``feature_table``). Columns: the anion-amount
    weighted mean of :data:`ANION_POLARISABILITY_A3` (over the anions in that table; -1 when none),
    Li / total anion charge (the share of the anion charge that Li compensates), and the shares of
    the anion amount held by O, by S/Se/Te and by F/Cl/Br/I (N is the rest).
    """

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X, float)
        frac = X[:, _FRAC]
        col = {e: frac[:, ELEMENTS.index(e)] for e in ANION_CHARGES}
        amount = {}
        for e, f in col.items():
            oxo = (e in CHALCOGENS) & (col["O"] >= 3 * f)
            amount[e] = np.where(oxo, 0.0, f)
        total = sum(amount.values())
        charge = sum(-ANION_CHARGES[e] * a for e, a in amount.items())
        pol_w = sum(amount[e] for e in ANION_POLARISABILITY_A3)
        pol = sum(ANION_POLARISABILITY_A3[e] * amount[e] for e in ANION_POLARISABILITY_A3)
        li = frac[:, ELEMENTS.index("Li")]
        has, has_pol = total > 0, pol_w > 0
        safe, safe_pol = np.where(has, total, 1.0), np.where(has_pol, pol_w, 1.0)
        out = np.column_stack([
            np.where(has_pol, pol / safe_pol, -1.0),
            np.where(has, li / np.where(has, charge, 1.0), -1.0),
            np.where(has, amount["O"] / safe, -1.0),
            np.where(has, sum(amount[e] for e in CHALCOGENS) / safe, -1.0),
            np.where(has, sum(amount[e] for e in HALOGENS) / safe, -1.0),
        ])  # fmt: skip
        return np.hstack([X, out])

N_COMP = len(CONDUCTIVITY_FEATURES)
#: the structure columns every model input holds after the composition features
STRUCTURE_LABELS = structural_feature_labels(bvse=True)
BARRIERS = ("bvse_barrier_1d_eV", "bvse_barrier_2d_eV", "bvse_barrier_3d_eV")
#: structure columns every successful ``structure_descriptor_row`` has: a row without one gets no estimate
REQUIRED_FEATURES = (
    "struct_volume_per_atom_A3", "struct_volume_per_anion_A3", "struct_packing_fraction", "struct_li_cn_mean",
    "struct_li_percolation_dim", "struct_li_partial_occupancy_fraction", "struct_anion_framework_bcc",
    "struct_anion_framework_fcc", "struct_anion_framework_hcp", "struct_anion_framework_other",
)  # fmt: skip
_CLIP = {**{b: 4.0 for b in BARRIERS}, "struct_li_bottleneck_radius_1d_A": 3.0, "struct_li_bottleneck_radius_3d_A": 3.0}
_STRUCT_P = (
    *BARRIERS, "struct_li_percolation_dim", "struct_li_li_min_dist_A", "struct_li_li_mean_nn_dist_A", "struct_li_cn_mean",
    "struct_li_bottleneck_radius_1d_A", "struct_li_bottleneck_radius_3d_A", "struct_volume_per_atom_A3",
    "struct_volume_per_anion_A3", "struct_packing_fraction", "struct_li_partial_occupancy_fraction",
    "struct_anion_framework_bcc", "struct_anion_framework_fcc", "struct_anion_framework_hcp", "struct_anion_framework_other",
)  # fmt: skip
#: the physics block: no element fraction, no Magpie statistic, no family or prototype one-hot
PHYSICS_LABELS = (*_STRUCT_P, "frac_Li", *ANION_FEATURES)
_STRUCT_IDX = [N_COMP + STRUCTURE_LABELS.index(k) for k in _STRUCT_P]
_LI = CONDUCTIVITY_FEATURES.index("frac_Li")
_REQUIRED_IDX = [N_COMP + STRUCTURE_LABELS.index(k) for k in REQUIRED_FEATURES]

#: the round-6 candidates, in the protocol's order
CANDIDATES = ("composition", "struct_hgb", "phys_hgb_mono", "phys_ridge", "stack_mono", "stack_ridge")
#: tie order of the protocol (simplest first)
SIMPLICITY = ("phys_ridge", "phys_hgb_mono", "stack_ridge", "stack_mono", "struct_hgb", "composition")


def physics_block(X: np.ndarray) -> np.ndarray:
    """The :data:`PHYSICS_LABELS` columns of model inputs ``X`` (composition + structure features).

    Barriers are clipped to [0, 4] eV (no percolating path, stored as 1e6, becomes 4), bottleneck
    radii to [0, 3] A; NaN stays NaN.
    """
    X = np.asarray(X, float)
    S = X[:, _STRUCT_IDX].copy()
    for j, k in enumerate(_STRUCT_P):
        if k in _CLIP:
            S[:, j] = np.clip(S[:, j], 0.0, _CLIP[k])
    anion = AnionFeatures().transform(X[:, :N_COMP])[:, N_COMP:]
    return np.hstack([S, X[:, [_LI]], anion])


def _mono_hgb(monotonic: list[int]) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(max_depth=3, learning_rate=0.05, max_iter=200, min_samples_leaf=10,
                                         l2_regularization=1.0, monotonic_cst=monotonic, early_stopping=False,
                                         random_state=SEED)  # fmt: skip


def _ridge():
    return make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler(),
                         RidgeCV(alphas=np.logspace(-2, 3, 11)))  # fmt: skip


def second_stage(candidate: str):
    """The estimator of a physics or stack candidate (on P, or on [composition prediction, P])."""
    mono = [-1 if k in BARRIERS else 0 for k in PHYSICS_LABELS]
    return {
        "phys_hgb_mono": lambda: _mono_hgb(mono),
        "phys_ridge": _ridge,
        "stack_mono": lambda: _mono_hgb([1, *mono]),
        "stack_ridge": _ridge,
    }[candidate]()


def composition_estimator():
    """The shipped composition estimator (``hgb_lr0.05_leaves15``), unfitted."""
    return CONDUCTIVITY_CANDIDATES["hgb_lr0.05_leaves15"][0]()


# composition fits are the slow part and are shared by several candidates on the same rows
_COMP_CACHE: dict[str, BaseEstimator] = {}  # fitted composition estimators
_OOF_CACHE: dict[str, np.ndarray] = {}  # their out-of-fold predictions


def _key(*arrays: np.ndarray) -> str:
    h = hashlib.sha1()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _comp_full(Xc: np.ndarray, y: np.ndarray):
    key = _key(Xc, y)
    if key not in _COMP_CACHE:
        _COMP_CACHE[key] = composition_estimator().fit(Xc, y)
    return _COMP_CACHE[key]


def _comp_oof(Xc: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Out-of-fold composition predictions, 5 folds grouped by ``groups`` (chemical systems), shuffled with the seed."""
    key = _key(Xc, y, np.array([str(g) for g in groups]).astype("U"))
    if key not in _OOF_CACHE:
        oof = np.full(len(y), np.nan)
        for tr, te in GroupKFold(n_splits=5, shuffle=True, random_state=SEED).split(Xc, y, groups):
            oof[te] = composition_estimator().fit(Xc[tr], y[tr]).predict(Xc[te])
        _OOF_CACHE[key] = oof
    return _OOF_CACHE[key]


def has_structure(X: np.ndarray) -> np.ndarray:
    """Rows of model inputs whose required structure features (:data:`REQUIRED_FEATURES`) are all finite."""
    X = np.asarray(X, float)
    return np.isfinite(X[:, _REQUIRED_IDX]).all(axis=1)


class StructureConductivityModel(RegressorMixin, BaseEstimator):
    """One round-6 candidate, fitted with family-grouped conformal 80 % intervals.

    Input rows are the 258 composition features followed by :data:`STRUCTURE_LABELS`; rows
    without a structure carry NaN there (the composition stage of ``composition`` and of the
    stacks learns from every row, the structure stages from the rows with a structure).

    Attributes (after :meth:`fit`): ``composition_`` (composition estimator or None),
    ``estimator_`` (the structure stage or None), ``quantile_``, ``stratum_quantiles_``,
    ``calibration_residuals_``, ``calibration_index_``.
    """

    def __init__(self, candidate: str = "phys_hgb_mono", coverage: float = 0.8, min_stratum_size: int = 30, folds: int = 5):
        self.candidate = candidate
        self.coverage = coverage
        self.min_stratum_size = min_stratum_size
        self.folds = folds

    # ---------------------------------------------------------------- point model
    def _fit_point(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[BaseEstimator | None, BaseEstimator | None]:
        c = self.candidate
        if c not in CANDIDATES:
            raise ValueError(f"candidate={c!r}: expected one of {CANDIDATES}")
        s = has_structure(X)
        if c == "composition":
            return _comp_full(X[:, :N_COMP], y), None
        if not s.any():
            raise ValueError("StructureConductivityModel.fit: no training row has structure features")
        if c == "struct_hgb":
            return None, STRUCTURE_CANDIDATES["hgb_lr0.05_leaves15"]().fit(X[s], y[s])
        P = physics_block(X[s])
        if c.startswith("phys_"):
            return None, second_stage(c).fit(P, y[s])
        oof = _comp_oof(X[:, :N_COMP], y, groups)
        return _comp_full(X[:, :N_COMP], y), second_stage(c).fit(np.column_stack([oof[s], P]), y[s])

    def _predict_point(self, composition, estimator, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, float)
        out = np.full(len(X), np.nan)
        if self.candidate == "composition":
            ok = np.isfinite(X[:, :N_COMP]).all(axis=1)
            if ok.any():
                out[ok] = composition.predict(X[ok, :N_COMP])
            return out
        ok = has_structure(X) & np.isfinite(X[:, :N_COMP]).all(axis=1)
        if not ok.any():
            return out
        if self.candidate == "struct_hgb":
            out[ok] = estimator.predict(X[ok])
            return out
        P = physics_block(X[ok])
        if self.candidate.startswith("stack_"):
            P = np.column_stack([composition.predict(X[ok, :N_COMP]), P])
        out[ok] = estimator.predict(P)
        return out

    # ---------------------------------------------------------------- fit
    def fit(self, X, y, groups, families, strata=None, calibrate: bool = True) -> StructureConductivityModel:
        """Fit on every row of ``X``; ``groups``: chemical systems (the stacks' inner folds),
        ``families``: OBELiX families (the calibration folds), ``strata``: the interval's strata."""
        X, y = np.asarray(X, float), np.asarray(y, float)
        groups, families = np.asarray(groups, dtype=object), np.asarray(families, dtype=object)
        strata = np.asarray(strata if strata is not None else np.full(len(y), "all"), dtype=object)
        if not 0 < self.coverage < 1:
            raise ValueError(f"coverage={self.coverage!r}: expected a number in (0, 1)")
        if X.shape[1] != N_COMP + len(STRUCTURE_LABELS):
            raise ValueError(f"StructureConductivityModel.fit: {X.shape[1]} columns, expected {N_COMP + len(STRUCTURE_LABELS)}")
        self.quantile_ = math.nan
        self.stratum_quantiles_: dict[str, float] = {}
        self.calibration_residuals_, self.calibration_index_ = np.array([]), np.array([], int)
        if calibrate:
            self._calibrate(X, y, groups, families, strata)
        self.composition_, self.estimator_ = self._fit_point(X, y, groups)
        self.n_features_in_ = X.shape[1]
        return self

    def _calibrate(self, X, y, groups, families, strata) -> None:
        scored = np.ones(len(y), bool) if self.candidate == "composition" else has_structure(X)
        pred = np.full(len(y), np.nan)
        stack = self.candidate.startswith("stack_")
        # a stack's fold model: the composition stage refitted without the fold's families, the second stage on the
        # out-of-fold composition predictions of all training rows (one nested CV instead of one per fold)
        oof = _comp_oof(X[:, :N_COMP], y, groups) if stack else None
        for tr, te in GroupKFold(n_splits=self.folds).split(X, y, families):
            te = te[scored[te]]
            s = has_structure(X[tr])
            if not len(te) or not s.any():
                continue
            if stack:
                assert oof is not None
                inner = tr[s]
                second = second_stage(self.candidate).fit(np.column_stack([oof[inner], physics_block(X[inner])]), y[inner])
                pred[te] = self._predict_point(_comp_full(X[tr, :N_COMP], y[tr]), second, X[te])
            else:
                pred[te] = self._predict_point(*self._fit_point(X[tr], y[tr], groups[tr]), X[te])
        idx = np.flatnonzero(np.isfinite(pred))
        res = y[idx] - pred[idx]
        self.calibration_index_, self.calibration_residuals_ = idx, res
        self.quantile_ = _conformal_quantile(np.abs(res), self.coverage)
        cal = strata[idx]
        self.stratum_quantiles_ = {str(s): _conformal_quantile(np.abs(res[cal == s]), self.coverage)
                                   for s in sorted(set(cal.tolist())) if (cal == s).sum() >= self.min_stratum_size}  # fmt: skip

    # ---------------------------------------------------------------- predict
    def predict(self, X) -> np.ndarray:
        """Point predictions (NaN for rows the candidate cannot score)."""
        return self._predict_point(self.composition_, self.estimator_, X)

    def half_widths(self, strata, n: int) -> np.ndarray:
        if strata is None:
            return np.full(n, self.quantile_)
        return np.array([self.stratum_quantiles_.get(str(s), self.quantile_) for s in strata], dtype=float)

    def predict_interval(self, X, strata=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(mean, lo, hi)``: the prediction and its family-calibrated 80 % interval."""
        mean = self.predict(X)
        hw = self.half_widths(strata, len(mean))
        return mean, mean - hw, mean + hw


_conformal_quantile = ConformalRegressor._conformal_quantile
