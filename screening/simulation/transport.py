"""Lithium transport from NVT molecular dynamics: diffusivity, Nernst-Einstein conductivity, Arrhenius.

:func:`run_md` integrates NVT (ase ``NVTBerendsen``, velocity rescaling with a 100 fs time
constant, which leaves the diffusive dynamics nearly untouched) and stores a snapshot
every ``sample_every`` steps after ``equilibration_steps``. :func:`li_transport` feeds the
snapshots to pymatgen-analysis-diffusion's ``DiffusionAnalyzer``: Li tracer diffusivity
(cm^2/s) with its statistical standard deviation, and the Nernst-Einstein conductivity.
:func:`arrhenius` fits ``D = D0 exp(-Ea/kT)`` over two or more temperatures and
extrapolates to 300 K.

Defaults (800 and 1000 K, 2 fs, 1000 production steps = 2 ps each): at those
temperatures the Li mean-square displacement of a fast conductor (D ~ 1e-5 cm^2/s) reaches
tens of A^2 within 2 ps, well above the ~0.5 A^2 vibrational plateau, so D is resolved;
for a poor conductor it is not, and the result is a bound (``D`` below about
``1 A^2 / (6 t)``, ~1e-6 cm^2/s for 2 ps), which still ranks it low. Short runs and
extrapolation over 500-700 K are limits of the tier.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from screening.errors import SimulationError
from screening.simulation.potentials import get_calculator

DEFAULT_TEMPERATURES_K = (800.0, 1000.0)
DEFAULT_TIMESTEP_FS = 2.0
DEFAULT_STEPS = 1000
DEFAULT_EQUILIBRATION_STEPS = 200


def run_md(
    structure: Structure,
    temperature_K: float,
    potential: str = "chgnet",
    steps: int = DEFAULT_STEPS,
    timestep_fs: float = DEFAULT_TIMESTEP_FS,
    equilibration_steps: int = DEFAULT_EQUILIBRATION_STEPS,
    sample_every: int = 10,
    seed: int = 0,
    device: str | None = None,
    max_temperature_ratio: float = 3.0,
    deadline: float | None = None,
) -> dict:
    """NVT MD; returns ``snapshots`` (Structures), ``wall_s``, ``atom_steps``, ``mean_temperature_K``.

    ``deadline`` (a ``time.time()`` epoch, optional): production stops at the first snapshot
    past it and the result says ``truncated: True`` (a bounded background run keeps what it
    computed instead of losing the whole run).

    Raises :class:`SimulationError` when the run explodes (non-finite positions, or mean
    kinetic temperature above ``max_temperature_ratio`` times the target).
    """
    from ase import units
    from ase.md.nvtberendsen import NVTBerendsen
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    if temperature_K <= 0 or steps <= 0 or timestep_fs <= 0:
        raise SimulationError(f"MD settings T={temperature_K} K, steps={steps}, dt={timestep_fs} fs: must be positive")
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = get_calculator(potential, device)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=np.random.default_rng(seed))
    Stationary(atoms)
    dyn = NVTBerendsen(atoms, timestep=timestep_fs * units.fs, temperature_K=temperature_K, taut=100 * units.fs)
    name = structure.composition.reduced_formula
    t0 = time.perf_counter()
    try:
        dyn.run(equilibration_steps)
        snapshots: list[Structure] = []
        temps: list[float] = []
        truncated = False
        for _ in range(max(1, steps // sample_every)):
            if deadline is not None and snapshots and time.time() > deadline:
                truncated = True
                break
            dyn.run(sample_every)
            pos = atoms.get_positions()
            if not np.isfinite(pos).all():
                raise SimulationError(f"{name}: MD at {temperature_K} K exploded (non-finite positions)")
            temps.append(atoms.get_temperature())
            snapshots.append(AseAtomsAdaptor.get_structure(atoms))
    except SimulationError:
        raise
    except Exception as exc:
        raise SimulationError(f"{name}: MD at {temperature_K} K failed ({type(exc).__name__}: {exc})") from exc
    wall = time.perf_counter() - t0
    mean_t = float(np.mean(temps))
    if not math.isfinite(mean_t) or mean_t > max_temperature_ratio * temperature_K:
        raise SimulationError(f"{name}: MD at {temperature_K} K exploded (mean temperature {mean_t:.0f} K)")
    for s in snapshots:  # unwrapped coordinates are not needed: DiffusionAnalyzer unwraps
        for prop in list(s.site_properties):
            s.remove_site_property(prop)
    n_steps = equilibration_steps + len(snapshots) * sample_every
    return {
        "snapshots": snapshots,
        "wall_s": wall,
        "atom_steps": n_steps * len(atoms),
        "mean_temperature_K": mean_t,
        "time_step_fs": timestep_fs,
        "sample_every": sample_every,
        "truncated": truncated,
    }


#: runs at least this long (fs) are analysed with all time origins from a 1 ps lag (pymatgen's smoothed="max")
LONG_RUN_FS = 2000.0


def li_transport(snapshots: list[Structure], temperature_K: float, timestep_fs: float, sample_every: int) -> dict:
    """Li diffusivity (cm^2/s, with std) and Nernst-Einstein conductivity (S/cm, with std) from MD snapshots.

    Keys: ``D_cm2_s``, ``D_cm2_s_std``, ``sigma_S_cm``, ``sigma_S_cm_std``, ``msd_final_A2`` and
    ``msd_smoothing`` (``"max"`` for runs of at least :data:`LONG_RUN_FS`, else ``"constant"``).
    Raises :class:`SimulationError` when the structure has no Li.
    """
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer

    if not snapshots:
        raise SimulationError("no MD snapshots")
    if "Li" not in {el.symbol for el in snapshots[0].composition.elements}:
        raise SimulationError(f"{snapshots[0].composition.reduced_formula}: no Li to diffuse")
    # smoothed="max" averages over every time origin but starts its fit at a lag of 1 ps, so it
    # needs runs of a few ps; a shorter (screening) run averages over a constant window of half
    # the snapshots instead, a rougher diffusivity that includes the early, ballistic lags
    total_fs = (len(snapshots) - 1) * timestep_fs * sample_every
    smoothing: dict[str, Any] = {"smoothed": "max", "min_obs": 10} if total_fs >= LONG_RUN_FS else {"smoothed": "constant", "avg_nsteps": max(2, len(snapshots) // 2)}
    try:  # min_obs 10 (pymatgen's default 30) lets short runs of small cells give a diffusivity with its error bar
        da = DiffusionAnalyzer.from_structures(
            snapshots, specie="Li", temperature=temperature_K, time_step=timestep_fs, step_skip=sample_every,  # type: ignore[arg-type]  # pymatgen annotates time_step (fs) as int; it takes a float
            **smoothing,
        )  # fmt: skip
    except ValueError as exc:  # "Not enough data to calculate diffusivity": too short a run
        raise SimulationError(f"{snapshots[0].composition.reduced_formula} at {temperature_K:g} K: {exc} "
                              f"({len(snapshots)} snapshots; run more MD steps)") from exc  # fmt: skip
    return {
        "D_cm2_s": float(da.diffusivity),
        "D_cm2_s_std": float(da.diffusivity_std_dev),
        "sigma_S_cm": float(da.conductivity) / 1000.0,  # DiffusionAnalyzer gives mS/cm
        "sigma_S_cm_std": float(da.conductivity_std_dev) / 1000.0,
        "msd_final_A2": float(da.msd[-1]),
        "msd_smoothing": smoothing["smoothed"],
    }


def _log10_extrapolation_std(temps: np.ndarray, ds: np.ndarray, d_std: np.ndarray, target_K: float) -> float:
    """Std of log10 D at ``target_K`` from a weighted straight line of log10 D against 1/T.

    Each point's weight is 1/var(log10 D_i), var from the diffusivity's statistical std
    (delta method); the prediction variance is ``x0^T (X^T W X)^-1 x0``.
    """
    var = (d_std / (ds * math.log(10))) ** 2
    if not (np.isfinite(var).all() and (var > 0).all()):
        return float("nan")
    x = np.column_stack([np.ones_like(temps), 1.0 / temps])
    cov = np.linalg.inv(x.T @ (x / var[:, None]))
    x0 = np.array([1.0, 1.0 / target_K])
    return float(math.sqrt(x0 @ cov @ x0))


def arrhenius(
    temperatures_K, diffusivities_cm2_s, structure: Structure, target_K: float = 300.0, diffusivities_std=None
) -> dict:
    """Arrhenius fit of Li diffusivity over >= 2 temperatures, extrapolated to ``target_K``.

    Keys: ``Ea_eV``, ``Ea_eV_std`` (NaN for two points), ``D_cm2_s`` and ``sigma_S_cm`` at
    ``target_K`` (Nernst-Einstein with the Li density of ``structure``), ``log10_D_std``
    (statistical std of log10 D at ``target_K`` propagated from ``diffusivities_std``; the
    same holds for log10 sigma). Non-positive diffusivities cannot be fitted:
    :class:`SimulationError`.
    """
    from pymatgen.analysis.diffusion.analyzer import fit_arrhenius, get_extrapolated_conductivity, get_extrapolated_diffusivity

    temps = np.asarray(list(temperatures_K), float)
    ds = np.asarray(list(diffusivities_cm2_s), float)
    if len(temps) < 2:
        raise SimulationError("Arrhenius extrapolation needs two or more temperatures")
    if not (np.isfinite(ds).all() and (ds > 0).all()):
        raise SimulationError(f"Arrhenius extrapolation: non-positive diffusivity in {ds.tolist()}")
    ea, _c, sigma_ea = fit_arrhenius(temps, ds)
    d_t = float(get_extrapolated_diffusivity(temps.tolist(), ds.tolist(), target_K))
    sigma_t = float(get_extrapolated_conductivity(temps.tolist(), ds.tolist(), target_K, structure, "Li")) / 1000.0  # mS/cm -> S/cm
    std = np.full(len(ds), np.nan) if diffusivities_std is None else np.asarray(list(diffusivities_std), float)
    return {
        "Ea_eV": float(ea),
        "Ea_eV_std": float(sigma_ea) if sigma_ea is not None else float("nan"),
        "D_cm2_s": d_t,
        "sigma_S_cm": sigma_t,
        "log10_D_std": _log10_extrapolation_std(temps, ds, std, target_K),
    }
