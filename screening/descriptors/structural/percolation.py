"""Periodic graph percolation (union-find with lattice translations) and the Li-Li network dimension."""

from __future__ import annotations

import math

import numpy as np
from pymatgen.core import Structure

from screening.descriptors.structural.geometry import (
    _SEARCH_RADIUS_A,
    StructureDescriptorError,
    _prepare,
    _Prepared,
    _require_li,
)

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


LI_HOP_CUTOFF_A = 4.0  # default Li-Li bond of the Li network (A)


def _vacant_cation_sites(prep: _Prepared) -> np.ndarray:
    """Sites listed for cations but mostly empty: no Li, no anion, total occupancy below 0.5."""
    total = prep.occ.sum(axis=1)
    return (prep.li_occ == 0) & (prep.anion_occ == 0) & (total < 0.5)


def _li_percolation(prep: _Prepared, cutoff: float) -> tuple[int, float]:
    _require_li(prep)
    node = (prep.li_occ > 0) | _vacant_cation_sites(prep)
    mask = node[prep.nb_i] & node[prep.nb_j]
    i, j, img, d = prep.nb_i[mask], prep.nb_j[mask], prep.nb_img[mask], prep.nb_d[mask]
    keep = _dedupe(i, j, img)
    t1, t2, t3 = percolation_thresholds(len(prep.frac), i[keep], j[keep], img[keep], d[keep],
                                        marked=prep.li_occ > 0)
    dim = sum(1 for t in (t1, t2, t3) if not math.isnan(t) and t <= cutoff)
    return dim, t3


def li_percolation_dimension(structure: Structure, cutoff_A: float = LI_HOP_CUTOFF_A) -> int:
    """Dimension (0-3) of the Li network with bonds shorter than ``cutoff_A`` (A).

    Nodes are the Li sites (every site containing Li, any occupancy) and the mostly vacant
    cation sites of the CIF (no Li, no anion, total occupancy below 0.5, e.g. the 4g In
    site of Li3InCl6, 7 % In): Li passes through such vacancies, and without them the Li
    layers of Li3InCl6 (Li only at z = 1/2 in the C2/m CIF) are 2D. Bonds join nodes closer
    than ``cutoff_A``; the dimension is the rank of the lattice translations spanned by a
    connected component that holds Li (:class:`_PeriodicUnionFind`).

    The default 4.0 A covers the longest direct Li hops of known fast conductors: the A-site
    to A-site hop of perovskite LLTO (a = 3.87 A) and the 3.83 A hop that closes the 3D Li
    network of Li7P3S11 (with 3.5 A both came out 0D). Empty interstitials not listed in the
    CIF (octahedral/tetrahedral voids) are invisible here; the bottleneck and BVSE descriptors
    see them. ``cutoff_A`` must be in (0, 5] A.
    """
    if not 0 < cutoff_A <= _SEARCH_RADIUS_A:
        raise StructureDescriptorError(f"cutoff_A={cutoff_A}: must be in (0, {_SEARCH_RADIUS_A}] A")
    return _li_percolation(_prepare(structure), cutoff_A)[0]
