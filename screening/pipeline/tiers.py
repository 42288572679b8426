"""The tiers of a screening run over one chunk of candidates.

``composition_tier`` (descriptors + surrogate predictions, ~1 ms a candidate) runs on
every candidate; ``stability_tier`` (electrochemical window, interface reaction
energies, hull; ~10 ms a formula) on the best of them. The ranking of a whole run is
:mod:`screening.pipeline.ranked`.
"""

from __future__ import annotations

import pandas as pd

from screening import columns
from screening.descriptors.stability import ReferenceHull
from screening.pipeline.sources import CANDIDATE_COLUMNS
from screening.pipeline.steps import (
    conductivity_from,
    describe_compositions,
    describe_stability,
    merge_errors,
    predict_properties,
)

__all__ = ["composition_tier", "stability_tier"]

def composition_tier(candidates: pd.DataFrame, model=None) -> dict[str, pd.DataFrame]:
    """Tier 0 of one chunk: composition descriptors and surrogate predictions.

    Returns the tables ``candidates``, ``descriptors`` and ``predictions`` (keyed by
    ``candidate_id``), ready for :meth:`screening.store.ResultStore.write`. A bad row keeps
    its place with NaN numbers and the reason in ``candidates.error``. ``model``: a
    conductivity model to use instead of the trained surrogates (for tests and notebooks).
    """
    comp = describe_compositions(candidates)
    pred = conductivity_from(model, candidates) if model is not None else predict_properties(candidates, descriptors=comp)
    base = candidates[[c for c in CANDIDATE_COLUMNS if c in candidates]].copy().reset_index(drop=True)
    base["error"] = merge_errors(base, comp.reset_index(drop=True), pred)
    if "family" not in base:
        base["family"] = None
    base["family"] = base["family"].where(base["family"].notna(), comp["family"].to_numpy())  # type: ignore[call-overload]  # pandas-stubs: `other` as an array
    descriptors = comp.drop(columns=["error", "family"], errors="ignore")
    return {"candidates": base, "descriptors": descriptors, "predictions": pred}


def stability_tier(candidates: pd.DataFrame, hull: ReferenceHull | None = None) -> pd.DataFrame:
    """The stability tier of a chunk: :func:`describe_stability`, errors in ``stability_error``."""
    wanted = [c for c in ("candidate_id", "formula", "formation_energy_eV_atom", "formation_energy_eV_atom_std") if c in candidates]
    out = describe_stability(candidates[wanted].reset_index(drop=True), hull=hull)
    return columns.tier_errors(out, "stability")
