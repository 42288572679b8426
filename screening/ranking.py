"""Ranking candidates on several objectives at once: hard filters, Pareto ranks, weighted score.

An objective is a column and a direction (``+1`` higher is better, ``-1`` lower is
better). :func:`rank` drops nothing: rows that fail a filter or miss an objective keep
their place in the table with ``passes_filters = False`` and sink to the bottom.
Objectives absent from the table are skipped, so a table with only conductivity and
window columns ranks on those.

Uncertainty: with ``kappa > 0`` the conductivity objective becomes its upper confidence
bound ``log10_sigma_S_cm + kappa * log10_sigma_S_cm_std`` (optimism in the face of
uncertainty: an uncertain but possibly fast candidate is worth a look).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_OBJECTIVES", "DEFAULT_WEIGHTS", "UNCERTAINTY_COLUMNS", "pareto_ranks", "apply_filters", "rank"]

#: column -> direction (+1 maximise, -1 minimise)
DEFAULT_OBJECTIVES: dict[str, int] = {
    "log10_sigma_S_cm": +1,  # fast Li-ion conduction
    "window_width_V": +1,  # wide electrochemical window
    "window_low_V": -1,  # low reduction potential: closer to Li metal
    "e_rxn_li_eV_atom": +1,  # reaction energy with Li metal (closer to 0 is better)
    "K_IC_MPa_m05": +1,  # fracture toughness (Niu): less cracking at the interface
    "G_over_G_Li": +1,  # Monroe-Newman: stiffer than Li suppresses dendrites
    "cost_usd_per_kg": -1,  # raw-material cost
    "e_rxn_h2o_eV_atom": +1,  # reaction energy with water (closer to 0: less moisture sensitive)
}

#: default weights of the weighted score (only objectives present in the table count)
DEFAULT_WEIGHTS: dict[str, float] = {
    "log10_sigma_S_cm": 1.0,
    "window_width_V": 0.5,
    "window_low_V": 0.25,
    "e_rxn_li_eV_atom": 0.25,
    "K_IC_MPa_m05": 0.25,
    "G_over_G_Li": 0.25,
    "cost_usd_per_kg": 0.1,
    "e_rxn_h2o_eV_atom": 0.1,
}

#: objective -> column holding its standard deviation (used by the UCB score, ``kappa > 0``)
UNCERTAINTY_COLUMNS: dict[str, str] = {"log10_sigma_S_cm": "log10_sigma_S_cm_std"}


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
    for column, bounds in (filters or {}).items():
        if column not in table:
            raise KeyError(f"filter on {column!r}: no such column (have {', '.join(map(str, table.columns))})")
        try:
            low, high = bounds
        except (TypeError, ValueError):
            raise ValueError(f"filter on {column!r}: expected (min, max) with None for no bound, got {bounds!r}") from None
        for b in (low, high):
            if b is not None and not (isinstance(b, (int, float, np.number)) and np.isfinite(b)):
                raise ValueError(f"filter on {column!r}: bound {b!r} is not a finite number or None")
        if low is not None and high is not None and low > high:
            raise ValueError(f"filter on {column!r}: min {low} > max {high}")
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
    kappa: float = 0.0,
) -> pd.DataFrame:
    """Rank a table of candidates on several objectives.

    Parameters
    ----------
    table
        One row per candidate; objective columns that are missing are skipped.
    weights
        ``objective column -> weight >= 0`` of the weighted score (default
        :data:`DEFAULT_WEIGHTS`); objectives without a weight count 0 in the score but
        still shape the Pareto ranks.
    filters
        ``column -> (min, max)`` hard bounds, None for no bound (e.g.
        ``{"e_hull_eV_atom": (None, 0.1), "window_width_V": (1.0, None)}``).
    objectives
        ``column -> +1 (maximise) / -1 (minimise)`` (default :data:`DEFAULT_OBJECTIVES`).
    kappa
        Uncertainty-aware ranking: objectives with a std column
        (:data:`UNCERTAINTY_COLUMNS`) are replaced by ``value + direction * kappa * std``
        (upper confidence bound) in the Pareto ranks and the score. 0: plain means.

    Returns
    -------
    DataFrame
        The table sorted best first, with ``passes_filters``, ``pareto_rank`` (1 =
        non-dominated among rows that pass the filters; 0 = not ranked), ``score``
        (weighted sum of objectives standardised over the rows that pass) and ``rank``
        (1 = best: filters first, then Pareto front, then score); with ``kappa > 0`` also
        ``ucb_log10_sigma_S_cm``.

    Raises
    ------
    KeyError
        A weight or filter names a column that is not an objective / not in the table, or
        no objective is present.
    ValueError
        A weight is negative or not finite, a filter is malformed, ``kappa`` < 0, or an
        objective direction is not +1/-1.
    """
    objectives = dict(objectives or DEFAULT_OBJECTIVES)
    for c, d in objectives.items():
        if d not in (1, -1):
            raise ValueError(f"objective {c!r}: direction {d!r} must be +1 (maximise) or -1 (minimise)")
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = set(weights) - set(objectives)
    if unknown:
        raise KeyError(f"weights for unknown objectives: {sorted(unknown)} (objectives: {sorted(objectives)})")
    for c, w in weights.items():
        if not isinstance(w, (int, float, np.number)) or not np.isfinite(w) or w < 0:
            raise ValueError(f"weight of {c!r}: {w!r} is not a finite number >= 0")
    if not (isinstance(kappa, (int, float, np.number)) and np.isfinite(kappa) and kappa >= 0):
        raise ValueError(f"kappa={kappa!r}: expected a finite number >= 0")
    used = [c for c in objectives if c in table]
    if not used:
        raise KeyError(f"none of the objectives {sorted(objectives)} is a column of the table")
    out = table.copy()
    passes = apply_filters(out, filters)
    columns = []
    for c in used:
        values = pd.to_numeric(out[c], errors="coerce").to_numpy(float)
        std_col = UNCERTAINTY_COLUMNS.get(c)
        if kappa > 0 and std_col in out:
            values = values + objectives[c] * kappa * pd.to_numeric(out[std_col], errors="coerce").to_numpy(float)
            out[f"ucb_{c}"] = values
        columns.append(values * objectives[c])
    signed = np.column_stack(columns)
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
