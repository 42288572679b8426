"""The one registry of the columns a screen produces: name, SQL type, unit, tier, description.

Everything that names a stored column takes it from here: the store's schema (every
registered column exists, with its type, in the table of its tier from a store's creation,
so the ``ranked`` view has it before any run wrote it: :mod:`screening.store_schema`),
:meth:`ResultStore.top`'s default columns (:data:`TOP_COLUMNS`), the command line's
``top --columns`` choices, :data:`PREDICT_COLUMNS` (:func:`screening.predict`), the run
report's top table (:data:`REPORT_COLUMNS` with each column's ``header`` and ``decimals``),
the columns a ranking filter may name (:func:`filterable`), the ``scores`` table the
ranking writes (:data:`SCORE_COLUMNS`), and the README's glossary
(``python -m screening.columns`` rewrites it between its markers; ``tests/test_columns.py``
fails when it is stale).

A column belongs to one tier, and a tier writes one store table (:data:`TIER_TABLES`). To
add a column: add a :class:`Column` to its tier's list below, run
``python -m screening.columns`` and commit the README with it (a store created before
gets the column the next time it is opened for writing). A name registered twice, a
type DuckDB does not know or an empty description fails at import.

Row errors, one convention
    A library function that works row by row (a descriptor table, :func:`screening.predict`,
    :func:`screening.simulation.simulate_table`) returns the reason a row has no numbers in
    a column called ``error`` (None when the row is fine) and goes on with the next row.
    A tier stores it in its own table as ``<tier>_error`` (:func:`error_column`:
    ``prediction_error``, ``stability_error``, ``structure_error``, ``simulation_error``),
    because the ``ranked`` view joins every table and one ``error`` would hide the others;
    :func:`tier_errors` is the one rename. ``candidates.error`` is the row's own error: why
    the composition tier (formula, descriptors, predictions) left it without numbers, which
    every later tier then skips.

Column names say quantity and unit (``log10_sigma_S_cm``, ``e_hull_eV_atom``); a
``pattern`` column is a family of names (``mlip_D_cm2_s_<T>K``, one per MD temperature;
``MagpieData <stat> <property>``) that is documented here but created when first written.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "Column", "COLUMNS", "TIER_TABLES", "TOP_COLUMNS", "PREDICT_COLUMNS", "REPORT_COLUMNS", "SCORE_COLUMNS", "SIGMA",
    "SIGMA_STD", "SIGMA_LO80", "SIGMA_HI80", "E_HULL", "MEASURED_SIGMA", "RANKED_SIGMA", "RANKED_E_HULL", "MLIP_SIGMA", "PASSES",
    "report_headers", "get", "names", "table_columns", "sql_types", "filterable", "error_column",
    "tier_errors", "deprecated_names", "pandas_dtype", "glossary_markdown", "write_glossary",
]  # fmt: skip

#: the SQL types a column may have (DuckDB names)
SQL_TYPES = ("VARCHAR", "DOUBLE", "BOOLEAN", "INTEGER", "BIGINT")

#: tier -> the store table it writes (``candidates``: what was screened, keys included)
TIER_TABLES = {
    "candidates": "candidates", "composition": "descriptors", "prediction": "predictions", "stability": "stability",
    "structure": "structure", "simulation": "simulation", "ranking": "scores",
}  # fmt: skip

#: the conductivity the whole project ranks on (log10 S/cm) and its uncertainty columns
SIGMA, SIGMA_STD, SIGMA_LO80, SIGMA_HI80 = "log10_sigma_S_cm", "log10_sigma_S_cm_std", "log10_sigma_S_cm_lo80", "log10_sigma_S_cm_hi80"
#: the energy above the reference hull (eV/atom)
E_HULL = "e_hull_eV_atom"
#: the OBELiX measurement, and the numbers the ranking used (measured, simulated or predicted)
MEASURED_SIGMA, RANKED_SIGMA, RANKED_E_HULL = "measured_log10_sigma_S_cm", "ranked_log10_sigma_S_cm", "ranked_e_hull_eV_atom"
#: the MD conductivity at 300 K (the simulation tier)
MLIP_SIGMA = "mlip_log10_sigma_S_cm"
#: the ranking's verdict: every gate checked and passed (``passes_filters`` before schema 7)
PASSES = "passes_gates"


@dataclass(frozen=True)
class Column:
    """One stored column.

    ``dtype``: its SQL type (:data:`SQL_TYPES`); ``unit``: its unit ("" for labels,
    counts and ratios); ``tier``: the tier that writes it (:data:`TIER_TABLES` gives the
    table); ``filterable``: whether a ranking gate or filter may name it (a number that
    means "more or less is better" or a threshold); ``header``/``decimals``: how the run
    report's top table shows it; ``pattern``: a family of names (see the module's
    docstring); ``replaced_by``: a deprecated name, still readable, and its successor.
    """

    name: str
    dtype: str
    unit: str
    tier: str
    description: str
    filterable: bool = False
    header: str = ""
    decimals: int | None = None
    pattern: bool = False
    replaced_by: str = ""

    @property
    def table(self) -> str:
        """The store table that holds the column."""
        return TIER_TABLES[self.tier]


def _tier(tier: str, *rows: tuple) -> list[Column]:
    """``Column(name, dtype, unit, tier, description, **options)`` for each ``(name, dtype, unit, description[, options])``."""
    return [Column(r[0], r[1], r[2], tier, r[3], **(r[4] if len(r) > 4 else {})) for r in rows]


_F = {"filterable": True}
_S, _D, _B, _I = "VARCHAR", "DOUBLE", "BOOLEAN", "INTEGER"
_LOG_S = "log10(S/cm)"
_EV = "eV/atom"
_V = "V vs Li/Li+"

_CANDIDATES = _tier(
    "candidates",
    ("candidate_id", _S, "", "stable id of the candidate (same input, same id on any machine)"),
    ("formula", _S, "", "reduced formula", {"header": "formula"}),
    ("family", _S, "", "`sulfide`, `oxide`, `halide`, `nitride` or `mixed-anion`", {"header": "family"}),
    ("source", _S, "", "where the candidate came from: `obelix`, `enumerated` or `file` (a structure file, `--source file`)"),
    ("prototype", _S, "", "structure type of the parent (enumerated candidates)", {"header": "prototype"}),
    ("parent", _S, "", "the parent compound (enumerated) or the file name (`file`)", {"header": "parent"}),
    ("substitutions", _S, "", "the substitutions made on the parent, e.g. `Cl->Br`"),
    ("measured_log10_sigma_S_cm", _D, _LOG_S, "OBELiX measurement, for OBELiX candidates",
     {**_F, "header": "measured log10 sigma (S/cm)", "decimals": 2}),
    ("error", _S, "", "why the composition tier left the row without numbers (names the formula or file); empty when fine"),
)

_COMPOSITION = _tier(
    "composition",
    ("n_elements", _I, "", "number of elements"),
    ("li_fraction", _D, "", "atomic fraction of Li", _F),
    ("li_per_anion", _D, "", "Li atoms per anion", _F),
    ("anions", _S, "", "the anion elements, space-separated"),
    ("n_anion_species", _I, "", "number of anion elements"),
    ("anion_electronegativity_mean", _D, "Pauling", "mean anion electronegativity", _F),
    ("cation_oxidation_state_mean", _D, "e", "mean cation charge from charge neutrality", _F),
    ("cation_radius_mean_A", _D, "A", "mean ionic radius of the cations", _F),
    ("cation_radius_std_A", _D, "A", "spread of the cations' ionic radii", _F),
    ("anion_radius_mean_A", _D, "A", "mean ionic radius of the anions", _F),
    ("radius_ratio", _D, "", "cation / anion mean radius", _F),
    ("cost_usd_per_kg", _D, "USD/kg", "raw-material cost from pymatgen's element prices", _F),
    ("excluded_element_fraction", _D, "", "atomic fraction of excluded (toxic, radioactive, scarce) elements", _F),
    ("MagpieData <stat> <property>", _D, "property's unit", "matminer Magpie statistics of the composition", {"pattern": True}),
)

_PREDICTION = _tier(
    "prediction",
    (SIGMA, _D, _LOG_S, "predicted room-temperature Li-ion conductivity (composition model)",
     {**_F, "header": "log10 sigma (S/cm)", "decimals": 2}),
    (SIGMA_STD, _D, _LOG_S, "its standard uncertainty, specific to the candidate", _F),
    (SIGMA_LO80, _D, _LOG_S, "lower end of its 80% normalised conformal interval",
     {**_F, "header": "sigma 80% low (log10 S/cm)", "decimals": 2}),
    (SIGMA_HI80, _D, _LOG_S, "upper end of its 80% interval", {**_F, "header": "sigma 80% high (log10 S/cm)", "decimals": 2}),
    ("conductivity_train_distance", _D, "atomic fraction (L1)", "applicability domain: distance to the nearest composition "
     "the conductivity model was trained on (0: a training composition; above 0.05: novel, test MAE about 1.6 instead of 1.2)",
     {**_F, "header": "distance to sigma training data (L1)", "decimals": 2}),
    ("formation_energy_eV_atom", _D, _EV, "predicted formation energy (elements at 0)", _F),
    ("formation_energy_eV_atom_std", _D, _EV, "its standard uncertainty", _F),
    ("formation_energy_eV_atom_lo80", _D, _EV, "lower end of its 80% interval", _F),
    ("formation_energy_eV_atom_hi80", _D, _EV, "upper end of its 80% interval", _F),
    ("formation_energy_train_distance", _D, "atomic fraction (L1)", "applicability domain of the formation-energy model: "
     "distance to the nearest training composition made of the candidate's elements only; 2 when it saw no such compound", _F),
    ("G_VRH_GPa", _D, "GPa", "predicted shear modulus (Voigt-Reuss-Hill)", _F),
    ("G_VRH_GPa_lo80", _D, "GPa", "lower end of its 80% interval", _F),
    ("G_VRH_GPa_hi80", _D, "GPa", "upper end of its 80% interval", _F),
    ("log10_G_VRH_GPa_std", _D, "log10(GPa)", "standard uncertainty of log10 G", _F),
    ("K_VRH_GPa", _D, "GPa", "predicted bulk modulus (Voigt-Reuss-Hill)", _F),
    ("K_VRH_GPa_lo80", _D, "GPa", "lower end of its 80% interval", _F),
    ("K_VRH_GPa_hi80", _D, "GPa", "upper end of its 80% interval", _F),
    ("log10_K_VRH_GPa_std", _D, "log10(GPa)", "standard uncertainty of log10 K", _F),
    ("moduli_train_distance", _D, "atomic fraction (L1)", "applicability domain of the moduli models (as for the formation energy)", _F),
    ("volume_per_atom_A3", _D, "A^3", "volume per atom (Magpie estimate for a formula)", _F),
    ("K_IC_MPa_m05", _D, "MPa m^0.5", "fracture toughness (Niu, Niu and Oganov 2019)", {**_F, "header": "K_IC (MPa m^0.5)", "decimals": 2}),
    ("pugh_ratio", _D, "", "K/G (ductile above about 1.75)", _F),
    ("G_over_G_Li", _D, "", "Monroe-Newman ratio, G / 4.25 GPa (dendrite suppression needs about 2)",
     {**_F, "header": "G/G_Li", "decimals": 2}),
    ("prediction_error", _S, "", "why the surrogate models gave no number for the row"),
)

_STABILITY = _tier(
    "stability",
    ("window_low_V", _D, _V, "reduction limit of the electrochemical stability window (Zhu, He and Mo 2015)",
     {**_F, "header": "window low (V vs Li)", "decimals": 2}),
    ("window_high_V", _D, _V, "oxidation limit of the window; `inf` when nothing releases Li",
     {**_F, "header": "window high (V vs Li)", "decimals": 2}),
    ("window_width_V", _D, "V", "width of the window", _F),
    ("e_rxn_li_eV_atom", _D, _EV, "most negative interface reaction energy with Li metal (0: no reaction)", _F),
    ("e_rxn_licoo2_eV_atom", _D, _EV, "most negative interface reaction energy with LiCoO2", _F),
    ("e_rxn_h2o_eV_atom", _D, _EV, "most negative reaction energy with water", _F),
    ("hull_formation_energy_eV_atom", _D, _EV, "the MP reference hull's energy at the composition", _F),
    ("reference_formation_energy_eV_atom", _D, _EV, "the MP ground-state energy when the composition is in the reference data", _F),
    ("window_source", _S, "", "`reference`, `predicted` (the candidate's own phase) or `facet`", {"header": "window from"}),
    (E_HULL, _D, _EV, "energy above the MP reference hull, from the DFT reference energy or the predicted one",
     {**_F, "header": "e_hull (eV/atom)", "decimals": 3}),
    ("e_hull_eV_atom_std", _D, _EV, "its standard uncertainty (0 for reference phases)", _F),
    ("e_hull_source", _S, "", "`reference` (DFT energy) or `predicted` (surrogate energy)", {"header": "e_hull from"}),
    ("e_hull_eV_atom_hi80", _D, _EV, "upper end of its 80% interval", _F),
    ("e_hull_clipped", _B, "", "the predicted energy lies below the hull and is reported at it"),
    ("stability_error", _S, "", "why the stability tier gave no number for the row"),
)

# the structure tier (issue 23): the descriptors of screening.descriptors.structural.FEATURE_LABELS (its
# volume_per_atom_A3 is tier 0's column), the BVSE barriers and the structure-aware conductivity
_STRUCTURE = _tier(
    "structure",
    ("structure_source", _S, "", "where the candidate's structure came from: `enumerated` (the enumerator's substituted "
     "parent), `obelix-cif` (the OBELiX CIF) or `file` (the structure file)"),
    ("structure_disorder", _S, "", "how partial occupancies were treated: `ordered` (none) or `mean-field` (descriptors "
     "over the partial occupancies and a BVSE energy of the occupancy-weighted species; no ordered approximant)"),
    ("structure_n_sites", _I, "", "sites in the structure described (partially occupied sites count once)"),
    ("structure_volume_per_atom_A3", _D, "A^3", "volume per atom of the structure (tier 0's `volume_per_atom_A3` is the "
     "Magpie estimate from the formula)", _F),
    ("volume_per_anion_A3", _D, "A^3", "volume per anion", _F),
    ("packing_fraction", _D, "", "fraction of the cell filled by ionic spheres", _F),
    ("density_g_cm3", _D, "g/cm^3", "density of the structure", _F),
    ("li_li_min_dist_A", _D, "A", "shortest Li-Li distance", _F),
    ("li_li_mean_nn_dist_A", _D, "A", "mean nearest Li-Li distance", _F),
    ("li_cn_mean", _D, "", "mean Li coordination number", _F),
    ("li_percolation_dim", _I, "", "dimension of the Li network at 4.0 A Li-Li hops (0-3)", _F),
    ("li_percolation_3d_dist_A", _D, "A", "smallest Li-Li cutoff giving a 3D network", _F),
    ("li_bottleneck_radius_1d_A", _D, "A", "widest window radius along Li paths that percolate in 1D", _F),
    ("li_bottleneck_radius_3d_A", _D, "A", "widest window radius along Li paths that percolate in 3D", _F),
    ("li_partial_occupancy_fraction", _D, "", "fraction of Li sites partially occupied", _F),
    ("anion_framework", _S, "", "nearest ideal anion lattice, `bcc`, `fcc` or `hcp` (Wang et al. 2015)"),
    ("anion_bcc_match", _D, "", "1 when the anion lattice is nearest bcc, else 0 (one-hot, for models)"),
    ("anion_fcc_match", _D, "", "1 when the anion lattice is nearest fcc, else 0 (one-hot, for models)"),
    ("anion_hcp_match", _D, "", "1 when the anion lattice is nearest hcp, else 0 (one-hot, for models)"),
    ("anion_bcc_rmsd", _D, "", "RMS distance of the anions to an ideal bcc lattice (normalised)", _F),
    ("anion_fcc_rmsd", _D, "", "RMS distance of the anions to an ideal fcc lattice (normalised)", _F),
    ("anion_hcp_rmsd", _D, "", "RMS distance of the anions to an ideal hcp lattice (normalised)", _F),
    ("bvse_barrier_1d_eV", _D, "eV", "bond-valence site-energy migration barrier for 1D Li percolation (softBV); "
     "empty when Li+ does not percolate below 5 eV", _F),
    ("bvse_barrier_2d_eV", _D, "eV", "BVSE migration barrier for 2D percolation", _F),
    ("bvse_barrier_3d_eV", _D, "eV", "BVSE migration barrier for 3D percolation", {**_F, "header": "BVSE 3D barrier (eV)", "decimals": 2}),
    ("structure_log10_sigma_S_cm", _D, _LOG_S, "conductivity predicted by the structure-aware model from the structure "
     "tier's descriptors; the ranking uses it where there is one", {**_F, "header": "structure log10 sigma (S/cm)", "decimals": 2}),
    ("structure_log10_sigma_S_cm_std", _D, _LOG_S, "its standard uncertainty", _F),
    ("structure_log10_sigma_S_cm_lo80", _D, _LOG_S, "lower end of its 80% interval", _F),
    ("structure_log10_sigma_S_cm_hi80", _D, _LOG_S, "upper end of its 80% interval", _F),
    ("structure_wall_s", _D, "s", "seconds the structure tier spent on the row (descriptors, BVSE, its share of the model)"),
    ("structure_error", _S, "", "why the structure tier gave no number (or only some: a failed BVSE) for the row"),
)

_T = "MD temperature's"
_SIMULATION = _tier(
    "simulation",
    ("potential", _S, "", "the interatomic potential (`chgnet`, `sevenn`)"),
    ("potential_version", _S, "", "its package and model version"),
    ("device", _S, "", "where it ran (`cpu`, `cuda`)"),
    ("cache_key", _S, "", "key of the simulation cache (structure, potential version, settings)"),
    ("ordering", _S, "", "how a disordered structure was ordered"),
    ("n_atoms", _I, "", "atoms in the simulated cell"),
    ("mlip_formula", _S, "", "reduced formula of the ordered cell"),
    ("relax_converged", _B, "", "the relaxation reached its force threshold"),
    ("relax_steps", _I, "", "optimiser steps of the relaxation"),
    ("relax_wall_s", _D, "s", "wall time of the relaxation"),
    ("relax_engine", _S, "", "what relaxed it: `torch-sim` (batched) or `ase` (one by one; the relax tier and the fallback)"),
    ("mlip_energy_eV_atom", _D, _EV, "MLIP energy of the relaxed cell"),
    ("mlip_volume_change", _D, "", "relative volume change on relaxation"),
    ("mlip_formation_energy_eV_atom", _D, _EV, "MLIP formation energy (corrected against the elements)", _F),
    ("mlip_correction_eV_atom", _D, _EV, "the correction applied to the MLIP formation energy"),
    ("mlip_hull_formation_energy_eV_atom", _D, _EV, "the reference hull's energy at the composition"),
    ("mlip_e_hull_eV_atom", _D, _EV, "energy above the reference hull of the relaxed structure", _F),
    ("mlip_K_VRH_GPa", _D, "GPa", "MLIP bulk modulus (with the elastic setting)", _F),
    ("mlip_G_VRH_GPa", _D, "GPa", "MLIP shear modulus (with the elastic setting)", _F),
    ("mlip_D_cm2_s_<T>K", _D, "cm^2/s", f"Li tracer diffusivity at each {_T} temperature", {"pattern": True}),
    ("mlip_D_cm2_s_std_<T>K", _D, "cm^2/s", "its statistical uncertainty (kinisi)", {"pattern": True}),
    ("mlip_sigma_S_cm_<T>K", _D, "S/cm", "Nernst-Einstein conductivity at each temperature", {"pattern": True}),
    ("mlip_msd_A2_<T>K", _D, "A^2", "final Li mean squared displacement at each temperature", {"pattern": True}),
    ("mlip_T_mean_K_<T>K", _D, "K", "mean temperature of the MD at each set temperature", {"pattern": True}),
    ("mlip_md_ps", _D, "ps", "production MD per temperature (the ranking uses the MD conductivity from 2 ps)"),
    ("mlip_Ea_eV", _D, "eV", "Arrhenius activation energy", _F),
    ("mlip_Ea_eV_std", _D, "eV", "its uncertainty"),
    ("mlip_D_cm2_s", _D, "cm^2/s", "diffusivity extrapolated to 300 K"),
    ("mlip_sigma_S_cm", _D, "S/cm", "conductivity extrapolated to 300 K"),
    ("mlip_log10_sigma_S_cm", _D, _LOG_S, "log10 of the MD conductivity at 300 K", _F),
    ("mlip_log10_sigma_S_cm_std", _D, _LOG_S, "its uncertainty (from the Arrhenius fit)"),
    ("mlip_transport_ok", _B, "", "the MD transport fit passed its quality checks (the ranking uses the MD conductivity only then)"),
    ("mlip_transport_quality", _S, "", "why the fit passed or failed its quality checks"),
    ("md_wall_s", _D, "s", "wall time of the MD"),
    ("md_atom_steps", _D, "", "atoms x MD steps simulated"),
    ("wall_s", _D, "s", "wall time of the candidate's whole simulation"),
    ("simulation_error", _S, "", "why the simulation tier gave no number (or only some) for the row"),
)

_RANKING = _tier(
    "ranking",
    ("passes_gates", _B, "", "the row passed every gate that was checked, and every gate was checked"),
    ("pareto_rank", _I, "", "non-dominated front over the rows that pass the gates (1 best, 0 not ranked)",
     {"header": "Pareto rank", "decimals": 0}),
    ("score", _D, "0-1", "weighted mean of the percentile terms", {"header": "score (0-1)", "decimals": 3}),
    ("rank", _I, "", "overall order (1 best)", {"header": "rank", "decimals": 0}),
    ("gate_failed", _S, "", "the gates the row fails, comma-separated"),
    ("missing", _S, "", "the gate columns the row has no value for"),
    ("complete", _B, "", "the row has every objective the ranking uses"),
    ("monroe_newman_pass", _B, "", "G > 2 G_Li (Monroe-Newman dendrite criterion); empty without G", _F),
    ("ranked_log10_sigma_S_cm", _D, _LOG_S, "the conductivity the ranking used: measured with `--use-measured`, "
     "else the MD one where the simulation tier replaced the surrogate's, else the structure-aware one where the "
     "structure tier ran, else the composition model's"),
    ("conductivity_source", _S, "", "where it came from: `measured`, `simulation`, `structure` or `composition`", {"header": "sigma from"}),
    ("ranked_e_hull_eV_atom", _D, _EV, "the e_hull the ranking used: the relaxed MLIP one where the simulation tier ran, "
     "else the stability tier's"),
    ("e_hull_ranked_source", _S, "", "where it came from: `simulation`, `reference` or `predicted`", {"header": "e_hull ranked from"}),
    ("why", _S, "", "the terms that put the candidate where it ranks: each weighted objective's percentile among the rows "
     "that pass the gates with its weight, largest contribution first (`conductivity p97 x1, oxidation p88 x0.4, ...`), "
     "or the gates it fails (`screening top --explain`)", {"header": "why"}),
    ("prototype_rank", _I, "", "rank within its parent prototype among the rows that pass the gates; the run's table shows "
     "at most `per_prototype` (10) of one prototype (`screening top --per-prototype N`; 0: no cap)"),
    ("passes_filters", _B, "", "old name of `passes_gates`: a column of the `ranked` view only, for SQL written before "
     "schema 7 (not stored)", {"replaced_by": "passes_gates"}),
)

#: every registered column, by tier in the order of a screen
COLUMNS: dict[str, Column] = {}
for _column in (*_CANDIDATES, *_COMPOSITION, *_PREDICTION, *_STABILITY, *_STRUCTURE, *_SIMULATION, *_RANKING):
    if _column.name in COLUMNS:
        raise ValueError(f"column {_column.name!r} registered twice")
    if _column.dtype not in SQL_TYPES or _column.tier not in TIER_TABLES or not _column.description:
        raise ValueError(f"column {_column.name!r}: bad dtype, tier or empty description")
    COLUMNS[_column.name] = _column
del _column

#: the columns :meth:`ResultStore.top` returns by default (those the view has), in this order
TOP_COLUMNS = ("rank", "candidate_id", "formula", "family", "prototype", "score", "pareto_rank", SIGMA, SIGMA_LO80, SIGMA_HI80,
               "conductivity_train_distance", "ranked_log10_sigma_S_cm", "conductivity_source", E_HULL, "e_hull_source",
               "ranked_e_hull_eV_atom", "e_hull_ranked_source", "window_low_V", "window_high_V", "window_width_V",
               "e_rxn_li_eV_atom", "K_IC_MPa_m05", "G_over_G_Li", "cost_usd_per_kg", "parent", "error")  # fmt: skip

#: the columns of :func:`screening.predict` for a list of formulas, in order
PREDICT_COLUMNS = ("formula", "family", "prototype", SIGMA, SIGMA_STD, SIGMA_LO80, SIGMA_HI80, "conductivity_train_distance",
                   "formation_energy_eV_atom", "formation_energy_eV_atom_std", "formation_energy_eV_atom_lo80",
                   "formation_energy_eV_atom_hi80", "formation_energy_train_distance", E_HULL, "e_hull_eV_atom_std",
                   "e_hull_eV_atom_hi80", "e_hull_clipped", "e_hull_source", "G_VRH_GPa", "G_VRH_GPa_lo80", "G_VRH_GPa_hi80",
                   "log10_G_VRH_GPa_std", "K_VRH_GPa", "K_VRH_GPa_lo80", "K_VRH_GPa_hi80", "log10_K_VRH_GPa_std",
                   "moduli_train_distance", "volume_per_atom_A3", "K_IC_MPa_m05", "pugh_ratio", "G_over_G_Li", "window_low_V",
                   "window_high_V", "window_width_V", "window_source", "e_rxn_li_eV_atom", "e_rxn_licoo2_eV_atom",
                   "e_rxn_h2o_eV_atom", "error")  # fmt: skip

#: the run report's top table, in order (each column's ``header`` and ``decimals``)
REPORT_COLUMNS = ("rank", "formula", "family", "prototype", "parent", SIGMA, SIGMA_LO80, SIGMA_HI80, "conductivity_train_distance",
                  "conductivity_source", "measured_log10_sigma_S_cm", "window_low_V", "window_high_V", "window_source", E_HULL,
                  "e_hull_source", "e_hull_ranked_source", "K_IC_MPa_m05", "G_over_G_Li", "score", "pareto_rank")  # fmt: skip

#: the columns of the ``scores`` table the ranking writes (besides ``run_id`` and ``candidate_id``), in order
SCORE_COLUMNS = tuple(c.name for c in _RANKING if not c.replaced_by)

for _name in (*TOP_COLUMNS, *PREDICT_COLUMNS, *REPORT_COLUMNS):
    if _name not in COLUMNS:
        raise ValueError(f"column {_name!r} is listed but not registered")
del _name


def get(name: str) -> Column:
    """The registered column ``name``; a KeyError naming it and the nearest names otherwise."""
    try:
        return COLUMNS[name]
    except KeyError:
        import difflib

        near = difflib.get_close_matches(name, list(COLUMNS), n=3)
        raise KeyError(f"column {name!r} is not registered in screening.columns" + (f" (did you mean {near}?)" if near else "")) from None


def report_headers() -> dict[str, tuple[str, int | None]]:
    """The run report's top table: column -> (header with its unit, decimals), in :data:`REPORT_COLUMNS` order."""
    return {name: (COLUMNS[name].header or name, COLUMNS[name].decimals) for name in REPORT_COLUMNS}


def names(tier: str | None = None, *, patterns: bool = False, deprecated: bool = True) -> list[str]:
    """Registered column names (of one ``tier``), in registry order; pattern names only with ``patterns``."""
    return [c.name for c in COLUMNS.values() if (tier is None or c.tier == tier) and (patterns or not c.pattern)
            and (deprecated or not c.replaced_by)]  # fmt: skip


def table_columns(table: str) -> dict[str, str]:
    """Name -> SQL type of the registered (non-pattern, non-deprecated) columns of a store table."""
    return {c.name: c.dtype for c in COLUMNS.values() if c.table == table and not c.pattern and not c.replaced_by}


def sql_types() -> dict[str, str]:
    """Name -> SQL type of every column the ``ranked`` view guarantees (registered, non-pattern, not deprecated)."""
    return {c.name: c.dtype for c in COLUMNS.values() if not c.pattern and not c.replaced_by}


#: the pandas dtype of an empty column of each SQL type
_PANDAS_DTYPES = {"VARCHAR": object, "DOUBLE": float, "BOOLEAN": bool, "INTEGER": "int64", "BIGINT": "int64"}


def pandas_dtype(name: str):
    """The pandas dtype of an empty column of the registered column ``name`` (object, float, bool or int64)."""
    return _PANDAS_DTYPES[get(name).dtype]


def filterable() -> frozenset[str]:
    """The columns a ranking gate or filter may name."""
    return frozenset(c.name for c in COLUMNS.values() if c.filterable)


def deprecated_names() -> dict[str, str]:
    """Old name -> the name that replaces it."""
    return {c.name: c.replaced_by for c in COLUMNS.values() if c.replaced_by}


def error_column(tier: str) -> str:
    """The column that holds a tier's row errors in its table (``error`` for the candidates and composition tiers)."""
    if tier not in TIER_TABLES:
        raise ValueError(f"tier={tier!r}: expected one of {sorted(TIER_TABLES)}")
    return "error" if tier in ("candidates", "composition") else f"{tier}_error"


def tier_errors(frame: pd.DataFrame, tier: str) -> pd.DataFrame:
    """``frame`` with its ``error`` column renamed to the tier's :func:`error_column` (the one rename of row errors)."""
    return frame.rename(columns={"error": error_column(tier)})


# ---------------------------------------------------------------- the README glossary

GLOSSARY_BEGIN = "<!-- glossary: generated by `python -m screening.columns`; edit screening/columns.py -->"
GLOSSARY_END = "<!-- end of glossary -->"
_TIER_TITLES = {
    "candidates": "what was screened (`candidates`)", "composition": "composition descriptors, tier 0 (`descriptors`)",
    "prediction": "surrogate predictions, tier 0 (`predictions`)", "stability": "stability, tier 1 (`stability`)",
    "structure": "structure, tier 2 (`structure`)", "simulation": "MLIP relaxation and MD, tiers 3-4 (`simulation`)",
    "ranking": "ranking (`scores`)",
}  # fmt: skip


def glossary_markdown(columns: Iterable[Column] | None = None) -> str:
    """The glossary: one table a tier (its store table in the title), one row a column with type, unit and meaning."""
    columns = list(COLUMNS.values()) if columns is None else list(columns)
    lines: list[str] = []
    for tier, title in _TIER_TITLES.items():
        rows = [c for c in columns if c.tier == tier]
        if not rows:
            continue
        lines += [f"**{title[0].upper()}{title[1:]}**", "", "| column | type | unit | meaning |", "|---|---|---|---|"]
        for c in rows:
            meaning = c.description + (f" (deprecated: use `{c.replaced_by}`)" if c.replaced_by else "")
            lines.append(f"| `{c.name}` | {c.dtype} | {c.unit} | {meaning.replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_glossary(readme: str | Path) -> bool:
    """Rewrite the glossary between its markers in ``readme``; True when the file changed."""
    path = Path(readme)
    text = path.read_text()
    pattern = re.compile(re.escape(GLOSSARY_BEGIN) + r".*?" + re.escape(GLOSSARY_END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{path}: no glossary markers ({GLOSSARY_BEGIN!r} ... {GLOSSARY_END!r})")
    new = pattern.sub(lambda _: f"{GLOSSARY_BEGIN}\n\n{glossary_markdown()}\n{GLOSSARY_END}", text)
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":  # python -m screening.columns [README.md]
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "README.md"
    print(f"{target}: {'rewritten' if write_glossary(target) else 'already current'}")
