"""Ordered approximants of disordered structures, cheap and capped in size.

A structure with partial occupancies gets the smallest supercell (up to ``max_atoms``
sites) in which every occupancy becomes a whole number of atoms, then ``n_trials``
seeded random orderings of it; the one with the lowest Ewald energy (pymatgen
:class:`~pymatgen.analysis.ewald.EwaldSummation` with oxidation states guessed by
pymatgen once per structure; without them the first trial, ``"random"``) is kept. The guesser
enumerates every sum of oxidation states per element and then their product, which explodes
on an approximant's formula with several multivalent cations (over 95 min in one OBELiX
candidate), so it is asked only when :func:`oxidation_guess_work` is at most
:data:`MAX_GUESS_WORK`. This is much cheaper than
pymatgen's exhaustive ``OrderDisorderedStructureTransformation`` on electrolyte cells
with tens of partially occupied Li sites, and it is an approximant: the real material
is disordered (a limit of the simulation tier).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
from pymatgen.core import Composition, Element, Structure

from screening.errors import SimulationError

DEFAULT_MAX_ATOMS = 160
#: most combinations pymatgen's oxidation-state guesser may enumerate for one ordering
MAX_GUESS_WORK = 200_000


def _guess_states(element: str) -> tuple:
    el = Element(element)
    return el.icsd_oxidation_states or el.common_oxidation_states  # the states pymatgen's guesser tries


def oxidation_guess_work(composition: Composition) -> int:
    """Combinations :meth:`Composition.oxi_state_guesses` enumerates for the reduced ``composition``.

    Per element of ``n`` atoms with ``k`` candidate states, C(n+k-1, k-1) combinations; then the
    product over the elements of their distinct sums (at most n*(max-min)+1 each). Non-integer
    amounts (the guesser refuses them) count as 0.
    """
    comp = composition.reduced_composition
    if any(amt != int(amt) for amt in comp.values()):
        return 0
    per_element, product = 0, 1
    for el, amt in comp.get_el_amt_dict().items():
        states, n = _guess_states(el), int(amt)
        if not states:
            return 0
        per_element += math.comb(n + len(states) - 1, len(states) - 1)
        product *= n * (max(states) - min(states)) + 1
    return per_element + product


def _oxidation_states(structure: Structure) -> dict[str, float] | None:
    """The most probable charge-balanced oxidation state of each element (pymatgen's guess), or None.

    None when there is no balanced guess, or when guessing would exceed :data:`MAX_GUESS_WORK`.
    """
    comp = structure.composition
    if not 0 < oxidation_guess_work(comp) <= MAX_GUESS_WORK:
        return None
    try:
        guesses = comp.oxi_state_guesses(max_sites=-1)
    except ValueError:
        return None
    return dict(guesses[0]) if guesses else None


def _supercell_multiplier(structure: Structure, max_denominator: int = 24) -> int:
    """Smallest integer m such that m * (count of each species on each orbit) is whole."""
    totals: dict = {}
    for site in structure:
        for sp, occ in site.species.items():
            totals[sp] = totals.get(sp, 0.0) + occ
    m = 1
    for occ in totals.values():
        frac = Fraction(occ).limit_denominator(max_denominator)
        m = math.lcm(m, frac.denominator)
    return m


def _scaling_matrix(structure: Structure, multiplier: int) -> list[int]:
    """Split a multiplier over the three axes, the shortest lattice vectors growing first."""
    scale = [1, 1, 1]
    lengths = list(structure.lattice.abc)
    remaining = multiplier
    for p in _prime_factors(remaining):
        axis = int(np.argmin([lengths[i] * scale[i] for i in range(3)]))
        scale[axis] *= p
    return scale


def _prime_factors(n: int) -> list[int]:
    out, d = [], 2
    while d * d <= n:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    if n > 1:
        out.append(n)
    return sorted(out, reverse=True)


def _random_ordering(supercell: Structure, rng: np.random.Generator) -> Structure:
    """Fill partially occupied sites by drawing whole atoms, species by species (vacancies dropped)."""
    groups: dict = {}
    for i, site in enumerate(supercell):
        key = tuple(sorted((str(sp), round(o, 4)) for sp, o in site.species.items()))
        groups.setdefault(key, []).append(i)
    species, coords = [], []
    for key, idx in groups.items():
        idx = list(rng.permutation(idx))
        start = 0
        for sp, occ in key:
            n = int(round(occ * len(idx)))
            for i in idx[start : start + n]:
                species.append(sp)
                coords.append(supercell[i].frac_coords)
            start += n
    if not species:
        raise SimulationError("ordering left no atom")
    return Structure(supercell.lattice, species, coords)


def _ewald_energy(structure: Structure, states: dict[str, float]) -> float:
    from pymatgen.analysis.ewald import EwaldSummation

    decorated = structure.copy()
    decorated.add_oxidation_state_by_element(states)
    return float(EwaldSummation(decorated).total_energy)


def order_structure(
    structure: Structure, max_atoms: int = DEFAULT_MAX_ATOMS, n_trials: int = 8, seed: int = 0
) -> tuple[Structure, dict]:
    """An ordered structure for a (possibly disordered) one, and what was done.

    Returns ``(ordered, info)`` with ``info`` keys ``ordering`` (``"ordered"``,
    ``"random-ewald"`` or ``"random"``), ``n_atoms``, ``supercell`` (scaling per axis).
    When the exact ordering needs a supercell of more than ``max_atoms`` atoms (a dilute
    dopant: 0.0275 per site needs x40), the result is an approximant: the largest supercell
    that fits, each group of equally occupied sites filled with the rounded number of atoms
    of each species, so its composition is near the structure's, not equal (a dopant below
    half an atom in that cell is dropped). Then ``ordering`` starts with ``"approximant-"``,
    and ``info`` has ``exact_supercell`` (the multiplier the exact ordering needs) and
    ``approximant_formula``. Energies of an approximant are those of its own composition.
    Raises :class:`SimulationError` when an ordered structure, or one cell's atoms, exceed
    ``max_atoms``, or the structure is empty.
    """
    if not isinstance(structure, Structure):
        raise SimulationError(f"structure={type(structure).__name__}: expected a pymatgen Structure")
    if len(structure) == 0:
        raise SimulationError("structure has no sites")
    if structure.is_ordered:
        if len(structure) > max_atoms:
            raise SimulationError(f"{structure.formula}: {len(structure)} atoms > max_atoms={max_atoms}")
        return structure.copy(), {"ordering": "ordered", "n_atoms": len(structure), "supercell": [1, 1, 1]}
    mult = _supercell_multiplier(structure)
    n_atoms = structure.composition.num_atoms
    approximant = len(structure) * mult > max_atoms * 2 or n_atoms * mult > max_atoms
    if approximant:  # the exact cell is too large: the largest supercell that fits, occupancies rounded in it
        exact = mult
        mult = int(max_atoms // n_atoms)
        if mult < 1:
            raise SimulationError(f"{structure.composition.reduced_formula}: {n_atoms:g} atoms a cell > max_atoms={max_atoms}"
                                  f" (the exact ordering needs a x{exact} supercell)")  # fmt: skip
    scale = _scaling_matrix(structure, mult)
    supercell = structure * scale
    rng = np.random.default_rng(seed)
    best: Structure | None = None
    best_e, method = math.inf, "random-ewald"
    states: dict[str, float] | None = None
    for trial in itertools.count():
        if trial >= n_trials:
            break
        cand = _random_ordering(supercell, rng)
        if approximant and len(cand) > max_atoms and mult > 1:  # rounding up overshot: one size smaller
            mult -= 1
            scale = _scaling_matrix(structure, mult)
            supercell = structure * scale
            continue
        if len(cand) > max_atoms:
            raise SimulationError(f"{structure.composition.reduced_formula}: ordered supercell has {len(cand)} atoms > max_atoms={max_atoms}")
        if states is None:  # every trial has the same composition: one guess for all
            states = _oxidation_states(cand)
            if states is None:  # no charge-balanced oxidation states, or too costly to guess: the first ordering
                best, method = cand, "random"
                break
        try:
            e = _ewald_energy(cand, states)
        except Exception:  # the Ewald sum failed: keep the first ordering
            best, method = cand, "random"
            break
        if e < best_e:
            best, best_e = cand, e
    if best is None:
        raise SimulationError(f"n_trials={n_trials}: expected at least one ordering trial")
    info = {"ordering": method, "n_atoms": len(best), "supercell": scale}
    if approximant:
        info.update(ordering=f"approximant-{method}", exact_supercell=exact,
                    approximant_formula=best.composition.reduced_formula)  # fmt: skip
    return best, info
