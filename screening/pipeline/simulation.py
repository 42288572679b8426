"""Tier 2 of a screening run: the best candidates simulated with a universal interatomic potential.

The candidates' structures come from the run's :class:`~screening.pipeline.sources.CandidateSource`
(the OBELiX CIF, the CIF file, or the enumerated parent with its substitutions), handed to
:func:`screening.simulation.simulate_table` (ordering, relaxation, MLIP energy above the
reference hull, MD Li transport), and the simulated numbers replace the surrogate's for
the ranking where they exist (``conductivity_source`` / ``e_hull_ranked_source`` say
which). Needs the ``mlip`` extra (torch, chgnet or sevenn, matcalc,
pymatgen-analysis-diffusion).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from screening import columns
from screening.columns import SIGMA
from screening.simulation.diffusion_fit import QUALITY

__all__ = ["MEASURED_SCATTER_LOG10", "SIMULATION_COLUMNS", "relax_tier", "simulation_tier", "use_measured", "use_simulated"]

#: simulated columns the ranking uses, and where their value goes
SIMULATION_COLUMNS = {"mlip_e_hull_eV_atom": "e_hull_eV_atom", "mlip_log10_sigma_S_cm": SIGMA}
_Z80 = 1.2816  # two-sided 80 % normal interval half-width in standard deviations


def simulation_tier(
    candidates: pd.DataFrame, structures: Sequence, potential: str = "chgnet", settings: dict | None = None
) -> pd.DataFrame:
    """Simulate the candidates (one row each, keyed by ``candidate_id``); failures are rows with ``simulation_error``."""
    from screening.simulation import simulate_table

    frame = pd.DataFrame({"candidate_id": list(candidates["candidate_id"]), "structure": list(structures)})
    bad = frame["structure"].map(lambda s: isinstance(s, str))
    ok = frame[~bad].reset_index(drop=True)
    parts = []
    if len(ok):
        sim = simulate_table(ok, potential=potential, **(settings or {}))
        sim["candidate_id"] = ok["candidate_id"].to_numpy()
        parts.append(sim)
    if bad.any():
        parts.append(pd.DataFrame({"candidate_id": frame.loc[bad, "candidate_id"], "error": frame.loc[bad, "structure"]}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["candidate_id", "error"])
    out = out.drop(columns=[c for c in ("formula", "structure", "relaxed_structure", "id") if c in out])
    return columns.tier_errors(out, "simulation")


def relax_tier(candidates: pd.DataFrame, structures: Sequence, potential: str = "chgnet", batch_size: int = 16) -> pd.DataFrame:
    """The relax-only MLIP stage: MLIP e_hull of each candidate (no MD), batched where the potential allows.

    :func:`screening.simulation.batched.relax_table` on the candidates' structures (a string
    in ``structures`` is the error of a candidate without one); rows keyed by ``candidate_id``
    with the simulation table's columns, errors in ``simulation_error``. :func:`use_simulated`
    then gates and ranks on ``mlip_e_hull_eV_atom`` wherever it exists.
    """
    from screening.simulation.batched import relax_table

    out = relax_table(list(structures), potential=potential, batch_size=batch_size)
    out.insert(0, "candidate_id", list(candidates["candidate_id"]))
    return out.rename(columns={"error": "simulation_error"})


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
