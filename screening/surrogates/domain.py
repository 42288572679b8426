"""Applicability domain: how far a composition is from the compositions a model was trained on.

Compositions are rows of atomic fractions (94 columns, :data:`~screening.chemistry.ELEMENTS`
order). The distance between two is the L1 norm of their difference: 0 for the same
fractional composition, 2 for compositions with no element in common.

Two measures:

- :func:`nearest_l1`: the exact distance to the nearest training row. It is what the
  conductivity model (hundreds of training rows) reports and what "novel composition" means in
  its evaluation (further than :data:`NOVEL_L1` from every training row).
- :class:`SubsystemDomain`: the distance to the nearest training row whose elements are all
  among the query's (the query's chemical system or one of its subsystems); 2 when no
  training row is made of the query's elements only. Exact over those rows, it is never
  below :func:`nearest_l1` and costs a few dictionary look-ups a chemical system, so it
  scales to training sets of 10^5 rows (formation energy) and screens of 10^6 candidates,
  where the exact search would take a millisecond a candidate. A doped variant of the query
  (an element more) is not looked at: Li6.5La3Zr1.5Ta0.5O12 is measured against the
  Li-La-Zr-O, Li-La-Ta-O ... rows, not against Li6.4La3Zr1.4Ta0.6O12.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

__all__ = ["NOVEL_L1", "SubsystemDomain", "nearest_l1"]

#: a composition is novel when its atomic fractions are further than this (L1) from every training row
NOVEL_L1 = 0.05


def nearest_l1(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """L1 distance from each row of ``queries`` to the nearest row of ``reference`` (NaN for non-finite rows).

    Uses |r - q| summed = sum(r) + sum(q) - 2 sum(min(r, q)), where only the query's own
    elements contribute to the last sum: queries are grouped by their element set.
    """
    reference = np.asarray(reference, float)
    queries = np.asarray(queries, float)
    out = np.full(len(queries), np.nan)
    finite = np.isfinite(queries).all(axis=1) if len(queries) else np.zeros(0, bool)
    if not len(reference) or not finite.any():
        return out
    rows = np.flatnonzero(finite)
    q = queries[rows]
    ref_total = reference.sum(axis=1)
    patterns, inverse = np.unique(q != 0, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    for p, pattern in enumerate(patterns):
        members = np.flatnonzero(inverse == p)
        cols = np.flatnonzero(pattern)
        ref = reference[:, cols]
        part = q[np.ix_(members, cols)]
        step = max(1, 2_000_000 // max(1, ref.size))
        for lo in range(0, len(members), step):
            chunk = part[lo : lo + step]
            overlap = np.minimum(ref[None, :, :], chunk[:, None, :]).sum(axis=2)  # (k, m)
            d = ref_total[None, :] + chunk.sum(axis=1)[:, None] - 2.0 * overlap
            out[rows[members[lo : lo + step]]] = np.maximum(d.min(axis=1), 0.0)
    return out


class SubsystemDomain:
    """Training compositions indexed by element set, for :meth:`distance` (see the module docstring).

    Built from a (rows x elements) fraction matrix; kept in a model file as three plain
    arrays (:meth:`to_arrays`, :meth:`from_arrays`: CSR rows of the distinct compositions).
    """

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n_columns: int):
        self.indptr = np.asarray(indptr, np.int64)
        self.indices = np.asarray(indices, np.int16)
        self.data = np.asarray(data, np.float32)
        self.n_columns = int(n_columns)
        self._index: dict[tuple[int, ...], np.ndarray] | None = None

    @classmethod
    def from_fractions(cls, fractions: np.ndarray, decimals: int = 4) -> SubsystemDomain:
        """Index the distinct finite rows of ``fractions`` (rounded to ``decimals``)."""
        f = np.asarray(fractions, float)
        f = np.round(f[np.isfinite(f).all(axis=1)], decimals)
        f = np.unique(f, axis=0) if len(f) else f.reshape(0, f.shape[1])
        rows, cols = np.nonzero(f > 0)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(f)))])
        return cls(indptr, cols, f[rows, cols], f.shape[1])

    def to_arrays(self) -> dict[str, np.ndarray | int]:
        return {"indptr": self.indptr, "indices": self.indices, "data": self.data, "n_columns": self.n_columns}

    @classmethod
    def from_arrays(cls, arrays: dict) -> SubsystemDomain:
        return cls(arrays["indptr"], arrays["indices"], arrays["data"], arrays["n_columns"])

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def _by_system(self) -> dict[tuple[int, ...], np.ndarray]:
        """{element columns (sorted): fractions of the training rows with exactly those elements}."""
        if self._index is None:
            groups: dict[tuple[int, ...], list[np.ndarray]] = {}
            for r in range(len(self)):
                lo, hi = self.indptr[r], self.indptr[r + 1]
                cols = self.indices[lo:hi].astype(int)
                order = np.argsort(cols)
                groups.setdefault(tuple(cols[order].tolist()), []).append(self.data[lo:hi][order].astype(float))
            self._index = {key: np.vstack(rows) for key, rows in groups.items()}
        return self._index

    def _subsystems(self, cols: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The element sets of training rows that are subsets of ``cols`` (sorted). Not memoised: a
        screen meets thousands of new element sets in every chunk, and a memo grew with every chunk of
        10,000 candidates while saving no measurable time."""
        index = self._by_system()
        return [key for size in range(1, len(cols) + 1) for key in combinations(cols, size) if key in index]

    def distance(self, queries: np.ndarray, max_elements: int = 10) -> np.ndarray:
        """L1 distance of each query row to its nearest training row made of the query's elements only.

        2.0 when there is none; NaN for a non-finite row, or one with more than
        ``max_elements`` elements (2^n subsystems would be looked up). The queries are
        grouped by the training systems they contain, one array operation a system.
        """
        queries = np.asarray(queries, float)
        out = np.full(len(queries), np.nan)
        finite = np.isfinite(queries).all(axis=1) if len(queries) else np.zeros(0, bool)
        support = np.where(finite[:, None], queries, 0.0) > 0
        small = finite & (support.sum(axis=1) <= max_elements)
        if not small.any():
            return out
        index = self._by_system()
        rows = np.flatnonzero(small)
        patterns, inverse = np.unique(support[rows], axis=0, return_inverse=True)
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(patterns) + 1))
        by_system: dict[tuple[int, ...], list[int]] = {}
        for p, pattern in enumerate(patterns):
            for key in self._subsystems(tuple(np.flatnonzero(pattern).tolist())):
                by_system.setdefault(key, []).append(p)
        total = queries[rows].sum(axis=1)
        best = np.full(len(rows), 2.0)
        for key, members_of in by_system.items():
            members = np.concatenate([order[bounds[p] : bounds[p + 1]] for p in members_of])
            part = queries[rows[members]][:, list(key)]
            d = _nearest_in_system(index[key], part) + (total[members] - part.sum(axis=1))
            best[members] = np.minimum(best[members], d)
        out[rows] = best
        return out


def _nearest_in_system(ref: np.ndarray, q: np.ndarray, budget: int = 2_000_000) -> np.ndarray:
    """L1 distance over the system's columns from each row of ``q`` to the nearest row of ``ref`` (both (n, |system|))."""
    out = np.empty(len(q))
    step = max(1, budget // max(1, ref.size))  # bounds the (step, m, |system|) temporary
    for lo in range(0, len(q), step):
        out[lo : lo + step] = np.abs(ref[None, :, :] - q[lo : lo + step, None, :]).sum(axis=2).min(axis=1)
    return out
