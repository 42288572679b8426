"""Records of the enumeration: substitutions, candidates and the filter report."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from pymatgen.core import Composition, Species, Structure

if TYPE_CHECKING:
    from screening.enumeration.seeds import Seed

#: Filters in the order they are applied; the names used in :class:`EnumerationReport`.
#: ``redox`` drops cation states the anions would reduce (:mod:`screening.enumeration.redox`);
#: ``unique`` is per prototype; ``distinct`` drops a composition already yielded under an
#: earlier prototype (it keeps the list of prototypes in ``Candidate.prototypes``).
#: ``plausibility`` drops a cation dopant whose oxidation state is rare with the framework
#: anion (SMACT, :mod:`screening.enumeration.plausibility`); ``dopant_species`` a candidate
#: with more dopant elements than ``max_dopant_species``.
FILTERS: tuple[str, ...] = (
    "oxidation_state",
    "element_pool",
    "ionic_radius",
    "substitution_probability",
    "redox",
    "plausibility",
    "dopant_species",
    "charge_balance",
    "unique",
    "distinct",
)
EPS = 1e-6


def fmt(x: float) -> str:
    """Amount as written in a formula (``""`` for 1, at most 6 decimals)."""
    x = round(x, 6)
    if abs(x - 1.0) < EPS:
        return ""
    return f"{x:.6f}".rstrip("0").rstrip(".")


class Substitution(NamedTuple):
    """One substitution of a candidate: ``fraction`` of the ``site`` host taken by ``dopant``."""

    host: str
    """Host species, e.g. ``"Zr4+"``."""
    dopant: str
    """Dopant species, e.g. ``"Ta5+"``."""
    fraction: float
    """Fraction of the site's host atoms replaced."""
    amount: float
    """Dopant atoms per formula unit of the parent."""
    site: str
    """Label of the site rule, e.g. ``"Zr"`` or ``"S@4a,4d"``."""

    def __str__(self) -> str:
        return f"{self.host}->{self.dopant} x{fmt(self.fraction) or '1'} ({self.site})"


@dataclass(frozen=True)
class Candidate:
    """A composition-level candidate; its structure is built on request.

    Attributes
    ----------
    id
        Stable id: :func:`screening.structures.composition_id` of the formula, prefixed
        by the (first) prototype.
    formula
        Formula per formula unit of the parent, e.g. ``"Li6.5La3Zr1.5Ta0.5O12"``.
    family
        ``"sulfide"``, ``"halide"`` or ``"oxide"``.
    prototype
        Structure-type label of the parent, e.g. ``"garnet"`` (the first of :attr:`prototypes`).
    parent
        Name of the seed, e.g. ``"Li7La3Zr2O12"`` (the seed of :attr:`prototype`).
    substitutions
        The substitutions applied (empty for the parent itself); a co-doped site gives two.
    oxidation_states
        Element -> oxidation state; the candidate is neutral under these.
    disordered
        True when the structure has partial occupancies.
    li_content
        Li atoms per formula unit.
    likelihood
        Product of P(dopant | host) over the substitutions (1 for the parent).
    min_lambda
        Smallest substitution log-odds lambda among the substitutions (inf for the parent).
    prototypes
        Every prototype of the enumerated space that reaches this composition (same
        fractional composition), in manifest order; the candidate is yielded once.
    """

    id: str
    formula: str
    family: str
    prototype: str
    parent: str
    substitutions: tuple[Substitution, ...]
    oxidation_states: dict[str, int] = field(compare=False, hash=False)
    disordered: bool
    li_content: float
    likelihood: float = 1.0
    min_lambda: float = math.inf
    prototypes: tuple[str, ...] = ()
    _seed: Seed | None = field(default=None, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.prototypes:
            object.__setattr__(self, "prototypes", (self.prototype,))

    @property
    def composition(self) -> Composition:
        """The pymatgen Composition of :attr:`formula`."""
        return Composition(self.formula)

    @property
    def charge(self) -> float:
        """Total charge per formula unit under :attr:`oxidation_states` (0 when balanced)."""
        return sum(amt * self.oxidation_states[el] for el, amt in self.composition.get_el_amt_dict().items())

    def structure(self) -> Structure:
        """Build the (usually disordered) structure; see :func:`build_structure`."""
        from screening.enumeration.build import build_structure

        return build_structure(self)

    def as_dict(self) -> dict[str, Any]:
        """A flat row for a DataFrame (no structure).

        ``prototypes`` is the comma-joined list of every prototype reaching the
        composition; ``prototype`` and ``parent`` are the first one's.
        """
        from screening.enumeration.seeds import element_notes

        notes = element_notes()
        dopants = {Species.from_str(s.dopant).element.symbol for s in self.substitutions}
        abundance = [notes[d]["crust_abundance_ppm"] for d in dopants if d in notes]
        return {
            "id": self.id,
            "formula": self.formula,
            "family": self.family,
            "prototype": self.prototype,
            "prototypes": ",".join(self.prototypes),
            "parent": self.parent,
            "substitutions": "; ".join(str(s) for s in self.substitutions),
            "n_substitutions": len(self.substitutions),
            "oxidation_states": ",".join(f"{el}:{q:+d}" for el, q in self.oxidation_states.items()),
            "li_per_formula_unit": self.li_content,
            "disordered": self.disordered,
            "likelihood": self.likelihood,
            "min_lambda": self.min_lambda,
            "min_dopant_abundance_ppm": min(abundance) if abundance else math.nan,
        }


@dataclass
class EnumerationReport:
    """Counts of candidates kept by each filter, per (family, prototype), and seed errors.

    ``counts[(family, prototype, filter)]`` is the number of candidates left after that
    filter (filters in :data:`FILTERS` order). ``errors`` lists ``(seed name, message)``.
    """

    counts: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    errors: list[tuple[str, str]] = field(default_factory=list)

    def add(self, family: str, prototype: str, filter_name: str, n: int) -> None:
        """Add ``n`` to the count of one (family, prototype, filter)."""
        self.counts[(family, prototype, filter_name)] += n

    def total(self, filter_name: str = FILTERS[-1], family: str | None = None) -> int:
        """Sum of the counts of one filter, over all or one family (default: the candidates yielded)."""
        return sum(
            n for (fam, _, f), n in self.counts.items() if f == filter_name and (family is None or fam == family)
        )

    def removed(self, filter_name: str, family: str | None = None) -> int:
        """Candidates a filter removed: the count before it minus the count after it."""
        i = FILTERS.index(filter_name)
        if i == 0:
            raise ValueError(f"filter_name={filter_name!r}: the first filter has no count before it")
        return self.total(FILTERS[i - 1], family) - self.total(filter_name, family)

    def to_frame(self) -> Any:
        """A tidy DataFrame: family, prototype, filter, count (filters in order)."""
        import pandas as pd

        rows = [
            {"family": fam, "prototype": proto, "filter": f, "count": n}
            for (fam, proto, f), n in self.counts.items()
        ]
        df = pd.DataFrame(rows, columns=["family", "prototype", "filter", "count"])
        if len(df):
            df["filter"] = pd.Categorical(df["filter"], categories=list(FILTERS), ordered=True)
            df = df.sort_values(["family", "prototype", "filter"]).reset_index(drop=True)
        return df
