"""Ranking candidates on several objectives at once: hard filters, Pareto ranks, weighted score.

An objective is a column and a direction (``+1`` higher is better, ``-1`` lower is
better). :func:`rank` drops nothing: rows that fail a filter or miss an objective keep
their place in the table with ``passes_filters = False`` and sink to the bottom.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_OBJECTIVES", "DEFAULT_WEIGHTS", "pareto_ranks", "apply_filters", "rank"]

#: column -> direction (+1 maximise, -1 minimise)
DEFAULT_OBJECTIVES: dict[str, int] = {
    "log10_sigma_S_cm": +1,  # fast Li-ion conduction
    "window_width_V": +1,  # wide electrochemical window
    "window_low_V": -1,  # low reduction potential: closer to Li metal
    "e_rxn_li_eV_atom": +1,  # reaction energy with Li metal (closer to 0 is better)
}

#: default weights of the weighted score (only objectives present in the table count)
DEFAULT_WEIGHTS: dict[str, float] = {
    "log10_sigma_S_cm": 1.0,
    "window_width_V": 0.5,
    "window_low_V": 0.25,
    "e_rxn_li_eV_atom": 0.25,
}


def pareto_ranks(values: np.ndarray) -> np.ndarray:
    """Non-dominated sorting of rows of ``values`` (all objectives to be maximised).

    Returns the front index of each row: 1 for the Pareto front, 2 for the front once the
    first is removed, and so on. Rows with any NaN get rank 0 (not ranked).
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    ranks = np.zeros(n, dtype=int)
    valid = np.isfinite(values).all(axis=1)
    remaining = np.flatnonzero(valid)
    front = 1
    while remaining.size:
        sub = values[remaining]
        # row i is dominated when some row j is >= on all and > on at least one objective
        ge = (sub[None, :, :] >= sub[:, None, :]).all(axis=2)
        gt = (sub[None, :, :] > sub[:, None, :]).any(axis=2)
        dominated = (ge & gt).any(axis=1)
        ranks[remaining[~dominated]] = front
        remaining = remaining[dominated]
        front += 1
    return ranks


def apply_filters(table: pd.DataFrame, filters: Mapping[str, tuple[float | None, float | None]] | None) -> pd.Series:
    """Boolean mask of rows within every ``column: (min, max)`` bound (None: unbounded)."""
    mask = pd.Series(True, index=table.index)
    for column, (low, high) in (filters or {}).items():
        if column not in table:
            raise KeyError(f"filter on {column!r}: no such column (have {', '.join(map(str, table.columns))})")
        values = pd.to_numeric(table[column], errors="coerce")
        if low is not None:
            mask &= values >= low
        if high is not None:
            mask &= values <= high
    return mask


def rank(
    table: pd.DataFrame,
    weights: Mapping[str, float] | None = None,
    filters: Mapping[str, tuple[float | None, float | None]] | None = None,
    objectives: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Rank a table of candidates on several objectives.

    Adds ``passes_filters``, ``pareto_rank`` (1 = non-dominated among rows that pass the
    filters; 0 = not ranked), ``score`` (weighted sum of objectives standardised over the
    rows that pass) and ``rank`` (1 = best: filters first, then Pareto front, then score).
    """
    objectives = dict(objectives or DEFAULT_OBJECTIVES)
    weights = dict(weights or DEFAULT_WEIGHTS)
    unknown = set(weights) - set(objectives)
    if unknown:
        raise KeyError(f"weights for unknown objectives: {sorted(unknown)} (objectives: {sorted(objectives)})")
    used = [c for c in objectives if c in table]
    if not used:
        raise KeyError(f"none of the objectives {sorted(objectives)} is a column of the table")
    out = table.copy()
    passes = apply_filters(out, filters)
    signed = np.column_stack([pd.to_numeric(out[c], errors="coerce").to_numpy(float) * objectives[c] for c in used])
    signed[~np.isfinite(signed)] = np.nan
    passes &= np.isfinite(signed).all(axis=1)
    out["passes_filters"] = passes.to_numpy()
    ranks = np.zeros(len(out), dtype=int)
    idx = np.flatnonzero(out["passes_filters"].to_numpy())
    if idx.size:
        ranks[idx] = pareto_ranks(signed[idx])
    out["pareto_rank"] = ranks
    score = np.full(len(out), np.nan)
    if idx.size:
        sub = signed[idx]
        std = sub.std(axis=0)
        z = (sub - sub.mean(axis=0)) / np.where(std > 0, std, 1.0)
        w = np.array([weights.get(c, 0.0) for c in used])
        score[idx] = z @ w
    out["score"] = score
    order = np.lexsort((-np.nan_to_num(score, nan=-np.inf), np.where(ranks > 0, ranks, np.iinfo(int).max)))
    out = out.iloc[order].reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out
