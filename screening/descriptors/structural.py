"""Structural descriptors of lithium conductors: free volume, Li sublattice, bottlenecks, anion framework.

Every descriptor accepts an ordered or a disordered pymatgen ``Structure`` (sites with
partial occupancies, as read from CIF files by :func:`screening.structures.read_structure`).
The common disorder policy (each function documents its own details):

* a **Li site** is any site whose species contain Li, whatever its occupancy;
* the **framework** is the set of sites dominated by non-Li species (non-Li occupancy at
  least the Li occupancy); its radius is the occupancy-weighted mean radius of its non-Li
  species;
* an **anion site** carries an anion element (see :func:`anion_elements`) with an anion
  occupancy of at least 0.5;
* counts and volumes are weighted by occupancy (``Composition.num_atoms`` of a disordered
  structure is the occupancy-weighted atom count).

Everything is computed from one vectorised periodic neighbour search
(``pymatgen.optimization.neighbors.find_points_in_spheres``), one Delaunay tessellation
of the framework and small union-find passes, so all descriptors of a 72-site structure
take a few milliseconds (see ``benchmarks/results/structural.md``).

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
from typing import Any

import numpy as np
from matminer.featurizers.base import BaseFeaturizer
from pymatgen.core import Element, Structure
from pymatgen.optimization.neighbors import find_points_in_spheres
from scipy.spatial import Delaunay, QhullError

from screening.chemistry import STRUCTURE_ANION_CHARGES
from screening.errors import ScreeningError

__all__ = [
    "ANION_CHARGES",
    "ANION_RADII_A",
    "NoLithiumError",
    "StructureDescriptorError",
    "StructuralFeaturizer",
    "anion_elements",
    "anion_framework",
    "density",
    "ionic_radius",
    "li_bottleneck_radius",
    "li_coordination_number",
    "li_li_mean_nn_distance",
    "li_li_min_distance",
    "li_partial_occupancy_fraction",
    "li_percolation_dimension",
    "packing_fraction",
    "percolation_thresholds",
    "periodic_graph_dimension",
    "structural_descriptors",
    "volume_per_anion",
    "volume_per_atom",
]

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
    prep = _prepare(structure, radius=3.0)
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
    return _volume_per_anion(_prepare(structure, radius=3.0))


def packing_fraction(structure: Structure) -> float:
    """Ionic packing fraction: sum of occupancy-weighted ionic sphere volumes over the cell volume.

    Radii: Shannon ionic radii (module docstring). Typical values 0.4-0.8; values above 1
    flag unphysical overlaps or mis-assigned radii.
    """
    return _packing_fraction(_prepare(structure, radius=3.0))


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


# ----------------------------------------------------------------- Li-Li distances


def _li_pairs(prep: _Prepared):
    """Li-Li neighbour pairs of the shared list, and the mask of split-site pairs."""
    li = prep.li_occ
    mask = (li[prep.nb_i] > 0) & (li[prep.nb_j] > 0)
    i, j, img, d = prep.nb_i[mask], prep.nb_j[mask], prep.nb_img[mask], prep.nb_d[mask]
    split = (d < _SPLIT_SITE_A) & (li[i] < 1 - 1e-3) & (li[j] < 1 - 1e-3)
    return i, j, img, d, split


def _li_distances(prep: _Prepared) -> tuple[float, float]:
    li_sites = _require_li(prep)
    i, _, _, d, split = _li_pairs(prep)
    i, d = i[~split], d[~split]
    if len(d) == 0:
        return math.nan, math.nan
    nearest = np.full(len(prep.frac), np.inf)
    np.minimum.at(nearest, i, d)
    nearest = nearest[li_sites]
    weights = prep.li_occ[li_sites]
    found = np.isfinite(nearest)
    mean = float(np.average(nearest[found], weights=weights[found])) if found.any() else math.nan
    return float(d.min()), mean


def li_li_min_distance(structure: Structure) -> float:
    """Shortest Li-Li distance (A), NaN if none within 5 A.

    Disorder: every site containing Li counts as a Li site, but pairs of partially
    occupied Li sites closer than 1.6 A are alternative positions of one Li ion (split
    sites, never occupied together) and are skipped.
    """
    return _li_distances(_prepare(structure))[0]


def li_li_mean_nn_distance(structure: Structure) -> float:
    """Mean nearest Li-Li distance (A) over Li sites, weighted by Li occupancy.

    Same split-site policy as :func:`li_li_min_distance`.
    """
    return _li_distances(_prepare(structure))[1]


def _li_cn(prep: _Prepared) -> float:
    li_sites = _require_li(prep)
    anion_occ = prep.anion_occ
    anion_r = prep.anion_radius()
    mask = (prep.li_occ[prep.nb_i] > 0) & (anion_occ[prep.nb_j] > 0)
    i, j, d = prep.nb_i[mask], prep.nb_j[mask], prep.nb_d[mask]
    bonded = d < _CN_SCALE * (LI_RADIUS_A + anion_r[j])
    cn = np.zeros(len(prep.frac))
    np.add.at(cn, i[bonded], anion_occ[j[bonded]])
    return float(np.average(cn[li_sites], weights=prep.li_occ[li_sites]))


def li_coordination_number(structure: Structure) -> float:
    """Mean Li coordination number by anions (occupancy-weighted).

    A Li-anion pair is bonded when d < 1.2 (r_Li+ + r_anion) with Shannon radii (for
    example 2.59 A for Li-O, 3.12 A for Li-S); each neighbour counts with its anion
    occupancy and the mean over Li sites is weighted by Li occupancy. A fixed-cutoff
    coordination number is the fast alternative to CrystalNN (Pan et al., Inorg. Chem.
    60, 1590 (2021)), which costs about 100 ms per site.
    """
    return _li_cn(_prepare(structure))


# ---------------------------------------------------------- periodic graph percolation


class _PeriodicUnionFind:
    """Union-find over a periodic graph that tracks the translations of each component.

    Each node keeps its cell offset relative to its root; a bond closing a cycle with a
    non-zero net lattice translation adds that translation to the component. The rank
    of a component's translations is its periodic dimension (0 = island, 1 = chain,
    2 = layer, 3 = 3D network): the standard algorithm of e.g. Larsen et al., Phys. Rev.
    Mater. 3, 034003 (2019).
    """

    def __init__(self, n: int, marked: np.ndarray | None = None):
        self.parent = list(range(n))
        self.offset = [np.zeros(3, dtype=np.int64) for _ in range(n)]
        self.basis: list[list[np.ndarray]] = [[] for _ in range(n)]
        self.marked = [True] * n if marked is None else [bool(m) for m in marked]

    def find(self, x: int) -> tuple[int, np.ndarray]:
        path = []
        while self.parent[x] != x:
            path.append(x)
            x = self.parent[x]
        root = x
        # compress: offsets of the path nodes relative to the root
        acc = np.zeros(3, dtype=np.int64)
        for node in reversed(path):
            acc = acc + self.offset[node]
            self.offset[node] = acc.copy()
            self.parent[node] = root
        return root, (self.offset[path[0]] if path else np.zeros(3, dtype=np.int64))

    @staticmethod
    def _add(basis: list[np.ndarray], vec: np.ndarray) -> bool:
        if len(basis) >= 3 or not vec.any():
            return False
        if np.linalg.matrix_rank(np.array(basis + [vec], dtype=float)) > len(basis):
            basis.append(vec)
            return True
        return False

    def union(self, u: int, v: int, image: np.ndarray) -> int:
        """Bond u (cell 0) to v (cell ``image``); return the dimension of the merged component."""
        ru, ou = self.find(u)
        rv, ov = self.find(v)
        if ru == rv:
            self._add(self.basis[ru], ou + image - ov)
            return len(self.basis[ru])
        self.parent[rv] = ru
        self.offset[rv] = ou + image - ov
        for vec in self.basis[rv]:
            self._add(self.basis[ru], vec)
        self.marked[ru] = self.marked[ru] or self.marked[rv]
        return len(self.basis[ru])

    def dimension(self, x: int) -> int:
        root, _ = self.find(x)
        return len(self.basis[root]) if self.marked[root] else 0


def percolation_thresholds(
    n_nodes: int,
    src: np.ndarray,
    dst: np.ndarray,
    images: np.ndarray,
    weights: np.ndarray,
    *,
    descending: bool = False,
    marked: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """Weights at which a periodic graph first percolates in 1, 2 and 3 dimensions.

    Bonds are added in order of ``weights`` (ascending, or descending when
    ``descending``); the threshold for dimension k is the weight of the bond after which
    some component (containing a ``marked`` node, when given) first spans k independent
    lattice translations. A dimension never reached gives NaN.

    Parameters
    ----------
    n_nodes
        Number of nodes (sites of one unit cell).
    src, dst, images
        Bond from ``src`` in cell 0 to ``dst`` in cell ``images`` (integer (m, 3)).
    weights
        Bond lengths, barriers, radii...
    """
    order = np.argsort(-weights if descending else weights, kind="stable")
    uf = _PeriodicUnionFind(n_nodes, marked)
    thresholds = [math.nan, math.nan, math.nan]
    best = 0
    images = np.asarray(images, dtype=np.int64)
    for e in order:
        uf.union(int(src[e]), int(dst[e]), images[e])
        dim = uf.dimension(int(src[e]))
        while best < dim:
            thresholds[best] = float(weights[e])
            best += 1
        if best == 3:
            break
    return thresholds[0], thresholds[1], thresholds[2]


def periodic_graph_dimension(n_nodes: int, src: np.ndarray, dst: np.ndarray, images: np.ndarray) -> int:
    """Largest periodic dimension (0-3) among the connected components of a periodic graph.

    Bond e joins node ``src[e]`` in cell 0 to node ``dst[e]`` in cell ``images[e]``.
    """
    uf = _PeriodicUnionFind(n_nodes)
    best = 0
    images = np.asarray(images, dtype=np.int64)
    for u, v, image in zip(np.asarray(src).tolist(), np.asarray(dst).tolist(), images):
        best = max(best, uf.union(u, v, image))
        if best == 3:
            break
    return best


def _dedupe(src, dst, images):
    """Keep one direction of each undirected bond."""
    first_nonzero = np.where(images[:, 0] != 0, images[:, 0], np.where(images[:, 1] != 0, images[:, 1], images[:, 2]))
    return (src < dst) | ((src == dst) & (first_nonzero > 0))


def _li_percolation(prep: _Prepared, cutoff: float) -> tuple[int, float]:
    _require_li(prep)
    i, j, img, d, _ = _li_pairs(prep)
    keep = _dedupe(i, j, img)
    t1, t2, t3 = percolation_thresholds(len(prep.frac), i[keep], j[keep], img[keep], d[keep],
                                        marked=prep.li_occ > 0)
    dim = sum(1 for t in (t1, t2, t3) if not math.isnan(t) and t <= cutoff)
    return dim, t3


def li_percolation_dimension(structure: Structure, cutoff_A: float = 3.5) -> int:
    """Dimension (0-3) of the Li sublattice network with Li-Li bonds shorter than ``cutoff_A``.

    The periodic graph of Li sites (all sites containing Li, any occupancy) is built
    with bonds d < ``cutoff_A`` (default 3.5 A, about the longest Li-Li hop in fast
    conductors); its dimension is the rank of the lattice translations spanned by its
    connected components (:class:`_PeriodicUnionFind`). ``cutoff_A`` must not exceed 5 A.
    """
    if not 0 < cutoff_A <= _SEARCH_RADIUS_A:
        raise StructureDescriptorError(f"cutoff_A={cutoff_A}: must be in (0, {_SEARCH_RADIUS_A}] A")
    return _li_percolation(_prepare(structure), cutoff_A)[0]


# ------------------------------------------------------------------- bottleneck radius


def _window_radius(a, b, c, ra, rb, rc) -> np.ndarray:
    """Largest sphere passing through triangles (a, b, c) of spheres of radii (ra, rb, rc).

    Lower bound from candidate centres: the circumcentre (when inside, i.e. an acute
    triangle) and, on each edge, the point equidistant from the two sphere surfaces.
    Exact for equal radii.
    """
    verts = np.stack([a, b, c], axis=1)  # (m, 3, 3)
    radii = np.stack([ra, rb, rc], axis=1)  # (m, 3)
    u, v = a - c, b - c
    cross = np.cross(u, v)
    denom = 2.0 * np.einsum("ij,ij->i", cross, cross)
    with np.errstate(invalid="ignore", divide="ignore"):
        circ = c + np.cross(np.einsum("ij,ij->i", u, u)[:, None] * v - np.einsum("ij,ij->i", v, v)[:, None] * u,
                            cross) / denom[:, None]
    candidates = [circ]
    for p, q in ((0, 1), (1, 2), (2, 0)):
        vec = verts[:, q] - verts[:, p]
        length = np.linalg.norm(vec, axis=1)
        t = (radii[:, p] + 0.5 * (length - radii[:, p] - radii[:, q])) / np.maximum(length, 1e-12)
        candidates.append(verts[:, p] + np.clip(t, 0.0, 1.0)[:, None] * vec)
    # circumcentre valid only for acute triangles
    acute = np.ones(len(a), dtype=bool)
    for k in range(3):
        e1 = verts[:, (k + 1) % 3] - verts[:, k]
        e2 = verts[:, (k + 2) % 3] - verts[:, k]
        acute &= np.einsum("ij,ij->i", e1, e2) > 0
    best = np.full(len(a), -np.inf)
    for n, x in enumerate(candidates):
        clearance = (np.linalg.norm(verts - x[:, None, :], axis=2) - radii).min(axis=1)
        if n == 0:
            clearance = np.where(acute & np.isfinite(clearance), clearance, -np.inf)
        best = np.maximum(best, clearance)
    return best


def _bottleneck(prep: _Prepared) -> tuple[float, float]:
    """Bottleneck radius for 1D and 3D Li migration through the framework (A)."""
    li_sites = _require_li(prep)
    fw = np.flatnonzero(prep.framework_mask)
    name = prep.structure.composition.reduced_formula
    li_only = li_sites[~prep.framework_mask[li_sites]]
    if len(fw) == 0 or len(li_only) == 0:
        return math.nan, math.nan
    radii_fw = prep.framework_radius()[fw]
    fw_frac, li_frac, lat = prep.frac[fw], prep.frac[li_only], prep.lattice
    # Small cells are doubled until the framework has 8 sites, so that the jitter below
    # can break the symmetry (the periodic dimension does not depend on the cell chosen).
    mult = np.ones(3, dtype=int)
    while len(fw) * mult.prod() < 8:
        widths = abs(np.linalg.det(lat)) / np.linalg.norm(np.cross(lat[[1, 2, 0]], lat[[2, 0, 1]]), axis=1)
        mult[np.argmin(widths * mult)] *= 2
    if mult.prod() > 1:
        cells = np.array([(x, y, z) for x in range(mult[0]) for y in range(mult[1]) for z in range(mult[2])])
        fw_frac = ((fw_frac[None, :, :] + cells[:, None, :]) / mult).reshape(-1, 3)
        radii_fw = np.tile(radii_fw, len(cells))
        li_frac = li_frac / mult
        lat = lat * mult[:, None]
    n_fw = len(fw_frac)
    # Periodic images within a skin of _DELAUNAY_SKIN_A around the cell: enough for the
    # simplices whose centroid lies in the cell, and their neighbours, to be exact.
    widths = abs(np.linalg.det(lat)) / np.linalg.norm(np.cross(lat[[1, 2, 0]], lat[[2, 0, 1]]), axis=1)
    skin = _DELAUNAY_SKIN_A / widths
    reach = [range(-n, n + 1) for n in np.ceil(skin).astype(int)]
    shifts = np.array([(x, y, z) for x in reach[0] for y in reach[1] for z in reach[2]], dtype=np.int64)
    # High-symmetry frameworks are degenerate (cospherical points: the octahedra of an fcc
    # lattice), and Qhull would split equivalent octahedra differently in different images.
    # A tiny seeded jitter of the unit-cell positions (the same in every image, 1e-3 A)
    # makes the periodic point set generic, hence its tessellation periodic.
    jitter = np.random.default_rng(0).normal(scale=1e-3, size=(n_fw, 3)) @ np.linalg.inv(lat)
    frac = ((fw_frac + jitter)[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    orig = np.tile(np.arange(n_fw), len(shifts))
    pt_shift = np.repeat(shifts, n_fw, axis=0)
    inside = ((frac > -skin) & (frac < 1 + skin)).all(axis=1)
    frac, orig, pt_shift = frac[inside], orig[inside], pt_shift[inside]
    try:
        tri = Delaunay(frac @ lat)
    except (QhullError, ValueError) as exc:
        raise StructureDescriptorError(f"{name}: Delaunay tessellation of the framework failed ({exc})") from exc
    simp = tri.simplices  # (ns, 4)
    cell = np.floor(frac[simp].mean(axis=1) + 1e-9).astype(np.int64)  # cell of each simplex centroid
    rel = pt_shift[simp] - cell[:, None, :] + 2  # in 0..4 for well-formed simplices
    valid = (rel >= 0).all(axis=(1, 2)) & (rel <= 4).all(axis=(1, 2))
    rel = np.clip(rel, 0, 4)
    codes = orig[simp] * 125 + rel[..., 0] * 25 + rel[..., 1] * 5 + rel[..., 2]
    codes = np.sort(codes, axis=1)
    home = np.flatnonzero(valid & (cell == 0).all(axis=1))
    if len(home) == 0:
        return math.nan, math.nan
    # lookup table: canonical key -> home index
    key_view = np.ascontiguousarray(codes).view(np.dtype((np.void, codes.dtype.itemsize * 4))).ravel()
    home_view = key_view[home]
    order = np.argsort(home_view)
    sorted_home = home_view[order]

    def lookup(simplices: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(sorted_home, key_view[simplices])
        pos = np.minimum(pos, len(sorted_home) - 1)
        found = valid[simplices] & (sorted_home[pos] == key_view[simplices])
        return np.where(found, order[pos], -1)

    # bonds between home simplices and their neighbours across each face
    src = np.repeat(np.arange(len(home)), 4)
    face_k = np.tile(np.arange(4), len(home))
    nbr = tri.neighbors[home].ravel()
    ok = nbr >= 0
    src, face_k, nbr = src[ok], face_k[ok], nbr[ok]
    dst = lookup(nbr)
    ok = dst >= 0
    src, face_k, nbr, dst = src[ok], face_k[ok], nbr[ok], dst[ok]
    images = cell[nbr]
    face_pts = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])[face_k]
    vids = np.take_along_axis(simp[home[src]], face_pts, axis=1)
    pts = tri.points[vids]
    rr = radii_fw[orig[vids]]
    radius = _window_radius(pts[:, 0], pts[:, 1], pts[:, 2], rr[:, 0], rr[:, 1], rr[:, 2])
    keep = _dedupe(src, dst, images)
    # Li sites: the home simplex that contains them, or a translated one (barycentric test)
    verts = tri.points[simp[home]]  # (nh, 4, 3)
    with np.errstate(all="ignore"):
        inv = np.linalg.inv(np.transpose(verts[:, 1:] - verts[:, :1], (0, 2, 1)))
    li_cart = li_frac @ lat
    marked = np.zeros(len(home), dtype=bool)
    todo = np.ones(len(li_cart), dtype=bool)
    for shift in sorted(((x, y, z) for x in (-1, 0, 1) for y in (-1, 0, 1) for z in (-1, 0, 1)),
                        key=lambda t: sum(map(abs, t))):
        if not todo.any():
            break
        p = li_cart[todo] + np.array(shift) @ lat
        bary = np.einsum("hij,lhj->lhi", inv, p[:, None, :] - verts[None, :, 0, :])
        inside_s = (bary >= -1e-6).all(axis=2) & (bary.sum(axis=2) <= 1 + 1e-6)
        hit = inside_s.any(axis=1)
        marked[np.flatnonzero(inside_s.any(axis=0))] = True
        idx = np.flatnonzero(todo)
        todo[idx[hit]] = False
    if not marked.any():
        return math.nan, math.nan
    t1, _, t3 = percolation_thresholds(len(home), src[keep], dst[keep], images[keep], radius[keep],
                                       descending=True, marked=marked)
    return (max(t1, 0.0) if not math.isnan(t1) else 0.0), (max(t3, 0.0) if not math.isnan(t3) else 0.0)


def li_bottleneck_radius(structure: Structure) -> tuple[float, float]:
    """Bottleneck radius (A) of the widest Li migration network in 1D and in 3D.

    The framework (non-Li sites, module docstring) is tessellated (Delaunay, periodic
    images); Li migrates between tetrahedral interstices through their triangular
    faces (windows). A window's radius is the largest sphere passing through the
    triangle minus the ionic radii of its three corners (:func:`_window_radius`), the
    classic geometric bottleneck of e.g. Adams & Rao, Phys. Status Solidi A 208, 1746
    (2011) and Zeo++ (Willems et al., Micropor. Mesopor. Mater. 149, 134 (2012)). The
    returned radius is the largest r such that windows wider than r connect Li-hosting
    interstices into a network periodic in 1 (first value) or 3 (second value)
    dimensions; 0 when no such network exists. NaN when the framework has fewer than
    four sites or no Li sits outside it.

    In antifluorite Li2S the 3D radius is that of the S3 triangle shared by the Li
    tetrahedron and the empty octahedron: a/sqrt(6) - r(S2-).
    """
    return _bottleneck(_prepare(structure))


# -------------------------------------------------------------------- anion framework


def _ideal_signatures() -> dict[str, np.ndarray]:
    """Sorted pair cosines among the first-shell neighbours of ideal bcc (14), fcc and hcp (12)."""
    def shell(points: np.ndarray, n: int) -> np.ndarray:
        d = np.linalg.norm(points, axis=1)
        order = np.argsort(d, kind="stable")
        return points[order[1 : n + 1]]

    grid = np.array([(x, y, z) for x in range(-3, 4) for y in range(-3, 4) for z in range(-3, 4)], dtype=float)
    fcc = np.concatenate([grid + o for o in ([0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5])])
    bcc = np.concatenate([grid, grid + 0.5])
    a1, a2, a3 = np.array([1.0, 0, 0]), np.array([0.5, math.sqrt(3) / 2, 0]), np.array([0, 0, math.sqrt(8 / 3)])
    base = grid @ np.stack([a1, a2, a3])
    hcp = np.concatenate([base, base + (a1 + a2) / 3 + a3 / 2])
    out = {}
    for name, pts, n in (("bcc", bcc, 14), ("fcc", fcc, 12), ("hcp", hcp, 12)):
        out[name] = _signature(shell(pts, n))
    return out


def _signature(vectors: np.ndarray) -> np.ndarray:
    unit = vectors / np.linalg.norm(vectors, axis=1)[:, None]
    cos = unit @ unit.T
    return np.sort(cos[np.triu_indices(len(vectors), 1)])


_IDEAL: dict[str, np.ndarray] | None = None
FRAMEWORK_RMSD_TOL = 0.12  # largest mean cosine RMSD still called a match


def _anion_framework(prep: _Prepared) -> dict[str, Any]:
    global _IDEAL
    if _IDEAL is None:
        _IDEAL = _ideal_signatures()
    sites = _require_anions(prep)
    v_anion = prep.structure.volume / len(sites)
    r = 1.9 * v_anion ** (1.0 / 3.0)
    cart = prep.cart[sites]
    i, j, img, d = _neighbors(prep.lattice, cart, cart, r)
    vec = cart[j] + img @ prep.lattice - cart[i]
    order = np.lexsort((d, i))
    i, vec, d = i[order], vec[order], d[order]
    counts = np.bincount(i, minlength=len(sites))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rows = np.flatnonzero(counts >= 12)
    rmsd = {name: np.ones(len(sites)) for name in _IDEAL}
    if len(rows):
        for name, ideal in _IDEAL.items():
            n = 14 if name == "bcc" else 12
            rows_n = rows[counts[rows] >= n]
            if len(rows_n) == 0:
                continue
            take = starts[rows_n][:, None] + np.arange(n)[None, :]
            shell_v, shell_d = vec[take], d[take]  # (m, n, 3), (m, n)
            unit = shell_v / shell_d[..., None]
            cos = np.einsum("mik,mjk->mij", unit, unit)
            iu = np.triu_indices(n, 1)
            sig = np.sort(cos[:, iu[0], iu[1]], axis=1)
            dev = np.sqrt(np.mean((sig - ideal[None, :]) ** 2, axis=1))
            # the shell must be compact: distance spread beyond the ideal one is penalised
            ratio = shell_d / shell_d.mean(axis=1, keepdims=True)
            ideal_spread = 0.155 if name == "bcc" else 0.0
            spread = np.maximum(0.0, ratio.max(axis=1) - ratio.min(axis=1) - ideal_spread)
            rmsd[name][rows_n] = dev + 0.5 * spread
    scores = {name: float(np.mean(vals)) for name, vals in rmsd.items()}
    best = min(scores, key=scores.get)
    label = best if scores[best] <= FRAMEWORK_RMSD_TOL else "other"
    result: dict[str, Any] = {"anion_framework": label}
    for name in ("bcc", "fcc", "hcp"):
        result[f"anion_{name}_match"] = float(label == name)
    for name in ("bcc", "fcc", "hcp"):
        result[f"anion_{name}_rmsd"] = scores[name]
    return result


def anion_framework(structure: Structure) -> dict[str, Any]:
    """Match of the anion sublattice to bcc, fcc and hcp (Wang et al., Nat. Mater. 14, 1026 (2015)).

    Wang et al. showed that a bcc anion framework gives the lowest Li migration barriers.
    Instead of their ``StructureMatcher`` comparison (tens of ms to seconds a structure),
    each anion's first shell (14 nearest anions for bcc, 12 for fcc/hcp) is compared with
    the ideal lattice by the RMS difference of the sorted cosines of all neighbour-pair
    angles (a rotation-invariant angular fingerprint in the spirit of Ackland & Jones,
    Phys. Rev. B 73, 054104 (2006)) plus a penalty for the spread of shell distances
    beyond the ideal one. Scores are averaged over anion sites (anion occupancy >= 0.5).

    Returns
    -------
    dict
        ``anion_framework`` ("bcc", "fcc", "hcp" or "other": the best match when its mean
        score is <= :data:`FRAMEWORK_RMSD_TOL`), ``anion_{bcc,fcc,hcp}_match`` (0/1) and
        ``anion_{bcc,fcc,hcp}_rmsd`` (0 for an ideal lattice, lower is closer).
    """
    return _anion_framework(_prepare(structure, radius=0.1))


# ------------------------------------------------------------------------ aggregator

FEATURE_LABELS: tuple[str, ...] = (
    "volume_per_atom_A3",
    "volume_per_anion_A3",
    "packing_fraction",
    "density_g_cm3",
    "li_li_min_dist_A",
    "li_li_mean_nn_dist_A",
    "li_cn_mean",
    "li_percolation_dim",
    "li_percolation_3d_dist_A",
    "li_bottleneck_radius_1d_A",
    "li_bottleneck_radius_3d_A",
    "li_partial_occupancy_fraction",
    "anion_framework",
    "anion_bcc_match",
    "anion_fcc_match",
    "anion_hcp_match",
    "anion_bcc_rmsd",
    "anion_fcc_rmsd",
    "anion_hcp_rmsd",
)


def structural_descriptors(structure: Structure, li_cutoff_A: float = 3.5) -> dict[str, Any]:
    """All structural descriptors of a structure, sharing one neighbour search.

    Parameters
    ----------
    structure
        Ordered or disordered pymatgen Structure with Li and at least one anion.
    li_cutoff_A
        Li-Li bond cutoff of ``li_percolation_dim`` (A, at most 5).

    Returns
    -------
    dict
        Keys of :data:`FEATURE_LABELS`: ``volume_per_atom_A3``, ``volume_per_anion_A3``,
        ``packing_fraction``, ``density_g_cm3``, ``li_li_min_dist_A``,
        ``li_li_mean_nn_dist_A``, ``li_cn_mean``, ``li_percolation_dim`` (0-3 at
        ``li_cutoff_A``), ``li_percolation_3d_dist_A`` (smallest Li-Li cutoff giving a 3D
        Li network, NaN above 5 A), ``li_bottleneck_radius_1d_A``,
        ``li_bottleneck_radius_3d_A``, ``li_partial_occupancy_fraction``, and the anion
        framework keys of :func:`anion_framework` (``anion_framework`` is a string).

    Raises
    ------
    NoLithiumError, StructureDescriptorError
        No Li, no anion, or a structure that cannot be tessellated.
    """
    if not 0 < li_cutoff_A <= _SEARCH_RADIUS_A:
        raise StructureDescriptorError(f"li_cutoff_A={li_cutoff_A}: must be in (0, {_SEARCH_RADIUS_A}] A")
    prep = _prepare(structure)
    _require_li(prep)
    _require_anions(prep)
    d_min, d_mean = _li_distances(prep)
    dim, t3 = _li_percolation(prep, li_cutoff_A)
    b1, b3 = _bottleneck(prep)
    out: dict[str, Any] = {
        "volume_per_atom_A3": _volume_per_atom(prep),
        "volume_per_anion_A3": _volume_per_anion(prep),
        "packing_fraction": _packing_fraction(prep),
        "density_g_cm3": float(structure.density),
        "li_li_min_dist_A": d_min,
        "li_li_mean_nn_dist_A": d_mean,
        "li_cn_mean": _li_cn(prep),
        "li_percolation_dim": float(dim),
        "li_percolation_3d_dist_A": t3,
        "li_bottleneck_radius_1d_A": b1,
        "li_bottleneck_radius_3d_A": b3,
        "li_partial_occupancy_fraction": _li_partial_fraction(prep),
    }
    out.update(_anion_framework(prep))
    return out


class StructuralFeaturizer(BaseFeaturizer):
    """matminer featurizer returning :func:`structural_descriptors` in :data:`FEATURE_LABELS` order."""

    def __init__(self, li_cutoff_A: float = 3.5):
        self.li_cutoff_A = li_cutoff_A

    def featurize(self, structure: Structure) -> list:
        values = structural_descriptors(structure, li_cutoff_A=self.li_cutoff_A)
        return [values[k] for k in FEATURE_LABELS]

    def feature_labels(self) -> list[str]:
        return list(FEATURE_LABELS)

    def citations(self) -> list[str]:
        return [
            "@article{Shannon1976, author={Shannon, R. D.}, title={Revised effective ionic radii and systematic "
            "studies of interatomic distances in halides and chalcogenides}, journal={Acta Crystallographica A}, "
            "volume={32}, pages={751--767}, year={1976}}",
            "@article{Wang2015, author={Wang, Y. and Richards, W. D. and Ong, S. P. and Miara, L. J. and Kim, J. C. "
            "and Mo, Y. and Ceder, G.}, title={Design principles for solid-state lithium superionic conductors}, "
            "journal={Nature Materials}, volume={14}, pages={1026--1031}, year={2015}}",
            "@article{Ackland2006, author={Ackland, G. J. and Jones, A. P.}, title={Applications of local crystal "
            "structure measures in experiment and simulation}, journal={Physical Review B}, volume={73}, "
            "pages={054104}, year={2006}}",
        ]

    def implementors(self) -> list[str]:
        return ["screening project"]
