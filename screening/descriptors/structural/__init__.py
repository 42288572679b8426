"""Structural descriptors of lithium conductors: free volume, Li sublattice, bottlenecks, anion framework.

Every descriptor accepts an ordered or a disordered pymatgen ``Structure`` (sites with
partial occupancies, as read from CIF files by :func:`screening.structures.read_structure`).
The common disorder policy (each function documents its own details):

* a **Li site** is any site whose species contain Li, whatever its occupancy;
* the **framework** is the set of sites dominated by non-Li species (non-Li occupancy at
  least the Li occupancy); its radius is the occupancy-weighted mean radius of its non-Li
  species;
* an **anion site** carries an anion element (see :func:`anion_elements`) with an anion
  occupancy of at least 0.5;
* counts and volumes are weighted by occupancy (``Composition.num_atoms`` of a disordered
  structure is the occupancy-weighted atom count).

Everything is computed from one vectorised periodic neighbour search
(``pymatgen.optimization.neighbors.find_points_in_spheres``), one Delaunay tessellation
of the framework and small union-find passes, so all descriptors of a 72-site structure
take a few milliseconds (see ``benchmarks/results/structural.md``).

Radii are Shannon ionic radii (R. D. Shannon, Acta Cryst. A 32, 751 (1976)): anions use
the tabulated value in :data:`ANION_RADII_A` (six-fold coordination where tabulated);
cations use pymatgen's ``Element.average_cationic_radius`` (Shannon crystal radii averaged
over oxidation states) minus 0.14 A, the constant offset between Shannon crystal and
ionic radii of cations. Li+ is 0.76 A.

Modules: :mod:`.geometry` (prepared structure, neighbour search, radii, volumes),
:mod:`.sublattice` (Li-Li distances, coordination), :mod:`.percolation` (periodic graph
dimension), :mod:`.bottleneck` (Delaunay bottlenecks), :mod:`.framework` (anion
framework). Every public name is re-exported here.
"""

from __future__ import annotations

from typing import Any

from matminer.featurizers.base import BaseFeaturizer
from pymatgen.core import Structure

from screening.descriptors.structural.bottleneck import _bottleneck, _window_radius, li_bottleneck_radius
from screening.descriptors.structural.framework import FRAMEWORK_RMSD_TOL, _anion_framework, anion_framework
from screening.descriptors.structural.geometry import (
    _SEARCH_RADIUS_A,
    ANION_CHARGES,
    ANION_RADII_A,
    LI_RADIUS_A,
    NoLithiumError,
    StructureDescriptorError,
    _li_partial_fraction,
    _neighbors,
    _packing_fraction,
    _prepare,
    _Prepared,
    _require_anions,
    _require_li,
    _volume_per_anion,
    _volume_per_atom,
    anion_elements,
    density,
    ionic_radius,
    li_partial_occupancy_fraction,
    packing_fraction,
    volume_per_anion,
    volume_per_atom,
)
from screening.descriptors.structural.percolation import (
    LI_HOP_CUTOFF_A,
    _dedupe,
    _li_percolation,
    _PeriodicUnionFind,
    _vacant_cation_sites,
    li_percolation_dimension,
    percolation_thresholds,
    periodic_graph_dimension,
)
from screening.descriptors.structural.sublattice import (
    _li_cn,
    _li_distances,
    _li_pairs,
    li_coordination_number,
    li_li_mean_nn_distance,
    li_li_min_distance,
)

__all__ = [
    "ANION_CHARGES",
    "ANION_RADII_A",
    "FEATURE_LABELS",
    "FRAMEWORK_RMSD_TOL",
    "LI_HOP_CUTOFF_A",
    "LI_RADIUS_A",
    "NoLithiumError",
    "StructureDescriptorError",
    "StructuralFeaturizer",
    "anion_elements",
    "anion_framework",
    "density",
    "ionic_radius",
    "li_bottleneck_radius",
    "li_coordination_number",
    "li_li_mean_nn_distance",
    "li_li_min_distance",
    "li_partial_occupancy_fraction",
    "li_percolation_dimension",
    "packing_fraction",
    "percolation_thresholds",
    "periodic_graph_dimension",
    "structural_descriptors",
    "volume_per_anion",
    "volume_per_atom",
]
# private helpers re-exported for the modules that used them from the old single file
_PRIVATE = (_vacant_cation_sites, _Prepared, _PeriodicUnionFind, _bottleneck, _dedupe, _li_pairs, _neighbors, _window_radius)

# ------------------------------------------------------------------------ aggregator

FEATURE_LABELS: tuple[str, ...] = (
    "volume_per_atom_A3",
    "volume_per_anion_A3",
    "packing_fraction",
    "density_g_cm3",
    "li_li_min_dist_A",
    "li_li_mean_nn_dist_A",
    "li_cn_mean",
    "li_percolation_dim",
    "li_percolation_3d_dist_A",
    "li_bottleneck_radius_1d_A",
    "li_bottleneck_radius_3d_A",
    "li_partial_occupancy_fraction",
    "anion_framework",
    "anion_bcc_match",
    "anion_fcc_match",
    "anion_hcp_match",
    "anion_bcc_rmsd",
    "anion_fcc_rmsd",
    "anion_hcp_rmsd",
)


def structural_descriptors(structure: Structure, li_cutoff_A: float = LI_HOP_CUTOFF_A) -> dict[str, Any]:
    """All structural descriptors of a structure, sharing one neighbour search.

    Parameters
    ----------
    structure
        Ordered or disordered pymatgen Structure with Li and at least one anion.
    li_cutoff_A
        Li-Li bond cutoff of ``li_percolation_dim`` (A, at most 5; default 4.0, see
        :func:`li_percolation_dimension`, which also explains the vacant-site nodes).

    Returns
    -------
    dict
        Keys of :data:`FEATURE_LABELS`: ``volume_per_atom_A3``, ``volume_per_anion_A3``,
        ``packing_fraction``, ``density_g_cm3``, ``li_li_min_dist_A``,
        ``li_li_mean_nn_dist_A``, ``li_cn_mean``, ``li_percolation_dim`` (0-3 at
        ``li_cutoff_A``), ``li_percolation_3d_dist_A`` (smallest Li-Li cutoff giving a 3D
        Li network, NaN above 5 A), ``li_bottleneck_radius_1d_A``,
        ``li_bottleneck_radius_3d_A``, ``li_partial_occupancy_fraction``, and the anion
        framework keys of :func:`anion_framework` (``anion_framework`` is a string).

    Raises
    ------
    NoLithiumError, StructureDescriptorError
        No Li, no anion, or a structure that cannot be tessellated.
    """
    if not 0 < li_cutoff_A <= _SEARCH_RADIUS_A:
        raise StructureDescriptorError(f"li_cutoff_A={li_cutoff_A}: must be in (0, {_SEARCH_RADIUS_A}] A")
    prep = _prepare(structure)
    _require_li(prep)
    _require_anions(prep)
    d_min, d_mean = _li_distances(prep)
    dim, t3 = _li_percolation(prep, li_cutoff_A)
    b1, b3 = _bottleneck(prep)
    out: dict[str, Any] = {
        "volume_per_atom_A3": _volume_per_atom(prep),
        "volume_per_anion_A3": _volume_per_anion(prep),
        "packing_fraction": _packing_fraction(prep),
        "density_g_cm3": float(structure.density),
        "li_li_min_dist_A": d_min,
        "li_li_mean_nn_dist_A": d_mean,
        "li_cn_mean": _li_cn(prep),
        "li_percolation_dim": float(dim),
        "li_percolation_3d_dist_A": t3,
        "li_bottleneck_radius_1d_A": b1,
        "li_bottleneck_radius_3d_A": b3,
        "li_partial_occupancy_fraction": _li_partial_fraction(prep),
    }
    out.update(_anion_framework(prep))
    return out


class StructuralFeaturizer(BaseFeaturizer):
    """matminer featurizer returning :func:`structural_descriptors` in :data:`FEATURE_LABELS` order."""

    def __init__(self, li_cutoff_A: float = LI_HOP_CUTOFF_A):
        self.li_cutoff_A = li_cutoff_A

    def featurize(self, structure: Structure) -> list:
        values = structural_descriptors(structure, li_cutoff_A=self.li_cutoff_A)
        return [values[k] for k in FEATURE_LABELS]

    def feature_labels(self) -> list[str]:
        return list(FEATURE_LABELS)

    def citations(self) -> list[str]:
        return [
            "@article{Shannon1976, author={Shannon, R. D.}, title={Revised effective ionic radii and systematic "
            "studies of interatomic distances in halides and chalcogenides}, journal={Acta Crystallographica A}, "
            "volume={32}, pages={751--767}, year={1976}}",
            "@article{Wang2015, author={Wang, Y. and Richards, W. D. and Ong, S. P. and Miara, L. J. and Kim, J. C. "
            "and Mo, Y. and Ceder, G.}, title={Design principles for solid-state lithium superionic conductors}, "
            "journal={Nature Materials}, volume={14}, pages={1026--1031}, year={2015}}",
            "@article{Ackland2006, author={Ackland, G. J. and Jones, A. P.}, title={Applications of local crystal "
            "structure measures in experiment and simulation}, journal={Physical Review B}, volume={73}, "
            "pages={054104}, year={2006}}",
        ]

    def implementors(self) -> list[str]:
        return ["screening project"]
