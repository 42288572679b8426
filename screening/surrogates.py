"""Surrogate models: training, evaluation, persistence (skops) and prediction with uncertainty.

Four composition-only models, each a :class:`ConformalRegressor` (a scikit-learn
regressor wrapped with split/cross conformal intervals) saved in ``models/<name>/``:

============================  ==========================  ====================================
name                          target                      data
============================  ==========================  ====================================
``conductivity``              ``log10_sigma_S_cm``        OBELiX official train split
``formation_energy``          ``formation_energy_eV_atom`` matbench mp_e_form (minus held-out)
``shear_modulus``             ``log10_G_VRH_GPa``         matbench elasticity (seeded split)
``bulk_modulus``              ``log10_K_VRH_GPa``         matbench elasticity (seeded split)
============================  ==========================  ====================================

Uncertainty: every prediction has an 80 % interval (``_lo80``/``_hi80``) and a standard
deviation (``_std`` = half-width / 1.2816, i.e. the Gaussian sigma of that interval).
Intervals are *Mondrian split-conformal*: absolute residuals of out-of-fold predictions on
the training data (grouped K-fold, or a held-out calibration part of train for the large
data set) give, for each coarse chemical family (sulfide, oxide, halide, ...), the
residual quantile with the finite-sample correction; families with too few calibration
rows use the pooled quantile. See :class:`ConformalRegressor`.

Predictions for new formulas go through :func:`predict`, which also derives the energy
above the reference hull, the electrochemical window and interface reaction energies
(:mod:`screening.descriptors.stability`) and the mechanical descriptors
(:mod:`screening.descriptors.mechanics`). Models are trained by :mod:`screening.train`.

The baseline random forest of the walking skeleton (:class:`ConductivityBaseline`) is kept
for comparison and for :func:`screening.pipeline.predict_conductivity`.
"""

from __future__ import annotations

import json
import math
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pymatgen.core import Composition
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.model_selection import GroupKFold, KFold
from threadpoolctl import threadpool_limits

from screening import __version__
from screening.chemistry import CHALCOGENS, COARSE_FAMILIES, ELEMENTS, HALOGENS, as_composition
from screening.config import get_settings
from screening.datasets import dataset_checksums, load_obelix
from screening.descriptors.composition import (
    LiChemistry,
    chemistry_descriptors,
    composition_table,
    magpie_labels,
    magpie_table,
)
from screening.descriptors.stability import STABILITY_COLUMNS
from screening.errors import InvalidCompositionError

__all__ = [
    "CONDUCTIVITY_FEATURES",
    "MODEL_NAMES",
    "STRUCTURE_MODEL_NAME",
    "PROTOTYPES",
    "ConformalRegressor",
    "Surrogate",
    "ConductivityBaseline",
    "prototype_of",
    "coarse_family",
    "feature_table",
    "load_model",
    "load_models",
    "predict",
    "train_conductivity_baseline",
    "load_conductivity_baseline",
]

#: z value of a central 80 % Gaussian interval (to turn an interval into a std)
Z80 = 1.2815515655446004

#: the trained models predict() uses, in order
MODEL_NAMES = ("conductivity", "formation_energy", "shear_modulus", "bulk_modulus")

#: the optional structure-aware conductivity model (composition + structure features); predict()
#: works without it and uses it only for structures (see ``predict(structure_model=...)``)
STRUCTURE_MODEL_NAME = "conductivity_structure"

#: elements 1..94: columns of the element-fraction features
_EL_INDEX = {s: i for i, s in enumerate(ELEMENTS)}


#: the prototypes :func:`prototype_of` can return
PROTOTYPES = (
    "argyrodite", "LGPS", "thiophosphate", "sulfide-other", "antiperovskite", "NASICON", "phosphate", "garnet",
    "perovskite", "LISICON", "borate", "oxide-other", "halide", "nitride", "hydride", "other",
)  # fmt: skip



# --------------------------------------------------------------------------- features


def prototype_of(formula: str | Composition) -> str:
    """Guess the structure family (prototype) of a Li conductor from its composition alone.

    Rules on element set and stoichiometric ratios, written to reproduce the OBELiX
    family labels (which candidates lack): e.g. ``argyrodite`` = sulfide with P and a
    halogen (Li6PS5Cl), ``LGPS`` = sulfide with P and Ge/Si/Sn, ``NASICON`` = phosphate
    with O/P ~ 4 and (framework cations)/P ~ 2/3 (LiTi2(PO4)3), ``garnet`` = oxide with a
    large A cation (La, Y, Ba, ...) and O/(non-Li cations) ~ 2.4 (Li7La3Zr2O12),
    ``perovskite`` = oxide with La/Sr/Ca... and Ti/Nb/Ta/Zr, O/(all cations) ~ 1.5.
    On OBELiX it agrees with the curated family for about 90 % of the garnets, NASICONs,
    argyrodites and LGPS-type entries. One of :data:`PROTOTYPES`; raises
    :class:`~screening.errors.InvalidCompositionError` for an unparseable formula.
    """
    comp = as_composition(formula)
    amt = {el.symbol: float(a) for el, a in comp.items()}
    els = set(amt)
    li = amt.get("Li", 0.0)
    o = amt.get("O", 0.0)
    s = sum(amt.get(x, 0.0) for x in CHALCOGENS)
    hal = sum(amt.get(x, 0.0) for x in HALOGENS)
    if s > 0 and o < 3 * s:
        if "P" in els and hal > 0:
            return "argyrodite"
        if "P" in els and els & {"Ge", "Si", "Sn"}:
            return "LGPS"
        return "thiophosphate" if "P" in els else "sulfide-other"
    if o > 0:
        if hal > 0 and not els - {"Li", "O", "H"} - HALOGENS:
            return "antiperovskite"
        other = sum(a for e, a in amt.items() if e not in {"Li", "O", "F", "N", "H"})
        p = amt.get("P", 0.0) + amt.get("As", 0.0)
        if p > 0 and 3.3 < o / p < 4.6:
            tet = p + amt.get("Si", 0.0) + amt.get("S", 0.0)
            return "NASICON" if 0.45 < (other - tet) / tet < 0.85 else "phosphate"
        big_a = {"La", "Nd", "Y", "Pr", "Ce", "Sm", "Gd", "Ba", "Ca", "Sr"}
        if els & big_a and other > 0 and 2.2 < o / other < 2.6 and li / o > 0.35:
            return "garnet"
        if els & {"Ti", "Nb", "Ta", "Zr"} and els & {"La", "Sr", "Ca", "Nd", "Ba", "Pr"} and 1.2 < o / (other + li) < 1.8:
            return "perovskite"
        if els & {"Ge", "Si", "V", "Zn"} and "P" not in els:
            return "LISICON"
        return "borate" if "B" in els else "oxide-other"
    if hal > 0:
        return "halide"
    if "N" in els:
        return "nitride"
    return "hydride" if "H" in els else "other"


def element_fractions(comps: Sequence[Composition | None]) -> np.ndarray:
    """Atomic fractions of elements 1..94 (columns :data:`ELEMENTS`); NaN rows for ``None``."""
    out = np.zeros((len(comps), len(ELEMENTS)))
    for i, comp in enumerate(comps):
        if comp is None:
            out[i] = np.nan
            continue
        total = comp.num_atoms
        for el, a in comp.items():
            j = _EL_INDEX.get(el.symbol)
            if j is None:
                out[i] = np.nan
                break
            out[i, j] = a / total
    return out


def coarse_family(fractions: np.ndarray) -> np.ndarray:
    """Coarse anion family of each row of an element-fraction matrix (:data:`COARSE_FAMILIES`).

    Vectorised and cheap: ``sulfide`` (S/Se/Te, no O), ``oxide`` (O only), ``halide``
    (halogens only), ``nitride`` (N only), ``mixed-anion``, ``no-anion`` (intermetallics,
    hydrides, ...). NaN rows give ``"no-anion"``. Used as the strata of the conformal intervals.
    """
    f = np.nan_to_num(np.asarray(fractions, float))
    has = {s: f[:, _EL_INDEX[s]] > 0 for s in ("N", "O", "F", "S", "Cl", "Se", "Br", "Te", "I")}
    chal = has["S"] | has["Se"] | has["Te"]
    hal = has["F"] | has["Cl"] | has["Br"] | has["I"]
    o, n = has["O"], has["N"]
    any_anion = chal | hal | o | n
    out = np.full(len(f), "mixed-anion", dtype=object)
    out[chal & ~o] = "sulfide"
    out[o & ~chal & ~hal & ~n] = "oxide"
    out[hal & ~chal & ~o & ~n] = "halide"
    out[n & ~chal & ~o & ~hal] = "nitride"
    out[~any_anion] = "no-anion"
    return out


def _parse_all(formulas: Sequence[Any]) -> tuple[list[Composition | None], list[str | None]]:
    comps, errors = [], []
    for f in formulas:
        try:
            comp = as_composition(f)
            missing = [el.symbol for el in comp.elements if el.symbol not in _EL_INDEX]
            if missing:
                raise InvalidCompositionError(f"{f!r}: no model data for element(s) {', '.join(missing)} (Z > 94)")
            comps.append(comp)
            errors.append(None)
        except Exception as exc:
            comps.append(None)
            errors.append(f"{type(exc).__name__}: {exc}")
    return comps, errors


def _magpie_rows(comps: Sequence[Composition | None], errors: list[str | None]) -> np.ndarray:
    """Magpie matrix (NaN rows for bad items); a formula without Magpie data gets an error."""
    out = np.full((len(comps), len(magpie_labels())), np.nan)
    ok = [i for i, c in enumerate(comps) if c is not None]
    if not ok:
        return out
    try:
        out[ok] = magpie_table([comps[i] for i in ok]).to_numpy(float)
    except InvalidCompositionError:
        for i in ok:
            try:
                out[i] = magpie_table([comps[i]]).to_numpy(float)[0]
            except InvalidCompositionError as exc:
                errors[i] = f"{type(exc).__name__}: {exc}"
    return out


def feature_table(formulas: Sequence[Any], kind: str = "basic") -> tuple[pd.DataFrame, list[str | None], np.ndarray]:
    """Model features of many formulas; bad formulas give NaN rows and an error text.

    Parameters
    ----------
    formulas
        Formula strings or pymatgen Compositions.
    kind
        ``"basic"``: Magpie statistics (132) + element fractions (94): vectorised, for the
        large training sets. ``"conductivity"``: basic + Li chemistry
        (:class:`~screening.descriptors.composition.LiChemistry`, NaN filled with -1) +
        one-hot coarse family + one-hot :func:`prototype_of`.

    Returns
    -------
    features, errors, strata
        The feature DataFrame (one row per input), the error text of each row (None when
        fine) and the coarse family of each row (conformal strata).
    """
    if kind not in ("basic", "conductivity"):
        raise ValueError(f"kind={kind!r}: expected 'basic' or 'conductivity'")
    comps, errors = _parse_all(list(formulas))
    magpie = _magpie_rows(comps, errors)
    fractions = element_fractions(comps)
    strata = coarse_family(fractions)
    parts = [pd.DataFrame(magpie, columns=magpie_labels()), pd.DataFrame(fractions, columns=[f"frac_{s}" for s in ELEMENTS])]
    if kind == "conductivity":
        labels = LiChemistry().feature_labels()
        chem = np.full((len(comps), len(labels)), np.nan)
        protos = np.full(len(comps), "", dtype=object)
        for i, comp in enumerate(comps):
            if comp is None or errors[i]:
                continue
            try:
                d = chemistry_descriptors(comp)
                chem[i] = [d[k] for k in labels]
                protos[i] = prototype_of(comp)
            except Exception as exc:
                errors[i] = f"{type(exc).__name__}: {exc}"
        parts.append(pd.DataFrame(chem, columns=labels))
        parts.append(pd.DataFrame({f"family_{f}": (strata == f).astype(float) for f in COARSE_FAMILIES}))
        parts.append(pd.DataFrame({f"proto_{p}": (protos == p).astype(float) for p in PROTOTYPES}))
    X = pd.concat(parts, axis=1)
    bad = np.array([e is not None for e in errors])
    X = X.fillna(-1.0)  # undefined descriptors (no anion, no Magpie value) -> -1, for every estimator
    X.loc[bad, :] = np.nan
    return X, errors, strata


#: feature names of the conductivity model
CONDUCTIVITY_FEATURES = list(feature_table(["Li3PS4"], kind="conductivity")[0].columns)


# --------------------------------------------------------------------------- structure features

#: anion-framework labels of :func:`screening.descriptors.structural.structural_descriptors` (one-hot)
ANION_FRAMEWORKS = ("bcc", "fcc", "hcp", "other")


def structural_feature_labels(bvse: bool = False) -> list[str]:
    """Names of the structure-only features of the ``conductivity_structure`` model."""
    from screening.descriptors.structural import FEATURE_LABELS

    labels = [f"struct_{k}" for k in FEATURE_LABELS if k != "anion_framework"]
    labels += [f"struct_anion_framework_{a}" for a in ANION_FRAMEWORKS]
    if bvse:
        from screening.descriptors.bondvalence import FEATURE_LABELS as BVSE_LABELS

        labels += list(BVSE_LABELS)
    return labels


#: stand-in for an infinite descriptor (no percolating path, ...): trees only see the order
_BIG = 1.0e6


def _finite(value: Any) -> float:
    """``float(value)`` with +-inf replaced by +-:data:`_BIG` (NaN stays NaN)."""
    v = float(value)
    return math.copysign(_BIG, v) if math.isinf(v) else v


def structure_descriptor_row(structure: Any, bvse: bool = False) -> dict[str, float]:
    """Structure-only features of one structure (pymatgen Structure or ase Atoms).

    Raises when the structural descriptors cannot be computed (no Li, unreadable
    structure, ...). A failed BVSE barrier gives NaN (the tree models take it); an infinite
    value (no percolating path) becomes +-1e6.
    """
    from screening.descriptors.structural import FEATURE_LABELS, structural_descriptors

    if not hasattr(structure, "lattice") and hasattr(structure, "get_cell"):  # ase Atoms
        from pymatgen.io.ase import AseAtomsAdaptor

        structure = AseAtomsAdaptor.get_structure(structure)
    d = structural_descriptors(structure)
    row = {f"struct_{k}": _finite(d[k]) for k in FEATURE_LABELS if k != "anion_framework"}
    for a in ANION_FRAMEWORKS:
        row[f"struct_anion_framework_{a}"] = float(d.get("anion_framework") == a)
    if bvse:
        from screening.descriptors.bondvalence import FEATURE_LABELS as BVSE_LABELS
        from screening.descriptors.bondvalence import bondvalence_descriptors

        try:
            b = bondvalence_descriptors(structure)
            row.update({k: _finite(b[k]) for k in BVSE_LABELS})
        except Exception:
            row.update({k: float("nan") for k in BVSE_LABELS})
    return row


def is_structure(item: Any) -> bool:
    """True for a pymatgen Structure (ordered or disordered) or an ase Atoms object."""
    return (hasattr(item, "lattice") and isinstance(getattr(item, "composition", None), Composition)) or (
        hasattr(item, "get_cell") and hasattr(item, "get_chemical_formula")
    )


# --------------------------------------------------------------------------- conformal


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


# --------------------------------------------------------------------------- persistence


@dataclass
class Surrogate:
    """A trained model with its name, target, feature kind and model card.

    ``regressor`` is a fitted :class:`ConformalRegressor`; ``card`` the machine-readable
    model card (written to ``card.json``; ``CARD.md`` is rendered from it).
    """

    name: str
    target: str
    feature_kind: str
    regressor: ConformalRegressor
    card: dict = field(default_factory=dict)

    def predict(self, formulas: Sequence[Any]) -> pd.DataFrame:
        """``mean``, ``lo80``, ``hi80``, ``std`` and ``error`` of each formula (NaN on error)."""
        X, errors, strata = feature_table(formulas, self.feature_kind)
        Xv = X.to_numpy(float)
        ok = np.isfinite(Xv).all(axis=1)
        mean = np.full(len(Xv), np.nan)
        lo, hi = mean.copy(), mean.copy()
        if ok.any():
            mean[ok], lo[ok], hi[ok] = self.regressor.predict_interval(Xv[ok], strata[ok])
        return pd.DataFrame({"mean": mean, "lo80": lo, "hi80": hi, "std": (hi - lo) / (2 * Z80), "error": errors})

    def directory(self, models_dir: str | Path | None = None) -> Path:
        return Path(models_dir or get_settings().models_dir) / self.name

    def save(self, models_dir: str | Path | None = None) -> Path:
        """Write ``model.skops``, ``card.json`` and ``CARD.md`` into ``models/<name>/``."""
        import skops.io as sio

        directory = self.directory(models_dir)
        directory.mkdir(parents=True, exist_ok=True)
        payload = {"name": self.name, "target": self.target, "feature_kind": self.feature_kind, "regressor": self.regressor}
        sio.dump(payload, directory / "model.skops")
        (directory / "card.json").write_text(json.dumps(self.card, indent=2, default=_json_default) + "\n")
        (directory / "CARD.md").write_text(render_card(self.card))
        return directory

    @classmethod
    def load(cls, name: str, models_dir: str | Path | None = None) -> Surrogate:
        """Load ``models/<name>/model.skops`` (skops; only our own and scikit-learn types are trusted)."""
        import skops.io as sio

        directory = Path(models_dir or get_settings().models_dir) / name
        path = directory / "model.skops"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no trained model (run `make train` / `python -m screening.train`)")
        untrusted = sio.get_untrusted_types(file=path)
        foreign = [t for t in untrusted if not t.startswith(("screening.", "sklearn.", "numpy.", "builtins."))]
        if foreign:
            raise ValueError(f"{path}: refusing to load unexpected types {foreign}")
        payload = sio.load(path, trusted=untrusted)
        card_path = directory / "card.json"
        card = json.loads(card_path.read_text()) if card_path.is_file() else {}
        return cls(payload["name"], payload["target"], payload["feature_kind"], payload["regressor"], card)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def render_card(card: dict) -> str:
    """Human-readable model card (Markdown) from a card dict."""
    lines = [f"# Model card: {card.get('name', '?')}", "", card.get("summary", ""), ""]
    simple = [
        ("Target", "target"), ("Model", "model"), ("Features", "features"), ("Training data", "train"),
        ("Evaluation data", "test"), ("Split", "split"), ("Uncertainty", "uncertainty"),
        ("Censored values", "censoring"), ("Volume per atom", "volume_per_atom"), ("Hyperparameter selection", "selection"),
        ("Code version", "code_version"), ("Retrain", "retrain"), ("Trained in (s)", "train_seconds"),
    ]  # fmt: skip
    for title, key in simple:
        if key in card:
            value = card[key]
            text = json.dumps(value, default=_json_default) if isinstance(value, (dict, list)) else str(value)
            lines.append(f"- **{title}**: {text}")
    for key in sorted(k for k in card if k.startswith("metrics")):
        lines += ["", f"## {key}", "", "| metric | value |", "|---|---|"]
        for m, v in card[key].items():
            lines.append(f"| {m} | {v:.4g} |" if isinstance(v, float) else f"| {m} | {v} |")
    if "cv_selection" in card:
        lines += ["", "## Model selection (CV on train only)", "", "| candidate | CV MAE |", "|---|---|"]
        lines += [f"| {k} | {v:.4f} |" for k, v in card["cv_selection"].items()]
    if "data_sha256" in card:
        lines += ["", "## Data checksums (SHA256)", ""] + [f"- `{k}`: `{v}`" for k, v in card["data_sha256"].items()]
    if "limitations" in card:
        lines += ["", "## Limitations", ""] + [f"- {x}" for x in card["limitations"]]
    return "\n".join(lines) + "\n"


_models_lock = threading.Lock()
_models_cache: dict[tuple[str, str], Surrogate] = {}


def load_model(name: str, models_dir: str | Path | None = None) -> Surrogate:
    """Load (once per process) one of :data:`MODEL_NAMES`."""
    key = (name, str(models_dir or get_settings().models_dir))
    with _models_lock:
        if key not in _models_cache:
            _models_cache[key] = Surrogate.load(name, models_dir)
        return _models_cache[key]


def load_models(models_dir: str | Path | None = None) -> dict[str, Surrogate]:
    """All models of :data:`MODEL_NAMES`, loaded once per process."""
    return {name: load_model(name, models_dir) for name in MODEL_NAMES}


# --------------------------------------------------------------------------- predict

#: columns of :func:`predict` (besides the input's own columns)
PREDICT_COLUMNS = (
    "formula", "family", "prototype",
    "log10_sigma_S_cm", "log10_sigma_S_cm_std", "log10_sigma_S_cm_lo80", "log10_sigma_S_cm_hi80",
    "formation_energy_eV_atom", "formation_energy_eV_atom_std", "formation_energy_eV_atom_lo80", "formation_energy_eV_atom_hi80",
    "e_hull_eV_atom", "e_hull_eV_atom_std", "e_hull_source",
    "G_VRH_GPa", "G_VRH_GPa_lo80", "G_VRH_GPa_hi80", "log10_G_VRH_GPa_std",
    "K_VRH_GPa", "K_VRH_GPa_lo80", "K_VRH_GPa_hi80", "log10_K_VRH_GPa_std",
    "volume_per_atom_A3", "K_IC_MPa_m05", "pugh_ratio", "G_over_G_Li",
    "window_low_V", "window_high_V", "window_width_V", "e_rxn_li_eV_atom", "e_rxn_licoo2_eV_atom", "e_rxn_h2o_eV_atom",
    "error",
)  # fmt: skip



def _as_formula(item: Any) -> str:
    """A formula string from a formula, Composition, pymatgen Structure or ase Atoms."""
    if item is None or (isinstance(item, float) and math.isnan(item)):
        raise InvalidCompositionError("no formula (empty item)")
    if isinstance(item, str):
        return item
    if isinstance(item, Composition):
        return item.formula
    comp = getattr(item, "composition", None)
    if isinstance(comp, Composition):  # pymatgen Structure / Molecule (ordered or disordered)
        return comp.formula
    if hasattr(item, "get_chemical_formula"):  # ase Atoms
        return item.get_chemical_formula()
    raise InvalidCompositionError(f"cannot read a composition from a {type(item).__name__}")


def _join(*texts: str | None) -> str | None:
    parts = [t for t in texts if t]
    return "; ".join(parts) if parts else None


def predict(
    items: Sequence[Any] | pd.DataFrame,
    stability: bool = True,
    models_dir: str | Path | None = None,
    structure_model: bool | None = None,
) -> pd.DataFrame:
    """Every predicted property of formulas, structures or a table of candidates, with uncertainty.

    Parameters
    ----------
    items
        A list of formulas, pymatgen Compositions/Structures (ordered or disordered; the
        composition is used) or ase Atoms; or a DataFrame with a ``formula`` column (or a
        ``structure`` column), whose other columns (``candidate_id`` ...) are kept.
    stability
        Compute the hull, window and interface-reaction columns (about 50-200 ms per new
        chemical system, cached per system). ``False`` leaves them NaN, for huge batches.
    models_dir
        Where the trained models are (default ``settings.models_dir``).
    structure_model
        For items that are structures (pymatgen Structure, ase Atoms, or Structures in a
        DataFrame's ``structure`` column): predict the conductivity with the
        structure-aware model ``conductivity_structure`` (composition + structural
        descriptors). ``None`` (default): only when that model beat the composition model
        on the OBELiX test rows with a structure (``better_than_composition_on_test`` in its
        card). A structure whose descriptors fail (no Li, ...) or a missing model falls
        back to the composition model, without an error.

    Returns
    -------
    DataFrame
        One row per item, in order, with :data:`PREDICT_COLUMNS`: the conductivity
        ``log10_sigma_S_cm`` (``_std``, ``_lo80``, ``_hi80``: 80 % conformal interval),
        ``formation_energy_eV_atom`` (+ uncertainty), ``e_hull_eV_atom`` (from the DFT
        reference formation energy when the composition is in the reference data,
        ``e_hull_source = "reference"``, otherwise from the predicted one, ``"predicted"``),
        ``G_VRH_GPa``/``K_VRH_GPa`` (+ 80 % intervals, std of their log10), the Niu fracture
        toughness ``K_IC_MPa_m05``, ``pugh_ratio`` (K/G), ``G_over_G_Li`` (Monroe-Newman),
        the electrochemical window and reaction energies with Li, LiCoO2 and H2O, ``family``,
        ``prototype`` and ``error`` (None when every step worked). A bad item never raises:
        its row holds NaN and the reason in ``error``. When the input holds structures,
        one more column, ``conductivity_model`` (after ``log10_sigma_S_cm_hi80``), says which
        model gave the conductivity of each row: ``"structure"`` or ``"composition"`` (None
        when there is no prediction); formula-only input keeps exactly :data:`PREDICT_COLUMNS`.
    """
    if isinstance(items, pd.DataFrame):
        base = items.reset_index(drop=True).copy()
        if "formula" in base:
            raw = base["formula"].tolist()
            if "structure" in base:
                raw = [s if (f is None or (isinstance(f, float) and math.isnan(f))) and s is not None else f for f, s in zip(raw, base["structure"])]
        elif "structure" in base:
            raw = base["structure"].tolist()
        else:
            raise KeyError("predict(DataFrame): the table needs a 'formula' or a 'structure' column")
        structs = base["structure"].tolist() if "structure" in base else [None] * len(raw)
        base = base.drop(columns=[c for c in (*PREDICT_COLUMNS, "conductivity_model") if c in base and c != "formula"])
    else:
        if isinstance(items, (str, Composition)) or hasattr(items, "composition") or hasattr(items, "get_chemical_formula"):
            items = [items]
        raw = list(items)
        structs = raw
        base = pd.DataFrame(index=range(len(raw)))
    structs = [x if is_structure(x) else None for x in structs]
    formulas, errors = [], []
    for item in raw:
        try:
            formulas.append(_as_formula(item))
            errors.append(None)
        except Exception as exc:
            formulas.append("")
            errors.append(f"{type(exc).__name__}: {exc}")
    models = load_models(models_dir)
    struct_model = None
    if any(x is not None for x in structs) and structure_model is not False:
        try:
            struct_model = load_model(STRUCTURE_MODEL_NAME, models_dir)
        except Exception:  # not trained (or unreadable): composition model for every row
            struct_model = None
        if struct_model is not None and structure_model is None and not struct_model.card.get("better_than_composition_on_test", False):
            struct_model = None
    with threadpool_limits(limits=1):  # OpenMP spin-waits badly on shared machines; batches are small
        return _predict(raw, base, formulas, errors, models, stability, structs, struct_model)


def _predict(raw, base, formulas, errors, models, stability, structs=None, struct_model=None) -> pd.DataFrame:
    n = len(raw)
    out = pd.DataFrame(index=range(n))
    out["formula"] = [f if e is None else (f or None) for f, e in zip(formulas, errors)]
    # one feature pass per feature kind, reused by every model of that kind
    Xc, err_c, strata = feature_table(formulas, "conductivity")
    Xb = Xc[magpie_labels() + [f"frac_{s}" for s in ELEMENTS]]
    ok = np.array([e is None for e in err_c]) & np.array([e is None for e in errors])
    errors = [_join(e, c) for e, c in zip(errors, err_c)]
    fam = np.where(ok, strata, None)
    out["family"] = fam
    out["prototype"] = [
        next((p for p in PROTOTYPES if Xc.at[i, f"proto_{p}"] == 1.0), None) if ok[i] else None for i in range(n)
    ]

    def run(name: str, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = models[name]
        mean = np.full(n, np.nan)
        lo, hi = mean.copy(), mean.copy()
        if ok.any():
            mean[ok], lo[ok], hi[ok] = m.regressor.predict_interval(X.to_numpy(float)[ok], strata[ok])
        return mean, lo, hi

    for name, col in (("conductivity", "log10_sigma_S_cm"), ("formation_energy", "formation_energy_eV_atom")):
        mean, lo, hi = run(name, Xc if name == "conductivity" else Xb)
        out[col], out[f"{col}_std"], out[f"{col}_lo80"], out[f"{col}_hi80"] = mean, (hi - lo) / (2 * Z80), lo, hi
    conductivity_model = np.where(np.isfinite(out["log10_sigma_S_cm"].to_numpy(float)), "composition", None)
    if struct_model is not None:
        _structure_conductivity(out, Xc, strata, ok, structs, struct_model, conductivity_model)
    for name, sym in (("shear_modulus", "G"), ("bulk_modulus", "K")):
        mean, lo, hi = run(name, Xb)
        out[f"{sym}_VRH_GPa"], out[f"{sym}_VRH_GPa_lo80"], out[f"{sym}_VRH_GPa_hi80"] = 10**mean, 10**lo, 10**hi
        out[f"log10_{sym}_VRH_GPa_std"] = (hi - lo) / (2 * Z80)
    # volume per atom for Niu's K_IC: fraction-weighted elemental ground-state volume (Magpie)
    out["volume_per_atom_A3"] = Xc["MagpieData mean GSvolume_pa"].to_numpy(float)
    mech = _mechanics(out["K_VRH_GPa"].to_numpy(float), out["G_VRH_GPa"].to_numpy(float), out["volume_per_atom_A3"].to_numpy(float))
    for key in ("K_IC_MPa_m05", "pugh_ratio", "G_over_G_Li"):
        out[key] = mech[key]
    for key in ("e_hull_eV_atom", "e_hull_eV_atom_std", *STABILITY_COLUMNS):
        out[key] = np.nan
    out["e_hull_source"] = None
    if stability:
        from screening.descriptors.stability import stability_table

        rows = np.flatnonzero(ok)
        table = stability_table(
            [formulas[i] for i in rows],
            out["formation_energy_eV_atom"].to_numpy(float)[rows],
            out["formation_energy_eV_atom_std"].to_numpy(float)[rows],
        )
        for col in ("e_hull_eV_atom", "e_hull_eV_atom_std", "e_hull_source", *STABILITY_COLUMNS):
            out.loc[rows, col] = table[col].to_numpy()
        for i, err in zip(rows, table["error"]):
            if err:
                errors[i] = _join(errors[i], err)
    out["error"] = errors
    columns = list(PREDICT_COLUMNS)
    if structs is not None and any(x is not None for x in structs):
        out["conductivity_model"] = conductivity_model
        columns.insert(columns.index("log10_sigma_S_cm_hi80") + 1, "conductivity_model")
    out = out[columns]
    extra = base.drop(columns=[c for c in ("formula",) if c in base])
    return pd.concat([extra.reset_index(drop=True), out], axis=1)


def _structure_conductivity(out, Xc, strata, ok, structs, model: Surrogate, conductivity_model: np.ndarray) -> None:
    """Overwrite the conductivity columns of the structure rows with the structure-aware model (in place)."""
    labels = model.card.get("feature_labels") or (CONDUCTIVITY_FEATURES + structural_feature_labels(model.card.get("uses_bvse", False)))
    struct_labels = labels[len(CONDUCTIVITY_FEATURES):]
    bvse = any(k.startswith("bvse_") for k in struct_labels)
    rows, feats = [], []
    for i, st in enumerate(structs):
        if st is None or not ok[i]:
            continue
        try:
            d = structure_descriptor_row(st, bvse=bvse)
            x = [d[k] for k in struct_labels]
        except Exception:  # no Li, unreadable structure ...: keep the composition prediction
            continue
        if not np.isfinite(np.asarray([v for k, v in zip(struct_labels, x) if not k.startswith("bvse_")], float)).all():
            continue
        rows.append(i)
        feats.append(x)
    if not rows:
        return
    rows = np.asarray(rows)
    X = np.hstack([Xc.to_numpy(float)[rows][:, : len(CONDUCTIVITY_FEATURES)], np.asarray(feats, float)])
    mean, lo, hi = model.regressor.predict_interval(X, strata[rows])
    col = "log10_sigma_S_cm"
    out.loc[rows, col], out.loc[rows, f"{col}_std"] = mean, (hi - lo) / (2 * Z80)
    out.loc[rows, f"{col}_lo80"], out.loc[rows, f"{col}_hi80"] = lo, hi
    conductivity_model[rows] = "structure"


def _mechanics(K: np.ndarray, G: np.ndarray, V: np.ndarray) -> dict[str, np.ndarray]:
    """Niu K_IC, Pugh ratio and Monroe-Newman ratio (via :mod:`screening.descriptors.mechanics`)."""
    from screening.descriptors.mechanics import mechanics_descriptors_array

    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        return mechanics_descriptors_array(K, G, V)


# --------------------------------------------------------------------------- baseline


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
        (directory / "card.json").write_text(json.dumps(self.card_, indent=2, default=_json_default) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path | None = None) -> ConductivityBaseline:
        import skops.io as sio

        directory = Path(directory or get_settings().models_dir / cls.name)
        path = directory / "model.skops"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no trained model (run `make train`)")
        trusted = sio.get_untrusted_types(file=path)
        model = cls()
        model.model_ = sio.load(path, trusted=trusted)
        card = directory / "card.json"
        model.card_ = json.loads(card.read_text()) if card.is_file() else {}
        return model


def train_conductivity_baseline(save: bool = True) -> ConductivityBaseline:
    """Train the baseline on the OBELiX train split, evaluate on the official test split, and save."""
    t0 = time.perf_counter()
    train, test = load_obelix("train"), load_obelix("test")
    model = ConductivityBaseline().fit(train["formula"], train["log10_sigma_S_cm"])
    mean, _ = model.predict(test["formula"])
    y = test["log10_sigma_S_cm"].to_numpy()
    ok = np.isfinite(mean) & np.isfinite(y)
    median = float(np.median(train["log10_sigma_S_cm"].dropna()))
    model.card_ = {
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
        "code_version": __version__,
        "params": {"n_estimators": model.n_estimators, "min_samples_leaf": model.min_samples_leaf, "random_state": model.random_state},
        "train_seconds": round(time.perf_counter() - t0, 2),
    }
    if save:
        model.save()
    return model


def load_conductivity_baseline(train_if_missing: bool = True) -> ConductivityBaseline:
    """Load the saved baseline; train and save it first when it is missing."""
    try:
        return ConductivityBaseline.load()
    except FileNotFoundError:
        if not train_if_missing:
            raise
        return train_conductivity_baseline(save=True)
