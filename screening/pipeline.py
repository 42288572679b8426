"""The steps of a screening run as plain functions over DataFrames.

Each step takes a table with a ``candidate_id`` column and returns a table keyed the same
way; a row that fails carries an ``error`` text and NaN numbers, and the step goes on.
``flows/`` arranges these steps into Prefect tasks; a notebook can call them directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from screening.datasets import load_obelix
from screening.descriptors.composition import composition_table
from screening.descriptors.stability import ReferenceHull, default_hull, stability_descriptors
from screening.structures import read_structure, structure_id, text_id

__all__ = [
    "obelix_candidates",
    "cif_candidates",
    "describe_compositions",
    "describe_stability",
    "predict_conductivity",
    "merge_errors",
]


def obelix_candidates(with_structures: bool = True) -> pd.DataFrame:
    """The OBELiX entries that have a CIF, as candidates (``source = "obelix"``)."""
    df = load_obelix("all", structures=with_structures)
    df = df[df["has_cif"]].reset_index(drop=True)
    out = pd.DataFrame(
        {
            "candidate_id": "obelix-" + df["id"],
            "formula": df["formula"],
            "source": "obelix",
            "prototype": df["obelix_family"],
            "parent": df["id"],
            "measured_log10_sigma_S_cm": df["log10_sigma_S_cm"],
            "error": df["structure_error"] if with_structures else None,
        }
    )
    if with_structures:
        out["structure"] = df["structure"]
    return out


def cif_candidates(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Candidates read from CIF (or POSCAR) files; an unreadable file becomes an error row naming it."""
    rows = []
    for path in sorted(Path(p) for p in paths):
        row = {"source": "file", "prototype": None, "parent": path.name, "measured_log10_sigma_S_cm": np.nan}
        try:
            structure = read_structure(path)
            row.update(
                candidate_id=structure_id(structure),
                formula=structure.composition.reduced_formula,
                structure=structure,
                error=None,
            )
        except Exception as exc:
            row.update(candidate_id=text_id(str(path.resolve()), prefix="file"), formula=None, structure=None, error=str(exc))
        rows.append(row)
    return pd.DataFrame(rows)


def describe_compositions(candidates: pd.DataFrame) -> pd.DataFrame:
    """Composition descriptors (Magpie + Li chemistry + family) of each candidate."""
    formulas = candidates["formula"].fillna("").astype(str).tolist()
    table = composition_table(formulas, check_balance=False)
    table.insert(0, "candidate_id", candidates["candidate_id"].to_numpy())
    return table.drop(columns=["formula"])


def describe_stability(
    candidates: pd.DataFrame,
    hull: ReferenceHull | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Stability descriptors (window, interface reaction energies, hull) of each candidate.

    Results are computed once per reduced formula. ``progress(done, total)`` is called
    after each formula.
    """
    hull = hull or default_hull()
    cache: dict[str, dict] = {}
    rows = []
    formulas = candidates["formula"].tolist()
    for i, formula in enumerate(formulas):
        if not isinstance(formula, str) or not formula:
            rows.append({"error": "no formula"})
            continue
        if formula not in cache:
            try:
                cache[formula] = {**stability_descriptors(formula, hull=hull), "error": None}
            except Exception as exc:
                cache[formula] = {"error": f"stability of {formula}: {type(exc).__name__}: {exc}"}
        rows.append(cache[formula])
        if progress:
            progress(i + 1, len(formulas))
    out = pd.DataFrame(rows, index=range(len(candidates)))
    out.insert(0, "candidate_id", candidates["candidate_id"].to_numpy())
    return out


def predict_conductivity(candidates: pd.DataFrame, model=None) -> pd.DataFrame:
    """Baseline conductivity prediction: ``log10_sigma_S_cm`` and its spread ``log10_sigma_S_cm_std``."""
    from screening.surrogates import load_conductivity_baseline

    model = model or load_conductivity_baseline()
    formulas = candidates["formula"].fillna("").astype(str).tolist()
    mean, std = model.predict(formulas)
    return pd.DataFrame(
        {
            "candidate_id": candidates["candidate_id"].to_numpy(),
            "log10_sigma_S_cm": mean,
            "log10_sigma_S_cm_std": std,
            "model_conductivity": model.name,
        }
    )


def merge_errors(*frames: pd.DataFrame) -> pd.Series:
    """One ``error`` text per candidate from the ``error`` columns of several step tables."""
    texts = None
    for frame in frames:
        if "error" not in frame:
            continue
        col = frame["error"].where(frame["error"].notna(), None)
        texts = col if texts is None else texts.combine(col, lambda a, b: "; ".join(x for x in (a, b) if x) or None)
    return texts
