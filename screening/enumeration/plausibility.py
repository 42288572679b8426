"""Chemical plausibility of a dopant: is its oxidation state common with the candidate's anion?

The rule uses SMACT's oxidation-state probabilities (Walsh group; Davies et al., "Materials
discovery by chemical analogy: role of oxidation states in structure prediction", Faraday
Discuss. 211, 553 (2018), doi:10.1039/C8FD00032H): for a cation species S and an anion X,
``P(S | X) = N(compounds of X holding S) / N(compounds of X holding the element of S)``,
counted over the ICSD. A probability near 1 says that when the element is found with that
anion it is almost always in that oxidation state; near 0, that the state is rare with it.

A cation dopant is kept when ``P(dopant species | anion) >= min_probability`` (default
:data:`DEFAULT_MIN_PROBABILITY`, 0.4), where the anion is the candidate's *framework anion*:
the anion with the most atoms per formula unit after the substitutions (ties: the first in
the parent's formula). 0.4 keeps the states the chemistry uses (Zr4+ with Cl-, 0.43;
Ge4+/Cl- 0.50; In3+/Cl- 0.50; Ta5+/Cl- 0.65; Sn4+/S2- 0.64) and drops the rare ones that
the enumeration reached only through charge-balance arithmetic (Ge2+ on the Y3+ site of a
chloride, 0.33; Ti4+/Cl- 0.27; Sn2+/O2- 0.29; Ce4+/O2- 0.29; Fe2+/O2- 0.24; Cu+/O2- 0.15).

The table covers the metals (165 cation species, eight anions: F, Cl, Br, I, O, S, Se, Te).
A species it does not list (the polyanion centres B3+, Si4+, P5+, As5+, the N3- anion) is
*not judged*: it passes, and :func:`judge` says so (``None``). Only dopants are judged: the
parent's own cations are what the parent is made of.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

__all__ = ["DEFAULT_MIN_PROBABILITY", "species_probability", "judge", "framework_anion"]

#: smallest SMACT oxidation-state probability a cation dopant may have with the framework anion
DEFAULT_MIN_PROBABILITY = 0.4


@functools.lru_cache(maxsize=1)
def _finder():
    from smact.oxidation_states import OxidationStateProbabilityFinder

    return OxidationStateProbabilityFinder()


@functools.lru_cache(maxsize=None)
def species_probability(element: str, oxidation_state: int, anion: str, anion_state: int) -> float | None:
    """SMACT's ``P(element^oxidation_state | anion)`` from the ICSD, or None when the table lacks either species.

    >>> round(species_probability("Zr", 4, "Cl", -1), 2)
    0.43
    """
    finder = _finder()
    keys = (f"{element}{int(oxidation_state)}", f"{anion}{int(anion_state)}")
    if not all(k in finder.get_included_species() for k in keys):
        return None
    from smact import Species

    return float(finder.pair_probability(Species(element, int(oxidation_state)), Species(anion, int(anion_state))))


def framework_anion(amounts: Mapping[str, float], oxidation_states: Mapping[str, int]) -> tuple[str, int] | None:
    """The anion ``(element, state)`` with the most atoms per formula unit (ties: the first), None without anions."""
    best = None
    for el, amount in amounts.items():
        q = oxidation_states.get(el, 0)
        if q < 0 and amount > 1e-9 and (best is None or amount > best[2] + 1e-9):
            best = (el, q, amount)
    return None if best is None else (best[0], best[1])


def judge(element: str, oxidation_state: int, anion: tuple[str, int], min_probability: float = DEFAULT_MIN_PROBABILITY) -> bool | None:
    """Whether a cation dopant is common in that state with ``anion``: True, False, or None (not in SMACT's table: passes).

    >>> judge("Zr", 4, ("Cl", -1)), judge("Ge", 2, ("Cl", -1)), judge("P", 5, ("S", -2))
    (True, False, None)
    """
    p = species_probability(element, oxidation_state, *anion)
    return None if p is None else p >= min_probability
