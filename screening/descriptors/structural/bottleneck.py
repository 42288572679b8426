"""Geometric Li bottleneck radius from a periodic Delaunay tessellation of the framework."""

from __future__ import annotations

import math

import numpy as np
from pymatgen.core import Structure
from scipy.spatial import Delaunay, QhullError

from screening.descriptors.structural.geometry import (
    _DELAUNAY_SKIN_A,
    StructureDescriptorError,
    _prepare,
    _Prepared,
    _require_li,
)
from screening.descriptors.structural.percolation import _dedupe, percolation_thresholds

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


