"""Build the trigonal (P-3m1) Li2ZrCl6 seed, which no bundled data set contains.

Run from the repository root: ``python seeds/build_li2zrcl6.py`` (it rewrites
``seeds/Li2ZrCl6_P-3m1.cif``).

Model
-----
Ball-milled Li2ZrCl6 crystallises in the trigonal Li3YCl6-type structure (space group
P-3m1, hexagonal close-packed Cl, Z = 3) [Wang2021]_, [Kwak2021]_. The cell used here:

* lattice a = 10.94 A, c = 5.93 A (the published trigonal cell is a ~ 10.9-11.0 A,
  c ~ 5.9-5.95 A; these values could not be checked against the papers' CIFs offline,
  see seeds/README.md);
* Cl on the three 6i sites and the cation sites (1a, two 2d, 6g, 6h) of Li3YCl6 as refined
  in OBELiX entry ``ei3`` (Schlem/Asano-type Li3YCl6, CC BY 4.0);
* Zr replaces Y with the same site occupancies (1a full, the two 2d sites 0.434/0.566), so
  the cell holds 3 Zr; Li occupancies of 6g and 6h are scaled by 2/3 (6 Li per cell)
  to give the stoichiometry Li2ZrCl6 (Li6Zr3Cl18).

References
----------
.. [Wang2021] K. Wang et al., "A cost-effective and humidity-tolerant chloride solid
   electrolyte for lithium batteries", Nat. Commun. 12, 4410 (2021),
   doi:10.1038/s41467-021-24697-2.
.. [Kwak2021] H. Kwak et al., "New cost-effective halide solid electrolytes for all-solid-state
   batteries: mechanochemically prepared Fe3+-substituted Li2ZrCl6", Adv. Energy Mater.
   11, 2003190 (2021), doi:10.1002/aenm.202003190.
"""

from __future__ import annotations

from pathlib import Path

from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

HERE = Path(__file__).resolve().parent

#: Asymmetric unit (species occupancies, fractional coordinates); Wyckoff labels in comments.
ASYMMETRIC_UNIT = [
    ({"Zr": 1.0}, (0.0, 0.0, 0.0)),  # 1a
    ({"Zr": 0.434}, (1 / 3, 2 / 3, 0.9812)),  # 2d
    ({"Zr": 0.566}, (1 / 3, 2 / 3, 0.4870)),  # 2d
    ({"Li": 0.875 * 2 / 3}, (0.0, 0.3256, 0.5)),  # 6h
    ({"Li": 0.625 * 2 / 3}, (0.0, 0.3261, 0.0)),  # 6g
    ({"Cl": 1.0}, (0.1084, 0.2167, 0.7765)),  # 6i
    ({"Cl": 1.0}, (0.1255, 0.5627, 0.7506)),  # 6i
    ({"Cl": 1.0}, (0.2102, 0.4205, 0.2784)),  # 6i
]
A, C = 10.94, 5.93


def build() -> Structure:
    """Return the disordered P-3m1 Li2ZrCl6 structure (Z = 3)."""
    species = [sp for sp, _ in ASYMMETRIC_UNIT]
    coords = [xyz for _, xyz in ASYMMETRIC_UNIT]
    # tol merges the images of the (x, 2x, z) 6i positions, which are given to 4 decimals
    return Structure.from_spacegroup("P-3m1", Lattice.hexagonal(A, C), species, coords, tol=0.02)


if __name__ == "__main__":
    structure = build()
    assert structure.composition.reduced_formula == "Li2ZrCl6", structure.composition
    CifWriter(structure).write_file(HERE / "Li2ZrCl6_P-3m1.cif")
    print(structure.composition, len(structure), "sites")
