"""Seeds: the parent prototypes of the manifest, their CIFs and the element notes.

Paths are read from :func:`screening.config.get_settings` at call time, so that
``SCREENING_SEEDS_DIR`` points the library at another seeds folder (its ``manifest.yaml``
and ``elements.csv``).
"""

from __future__ import annotations

import csv
import functools
import warnings
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pymatgen.core import Composition, Species, Structure

from screening.config import get_settings
from screening.enumeration.radii import shannon_radius
from screening.errors import ScreeningError, StructureReadError
from screening.structures import read_structure

_EPS = 1e-6


class SeedError(ScreeningError):
    """A seed of the manifest cannot be used (missing file, unreadable CIF, bad site rule)."""


def seeds_dir() -> Path:
    """The seeds folder: ``SCREENING_SEEDS_DIR`` (``screening.config``), read at call time."""
    return Path(get_settings().seeds_dir)


def default_manifest() -> Path:
    """The manifest used when none is given: ``manifest.yaml`` in :func:`seeds_dir`."""
    return seeds_dir() / "manifest.yaml"


def element_notes() -> dict[str, dict[str, Any]]:
    """Abundance and cost notes per element, from ``elements.csv`` in :func:`seeds_dir`.

    Returns
    -------
    dict
        ``{symbol: {"crust_abundance_ppm": float, "default_excluded": bool, "note": str}}``;
        crustal abundances are approximate (CRC Handbook values, mg/kg). Empty when the
        file is missing.
    """
    path = seeds_dir() / "elements.csv"
    if not path.is_file():
        return {}
    return _element_notes(str(path), path.stat().st_mtime)


@functools.lru_cache(maxsize=4)
def _element_notes(path: str, mtime: float) -> dict[str, dict[str, Any]]:
    notes: dict[str, dict[str, Any]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            notes[row["element"]] = {
                "crust_abundance_ppm": float(row["crust_abundance_ppm"]),
                "default_excluded": row["default_excluded"].strip() == "True",
                "note": row["note"],
            }
    return notes


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
    """Read the seeds of a manifest (default: ``manifest.yaml`` in ``SCREENING_SEEDS_DIR``, else ``seeds/``).

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
    path = Path(manifest_path) if manifest_path is not None else default_manifest()
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


def select_seeds(
    seeds: Iterable[Seed | str] | None,
    manifest_path: str | Path | None,
    strict: bool,
    errors: list[tuple[str, str]],
) -> list[Seed]:
    """Seeds to enumerate: all of the manifest (default :func:`default_manifest`) or those named.

    Bad seeds of the manifest are appended to ``errors`` (or raised when ``strict``).
    """
    if manifest_path is None:
        path = default_manifest()
        if not path.is_file():
            raise SeedError(f"{path}: no such seed manifest (SCREENING_SEEDS_DIR={seeds_dir()})")
        loaded_t, errs = _cached_default_seeds(str(path), path.stat().st_mtime)
        if strict and errs:
            raise SeedError(errs[0][1])
        errors.extend(errs)
        loaded = list(loaded_t)
    else:
        loaded = load_seeds(manifest_path, strict=strict, errors=errors)
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
