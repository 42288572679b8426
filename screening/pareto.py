"""Non-dominated sorting (Pareto fronts) that scales past a few thousand rows.

:func:`pareto_ranks` is a blocked, vectorised form of the Efficient Non-dominated Sort
with binary search (ENS-BS, Zhang et al., IEEE TEVC 19, 201 (2015)):

1. Rows are sorted lexicographically, best first, so every row that dominates another
   comes before it (a dominator is >= on every objective and > on one, hence
   lexicographically greater). Sorting is O(n log n).
2. The front of a row is one more than the largest front among its dominators. Fronts
   built so far are searched by bisection: if some row of front k dominates p, so does
   some row of every front before k. A block of rows is bisected at once, one numpy
   comparison per (block, front) pair instead of one Python step per row.
3. Inside a block, dominance between its own rows is a small ``B x B`` matrix; the
   fronts are settled by a longest-path relaxation over it.

The number of comparisons is O(m n log F * |front|) (F fronts): far below the O(m n^2)
of peeling one front at a time when fronts are small (correlated objectives, few
objectives), and no better than it in the worst case (many objectives, independent
random values, huge fronts). :func:`pareto_ranks_reference` is the plain O(m n^2)
peeling, kept as the reference the tests compare against. Timings:
``benchmarks/bench_ranking.py``, recorded in ``benchmarks/results/ranking.md``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pareto_ranks", "pareto_ranks_reference"]

_MAX_CELLS = 4_000_000  # booleans in one (rows x front) comparison


def pareto_ranks_reference(values: np.ndarray) -> np.ndarray:
    """O(m n^2) peeling: front of each row of ``values`` (maximise every column).

    Returns an int array: 1 for the non-dominated rows, 2 for those non-dominated once
    front 1 is removed, ...; 0 for rows with a NaN. Use for small n and for tests.
    """
    values = np.asarray(values, dtype=float)
    ranks = np.zeros(len(values), dtype=int)
    remaining = np.flatnonzero(~np.isnan(values).any(axis=1)) if values.ndim == 2 else np.arange(0)
    front = 1
    while remaining.size:
        sub = values[remaining]
        ge = (sub[None, :, :] >= sub[:, None, :]).all(axis=2)
        gt = (sub[None, :, :] > sub[:, None, :]).any(axis=2)
        dominated = np.any(ge & gt, axis=1)
        ranks[remaining[~dominated]] = front
        remaining = remaining[dominated]
        front += 1
    return ranks


def _dominance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(b), len(a))`` boolean: row i of ``b`` is dominated by row j of ``a``.

    One 2-D comparison per objective (faster than 3-D arrays reduced over a short axis).
    """
    ge = a[:, 0][None, :] >= b[:, 0][:, None]
    gt = a[:, 0][None, :] > b[:, 0][:, None]
    for j in range(1, a.shape[1]):
        aj, bj = a[:, j][None, :], b[:, j][:, None]
        ge &= aj >= bj
        gt |= aj > bj
    return ge & gt


def _dominated_by(front: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each row of ``points``: is it dominated by some row of ``front``?"""
    out = np.zeros(len(points), dtype=bool)
    step = max(1, _MAX_CELLS // max(1, len(front)))
    for start in range(0, len(points), step):
        out[start : start + step] = _dominance(front, points[start : start + step]).any(axis=1)
    return out


class _Fronts:
    """Rows assigned to each front so far, appended block by block."""

    def __init__(self, m: int) -> None:
        self.parts: list[list[np.ndarray]] = []
        self.cache: list[np.ndarray | None] = []
        self.m = m

    def __len__(self) -> int:
        return len(self.parts)

    def get(self, k: int) -> np.ndarray:  # k is 1-based
        cached = self.cache[k - 1]
        if cached is None:
            cached = self.cache[k - 1] = np.concatenate(self.parts[k - 1])
            self.parts[k - 1] = [cached]
        return cached

    def add(self, k: int, rows: np.ndarray) -> None:
        while len(self.parts) < k:
            self.parts.append([])
            self.cache.append(None)
        self.parts[k - 1].append(rows)
        self.cache[k - 1] = None


def pareto_ranks(values: np.ndarray, block: int = 512) -> np.ndarray:
    """Front index of every row of ``values`` (n x m, every column to be maximised).

    Returns an int array of length n: 1 = non-dominated, 2 = non-dominated once front 1
    is removed, ...; 0 for rows with a NaN (not ranked). ``+inf``/``-inf`` are ordinary
    values. Equal rows share a front. Same result as :func:`pareto_ranks_reference`.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"values: expected a 2-D array (rows x objectives), got shape {values.shape}")
    n, m = values.shape
    ranks = np.zeros(n, dtype=int)
    valid = np.flatnonzero(~np.isnan(values).any(axis=1))
    if valid.size == 0 or m == 0:
        ranks[valid] = 1
        return ranks
    sub = values[valid]
    order = np.lexsort(tuple(-sub[:, j] for j in range(m - 1, -1, -1)))  # best first, column 0 primary
    pts = sub[order]
    result = np.zeros(len(pts), dtype=int)
    fronts = _Fronts(m)
    for start in range(0, len(pts), block):
        p = pts[start : start + block]
        lo = np.ones(len(p), dtype=int)  # smallest front possibly free of dominators
        hi = np.full(len(p), len(fronts) + 1, dtype=int)  # front len+1 is empty: free
        active = lo < hi
        while active.any():
            mid = (lo + hi) // 2
            for k in np.unique(mid[active]):
                rows = np.flatnonzero(active & (mid == k))
                dom = _dominated_by(fronts.get(int(k)), p[rows])
                lo[rows[dom]] = k + 1
                hi[rows[~dom]] = k
            active = lo < hi
        # dominance inside the block: q (earlier) dominates p (later)
        inner = _dominance(p, p).T  # inner[q, p]: q dominates p
        f = lo.copy()
        if inner.any():
            for _ in range(len(p)):
                best = np.where(inner, f[:, None] + 1, 0).max(axis=0)
                new = np.maximum(lo, best)
                if np.array_equal(new, f):
                    break
                f = new
        result[start : start + len(p)] = f
        for k in np.unique(f):
            fronts.add(int(k), p[f == k])
    ranks[valid[order]] = result
    return ranks
