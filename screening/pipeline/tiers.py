"""The tiers of a screening run over one chunk of candidates, and the ranking of a whole run.

``composition_tier`` (descriptors + surrogate predictions, ~1 ms a candidate) runs on
every candidate; ``stability_tier`` (electrochemical window, interface reaction
energies, hull; ~10 ms a formula) on the best of them; ``rank_funnel`` ranks the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from screening import columns
from screening.descriptors.stability import ReferenceHull
from screening.pipeline.report import TOP_TABLE
from screening.pipeline.sources import CANDIDATE_COLUMNS
from screening.pipeline.steps import (
    conductivity_from,
    describe_compositions,
    describe_stability,
    merge_errors,
    predict_properties,
)
from screening.ranking import DEFAULT_GATES, KNOWN_COLUMNS, OBJECTIVES, PRESETS, rank, resolve_preset
from screening.shortlist import prototype_ranks

__all__ = ["composition_tier", "stability_tier", "rank_funnel", "ranking_columns", "report_columns", "with_details", "score_table", "SCORE_COLUMNS"]

#: columns of the ``scores`` table (besides ``candidate_id``): the registry's ranking tier
SCORE_COLUMNS = list(columns.SCORE_COLUMNS)


def score_table(ranked: pd.DataFrame) -> pd.DataFrame:
    """The ``scores`` rows of a ranked run: the ranking tier's registered columns that ``ranked`` has.

    Besides the verdict (``passes_gates``, ``gate_failed``, ``missing``, ``complete``,
    ``monroe_newman_pass``, ``score``, ``pareto_rank``, ``rank``), ``ranked_log10_sigma_S_cm``
    and ``ranked_e_hull_eV_atom`` are the conductivity and e_hull the ranking read (simulated
    where the simulation tier replaced the surrogate's, see :func:`screening.pipeline.use_simulated`),
    next to their sources; the ``ranked`` view shows them beside the tiers' own numbers.
    """
    out = ranked[["candidate_id", *(c for c in SCORE_COLUMNS if c in ranked)]].copy()
    for column, name in ((columns.SIGMA, columns.RANKED_SIGMA), (columns.E_HULL, columns.RANKED_E_HULL)):
        if column in ranked:
            out[name] = pd.to_numeric(ranked[column], errors="coerce").to_numpy(float)
    return out


def ranking_columns(filters: dict | None = None, measured: bool = False) -> list[str]:
    """The columns of a run that its ranking and its structure and simulated-number swaps read.

    Every objective and gate any preset names with its uncertainty columns, every column a
    filter may name, and the simulation tier's: the ranking of a 10^6-row run reads these
    from the store instead of every column of every table (reading 21 columns of the 10^6-row
    benchmark run peaked 625 MB above the process's memory before, about 30 MB a column; a
    one-off measurement). ``measured``: also the measured conductivity,
    for :func:`~screening.pipeline.use_measured`. The columns only the report shows for its
    best rows (formula, prototype ...) are :func:`report_columns`.
    """
    names = {"candidate_id", "error", "family", "prototype", "G_over_G_Li", *DEFAULT_GATES, *(filters or {})}
    if measured:
        names.add(columns.MEASURED_SIGMA)
    for c in list(OBJECTIVES) + [g for preset in PRESETS.values() for g in preset.gates]:
        names.update({c, f"{c}_std", f"{c}_lo80", f"{c}_hi80"})
    names.update({"e_hull_source", "window_source", "e_hull_clipped", columns.MLIP_SIGMA, f"{columns.MLIP_SIGMA}_std",
                  "mlip_md_ps", "mlip_e_hull_eV_atom"})  # fmt: skip
    names.update(c for c in columns.names("structure") if c.startswith("structure_log10_sigma_S_cm"))  # use_structure's
    return sorted(names)


def report_columns() -> list[str]:
    """Stored columns the run's report shows (top table, printout, plot labels) that :func:`ranking_columns` leaves out."""
    computed = set(SCORE_COLUMNS)  # made by the ranking
    wanted = {*CANDIDATE_COLUMNS, *TOP_TABLE, *KNOWN_COLUMNS} - {"substitutions"} - computed
    return sorted(wanted - set(ranking_columns()))


def with_details(ranked: pd.DataFrame, details: pd.DataFrame) -> pd.DataFrame:
    """``ranked`` with the columns of ``details`` (keyed by ``candidate_id``, a few rows) added in place.

    The rows ``details`` has get its values, the others None/NaN: the report shows only its
    best rows, so a 10^6-row ranking does not carry every formula.
    """
    where = pd.Series(np.arange(len(ranked)), index=ranked["candidate_id"].to_numpy())
    rows = where.reindex(details["candidate_id"].to_numpy()).dropna().astype(int).to_numpy()
    found = details[details["candidate_id"].isin(where.index)]
    for column in details.columns.drop("candidate_id"):
        numeric = pd.api.types.is_numeric_dtype(details[column]) and not pd.api.types.is_bool_dtype(details[column])
        values = np.full(len(ranked), np.nan) if numeric else np.full(len(ranked), None, dtype=object)
        values[rows] = found[column].to_numpy(float if numeric else object)
        ranked[column] = values
    return ranked


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


def rank_funnel(
    table: pd.DataFrame,
    weights: dict[str, float] | None = None,
    filters: dict | None = None,
    pool: int | None = None,
    *,
    preset: str = "balanced",
    kappa: float = 0.0,
    e_hull_z: float = 0.0,
    sort: bool = True,
) -> pd.DataFrame:
    """:func:`screening.ranking.rank` of a run under a named preset (gates + weights), ``kappa`` and ``e_hull_z``.

    Every row is ranked (the non-dominated sort scales); ``pool`` optionally ranks only the
    best ``pool`` rows by predicted conductivity, the others following with ``pareto_rank = 0``.

    Only objectives this table has a value for are ranked on: a column with no number at
    all (a tier the run did not compute, present because an earlier run in the same store
    had it) is left out, and so is a preset gate on such a column, so the columns of other
    runs never change how a run is ranked.
    An empty table gives an empty ranking with the score columns. ``sort=False``: rows in
    the table's order, ``rank`` giving the order (no copy of the table's data).
    """
    if table.empty:
        empty = {c: pd.Series(dtype=columns.pandas_dtype(c)) for c in SCORE_COLUMNS}
        return table.assign(**empty)
    chosen = dict(weights) if weights else dict(resolve_preset(preset).weights)
    wanted = {c: OBJECTIVES[c].direction for c, w in chosen.items() if w > 0}
    numeric = {c: pd.to_numeric(table[c], errors="coerce") for c in wanted if c in table}
    objectives = {c: d for c, d in wanted.items() if c in numeric and numeric[c].notna().any()}
    # a preset gate on a column this run never computed (all NaN) is not applied either
    unfilled = [c for c in resolve_preset(preset).gates if c in table and c not in (filters or {})
                and c not in objectives and pd.to_numeric(table[c], errors="coerce").isna().all()]  # fmt: skip
    dropped = [c for c in numeric if c not in objectives] + unfilled
    if dropped:  # (no copy of a 10^6-row table when there is nothing to drop)
        table = table.drop(columns=dropped)
    weights = {k: v for k, v in chosen.items() if k in objectives}
    filters = {k: v for k, v in (filters or {}).items() if k in table}
    if pool is None or pool >= len(table):  # every row ranked: no pre-sort
        head, tail = table, table.iloc[:0]
    else:
        key = pd.to_numeric(table[columns.SIGMA], errors="coerce") if columns.SIGMA in table else np.nan
        complete = table[list(objectives)].apply(pd.to_numeric, errors="coerce").notna().all(axis=1)
        order = table.assign(_k=key, _c=complete).sort_values(["_c", "_k"], ascending=False, na_position="last")
        head, tail = order.head(pool).drop(columns=["_k", "_c"]), order.iloc[pool:].drop(columns=["_k", "_c"])
    ranked = rank(head, weights=weights or None, filters=filters, objectives=objectives, kappa=kappa, preset=preset,
                  e_hull_z=e_hull_z, sort=sort or len(tail) > 0)  # fmt: skip
    if len(tail):
        tail = tail.assign(**{columns.PASSES: False}, pareto_rank=0, score=np.nan, why="not ranked: outside the pool")
        tail["rank"] = np.arange(len(ranked) + 1, len(ranked) + len(tail) + 1)
        ranked = pd.concat([ranked, tail], ignore_index=True)
    ranked["prototype_rank"] = prototype_ranks(ranked)  # the per-prototype cap of the run's table (screening.shortlist)
    return ranked
