"""Relaxation, formation energy against same-potential elemental references, energy above the hull.

* :func:`relax` - cell and positions with ase FIRE on a ``FrechetCellFilter``.
* :func:`elemental_energies` - energy per atom (eV/atom) of the Materials Project elemental
  reference structures (``datasets/mp_elemental_refs/MP-PBE-Element-Refs.json.gz``, as
  matcalc uses them), each relaxed with the same potential, cached per potential.
* :func:`formation_energy` - ``(E - sum n_el mu_el) / N`` in eV/atom, plus the MP2020 anion
  corrections for a potential trained on uncorrected energies.

Corrections: CHGNet 0.3.0 was trained on MPtrj with the MP2020-compatible (corrected)
energies as targets, so its energies already carry the anion and GGA/GGA+U corrections
and none is added. SevenNet-0 (11Jul2024) was trained on the raw (uncorrected) MPtrj
energies; for it the MP2020 anion corrections (oxide, sulfide, halide, ... per anion atom,
from pymatgen's ``MaterialsProject2020Compatibility``) are added to the compound's
energy. The GGA+U corrections of transition-metal oxides/fluorides are not added (the run
type is unknown for a potential): a limit for such compounds. Elemental references carry
no correction in MP2020, so none is added to them.
"""

from __future__ import annotations

import gzip
import json
import threading
from functools import lru_cache

import numpy as np
from pymatgen.core import Composition, Element, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from screening.errors import SimulationError
from screening.simulation.potentials import check_potential, get_calculator

#: potentials whose energies need the MP2020 anion corrections added (trained on raw energies)
NEEDS_MP2020_CORRECTION = {"chgnet": False, "sevenn": True}
MAX_REF_ATOMS = 64
_lock = threading.Lock()


def relax(
    structure: Structure,
    potential: str = "chgnet",
    fmax: float = 0.05,
    steps: int = 300,
    relax_cell: bool = True,
    device: str | None = None,
) -> dict:
    """Relax cell (optional) and positions; return a dict of the result.

    Keys: ``structure`` (relaxed pymatgen Structure), ``energy_eV`` (total),
    ``energy_eV_atom``, ``fmax_eV_A`` (largest residual force), ``steps``, ``converged``
    (residual force <= ``fmax``), ``volume_change`` (relative). Raises
    :class:`SimulationError` on a non-finite energy or a failed optimiser.
    """
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    calc = get_calculator(potential, device)
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calc
    target = FrechetCellFilter(atoms) if relax_cell else atoms
    opt = FIRE(target, logfile=None)
    try:
        converged = bool(opt.run(fmax=fmax, steps=steps))
        energy = float(atoms.get_potential_energy())
        forces = atoms.get_forces()
    except Exception as exc:
        raise SimulationError(f"{structure.composition.reduced_formula}: relaxation failed ({type(exc).__name__}: {exc})") from exc
    if not np.isfinite(energy) or not np.isfinite(forces).all():
        raise SimulationError(f"{structure.composition.reduced_formula}: relaxation gave a non-finite energy or force")
    relaxed = AseAtomsAdaptor.get_structure(atoms)
    if "magmoms" in relaxed.site_properties:
        relaxed.remove_site_property("magmoms")
    return {
        "structure": relaxed,
        "energy_eV": energy,
        "energy_eV_atom": energy / len(atoms),
        "fmax_eV_A": float(np.linalg.norm(forces, axis=1).max()) if len(forces) else 0.0,
        "steps": int(opt.get_number_of_steps()),
        "converged": converged,
        "volume_change": relaxed.volume / structure.volume - 1.0,
    }


@lru_cache(maxsize=1)
def _reference_structures() -> dict[str, Structure]:
    from screening.datasets import dataset_path

    path = dataset_path("mp_elemental_refs/MP-PBE-Element-Refs.json.gz")
    with gzip.open(path, "rt") as fh:
        raw = json.load(fh)
    out = {}
    for el, rec in raw.items():
        structs = rec["structure"] if isinstance(rec["structure"], list) else [rec["structure"]]
        energies = rec["energy_per_atom"] if isinstance(rec["energy_per_atom"], list) else [rec["energy_per_atom"]]
        order = np.argsort(energies)
        # the lowest-energy polymorph that is small enough; else the smallest one
        small = [i for i in order if len(structs[i]["sites"]) <= MAX_REF_ATOMS]
        pick = small[0] if small else min(range(len(structs)), key=lambda i: len(structs[i]["sites"]))
        out[el] = Structure.from_dict(structs[pick])
    return out


_ref_cache: dict[tuple[str, str], float] = {}


def elemental_energy(element: str, potential: str = "chgnet", device: str | None = None) -> float:
    """Energy per atom (eV/atom) of an element's MP reference structure relaxed with ``potential``."""
    name = check_potential(potential)
    el = Element(element).symbol
    key = (name, el)
    with _lock:
        if key in _ref_cache:
            return _ref_cache[key]
    refs = _reference_structures()
    if el not in refs:
        raise SimulationError(f"element {el}: no MP elemental reference structure")
    e = relax(refs[el], name, fmax=0.05, steps=300, device=device)["energy_eV_atom"]
    with _lock:
        _ref_cache[key] = e
    return e


def elemental_energies(elements, potential: str = "chgnet", device: str | None = None) -> dict[str, float]:
    """``{element: eV/atom}`` for each element (see :func:`elemental_energy`)."""
    return {Element(e).symbol: elemental_energy(e, potential, device) for e in elements}


def mp2020_anion_correction(structure: Structure, energy_eV: float) -> float:
    """MP2020 anion (and oxide-type) correction in eV for the whole cell (negative or zero).

    Uses pymatgen's ``MaterialsProject2020Compatibility`` on a GGA entry of this
    structure and keeps only the composition (anion) corrections.
    """
    from pymatgen.entries.compatibility import MaterialsProject2020Compatibility
    from pymatgen.entries.computed_entries import ComputedStructureEntry

    compat = MaterialsProject2020Compatibility(check_potcar=False)
    entry = ComputedStructureEntry(structure, energy_eV, parameters={"run_type": "GGA", "hubbards": {}, "is_hubbard": False})
    try:
        adjustments = compat.get_adjustments(entry)
    except Exception:  # e.g. a GGA+U system judged inconsistent: no correction rather than a dead row
        return 0.0
    return float(sum(a.value for a in adjustments if "Hubbard" not in type(a).__name__ and "U " not in a.name))


def formation_energy(
    structure: Structure, energy_eV: float, potential: str = "chgnet", device: str | None = None
) -> tuple[float, float]:
    """``(formation energy eV/atom, correction eV/atom)`` of a relaxed structure's energy.

    References: :func:`elemental_energy` with the same potential. The correction is
    :func:`mp2020_anion_correction` for potentials in :data:`NEEDS_MP2020_CORRECTION`, else 0.
    """
    name = check_potential(potential)
    comp: Composition = structure.composition
    refs = elemental_energies([el.symbol for el in comp.elements], name, device)
    correction = mp2020_anion_correction(structure, energy_eV) if NEEDS_MP2020_CORRECTION[name] else 0.0
    n = comp.num_atoms
    ef = (energy_eV + correction - sum(comp[el] * refs[el.symbol] for el in comp.elements)) / n
    return float(ef), float(correction / n)
