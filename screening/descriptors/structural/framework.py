"""Anion framework: match of the anion sublattice to bcc, fcc and hcp."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pymatgen.core import Structure

from screening.descriptors.structural.geometry import _BOND_RADIUS_A, _neighbors, _prepare, _Prepared, _require_anions

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
    best = min(scores, key=scores.__getitem__)
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
    return _anion_framework(_prepare(structure, radius=_BOND_RADIUS_A))


