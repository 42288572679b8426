"""Cell features of round 5 (screening.surrogates.cell)."""

import numpy as np
import pytest
from pymatgen.core import Lattice

from screening.surrogates.cell import CELL_FEATURES, cell_feature_matrix, cell_features, cell_volume, crystal_system


def test_cubic_cell_volume_per_atom_li_density_and_anion_volume():
    # rock-salt-like Li4O4 in a 4.0 A cubic cell: 64 A^3 for 8 atoms, 4 of them Li, 4 O
    f = cell_features(225, 4.0, 4.0, 4.0, 90, 90, 90, "Li4O4")
    assert set(f) == set(CELL_FEATURES)
    assert f["cell_volume_per_atom_A3"] == pytest.approx(8.0)
    assert f["cell_li_density_per_A3"] == pytest.approx(4 / 64)
    assert f["cell_volume_per_anion_A3"] == pytest.approx(16.0)
    assert f["cell_anisotropy"] == pytest.approx(1.0)
    assert f["cell_system_cubic"] == 1.0 and sum(f[k] for k in CELL_FEATURES if k.startswith("cell_system_")) == 1.0
    assert f["cell_space_group_number"] == 225 and f["cell_centrosymmetric"] == 1.0


@pytest.mark.parametrize(
    "number, system",
    [(1, "triclinic"), (2, "triclinic"), (3, "monoclinic"), (15, "monoclinic"), (16, "orthorhombic"), (74, "orthorhombic"),
     (75, "tetragonal"), (142, "tetragonal"), (143, "trigonal"), (167, "trigonal"), (168, "hexagonal"), (194, "hexagonal"),
     (195, "cubic"), (230, "cubic")],
)  # fmt: skip
def test_crystal_system_from_space_group_number(number, system):
    assert crystal_system(number) == system


def test_centrosymmetric_flag():
    assert cell_features(1, 5, 6, 7, 80, 85, 95, "LiCl")["cell_centrosymmetric"] == 0.0  # P1
    assert cell_features(2, 5, 6, 7, 80, 85, 95, "LiCl")["cell_centrosymmetric"] == 1.0  # P-1
    assert cell_features(216, 5, 5, 5, 90, 90, 90, "LiCl")["cell_centrosymmetric"] == 0.0  # F-43m


def test_volume_matches_pymatgen_for_a_triclinic_cell():
    params = (5.5071, 6.0425, 5.5231, 116.912, 120.867, 62.234)
    assert cell_volume(*params) == pytest.approx(Lattice.from_parameters(*params).volume, rel=1e-10)


def test_oxoanion_sulfur_is_no_anion():
    # Li2SO4: S with 4 O is a cation, so 4 anion atoms per 7 atoms
    f = cell_features(14, 8.2, 4.9, 8.4, 90, 107.9, 90, "Li8S4O16")
    assert f["cell_volume_per_anion_A3"] == pytest.approx(f["cell_volume_per_atom_A3"] * 28 / 16)


@pytest.mark.parametrize(
    "kwargs, word",
    [({"a": -1.0}, "a"), ({"c": float("nan")}, "c"), ({"beta": 180.0}, "beta"), ({"space_group_number": 231}, "space_group_number"),
     ({"space_group_number": 12.5}, "space_group_number"), ({"alpha": 10, "beta": 10, "gamma": 100}, "make no cell"),
     ({"cell_composition": "Li(4"}, "cell_composition"), ({"cell_composition": ""}, "cell_composition")],
)  # fmt: skip
def test_bad_input_raises_value_error_naming_it(kwargs, word):
    args = {"space_group_number": 225, "a": 4.0, "b": 4.0, "c": 4.0, "alpha": 90, "beta": 90, "gamma": 90, "cell_composition": "Li4O4"}
    with pytest.raises(ValueError, match=word):
        cell_features(**{**args, **kwargs})


def test_matrix_matches_rows_and_rejects_empty_cells():
    lat = np.array([[4.0, 4.0, 4.0, 90, 90, 90], [3.0, 3.0, 9.0, 90, 90, 120]])
    m = cell_feature_matrix([225, 166], lat, [8, 6], [4, 3], [4, 3])
    assert m.shape == (2, len(CELL_FEATURES))
    assert m[1, CELL_FEATURES.index("cell_system_trigonal")] == 1.0
    assert m[1, CELL_FEATURES.index("cell_anisotropy")] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="atoms"):
        cell_feature_matrix([225], lat[:1], [0], [0], [0])
