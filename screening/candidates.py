"""Candidate solid electrolytes by element substitution on known parent structures.

The parents ("seeds") are listed in ``seeds/manifest.yaml``: a CIF, a nominal formula
with the oxidation state of every element, a family (sulfide, halide, oxide) and the
sites that may be substituted, with the dopants each may take. :func:`enumerate_candidates`
walks that space as a stream of :class:`Candidate` records; structures are built only
on request (:meth:`Candidate.structure`).

Substitution rules
------------------
A *site rule* names a host element (optionally restricted to Wyckoff labels), its
count per formula unit, its coordination number and its dopants: an explicit species
list (``[Br-, I-]``) or ``auto``, which draws every element of the pool with a common
oxidation state (``Element.common_oxidation_states``) whose charge differs from the
host's by one of the rule's ``charge_changes``. Cation sites draw from metals, metalloids
and P; anion sites from F, Cl, Br, I, O, S, Se, Te, N. A dopant is then kept when

1. its element is in the pool (default: all, minus :data:`DEFAULT_EXCLUDED`: radioactive,
   toxic (Be, Cd, Hg, Tl, Pb, As, Os) and precious (Ru, Rh, Pd, Re, Ir, Pt, Au)), and it
   does not already occur in the parent with another oxidation state;
2. its Shannon ionic radius is close to the host's: ``|r_dop - r_host| / r_host <= tol``
   (default 0.3) or, where the site gives one, ``|r_dop - r_host| <= abs_tol`` (A). Both
   radii are taken at the same coordination number: the site's, or the nearest one that
   both ions have in Shannon's table. Sites with small tetrahedral cations (P5+, Ge4+)
   carry wider, documented tolerances in the manifest;
3. the pair is plausible: the substitution log-odds lambda of Hautier et al. (2011),
   ``pymatgen.analysis.structure_prediction.SubstitutionProbability`` (data shipped with
   pymatgen, works offline), is at least ``min_lambda`` (default -2; pairs never seen in
   the ICSD have lambda = -5).

Each kept dopant gives one option per amount of a grid: isovalent dopants take fractions
of the site from ``mixing_grid`` (solid solutions, default 0.25, 0.5, 0.75, 1), aliovalent
ones from ``doping_grid`` (default 0.05 ... 0.75); a site may override the grid with
``fractions`` or absolute ``amounts`` per formula unit. A candidate combines options on
up to ``max_substitutions`` distinct sites (the seed's value in the manifest, else 2;
3 for the halides and the argyrodite, so that Li/Na, metal and halide mixing combine);
the unsubstituted parent is included.

Charge balance
--------------
Every element keeps the parent's oxidation state and every dopant the state it was
chosen with; the charge difference is compensated by the Li content only::

    n_Li' = n_Li - sum_i a_i (q_dopant,i - q_host,i) - sum_{i on Li sites} a_i

(the last term: a dopant on a Li site also takes the place of the Li it replaces), so
every candidate is neutral by construction. Fewer Li than the parent means vacancies,
more means interstitials; both are partial occupancies of the parent's Li sites. A
candidate is kept when ``n_Li'`` lies within the seed's Li bounds (default 0.5x to 1.5x
the parent's Li, and never more Li (plus Li-site dopants) than the CIF has Li sites).

Bookkeeping
-----------
:class:`EnumerationReport` counts, per (family, prototype), how many candidates survive
each filter (:data:`FILTERS`). The option-level filters are counted as the number of
combinations they would allow (exact, from the option counts), the last two by
iteration. Bad seeds (missing or unreadable CIF, a rule naming an absent element or
Wyckoff site, a formula that is not neutral) raise :class:`SeedError` naming the seed;
``enumerate_candidates`` collects them in the report and goes on with the other seeds
unless ``strict=True``.

Structures
----------
:func:`build_structure` starts from the parent CIF (unsubstituted elements normalised to
the nominal formula), puts each dopant on the host's sites as a partial occupancy,
spreads the new Li content over the parent's Li sites in proportion to their occupancy
(capped at full occupancy), decorates species with the oxidation states and scales the
volume by the change of the summed cubed ionic radii.
"""

from __future__ import annotations

import csv
import functools
import itertools
import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pymatgen.core import Composition, Element, Lattice, Species, Structure

from screening.chemistry import ANION_CHARGES, EXCLUDED_ELEMENTS
from screening.errors import ScreeningError, StructureReadError
from screening.structures import composition_id, read_structure

__all__ = [
    "DEFAULT_DOPING_GRID",
    "DEFAULT_EXCLUDED",
    "DEFAULT_MANIFEST",
    "DEFAULT_MIXING_GRID",
    "FILTERS",
    "Candidate",
    "EnumerationReport",
    "Seed",
    "SeedError",
    "SiteRule",
    "Substitution",
    "build_structure",
    "element_notes",
    "enumerate_candidates",
    "iter_candidate_chunks",
    "load_seeds",
    "shannon_radius",
]

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
#: The bundled manifest of parent prototypes.
DEFAULT_MANIFEST = SEEDS_DIR / "manifest.yaml"
#: Fractions of a site for isovalent substitution (solid solutions).
DEFAULT_MIXING_GRID: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
#: Fractions of a site for aliovalent doping.
DEFAULT_DOPING_GRID: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 0.75)
#: Elements left out of the dopant pool by default (see seeds/elements.csv for reasons).
DEFAULT_EXCLUDED: frozenset[str] = frozenset(EXCLUDED_ELEMENTS)
#: Filters in the order they are applied; the names used in :class:`EnumerationReport`.
FILTERS: tuple[str, ...] = (
    "oxidation_state",
    "element_pool",
    "ionic_radius",
    "substitution_probability",
    "charge_balance",
    "unique",
)
ANION_POOL = ("F", "Cl", "Br", "I", "O", "S", "Se", "Te", "N")  # the set of chemistry.ANION_CHARGES, in enumeration order
assert set(ANION_POOL) == set(ANION_CHARGES)
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9,
          "X": 10, "XI": 11, "XII": 12, "XIV": 14}
_EPS = 1e-6


class SeedError(ScreeningError):
    """A seed of the manifest cannot be used (missing file, unreadable CIF, bad site rule)."""


# --------------------------------------------------------------------------- radii, pools


def _cn_number(label: str) -> int | None:
    roman = "".join(ch for ch in label if ch in "IVX")
    return _ROMAN.get(roman)


@functools.lru_cache(maxsize=None)
def _shannon_table(element: str, oxi: int) -> dict[int, float]:
    """Shannon ionic radii (A) of one ion by numeric coordination number."""
    data = Element(element).data.get("Shannon radii", {}).get(str(oxi), {})
    table: dict[int, float] = {}
    for label, spins in data.items():
        cn = _cn_number(label)
        if cn is None or cn in table:
            continue
        entry = spins.get("High Spin") or spins.get("") or next(iter(spins.values()))
        table[cn] = float(entry["ionic_radius"])
    return table


def shannon_radius(element: str, oxi: int, cn: int, partner: tuple[str, int] | None = None) -> float | None:
    """Shannon ionic radius of ``element`` in state ``oxi`` at coordination ``cn``.

    Parameters
    ----------
    element, oxi
        The ion.
    cn
        Wanted coordination number. When the table lacks it, the nearest tabulated one is
        used (ties go to the lower number).
    partner
        Another ion ``(element, oxi)``: when given, the coordination is chosen among those
        both ions have, so that the two radii are comparable.

    Returns
    -------
    float or None
        The radius in angstrom, or None when Shannon's table has no entry for the ion.
    """
    table = _shannon_table(element, oxi)
    if not table:
        return None
    choices = set(table)
    if partner is not None:
        common = choices & set(_shannon_table(*partner))
        if common:
            choices = common
    best = min(choices, key=lambda c: (abs(c - cn), c))
    return table[best]


@functools.lru_cache(maxsize=1)
def _substitution_probability() -> Any:
    from pymatgen.analysis.structure_prediction.substitution_probability import SubstitutionProbability

    return SubstitutionProbability()


@functools.lru_cache(maxsize=None)
def _pair_stats(host: str, dopant: str) -> tuple[float, float]:
    """(lambda, P(dopant | host)) from pymatgen's substitution-probability table."""
    sp = _substitution_probability()
    h, d = Species.from_str(host), Species.from_str(dopant)
    try:
        return float(sp.get_lambda(h, d)), float(sp.cond_prob(d, h))
    except (KeyError, ValueError):  # species absent from the table
        return float(sp.alpha), 0.0


@functools.lru_cache(maxsize=1)
def _cation_pool() -> tuple[str, ...]:
    out = []
    for z in range(3, 84):
        el = Element.from_Z(z)
        if el.is_noble_gas or el.symbol in ANION_POOL + ("C", "H"):
            continue
        if el.is_metal or el.is_metalloid or el.symbol == "P":
            out.append(el.symbol)
    return tuple(out)


@functools.lru_cache(maxsize=1)
def element_notes() -> dict[str, dict[str, Any]]:
    """Abundance and cost notes per element, from ``seeds/elements.csv``.

    Returns
    -------
    dict
        ``{symbol: {"crust_abundance_ppm": float, "default_excluded": bool, "note": str}}``;
        crustal abundances are approximate (CRC Handbook values, mg/kg).
    """
    path = SEEDS_DIR / "elements.csv"
    notes: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return notes
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            notes[row["element"]] = {
                "crust_abundance_ppm": float(row["crust_abundance_ppm"]),
                "default_excluded": row["default_excluded"].strip() == "True",
                "note": row["note"],
            }
    return notes


def _species_str(element: str, oxi: int) -> str:
    return str(Species(element, oxi))


def _fmt(x: float) -> str:
    x = round(x, 6)
    if abs(x - 1.0) < _EPS:
        return ""
    return f"{x:.6f}".rstrip("0").rstrip(".")


# --------------------------------------------------------------------------- records


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
        return f"{self.host}->{self.dopant} x{_fmt(self.fraction) or '1'} ({self.site})"


@dataclass(frozen=True)
class SiteRule:
    """A substitutable site of a seed (one entry of ``sites:`` in the manifest)."""

    element: str
    count: float
    coordination: int
    dopants: tuple[str, ...] | None  # None means "auto"
    charge_changes: tuple[int, ...] = (0,)
    wyckoff: tuple[str, ...] = ()
    fractions: tuple[float, ...] | None = None
    amounts: tuple[float, ...] | None = None
    radius_tolerance: float | None = None
    radius_abs_tolerance: float | None = None
    note: str = ""

    @property
    def label(self) -> str:
        """``element`` or ``element@wyckoff,...``."""
        return self.element + ("@" + ",".join(self.wyckoff) if self.wyckoff else "")


@dataclass
class Seed:
    """A parent prototype: its CIF, nominal formula, oxidation states and site rules."""

    name: str
    family: str
    prototype: str
    formula: str
    amounts: dict[str, float]
    oxidation_states: dict[str, int]
    cif_path: Path
    sites: tuple[SiteRule, ...]
    source: str = ""
    citation: str = ""
    licence: str = ""
    li_bounds: tuple[float, float] | None = None
    max_substitutions: int | None = None
    _structure: Structure | None = field(default=None, repr=False)
    _wyckoffs: list[str] | None = field(default=None, repr=False)
    _template: dict[str, Any] | None = field(default=None, repr=False)

    # -- structure side, all lazy ------------------------------------------------------
    @property
    def structure(self) -> Structure:
        """The parent structure as read from the CIF (cached)."""
        if self._structure is None:
            try:
                self._structure = read_structure(self.cif_path)
            except StructureReadError as exc:
                raise SeedError(f"seed {self.name!r}: {exc}") from exc
        return self._structure

    @property
    def wyckoff_labels(self) -> list[str]:
        """Wyckoff label (e.g. ``"16e"``) of every site of :attr:`structure`."""
        if self._wyckoffs is None:
            from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

            s = self.structure
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sym = SpacegroupAnalyzer(s, symprec=0.01).get_symmetrized_structure()
            labels = [""] * len(s)
            for idx, wy in zip(sym.equivalent_indices, sym.wyckoff_symbols):
                for i in idx:
                    labels[i] = wy
            self._wyckoffs = labels
        return self._wyckoffs

    @property
    def z(self) -> int:
        """Formula units per CIF cell, from the non-Li atoms."""
        comp = self.structure.composition
        cif = sum(v for k, v in comp.get_el_amt_dict().items() if k != "Li")
        nominal = sum(v for k, v in self.amounts.items() if k != "Li")
        return max(1, round(cif / nominal))

    def rule_sites(self, rule: SiteRule) -> list[int]:
        """Indices of the CIF sites a rule applies to."""
        s = self.structure
        idx = [i for i, site in enumerate(s) if rule.element in site.species.get_el_amt_dict()]
        if rule.wyckoff:
            labels = self.wyckoff_labels
            idx = [i for i in idx if labels[i] in rule.wyckoff]
        return idx

    @property
    def li_capacity(self) -> float:
        """Li sites per formula unit that Li (and Li-site dopants) may fill."""
        s = self.structure
        cap = 0.0
        for site in s:
            amt = site.species.get_el_amt_dict()
            if "Li" in amt:
                cap += 1.0 - sum(v for k, v in amt.items() if k != "Li")
        return cap / self.z

    def bounds(self, li_min_factor: float, li_max_factor: float) -> tuple[float, float]:
        """Allowed Li content per formula unit."""
        n_li = self.amounts.get("Li", 0.0)
        lo, hi = (self.li_bounds if self.li_bounds else (li_min_factor * n_li, li_max_factor * n_li))
        return lo, min(hi, self.li_capacity)

    def validate(self) -> None:
        """Check the seed against its CIF; raise :class:`SeedError` naming the seed."""
        s = self.structure
        present = set(s.composition.get_el_amt_dict())
        for el in self.amounts:
            if el not in present:
                raise SeedError(f"seed {self.name!r}: element {el} of {self.formula} is not in {self.cif_path.name}")
        per_element: dict[str, float] = defaultdict(float)
        for rule in self.sites:
            if rule.element not in self.amounts:
                raise SeedError(f"seed {self.name!r}: site rule names {rule.element}, absent from {self.formula}")
            per_element[rule.element] += rule.count
            if not self.rule_sites(rule):
                raise SeedError(
                    f"seed {self.name!r}: no {rule.element} site with Wyckoff label {'/'.join(rule.wyckoff)} "
                    f"in {self.cif_path.name} (has {sorted(set(self.wyckoff_labels))})"
                )
        for el, total in per_element.items():
            if total > self.amounts[el] + _EPS:
                raise SeedError(
                    f"seed {self.name!r}: site rules for {el} count {total} > {self.amounts[el]} in the formula"
                )
        if "Li" not in self.amounts:
            raise SeedError(f"seed {self.name!r}: the formula has no Li")

    # -- structure template for build_structure ----------------------------------------
    def template(self) -> dict[str, Any]:
        """Per-site occupancies (normalised to the nominal formula) and radii; cached."""
        if self._template is not None:
            return self._template
        s = self.structure
        z = self.z
        comp = s.composition.get_el_amt_dict()
        occ = [dict(site.species.get_el_amt_dict()) for site in s]
        for el, nominal in self.amounts.items():
            if el == "Li" or comp.get(el, 0) <= 0:
                continue
            factor = nominal * z / comp[el]
            if all(o.get(el, 0) * factor <= 1 + 1e-3 for o in occ):
                for o in occ:
                    if el in o:
                        o[el] *= factor
        rule_sites = {rule.label: set(self.rule_sites(rule)) for rule in self.sites}
        self._template = {
            "z": z,
            "occ": occ,
            "coords": s.frac_coords.copy(),
            "lattice": s.lattice,
            "rule_sites": rule_sites,
            "li_sites": [i for i, o in enumerate(occ) if "Li" in o],
            "r3": self._radius_cubes(),
        }
        return self._template

    def _radius_cubes(self) -> dict[str, float]:
        """Cubed radius per element of the parent (at its site rule's coordination)."""
        cn = {rule.element: rule.coordination for rule in self.sites}
        out = {}
        for el, oxi in self.oxidation_states.items():
            r = shannon_radius(el, oxi, cn.get(el, 6))
            out[el] = (r if r is not None else 1.0) ** 3
        return out


@dataclass(frozen=True)
class Candidate:
    """A composition-level candidate; its structure is built on request.

    Attributes
    ----------
    id
        Stable id: :func:`screening.structures.composition_id` of the formula, prefixed
        (and keyed) by the prototype.
    formula
        Formula per formula unit of the parent, e.g. ``"Li6.5La3Zr1.5Ta0.5O12"``.
    family
        ``"sulfide"``, ``"halide"`` or ``"oxide"``.
    prototype
        Structure-type label of the parent, e.g. ``"garnet"``.
    parent
        Name of the seed, e.g. ``"Li7La3Zr2O12"``.
    substitutions
        The substitutions applied (empty for the parent itself).
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
    _seed: Seed | None = field(default=None, repr=False, compare=False, hash=False)

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
        return build_structure(self)

    def as_dict(self) -> dict[str, Any]:
        """A flat row for a DataFrame (no structure)."""
        notes = element_notes()
        dopants = {Species.from_str(s.dopant).element.symbol for s in self.substitutions}
        abundance = [notes[d]["crust_abundance_ppm"] for d in dopants if d in notes]
        return {
            "id": self.id,
            "formula": self.formula,
            "family": self.family,
            "prototype": self.prototype,
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

    def total(self, filter_name: str = "unique", family: str | None = None) -> int:
        """Sum of the counts of one filter, over all or one family."""
        return sum(
            n for (fam, _, f), n in self.counts.items() if f == filter_name and (family is None or fam == family)
        )

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


# --------------------------------------------------------------------------- manifest


def _as_tuple(value: Any, cast: Any) -> tuple | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)):
        value = [value]
    return tuple(cast(v) for v in value)


def _parse_seed(entry: dict[str, Any], root: Path) -> Seed:
    name = str(entry.get("name") or entry.get("cif") or "<unnamed>")
    try:
        for key in ("family", "prototype", "cif", "formula", "oxidation_states", "sites"):
            if key not in entry:
                raise SeedError(f"seed {name!r}: the manifest entry has no {key!r}")
        family = str(entry["family"])
        if family not in ("sulfide", "halide", "oxide"):
            raise SeedError(f"seed {name!r}: family {family!r} is not sulfide, halide or oxide")
        try:
            amounts = {str(k): float(v) for k, v in Composition(str(entry["formula"])).get_el_amt_dict().items()}
        except Exception as exc:
            raise SeedError(f"seed {name!r}: cannot parse formula {entry['formula']!r} ({exc})") from exc
        oxi = {str(k): int(v) for k, v in entry["oxidation_states"].items()}
        missing = set(amounts) - set(oxi)
        if missing:
            raise SeedError(f"seed {name!r}: no oxidation state for {sorted(missing)}")
        charge = sum(amounts[el] * oxi[el] for el in amounts)
        if abs(charge) > 1e-4:
            raise SeedError(f"seed {name!r}: {entry['formula']} is not neutral under {oxi} (charge {charge:+g})")
        rules = []
        for raw in entry["sites"]:
            el = str(raw.get("element", ""))
            if el not in amounts:
                raise SeedError(f"seed {name!r}: site rule names element {el!r}, absent from {entry['formula']}")
            dopants = raw.get("dopants", "auto")
            if dopants != "auto":
                dopants = tuple(str(Species.from_str(str(d))) for d in dopants)
            else:
                dopants = None
            rules.append(
                SiteRule(
                    element=el,
                    count=float(raw.get("count", amounts[el])),
                    coordination=int(raw.get("coordination", 6)),
                    dopants=dopants,
                    charge_changes=_as_tuple(raw.get("charge_changes", [0]), int) or (0,),
                    wyckoff=_as_tuple(raw.get("wyckoff"), str) or (),
                    fractions=_as_tuple(raw.get("fractions"), float),
                    amounts=_as_tuple(raw.get("amounts"), float),
                    radius_tolerance=raw.get("radius_tolerance"),
                    radius_abs_tolerance=raw.get("radius_abs_tolerance"),
                    note=str(raw.get("note", "")),
                )
            )
        bounds = entry.get("li_bounds")
        return Seed(
            name=name,
            family=family,
            prototype=str(entry["prototype"]),
            formula=str(entry["formula"]),
            amounts=amounts,
            oxidation_states=oxi,
            cif_path=(root / str(entry["cif"])).resolve(),
            sites=tuple(rules),
            source=str(entry.get("source", "")),
            citation=str(entry.get("citation", "")),
            licence=str(entry.get("licence", "")),
            li_bounds=(float(bounds[0]), float(bounds[1])) if bounds else None,
            max_substitutions=int(entry["max_substitutions"]) if "max_substitutions" in entry else None,
        )
    except SeedError:
        raise
    except Exception as exc:  # malformed entry: name the seed
        raise SeedError(f"seed {name!r}: malformed manifest entry ({type(exc).__name__}: {exc})") from exc


def load_seeds(
    manifest_path: str | Path | None = None,
    *,
    strict: bool = True,
    errors: list[tuple[str, str]] | None = None,
    validate: bool = True,
) -> list[Seed]:
    """Read the seeds of a manifest (default: the bundled ``seeds/manifest.yaml``).

    Parameters
    ----------
    manifest_path
        A YAML manifest (format in the bundled one's header); CIF paths are relative to it.
    strict
        Raise the first :class:`SeedError`. When False, bad seeds are skipped and
        ``(name, message)`` is appended to ``errors``.
    errors
        Where to collect the errors of skipped seeds (when ``strict`` is False).
    validate
        Read each CIF and check the site rules against it (a few ms a seed).

    Returns
    -------
    list of Seed
    """
    path = Path(manifest_path) if manifest_path is not None else DEFAULT_MANIFEST
    if not path.is_file():
        raise SeedError(f"{path}: no such seed manifest")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SeedError(f"{path}: cannot parse the manifest ({exc})") from exc
    entries = data.get("seeds") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SeedError(f"{path}: the manifest has no 'seeds' list")
    seeds: list[Seed] = []
    names: set[str] = set()
    for entry in entries:
        try:
            if not isinstance(entry, dict):
                raise SeedError(f"{path}: seed entry {entry!r} is not a mapping")
            seed = _parse_seed(entry, path.parent)
            if seed.name in names:
                raise SeedError(f"seed {seed.name!r}: duplicate name in {path.name}")
            if validate:
                seed.validate()
            names.add(seed.name)
            seeds.append(seed)
        except SeedError as exc:
            if strict:
                raise
            if errors is not None:
                errors.append((str(entry.get("name", "?")) if isinstance(entry, dict) else "?", str(exc)))
    return seeds


@functools.lru_cache(maxsize=8)
def _cached_default_seeds(path: str, mtime: float) -> tuple[tuple[Seed, ...], tuple[tuple[str, str], ...]]:
    errors: list[tuple[str, str]] = []
    seeds = load_seeds(path, strict=False, errors=errors)
    return tuple(seeds), tuple(errors)


# --------------------------------------------------------------------------- options


class _Option(NamedTuple):
    rule: int
    host_el: str
    dop_el: str
    dop_oxi: int
    amount: float
    fraction: float
    charge_shift: float  # amount * (q_dop - q_host)
    li_removed: float  # amount when the host is Li
    lam: float
    prob: float
    substitution: Substitution


def _dopant_species(rule: SiteRule, host_oxi: int) -> list[tuple[str, int]]:
    """Stage 'oxidation_state': dopant (element, oxi) pairs the rule allows."""
    if rule.dopants is not None:
        out = []
        for d in rule.dopants:
            sp = Species.from_str(d)
            out.append((sp.element.symbol, int(sp.oxi_state)))
        return out
    pool = ANION_POOL if host_oxi < 0 else _cation_pool()
    out = []
    for el in pool:
        if el == rule.element:
            continue
        for q in Element(el).common_oxidation_states:
            if (q < 0) == (host_oxi < 0) and q != 0 and (q - host_oxi) in rule.charge_changes:
                out.append((el, int(q)))
    return out


def _site_options(
    seed: Seed,
    rule_index: int,
    *,
    pool: set[str] | None,
    exclude: frozenset[str],
    radius_tolerance: float,
    min_lambda: float,
    mixing_grid: Sequence[float],
    doping_grid: Sequence[float],
) -> tuple[list[int], list[_Option]]:
    """Options of one site rule and the number of options left after each option-level filter."""
    rule = seed.sites[rule_index]
    host_oxi = seed.oxidation_states[rule.element]
    host_sp = _species_str(rule.element, host_oxi)
    r_tol = rule.radius_tolerance if rule.radius_tolerance is not None else radius_tolerance
    counts = [0, 0, 0, 0]
    options: list[_Option] = []
    for el, q in _dopant_species(rule, host_oxi):
        if el in seed.oxidation_states and seed.oxidation_states[el] != q:
            continue  # would need two oxidation states of one element
        if rule.amounts is not None:
            grid = [(a / rule.count, a) for a in rule.amounts]
        else:
            fractions = rule.fractions or (mixing_grid if q == host_oxi else doping_grid)
            grid = [(f, f * rule.count) for f in fractions]
        grid = [(round(f, 6), round(a, 6)) for f, a in grid if 0 < f <= 1 + _EPS]
        n = len(grid)
        counts[0] += n
        if el in exclude or (pool is not None and el not in pool):
            continue
        counts[1] += n
        r_host = shannon_radius(rule.element, host_oxi, rule.coordination, partner=(el, q))
        r_dop = shannon_radius(el, q, rule.coordination, partner=(rule.element, host_oxi))
        if r_host is None or r_dop is None:
            continue
        diff = abs(r_dop - r_host)
        ok = diff / r_host <= r_tol + 1e-9
        if not ok and rule.radius_abs_tolerance is not None:
            ok = diff <= rule.radius_abs_tolerance + 1e-9
        if not ok:
            continue
        counts[2] += n
        dop_sp = _species_str(el, q)
        lam, prob = _pair_stats(host_sp, dop_sp)
        if lam < min_lambda:
            continue
        counts[3] += n
        for f, a in grid:
            options.append(
                _Option(
                    rule=rule_index,
                    host_el=rule.element,
                    dop_el=el,
                    dop_oxi=q,
                    amount=a,
                    fraction=f,
                    charge_shift=a * (q - host_oxi),
                    li_removed=a if rule.element == "Li" else 0.0,
                    lam=lam,
                    prob=prob,
                    substitution=Substitution(host_sp, dop_sp, f, a, rule.label),
                )
            )
    return counts, options


def _combinations_count(sizes: Sequence[int], max_k: int) -> int:
    """Number of ways to pick options on at most ``max_k`` distinct sites (parent included)."""
    e = [1] + [0] * max_k  # elementary symmetric polynomials
    for n in sizes:
        for k in range(max_k, 0, -1):
            e[k] += e[k - 1] * n
    return sum(e)


# --------------------------------------------------------------------------- enumeration


def _select_seeds(
    seeds: Iterable[Seed | str] | None, manifest_path: str | Path | None, strict: bool, report: EnumerationReport
) -> list[Seed]:
    if manifest_path is None:
        path = DEFAULT_MANIFEST
        loaded, errs = _cached_default_seeds(str(path), path.stat().st_mtime)
        if strict and errs:
            raise SeedError(errs[0][1])
        report.errors.extend(errs)
        loaded = list(loaded)
    else:
        loaded = load_seeds(manifest_path, strict=strict, errors=report.errors)
    if seeds is None:
        return loaded
    by_name = {s.name: s for s in loaded}
    out = []
    for s in seeds:
        if isinstance(s, Seed):
            out.append(s)
        elif s in by_name:
            out.append(by_name[s])
        else:
            raise SeedError(f"seed {s!r}: not in the manifest (have {sorted(by_name)})")
    return out


def enumerate_candidates(
    seeds: Iterable[Seed | str] | None = None,
    *,
    manifest_path: str | Path | None = None,
    families: Iterable[str] | None = None,
    elements: Iterable[str] | None = None,
    exclude: Iterable[str] = DEFAULT_EXCLUDED,
    radius_tolerance: float = 0.3,
    min_lambda: float = -2.0,
    mixing_grid: Sequence[float] = DEFAULT_MIXING_GRID,
    doping_grid: Sequence[float] = DEFAULT_DOPING_GRID,
    max_substitutions: int | None = None,
    li_min_factor: float = 0.5,
    li_max_factor: float = 1.5,
    report: EnumerationReport | None = None,
    strict: bool = False,
) -> Iterator[Candidate]:
    """Stream candidates by substitution on the seeds; with no arguments, the default space.

    Parameters
    ----------
    seeds
        Seeds or seed names to use (default: all seeds of the manifest).
    manifest_path
        A user manifest instead of the bundled ``seeds/manifest.yaml``.
    families
        Keep only these families (``sulfide``, ``halide``, ``oxide``).
    elements
        Dopant element pool (default: every element); ``exclude`` is removed from it.
    exclude
        Elements never used as dopants (default :data:`DEFAULT_EXCLUDED`).
    radius_tolerance
        Default relative Shannon-radius tolerance (sites may override it).
    min_lambda
        Smallest substitution log-odds lambda accepted (pymatgen SubstitutionProbability).
    mixing_grid, doping_grid
        Site fractions for isovalent and aliovalent substitutions.
    max_substitutions
        Most sites substituted at once (the parent, 0 substitutions, is always included).
        Default: the seed's ``max_substitutions`` in the manifest, else 2.
    li_min_factor, li_max_factor
        Default Li bounds as multiples of the parent's Li content (seeds may override).
    report
        An :class:`EnumerationReport` to fill in (filter counts and seed errors).
    strict
        Raise on a bad seed instead of recording it in ``report.errors``.

    Yields
    ------
    Candidate
        Unique per (reduced formula, prototype), charge-neutral, structure not built.
    """
    report = report if report is not None else EnumerationReport()
    exclude = frozenset(exclude)
    pool = set(elements) if elements is not None else None
    fams = set(families) if families is not None else None
    for seed in _select_seeds(seeds, manifest_path, strict, report):
        if fams is not None and seed.family not in fams:
            continue
        try:
            yield from _enumerate_seed(
                seed,
                pool=pool,
                exclude=exclude,
                radius_tolerance=radius_tolerance,
                min_lambda=min_lambda,
                mixing_grid=mixing_grid,
                doping_grid=doping_grid,
                max_substitutions=(
                    max_substitutions if max_substitutions is not None else (seed.max_substitutions or 2)
                ),
                li_min_factor=li_min_factor,
                li_max_factor=li_max_factor,
                report=report,
            )
        except ScreeningError as exc:
            if strict:
                raise
            report.errors.append((seed.name, str(exc) if seed.name in str(exc) else f"seed {seed.name!r}: {exc}"))


def _enumerate_seed(
    seed: Seed,
    *,
    pool: set[str] | None,
    exclude: frozenset[str],
    radius_tolerance: float,
    min_lambda: float,
    mixing_grid: Sequence[float],
    doping_grid: Sequence[float],
    max_substitutions: int,
    li_min_factor: float,
    li_max_factor: float,
    report: EnumerationReport,
) -> Iterator[Candidate]:
    fam, proto = seed.family, seed.prototype
    per_rule = [
        _site_options(
            seed,
            i,
            pool=pool,
            exclude=exclude,
            radius_tolerance=radius_tolerance,
            min_lambda=min_lambda,
            mixing_grid=mixing_grid,
            doping_grid=doping_grid,
        )
        for i in range(len(seed.sites))
    ]
    for stage in range(4):
        report.add(fam, proto, FILTERS[stage], _combinations_count([c[stage] for c, _ in per_rule], max_substitutions))
    options = [opts for _, opts in per_rule]
    lo, hi = seed.bounds(li_min_factor, li_max_factor)
    capacity = seed.li_capacity
    base = seed.amounts
    n_li = base["Li"]
    oxi0 = seed.oxidation_states
    order = list(base)  # element order of the parent formula
    parent_disordered = not seed.structure.is_ordered
    seen: set[str] = set()
    n_balanced = 0
    n_unique = 0
    for k in range(0, max_substitutions + 1):
        for rule_combo in itertools.combinations(range(len(options)), k):
            for choice in itertools.product(*(options[r] for r in rule_combo)):
                li = n_li - sum(o.charge_shift for o in choice) - sum(o.li_removed for o in choice)
                li = round(li, 6)
                li_site_dopants = sum(o.amount for o in choice if o.host_el == "Li")
                if li < lo - _EPS or li > hi + _EPS or li + li_site_dopants > capacity + _EPS:
                    continue
                oxi = dict(oxi0)
                ok = True
                for o in choice:
                    q = oxi.setdefault(o.dop_el, o.dop_oxi)
                    if q != o.dop_oxi:
                        ok = False
                        break
                if not ok:
                    continue
                n_balanced += 1
                amounts = dict(base)
                dopants_after: dict[str, list[str]] = defaultdict(list)
                for o in choice:
                    amounts[o.host_el] = round(amounts[o.host_el] - o.amount, 6)
                    if o.dop_el in amounts:
                        amounts[o.dop_el] = round(amounts[o.dop_el] + o.amount, 6)
                    else:
                        amounts[o.dop_el] = o.amount
                        dopants_after[o.host_el].append(o.dop_el)
                amounts["Li"] = li
                elements_order: list[str] = []
                for el in order:
                    elements_order.append(el)
                    elements_order.extend(dopants_after.get(el, ()))
                formula = "".join(f"{el}{_fmt(amounts[el])}" for el in elements_order if amounts[el] > _EPS)
                comp = Composition({el: amounts[el] for el in elements_order if amounts[el] > _EPS})
                cid = composition_id(comp, prefix=proto)
                if cid in seen:
                    continue
                seen.add(cid)
                n_unique += 1
                partial = any(o.fraction < 1 - _EPS for o in choice) or abs(li - n_li) > _EPS
                used = {el for el in elements_order if amounts[el] > _EPS}
                yield Candidate(
                    id=cid,
                    formula=formula,
                    family=fam,
                    prototype=proto,
                    parent=seed.name,
                    substitutions=tuple(o.substitution for o in choice),
                    oxidation_states={el: q for el, q in oxi.items() if el in used},
                    disordered=parent_disordered or partial,
                    li_content=li,
                    likelihood=math.prod(o.prob for o in choice),
                    min_lambda=min((o.lam for o in choice), default=math.inf),
                    _seed=seed,
                )
    report.add(fam, proto, "charge_balance", n_balanced)
    report.add(fam, proto, "unique", n_unique)


def iter_candidate_chunks(chunk_size: int = 10_000, **kwargs: Any) -> Iterator[list[Candidate]]:
    """Candidates of :func:`enumerate_candidates` (same keyword arguments) in lists of ``chunk_size``."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size}: must be at least 1")
    it = enumerate_candidates(**kwargs)
    while True:
        chunk = list(itertools.islice(it, chunk_size))
        if not chunk:
            return
        yield chunk


# --------------------------------------------------------------------------- structures


def _water_fill(weights: list[float], caps: list[float], target: float) -> list[float]:
    """Split ``target`` in proportion to ``weights`` without exceeding ``caps``."""
    out = [0.0] * len(weights)
    active = [i for i, w in enumerate(weights) if w > 0 and caps[i] > _EPS]
    remaining = target
    while active and remaining > _EPS:
        total_w = sum(weights[i] for i in active)
        scale = remaining / total_w
        saturated = [i for i in active if weights[i] * scale >= caps[i] - 1e-12]
        if not saturated:
            for i in active:
                out[i] = weights[i] * scale
            return out
        for i in saturated:
            out[i] = caps[i]
            remaining -= caps[i]
        active = [i for i in active if i not in saturated]
    if remaining > 1e-4:
        raise ScreeningError(f"not enough Li sites: {remaining:.3f} Li per cell left over")
    return out


def build_structure(candidate: Candidate, seeds: Sequence[Seed] | None = None) -> Structure:
    """Build the structure of a candidate from its parent CIF.

    Dopants go onto the host's sites as partial occupancies (``fraction`` of each host
    site); dopants on Li sites are spread over the Li sites in proportion to their Li
    occupancy; the candidate's Li content is then spread over the Li sites the same way,
    capped at full occupancy. Species carry the oxidation states. The lattice is scaled
    isotropically so that the volume changes like the sum of cubed Shannon radii.

    Parameters
    ----------
    candidate
        A candidate from :func:`enumerate_candidates`.
    seeds
        Seeds to look the parent up in when the candidate carries none (e.g. after
        pickling across processes without the seed); default: the bundled manifest.

    Returns
    -------
    Structure
        Usually disordered (fractional occupancies).

    Raises
    ------
    ScreeningError
        When the parent is unknown or the Li sites cannot hold the Li content.
    """
    seed = candidate._seed
    if seed is None:
        pool = seeds if seeds is not None else load_seeds()
        seed = next((s for s in pool if s.name == candidate.parent), None)
        if seed is None:
            raise SeedError(f"seed {candidate.parent!r}: not found for candidate {candidate.id}")
    t = seed.template()
    z = t["z"]
    occ = [dict(o) for o in t["occ"]]
    li_rule_amount: dict[str, float] = defaultdict(float)
    for sub in candidate.substitutions:
        host_el = Species.from_str(sub.host).element.symbol
        dop_el = Species.from_str(sub.dopant).element.symbol
        if host_el == "Li":
            li_rule_amount[dop_el] += sub.amount
            continue
        for i in t["rule_sites"][sub.site]:
            # fractions refer to the parent's occupancy, whatever other dopants added
            take = t["occ"][i].get(host_el, 0.0) * sub.fraction
            if take <= 0:
                continue
            o = occ[i]
            o[host_el] = max(0.0, o[host_el] - take)
            o[dop_el] = o.get(dop_el, 0.0) + take
    li_sites = t["li_sites"]
    li_weights = [t["occ"][i]["Li"] for i in li_sites]
    total_w = sum(li_weights)
    for dop_el, amount in li_rule_amount.items():
        for i, w in zip(li_sites, li_weights):
            occ[i][dop_el] = occ[i].get(dop_el, 0.0) + amount * z * w / total_w
    caps = [max(0.0, 1.0 - sum(v for k, v in occ[i].items() if k != "Li")) for i in li_sites]
    try:
        li_occ = _water_fill(li_weights, caps, candidate.li_content * z)
    except ScreeningError as exc:
        raise ScreeningError(f"candidate {candidate.formula} ({candidate.parent}): {exc}") from exc
    for i, v in zip(li_sites, li_occ):
        occ[i]["Li"] = v
    oxi = candidate.oxidation_states
    species, coords = [], []
    for o, xyz in zip(occ, t["coords"]):
        sp = {Species(el, oxi[el]): round(v, 8) for el, v in o.items() if v > 1e-8}
        if sp:
            species.append(sp)
            coords.append(xyz)
    # volume from the change in summed cubed radii (per formula unit)
    r3 = t["r3"]
    base = seed.amounts
    v_old = sum(base[el] * r3[el] for el in base)
    dv = (candidate.li_content - base["Li"]) * r3["Li"]
    for sub in candidate.substitutions:
        host = Species.from_str(sub.host)
        dop = Species.from_str(sub.dopant)
        rule = next(r for r in seed.sites if r.label == sub.site)
        r_d = shannon_radius(dop.element.symbol, int(dop.oxi_state), rule.coordination,
                             partner=(host.element.symbol, int(host.oxi_state)))
        r_h = shannon_radius(host.element.symbol, int(host.oxi_state), rule.coordination,
                             partner=(dop.element.symbol, int(dop.oxi_state)))
        if r_d is None or r_h is None:
            continue
        if host.element.symbol == "Li":  # the replaced Li is already in the Li change
            dv += sub.amount * r_d**3
        else:
            dv += sub.amount * (r_d**3 - r_h**3)
    lattice: Lattice = t["lattice"]
    scale = max(0.5, (v_old + dv) / v_old) ** (1 / 3)
    new_lattice = Lattice(lattice.matrix * scale)
    try:
        return Structure(new_lattice, species, coords, validate_proximity=False)
    except ValueError as exc:
        msg = f"candidate {candidate.formula} ({candidate.parent}): cannot build structure ({exc})"
        raise ScreeningError(msg) from exc
