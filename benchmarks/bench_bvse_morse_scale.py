"""3D BVSE barriers with the Morse term halved (bvlain convention, default) and not (Adams formula), 0.15 A, 26 neighbours.

Usage: ``python benchmarks/bench_bvse_morse_scale.py`` (numbers of benchmarks/results/structural.md).
"""
import warnings

warnings.simplefilter("ignore")
from pymatgen.core import Lattice, Structure

import screening.descriptors.bondvalence as bv
from screening.structures import read_structure

li2s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.70), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]])
items = [("Li2S", li2s)] + [(n, read_structure(f"seeds/{n}.cif")) for n in ["Li6PS5Cl_argyrodite", "Li3OCl_antiperovskite", "Li7La3Zr2O12_cubic", "Li10GeP2S12_LGPS", "Li3YCl6_P-3m1"]]
for name, s in items:
    row = []
    for scale in (0.5, 1.0):
        bv._MORSE_SCALE = scale
        out = bv.bvse_barriers(s, resolution_A=0.15, max_points=10**9, connectivity=26, timeout_s=600)
        row.append("/".join(f"{v:.3f}" for v in out.values()))
    print(name, "scale0.5:", row[0], "scale1:", row[1], flush=True)
