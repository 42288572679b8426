"""Cell features: symmetry and volumetric descriptors from a space group, six lattice parameters
and the cell content (round 5 of the conductivity model selection, benchmarks/results/models.md).

OBELiX gives these for every row; an enumerated candidate would take them from its seed
prototype (the seed's space group and cell, the candidate's formula x the seed's Z). Not used by
any shipped model.

- symmetry block (:data:`SYMMETRY_FEATURES`): crystal-system one-hot from the space-group number
  (International Tables ranges), the number itself, and a centrosymmetric flag (the point group
  contains the inversion: one symmetry operation of pymatgen's ``SpaceGroup`` has rotation -1);
- volumetric block (:data:`VOLUMETRIC_FEATURES`): cell volume per atom, Li atoms per A^3, volume
  per anion atom (anions as :func:`screening.chemistry.anions_of`; -1 when the cell has none) and
  max(a, b, c) / min(a, b, c) of the cell as given.

The volume is the closed form that pymatgen's ``Lattice.from_parameters(...).volume`` gives,
``abc sqrt(1 - cos^2 alpha - cos^2 beta - cos^2 gamma + 2 cos alpha cos beta cos gamma)``,
vectorised so that 10^4-10^6 rows cost milliseconds.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pymatgen.core import Composition

from screening.chemistry import anions_of

#: crystal systems and the last space-group number of each (International Tables for Crystallography, vol. A)
CRYSTAL_SYSTEMS: tuple[tuple[str, int], ...] = (
    ("triclinic", 2), ("monoclinic", 15), ("orthorhombic", 74), ("tetragonal", 142),
    ("trigonal", 167), ("hexagonal", 194), ("cubic", 230),
)  # fmt: skip

SYMMETRY_FEATURES: tuple[str, ...] = (*(f"cell_system_{s}" for s, _ in CRYSTAL_SYSTEMS), "cell_space_group_number", "cell_centrosymmetric")
VOLUMETRIC_FEATURES: tuple[str, ...] = ("cell_volume_per_atom_A3", "cell_li_density_per_A3", "cell_volume_per_anion_A3", "cell_anisotropy")
#: all column labels, in the order of :func:`cell_feature_matrix`
CELL_FEATURES: tuple[str, ...] = SYMMETRY_FEATURES + VOLUMETRIC_FEATURES

_UPPER = np.array([u for _, u in CRYSTAL_SYSTEMS])


def crystal_system(space_group_number: int) -> str:
    """``"cubic"`` for 225: the crystal system of a space-group number (1-230)."""
    n = _check_space_groups(np.array([space_group_number]), "space_group_number")[0]
    return CRYSTAL_SYSTEMS[int(np.searchsorted(_UPPER, n))][0]


@lru_cache(maxsize=1)
def centrosymmetric_table() -> np.ndarray:
    """Boolean array of 231 entries (index = space-group number, 0 unused): the group contains the inversion."""
    from pymatgen.symmetry.groups import SpaceGroup

    table = np.zeros(231, bool)
    minus_one = -np.eye(3)
    for n in range(1, 231):
        table[n] = any(np.allclose(op.rotation_matrix, minus_one) for op in SpaceGroup.from_int_number(n).symmetry_ops)
    return table


def cell_volume(a, b, c, alpha, beta, gamma) -> np.ndarray:
    """Cell volume (A^3) from lengths (A) and angles (degrees); arrays broadcast. Raises ValueError
    naming the input for a non-positive or non-finite length or angles that make no cell."""
    lengths = {"a": np.asarray(a, float), "b": np.asarray(b, float), "c": np.asarray(c, float)}
    angles = {"alpha": np.asarray(alpha, float), "beta": np.asarray(beta, float), "gamma": np.asarray(gamma, float)}
    for name, v in lengths.items():
        bad = ~(np.isfinite(v) & (v > 0))
        if bad.any():
            raise ValueError(f"lattice parameter {name} must be a positive finite length in A, got {np.atleast_1d(v)[np.atleast_1d(bad)][0]!r}")
    for name, v in angles.items():
        bad = ~(np.isfinite(v) & (v > 0) & (v < 180))
        if bad.any():
            raise ValueError(f"lattice angle {name} must be in (0, 180) degrees, got {np.atleast_1d(v)[np.atleast_1d(bad)][0]!r}")
    ca, cb, cg = (np.cos(np.radians(v)) for v in angles.values())
    radicand = 1 - ca**2 - cb**2 - cg**2 + 2 * ca * cb * cg
    if (np.asarray(radicand) <= 0).any():
        raise ValueError("lattice angles alpha, beta, gamma make no cell (zero or imaginary volume)")
    return lengths["a"] * lengths["b"] * lengths["c"] * np.sqrt(radicand)


def _check_space_groups(sg, name: str) -> np.ndarray:
    arr = np.asarray(sg, float)
    bad = ~(np.isfinite(arr) & (arr == np.round(arr)) & (arr >= 1) & (arr <= 230))
    if bad.any():
        raise ValueError(f"{name} must be an integer 1-230, got {np.atleast_1d(sg)[np.atleast_1d(bad)][0]!r}")
    return arr.astype(int)


def cell_counts(cell_composition: Composition | str | dict) -> tuple[float, float, float]:
    """``(atoms, Li atoms, anion atoms)`` of a cell content (e.g. ``"Li14P6S22"``)."""
    try:
        comp = cell_composition if isinstance(cell_composition, Composition) else Composition(cell_composition)
    except Exception as exc:
        raise ValueError(f"cell_composition {cell_composition!r} cannot be read as a composition ({exc})") from exc
    amounts = {str(k): float(v) for k, v in comp.get_el_amt_dict().items()}
    anions = anions_of(amounts)
    return float(sum(amounts.values())), amounts.get("Li", 0.0), float(sum(amounts[e] for e in anions))


def cell_feature_matrix(space_group_numbers, lattice: np.ndarray, atoms, li, anions) -> np.ndarray:
    """Rows of :data:`CELL_FEATURES` (``n x 13``).

    ``space_group_numbers`` (n), ``lattice`` (n x 6: a, b, c in A, alpha, beta, gamma in degrees),
    and per cell ``atoms``, ``li`` and ``anions`` (atom counts, e.g. from :func:`cell_counts`).
    """
    sg = _check_space_groups(space_group_numbers, "space_group_number")
    lat = np.asarray(lattice, float).reshape(len(sg), 6)
    atoms, li, anions = (np.asarray(v, float).reshape(len(sg)) for v in (atoms, li, anions))
    if not (np.isfinite(atoms) & (atoms > 0)).all():
        raise ValueError("cell atoms must be positive (the cell composition has no atoms)")
    if not (np.isfinite(li) & (li >= 0) & np.isfinite(anions) & (anions >= 0)).all():
        raise ValueError("cell Li and anion counts must be finite and >= 0")
    volume = cell_volume(*lat.T)
    system = np.searchsorted(_UPPER, sg)
    onehot = np.zeros((len(sg), len(CRYSTAL_SYSTEMS)))
    onehot[np.arange(len(sg)), system] = 1.0
    per_anion = np.where(anions > 0, volume / np.where(anions > 0, anions, 1.0), -1.0)
    anisotropy = lat[:, :3].max(axis=1) / lat[:, :3].min(axis=1)
    return np.column_stack([onehot, sg, centrosymmetric_table()[sg], volume / atoms, li / volume, per_anion, anisotropy])


def cell_features(space_group_number: int, a: float, b: float, c: float, alpha: float, beta: float, gamma: float,
                  cell_composition: Composition | str | dict) -> dict[str, float]:  # fmt: skip
    """The :data:`CELL_FEATURES` of one cell, e.g. ``cell_features(225, 4.2, 4.2, 4.2, 90, 90, 90, "Li4O4")``."""
    atoms, li, anions = cell_counts(cell_composition)
    row = cell_feature_matrix([space_group_number], np.array([[a, b, c, alpha, beta, gamma]]), [atoms], [li], [anions])[0]
    return dict(zip(CELL_FEATURES, (float(v) for v in row), strict=True))
