"""The charge-balanced composition whose stability a structure's descriptors describe.

A partially occupied CIF gives a formula that is often not charge balanced: the Li3InCl6
seed's occupancies sum to ``Li6In2.03Cl12``, the LLZO seed's to ``Li55.99968La24Zr16O96``,
the LLTO seed's to ``Li0.66La1.104Ti2O6``. On the reference hull such a composition lies
off the plane of balanced compositions, inside a facet with a metal or a halogen, and its
window collapses to one voltage (``2.621-2.621 V`` for Li3InCl6) by accident of the
occupancies. :func:`balanced_composition` gives the nearest balanced composition instead,
and says how it was found:

1. ``as given``: the composition is balanced with each cation in its highest common
   oxidation state (pymatgen's ``common_oxidation_states``) and each anion in its charge;
2. ``amounts rounded to 0.1``: the amounts of the cell's formula rounded to 0.1 balance
   (Li6In2.03Cl12 -> Li6In2Cl12 = Li3InCl6, Li55.99968 -> Li56);
3. ``Li content balanced``: the Li amount set to what balances the other ions (Li is the
   mobile ion a partially occupied Li site leaves uncertain);
4. ``not charge balanced``: none of these works (no Li, or a negative Li amount): the
   composition as given.
"""

from __future__ import annotations

from functools import lru_cache

from pymatgen.core import Composition, Element

from screening.chemistry import ANION_CHARGES

__all__ = ["balanced_composition", "charge_excess", "BALANCE_RULES"]

BALANCE_RULES = ("as given", "amounts rounded to 0.1", "Li content balanced", "not charge balanced")

#: relative charge mismatch still counted as balanced
_TOL = 1e-6


@lru_cache(maxsize=None)
def _cation_charge(symbol: str) -> int:
    states = [s for s in Element(symbol).common_oxidation_states if s > 0] or [s for s in Element(symbol).oxidation_states if s > 0]
    return max(states, default=0)


def charge_excess(comp: Composition) -> float:
    """Positive minus negative charge (e per formula) with the charges of the module docstring."""
    amounts = comp.get_el_amt_dict()
    return sum(amt * (ANION_CHARGES[el] if el in ANION_CHARGES else _cation_charge(el)) for el, amt in amounts.items())


def _balanced(comp: Composition) -> bool:
    negative = sum(amt * -ANION_CHARGES[el] for el, amt in comp.get_el_amt_dict().items() if el in ANION_CHARGES)
    return negative > 0 and abs(charge_excess(comp)) <= _TOL * negative


def balanced_composition(comp: Composition) -> tuple[Composition, str]:
    """``(composition, rule)``: the nearest charge-balanced composition to ``comp`` and the rule (:data:`BALANCE_RULES`) used."""
    comp = comp.element_composition
    if _balanced(comp) or not any(el.symbol in ANION_CHARGES for el in comp):
        return comp, BALANCE_RULES[0]
    rounded = Composition({el: round(amt, 1) for el, amt in comp.get_el_amt_dict().items() if round(amt, 1) > 0})
    if _balanced(rounded):
        return rounded, BALANCE_RULES[1]
    amounts = comp.get_el_amt_dict()
    if "Li" in amounts:
        li = amounts["Li"] - charge_excess(comp)
        if li > 0:
            return Composition({**amounts, "Li": li}), BALANCE_RULES[2]
    return comp, BALANCE_RULES[3]
