"""Thermodynamic stability against a reference convex hull of Materials Project ground states.

The reference data are the formation energies (eV/atom, elements at 0) of the 85,014
ground-state compositions compiled by Bartel et al. (2020) from the Materials Project.
:class:`ReferenceHull` (:mod:`.hull`) holds the reference phases on the hull, indexed by
element, and answers, for a composition:

* :meth:`ReferenceHull.energy_above_hull` - distance from the hull (negative below it);
* :meth:`ReferenceHull.electrochemical_window` - the Li/Li+ window of Zhu, He and Mo
  (ACS Appl. Mater. Interfaces 7, 23685 (2015)): the range of Li chemical potential over
  which the material neither takes up nor releases lithium;
* :meth:`ReferenceHull.reaction_energy` - the most negative reaction energy of the
  interface with a partner (Li metal, a cathode, water), as pymatgen's
  ``InterfacialReactivity`` defines it (Richards et al., Chem. Mater. 28, 266 (2016)).

Two methods compute the same numbers (``method=``, default ``"lp"``): linear programs
(:mod:`.lp`, HiGHS, about 10 ms a formula) and pymatgen phase diagrams
(:mod:`.reference`, the reference the tests compare the LPs with).

Candidates (:func:`stability_table`, :func:`stability_descriptors`): a composition in the
reference data gets the descriptors of its reference phase (``window_source =
"reference"``; a reference phase above the hull is treated like a candidate at its
reference energy). A composition outside it with a (predicted) formation energy enters the
hull as a phase of its own (``"predicted"``): its window is that of the phase made stable,
placed ``stabilisation_eV_atom`` below the hull of the other phases (Zhu, He and Mo treat
their metastable candidates as on the hull; a phase exactly on a facet has a zero-width
window, so it is lowered a little), and its interface reaction energies use the predicted
formation energy clipped at the hull (a candidate predicted below the hull is reported at
the hull, ``e_hull_clipped = True``, not as a new ground state). Without a formation
energy, the window is that of the hull facet at the composition (``"facet"``; the width
may be zero). Elements absent from the reference data, and chemical systems of more than
``max_elements`` elements, raise :class:`~screening.errors.UnsupportedChemistryError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from screening.chemistry import as_composition
from screening.descriptors.stability.hull import (
    MAX_ELEMENTS,
    METHODS,
    ElectrochemicalWindow,
    ReferenceHull,
    SystemTable,
    _SystemTable,
    default_hull,
    reference_elements,
)
from screening.descriptors.stability.reference import minimum_energy as _minimum_energy

__all__ = [
    "reference_elements",
    "ReferenceHull",
    "ElectrochemicalWindow",
    "default_hull",
    "energy_above_hull",
    "electrochemical_window",
    "reaction_energy",
    "stability_descriptors",
    "stability_table",
    "STABILITY_COLUMNS",
    "as_composition",
    "DEFAULT_PARTNERS",
    "MAX_ELEMENTS",
    "METHODS",
    "STABILISATION_eV_atom",
    "WINDOW_SOURCES",
    "Z80",
]
_ = (SystemTable, _SystemTable, _minimum_energy)  # re-exported for old imports

#: Partners of :func:`stability_descriptors`: the anode, a 4 V layered-oxide cathode, and
#: water (moisture sensitivity: sulfides that hydrolyse release H2S).
DEFAULT_PARTNERS = {"Li": "li", "LiCoO2": "licoo2", "H2O": "h2o"}

#: window and interface columns of :func:`stability_table` besides ``e_hull_eV_atom``,
#: ``e_hull_eV_atom_std`` and ``e_hull_source``: the window (V vs Li/Li+), the interface
#: reaction energies (eV/atom), where the window comes from (:data:`WINDOW_SOURCES`), the
#: upper 80% bound of the energy above the hull (eV/atom) and whether a predicted energy
#: below the hull was clipped to it
STABILITY_COLUMNS = (
    "window_low_V", "window_high_V", "window_width_V", "e_rxn_li_eV_atom", "e_rxn_licoo2_eV_atom", "e_rxn_h2o_eV_atom",
    "window_source", "e_hull_eV_atom_hi80", "e_hull_clipped",
)  # fmt: skip

#: ``window_source`` values: the reference phase, the candidate at its predicted energy, the hull facet
WINDOW_SOURCES = ("reference", "predicted", "facet")
#: how far below the hull of the other phases a candidate is placed for its own window (eV/atom)
STABILISATION_eV_atom = 0.01
#: one-sided z of the upper 80% bound (central 80% interval: 10% above it)
Z80 = 1.2815515655446004
#: a reference phase this close to the hull (eV/atom) is one of its vertices
_ON_HULL_TOL = 1e-9


def energy_above_hull(composition: str | Composition, formation_energy_eV_atom: float) -> float:
    """Energy above the default reference hull (eV/atom); see :meth:`ReferenceHull.energy_above_hull`."""
    return default_hull().energy_above_hull(composition, formation_energy_eV_atom)


def electrochemical_window(composition: str | Composition) -> tuple[float, float]:
    """``(low_V, high_V)`` against Li/Li+ of the default hull at this composition (Zhu, He and Mo 2015).

    This is the hull's window: the composition's own phase's when that phase is a vertex of the
    hull, the facet's (its decomposition products') otherwise, e.g. for Li10GeP2S12, whose
    reference phase lies above the hull. The screen reports the window of the composition's own
    phase, made stable (:func:`stability_descriptors`, ``window_source``), so the two differ for
    such compositions (LGPS: 1.72-2.29 V here, 1.70-2.36 V there).
    """
    w = default_hull().electrochemical_window(composition)
    return w.low_V, w.high_V


def reaction_energy(composition: str | Composition, partner: str | Composition, formation_energy_eV_atom: float | None = None) -> float:
    """Most negative interface reaction energy (eV/atom) with ``partner`` on the default hull.

    The composition enters at ``formation_energy_eV_atom`` when given, else at the hull energy.
    The screen uses the reference (DFT) energy of a composition in the reference data instead
    of a given one (:func:`stability_descriptors`), so the two can differ.
    """
    return default_hull().reaction_energy(composition, partner, formation_energy_eV_atom)


def stability_descriptors(
    composition: str | Composition,
    formation_energy_eV_atom: float | None = None,
    hull: ReferenceHull | None = None,
    method: str | None = None,
    candidate: bool = False,
    stabilisation_eV_atom: float = STABILISATION_eV_atom,
) -> dict:
    """Every stability descriptor of a composition, names carrying units.

    Keys: ``window_low_V``, ``window_high_V``, ``window_width_V``, ``e_rxn_li_eV_atom``,
    ``e_rxn_licoo2_eV_atom``, ``e_rxn_h2o_eV_atom``, ``hull_formation_energy_eV_atom``,
    ``reference_formation_energy_eV_atom`` (NaN when the composition is not in the
    reference data), ``window_source`` and ``e_hull_eV_atom`` (NaN without a formation
    energy; the given one wins over the reference one). ``method``: ``"lp"`` or
    ``"pymatgen"`` (default: the hull's).

    ``candidate=True`` with a finite ``formation_energy_eV_atom`` and a composition outside
    the reference data: the window and reaction energies are the candidate phase's own
    (``window_source = "predicted"``, see the package docstring); ``e_hull_eV_atom`` is then
    clipped at 0 (``e_hull_clipped``) and ``e_hull_raw_eV_atom`` keeps the unclipped value.
    Otherwise the window is the reference phase's (``"reference"``) or the facet's (``"facet"``).
    """
    hull = hull or default_hull()
    comp = as_composition(composition)
    ref = 0.0 if comp.is_element else hull.reference_formation_energy(comp)
    e_hull_at = hull.hull_energy(comp, method=method)
    e_given = float("nan") if formation_energy_eV_atom is None else float(formation_energy_eV_atom)
    given = bool(np.isfinite(e_given))
    source = "reference" if np.isfinite(ref) else ("predicted" if candidate and given else "facet")
    # the composition's own phase: its reference energy, or the candidate's clipped at the hull
    own = ref if source == "reference" else (max(e_given, e_hull_at) if source == "predicted" else None)
    if source == "predicted" or (own is not None and own - e_hull_at > _ON_HULL_TOL):  # not a vertex of the hull
        window = hull.electrochemical_window(comp, method=method, phase_energy_eV_atom=e_hull_at - stabilisation_eV_atom)
        e_own: float | None = own
    else:
        window = hull.electrochemical_window(comp, method=method)
        e_own = None
    out: dict = {"window_low_V": window.low_V, "window_high_V": window.high_V, "window_width_V": window.width_V}
    for partner, key in DEFAULT_PARTNERS.items():
        out[f"e_rxn_{key}_eV_atom"] = hull.reaction_energy(comp, partner, formation_energy_eV_atom=e_own, method=method)
    out["hull_formation_energy_eV_atom"] = e_hull_at
    out["reference_formation_energy_eV_atom"] = float("nan") if comp.is_element else ref
    out["window_source"] = source
    ef = e_given if given else ref
    out["e_hull_eV_atom"] = float(ef - e_hull_at) if np.isfinite(ef) else float("nan")
    if source == "predicted":
        out["e_hull_raw_eV_atom"] = out["e_hull_eV_atom"]
        out["e_hull_clipped"] = bool(out["e_hull_eV_atom"] < 0)
        out["e_hull_eV_atom"] = max(out["e_hull_eV_atom"], 0.0)
    return out


def stability_table(
    formulas: Iterable[str],
    formation_energy_eV_atom: Iterable[float] | None = None,
    formation_energy_eV_atom_std: Iterable[float] | None = None,
    hull: ReferenceHull | None = None,
    progress: Callable[[int, int], None] | None = None,
    method: str | None = None,
    stabilisation_eV_atom: float = STABILISATION_eV_atom,
) -> pd.DataFrame:
    """Stability descriptors of many formulas, one row each, with an ``error`` text per row.

    A composition in the reference data uses its reference (DFT) formation energy
    (``e_hull_source = window_source = "reference"``, ``e_hull_eV_atom_std = 0``); one
    outside it with a finite given (predicted) formation energy is added to the hull as a
    candidate phase (``"predicted"``; see the package docstring): ``e_hull_eV_atom`` is the
    predicted energy minus the hull energy, clipped at 0 (``e_hull_clipped``), its spread
    ``e_hull_eV_atom_std`` is the formation energy's (the hull is fixed) and
    ``e_hull_eV_atom_hi80 = max(0, e_hull + 1.2816 std)`` the upper bound of its central 80%
    interval (NaN when the spread is unknown; equal to ``e_hull_eV_atom`` for references).
    Without either, the e_hull columns are NaN and the window is the facet's (``"facet"``).
    Unsupported chemistry (element not in the reference data, too many elements) gives an
    error row. ``progress(done, total)`` is called after each row.
    """
    hull = hull or default_hull()
    formulas = list(formulas)
    n = len(formulas)
    ef = np.full(n, np.nan) if formation_energy_eV_atom is None else np.asarray(list(formation_energy_eV_atom), float)
    ef_std = np.full(n, np.nan) if formation_energy_eV_atom_std is None else np.asarray(list(formation_energy_eV_atom_std), float)
    cache: dict[tuple, dict] = {}
    rows = []
    for i, formula in enumerate(formulas):
        row: dict = {"error": None}
        try:
            comp = as_composition(formula)
            e_i = float(ef[i]) if np.isfinite(ef[i]) else None
            key = (comp.reduced_formula, e_i)
            if key not in cache:
                cache[key] = stability_descriptors(comp, e_i, hull=hull, method=method, candidate=True,
                                                   stabilisation_eV_atom=stabilisation_eV_atom)  # fmt: skip
            row.update(cache[key])
            if row["window_source"] == "reference":  # the reference energy wins over a given one
                e = 0.0 if comp.is_element else row["reference_formation_energy_eV_atom"] - row["hull_formation_energy_eV_atom"]
                row.update(e_hull_eV_atom=e, e_hull_eV_atom_std=0.0, e_hull_source="reference", e_hull_eV_atom_hi80=e)
            elif row["window_source"] == "predicted":
                std = float(ef_std[i])
                hi = max(0.0, row["e_hull_raw_eV_atom"] + Z80 * std) if np.isfinite(std) else float("nan")
                row.update(e_hull_eV_atom_std=std, e_hull_source="predicted", e_hull_eV_atom_hi80=hi)
        except Exception as exc:  # one bad row never stops the batch
            row["error"] = f"stability of {formula}: {type(exc).__name__}: {exc}"
        rows.append(row)
        if progress:
            progress(i + 1, n)
    table = pd.DataFrame(rows, index=range(n)) if rows else pd.DataFrame({"error": pd.Series(dtype=object)})
    for col in ("e_hull_clipped", "e_hull_eV_atom", "e_hull_eV_atom_std", "e_hull_eV_atom_hi80", *STABILITY_COLUMNS):
        if col not in table:
            table[col] = np.nan
    for col in ("e_hull_source", "window_source"):
        table[col] = table[col].astype(object).where(table[col].notna(), None) if col in table else None  # type: ignore[call-overload]  # pandas-stubs refuses None as `other`, pandas takes it
    clipped = table["e_hull_clipped"].astype(object).where(table["e_hull_clipped"].notna(), None)  # type: ignore[call-overload]  # as above
    clipped[table["window_source"] == "reference"] = False
    table["e_hull_clipped"] = pd.array(clipped.tolist(), dtype="boolean")  # a boolean column (NA without a hull), never text
    return table
