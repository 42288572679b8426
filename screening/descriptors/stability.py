"""Thermodynamic stability against a reference convex hull of Materials Project ground states.

The reference data are the formation energies (eV/atom, elements at 0) of the 85,014
ground-state compositions compiled by Bartel et al. (2020) from the Materials Project.
:class:`ReferenceHull` builds a pymatgen :class:`~pymatgen.analysis.phase_diagram.PhaseDiagram`
for each chemical system on demand (every reference composition whose elements lie in
the system, plus the elements at zero) and caches it.

On that hull:

* :meth:`ReferenceHull.energy_above_hull` - distance of a composition with a given
  formation energy from the hull (negative below it);
* :meth:`ReferenceHull.electrochemical_window` - the Li/Li+ window of Zhu, He and Mo
  (ACS Appl. Mater. Interfaces 7, 23685 (2015)): the range of Li chemical potential over
  which the material (or, off the hull, its equilibrium phase assemblage) neither takes
  up nor releases lithium, from pymatgen's grand-potential element profile;
* :meth:`ReferenceHull.reaction_energy` - the most negative reaction energy of the
  interface with a partner (Li metal, a cathode, water) from pymatgen's
  :class:`~pymatgen.analysis.interface_reactions.InterfacialReactivity`
  (Richards et al., Chem. Mater. 28, 266 (2016)).

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

from screening.errors import InvalidCompositionError, UnsupportedChemistryError

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


def as_composition(formula: str | Composition) -> Composition:
    """Parse a formula into a pymatgen Composition, or raise InvalidCompositionError naming it.

    Formula strings are parsed once per process (a cache of the most recent 2**17): the
    same formula goes through descriptors, surrogates and the hull several times.
    """
    if isinstance(formula, Composition):
        return _checked(formula, formula)
    return _parse_formula(str(formula))


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
    plain = {}
    for el, amt in comp.items():
        element = getattr(el, "element", el)
        if not isinstance(element, Element):
            raise InvalidCompositionError(f"{label!r}: unknown element {getattr(el, 'symbol', el)}")
        if amt < 0:
            raise InvalidCompositionError(f"{label!r}: negative amount")
        plain[element] = plain.get(element, 0.0) + amt
    return Composition(plain)


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
        How many phase diagrams to keep (least recently used are dropped).
    """

    def __init__(
        self,
        formulas: Iterable[str],
        formation_energies_eV_atom: Iterable[float],
        on_hull: Iterable[bool] | None = None,
        cache_size: int = 2048,
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
        self._lock = threading.Lock()
        self._phase_diagram = lru_cache(maxsize=cache_size)(self._build_phase_diagram)

    @classmethod
    def from_mp_ground_states(cls) -> ReferenceHull:
        """The hull of the bundled Materials Project ground states (all splits, stable phases)."""
        from screening.datasets import load_mp_ground_states

        df = load_mp_ground_states()
        # decomposition energy <= 0: on the hull of the other phases (Bartel et al. 2020)
        return cls(df["formula"], df["formation_energy_eV_atom"], on_hull=df["decomposition_energy_eV_atom"] <= 0)

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

    def reference_formation_energy(self, formula: str | Composition) -> float:
        """Lowest reference formation energy (eV/atom) of this reduced formula, NaN if absent."""
        return self._energy_of.get(as_composition(formula).reduced_formula, float("nan"))

    def hull_energy(self, formula: str | Composition) -> float:
        """Formation energy of the hull (eV/atom) at this composition."""
        comp = as_composition(formula)
        return float(self._pd_for(comp).get_hull_energy_per_atom(comp))

    def energy_above_hull(self, formula: str | Composition, formation_energy_eV_atom: float) -> float:
        """Energy above the reference hull (eV/atom) of a composition with this formation energy.

        Negative when the composition would lie below the hull of the reference phases
        (a predicted new stable compound).
        """
        if formation_energy_eV_atom is None or not np.isfinite(formation_energy_eV_atom):
            raise ValueError(f"formation_energy_eV_atom={formation_energy_eV_atom!r} for {formula}: not a finite number")
        return float(formation_energy_eV_atom) - self.hull_energy(formula)

    # ------------------------------------------------------------------ window

    def electrochemical_window(self, formula: str | Composition) -> ElectrochemicalWindow:
        """Li/Li+ electrochemical stability window (Zhu, He and Mo 2015).

        Works for compositions off the hull and for fractional compositions: the window
        is then that of the equilibrium phase assemblage at this composition.
        """
        comp = as_composition(formula)
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

    # ------------------------------------------------------------------ interfaces

    def reaction_energy(
        self,
        formula: str | Composition,
        partner: str | Composition,
        formation_energy_eV_atom: float | None = None,
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
        if formation_energy_eV_atom is None:
            pd = self._pd_for(c1, c2)
            use_hull = True
        else:
            base = self._pd_for(c1, c2)
            entry = PDEntry(c1, float(formation_energy_eV_atom) * c1.num_atoms, name="candidate")
            others = [e for e in base.all_entries if e.composition.reduced_formula != c1.reduced_formula]
            pd = PhaseDiagram([*others, entry])
            use_hull = False
        ir = InterfacialReactivity(c1, c2, pd, norm=True, use_hull_energy=use_hull)
        return float(min(0.0, _minimum_energy(ir)))


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
) -> dict[str, float]:
    """Every stability descriptor of a composition, names carrying units.

    Keys: ``window_low_V``, ``window_high_V``, ``window_width_V``, ``e_rxn_li_eV_atom``,
    ``e_rxn_licoo2_eV_atom``, ``e_rxn_h2o_eV_atom``, ``hull_formation_energy_eV_atom``,
    ``reference_formation_energy_eV_atom`` (NaN when the composition is not in the
    reference data) and, when a formation energy is known (given, or from the reference
    data), ``e_hull_eV_atom``.
    """
    hull = hull or default_hull()
    comp = as_composition(composition)
    window = hull.electrochemical_window(comp)
    out = {
        "window_low_V": window.low_V,
        "window_high_V": window.high_V,
        "window_width_V": window.width_V,
    }
    for partner, key in DEFAULT_PARTNERS.items():
        out[f"e_rxn_{key}_eV_atom"] = hull.reaction_energy(comp, partner)
    out["hull_formation_energy_eV_atom"] = hull.hull_energy(comp)
    ref = hull.reference_formation_energy(comp)
    out["reference_formation_energy_eV_atom"] = ref
    ef = formation_energy_eV_atom if formation_energy_eV_atom is not None else ref
    out["e_hull_eV_atom"] = hull.energy_above_hull(comp, ef) if np.isfinite(ef) else float("nan")
    return out


def stability_table(
    formulas: Iterable[str],
    formation_energy_eV_atom: Iterable[float] | None = None,
    formation_energy_eV_atom_std: Iterable[float] | None = None,
    hull: ReferenceHull | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Stability descriptors of many formulas, one row each, with an ``error`` text per row.

    The energy above the hull uses the reference (DFT) formation energy when the
    composition is in the reference data (``e_hull_source = "reference"``, spread 0) and
    otherwise the given, e.g. predicted, formation energy (``"predicted"``, its spread
    carried over); without either it is NaN. Each reduced formula is computed once.
    ``progress(done, total)`` is called after each row.
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
                cache[key] = stability_descriptors(comp, hull=hull)
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
