"""The reference hull: Materials Project ground states, per-system entry tables, hull energies.

:class:`ReferenceHull` holds the reference phases (formation energies in eV/atom, elements
at 0) indexed by element, so that the phases of a chemical system are found by filtering
the phases that contain one of its elements (no walk over the 2^n subsets of the system),
and answers every descriptor with the linear programs of :mod:`.lp` (default) or the
pymatgen phase diagrams of :mod:`.reference`.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition, Element

from screening.chemistry import as_composition
from screening.descriptors.stability import lp, reference
from screening.errors import InvalidCompositionError, UnsupportedChemistryError

#: the two ways of computing the stability descriptors
METHODS = ("lp", "pymatgen")
#: default limit on the elements of one chemical system (formula plus partner); above it the
#: descriptors raise :class:`UnsupportedChemistryError` (cost grows with the system)
MAX_ELEMENTS = 12


@dataclass(frozen=True)
class ElectrochemicalWindow:
    """The Li/Li+ stability window of a composition and the reactions that bound it.

    ``low_V`` is the reduction limit (0 when stable against Li metal), ``high_V`` the
    oxidation limit (``inf`` when nothing releases Li). Potentials are in volts against
    Li/Li+, computed as ``V = -(mu_Li - mu_Li_metal) / e``.
    """

    formula: str
    low_V: float
    high_V: float
    reduction_reaction: str
    oxidation_reaction: str

    @property
    def width_V(self) -> float:
        return self.high_V - self.low_V

    def as_dict(self) -> dict:
        d = asdict(self)
        d["width_V"] = self.width_V
        return d


@dataclass(frozen=True, eq=False)
class SystemTable:
    """LP entry table of one chemical system: rows are the entries (pure elements first)."""

    elements: tuple[str, ...]
    index: dict[str, int]
    x: np.ndarray  # (entries, elements) atomic fractions
    e: np.ndarray  # (entries,) formation energy, eV/atom
    names: tuple[str, ...]

    def vector(self, fractions) -> np.ndarray:
        v = np.zeros(len(self.elements))
        for el, f in dict(fractions).items():
            v[self.index[el]] += f
        return v


_SystemTable = SystemTable  # old private name


class ReferenceHull:
    """Convex hulls of reference formation energies, one per chemical system, cached.

    Parameters
    ----------
    formulas, formation_energies_eV_atom
        Reference compositions and their formation energies per atom (elements at 0).
    on_hull
        Optional flags: which references lie on the hull. Only those enter the phase
        diagrams and LPs (a phase above the hull never changes it); all of them keep their
        reference formation energy. Default: every reference enters.
    cache_size
        How many phase diagrams (and LP entry tables) to keep (least recently used dropped).
    method
        Default method: ``"lp"`` (linear programs) or ``"pymatgen"`` (phase diagrams).
    max_elements
        Largest chemical system (elements of the formula and its partner) answered; above
        it :class:`UnsupportedChemistryError`.

    Elements that occur in no reference formula raise :class:`UnsupportedChemistryError`
    naming the element (the hull would otherwise treat them as the bare element).
    """

    def __init__(
        self,
        formulas: Iterable[str],
        formation_energies_eV_atom: Iterable[float],
        on_hull: Iterable[bool] | None = None,
        cache_size: int = 2048,
        method: str = "lp",
        max_elements: int = MAX_ELEMENTS,
    ):
        self._by_system: dict[frozenset[str], list[PDEntry]] = defaultdict(list)
        self._energy_of: dict[str, float] = {}
        self._systems_with: dict[str, set[frozenset[str]]] = defaultdict(set)
        formulas = list(formulas)
        flags = [True] * len(formulas) if on_hull is None else list(on_hull)
        elements: set[str] = set()
        for formula, ef, keep in zip(formulas, formation_energies_eV_atom, flags, strict=True):
            comp = Composition(formula)
            key = frozenset(el.symbol for el in comp.elements)
            elements |= key
            if keep:  # phases above the hull cannot change it: leaving them out keeps hulls small
                self._by_system[key].append(PDEntry(comp, float(ef) * comp.num_atoms, name=comp.reduced_formula))
                for el in key:
                    self._systems_with[el].add(key)
            reduced = comp.reduced_formula
            self._energy_of[reduced] = min(float(ef), self._energy_of.get(reduced, math.inf))
        #: elements present in the reference data
        self.elements = frozenset(elements)
        self.method = _checked_method(method)
        if max_elements < 1:
            raise ValueError(f"max_elements={max_elements!r}: expected a positive number")
        self.max_elements = int(max_elements)
        self._lock = threading.Lock()
        self._phase_diagram = lru_cache(maxsize=cache_size)(self._build_phase_diagram)
        self._rows_cache: dict[frozenset[str], tuple] = {}
        self._system_table = lru_cache(maxsize=cache_size)(self._build_system_table)
        self._hull_solution = lru_cache(maxsize=2**16)(self._solve_hull)

    @classmethod
    def from_mp_ground_states(cls, method: str = "lp", max_elements: int = MAX_ELEMENTS) -> ReferenceHull:
        """The hull of the bundled Materials Project ground states (all splits, stable phases)."""
        from screening.datasets import load_mp_ground_states

        df = load_mp_ground_states()
        # decomposition energy <= 0: on the hull of the other phases (Bartel et al. 2020)
        return cls(df["formula"], df["formation_energy_eV_atom"], on_hull=df["decomposition_energy_eV_atom"] <= 0,
                   method=method, max_elements=max_elements)  # fmt: skip

    def _method(self, method: str | None) -> str:
        return self.method if method is None else _checked_method(method)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_system.values())

    # ------------------------------------------------------------------ systems

    def check_system(self, elements: Iterable[str | Element]) -> frozenset[str]:
        """The chemical system of these elements, checked: valid symbols, each in the reference
        data, at most ``max_elements`` of them (else :class:`UnsupportedChemistryError`)."""
        system = frozenset(str(getattr(el, "symbol", el)) for el in elements)
        for el in sorted(system):
            if not Element.is_valid_symbol(el):
                raise InvalidCompositionError(f"{el!r} is not an element")
        missing = sorted(system - self.elements, key=lambda s: Element(s).Z)
        if missing:
            raise UnsupportedChemistryError(
                f"no reference phases of {', '.join(missing)}: the reference hull cannot describe this element"
            )
        if len(system) > self.max_elements:
            raise UnsupportedChemistryError(
                f"{len(system)} elements in the chemical system, above the limit of {self.max_elements} (max_elements)"
            )
        return system

    def subsystems(self, system: frozenset[str]) -> list[frozenset[str]]:
        """The element sets of the reference phases inside ``system`` (per-element index)."""
        keys: set[frozenset[str]] = set()
        for el in system:
            keys |= self._systems_with.get(el, set())
        return sorted((k for k in keys if k <= system), key=lambda k: (len(k), sorted(k)))

    # ------------------------------------------------------------------ pymatgen

    def _build_phase_diagram(self, system: frozenset[str]) -> PhaseDiagram:
        entries = [PDEntry(Composition(el), 0.0, name=el) for el in sorted(system)]
        for sub in self.subsystems(system):
            entries.extend(self._by_system[sub])
        return PhaseDiagram(entries)

    def phase_diagram(self, elements: Iterable[str | Element]) -> PhaseDiagram:
        """The pymatgen phase diagram of a chemical system (cached)."""
        system = self.check_system(elements)
        with self._lock:
            return self._phase_diagram(system)

    def _pd_for(self, *comps: Composition) -> PhaseDiagram:
        return self.phase_diagram({el.symbol for c in comps for el in c.elements})

    # ------------------------------------------------------------------ LP tables

    def _rows_of(self, key: frozenset[str]) -> tuple:
        """(atomic fractions, energies per atom, names) of the references of exactly this element set."""
        rows = self._rows_cache.get(key)
        if rows is None:
            entries = self._by_system.get(key, ())
            rows = (
                [{el.symbol: e.composition.get_atomic_fraction(el) for el in e.composition.elements} for e in entries],
                [e.energy_per_atom for e in entries],
                [e.name for e in entries],
            )
            self._rows_cache[key] = rows
        return rows

    def _build_system_table(self, system: frozenset[str]) -> SystemTable:
        elements = tuple(sorted(system))
        index = {el: i for i, el in enumerate(elements)}
        fractions: list[dict[str, float]] = [{el: 1.0} for el in elements]
        energies: list[float] = [0.0] * len(elements)
        names: list[str] = list(elements)
        for sub in self.subsystems(system):
            fr, en, nm = self._rows_of(sub)
            fractions.extend(fr)
            energies.extend(en)
            names.extend(nm)
        x = np.zeros((len(fractions), len(elements)))
        for i, fr in enumerate(fractions):
            for el, f in fr.items():
                x[i, index[el]] = f
        return SystemTable(elements, index, x, np.asarray(energies, float), tuple(names))

    def system_table(self, elements: Iterable[str | Element]) -> SystemTable:
        """The LP entry table of a chemical system: the pure elements at 0 and every reference in it (cached)."""
        return self._system_table(self.check_system(elements))

    def _solve_hull(self, system: frozenset[str], key: tuple) -> tuple[float, tuple[int, ...], tuple[float, ...]]:
        table = self._system_table(system)
        try:
            energy, lam = lp.hull(table.x, table.e, table.vector(dict(key)))
        except RuntimeError as exc:
            raise RuntimeError(f"hull LP of {dict(key)} in {sorted(system)}: {exc}") from None
        support = tuple(int(i) for i in np.flatnonzero(lam > lp.SUPPORT_TOL))
        return energy, support, tuple(float(lam[i]) for i in support)

    def _hull_lp(self, comp: Composition, system: frozenset[str] | None = None):
        """(hull energy, indices of the equilibrium assemblage in the system table, their fractions)."""
        key = _fraction_key(comp)
        system = self.check_system(el for el, _ in key) if system is None else self.check_system(system)
        with self._lock:
            return self._hull_solution(system, key)

    # ------------------------------------------------------------------ energies

    def reference_formation_energy(self, formula: str | Composition) -> float:
        """Lowest reference formation energy (eV/atom) of this reduced formula, NaN if absent."""
        return self._energy_of.get(as_composition(formula).reduced_formula, float("nan"))

    def hull_energy(self, formula: str | Composition, method: str | None = None) -> float:
        """Formation energy of the hull (eV/atom) at this composition."""
        comp = as_composition(formula)
        if self._method(method) == "pymatgen":
            return float(self._pd_for(comp).get_hull_energy_per_atom(comp))
        return self._hull_lp(comp)[0]

    def energy_above_hull(
        self, formula: str | Composition, formation_energy_eV_atom: float, method: str | None = None
    ) -> float:
        """Energy above the reference hull (eV/atom) of a composition with this formation energy.

        Negative when the composition would lie below the hull of the reference phases.
        """
        if formation_energy_eV_atom is None or not np.isfinite(formation_energy_eV_atom):
            raise ValueError(f"formation_energy_eV_atom={formation_energy_eV_atom!r} for {formula}: not a finite number")
        return float(formation_energy_eV_atom) - self.hull_energy(formula, method=method)

    def decomposition(self, formula: str | Composition) -> dict[str, float]:
        """Equilibrium phase assemblage at this composition: ``{phase: atomic fraction}`` (LP)."""
        comp = as_composition(formula)
        _, support, lam = self._hull_lp(comp)
        names = self.system_table(el.symbol for el in comp.elements).names
        return {names[i]: f for i, f in sorted(zip(support, lam, strict=True), key=lambda t: -t[1])}

    # ------------------------------------------------------------------ window

    def electrochemical_window(
        self, formula: str | Composition, method: str | None = None, phase_energy_eV_atom: float | None = None
    ) -> ElectrochemicalWindow:
        """Li/Li+ electrochemical stability window (Zhu, He and Mo 2015).

        Without ``phase_energy_eV_atom``: the window of the equilibrium phase assemblage of
        the reference hull at this composition (zero width when it lies inside a facet).
        With it: the composition enters the hull as a phase at this formation energy
        (eV/atom, in place of any reference of the same formula), which must lie below the
        hull of the other phases, and the window is that phase's own.

        Reaction texts: ``"pymatgen"``, the balanced reactions of the element profile next
        to the window; ``"lp"``, see :func:`.lp.window`; ``"stable against Li metal"`` /
        ``"no Li released"`` when the limit is 0 V / none.
        """
        comp = as_composition(formula)
        system = self.check_system({el.symbol for el in comp.elements} | {"Li"})
        if phase_energy_eV_atom is not None:
            hull_e = self.hull_energy(comp, method=method) if not comp.is_element else 0.0
            if not phase_energy_eV_atom < hull_e - 1e-9:
                raise ValueError(f"phase_energy_eV_atom={phase_energy_eV_atom!r} for {comp.reduced_formula}: "
                                 f"not below the hull ({hull_e:.6f} eV/atom)")  # fmt: skip
        if self._method(method) == "pymatgen":
            with self._lock:
                pd = self._phase_diagram(system)
            if phase_energy_eV_atom is not None:
                pd = reference.with_phase(pd, comp, phase_energy_eV_atom)
            w = reference.window(pd, comp)
        else:
            table = self._system_table(system)
            if phase_energy_eV_atom is None:
                _, support, lam = self._hull_lp(comp, system)
                x, e, names = table.x, table.e, table.names
            else:
                x, e = lp.with_phase(table.x, table.e, table.vector(_fraction_key(comp)), phase_energy_eV_atom)
                names = tuple(n for n, keep in zip(table.names, _kept(table.x, x), strict=True) if keep)
                names = (*names, comp.reduced_formula)
                support, lam = [len(e) - 1], [1.0]
            w = lp.window(x, e, names, table.index["Li"], list(support), list(lam), comp.formula)
        return ElectrochemicalWindow(comp.reduced_formula, w.low_V, w.high_V, w.reduction_reaction, w.oxidation_reaction)

    # ------------------------------------------------------------------ interfaces

    def reaction_energy(
        self,
        formula: str | Composition,
        partner: str | Composition,
        formation_energy_eV_atom: float | None = None,
        method: str | None = None,
    ) -> float:
        """Most negative reaction energy (eV/atom of the mixture) at the interface with ``partner``.

        ``formation_energy_eV_atom``: the electrolyte's own formation energy. When omitted,
        the electrolyte is taken at the hull energy of its composition (a bound: a phase
        above the hull can only be more reactive). When given, the electrolyte enters as an
        entry with that energy, in place of any reference phase of the same formula.

        Returns 0 when nothing reacts. Both sides are normalised to one atom (pymatgen
        ``norm=True``), so the value is per atom of the reacting mixture.
        """
        c1, c2 = as_composition(formula), as_composition(partner)
        if self._method(method) == "lp" and not (formation_energy_eV_atom is not None and c1.is_element):
            return self._reaction_energy_lp(c1, c2, formation_energy_eV_atom)
        # pymatgen (also for an element given its own energy: it would become the elemental reference)
        return reference.reaction_energy(self._pd_for(c1, c2), c1, c2, formation_energy_eV_atom)

    def _reaction_energy_lp(self, c1: Composition, c2: Composition, formation_energy_eV_atom: float | None) -> float:
        system = self.check_system(el.symbol for c in (c1, c2) for el in c.elements)
        table = self._system_table(system)
        a, b = table.vector(_fraction_key(c1)), table.vector(_fraction_key(c2))
        x, e = table.x, table.e
        if formation_energy_eV_atom is None:
            e1, e2 = self._hull_lp(c1)[0], self._hull_lp(c2)[0]
        else:  # the candidate replaces the references of its composition (as in the pymatgen path)
            x, e = lp.with_phase(x, e, a, formation_energy_eV_atom)
            e1, e2 = lp.entry_energy(x, e, a), lp.entry_energy(x, e, b)
        return lp.reaction_energy(x, e, a, b, e1, e2, f"{c1.formula} with {c2.formula}")


def _kept(x_old: np.ndarray, x_new: np.ndarray) -> list[bool]:
    """Which rows of ``x_old`` :func:`.lp.with_phase` kept (all but those equal to its new last row)."""
    return list(~np.all(np.abs(x_old - x_new[-1]) < 1e-12, axis=1))


def _checked_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method={method!r}: expected one of {METHODS}")
    return method


def _fraction_key(comp: Composition) -> tuple[tuple[str, float], ...]:
    """Hashable atomic fractions of a composition, sorted by element."""
    total = comp.num_atoms
    return tuple(sorted((el.symbol, amt / total) for el, amt in comp.items() if amt > 0))


_default: ReferenceHull | None = None
_default_lock = threading.Lock()


def default_hull() -> ReferenceHull:
    """The shared hull of the bundled Materials Project ground states (built once)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ReferenceHull.from_mp_ground_states()
        return _default


@lru_cache(maxsize=1)
def reference_elements() -> frozenset[str]:
    """The elements of the bundled Materials Project ground states (the chemistry the hull,
    and the formation-energy and moduli models trained on Materials Project data, can describe).

    The same set as ``default_hull().elements``, read from the formulas without building the hull.
    """
    import re

    from screening.datasets import load_mp_ground_states

    return frozenset(re.findall(r"[A-Z][a-z]?", " ".join(load_mp_ground_states()["formula"])))
