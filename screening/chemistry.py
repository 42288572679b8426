"""Chemistry shared by every part of the library: one home for formulas, anions and families.

Everything that decides "what is an anion", "which family is this", "which elements do we
leave out" lives here, so that enumeration, descriptors, surrogates and the pipeline agree.

Anion policy (:func:`anions_of`): the elements of :data:`ANION_CHARGES` are anions, except
S, Se and Te bound in oxoanions (at least 3 O each: SO4, TeO6), which count as cations.
A formula without any of them takes its most electronegative element as the anion.

Family policy (:func:`family_of`): ``sulfide`` when S/Se/Te are anions and O is not,
``oxide`` when O is the only anion, ``halide`` when the anions are halogens only,
``nitride`` for N only, ``mixed-anion`` otherwise (for example oxyhalides, oxysulfides).
"""

from __future__ import annotations

from functools import lru_cache

from pymatgen.core import Composition, Element

from screening.errors import InvalidCompositionError

__all__ = [
    "ANION_CHARGES",
    "CHALCOGENS",
    "COARSE_FAMILIES",
    "ELEMENTS",
    "EXCLUDED_ELEMENTS",
    "FAMILIES",
    "HALOGENS",
    "STRUCTURE_ANION_CHARGES",
    "amounts_of",
    "anions_of",
    "as_composition",
    "clear_formula_cache",
    "check_charge_balance",
    "family_from_anions",
    "family_of",
]

#: Anion elements in order of preference, with the oxidation state they carry.
ANION_CHARGES = {"N": -3, "O": -2, "F": -1, "S": -2, "Cl": -1, "Se": -2, "Br": -1, "Te": -2, "I": -1}
CHALCOGENS = {"S", "Se", "Te"}
HALOGENS = {"F", "Cl", "Br", "I"}
CHALCOGENS_AND_HALOGENS = CHALCOGENS | HALOGENS
#: Elements that may act as anions in a *structure* (site charges for bond valence and the
#: Li-anion geometry): the formula anions plus P3-, As3- (phosphides) and H- (hydrides).
STRUCTURE_ANION_CHARGES: dict[str, int] = {**ANION_CHARGES, "P": -3, "As": -3, "H": -1}

#: The families a candidate can belong to (:func:`family_of`).
FAMILIES: tuple[str, ...] = ("sulfide", "halide", "oxide", "nitride", "mixed-anion")
#: Families used as conformal strata of the surrogates (cheap, from element fractions).
COARSE_FAMILIES: tuple[str, ...] = ("sulfide", "oxide", "halide", "nitride", "mixed-anion", "no-anion")

#: Elements 1..94 (the elements the surrogates' element-fraction features know).
ELEMENTS: tuple[str, ...] = tuple(Element.from_Z(z).symbol for z in range(1, 95))

#: Elements a screen leaves out of its dopant pool and counts in ``excluded_element_fraction``,
#: with the reason.
EXCLUDED_ELEMENTS: dict[str, str] = {
    **{s: "radioactive: no stable isotope" for s in ["Tc", "Pm"] + [Element.from_Z(z).symbol for z in range(84, 104)]},
    **{s: "toxic or restricted (RoHS, acute poison)" for s in ("Tl", "Hg", "Cd", "Pb", "As")},
    "Be": "carcinogenic dust (berylliosis)",
    **{s: "scarce precious metal (cost, supply)" for s in ("Os", "Ru", "Rh", "Pd", "Re", "Ir", "Pt", "Au")},
}


# ----------------------------------------------------------------- parsing


def as_composition(formula: str | Composition) -> Composition:
    """Parse a formula into a pymatgen Composition, or raise InvalidCompositionError naming it.

    Formula strings are parsed once per process (a cache of the most recent 2**17): the
    same formula goes through descriptors, surrogates and the hull several times.
    """
    if isinstance(formula, Composition):
        return _checked(formula, formula)
    return _parse_formula(str(formula))


def clear_formula_cache() -> None:
    """Forget the formulas :func:`as_composition` has parsed (a benchmark's cold start, a long-lived process)."""
    _parse_formula.cache_clear()


@lru_cache(maxsize=2**17)
def _parse_formula(text: str) -> Composition:
    try:
        comp = Composition(text)
    except Exception as exc:
        raise InvalidCompositionError(f"{text!r}: not a valid formula ({exc})") from exc
    return _checked(comp, text)


def _checked(comp: Composition, label: object) -> Composition:
    if comp.num_atoms <= 0:
        raise InvalidCompositionError(f"{label!r}: empty composition")
    if all(type(el) is Element for el in comp) and all(amt >= 0 for amt in comp.values()):
        return comp  # already plain elements: no rebuild (tier 0 passes parsed Compositions around)
    plain: dict[Element, float] = {}
    for el, amt in comp.items():
        element = getattr(el, "element", el)
        if not isinstance(element, Element):
            raise InvalidCompositionError(f"{label!r}: unknown element {getattr(el, 'symbol', el)}")
        if amt < 0:
            raise InvalidCompositionError(f"{label!r}: negative amount")
        plain[element] = plain.get(element, 0.0) + amt
    return Composition(plain)



# ----------------------------------------------------------------- anions and families


def amounts_of(comp: Composition) -> dict[str, float]:
    """``{symbol: amount}`` of a composition (plain dict look-ups are far cheaper than pymatgen's)."""
    return {el.symbol: float(amt) for el, amt in comp.items()}


def anions_of(comp: Composition | dict[str, float]) -> list[str]:
    """The anion elements of a composition (see the module's anion policy)."""
    amounts = comp if isinstance(comp, dict) else amounts_of(comp)
    anions = [s for s in amounts if s in ANION_CHARGES]
    if "O" in anions:  # oxoanions: S, Se, Te with at least 3 O each are cations (SO4, TeO6)
        anions = [s for s in anions if not (s in CHALCOGENS and amounts["O"] >= 3 * amounts[s])]
    if not anions and len(amounts) > 1:
        anions = [max(amounts, key=lambda s: _electronegativity(s))]
    return anions


@lru_cache(maxsize=None)
def _electronegativity(symbol: str) -> float:
    x = Element(symbol).X
    return float(x) if x == x else 0.0  # noble gases have no Pauling value


def _anion_charge(symbol: str) -> int:
    if symbol in ANION_CHARGES:
        return ANION_CHARGES[symbol]
    return min(Element(symbol).oxidation_states, default=-1)


def family_of(formula: str | Composition) -> str:
    """Family label: ``sulfide``, ``oxide``, ``halide``, ``nitride`` or ``mixed-anion``."""
    return family_from_anions(anions_of(as_composition(formula)))


def family_from_anions(anion_list: list[str]) -> str:
    anions = set(anion_list)
    if anions & CHALCOGENS and "O" not in anions:
        return "sulfide"
    if anions == {"O"}:
        return "oxide"
    if anions and anions <= HALOGENS:
        return "halide"
    if anions == {"N"}:
        return "nitride"
    return "mixed-anion"


@lru_cache(maxsize=None)
def _max_positive_state(symbol: str) -> int:
    return max((s for s in Element(symbol).oxidation_states if s > 0), default=0)


@lru_cache(maxsize=None)
def _min_positive_state(symbol: str) -> int:
    return min((s for s in Element(symbol).oxidation_states if s > 0), default=0)


def check_charge_balance(formula: str | Composition, rel_tol: float = 0.05) -> None:
    """Raise InvalidCompositionError if no assignment of known oxidation states can balance the formula.

    A cheap necessary condition: the anion charge must lie between the cations' smallest
    and largest total positive charge (pymatgen's table of known oxidation states), within
    ``rel_tol`` of the anion charge. The tolerance admits the rounded and slightly off-
    stoichiometric formulas of measured samples (``Li0.91Hf2.022(PO4)3``); enumerated
    candidates are balanced exactly by construction. Catches formulas such as ``LiCl3``
    or ``Li2O5``; it does not prove that a balanced formula is chemically sensible.
    """
    comp = amounts_of(as_composition(formula))
    anions = anions_of(comp)
    if not anions:
        return  # an element: nothing to balance
    if any(_anion_charge(a) >= 0 for a in anions):
        raise InvalidCompositionError(f"{formula}: no element can be an anion (an intermetallic, not an ionic compound)")
    negative = -sum(_anion_charge(a) * comp[a] for a in anions)
    cations = [c for c in comp if c not in anions]
    low = sum(_min_positive_state(c) * comp[c] for c in cations)
    high = sum(_max_positive_state(c) * comp[c] for c in cations)
    slack = rel_tol * negative + 1e-6
    if not low - slack <= negative <= high + slack:
        raise InvalidCompositionError(
            f"{formula}: not charge balanced (anions carry -{negative:g}, cations can carry +{low:g} to +{high:g})"
        )


