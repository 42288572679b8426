"""Elastic moduli from a universal potential via matcalc (converted from eV/A^3 to GPa).

matcalc's ``ElasticityCalc`` fits the elastic tensor to strained cells and returns the
Voigt-Reuss-Hill moduli in eV/A^3; this module converts them to GPa
(1 eV/A^3 = 160.21766 GPa). Not used in the ranking: see benchmarks/results/simulation.md.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from screening.errors import SimulationError
from screening.simulation.potentials import get_calculator

EV_PER_A3_TO_GPA = 160.21766208


def elastic_moduli(structure: Structure, potential: str = "chgnet", device: str | None = None, relax_structure: bool = False) -> dict:
    """``{"K_VRH_GPa", "G_VRH_GPa"}`` of a (relaxed) structure with matcalc's ElasticityCalc."""
    try:
        from matcalc import ElasticityCalc
    except ImportError:
        from matcalc.elasticity import ElasticityCalc  # type: ignore[no-redef]  # older matcalc layout

    calc = ElasticityCalc(get_calculator(potential, device), relax_structure=relax_structure, fmax=0.05)
    try:
        res = calc.calc(structure)
    except Exception as exc:
        raise SimulationError(f"{structure.composition.reduced_formula}: elasticity failed ({type(exc).__name__}: {exc})") from exc
    k = float(res["bulk_modulus_vrh"]) * EV_PER_A3_TO_GPA
    g = float(res["shear_modulus_vrh"]) * EV_PER_A3_TO_GPA
    if not (np.isfinite(k) and np.isfinite(g)):
        raise SimulationError(f"{structure.composition.reduced_formula}: non-finite elastic moduli")
    return {"K_VRH_GPa": k, "G_VRH_GPa": g}
