"""The structure tier of a screening run: each of the best candidates described from its own structure.

Between the stability and the simulation tiers, on the best ``structure_top_k`` candidates
of the ranking after the stability tier (:func:`structure_pool`). For each one its structure
(the enumerator's substituted parent, the OBELiX CIF or the file's, from the run's candidate
source) gives:

* the structural descriptors of :func:`screening.descriptors.structural.structural_descriptors`
  (volume per anion, packing, Li-Li distances and coordination, Li percolation, bottleneck
  radii, anion framework); its volume per atom is stored as ``structure_volume_per_atom_A3``
  beside tier 0's Magpie estimate ``volume_per_atom_A3``;
* the BVSE Li+ migration barriers in 1, 2 and 3 dimensions
  (:func:`screening.descriptors.bondvalence.bondvalence_descriptors`);
* the structure-aware conductivity (:func:`screening.surrogates.structure.structure_conductivity`)
  with its 80 % interval, which the ranking then uses in place of the composition model's
  (:func:`use_structure`; ``conductivity_source = "structure"``).

Disorder: the enumerator's structures carry the dopants as partial occupancies, and many CIFs
are disordered too. They are described as they are: the descriptors follow the disorder
policy of :mod:`screening.descriptors.structural` and the BVSE energy is the mean field of the
occupancy-weighted species (:mod:`screening.descriptors.bondvalence`); no ordered approximant is
built (ordering a 10^2-10^3-site supercell per candidate would cost more than the whole tier).
``structure_disorder`` says which rows this applies to.

A row whose structure is missing or cannot be described keeps its place with NaN numbers and
the reason in ``structure_error``; a failed BVSE leaves the other descriptors (and a
conductivity estimate the trees make without the barriers) and says so in ``structure_error``.
Nothing here imports Prefect: ``flows/screen.py`` maps :func:`structure_tier` over chunks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from screening import columns

__all__ = ["STRUCTURE_COLUMNS", "STRUCTURE_SOURCES", "describe_structure", "structure_pool", "structure_tier", "use_structure"]

#: candidate ``source`` -> ``structure_source``: where the structure the tier described came from
STRUCTURE_SOURCES = {"enumerated": "enumerated", "obelix": "obelix-cif", "file": "file"}
#: the structure-aware conductivity and its interval (the model's own names)
_SIGMA = ("structure_log10_sigma_S_cm", "structure_log10_sigma_S_cm_std", "structure_log10_sigma_S_cm_lo80",
          "structure_log10_sigma_S_cm_hi80")  # fmt: skip


def _descriptor_columns() -> list[str]:
    from screening.descriptors.bondvalence import FEATURE_LABELS as BVSE_LABELS
    from screening.descriptors.structural import FEATURE_LABELS

    return [_stored_name(k) for k in FEATURE_LABELS] + list(BVSE_LABELS)


def _stored_name(descriptor: str) -> str:
    """The store's name of a structural descriptor (its volume per atom is tier 0's name too)."""
    return "structure_volume_per_atom_A3" if descriptor == "volume_per_atom_A3" else descriptor


#: the columns of the ``structure`` table, in order (besides ``candidate_id``)
STRUCTURE_COLUMNS = ["structure_source", "structure_disorder", "structure_n_sites", *_descriptor_columns(), *_SIGMA,
                     "structure_wall_s", "structure_error"]  # fmt: skip


def describe_structure(structure) -> tuple[dict, dict | None, str | None]:
    """``(descriptors, model features, BVSE error)`` of one structure, sharing one computation of each descriptor.

    ``descriptors``: the stored columns (structural descriptors under their store names, BVSE
    barriers, ``structure_disorder``, ``structure_n_sites``); ``model features``: the row
    :func:`screening.surrogates.features.structure_descriptor_row` gives. Raises when the
    structural descriptors cannot be computed (no Li, no anion, no tessellation); a BVSE that
    fails gives NaN barriers and its error text.
    """
    from screening.descriptors.bondvalence import FEATURE_LABELS as BVSE_LABELS
    from screening.descriptors.bondvalence import bondvalence_descriptors
    from screening.descriptors.structural import structural_descriptors
    from screening.surrogates.features import structure_feature_row

    d = structural_descriptors(structure)
    bvse_error = None
    try:
        barriers = bondvalence_descriptors(structure)
    except Exception as exc:  # a BVSE failure keeps the other descriptors
        barriers, bvse_error = {}, f"BVSE: {type(exc).__name__}: {exc}"
    row = {_stored_name(k): v for k, v in d.items()}
    row.update({k: float(barriers.get(k, np.nan)) for k in BVSE_LABELS})
    row["structure_disorder"] = "ordered" if structure.is_ordered else "mean-field"
    row["structure_n_sites"] = len(structure)
    return row, structure_feature_row(d, barriers), bvse_error


def structure_tier(candidates: pd.DataFrame, structures: Sequence, models_dir=None) -> pd.DataFrame:
    """The structure tier of a chunk: one row per candidate (``candidate_id``), columns :data:`STRUCTURE_COLUMNS`.

    ``candidates``: ``candidate_id``, ``formula`` and (optionally) ``source``; ``structures``:
    one per row, a pymatgen Structure or an error text (as
    :func:`screening.pipeline.candidate_structures` gives). A row that cannot be described is a
    row with NaN numbers and ``structure_error``; the others are never lost.
    """
    frame = candidates.reset_index(drop=True)
    if len(structures) != len(frame):
        raise ValueError(f"structure_tier: {len(structures)} structures for {len(frame)} candidates")
    sources = frame["source"] if "source" in frame else pd.Series([None] * len(frame))
    rows, features, errors = [], [], []
    for structure, source in zip(structures, sources, strict=True):
        t = time.perf_counter()
        row: dict = {"structure_source": STRUCTURE_SOURCES.get(source, source)}
        feats, error = None, None
        if structure is None or isinstance(structure, str):
            error = structure or "no structure"
        else:
            try:
                described, feats, error = describe_structure(structure)
                row.update(described)
            except Exception as exc:  # every per-structure failure is this row's error, never the batch's
                error = f"{type(exc).__name__}: {exc}"
        row["structure_wall_s"] = time.perf_counter() - t
        rows.append(row)
        features.append(feats)
        errors.append(error)
    out = pd.DataFrame(rows).reindex(columns=STRUCTURE_COLUMNS)
    out.insert(0, "candidate_id", frame["candidate_id"].to_numpy())
    t = time.perf_counter()
    sigma = _conductivity(frame["formula"].tolist(), features, models_dir)
    for column in _SIGMA:
        out[column] = sigma[column].to_numpy(float)
    has_features = np.array([f is not None for f in features])
    if has_features.any():  # the model's cost, shared over the rows it estimated
        out.loc[has_features, "structure_wall_s"] += (time.perf_counter() - t) / has_features.sum()
    no_estimate = has_features & out["structure_log10_sigma_S_cm"].isna().to_numpy()
    errors = [e or (_no_estimate(f) if gap and f is not None else None) for e, f, gap in zip(errors, features, no_estimate, strict=True)]
    out["structure_error"] = np.array(errors, dtype=object)
    out["li_percolation_dim"] = pd.to_numeric(out["li_percolation_dim"], errors="coerce").astype("Int64")
    out["structure_n_sites"] = pd.to_numeric(out["structure_n_sites"], errors="coerce").astype("Int64")
    return out


def _no_estimate(features: dict) -> str:
    """Why the structure-aware model gave a described row no number: the features it lacks (a BVSE barrier it may lack)."""
    missing = [k for k, v in features.items() if not k.startswith("bvse_") and not np.isfinite(v)]
    what = f"structure features {', '.join(missing)} are not numbers" if missing else "the formula has no composition features"
    return f"no structure-aware conductivity: {what} (the composition model's conductivity is ranked)"


def _conductivity(formulas: list, features: list, models_dir) -> pd.DataFrame:
    """:func:`~screening.surrogates.structure.structure_conductivity` of the rows that have features (NaN elsewhere)."""
    from screening.surrogates.structure import structure_conductivity

    out = pd.DataFrame(np.nan, index=range(len(formulas)), columns=list(_SIGMA))
    rows = [i for i, f in enumerate(features) if f is not None]
    if rows:
        got = structure_conductivity([formulas[i] for i in rows], pd.DataFrame([features[i] for i in rows]), models_dir=models_dir)
        out.loc[rows, list(_SIGMA)] = got[list(_SIGMA)].to_numpy(float)
    return out


def structure_pool(ranked: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ``k`` best candidates of a ranking for the structure tier: ``candidate_id`` and ``rank``, best first.

    ``ranked``: the run ranked after the stability tier with the conductivity gates off (the
    structure estimate may lift a candidate over the conductivity floor the composition model
    put it under), so that the pool is the best of those that pass the stability gates.
    """
    passed = ranked.loc[ranked[columns.PASSES].astype(bool), ["candidate_id", "rank"]]
    return passed.nsmallest(k, "rank").reset_index(drop=True)


def use_structure(table: pd.DataFrame) -> pd.DataFrame:
    """Rank on the structure-aware conductivity where the structure tier gave one.

    ``log10_sigma_S_cm`` and its std and 80 % bounds become the structure model's
    (``structure_log10_sigma_S_cm*``, its own conformal interval) where that is a number, and
    ``conductivity_source`` says ``structure`` there (``composition`` elsewhere). Apply it
    before :func:`~screening.pipeline.use_simulated` and :func:`~screening.pipeline.use_measured`,
    which override it where they have a number (precedence measured > simulation > structure >
    composition). The stored predictions are untouched.
    """
    table = table.copy(deep=False)  # no copy of a 10^6-row table's data: the columns changed below are copied first
    if "conductivity_source" not in table:
        table["conductivity_source"] = "composition"
    if _SIGMA[0] not in table:
        return table
    value = pd.to_numeric(table[_SIGMA[0]], errors="coerce")
    has = value.notna().to_numpy()
    if not has.any():
        return table
    table["conductivity_source"] = table["conductivity_source"].astype(object).copy()
    for target, column in zip((columns.SIGMA, columns.SIGMA_STD, columns.SIGMA_LO80, columns.SIGMA_HI80), _SIGMA, strict=True):
        replaced = pd.to_numeric(table[target], errors="coerce").to_numpy(float, copy=True) if target in table else np.full(len(table), np.nan)
        replaced[has] = pd.to_numeric(table[column], errors="coerce").to_numpy(float)[has]
        table[target] = replaced
    table.loc[has, "conductivity_source"] = "structure"
    return table
