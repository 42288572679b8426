"""Tests of screening.descriptors.bondvalence (BVSE barriers)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from screening.descriptors.bondvalence import (
    FEATURE_LABELS,
    BVSEError,
    BVSEFeaturizer,
    BVSETimeoutError,
    bondvalence_descriptors,
    bvse_barriers,
    bvse_energy_grid,
)
from screening.descriptors.structural import NoLithiumError
from screening.errors import ScreeningError, UnsupportedChemistryError
from screening.structures import read_structure


def li2s(a: float = 5.70) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]])


def test_li2s_barrier_pinned():
    # bvlain 0.25.1 gives 0.3516 eV at 0.2 A (26-connectivity, softBV radii; benchmarks/bench_bvse_reference.py)
    out = bvse_barriers(li2s(), resolution_A=0.2)
    assert set(out) == set(FEATURE_LABELS)
    assert out["bvse_barrier_3d_eV"] == pytest.approx(0.352, abs=0.005)
    # cubic: the first percolating path is 3D at once
    assert out["bvse_barrier_1d_eV"] == pytest.approx(out["bvse_barrier_3d_eV"], abs=0.02)


def test_energy_grid_minimum_and_shape():
    grid = bvse_energy_grid(li2s(), resolution_A=0.3)
    assert grid.shape == (19, 19, 19)
    # energy is low in the S4/S6 cages and very high on top of an S ion (grid point 0,0,0)
    assert grid[0, 0, 0] > grid.min() + 5


def test_barriers_monotonic_and_finite(obelix_dir):
    out = bondvalence_descriptors(read_structure(obelix_dir / "nhq.cif"))
    b1, b2, b3 = (out[k] for k in FEATURE_LABELS)
    assert 0 < b1 <= b2 <= b3 < 2


def test_fast_conductors_below_poor_ones(obelix_dir):
    """Li6PS5Cl and Li10GeP2S12 (mS/cm) have lower 3D barriers than gamma/beta-Li3PO4."""
    fast = [bvse_barriers(read_structure(obelix_dir / f"{i}.cif"))["bvse_barrier_3d_eV"] for i in ("122", "zzr")]
    poor = [bvse_barriers(read_structure(obelix_dir / f"{i}.cif"))["bvse_barrier_3d_eV"] for i in ("w7d", "9lo")]
    assert max(fast) < min(poor)
    assert fast[0] < 0.5  # Li6PS5Cl
    assert min(poor) > 0.7


def test_disordered_structure(obelix_dir):
    s = read_structure(obelix_dir / "122.cif")  # Li6PS5Cl, disordered Li and S/Cl
    assert not s.is_ordered
    out = bvse_barriers(s, resolution_A=0.35)
    assert 0.2 < out["bvse_barrier_3d_eV"] < 0.6


def test_timeout_names_structure():
    big = li2s().make_supercell(2, in_place=False)
    with pytest.raises(BVSETimeoutError, match="Li2S: BVSE .* within 0.001 s"):
        bvse_barriers(big, timeout_s=0.001)
    assert issubclass(BVSETimeoutError, ScreeningError)


def test_no_li_raises():
    with pytest.raises(NoLithiumError):
        bvse_barriers(Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]))


def test_unsupported_anion_raises():
    li3p = Structure(Lattice.hexagonal(4.27, 7.59), ["Li", "Li", "P"], [[0, 0, 0], [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.25]])
    with pytest.raises(UnsupportedChemistryError, match="P3-"):
        bvse_barriers(li3p)


def test_no_anion_raises():
    with pytest.raises(BVSEError, match="no anion"):
        bvse_barriers(Structure(Lattice.cubic(3.5), ["Li", "Al"], [[0, 0, 0], [0.5, 0.5, 0.5]]))


def test_no_percolation_gives_inf():
    # with a 0.05 eV search window nothing percolates in Li2S (barrier 0.37 eV)
    out = bvse_barriers(li2s(), resolution_A=0.3, encut_eV=0.05)
    assert all(math.isinf(v) for v in out.values())


def test_featurizer():
    f = BVSEFeaturizer(resolution_A=0.3)
    values = f.featurize(li2s())
    assert len(values) == len(f.feature_labels()) == 3
    assert np.all(np.isfinite(values))
    assert f.citations() and f.implementors()


def _seed(name: str) -> Structure:
    from pathlib import Path

    return read_structure(Path(__file__).resolve().parents[2] / "seeds" / name)


@pytest.mark.parametrize("seed, scales", [("Li3OCl_antiperovskite.cif", (2, 3)), ("Li6PS5Cl_argyrodite.cif", (2,))])
def test_supercell_gives_the_same_barriers(seed, scales):
    """The barrier is a property of the crystal, not of the cell it is given in."""
    s = _seed(seed)
    ref = bvse_barriers(s, timeout_s=120)
    for n in scales:
        out = bvse_barriers(s.make_supercell(n, in_place=False), timeout_s=120)
        for k in FEATURE_LABELS:
            assert out[k] == pytest.approx(ref[k], abs=0.02), (seed, n, k)


def test_conventional_and_primitive_cell_agree():
    conv = li2s()
    prim = conv.get_primitive_structure()
    assert len(prim) == 3 and len(conv) == 12
    a = bvse_barriers(conv)["bvse_barrier_3d_eV"]
    b = bvse_barriers(prim)["bvse_barrier_3d_eV"]
    assert a == pytest.approx(b, abs=0.02)


def test_percolation_dimension_diagonal_channel():
    from screening.descriptors.bondvalence import _percolation_dimension

    n = 8
    mask = np.zeros((n, n, n), dtype=bool)
    for i in range(n):
        mask[i, i, 0] = True  # a channel along a + b that only touches itself at edges
    assert _percolation_dimension(mask, connectivity=6) == 0
    assert _percolation_dimension(mask, connectivity=26) == 1
    # a straight channel across the cell boundary percolates with both
    mask = np.zeros((n, n, n), dtype=bool)
    mask[:, 3, 3] = True
    assert _percolation_dimension(mask, connectivity=6) == 1
    # a layer percolates in 2D, the full grid in 3D
    mask = np.zeros((n, n, n), dtype=bool)
    mask[:, :, 2] = True
    assert _percolation_dimension(mask, connectivity=26) == 2
    assert _percolation_dimension(np.ones((n, n, n), dtype=bool), connectivity=26) == 3


def test_default_grid_is_converged():
    """The default grid gives the barrier of a fine (0.1 A) grid within 0.03 eV (LGPS: 0.616 vs 0.560 at 0.25 A, 6-conn.)."""
    s = _seed("Li10GeP2S12_LGPS.cif")
    fine = bvse_barriers(s, resolution_A=0.1, max_points=10**8, connectivity=26, timeout_s=120)
    default = bvse_barriers(s)
    for k in FEATURE_LABELS:
        assert default[k] == pytest.approx(fine[k], abs=0.03), k


def test_shared_sites_are_mean_field_on_llto():
    """LLTO's A sites hold La 0.32 / Li 0.5 (z = 1/2) and La 0.784 / Li 0.16 (z = 0): La counts with its occupancy."""
    from screening.descriptors.bondvalence import _scatterers

    s = read_structure(Path(__file__).resolve().parents[2] / "seeds" / "LLTO_Li0.35La0.55TiO3.cif")
    _, (c_frac, c_par), _ = _scatterers(s, "LLTO")
    # the cations at z = 0 and 1/2 are the A-site La (Ti sits at z = 0.265 and 0.735)
    weights = {round(float(z), 3): float(w) for (_, _, z), w in zip(c_frac, c_par[:, 0]) if min(abs(z), abs(z - 0.5)) < 1e-6}
    assert weights == pytest.approx({0.0: 0.784, 0.5: 0.32})
