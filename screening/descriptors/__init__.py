"""Descriptors of candidate electrolytes, as plain functions and matminer-style featurizers.

Modules:

* :mod:`.composition` - Magpie statistics, Li and anion chemistry, family (formula only);
* :mod:`.stability` - reference hull, electrochemical window, interface reactions;
* :mod:`.structural` - Li sublattice, bottlenecks, anion framework (structures);
* :mod:`.bondvalence` - bond-valence site-energy migration barriers (structures);
* :mod:`.mechanics` - Young's modulus, Poisson and Pugh ratios, fracture toughness,
  Monroe-Newman ratio (from bulk and shear moduli);
* :mod:`.cost` - raw-material cost and share of excluded elements (formula only).

:func:`describe` returns every descriptor that applies to one item; :func:`describe_table`
does it for many, with a progress bar, ``n_jobs`` processes and per-row error capture.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import Any

import pandas as pd
from pymatgen.core import Composition, Structure

__all__ = ["describe", "describe_table"]


def _as_item(item: Any) -> Composition | Structure:
    """A pymatgen Composition for formulas, a Structure for structures (files, ase Atoms)."""
    from screening.chemistry import as_composition
    from screening.structures import to_structure

    if isinstance(item, Composition):
        return item
    if isinstance(item, Structure):
        return to_structure(item)  # checked: cell, size, occupancies, coincident atoms
    if isinstance(item, str) and not item.lower().endswith((".cif", ".vasp", ".poscar", ".json", ".xyz")):
        return as_composition(item)
    return to_structure(item)


def describe(
    item: Any,
    *,
    stability: bool = True,
    bvse: bool = True,
    bvse_timeout_s: float = 30.0,
    K_GPa: float | None = None,
    G_GPa: float | None = None,
) -> dict[str, Any]:
    """Every descriptor that applies to a formula, a pymatgen Structure, an ase Atoms or a file.

    Parameters
    ----------
    item
        A formula (``"Li6PS5Cl"``), a pymatgen ``Composition`` or ``Structure``, an ase
        ``Atoms`` or the path of a structure file.
    stability
        Compute the hull descriptors (window, reaction energies, ~0.05-0.3 s a new
        chemical system).
    bvse
        For structures, compute the bond-valence migration barriers (seconds a structure).
    bvse_timeout_s
        Time limit of the BVSE calculation of one structure.
    K_GPa, G_GPa
        Bulk and shear moduli, when known: adds the mechanical descriptors.

    Returns
    -------
    dict
        Descriptor name (with its unit) -> value. Names are those of the modules'
        ``*_descriptors`` functions. Raises a :class:`~screening.errors.ScreeningError`
        naming the item when it cannot be described at all.
    """
    from screening.descriptors.composition import composition_descriptors
    from screening.descriptors.cost import cost_descriptors

    obj = _as_item(item)
    structure = obj if isinstance(obj, Structure) else None
    comp = obj.composition.element_composition if isinstance(obj, Structure) else obj
    formula = comp.reduced_formula
    out: dict[str, Any] = {"formula": formula}
    out.update(composition_descriptors(comp))
    out.update(cost_descriptors(comp))
    if stability:  # on the nearest charge-balanced composition (a partially occupied CIF's often is not)
        from screening.descriptors.stability import stability_descriptors
        from screening.descriptors.stability.balance import balanced_composition

        balanced, rule = balanced_composition(comp)
        out.update(stability_descriptors(balanced))
        out.update(stability_formula=balanced.reduced_formula, stability_formula_rule=rule)
    if structure is not None:
        from screening.descriptors.structural import structural_descriptors

        out.update(structural_descriptors(structure))
        if bvse:
            from screening.descriptors.bondvalence import bondvalence_descriptors

            out.update(bondvalence_descriptors(structure, timeout_s=bvse_timeout_s))
    if K_GPa is not None and G_GPa is not None:
        from screening.descriptors.mechanics import mechanics_descriptors

        volume = out.get("volume_per_atom_A3", out.get("MagpieData mean GSvolume_pa", math.nan))
        out.update(mechanics_descriptors(K_GPa, G_GPa, volume))
    return out


def _describe_row(item: Any, options: dict[str, Any]) -> dict[str, Any]:
    try:
        return {**describe(item, **options), "error": None}
    except Exception as exc:  # one bad row never stops the batch
        name = item if isinstance(item, str) else getattr(getattr(item, "composition", None), "reduced_formula", repr(item)[:60])
        return {"error": f"{name}: {type(exc).__name__}: {exc}"}


def describe_table(
    items: Iterable[Any] | pd.Series,
    n_jobs: int = 1,
    pbar: bool = True,
    **options: Any,
) -> pd.DataFrame:
    """:func:`describe` over many items: one row each, in order, with an ``error`` column.

    A row that fails has NaN descriptors and an ``error`` text naming the item; the batch
    goes on. ``n_jobs > 1`` spreads the rows over that many processes.
    """
    from tqdm.auto import tqdm

    items = list(items)
    work = partial(_describe_row, options=options)
    if n_jobs > 1 and len(items) > 1:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            rows = list(tqdm(pool.map(work, items, chunksize=max(1, len(items) // (4 * n_jobs))), total=len(items), disable=not pbar, desc="describe"))
    else:
        rows = [work(item) for item in tqdm(items, disable=not pbar, desc="describe")]
    table = pd.DataFrame(rows, index=range(len(items)))
    cols = [c for c in table.columns if c != "error"] + ["error"]
    return table[cols]
