"""Prepared structures for the structural descriptors: radii, occupancy arrays, one shared
periodic neighbour search, anion classification and the simple volume descriptors.

Radii are Shannon ionic radii (R. D. Shannon, Acta Cryst. A 32, 751 (1976)): anions use
the tabulated value in :data:`ANION_RADII_A` (six-fold coordination where tabulated);
cations use pymatgen's ``Element.average_cationic_radius`` (Shannon crystal radii averaged
over oxidation states) minus 0.14 A, the constant offset between Shannon crystal and
ionic radii of cations. Li+ is 0.76 A.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pymatgen.core import Element, Structure
from pymatgen.optimization.neighbors import find_points_in_spheres

from screening.chemistry import STRUCTURE_ANION_CHARGES
from screening.errors import ScreeningError
from screening.structures import check_structure

# Nominal charges of the elements that may act as anions in Li conductors.
ANION_CHARGES: dict[str, int] = STRUCTURE_ANION_CHARGES
# Shannon (1976) ionic radii of those anions, CN 6 (N3- CN 4). P3- and As3- are not in
# Shannon's table: Pauling's ionic radii (The Nature of the Chemical Bond, 1960) are used.
# H- (hydrides such as LiAlH4) has no Shannon value; 1.40 A is a rough mid-range estimate
# of the hydride radii reported in the literature (1.3-1.5 A in light-metal hydrides).
ANION_RADII_A: dict[str, float] = {
    "O": 1.40, "S": 1.84, "Se": 1.98, "Te": 2.21,
    "F": 1.33, "Cl": 1.81, "Br": 1.96, "I": 2.20,
    "N": 1.46, "P": 2.12, "As": 2.22, "H": 1.40,
}
LI_RADIUS_A = 0.76  # Shannon Li+ CN 6
_SPLIT_SITE_A = 1.6  # Li-Li pairs closer than this are alternative positions of one Li
_CN_SCALE = 1.2  # Li-anion bond if d < 1.2 (r_Li + r_anion)
_SEARCH_RADIUS_A = 5.0  # radius of the shared neighbour search
#: neighbour search of the single-descriptor functions that need the anions: long enough for the
#: nearest neighbour of every site, which decides whether P, S, N ... are polyanion centres
_BOND_RADIUS_A = 3.0
_DELAUNAY_SKIN_A = 5.0  # periodic images kept around the cell for the tessellation


class StructureDescriptorError(ScreeningError):
    """A structure cannot be described (no Li, no anion, degenerate geometry...)."""


class NoLithiumError(StructureDescriptorError):
    """The structure has no Li site."""


# --------------------------------------------------------------------------- radii


@lru_cache(maxsize=None)
def _cation_radius(symbol: str) -> float:
    if symbol == "Li":
        return LI_RADIUS_A
    radius = float(Element(symbol).average_cationic_radius)
    return max(radius - 0.14, 0.0) if radius > 0 else 0.0


def ionic_radius(symbol: str, as_anion: bool) -> float:
    """Ionic radius (A) used for an element, as an anion or as a cation (see module docstring)."""
    if as_anion:
        return ANION_RADII_A[symbol]
    return _cation_radius(symbol)


# ----------------------------------------------------------------- prepared structure


@dataclass
class _Prepared:
    """A structure flattened into arrays, with one shared neighbour list."""

    structure: Structure
    lattice: np.ndarray  # (3, 3)
    frac: np.ndarray  # (n, 3) wrapped into [0, 1)
    cart: np.ndarray  # (n, 3)
    symbols: list[str]  # element symbols (columns of occ)
    occ: np.ndarray  # (n, n_el) occupancy of each element on each site
    anion_cols: np.ndarray  # bool (n_el,): element acts as an anion
    radius_col: np.ndarray  # (n_el,) radius of each element in its role
    nb_i: np.ndarray  # neighbour list: centre, neighbour, image, distance (both directions)
    nb_j: np.ndarray
    nb_img: np.ndarray
    nb_d: np.ndarray

    @property
    def li_occ(self) -> np.ndarray:
        if "Li" not in self.symbols:
            return np.zeros(len(self.frac))
        return self.occ[:, self.symbols.index("Li")]

    @property
    def anion_occ(self) -> np.ndarray:
        return self.occ[:, self.anion_cols].sum(axis=1)

    @property
    def framework_mask(self) -> np.ndarray:
        non_li = self.occ.sum(axis=1) - self.li_occ
        return (non_li > 1e-6) & (non_li >= self.li_occ)

    def framework_radius(self) -> np.ndarray:
        occ = self.occ.copy()
        if "Li" in self.symbols:
            occ[:, self.symbols.index("Li")] = 0.0
        total = occ.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, occ @ self.radius_col / total, 0.0)

    def anion_radius(self) -> np.ndarray:
        occ = self.occ * self.anion_cols
        total = occ.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, occ @ self.radius_col / total, 0.0)


def _neighbors(lattice: np.ndarray, points: np.ndarray, centres: np.ndarray, r: float):
    """Periodic neighbours of ``centres`` among ``points`` within ``r`` (self pairs removed)."""
    i, j, img, d = find_points_in_spheres(
        np.ascontiguousarray(points, dtype=float),
        np.ascontiguousarray(centres, dtype=float),
        r=float(r),
        pbc=np.array([1, 1, 1], dtype=np.int64),
        lattice=np.ascontiguousarray(lattice, dtype=float),
        tol=1e-8,
    )
    keep = d > 1e-6
    return i[keep], j[keep], np.rint(img[keep]).astype(np.int64), d[keep]


def _prepare(structure: Structure, radius: float = _SEARCH_RADIUS_A) -> _Prepared:
    if not isinstance(structure, Structure):
        raise StructureDescriptorError(f"{structure!r}: not a pymatgen Structure")
    if len(structure) == 0:
        raise StructureDescriptorError(f"{structure.formula or 'structure'}: no sites")
    check_structure(structure)
    symbols: list[str] = []
    index: dict[str, int] = {}
    rows: list[list[tuple[int, float]]] = []
    for site in structure:
        row = []
        for sp, amount in site.species.items():
            sym = getattr(sp, "symbol", None)
            if sym is None or not Element.is_valid_symbol(sym):
                continue  # dummy species (vacancies) are ignored
            if sym not in index:
                index[sym] = len(symbols)
                symbols.append(sym)
            row.append((index[sym], float(amount)))
        rows.append(row)
    occ = np.zeros((len(structure), len(symbols)))
    for n, row in enumerate(rows):
        for k, amount in row:
            occ[n, k] += amount
    lattice = structure.lattice.matrix.copy()
    frac = np.mod(structure.frac_coords, 1.0)
    cart = frac @ lattice
    nb_i, nb_j, nb_img, nb_d = _neighbors(lattice, cart, cart, radius)
    anion_cols = _classify_anions(symbols, occ, nb_i, nb_j, nb_d)
    radius_col = np.array([ionic_radius(s, bool(a)) for s, a in zip(symbols, anion_cols)])
    return _Prepared(structure, lattice, frac, cart, symbols, occ, anion_cols, radius_col,
                     nb_i, nb_j, nb_img, nb_d)


def _classify_anions(symbols, occ, nb_i, nb_j, nb_d) -> np.ndarray:
    """Which elements act as anions.

    An element of :data:`ANION_CHARGES` is an anion unless most of its sites (by occupancy)
    are polyanion centres: sites whose nearest neighbour is dominated by a more
    electronegative anion-forming element (P in PS4, S in SO4, N in NO3, Cl in ClO4).
    """
    n_sites = occ.shape[0]
    is_candidate = np.array([s in ANION_CHARGES for s in symbols])
    if not is_candidate.any():
        return is_candidate
    # nearest neighbour of every site
    nearest = np.full(n_sites, -1)
    if len(nb_d):
        order = np.lexsort((nb_d, nb_i))
        first = np.ones(len(order), dtype=bool)
        first[1:] = nb_i[order][1:] != nb_i[order][:-1]
        nearest[nb_i[order][first]] = nb_j[order][first]
    dominant = occ.argmax(axis=1)
    chi = np.array([Element(s).X if not math.isnan(Element(s).X) else 0.0 for s in symbols])
    result = np.zeros(len(symbols), dtype=bool)
    for k in np.flatnonzero(is_candidate):
        sites = np.flatnonzero(occ[:, k] > 0)
        weights = occ[sites, k]
        nn = nearest[sites]
        nn_el = np.where(nn >= 0, dominant[np.maximum(nn, 0)], -1)
        centre = (nn_el >= 0) & is_candidate[np.maximum(nn_el, 0)] & (chi[np.maximum(nn_el, 0)] > chi[k])
        result[k] = weights[~centre].sum() >= 0.5 * weights.sum()
    return result


def anion_elements(structure: Structure) -> list[str]:
    """Elements acting as anions in a structure (rule in :func:`_classify_anions`)."""
    prep = _prepare(structure, radius=_BOND_RADIUS_A)
    return [s for s, a in zip(prep.symbols, prep.anion_cols) if a]


def _require_li(prep: _Prepared) -> np.ndarray:
    li_sites = np.flatnonzero(prep.li_occ > 0)
    if len(li_sites) == 0:
        raise NoLithiumError(f"{prep.structure.composition.reduced_formula}: no Li site in the structure")
    return li_sites


def _require_anions(prep: _Prepared) -> np.ndarray:
    sites = np.flatnonzero(prep.anion_occ >= 0.5)
    if len(sites) == 0:
        raise StructureDescriptorError(
            f"{prep.structure.composition.reduced_formula}: no anion site "
            f"(anion-forming elements: {', '.join(ANION_CHARGES)})"
        )
    return sites


# --------------------------------------------------------------- simple descriptors


def _volume_per_atom(prep: _Prepared) -> float:
    return float(prep.structure.volume / prep.occ.sum())


def _volume_per_anion(prep: _Prepared) -> float:
    n_anion = prep.anion_occ.sum()
    if n_anion <= 0:
        _require_anions(prep)
    return float(prep.structure.volume / n_anion)


def _packing_fraction(prep: _Prepared) -> float:
    volumes = 4.0 / 3.0 * np.pi * prep.radius_col**3
    return float((prep.occ @ volumes).sum() / prep.structure.volume)


def volume_per_atom(structure: Structure) -> float:
    """Volume per atom (A^3): cell volume over the occupancy-weighted number of atoms."""
    return _volume_per_atom(_prepare(structure, radius=0.1))


def volume_per_anion(structure: Structure) -> float:
    """Volume per anion (A^3): cell volume over the occupancy-weighted number of anions.

    Anions are identified by :func:`anion_elements`. Raises
    :class:`StructureDescriptorError` when there is none.
    """
    return _volume_per_anion(_prepare(structure, radius=_BOND_RADIUS_A))


def packing_fraction(structure: Structure) -> float:
    """Ionic packing fraction: sum of occupancy-weighted ionic sphere volumes over the cell volume.

    Radii: Shannon ionic radii (module docstring). Typical values 0.4-0.8; values above 1
    flag unphysical overlaps or mis-assigned radii.
    """
    return _packing_fraction(_prepare(structure, radius=_BOND_RADIUS_A))


def density(structure: Structure) -> float:
    """Mass density (g/cm^3), occupancy-weighted (pymatgen ``Structure.density``)."""
    return float(structure.density)


def _li_partial_fraction(prep: _Prepared) -> float:
    li = prep.li_occ[prep.li_occ > 0]
    return float(np.mean(li < 1.0 - 1e-3))


def li_partial_occupancy_fraction(structure: Structure) -> float:
    """Fraction of Li sites (in the given cell) whose Li occupancy is below 1."""
    prep = _prepare(structure, radius=0.1)
    _require_li(prep)
    return _li_partial_fraction(prep)


