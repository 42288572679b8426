"""The steps of a screening run as plain functions over DataFrames.

Each step takes a table with a ``candidate_id`` column and returns a table keyed the same
way; a row that fails carries an ``error`` text and NaN numbers, and the step goes on.
``flows/`` arranges these steps into Prefect tasks; a notebook can call them directly.

The trained models are required: a screen never trains a model and never falls back
silently to another one; a missing or unreadable model raises
:class:`~screening.errors.ModelNotFoundError` naming the file and saying ``make train``.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from screening import columns
from screening.columns import SIGMA
from screening.config import get_settings
from screening.descriptors.composition import composition_table
from screening.descriptors.stability import STABILITY_COLUMNS, ReferenceHull, stability_table
from screening.errors import ModelNotFoundError

__all__ = [
    "describe_compositions",
    "describe_stability",
    "conductivity_from",
    "predict_conductivity",
    "predict_properties",
    "merge_errors",
    "require_models",
    "model_versions",
]


def describe_compositions(candidates: pd.DataFrame) -> pd.DataFrame:
    """Composition descriptors (Magpie + Li chemistry + family + raw-material cost) of each candidate."""
    from screening.descriptors.cost import cost_per_kg_many, excluded_fraction

    formulas = candidates["formula"].fillna("").astype(str).tolist()
    table = composition_table(formulas, check_balance=False)
    table.insert(0, "candidate_id", candidates["candidate_id"].to_numpy())
    table["cost_usd_per_kg"] = cost_per_kg_many(formulas)
    ok = table["error"].isna()
    table["excluded_element_fraction"] = np.nan
    table.loc[ok, "excluded_element_fraction"] = [excluded_fraction(f) for f in table.loc[ok, "formula"]]
    return table.drop(columns=["formula"])


def describe_stability(
    candidates: pd.DataFrame,
    hull: ReferenceHull | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Stability descriptors (window, interface reaction energies, hull) of each candidate.

    When ``candidates`` carries predicted ``formation_energy_eV_atom`` (and ``_std``), the
    energy above the hull of compositions outside the reference data comes from it; see
    :func:`screening.descriptors.stability.stability_table`.
    """
    formulas = candidates["formula"].where(candidates["formula"].notna(), "").astype(str).tolist()
    table = stability_table(
        formulas,
        candidates.get("formation_energy_eV_atom"),
        candidates.get("formation_energy_eV_atom_std"),
        hull=hull,
        progress=progress,
    )
    table.insert(0, "candidate_id", candidates["candidate_id"].to_numpy())
    return table


def conductivity_from(model, candidates: pd.DataFrame) -> pd.DataFrame:
    """``log10_sigma_S_cm`` and its spread ``log10_sigma_S_cm_std`` (log10 S/cm) from a given ``model``.

    ``model``: any object with ``name`` and ``predict(formulas) -> (mean, std)`` (a notebook's or
    a test's own model; :func:`composition_tier`'s ``model``). Screens use :func:`predict_properties`.
    """
    formulas = candidates["formula"].fillna("").astype(str).tolist()
    mean, std = model.predict(formulas)
    return pd.DataFrame(
        {
            "candidate_id": candidates["candidate_id"].to_numpy(),
            SIGMA: mean,
            "log10_sigma_S_cm_std": std,
            "model_conductivity": model.name,
        }
    )


def predict_conductivity(candidates: pd.DataFrame, model=None) -> pd.DataFrame:
    """Deprecated: it predicted with the random-forest baseline, which is no longer shipped.

    With ``model``: :func:`conductivity_from`. Without: the shipped ``conductivity`` model's
    ``log10_sigma_S_cm``, ``log10_sigma_S_cm_std`` and ``model_conductivity`` columns of
    :func:`predict_properties` (which also gives the intervals and the other properties).
    """
    warnings.warn("screening.pipeline.predict_conductivity is deprecated (it used the random-forest baseline, no longer "
                  "shipped): use predict_properties for the shipped models, or conductivity_from(model, candidates)",
                  DeprecationWarning, stacklevel=2)  # fmt: skip
    if model is not None:
        return conductivity_from(model, candidates)
    from screening.surrogates import load_model

    conductivity = _loaded("conductivity", lambda: load_model("conductivity"))
    out = predict_properties(candidates)
    columns = ["candidate_id", SIGMA, "log10_sigma_S_cm_std"]
    return out[columns].assign(model_conductivity=conductivity.name)


def merge_errors(*frames: pd.DataFrame) -> pd.Series | None:
    """One ``error`` text per candidate from the row errors of several step tables (``error`` or a tier's ``<tier>_error``)."""
    texts: pd.Series | None = None
    for frame in frames:
        name = next((c for c in _ERROR_COLUMNS if c in frame), None)
        if name is None:
            continue
        col = frame[name].where(frame[name].notna(), None)  # type: ignore[call-overload]  # pandas-stubs refuses None as `other`, pandas takes it
        texts = col if texts is None else texts.combine(col, _join_distinct)
    return texts


#: the row-error columns of a step table: a library function's ``error``, or a tier's (:func:`screening.columns.error_column`)
_ERROR_COLUMNS = tuple(dict.fromkeys(columns.error_column(t) for t in ("candidates", *columns.TIER_TABLES)))


def _join_distinct(a: str | None, b: str | None) -> str | None:
    """``"a; b"``, once when both steps give the same reason (an unparsable formula fails both)."""
    if a and b and b in a:
        return a
    return "; ".join(x for x in (a, b) if x) or None



# ------------------------------------------------------------------ trained models

def _model_names() -> tuple[str, ...]:
    from screening.surrogates import MODEL_NAMES

    return tuple(MODEL_NAMES)


def _loaded(name: str, load: Callable[[], object]):
    """``load()``, with any failure turned into a ModelNotFoundError naming the model's file."""
    path = Path(get_settings().models_dir) / name / "model.skops"
    try:
        return load()
    except ModelNotFoundError:
        raise
    except Exception as exc:  # skops/zip/pickle raise many types for a missing or corrupt file: all mean "retrain"
        raise ModelNotFoundError(
            f"{path}: trained model {name!r} cannot be loaded ({type(exc).__name__}: {exc}); run `make train`"
        ) from exc


def require_models() -> dict:
    """The trained surrogate models (name -> model), loaded once per process.

    Raises ModelNotFoundError naming the first missing or unreadable file and saying
    ``make train``; never trains and never falls back to another model.
    """
    from screening.surrogates import load_model

    return {name: _loaded(name, functools.partial(load_model, name)) for name in _model_names()}


def predict_properties(candidates: pd.DataFrame, stability: bool = False, descriptors: pd.DataFrame | None = None) -> pd.DataFrame:
    """Surrogate predictions of a chunk, keyed by ``candidate_id``, errors in ``prediction_error``.

    Uses :func:`screening.surrogates.predict` (conductivity in log10 S/cm, formation energy
    and e_hull in eV/atom, moduli in GPa, K_IC in MPa m^0.5, each with its uncertainty).
    The trained models must exist (:func:`require_models`). ``descriptors``: the
    :func:`describe_compositions` table of the same candidates, row for row, whose Magpie
    and chemistry columns the models then reuse.
    """
    from screening.surrogates import predict

    require_models()
    out = predict(candidates[["candidate_id", "formula"]].reset_index(drop=True), stability=stability, descriptors=descriptors)
    drop = ["formula", "family", "prototype"]
    if not stability:  # left to the stability tier, which writes its own table
        drop += ["e_hull_eV_atom", "e_hull_eV_atom_std", "e_hull_source", *STABILITY_COLUMNS]
    out = out.drop(columns=[c for c in drop if c in out])
    return columns.tier_errors(out, "prediction")


def model_versions(names: tuple[str, ...] | None = None) -> dict[str, str]:
    """Name -> short SHA-256 (12 hex digits) of each trained model artifact under ``SCREENING_MODELS_DIR``.

    With ``names``, each of those models must exist (ModelNotFoundError otherwise).
    """
    root = Path(get_settings().models_dir)
    out = {}
    for path in sorted(root.glob("*/*.skops")):
        out[path.parent.name] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    for name in names or ():
        if name not in out:
            raise ModelNotFoundError(f"{root / name / 'model.skops'}: no trained model {name!r}; run `make train`")
    return out
