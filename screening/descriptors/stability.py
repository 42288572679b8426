"""Thermodynamic stability against a reference convex hull of Materials Project ground states.

The reference data are the formation energies (eV/atom, elements at 0) of the 85,014
ground-state compositions compiled by Bartel et al. (2020) from the Materials Project.
:class:`ReferenceHull` holds, for each chemical system on demand, the reference phases on
the hull whose elements lie in the system plus the elements at zero (cached), and answers
with linear programs over them or with a pymatgen
:class:`~pymatgen.analysis.phase_diagram.PhaseDiagram` of them (see the two methods below).

On that hull:

* :meth:`ReferenceHull.energy_above_hull` - distance of a composition with a given
  formation energy from the hull (negative below it);
* :meth:`ReferenceHull.electrochemical_window` - the Li/Li+ window of Zhu, He and Mo
  (ACS Appl. Mater. Interfaces 7, 23685 (2015)): the range of Li chemical potential over
  which the material (or, off the hull, its equilibrium phase assemblage) neither takes
  up nor releases lithium;
* :meth:`ReferenceHull.reaction_energy` - the most negative reaction energy of the
  interface with a partner (Li metal, a cathode, water), as pymatgen's
  :class:`~pymatgen.analysis.interface_reactions.InterfacialReactivity` defines it
  (Richards et al., Chem. Mater. 28, 266 (2016)).

Two methods compute the same numbers (``method=`` on each of them, default ``"lp"``):

* ``"lp"`` (default): linear programs (``scipy.optimize.linprog``, HiGHS) over the
  reference entries of the chemical system, no convex hull is built. With ``E_i`` the
  formation energies per atom and ``x_i`` the atomic-fraction vectors of the entries
  (elements at 0), the hull energy at a composition ``c`` is
  ``min sum(l_i E_i) s.t. sum(l_i x_i) = c, l >= 0``; the supporting chemical potentials
  at ``c`` are ``{mu : mu.x_i <= E_i for all i, mu.x_j = E_j for the phases j of the
  equilibrium assemblage}``, and the window is the range of ``mu_Li`` over that set
  (two LPs; ``V = -mu_Li``); the interface reaction energy with a partner ``b`` is
  ``min sum(l_i E_i) - x E(a) - (1 - x) E(b) s.t. sum(l_i x_i) = x a + (1 - x) b,
  l >= 0, 0 <= x <= 1`` (one LP). About 10-30 ms a formula whatever the number of
  elements. tests/test_stability_lp.py checks it against the pymatgen path.
* ``"pymatgen"``: the pymatgen phase diagram of the system (qhull, 0.2-0.5 s for a new
  six- or seven-element system), its element profile and InterfacialReactivity.

Module-level functions use one shared default hull.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from pymatgen.analysis.interface_reactions import InterfacialReactivity
from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.analysis.reaction_calculator import ReactionError
from pymatgen.core import Composition, Element
from scipy.optimize import linprog

from screening.chemistry import as_composition
from screening.errors import InvalidCompositionError

__all__ = [
    "ReferenceHull",
    "ElectrochemicalWindow",
    "default_hull",
    "energy_above_hull",
    "electrochemical_window",
    "reaction_energy",
    "stability_descriptors",
    "stability_table",
    "STABILITY_COLUMNS",
    "as_composition",
    "DEFAULT_PARTNERS",
]

#: Partners of :func:`stability_descriptors`: the anode, a 4 V layered-oxide cathode, and
#: water (moisture sensitivity: sulfides that hydrolyse release H2S).
DEFAULT_PARTNERS = {"Li": "li", "LiCoO2": "licoo2", "H2O": "h2o"}

#: window and interface columns of :func:`stability_descriptors` (besides the hull energies)
STABILITY_COLUMNS = (
    "window_low_V", "window_high_V", "window_width_V", "e_rxn_li_eV_atom", "e_rxn_licoo2_eV_atom", "e_rxn_h2o_eV_atom",
)  # fmt: skip

_EVOLUTION_TOL = 1e-6

#: the two ways of computing the stability descriptors (see the module docstring)
METHODS = ("lp", "pymatgen")
#: HiGHS options of every LP: tight tolerances, so that assemblages and windows match the hull's
_HIGHS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10, "presolve": True}
#: phase fraction above which a phase belongs to the equilibrium assemblage of an LP solution
_SUPPORT_TOL = 1e-10
#: how close to its hyperplane an entry counts as coexisting at a limit potential (eV/atom)
_TIGHT_TOL = 1e-7


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


class ReferenceHull:
    """Convex hulls of reference formation energies, one per chemical system, cached.

    Parameters
    ----------
    formulas, formation_energies_eV_atom
        Reference compositions and their formation energies per atom (elements at 0).
    on_hull
        Optional flags: which references lie on the hull. Only those enter the phase
        diagrams (a phase above the hull never changes it), which keeps the hulls of
        six- and seven-element systems small and fast; all of them keep their reference
        formation energy. Default: every reference enters.
    cache_size
        How many phase diagrams (and LP entry tables) to keep (least recently used are dropped).
    method
        Default method of the descriptors: ``"lp"`` (linear programs, no hull) or
        ``"pymatgen"`` (phase diagrams); each call can override it.
    """

    def __init__(
        self,
        formulas: Iterable[str],
        formation_energies_eV_atom: Iterable[float],
        on_hull: Iterable[bool] | None = None,
        cache_size: int = 2048,
        method: str = "lp",
    ):
        self._by_system: dict[frozenset[str], list[PDEntry]] = defaultdict(list)
        self._energy_of: dict[str, float] = {}
        formulas = list(formulas)
        flags = [True] * len(formulas) if on_hull is None else list(on_hull)
        for formula, ef, keep in zip(formulas, formation_energies_eV_atom, flags, strict=True):
            comp = Composition(formula)
            if keep:  # phases above the hull cannot change it: leaving them out keeps hulls small
                entry = PDEntry(comp, float(ef) * comp.num_atoms, name=comp.reduced_formula)
                self._by_system[frozenset(el.symbol for el in comp.elements)].append(entry)
            reduced = comp.reduced_formula
            self._energy_of[reduced] = min(float(ef), self._energy_of.get(reduced, math.inf))
        self.method = _checked_method(method)
        self._lock = threading.Lock()
        self._phase_diagram = lru_cache(maxsize=cache_size)(self._build_phase_diagram)
        self._rows_cache: dict[frozenset[str], tuple] = {}
        self._system_table = lru_cache(maxsize=cache_size)(self._build_system_table)
        self._hull_solution = lru_cache(maxsize=2**16)(self._solve_hull)

    @classmethod
    def from_mp_ground_states(cls, method: str = "lp") -> ReferenceHull:
        """The hull of the bundled Materials Project ground states (all splits, stable phases)."""
        from screening.datasets import load_mp_ground_states

        df = load_mp_ground_states()
        # decomposition energy <= 0: on the hull of the other phases (Bartel et al. 2020)
        return cls(
            df["formula"], df["formation_energy_eV_atom"], on_hull=df["decomposition_energy_eV_atom"] <= 0, method=method
        )

    def _method(self, method: str | None) -> str:
        return self.method if method is None else _checked_method(method)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_system.values())

    # ------------------------------------------------------------------ hulls

    def _build_phase_diagram(self, system: frozenset[str]) -> PhaseDiagram:
        entries = [PDEntry(Composition(el), 0.0, name=el) for el in sorted(system)]
        for size in range(1, len(system) + 1):
            for sub in itertools.combinations(sorted(system), size):
                entries.extend(self._by_system.get(frozenset(sub), ()))
        return PhaseDiagram(entries)

    def phase_diagram(self, elements: Iterable[str | Element]) -> PhaseDiagram:
        """The phase diagram of a chemical system (cached)."""
        system = frozenset(str(getattr(el, "symbol", el)) for el in elements)
        for el in system:
            if not Element.is_valid_symbol(el):
                raise InvalidCompositionError(f"{el!r} is not an element")
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

    def _build_system_table(self, system: frozenset[str]) -> _SystemTable:
        elements = tuple(sorted(system))
        index = {el: i for i, el in enumerate(elements)}
        fractions: list[dict[str, float]] = [{el: 1.0} for el in elements]
        energies: list[float] = [0.0] * len(elements)
        names: list[str] = list(elements)
        for size in range(1, len(elements) + 1):
            for sub in itertools.combinations(elements, size):
                fr, en, nm = self._rows_of(frozenset(sub))
                fractions.extend(fr)
                energies.extend(en)
                names.extend(nm)
        x = np.zeros((len(fractions), len(elements)))
        for i, fr in enumerate(fractions):
            for el, f in fr.items():
                x[i, index[el]] = f
        return _SystemTable(elements, index, x, np.asarray(energies, float), tuple(names))

    def system_table(self, elements: Iterable[str | Element]) -> _SystemTable:
        """The LP entry table of a chemical system: the pure elements at 0 and every reference in it (cached)."""
        return self._system_table(_system_of(elements))

    def _solve_hull(self, system: frozenset[str], key: tuple) -> tuple[float, tuple[int, ...], tuple[float, ...]]:
        table = self._system_table(system)
        c = table.vector(dict(key))
        res = linprog(table.e, A_eq=table.x.T, b_eq=c, bounds=(0, None), method="highs", options=_HIGHS)
        if res.status != 0:
            raise RuntimeError(f"hull LP of {dict(key)} in {sorted(system)} failed: {res.message}")
        lam = res.x
        support = tuple(int(i) for i in np.flatnonzero(lam > _SUPPORT_TOL))
        return float(res.fun), support, tuple(float(lam[i]) for i in support)

    def _hull_lp(self, comp: Composition, system: frozenset[str] | None = None):
        """(hull energy, indices of the equilibrium assemblage in the system table, their fractions)."""
        key = _fraction_key(comp)
        if system is None:
            system = frozenset(el for el, _ in key)
        with self._lock:
            return self._hull_solution(system, key)

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

        Negative when the composition would lie below the hull of the reference phases
        (a predicted new stable compound).
        """
        if formation_energy_eV_atom is None or not np.isfinite(formation_energy_eV_atom):
            raise ValueError(f"formation_energy_eV_atom={formation_energy_eV_atom!r} for {formula}: not a finite number")
        return float(formation_energy_eV_atom) - self.hull_energy(formula, method=method)

    def decomposition(self, formula: str | Composition) -> dict[str, float]:
        """Equilibrium phase assemblage at this composition: ``{phase: atomic fraction}`` (LP)."""
        comp = as_composition(formula)
        _, support, lam = self._hull_lp(comp)
        names = self._system_table(_system_of(el.symbol for el in comp.elements)).names
        return {names[i]: f for i, f in sorted(zip(support, lam, strict=True), key=lambda t: -t[1])}

    # ------------------------------------------------------------------ window

    def electrochemical_window(self, formula: str | Composition, method: str | None = None) -> ElectrochemicalWindow:
        """Li/Li+ electrochemical stability window (Zhu, He and Mo 2015).

        Works for compositions off the hull and for fractional compositions: the window
        is then that of the equilibrium phase assemblage at this composition.

        The reaction texts depend on the method. ``"pymatgen"``: the balanced reactions of
        the element profile next to the window. ``"lp"`` (unbalanced, no coefficients):
        ``"<assemblage> + Li -> <phases>"`` at the reduction limit and
        ``"<assemblage> -> Li + <phases>"`` at the oxidation limit, where ``<assemblage>``
        is the equilibrium phase assemblage at the composition and ``<phases>`` the phases
        that come to coexist with it at that limit potential (tight at the LP's optimal
        chemical potentials), i.e. the products the reaction starts to form (none in a
        zero-width window inside a facet: only the phase fractions shift);
        ``"stable against Li metal"`` / ``"no Li released"`` when the limit is 0 V / none.
        """
        comp = as_composition(formula)
        if self._method(method) == "lp":
            return self._window_lp(comp)
        li = Element("Li")
        pd = self.phase_diagram({el.symbol for el in comp.elements} | {"Li"})
        mu_li0 = pd.el_refs[li].energy_per_atom
        profile = pd.get_element_profile(li, comp)
        # profile is ordered from Li-rich (mu_Li = mu_Li0, 0 V) to Li-poor; entry i holds
        # the reaction that applies from its critical potential up to that of entry i+1.
        volts = [-(step["chempot"] - mu_li0) for step in profile]
        evolution = [step["evolution"] for step in profile]
        stable = [i for i, e in enumerate(evolution) if abs(e) < _EVOLUTION_TOL]
        if stable:
            i = stable[0]
            low = max(volts[i], 0.0) + 0.0
            high = volts[i + 1] if i + 1 < len(volts) else math.inf
            red = str(profile[i - 1]["reaction"]) if i > 0 else "stable against Li metal"
            ox = str(profile[i + 1]["reaction"]) if i + 1 < len(profile) else "no Li released"
        else:  # zero-width window: Li uptake turns into Li release at one potential
            i = next((k for k, e in enumerate(evolution) if e < 0), len(evolution))
            v = volts[i] if i < len(volts) else volts[-1]
            low = high = max(v, 0.0) + 0.0
            red = str(profile[i - 1]["reaction"]) if i > 0 else ""
            ox = str(profile[i]["reaction"]) if i < len(profile) else ""
        return ElectrochemicalWindow(comp.reduced_formula, float(low), float(high), red, ox)

    def _window_lp(self, comp: Composition) -> ElectrochemicalWindow:
        system = _system_of(el.symbol for el in comp.elements) | {"Li"}
        table = self._system_table(system)
        _, support, lam = self._hull_lp(comp, system)
        li = table.index["Li"]
        n_el = len(table.elements)
        on = np.zeros(len(table.e), bool)
        on[list(support)] = True
        # supporting hyperplanes at comp: below every entry, through every phase of the assemblage
        a_ub, b_ub, a_eq, b_eq = table.x[~on], table.e[~on], table.x[on], table.e[on]
        objective = np.zeros(n_el)
        limits = []
        for sign in (-1.0, 1.0):  # maximise mu_Li (reduction limit), then minimise it (oxidation limit)
            objective[li] = sign
            res = linprog(objective, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(None, None),
                          method="highs", options=_HIGHS)  # fmt: skip
            if res.status == 3:  # unbounded: mu_Li can fall without limit, nothing releases Li
                limits.append((None, None))
            elif res.status != 0:
                raise RuntimeError(f"window LP of {comp.formula}: {res.message}")
            else:
                limits.append((float(res.x[li]), res.x))
        (mu_max, mu_at_max), (mu_min, mu_at_min) = limits
        low = max(-mu_max, 0.0) + 0.0
        high = math.inf if mu_min is None else max(-mu_min + 0.0, low)
        order = [i for _, i in sorted(zip(lam, support, strict=True), reverse=True)]
        assemblage = " + ".join(table.names[i] for i in order)

        def products(mu: np.ndarray) -> str:
            tight = (table.e - table.x @ mu < _TIGHT_TOL) & ~on
            tight[li] = False
            return " + ".join(sorted({table.names[i] for i in np.flatnonzero(tight)}))

        same = f"{assemblage} (only the phase fractions shift)"
        if low == 0.0:
            red = "stable against Li metal"
        else:
            red = f"{assemblage} + Li -> {products(mu_at_max) or same}"
        if mu_min is None:
            ox = "no Li released"
        else:
            ox = f"{assemblage} -> Li + {products(mu_at_min) or same}"
        return ElectrochemicalWindow(comp.reduced_formula, float(low), float(high), red, ox)

    # ------------------------------------------------------------------ interfaces

    def reaction_energy(
        self,
        formula: str | Composition,
        partner: str | Composition,
        formation_energy_eV_atom: float | None = None,
        method: str | None = None,
    ) -> float:
        """Most negative reaction energy (eV/atom of the mixture) at the interface with ``partner``.

        Parameters
        ----------
        formula
            The electrolyte composition.
        partner
            The other side, for example ``"Li"``, ``"LiCoO2"`` or ``"H2O"``.
        formation_energy_eV_atom
            The electrolyte's own formation energy. When omitted, the electrolyte is taken
            at the hull energy of its composition (a bound: a phase above the hull can only
            be more reactive). When given, the electrolyte enters the phase diagram as an
            entry with that energy, in place of any reference phase of the same formula.

        Returns 0 when nothing reacts. Both sides are normalised to one atom (pymatgen
        ``norm=True``), so the value is per atom of the reacting mixture.
        """
        c1, c2 = as_composition(formula), as_composition(partner)
        if self._method(method) == "lp" and not (formation_energy_eV_atom is not None and c1.is_element):
            return self._reaction_energy_lp(c1, c2, formation_energy_eV_atom)
        # pymatgen (also for an element given its own energy: it would become the elemental reference)
        if formation_energy_eV_atom is None:
            pd = self._pd_for(c1, c2)
            use_hull = True
        else:
            base = self._pd_for(c1, c2)
            entry = PDEntry(c1, float(formation_energy_eV_atom) * c1.num_atoms, name=c1.reduced_formula)
            others = [e for e in base.all_entries if e.composition.reduced_formula != c1.reduced_formula]
            pd = PhaseDiagram([*others, entry])
            use_hull = False
        ir = InterfacialReactivity(c1, c2, pd, norm=True, use_hull_energy=use_hull)
        return float(min(0.0, _minimum_energy(ir)))

    def _reaction_energy_lp(self, c1: Composition, c2: Composition, formation_energy_eV_atom: float | None) -> float:
        system = _system_of(el.symbol for c in (c1, c2) for el in c.elements)
        table = self._system_table(system)
        a, b = table.vector(_fraction_key(c1)), table.vector(_fraction_key(c2))
        x, e = table.x, table.e
        if formation_energy_eV_atom is None:
            e1, e2 = self._hull_lp(c1)[0], self._hull_lp(c2)[0]
        else:
            # the candidate replaces the references of its composition (as in the pymatgen path)
            same = np.all(np.abs(x - a) < 1e-12, axis=1)
            x, e = np.vstack([x[~same], a]), np.append(e[~same], float(formation_energy_eV_atom))

            def hull_at(c: np.ndarray) -> float:
                res = linprog(e, A_eq=x.T, b_eq=c, bounds=(0, None), method="highs", options=_HIGHS)
                if res.status != 0:
                    raise RuntimeError(f"hull LP failed: {res.message}")
                return float(res.fun)

            def entry_energy(c: np.ndarray) -> float:
                # pymatgen's _get_entry_energy: lowest entry of this composition with a negative
                # formation energy (or an element), else the hull energy
                match = np.all(np.abs(x - c) < 1e-12, axis=1) & ((e < -1e-11) | (x.max(axis=1) > 1 - 1e-12))
                return float(e[match].min()) if match.any() else hull_at(c)

            e1, e2 = entry_energy(a), entry_energy(b)
        m = len(e)
        objective = np.append(e, e2 - e1)  # sum(l_i E_i) - x (E1 - E2), minus E2 below
        a_eq = np.hstack([x.T, -(a - b)[:, None]])
        bounds = [(0, None)] * m + [(0, 1)]
        res = linprog(objective, A_eq=a_eq, b_eq=b, bounds=bounds, method="highs", options=_HIGHS)
        if res.status != 0:
            raise RuntimeError(f"reaction LP of {c1.formula} with {c2.formula} failed: {res.message}")
        return float(min(0.0, res.fun - e2)) + 0.0


@dataclass(frozen=True, eq=False)
class _SystemTable:
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


def _checked_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method={method!r}: expected one of {METHODS}")
    return method


def _system_of(elements: Iterable[str | Element]) -> frozenset[str]:
    system = frozenset(str(getattr(el, "symbol", el)) for el in elements)
    for el in system:
        if not Element.is_valid_symbol(el):
            raise InvalidCompositionError(f"{el!r} is not an element")
    return system


def _fraction_key(comp: Composition) -> tuple[tuple[str, float], ...]:
    """Hashable atomic fractions of a composition, sorted by element."""
    total = comp.num_atoms
    return tuple(sorted((el.symbol, amt / total) for el, amt in comp.items() if amt > 0))


def _minimum_energy(ir: InterfacialReactivity) -> float:
    """Most negative reaction energy along the mixing line (eV/atom).

    ``InterfacialReactivity.minimum`` also balances the reaction at every kink, which
    fails (``ReactionError``) for compositions with many-digit amounts such as
    ``Li24.19992Si0.2P3.8S20Br4``. The energies themselves do not need the balanced
    reactions, so on that failure they are evaluated at the same kinks without them.
    """
    try:
        return float(ir.minimum[1])
    except ReactionError:
        c1 = ir.pd.pd_coords(ir.comp1)
        c2 = ir.pd.pd_coords(ir.comp2)
        n1, n2 = ir.comp1.num_atoms, ir.comp2.num_atoms
        energies = []
        for comp in ir.pd.get_critical_compositions(ir.comp1, ir.comp2):
            ratio = float(np.linalg.norm(ir.pd.pd_coords(comp) - c2) / np.linalg.norm(c1 - c2))
            ratio = ratio * n2 / (n1 + ratio * (n2 - n1))  # as pymatgen's get_kinks
            energies.append(ir._get_energy(ratio))
        return float(min(energies))


_default: ReferenceHull | None = None
_default_lock = threading.Lock()


def default_hull() -> ReferenceHull:
    """The shared hull of the bundled Materials Project ground states (built once)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ReferenceHull.from_mp_ground_states()
        return _default


def energy_above_hull(composition: str | Composition, formation_energy_eV_atom: float) -> float:
    """Energy above the default reference hull (eV/atom); see :meth:`ReferenceHull.energy_above_hull`."""
    return default_hull().energy_above_hull(composition, formation_energy_eV_atom)


def electrochemical_window(composition: str | Composition) -> tuple[float, float]:
    """``(low_V, high_V)`` against Li/Li+ on the default hull (Zhu, He and Mo 2015)."""
    w = default_hull().electrochemical_window(composition)
    return w.low_V, w.high_V


def reaction_energy(composition: str | Composition, partner: str | Composition, formation_energy_eV_atom: float | None = None) -> float:
    """Most negative interface reaction energy (eV/atom) with ``partner`` on the default hull."""
    return default_hull().reaction_energy(composition, partner, formation_energy_eV_atom)


def stability_descriptors(
    composition: str | Composition,
    formation_energy_eV_atom: float | None = None,
    hull: ReferenceHull | None = None,
    method: str | None = None,
) -> dict[str, float]:
    """Every stability descriptor of a composition, names carrying units.

    Keys: ``window_low_V``, ``window_high_V``, ``window_width_V``, ``e_rxn_li_eV_atom``,
    ``e_rxn_licoo2_eV_atom``, ``e_rxn_h2o_eV_atom``, ``hull_formation_energy_eV_atom``,
    ``reference_formation_energy_eV_atom`` (NaN when the composition is not in the
    reference data) and, when a formation energy is known (given, or from the reference
    data), ``e_hull_eV_atom``. ``method``: ``"lp"`` or ``"pymatgen"`` (default: the hull's).
    """
    hull = hull or default_hull()
    comp = as_composition(composition)
    window = hull.electrochemical_window(comp, method=method)
    out = {
        "window_low_V": window.low_V,
        "window_high_V": window.high_V,
        "window_width_V": window.width_V,
    }
    for partner, key in DEFAULT_PARTNERS.items():
        out[f"e_rxn_{key}_eV_atom"] = hull.reaction_energy(comp, partner, method=method)
    out["hull_formation_energy_eV_atom"] = hull.hull_energy(comp, method=method)
    ref = hull.reference_formation_energy(comp)
    out["reference_formation_energy_eV_atom"] = ref
    ef = formation_energy_eV_atom if formation_energy_eV_atom is not None else ref
    out["e_hull_eV_atom"] = hull.energy_above_hull(comp, ef, method=method) if np.isfinite(ef) else float("nan")
    return out


def stability_table(
    formulas: Iterable[str],
    formation_energy_eV_atom: Iterable[float] | None = None,
    formation_energy_eV_atom_std: Iterable[float] | None = None,
    hull: ReferenceHull | None = None,
    progress: Callable[[int, int], None] | None = None,
    method: str | None = None,
) -> pd.DataFrame:
    """Stability descriptors of many formulas, one row each, with an ``error`` text per row.

    The energy above the hull uses the reference (DFT) formation energy when the
    composition is in the reference data (``e_hull_source = "reference"``, spread 0) and
    otherwise the given, e.g. predicted, formation energy (``"predicted"``, its spread
    carried over); without either it is NaN. Each reduced formula is computed once.
    ``progress(done, total)`` is called after each row. ``method``: ``"lp"`` or
    ``"pymatgen"`` (default: the hull's).
    """
    hull = hull or default_hull()
    formulas = list(formulas)
    n = len(formulas)
    ef = np.full(n, np.nan) if formation_energy_eV_atom is None else np.asarray(list(formation_energy_eV_atom), float)
    ef_std = np.full(n, np.nan) if formation_energy_eV_atom_std is None else np.asarray(list(formation_energy_eV_atom_std), float)
    cache: dict[str, dict] = {}
    rows = []
    for i, formula in enumerate(formulas):
        row: dict = {"error": None}
        try:
            comp = as_composition(formula)
            key = comp.reduced_formula
            if key not in cache:
                cache[key] = stability_descriptors(comp, hull=hull, method=method)
            row.update(cache[key])
            if np.isfinite(row["reference_formation_energy_eV_atom"]):
                row.update(e_hull_eV_atom_std=0.0, e_hull_source="reference")
            elif np.isfinite(ef[i]):
                row.update(
                    e_hull_eV_atom=float(ef[i] - row["hull_formation_energy_eV_atom"]),
                    e_hull_eV_atom_std=float(ef_std[i]),
                    e_hull_source="predicted",
                )
        except Exception as exc:  # one bad row never stops the batch
            row["error"] = f"stability of {formula}: {type(exc).__name__}: {exc}"
        rows.append(row)
        if progress:
            progress(i + 1, n)
    table = pd.DataFrame(rows, index=range(n))
    for col in ("e_hull_eV_atom", "e_hull_eV_atom_std"):
        if col not in table:
            table[col] = np.nan
    if "e_hull_source" not in table:
        table["e_hull_source"] = None
    return table
