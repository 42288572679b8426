"""The knobs of the enumeration in one frozen object, and named presets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from pymatgen.core import Element

from screening.chemistry import EXCLUDED_ELEMENTS
from screening.enumeration.plausibility import DEFAULT_MIN_PROBABILITY
from screening.errors import ScreeningError

#: Fractions of a site for isovalent substitution (solid solutions).
DEFAULT_MIXING_GRID: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
#: Fractions of a site for aliovalent doping (0.125: e.g. Li6.75La3Zr1.75Ta0.25O12).
DEFAULT_DOPING_GRID: tuple[float, ...] = (0.05, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.5, 0.75)
#: Fractions each dopant of a co-doped site may take (sites with explicit ``amounts`` or
#: ``fractions`` in the manifest use those instead).
DEFAULT_CODOPING_GRID: tuple[float, ...] = (0.125, 0.25, 0.5, 0.75)
#: Elements left out of the dopant pool by default (see seeds/elements.csv for reasons).
DEFAULT_EXCLUDED: frozenset[str] = frozenset(EXCLUDED_ELEMENTS)
#: Co-doping modes: no co-doping; one isovalent plus one aliovalent dopant on a site
#: (LAGP: Ge4+ and Al3+ on the Ti4+ site); any two dopants of different elements.
CODOPING_MODES: tuple[str, ...] = ("none", "iso+alio", "any")
#: Noble gases: never dopants, whatever the pool says.
NOBLE_GASES: frozenset[str] = frozenset(e.symbol for e in Element if e.is_noble_gas)


def _grid(name: str, values: Iterable[float]) -> tuple[float, ...]:
    out = tuple(float(v) for v in values)
    if not out or any(not 0 < v <= 1 for v in out):
        raise ScreeningError(f"{name}={out!r}: fractions must lie in (0, 1]")
    return out


@dataclass(frozen=True)
class EnumerationOptions:
    """How the substitution space is drawn (see :mod:`screening.enumeration`).

    Attributes
    ----------
    elements
        Dopant element pool (None: every element); ``exclude`` is removed from it.
    exclude
        Elements never used as dopants.
    radius_tolerance
        Default relative Shannon-radius tolerance ``|r_dop - r_host| / r_host`` (sites may override).
    min_lambda
        Smallest substitution log-odds lambda accepted (Hautier et al. 2011; -5 = never seen).
    mixing_grid, doping_grid
        Site fractions for isovalent and aliovalent substitutions.
    codoping, codoping_grid
        Co-doping mode (:data:`CODOPING_MODES`) and the fractions a co-dopant may take;
        the two fractions of a co-doped site sum to at most 1.
    max_substitutions
        Most dopants at once, a co-doped site counting two (None: the seed's value, else 2).
    li_min_factor, li_max_factor
        Default Li bounds as multiples of the parent's Li per formula unit.
    redox
        Drop cation states the anions would reduce (:mod:`screening.enumeration.redox`).
    min_oxidation_state_probability
        Smallest SMACT oxidation-state probability (ICSD) a cation dopant may have with the
        candidate's framework anion (:mod:`screening.enumeration.plausibility`; None: no check).
    max_dopant_species
        Most dopant elements a candidate may hold (elements the parent does not have;
        None: no limit). Noble gases are never dopants (:data:`NOBLE_GASES`).
    """

    elements: frozenset[str] | None = None
    exclude: frozenset[str] = DEFAULT_EXCLUDED
    radius_tolerance: float = 0.3
    min_lambda: float = -2.0
    mixing_grid: tuple[float, ...] = DEFAULT_MIXING_GRID
    doping_grid: tuple[float, ...] = DEFAULT_DOPING_GRID
    codoping: str = "iso+alio"
    codoping_grid: tuple[float, ...] = DEFAULT_CODOPING_GRID
    max_substitutions: int | None = None
    li_min_factor: float = 0.5
    li_max_factor: float = 1.5
    redox: bool = True
    min_oxidation_state_probability: float | None = DEFAULT_MIN_PROBABILITY
    max_dopant_species: int | None = 2

    def __post_init__(self) -> None:
        if self.elements is not None:
            object.__setattr__(self, "elements", frozenset(self.elements))
        object.__setattr__(self, "exclude", frozenset(self.exclude))
        for name in ("mixing_grid", "doping_grid", "codoping_grid"):
            object.__setattr__(self, name, _grid(name, getattr(self, name)))
        if self.codoping not in CODOPING_MODES:
            raise ScreeningError(f"codoping={self.codoping!r}: must be one of {CODOPING_MODES}")
        if self.radius_tolerance < 0:
            raise ScreeningError(f"radius_tolerance={self.radius_tolerance}: must be >= 0")
        noble = sorted((self.elements or frozenset()) & NOBLE_GASES)
        if noble:
            raise ScreeningError(f"elements={noble}: noble gases are never dopants")
        p = self.min_oxidation_state_probability
        if p is not None and not 0 <= p <= 1:
            raise ScreeningError(f"min_oxidation_state_probability={p}: must lie in [0, 1] (None: no check)")
        if self.max_dopant_species is not None and self.max_dopant_species < 0:
            raise ScreeningError(f"max_dopant_species={self.max_dopant_species}: must be >= 0 (None: no limit)")
        if self.max_substitutions is not None and self.max_substitutions < 0:
            raise ScreeningError(f"max_substitutions={self.max_substitutions}: must be >= 0")
        if not 0 <= self.li_min_factor <= self.li_max_factor:
            raise ScreeningError(
                f"li_min_factor={self.li_min_factor}, li_max_factor={self.li_max_factor}: need 0 <= min <= max"
            )

    def max_subs(self, seed_value: int | None) -> int:
        """Most substitutions for a seed whose manifest value is ``seed_value``."""
        if self.max_substitutions is not None:
            return self.max_substitutions
        return seed_value or 2

    def with_overrides(self, **kwargs: Any) -> EnumerationOptions:
        """A copy with the keyword arguments that are not None replaced."""
        names = {f.name for f in fields(self)}
        unknown = set(kwargs) - names
        if unknown:
            raise ScreeningError(f"unknown enumeration options {sorted(unknown)} (have {sorted(names)})")
        return replace(self, **{k: v for k, v in kwargs.items() if v is not None})


#: Named parameter sets. ``default``: the bundled space (at most two dopant elements a
#: candidate, each common in its oxidation state with the framework anion; about 0.12
#: million candidates).
#: ``large``: more than 10^6 distinct candidates, by admitting more dopants and more
#: amounts: Shannon-radius tolerance 0.35 (instead of 0.3), substitution log-odds
#: lambda >= -3 (instead of -2), any two dopants on one site (not only an isovalent plus
#: an aliovalent one), a dilute 1/8 step for isovalent mixing, 0.4 for doping and 0.375
#: for co-doping, up to three dopant elements a candidate. Counts and timings:
#: benchmarks/results/enumeration.md.
PRESETS: dict[str, EnumerationOptions] = {
    "default": EnumerationOptions(),
    "large": EnumerationOptions(
        radius_tolerance=0.35,
        min_lambda=-3.0,
        codoping="any",
        mixing_grid=(0.125, 0.25, 0.5, 0.75, 1.0),
        doping_grid=(0.05, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75),
        codoping_grid=(0.125, 0.25, 0.375, 0.5, 0.75),
        max_dopant_species=3,
    ),
}


def resolve_options(
    options: EnumerationOptions | str | None = None, **overrides: Any
) -> EnumerationOptions:
    """Options from a preset name or object (default ``"default"``) and keyword overrides (None = keep)."""
    if options is None:
        base = PRESETS["default"]
    elif isinstance(options, str):
        if options not in PRESETS:
            raise ScreeningError(f"preset {options!r}: unknown (have {sorted(PRESETS)})")
        base = PRESETS[options]
    elif isinstance(options, EnumerationOptions):
        base = options
    else:
        raise ScreeningError(f"options={options!r}: not an EnumerationOptions or preset name")
    return base.with_overrides(**overrides)
