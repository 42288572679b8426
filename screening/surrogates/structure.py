"""Conductivity from a candidate's own structure: the structure tier's surrogate.

One entry point, :func:`structure_conductivity`, that the structure tier of a screen
(and anyone with a table of structural descriptors) calls: it takes the candidates'
formulas and the structure-only features of :func:`~screening.surrogates.features.structure_descriptor_row`
(``struct_*`` and ``bvse_*`` columns) and returns the structure-aware conductivity with its
80 % interval. Which model sits behind it is the business of this module and of
:mod:`screening.training.conductivity`; callers only see the columns of
:data:`STRUCTURE_CONDUCTIVITY_COLUMNS`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from screening.surrogates.conformal import Z80
from screening.surrogates.features import CONDUCTIVITY_FEATURES, feature_table, structural_feature_labels
from screening.surrogates.persistence import STRUCTURE_MODEL_NAME, Surrogate, load_model

__all__ = ["STRUCTURE_CONDUCTIVITY_COLUMNS", "structure_conductivity"]

#: the columns :func:`structure_conductivity` returns besides ``candidate_id``
STRUCTURE_CONDUCTIVITY_COLUMNS = (
    "structure_log10_sigma_S_cm",
    "structure_log10_sigma_S_cm_std",
    "structure_log10_sigma_S_cm_lo80",
    "structure_log10_sigma_S_cm_hi80",
)


def structure_conductivity(
    formulas: list[str] | pd.Series, features: pd.DataFrame, models_dir: str | Path | None = None
) -> pd.DataFrame:
    """The structure-aware conductivity of each row (log10 S/cm) with its 80 % conformal interval.

    Parameters
    ----------
    formulas
        One formula per row.
    features
        One row per formula with the structure-only feature columns the model was trained
        on (those of ``structure_descriptor_row(structure, bvse=True)``); extra columns are
        ignored. A row with a missing required feature (the card's ``required_features``:
        volumes, Li coordination, percolation dimension ...) gets NaN (the caller keeps the
        composition estimate there); other missing values (a NaN BVSE barrier) the model takes.

    Returns
    -------
    DataFrame
        :data:`STRUCTURE_CONDUCTIVITY_COLUMNS`, row for row with the input (same index).
    """
    formulas = list(formulas)
    if len(formulas) != len(features):
        raise ValueError(f"structure_conductivity: {len(formulas)} formulas for {len(features)} feature rows")
    if not formulas:
        return pd.DataFrame(np.nan, index=features.index, columns=list(STRUCTURE_CONDUCTIVITY_COLUMNS))
    model = load_model(STRUCTURE_MODEL_NAME, models_dir)
    Xc, err, strata = feature_table(formulas, "conductivity")
    composition = Xc.to_numpy(float)[:, : len(CONDUCTIVITY_FEATURES)]
    composition[np.array([e is not None for e in err], dtype=bool)] = np.nan  # an unreadable formula: no estimate for its row
    return estimate(model, composition, np.asarray(strata), features)


def structure_labels(model: Surrogate) -> list[str]:
    """The structure-only feature names ``model`` was trained on (after the composition features)."""
    labels = model.card.get("feature_labels") or (CONDUCTIVITY_FEATURES + structural_feature_labels(model.card.get("uses_bvse", False)))
    return list(labels[len(CONDUCTIVITY_FEATURES):])


def estimate(model: Surrogate, composition: np.ndarray, strata: np.ndarray, features: pd.DataFrame) -> pd.DataFrame:
    """``model``'s conductivity and 80 % interval from composition features and structure features, row for row.

    The one place the structure-aware model is applied (:func:`structure_conductivity` and
    :func:`screening.predict`'s structure rows). A row gets NaN where a composition feature or one
    of the card's ``required_features`` (default: every non-BVSE structure feature) is missing;
    the model takes the other missing values (a NaN barrier, no Li-Li distance ...).
    """
    out = pd.DataFrame(np.nan, index=features.index, columns=list(STRUCTURE_CONDUCTIVITY_COLUMNS))
    labels = structure_labels(model)
    missing = [k for k in labels if k not in features]
    if missing:
        raise KeyError(f"structure_conductivity: feature columns missing: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    S = features[labels].to_numpy(float)
    required = model.card.get("required_features")  # the columns the model cannot do without (default: every non-BVSE one)
    needed = np.array([k in required if required is not None else not k.startswith("bvse_") for k in labels], dtype=bool)
    ok = np.isfinite(composition).all(axis=1) & np.isfinite(S[:, needed]).all(axis=1)
    if ok.any():
        mean, lo, hi = model.regressor.predict_interval(np.hstack([composition, S])[ok], strata[ok])
        rows = out.index[ok]
        col = STRUCTURE_CONDUCTIVITY_COLUMNS[0]
        out.loc[rows, col], out.loc[rows, f"{col}_std"] = mean, (hi - lo) / (2 * Z80)
        out.loc[rows, f"{col}_lo80"], out.loc[rows, f"{col}_hi80"] = lo, hi
    return out
