"""The pymatgen path of the stability descriptors (``method="pymatgen"``), the reference the
linear programs of :mod:`.lp` are tested against.

A :class:`~pymatgen.analysis.phase_diagram.PhaseDiagram` of the chemical system (qhull),
its element profile for the window (Zhu, He and Mo 2015) and
:class:`~pymatgen.analysis.interface_reactions.InterfacialReactivity` for the interface
reaction energies (Richards et al. 2016). 0.2-0.5 s for a new six- or seven-element system.
"""

from __future__ import annotations

import math

import numpy as np
from pymatgen.analysis.interface_reactions import InterfacialReactivity
from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.analysis.reaction_calculator import ReactionError
from pymatgen.core import Composition, Element

from screening.descriptors.stability.lp import Window

_EVOLUTION_TOL = 1e-6


def with_phase(pd: PhaseDiagram, comp: Composition, energy_eV_atom: float) -> PhaseDiagram:
    """The phase diagram with ``comp`` at this formation energy (eV/atom) in place of every
    entry of the same reduced formula."""
    entry = PDEntry(comp, float(energy_eV_atom) * comp.num_atoms, name=comp.reduced_formula)
    others = [e for e in pd.all_entries if e.composition.reduced_formula != comp.reduced_formula]
    return PhaseDiagram([*others, entry])


def window(pd: PhaseDiagram, comp: Composition) -> Window:
    """Li/Li+ window of ``comp`` from the element profile of ``pd`` (which must hold Li)."""
    li = Element("Li")
    mu_li0 = pd.el_refs[li].energy_per_atom
    profile = pd.get_element_profile(li, comp)
    # profile is ordered from Li-rich (mu_Li = mu_Li0, 0 V) to Li-poor; entry i holds
    # the reaction that applies from its critical potential up to that of entry i+1.
    volts = [-(step["chempot"] - mu_li0) for step in profile]
    evolution = [step["evolution"] for step in profile]
    stable = [i for i, e in enumerate(evolution) if abs(e) < _EVOLUTION_TOL]
    if stable:
        i = stable[0]
        low = max(volts[i], 0.0) + 0.0
        high = volts[i + 1] if i + 1 < len(volts) else math.inf
        red = str(profile[i - 1]["reaction"]) if i > 0 else "stable against Li metal"
        ox = str(profile[i + 1]["reaction"]) if i + 1 < len(profile) else "no Li released"
    else:  # zero-width window: Li uptake turns into Li release at one potential
        i = next((k for k, e in enumerate(evolution) if e < 0), len(evolution))
        v = volts[i] if i < len(volts) else volts[-1]
        low = high = max(v, 0.0) + 0.0
        red = str(profile[i - 1]["reaction"]) if i > 0 else ""
        ox = str(profile[i]["reaction"]) if i < len(profile) else ""
    return Window(float(low), float(high), red, ox)


def reaction_energy(pd: PhaseDiagram, c1: Composition, c2: Composition, formation_energy_eV_atom: float | None) -> float:
    """Most negative interface reaction energy (eV/atom) of ``c1`` with ``c2`` (``norm=True``);
    ``c1`` at the hull energy, or at ``formation_energy_eV_atom`` when given."""
    use_hull = formation_energy_eV_atom is None
    if formation_energy_eV_atom is not None:
        pd = with_phase(pd, c1, formation_energy_eV_atom)
    ir = InterfacialReactivity(c1, c2, pd, norm=True, use_hull_energy=use_hull)
    return float(min(0.0, minimum_energy(ir)))


def minimum_energy(ir: InterfacialReactivity) -> float:
    """Most negative reaction energy along the mixing line (eV/atom).

    ``InterfacialReactivity.minimum`` also balances the reaction at every kink, which
    fails (``ReactionError``) for compositions with many-digit amounts such as
    ``Li24.19992Si0.2P3.8S20Br4``; the energies are then taken at the same kinks without
    the reactions (:func:`minimum_energy_at_kinks`).
    """
    try:
        return float(ir.minimum[1])
    except ReactionError:
        return minimum_energy_at_kinks(ir)


def minimum_energy_at_kinks(ir: InterfacialReactivity) -> float:
    """Lowest reaction energy (eV/atom) at the critical compositions, without balancing.

    Relies on pymatgen's private ``InterfacialReactivity._get_energy(ratio)`` and on
    ``get_kinks``' mixing-ratio convention; tests/descriptors/stability/test_stability.py checks both against
    ``ir.minimum`` so that a pymatgen release changing them fails a test.
    """
    c1 = ir.pd.pd_coords(ir.comp1)
    c2 = ir.pd.pd_coords(ir.comp2)
    n1, n2 = ir.comp1.num_atoms, ir.comp2.num_atoms
    energies = []
    for comp in ir.pd.get_critical_compositions(ir.comp1, ir.comp2):
        ratio = float(np.linalg.norm(ir.pd.pd_coords(comp) - c2) / np.linalg.norm(c1 - c2))
        ratio = ratio * n2 / (n1 + ratio * (n2 - n1))  # as pymatgen's get_kinks
        energies.append(ir._get_energy(ratio))
    return float(min(energies))
