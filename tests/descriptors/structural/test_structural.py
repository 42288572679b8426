"""Tests of screening.descriptors.structural (pinned geometry, disorder, failures, speed)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from screening.descriptors.structural import (
    FEATURE_LABELS,
    NoLithiumError,
    StructuralFeaturizer,
    StructureDescriptorError,
    anion_elements,
    anion_framework,
    li_bottleneck_radius,
    li_coordination_number,
    li_li_min_distance,
    li_partial_occupancy_fraction,
    li_percolation_dimension,
    periodic_graph_dimension,
    structural_descriptors,
    volume_per_anion,
    volume_per_atom,
)
from screening.errors import ScreeningError
from screening.structures import read_structure


def li2s(a: float = 5.70) -> Structure:
    """Antifluorite Li2S: S at 4a, Li at 8c."""
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]])


def bcc_sulfide() -> Structure:
    """S on a bcc lattice (a = 4 A) with Li in the tetrahedral sites 12d-like positions."""
    return Structure(
        Lattice.cubic(4.0),
        ["S", "S", "Li", "Li", "Li", "Li"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0.25], [0.5, 0, 0.75], [0, 0.5, 0.25], [0, 0.5, 0.75]],
    )


def test_li2s_pinned_values():
    d = structural_descriptors(li2s())
    assert d["li_li_min_dist_A"] == pytest.approx(2.85, abs=1e-6)
    assert d["li_li_mean_nn_dist_A"] == pytest.approx(2.85, abs=1e-6)
    assert d["li_cn_mean"] == pytest.approx(4.0)
    assert d["li_percolation_dim"] == 3
    assert d["li_percolation_3d_dist_A"] == pytest.approx(2.85)
    assert d["volume_per_atom_A3"] == pytest.approx(5.70**3 / 12)
    assert d["volume_per_anion_A3"] == pytest.approx(5.70**3 / 4)
    assert d["density_g_cm3"] == pytest.approx(1.648, abs=1e-3)
    # 8 Li (0.76 A) + 4 S2- (1.84 A) spheres in 185.2 A^3
    expected_pf = (8 * 0.76**3 + 4 * 1.84**3) * 4 / 3 * math.pi / 5.70**3
    assert d["packing_fraction"] == pytest.approx(expected_pf, rel=1e-6)
    assert d["li_partial_occupancy_fraction"] == 0.0
    # window between the Li tetrahedron and the empty octahedron: S3 triangle, a/sqrt(6) - r(S2-)
    expected = 5.70 / math.sqrt(6) - 1.84
    assert d["li_bottleneck_radius_1d_A"] == pytest.approx(expected, abs=2e-3)
    assert d["li_bottleneck_radius_3d_A"] == pytest.approx(expected, abs=2e-3)
    assert d["anion_framework"] == "fcc"
    assert (d["anion_fcc_match"], d["anion_bcc_match"], d["anion_hcp_match"]) == (1.0, 0.0, 0.0)
    assert d["anion_fcc_rmsd"] < 1e-9 < d["anion_hcp_rmsd"]
    assert set(d) == set(FEATURE_LABELS)


def test_li2s_primitive_cell_same_answers():
    conv, prim = structural_descriptors(li2s()), structural_descriptors(li2s().get_primitive_structure())
    for key in ("li_li_min_dist_A", "li_cn_mean", "li_percolation_dim", "volume_per_atom_A3", "anion_framework"):
        assert prim[key] == conv[key] or prim[key] == pytest.approx(conv[key])
    assert prim["li_bottleneck_radius_3d_A"] == pytest.approx(conv["li_bottleneck_radius_3d_A"], abs=2e-3)


def test_single_functions_agree_with_aggregate():
    s = li2s()
    assert li_li_min_distance(s) == pytest.approx(2.85)
    assert li_coordination_number(s) == pytest.approx(4.0)
    assert volume_per_atom(s) == pytest.approx(15.43275)
    assert volume_per_anion(s) == pytest.approx(46.29825)
    assert li_percolation_dimension(s, cutoff_A=3.0) == 3
    assert li_percolation_dimension(s, cutoff_A=2.5) == 0
    assert li_bottleneck_radius(s)[0] == pytest.approx(0.487, abs=2e-3)


def test_bcc_anion_framework():
    d = anion_framework(bcc_sulfide())
    assert d["anion_framework"] == "bcc"
    assert d["anion_bcc_match"] == 1.0 and d["anion_fcc_match"] == 0.0
    assert d["anion_bcc_rmsd"] < 1e-9


def test_hcp_anion_framework():
    c = 4.0 * math.sqrt(8 / 3)
    s = Structure(Lattice.hexagonal(4.0, c), ["S", "S", "Li", "Li"],
                  [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75], [0, 0, 0], [0, 0, 0.5]])
    assert anion_framework(s)["anion_framework"] == "hcp"


def test_polyanion_centres_are_not_anions():
    # Li3PO4-like toy: P bonded to O is a cation; nitrate N bonded to O is a cation
    s = Structure(Lattice.cubic(6.0), ["Li", "P", "O", "O", "O", "O"],
                  [[0.5, 0.5, 0.5], [0, 0, 0], [0.26, 0, 0], [0, 0.26, 0], [0, 0, 0.26], [0.74, 0.74, 0.74]])
    assert anion_elements(s) == ["O"]
    assert anion_elements(li2s()) == ["S"]


@pytest.mark.parametrize("cif", ["Li10GeP2S12_LGPS.cif", "Li7P3S11.cif", "LiTi2PO43_NASICON.cif"])
def test_every_single_function_agrees_with_the_aggregate_for_polyanions(cif):
    # the P of PS4/PO4 is a cation: anion_framework() alone once took it for an anion (its neighbour
    # search radius was too short to see the P-S bond) and matched P + S against bcc/fcc/hcp
    s = read_structure(SEEDS / cif)
    aggregate = structural_descriptors(s)
    alone = anion_framework(s)
    assert alone == {k: aggregate[k] for k in alone}
    singles = {"volume_per_atom_A3": volume_per_atom(s), "volume_per_anion_A3": volume_per_anion(s),
               "li_partial_occupancy_fraction": li_partial_occupancy_fraction(s), "li_li_min_dist_A": li_li_min_distance(s),
               "li_cn_mean": li_coordination_number(s), "li_percolation_dim": li_percolation_dimension(s),
               "li_bottleneck_radius_1d_A": li_bottleneck_radius(s)[0], "li_bottleneck_radius_3d_A": li_bottleneck_radius(s)[1]}
    assert singles == pytest.approx({k: aggregate[k] for k in singles}, rel=1e-12)


def test_no_li_raises():
    s = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(NoLithiumError, match="NaCl: no Li"):
        structural_descriptors(s)
    assert issubclass(NoLithiumError, ScreeningError)


def test_no_anion_raises():
    s = Structure(Lattice.cubic(3.5), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(StructureDescriptorError, match="no anion"):
        structural_descriptors(s)


def test_bad_cutoff_raises():
    with pytest.raises(StructureDescriptorError, match="li_cutoff_A"):
        structural_descriptors(li2s(), li_cutoff_A=8.0)


def test_disordered_split_li_sites():
    s = li2s()
    s.replace(0, {"Li": 0.5})
    # a second, half-occupied Li 0.5 A from the first: an alternative position, not a neighbour
    s.append({"Li": 0.5}, s[0].coords + np.array([0.5, 0, 0]), coords_are_cartesian=True)
    d = structural_descriptors(s)
    # the 0.5 A split pair is skipped; the shifted Li is 2.35 A from the next (fully occupied) Li
    assert d["li_li_min_dist_A"] == pytest.approx(2.85 - 0.5, abs=1e-6)
    assert d["li_partial_occupancy_fraction"] == pytest.approx(2 / 9)
    assert li_partial_occupancy_fraction(s) == pytest.approx(2 / 9)


def test_periodic_graph_dimension():
    # one node bonded to its images along a, then b, then c
    eye = np.eye(3, dtype=int)
    assert periodic_graph_dimension(1, np.array([0]), np.array([0]), eye[:1]) == 1
    assert periodic_graph_dimension(1, np.zeros(2, int), np.zeros(2, int), eye[:2]) == 2
    assert periodic_graph_dimension(1, np.zeros(3, int), np.zeros(3, int), eye) == 3
    # a closed ring inside the cell is 0-dimensional
    assert periodic_graph_dimension(2, np.array([0, 1]), np.array([1, 0]), np.zeros((2, 3), int)) == 0


def test_obelix_disordered_cif(obelix_dir):
    s = read_structure(obelix_dir / "j8q.cif")  # Li10GeP2S12, partial Li occupancies
    assert not s.is_ordered
    d = structural_descriptors(s)
    assert 0 < d["li_partial_occupancy_fraction"] <= 1
    assert d["li_percolation_dim"] == 3
    assert 3.5 < d["li_cn_mean"] < 5.5
    assert 0.3 < d["li_bottleneck_radius_3d_A"] < 0.7
    assert 0.4 < d["packing_fraction"] < 0.9
    assert anion_elements(s) == ["S"]


def test_featurizer_in_dataframe(obelix_dir):
    structures = [li2s(), read_structure(obelix_dir / "j8q.cif"),
                  Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])]
    df = pd.DataFrame({"structure": structures})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        featurizer = StructuralFeaturizer()
        featurizer.set_n_jobs(1)
        out = featurizer.featurize_dataframe(
            df, "structure", ignore_errors=True, return_errors=True, pbar=False)
    assert out.loc[0, "li_li_min_dist_A"] == pytest.approx(2.85)
    assert out.loc[0, "anion_framework"] == "fcc"
    assert math.isnan(out.loc[2, "li_cn_mean"]) and "no Li" in out.loc[2, "StructuralFeaturizer Exceptions"]
    assert StructuralFeaturizer().citations() and StructuralFeaturizer().implementors()


# ------------------------------------------------- Li networks of the fast-conductor seeds


SEEDS = __import__("pathlib").Path(__file__).resolve().parents[3] / "seeds"


@pytest.mark.parametrize("cif", ["Li7P3S11.cif", "Li3InCl6_C2m.cif", "LLTO_Li0.35La0.55TiO3.cif"])
def test_fast_conductor_seeds_have_a_3d_li_network(cif):
    assert li_percolation_dimension(read_structure(SEEDS / cif)) == 3


def test_mostly_vacant_cation_sites_carry_li_between_layers():
    """Li3InCl6 (C2/m): Li fills the z = 1/2 layer only; the In layer's 4g site is 93 % vacant."""
    s = read_structure(SEEDS / "Li3InCl6_C2m.cif")
    assert li_percolation_dimension(s, cutoff_A=3.75) == 3
    filled = s.copy()
    for n, site in enumerate(filled):
        if 0 < site.species.get_el_amt_dict().get("In", 0) < 0.5:  # the 4g site, In 0.07
            filled.replace(n, {"In": 0.9})
    assert li_percolation_dimension(filled, cutoff_A=3.75) == 2  # occupied: no path between Li layers
