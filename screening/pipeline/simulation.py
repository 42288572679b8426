"""Tier 2 of a screening run: the best candidates simulated with a universal interatomic potential.

The candidates' structures come from the run's :class:`~screening.pipeline.sources.CandidateSource`
(the OBELiX CIF, the CIF file, or the enumerated parent with its substitutions), handed to
:func:`screening.simulation.simulate_table` (ordering, relaxation, MLIP energy above the
reference hull, MD Li transport); :func:`screening.pipeline.ranked.use_simulated` puts the
simulated numbers in place of the surrogate's for the ranking where they exist
(``conductivity_source`` / ``e_hull_ranked_source`` say which). Needs the ``mlip`` extra (torch, chgnet or sevenn, matcalc,
pymatgen-analysis-diffusion).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from screening import columns
from screening.columns import SIGMA

__all__ = ["SIMULATION_COLUMNS", "relax_tier", "simulation_tier"]

#: simulated columns the ranking uses, and where their value goes
SIMULATION_COLUMNS = {"mlip_e_hull_eV_atom": "e_hull_eV_atom", "mlip_log10_sigma_S_cm": SIGMA}


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
