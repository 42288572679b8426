"""The ranked table of a run: the numbers its ranking uses, the ranking under a preset, its scores and funnel.

In the order of a run: :func:`ranking_columns` (what to read from the store), the better
tiers' numbers in place of the composition model's (the structure tier's
:func:`~screening.pipeline.structure.use_structure`, :func:`use_simulated`, then :func:`use_measured`), :func:`rank_funnel` (:func:`screening.ranking.rank` under the run's
preset), :func:`score_table` (the ``scores`` rows) and :func:`funnel_stages` (one funnel
stage per gate). :func:`rank_run` is all of it for a run's parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from screening import columns
from screening.columns import SIGMA
from screening.pipeline.params import ScreenParameters
from screening.pipeline.report import TOP_TABLE
from screening.pipeline.sources import CANDIDATE_COLUMNS
from screening.ranking import DEFAULT_GATES, KNOWN_COLUMNS, OBJECTIVES, PRESETS, rank, resolve_preset
from screening.shortlist import prototype_ranks
from screening.simulation.diffusion_fit import QUALITY

__all__ = ["MEASURED_SCATTER_LOG10", "MIN_MD_PS", "SCORE_COLUMNS", "funnel_stages", "rank_funnel", "rank_run",
           "ranking_columns", "report_columns", "score_table", "use_measured", "use_simulated", "with_details"]  # fmt: skip

_Z80 = 1.2816  # two-sided 80 % normal interval half-width in standard deviations


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
                  "mlip_md_ps", "mlip_transport_ok", "mlip_e_hull_eV_atom"})  # fmt: skip
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


#: the simulated conductivity replaces the surrogate's in the ranking only from MD at least this long
#: per temperature (ps), and only where the fit passed the quality checks (``mlip_transport_ok``:
#: :func:`screening.simulation.transport_quality`: Li MSD of about a hop or more, linear Arrhenius);
#: 0.5-2 ps runs did not order known conductors (benchmarks/results/simulation.md)
MIN_MD_PS = QUALITY["min_ps"]


#: the conductivity columns the ranking reads, which use_simulated and use_measured may overwrite in part
_CONDUCTIVITY = (SIGMA, "log10_sigma_S_cm_std", "log10_sigma_S_cm_lo80", "log10_sigma_S_cm_hi80")
#: the columns use_simulated may overwrite in part
_REPLACED = (*_CONDUCTIVITY, "e_hull_eV_atom")


def use_simulated(table: pd.DataFrame) -> pd.DataFrame:
    """Replace surrogate numbers by simulated ones where a candidate has them, and say which is which.

    The conductivity is replaced only where the MD ran at least :data:`MIN_MD_PS` per
    temperature (``mlip_md_ps``) and its fit passed the quality checks (``mlip_transport_ok``). Adds ``conductivity_source``
    (``simulation`` where it replaced the conductivity; elsewhere the source :func:`~screening.pipeline.use_structure`
    set, or ``composition``) and
    ``e_hull_ranked_source`` (the stability tier's ``e_hull_source``, or ``simulation``);
    the conductivity's std and 80 % bounds follow the simulated value (its MD statistical
    uncertainty) where one replaced it.
    """
    table = table.copy(deep=False)  # no copy of a 10^6-row table's data: the columns changed below are copied first
    for column in _REPLACED:
        if column in table:
            table[column] = table[column].copy()
    if "conductivity_source" in table:  # set by use_structure: kept where no simulated number replaces it
        table["conductivity_source"] = table["conductivity_source"].astype(object).copy()
    else:
        table["conductivity_source"] = "composition"
    base = table["e_hull_source"].astype(object) if "e_hull_source" in table else pd.Series(None, index=table.index, dtype=object)
    table["e_hull_ranked_source"] = base
    if "mlip_log10_sigma_S_cm" in table:
        sim = pd.to_numeric(table["mlip_log10_sigma_S_cm"], errors="coerce")
        md_ps = pd.to_numeric(table.get("mlip_md_ps", pd.Series(np.nan, index=table.index)), errors="coerce")
        ok = table["mlip_transport_ok"].astype("boolean").fillna(False) if "mlip_transport_ok" in table else False
        has = sim.notna() & (md_ps >= MIN_MD_PS) & ok  # a short or failed fit stays in the mlip_ columns, not in the ranking
        std = pd.to_numeric(table.get("mlip_log10_sigma_S_cm_std", np.nan), errors="coerce")
        std = std.where(std.notna(), 0.0) if isinstance(std, pd.Series) else pd.Series(0.0, index=table.index)
        _replace_conductivity(table, has, sim, std, "simulation")
    if "mlip_e_hull_eV_atom" in table:
        sim = pd.to_numeric(table["mlip_e_hull_eV_atom"], errors="coerce")
        has = sim.notna()
        table.loc[has, "e_hull_eV_atom"] = sim[has]
        table.loc[has, "e_hull_ranked_source"] = "simulation"
    return table


def _replace_conductivity(table: pd.DataFrame, rows: pd.Series, value: pd.Series, std: pd.Series | float, source: str) -> None:
    """In place, on ``rows``: the conductivity the ranking reads, its std and 80 % bounds, and its source."""
    std = std[rows] if isinstance(std, pd.Series) else std
    table.loc[rows, SIGMA] = value[rows]
    table.loc[rows, "log10_sigma_S_cm_std"] = std
    table.loc[rows, "log10_sigma_S_cm_lo80"] = value[rows] - _Z80 * std
    table.loc[rows, "log10_sigma_S_cm_hi80"] = value[rows] + _Z80 * std
    table.loc[rows, "conductivity_source"] = source


#: the standard deviation of a measured log10 conductivity as a ranking uses it: the pooled scatter
#: of OBELiX compositions measured more than once (65 compositions, 163 rows; different groups,
#: samples and polymorphs): ``screening.training.conductivity.repeat_scatter`` (tested to match)
MEASURED_SCATTER_LOG10 = 0.795


def use_measured(table: pd.DataFrame) -> pd.DataFrame:
    """Rank on the measured conductivity where a candidate has one (``measured_log10_sigma_S_cm``).

    A measurement wins over a simulated or predicted value: ``log10_sigma_S_cm`` becomes the
    measured value, its std :data:`MEASURED_SCATTER_LOG10` (with 80 % bounds to match) and
    ``conductivity_source`` ``measured``. Apply it after :func:`use_simulated` (which adds the
    source column). The stored prediction is untouched; the ``scores`` table keeps the number
    the ranking used.
    """
    if "measured_log10_sigma_S_cm" not in table:
        return table
    measured = pd.to_numeric(table["measured_log10_sigma_S_cm"], errors="coerce")
    has = measured.notna()
    if not has.any():
        return table
    table = table.copy(deep=False)  # as use_simulated: only the columns changed are copied
    for column in (*_CONDUCTIVITY, "conductivity_source"):
        table[column] = table[column].copy()
    _replace_conductivity(table, has, measured, MEASURED_SCATTER_LOG10, "measured")
    return table


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


def rank_run(table: pd.DataFrame, params: ScreenParameters, pool: bool = False) -> pd.DataFrame:
    """A run's table (the :func:`ranking_columns` it needs) ranked under its parameters, rows in the table's order.

    The structure-aware and simulated conductivities replace the composition model's where they
    exist (:func:`~screening.pipeline.structure.use_structure`, :func:`use_simulated`), measured
    ones replace all with ``use_measured``; then :func:`rank_funnel` under the run's preset,
    weights, filters, ``kappa`` and ``e_hull_z``, unsorted (``rank`` gives the order: sorting
    would copy every column of a 10^6-row run).

    ``pool``: the ranking that chooses the structure tier's candidates: on the tiers before it
    only (a resumed run, whose structure and simulation rows are stored already, chooses the same
    candidates, so its chunks come from the cache), every gate on the conductivity off (the
    structure estimate may lift a candidate over the floor the composition model put it under).
    """
    from screening.pipeline.structure import use_structure

    if pool:
        table = table.drop(columns=[c for c in table.columns if c.startswith(("structure_", "mlip_"))])
    table = use_simulated(use_structure(table))
    if params.use_measured:
        table = use_measured(table)
    filters = dict(params.filters)
    if pool:
        gates = {**resolve_preset(params.preset).gates, **filters}
        filters.update({c: (None, None) for c in gates if c.startswith(SIGMA)})
    return rank_funnel(table, weights=params.weights.chosen(), filters=filters, preset=params.preset,
                       kappa=params.kappa, e_hull_z=params.e_hull_z, sort=False)  # fmt: skip


def funnel_stages(ranked: pd.DataFrame) -> dict[str, dict]:
    """The funnel's stages after the tiers: one per applied gate (over the rows that entered it), and the ranking."""
    stages: dict[str, dict] = {}
    for gate in ranked.attrs.get("gate_funnel", []):
        if gate["applied"]:
            bounds = f"{'' if gate['min'] is None else gate['min']}..{'' if gate['max'] is None else gate['max']}"
            stages[f"gate {gate['gate']} in [{bounds}]"] = {k: gate[k] for k in ("in", "failed", "unchecked")} | {"out": gate["remaining"]}
    stages["ranking"] = {"in": len(ranked), "out": int(ranked[columns.PASSES].sum()) if len(ranked) else 0, "failed": 0}
    return stages
