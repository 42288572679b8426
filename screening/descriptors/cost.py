"""Raw-material cost and undesirable-element share of a composition.

The cost of a compound is the mass-weighted mean of the element prices of pymatgen's
``CostDBElements`` (``pymatgen/analysis/costdb_elements.csv``, element prices compiled for
D. Ramesh Kumar et al. / the pymatgen cost analysis; the same number that
``CostAnalyzer(CostDBElements()).get_cost_per_kg`` returns, but from a per-element $/kg
table built once, so a formula costs a few microseconds):

    cost_usd_per_kg = sum_i w_i c_i,   w_i the mass fraction and c_i the $/kg of element i.

The prices are old, indicative bulk prices of the elements (not of precursors or of
battery-grade material): use them to rank, not to budget. Elements without a price
(most actinides, Po, At, Rn, Fr, Ra, Pm, ...) make the cost NaN; the missing elements
are named by :func:`cost_missing_elements` (and the ``cost_missing_elements`` key of
:func:`cost_descriptors`), never by a warning.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from matminer.featurizers.base import BaseFeaturizer
from pymatgen.core import Composition, Element

from screening.chemistry import EXCLUDED_ELEMENTS
from screening.errors import InvalidCompositionError

__all__ = [
    "DEFAULT_EXCLUDED_ELEMENTS",
    "CostFeaturizer",
    "cost_descriptors",
    "cost_missing_elements",
    "cost_per_kg",
    "cost_per_kg_many",
    "element_cost_table",
    "excluded_fraction",
]

#: :data:`screening.chemistry.EXCLUDED_ELEMENTS` (radioactive, toxic, scarce precious metals)
DEFAULT_EXCLUDED_ELEMENTS: frozenset[str] = frozenset(EXCLUDED_ELEMENTS)

FEATURE_LABELS = ("cost_usd_per_kg", "excluded_element_fraction")


@lru_cache(maxsize=1)
def element_cost_table() -> dict[str, float]:
    """Price of each element in $/kg from pymatgen's ``CostDBElements`` (built once)."""
    from pymatgen.analysis.cost import CostAnalyzer, CostDBElements

    table: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analyzer = CostAnalyzer(CostDBElements())
        for element in Element:
            try:
                table[element.symbol] = float(analyzer.get_cost_per_kg(element.symbol))
            except (ValueError, KeyError, IndexError):
                continue  # no price for this element
    return table


@lru_cache(maxsize=65536)
def _parse(formula: str) -> tuple[tuple[str, float], ...]:
    from screening.chemistry import as_composition  # (its parse cache is shared with the descriptors)

    items = tuple((el.symbol, float(amt)) for el, amt in as_composition(formula).items() if amt > 0)
    if not items:
        raise InvalidCompositionError(f"{formula!r}: empty composition")
    return items


def _amounts(comp: Composition, label: str) -> tuple[tuple[str, float], ...]:
    items = tuple((el.symbol, float(amt)) for el, amt in comp.element_composition.items() if amt > 0)
    unknown = [sym for sym, _ in items if not Element.is_valid_symbol(sym)]
    if unknown:
        raise InvalidCompositionError(f"{label!r}: unknown element(s) {', '.join(unknown)}")
    if not items:
        raise InvalidCompositionError(f"{label!r}: empty composition")
    return items


def _items(composition: Composition | str) -> tuple[tuple[str, float], ...]:
    if isinstance(composition, str):
        return _parse(composition)
    if isinstance(composition, Composition):
        return _amounts(composition, composition.formula)
    raise InvalidCompositionError(f"{composition!r}: not a formula or Composition")


@lru_cache(maxsize=None)
def _mass(symbol: str) -> float:
    return float(Element(symbol).atomic_mass)


def cost_per_kg(composition: Composition | str) -> float:
    """Raw-material cost in $/kg (mass-weighted element prices); NaN if an element has no price.

    Raises :class:`InvalidCompositionError` for an unparsable or empty formula.
    """
    table = element_cost_table()
    total_mass = 0.0
    total_cost = 0.0
    for symbol, amount in _items(composition):
        price = table.get(symbol)
        mass = amount * _mass(symbol)
        if price is None:
            return math.nan
        total_mass += mass
        total_cost += mass * price
    return total_cost / total_mass


def cost_per_kg_many(compositions: Iterable[Composition | str]) -> np.ndarray:
    """:func:`cost_per_kg` of many formulas; NaN for unparsable ones (no exception)."""
    out = []
    for comp in compositions:
        try:
            out.append(cost_per_kg(comp))
        except InvalidCompositionError:
            out.append(math.nan)
    return np.array(out, dtype=float)


def cost_missing_elements(composition: Composition | str) -> list[str]:
    """Elements of a composition without a price in the cost table (sorted)."""
    table = element_cost_table()
    return sorted(symbol for symbol, _ in _items(composition) if symbol not in table)


def excluded_fraction(
    composition: Composition | str, excluded: Iterable[str] = DEFAULT_EXCLUDED_ELEMENTS
) -> float:
    """Atomic fraction of elements from ``excluded`` (default :data:`DEFAULT_EXCLUDED_ELEMENTS`)."""
    excluded = excluded if isinstance(excluded, (set, frozenset)) else frozenset(excluded)
    items = _items(composition)
    total = sum(amount for _, amount in items)
    return sum(amount for symbol, amount in items if symbol in excluded) / total


def cost_descriptors(composition: Composition | str) -> dict[str, float | str]:
    """Cost descriptors of a composition.

    Returns
    -------
    dict
        ``cost_usd_per_kg`` (NaN when an element has no price),
        ``excluded_element_fraction`` (atomic fraction of :data:`DEFAULT_EXCLUDED_ELEMENTS`)
        and ``cost_missing_elements`` (comma-separated symbols without a price, "" if none).
    """
    return {
        "cost_usd_per_kg": cost_per_kg(composition),
        "excluded_element_fraction": excluded_fraction(composition),
        "cost_missing_elements": ",".join(cost_missing_elements(composition)),
    }


class CostFeaturizer(BaseFeaturizer):
    """matminer featurizer on a Composition or formula column: ``cost_usd_per_kg``, ``excluded_element_fraction``."""

    def __init__(self, excluded: Iterable[str] = DEFAULT_EXCLUDED_ELEMENTS):
        self.excluded = frozenset(excluded)

    def featurize(self, composition: Composition | str) -> list[float]:
        return [cost_per_kg(composition), excluded_fraction(composition, self.excluded)]

    def feature_labels(self) -> list[str]:
        return list(FEATURE_LABELS)

    def citations(self) -> list[str]:
        return [
            "@article{Ong2013pymatgen, author={Ong, S. P. and others}, title={Python Materials Genomics "
            "(pymatgen): A robust, open-source python library for materials analysis}, journal={Computational "
            "Materials Science}, volume={68}, pages={314--319}, year={2013}}",
        ]

    def implementors(self) -> list[str]:
        return ["screening project"]
