"""Simulation tier: order, relax and simulate candidates with a universal interatomic potential.

Plain functions over pymatgen Structures (no Prefect); needs the ``mlip`` extra
(``pip install -e ".[mlip]"``: torch, chgnet, sevenn, matcalc, pymatgen-analysis-diffusion).
Importing this package does not import torch; the potentials load on first use.

Entry points: :func:`simulate_table` (one row per candidate), :func:`cache_key`,
and the steps :func:`order_structure`, :func:`relax`, :func:`formation_energy`,
:func:`run_md`, :func:`li_transport`, :func:`arrhenius`, :func:`elastic_moduli`.
"""

from screening.simulation.diffusion_fit import QUALITY, arrhenius_fit, kinisi_diffusion, transport_quality
from screening.simulation.elastic import EV_PER_A3_TO_GPA, elastic_moduli
from screening.simulation.energetics import elemental_energies, elemental_energy, formation_energy, mp2020_anion_correction, relax
from screening.simulation.ordering import order_structure
from screening.simulation.potentials import (
    POTENTIALS,
    cache_key,
    default_device,
    get_calculator,
    potential_version,
    structure_hash,
)
from screening.simulation.table import default_settings, simulate_structure, simulate_table
from screening.simulation.transport import arrhenius, li_transport, run_md

__all__ = [
    "EV_PER_A3_TO_GPA",
    "QUALITY",
    "arrhenius_fit",
    "kinisi_diffusion",
    "transport_quality",
    "POTENTIALS",
    "arrhenius",
    "cache_key",
    "default_device",
    "default_settings",
    "elastic_moduli",
    "elemental_energies",
    "elemental_energy",
    "formation_energy",
    "get_calculator",
    "li_transport",
    "mp2020_anion_correction",
    "order_structure",
    "potential_version",
    "relax",
    "run_md",
    "simulate_structure",
    "simulate_table",
    "structure_hash",
]
