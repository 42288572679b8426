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
from screening.surrogates.persistence import STRUCTURE_MODEL_NAME, load_model

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
        ignored. A row with a missing non-BVSE feature gets NaN (the caller keeps the
        composition estimate there); a missing BVSE barrier is a NaN the trees take.

    Returns
    -------
    DataFrame
        :data:`STRUCTURE_CONDUCTIVITY_COLUMNS`, row for row with the input (same index).
    """
    formulas = list(formulas)
    if len(formulas) != len(features):
        raise ValueError(f"structure_conductivity: {len(formulas)} formulas for {len(features)} feature rows")
    out = pd.DataFrame(np.nan, index=features.index, columns=list(STRUCTURE_CONDUCTIVITY_COLUMNS))
    if not formulas:
        return out
    model = load_model(STRUCTURE_MODEL_NAME, models_dir)
    labels = model.card.get("feature_labels") or (CONDUCTIVITY_FEATURES + structural_feature_labels(model.card.get("uses_bvse", False)))
    struct_labels = labels[len(CONDUCTIVITY_FEATURES):]
    missing = [k for k in struct_labels if k not in features]
    if missing:
        raise KeyError(f"structure_conductivity: feature columns missing: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    S = features[struct_labels].to_numpy(float)
    Xc, err, strata = feature_table(formulas, "conductivity")
    needed = np.array([not k.startswith("bvse_") for k in struct_labels])
    ok = np.array([e is None for e in err]) & np.isfinite(S[:, needed]).all(axis=1)
    if ok.any():
        X = np.hstack([Xc.to_numpy(float)[:, : len(CONDUCTIVITY_FEATURES)], S])[ok]
        mean, lo, hi = model.regressor.predict_interval(X, np.asarray(strata)[ok])
        col = STRUCTURE_CONDUCTIVITY_COLUMNS[0]
        out.loc[out.index[ok], col] = mean
        out.loc[out.index[ok], f"{col}_std"] = (hi - lo) / (2 * Z80)
        out.loc[out.index[ok], f"{col}_lo80"] = lo
        out.loc[out.index[ok], f"{col}_hi80"] = hi
    return out
