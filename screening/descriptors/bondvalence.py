"""Bond-valence site-energy (BVSE) migration barriers of Li+ in 1, 2 and 3 dimensions.

The BVSE model (S. Adams & R. P. Rao, Phys. Status Solidi A 208, 1746 (2011); H. Chen,
L. L. Wong & S. Adams, "SoftBV - a software tool for screening the materials genome of
inorganic fast ion conductors", Acta Cryst. B 75, 18 (2019)) gives the energy of a test
Li+ ion at a point r of the crystal as

    E(r) = sum_X D0 / 2 [(exp(alpha (R_min - d_X)) - 1)^2 - 1]             (anions X)
         + sum_M 14.4 eV A q_Li q_M / sqrt(n_Li n_M) / d_M
                 * erfc(d_M / (f (r_Li + r_M)))                               (cations M)

with the softBV Morse parameters (D0, R_min, alpha = 1/b) of each Li+-anion pair, the
formal charges q, the principal quantum numbers n (periods), the softBV covalent radii r
and the screening factor f = 0.74.

The factor 1/2 of the Morse term is the convention of the bvlain implementation of these
parameters (A. Dembitskiy, bvlain 0.25.1, ``BVSEPotential.Morse``, and its documentation,
"Theory behind", eq. 1). Adams' own statement of the model (Materials Project
documentation, "Bond valence site energy calculation", materialsproject/docs
``docs/user-guide/battery-explorer/battery-explorer.md``) has no 1/2:
E = sum D [(exp(alpha (R_min - R)) - 1)^2 - 1] + E_Coulomb with
D = 14.4 eV A V_X / (R_min sqrt(n_Li n_X)) b^2 / 2, which is the tabulated D0 (1.040 eV for
Li-S, 0.988 eV for Li-O). Without the 1/2 every anion-only landscape doubles (Li2S
0.34 -> 0.68 eV at 0.15 A). The bvlain convention is kept (``_MORSE_SCALE``): with it
this module reproduces bvlain's barriers on the same structures (median |3D difference|
in ``benchmarks/results/structural.md``), and no barrier computed with the softBV program
itself on a structure at hand could be found to decide between the two; the MP
documentation also says its BVSE energies are multiplied by 0.8 for lattice relaxation.

Grid and barrier: the energy is evaluated on a periodic grid over the primitive,
Niggli-reduced cell (:func:`reduced_cell`, so that a supercell gives the barriers of its
cell; before, the grid cap coarsened big cells and a 2x2x2 Li6PS5Cl supercell gave 0.42
instead of 0.38 eV) with a spacing of at most ``resolution_A`` (default 0.2 A; the cap of
10^6 points coarsens only cells above about 8000 A^3). The migration barrier in k dimensions
is the lowest energy E_k (above the grid minimum) at which the region {E < E_k}
percolates through the crystal in k independent directions: a flood fill with periodic
boundaries (:func:`scipy.ndimage.label` on the grid padded by one wrapped layer, joined
into a periodic graph whose dimension
:func:`screening.descriptors.structural.periodic_graph_dimension` counts), with 26
neighbours per grid point (faces, edges and corners). A narrow saddle that lies between
grid points is crossed diagonally with 26 neighbours; with 6 the path has to zigzag
through higher points and coarse grids overestimate the barrier (LGPS 0.616 eV at 0.25 A
with 6 neighbours, 0.560 eV at 0.1 A). The defaults come from the convergence study in
``benchmarks/bench_bvse_convergence.py``: at 0.2 A with 26 neighbours the 3D barriers of
nine seed structures are within 0.03 eV of those at 0.1 A, at about 0.1-2 s a structure.

The PyPI package ``bvlain`` implements the same model but needs ordered structures with
oxidation states from ``BVAnalyzer`` (slow, and it fails on partial occupancies); this
module is a vectorised reimplementation that handles disorder. The parameters for Li+
ship in ``data/softbv_li.json`` (from the softBV tables, transcribed from bvlain's MIT
licensed data files).

Disorder policy: every Li site is removed (Li is the mobile species); every other
species contributes with its site occupancy as weight (mean-field average over the
disorder), so a site half occupied by S counts as half an S2- ion. This overestimates
barriers where Li shares sites with another cation: in LLTO every A site carries La (0.32
or 0.784) and the 3D barrier is above 2 eV (no ordered approximant is built here). A
"majority" rule (a cation on a site Li also occupies counts fully at occupancy >= 0.5, not at
all below) was measured on the 67 OBELiX CIFs with such sites and rejected: it orders their
measured conductivities worse (Spearman 0.02 -> -0.16) and closes LLTO's 3D path altogether
(benchmarks/results/structural.md).

Charges: anions (:func:`screening.descriptors.structural.anion_elements`) get their
nominal charge (O2-, S2-, Cl-...); every other cation gets its highest common oxidation
state, all of them scaled by one factor so that the cell is neutral (mean-field charges
of mixed-valence or off-stoichiometric structures). Oxidation states already on the
structure's species are used when present.
"""

from __future__ import annotations

import json
import math
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from matminer.featurizers.base import BaseFeaturizer
from pymatgen.core import Element, Structure
from pymatgen.optimization.neighbors import find_points_in_spheres
from scipy import ndimage
from scipy.special import erfc

from screening.descriptors.structural import (
    ANION_CHARGES,
    _prepare,
    _require_li,
    periodic_graph_dimension,
)
from screening.errors import ScreeningError, UnsupportedChemistryError

__all__ = [
    "BVSEError",
    "BVSEFeaturizer",
    "BVSETimeoutError",
    "BVSEResult",
    "bondvalence_descriptors",
    "bvse_barriers",
    "bvse_energy_grid",
    "reduced_cell",
]

_DATA = Path(__file__).with_name("data") / "softbv_li.json"
COULOMB_EV_A = 14.399645  # e^2 / (4 pi eps0) in eV A
SCREENING_F = 0.74
DEFAULT_RESOLUTION_A = 0.2
DEFAULT_MAX_POINTS = 1_000_000
DEFAULT_CONNECTIVITY = 26
PRIMITIVE_MAX_SITES = 2000
_MORSE_SCALE = 0.5
FEATURE_LABELS = ("bvse_barrier_1d_eV", "bvse_barrier_2d_eV", "bvse_barrier_3d_eV")


class BVSEError(ScreeningError):
    """The BVSE barrier of a structure cannot be computed."""


class BVSETimeoutError(BVSEError):
    """The BVSE calculation ran past its time limit."""


@lru_cache(maxsize=1)
def _params() -> dict[str, Any]:
    with open(_DATA) as handle:
        return json.load(handle)


def _name(structure: Structure, name: str | None) -> str:
    return name or structure.composition.reduced_formula


def _scatterers(structure: Structure, name: str):
    """Framework ions as arrays: fractional coords, weights and interaction parameters.

    Returns the Morse set (anions: frac, weight, D0, R_min, alpha) and the Coulomb set
    (cations: frac, weight, q, n, r_cov); every ion weighted by its site occupancy (mean field).
    """
    prep = _prepare(structure, radius=3.0)
    _require_li(prep)
    params = _params()
    morse_table = params["li_anion_morse"]
    radii = params["cation_covalent_radius_A"]
    anion = dict(zip(prep.symbols, prep.anion_cols))
    if not any(anion.values()):
        raise BVSEError(f"{name}: no anion in the structure (anion-forming elements: {', '.join(ANION_CHARGES)})")
    # oxidation states already on the structure, if any (mean per element)
    given: dict[str, list[float]] = {}
    for site in structure:
        for sp in site.species:
            q = getattr(sp, "oxi_state", None)
            if q is not None and getattr(sp, "symbol", None):
                given.setdefault(sp.symbol, []).append(float(q))
    charges: dict[str, float] = {}
    for sym, is_anion in anion.items():
        if sym in given and len(given) == len(prep.symbols):
            charges[sym] = float(np.mean(given[sym]))
        elif is_anion:
            charges[sym] = float(ANION_CHARGES[sym])
        elif sym == "Li":
            charges[sym] = 1.0
        else:
            states = Element(sym).common_oxidation_states
            positive = [s for s in states if s > 0] or [s for s in Element(sym).oxidation_states if s > 0]
            if not positive:
                raise UnsupportedChemistryError(f"{name}: no positive oxidation state known for {sym}")
            charges[sym] = float(max(positive))
    amounts = prep.occ.sum(axis=0)
    if not given or len(given) != len(prep.symbols):
        neg = -sum(a * charges[s] for s, a in zip(prep.symbols, amounts) if anion[s])
        li = amounts[prep.symbols.index("Li")]
        pos = sum(a * charges[s] for s, a in zip(prep.symbols, amounts) if not anion[s] and s != "Li")
        if pos > 0 and neg - li > 0:
            scale = (neg - li) / pos
            for s in prep.symbols:
                if not anion[s] and s != "Li":
                    charges[s] *= scale
    morse_rows, coul_rows = [], []
    for col, sym in enumerate(prep.symbols):
        if sym == "Li":
            continue
        sites = np.flatnonzero(prep.occ[:, col] > 0)
        w = prep.occ[sites, col]
        if anion[sym]:
            key = f"{sym}{abs(round(charges[sym]))}-"
            if key not in morse_table:
                raise UnsupportedChemistryError(
                    f"{name}: no softBV Li+ parameters for {key} (available: {', '.join(sorted(morse_table))})"
                )
            p = morse_table[key]
            for index, wt in zip(sites, w):
                morse_rows.append((index, wt, p["d0"], p["r_min"], p["alpha"]))
        else:
            if sym not in radii:
                raise UnsupportedChemistryError(f"{name}: no softBV covalent radius for {sym}")
            for index, wt in zip(sites, w):
                coul_rows.append((index, wt, charges[sym], Element(sym).row, radii[sym]))
    morse = np.array(morse_rows, dtype=float).reshape(-1, 5)
    coul = np.array(coul_rows, dtype=float).reshape(-1, 5)
    frac = prep.frac
    return (frac[morse[:, 0].astype(int)], morse[:, 1:]), (frac[coul[:, 0].astype(int)], coul[:, 1:]), prep


#: bytes of memory a BVSE grid point takes (its energy, fractional and Cartesian coordinates, meshgrid temporaries)
GRID_POINT_BYTES = 80


def _check_grid(name: str, resolution_A: float, max_points: int) -> None:
    """Refuse grid settings that cannot finish (a spacing of 0, a cap below the 4 x 4 x 4 minimum)."""
    if not (isinstance(resolution_A, (int, float)) and math.isfinite(resolution_A) and resolution_A > 0):
        raise BVSEError(f"{name}: resolution_A={resolution_A!r}: must be a positive number of A")
    if max_points < 64:
        raise BVSEError(f"{name}: max_points={max_points}: at least 64 (4 points along each axis)")


def _check_grid_size(name: str, shape: tuple[int, int, int], resolution_A: float) -> None:
    """Refuse a grid over ``SCREENING_MAX_BVSE_GRID_POINTS`` points before any memory is taken."""
    from screening.config import get_settings

    limit = get_settings().max_bvse_grid_points
    points = math.prod(shape)
    if points > limit:
        raise BVSEError(
            f"{name}: a BVSE grid of {points} points ({' x '.join(map(str, shape))} at {resolution_A:g} A) is more than "
            f"the limit of {limit} (about {limit * GRID_POINT_BYTES / 1e9:.1f} GB of memory; SCREENING_MAX_BVSE_GRID_POINTS): "
            "coarsen resolution_A or lower max_points"
        )


def _grid_shape(lattice: np.ndarray, resolution_A: float, max_points: int) -> tuple[int, int, int]:
    lengths = np.linalg.norm(lattice, axis=1)
    res = resolution_A
    while True:
        n_a, n_b, n_c = (int(max(4, math.ceil(length / res))) for length in lengths)
        if n_a * n_b * n_c <= max_points:
            return n_a, n_b, n_c
        res *= 1.05


def bvse_energy_grid(
    structure: Structure,
    *,
    resolution_A: float = DEFAULT_RESOLUTION_A,
    max_points: int = DEFAULT_MAX_POINTS,
    r_cut_A: float = 6.0,
    timeout_s: float = 30.0,
    name: str | None = None,
    _start: float | None = None,
) -> np.ndarray:
    """BVSE energy of a Li+ test ion on a periodic grid over the cell (eV).

    Parameters
    ----------
    structure
        Ordered or disordered structure containing Li (module docstring for the policy).
    resolution_A
        Target grid spacing (A); coarsened when the grid would exceed ``max_points``.
    max_points
        Cap on the number of grid points (bounds time and memory).
    r_cut_A
        Interaction cutoff (A); both terms are below 1e-3 eV beyond 6 A.
    timeout_s
        Raise :class:`BVSETimeoutError` when the calculation takes longer.
    name
        Name used in error messages (default: the reduced formula).

    Returns
    -------
    numpy.ndarray
        Array of shape (n_a, n_b, n_c); point (i, j, k) is at fractional (i/n_a, j/n_b, k/n_c).
    """
    start = time.perf_counter() if _start is None else _start
    name = _name(structure, name)
    _check_grid(name, resolution_A, max_points)
    (m_frac, m_par), (c_frac, c_par), prep = _scatterers(structure, name)
    lattice = prep.lattice
    shape = _grid_shape(lattice, resolution_A, max_points)
    _check_grid_size(name, shape, resolution_A)
    axes = [np.arange(n) / n for n in shape]
    grid_frac = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    grid_cart = grid_frac @ lattice
    energy = np.zeros(len(grid_cart))
    params = _params()
    r_li = params["li_covalent_radius_A"]
    n_li = 2.0
    pbc = np.array([1, 1, 1], dtype=np.int64)
    chunk = 20_000
    for lo in range(0, len(grid_cart), chunk):
        if time.perf_counter() - start > timeout_s:
            raise BVSETimeoutError(f"{name}: BVSE grid not finished within {timeout_s:g} s")
        centres = np.ascontiguousarray(grid_cart[lo : lo + chunk])
        part = np.zeros(len(centres))
        if len(m_frac):
            i, j, _, d = find_points_in_spheres(np.ascontiguousarray(m_frac @ lattice), centres, r=r_cut_A,
                                                pbc=pbc, lattice=np.ascontiguousarray(lattice), tol=1e-8)
            w, d0, r_min, alpha = m_par[j].T
            e = _MORSE_SCALE * w * d0 * ((np.exp(alpha * (r_min - d)) - 1.0) ** 2 - 1.0)
            part += np.bincount(i, weights=e, minlength=len(centres))
        if len(c_frac):
            i, j, _, d = find_points_in_spheres(np.ascontiguousarray(c_frac @ lattice), centres, r=r_cut_A,
                                                pbc=pbc, lattice=np.ascontiguousarray(lattice), tol=1e-8)
            w, q, n, r_c = c_par[j].T
            d = np.maximum(d, 0.1)
            e = w * COULOMB_EV_A * q / np.sqrt(n_li * n) / d * erfc(d / (SCREENING_F * (r_li + r_c)))
            part += np.bincount(i, weights=e, minlength=len(centres))
        energy[lo : lo + chunk] = part
    return energy.reshape(shape)


_CONNECTIVITY = {6: ndimage.generate_binary_structure(3, 1), 26: ndimage.generate_binary_structure(3, 3)}


def _percolation_dimension(mask: np.ndarray, connectivity: int = 6) -> int:
    """Periodic dimension (0-3) of the largest-dimension connected region of a boolean grid.

    Grid points are joined to their 6 face neighbours or (``connectivity=26``) to all 26
    face, edge and corner neighbours, across the periodic boundaries too: the grid is
    padded by one wrapped layer on the high side of each axis and labelled; a padded point
    is the copy, in the neighbouring cell, of the point at its index modulo the grid shape,
    which joins the two labels into a periodic graph. Every pair of neighbouring points
    has a copy inside the padded grid, so no bond across the faces, edges or corners is missed.
    """
    if connectivity not in _CONNECTIVITY:
        raise ValueError(f"connectivity must be 6 or 26, not {connectivity}")
    shape = np.array(mask.shape)
    padded = np.pad(mask, [(0, 1)] * 3, mode="wrap")
    labels, n = ndimage.label(padded, structure=_CONNECTIVITY[connectivity])
    if n == 0:
        return 0
    outer = np.zeros(padded.shape, dtype=bool)
    outer[-1, :, :] = outer[:, -1, :] = outer[:, :, -1] = True
    idx = np.argwhere(outer & (labels > 0))
    if len(idx) == 0:
        return 0
    image = idx // shape
    home = idx % shape
    copy = labels[tuple(idx.T)] - 1  # this component (cell 0) holds the home point of cell `image`
    home_label = labels[tuple(home.T)] - 1
    bonds = np.unique(np.column_stack([copy, home_label, image]), axis=0)
    return periodic_graph_dimension(n, bonds[:, 0], bonds[:, 1], bonds[:, 2:])


def reduced_cell(structure: Structure, max_sites: int = PRIMITIVE_MAX_SITES) -> Structure:
    """The primitive, Niggli-reduced cell of a structure; the structure itself when that fails.

    :meth:`pymatgen.core.Structure.get_primitive_structure` compares species with their
    occupancies, so a disordered structure reduces only by the translations that map the
    partial occupancies onto themselves (the mean-field crystal is periodic in them). Its
    cost grows quickly with the number of sites, so cells above ``max_sites`` sites are kept.
    """
    if len(structure) > max_sites or len(structure) < 2:
        return structure
    try:
        prim = structure.get_primitive_structure(tolerance=0.1, use_site_props=False)
    except Exception:  # pymatgen raises various errors on odd cells: keep the given cell
        return structure
    if len(prim) >= len(structure):
        return structure
    try:
        return prim.get_reduced_structure()
    except Exception:
        return prim


def bvse_barriers(
    structure: Structure,
    *,
    resolution_A: float = DEFAULT_RESOLUTION_A,
    max_points: int = DEFAULT_MAX_POINTS,
    encut_eV: float = 5.0,
    tol_eV: float = 0.01,
    timeout_s: float = 30.0,
    name: str | None = None,
    connectivity: int = DEFAULT_CONNECTIVITY,
    reduce_cell: bool = True,
) -> dict[str, float]:
    """BVSE Li+ migration barriers for 1D, 2D and 3D percolation (eV).

    The energy grid (:func:`bvse_energy_grid`) is shifted to its minimum; each barrier is
    found by bisection (to ``tol_eV``) as the lowest level whose accessible region
    {E < level} percolates in at least k dimensions. A barrier above ``encut_eV`` is
    reported as ``inf`` (no percolation: an insulator for Li+).

    Parameters
    ----------
    structure
        Ordered or disordered pymatgen Structure containing Li and anions with softBV
        parameters (O, S, Se, Te, F, Cl, Br, I, N).
    resolution_A, max_points
        Grid spacing and cap (see :func:`bvse_energy_grid`).
    encut_eV
        Largest barrier searched.
    tol_eV
        Bisection precision.
    timeout_s
        Time limit for the whole calculation; :class:`BVSETimeoutError` names the structure.
    name
        Name used in error messages.
    connectivity
        6 (face neighbours) or 26 (face, edge and corner neighbours) grid connectivity of
        the flood fill (:func:`_percolation_dimension`).
    reduce_cell
        Compute on the primitive cell (:func:`reduced_cell`) so that a supercell gives the
        barriers of its cell.

    Returns
    -------
    dict
        ``bvse_barrier_1d_eV``, ``bvse_barrier_2d_eV``, ``bvse_barrier_3d_eV``.

    Raises
    ------
    BVSEError, UnsupportedChemistryError, BVSETimeoutError
        No Li or anions, anions without softBV parameters (P3-, As3-, H-), time limit.

    References
    ----------
    Chen, Wong & Adams, Acta Cryst. B 75, 18 (2019); Adams & Rao, Phys. Status Solidi A
    208, 1746 (2011).
    """
    start = time.perf_counter()
    name = _name(structure, name)
    _check_grid(name, resolution_A, max_points)
    if reduce_cell:
        structure = reduced_cell(structure)
    grid = bvse_energy_grid(structure, resolution_A=resolution_A, max_points=max_points,
                            timeout_s=timeout_s, name=name, _start=start)
    grid = grid - grid.min()
    barriers: list[float] = []
    low = 0.0
    for dim in (1, 2, 3):
        if _percolation_dimension(grid < encut_eV, connectivity) < dim:
            barriers.append(math.inf)
            continue
        lo, hi = low, encut_eV
        while hi - lo > tol_eV:
            if time.perf_counter() - start > timeout_s:
                raise BVSETimeoutError(f"{name}: BVSE percolation not finished within {timeout_s:g} s")
            mid = 0.5 * (lo + hi)
            if _percolation_dimension(grid < mid, connectivity) >= dim:
                hi = mid
            else:
                lo = mid
        barriers.append(max(hi, barriers[-1]) if barriers else hi)
        low = lo
    return dict(zip(FEATURE_LABELS, barriers))


def bondvalence_descriptors(structure: Structure, **kwargs: Any) -> dict[str, float]:
    """All bond-valence descriptors: the BVSE barriers of :func:`bvse_barriers` (keyword arguments passed on)."""
    return bvse_barriers(structure, **kwargs)


BVSEResult = dict[str, float]


class BVSEFeaturizer(BaseFeaturizer):
    """matminer featurizer: BVSE Li+ barriers ``bvse_barrier_{1,2,3}d_eV`` of a structure."""

    def __init__(self, resolution_A: float = DEFAULT_RESOLUTION_A, max_points: int = DEFAULT_MAX_POINTS,
                 timeout_s: float = 30.0, connectivity: int = DEFAULT_CONNECTIVITY):
        self.resolution_A = resolution_A
        self.max_points = max_points
        self.timeout_s = timeout_s
        self.connectivity = connectivity

    def featurize(self, structure: Structure) -> list[float]:
        values = bvse_barriers(structure, resolution_A=self.resolution_A, max_points=self.max_points,
                               timeout_s=self.timeout_s, connectivity=self.connectivity)
        return [values[k] for k in FEATURE_LABELS]

    def feature_labels(self) -> list[str]:
        return list(FEATURE_LABELS)

    def citations(self) -> list[str]:
        return [
            "@article{Chen2019softBV, author={Chen, H. and Wong, L. L. and Adams, S.}, title={SoftBV - a software "
            "tool for screening the materials genome of inorganic fast ion conductors}, journal={Acta "
            "Crystallographica B}, volume={75}, pages={18--33}, year={2019}}",
            "@article{Adams2011, author={Adams, S. and Rao, R. P.}, title={High power lithium ion battery materials "
            "by computational design}, journal={Physica Status Solidi A}, volume={208}, pages={1746--1753}, "
            "year={2011}}",
        ]

    def implementors(self) -> list[str]:
        return ["screening project"]
