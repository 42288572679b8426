"""One call for the screen flow: simulate many candidates, one row each, errors as rows.

:func:`simulate_structure` runs order -> relax -> formation energy -> energy above the
reference hull -> NVT MD at each temperature -> Arrhenius to 300 K -> (optional) elastic
moduli for one structure and returns a flat dict; a failing step leaves its columns NaN
and its message in ``error`` while the steps before it keep their numbers.
:func:`simulate_table` does it for a DataFrame (column ``structure``), with an optional
cache keyed by :func:`~screening.simulation.potentials.cache_key`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from screening.errors import SimulationError
from screening.simulation.diffusion_fit import transport_quality
from screening.simulation.energetics import formation_energy, relax
from screening.simulation.ordering import DEFAULT_MAX_ATOMS, order_structure
from screening.simulation.potentials import cache_key, check_potential, default_device, potential_version
from screening.simulation.transport import (
    DEFAULT_EQUILIBRATION_STEPS,
    DEFAULT_STEPS,
    DEFAULT_TEMPERATURES_K,
    DEFAULT_TIMESTEP_FS,
    arrhenius,
    li_transport,
    run_md,
)

#: identifying input columns copied to the output when present
ID_COLUMNS = ("candidate_id", "id", "formula")


def default_settings(**overrides) -> dict:
    """The simulation settings (all part of the cache key); keyword overrides are checked by name."""
    settings: dict[str, Any] = {
        "md_temperatures_K": list(DEFAULT_TEMPERATURES_K),
        "md_steps": DEFAULT_STEPS,
        "md_timestep_fs": DEFAULT_TIMESTEP_FS,
        "md_equilibration_steps": DEFAULT_EQUILIBRATION_STEPS,
        "md_sample_every": 10,
        "relax_fmax_eV_A": 0.05,
        "relax_steps": 300,
        "max_atoms": DEFAULT_MAX_ATOMS,
        "elastic": False,
        "seed": 0,
    }
    unknown = set(overrides) - set(settings)
    if unknown:
        raise SimulationError(f"unknown simulation settings {sorted(unknown)}; known: {sorted(settings)}")
    settings.update(overrides)
    settings["md_temperatures_K"] = [float(t) for t in settings["md_temperatures_K"]]
    return settings


def _as_structure(obj) -> Structure:
    if isinstance(obj, Structure):
        return obj
    if isinstance(obj, dict):
        return Structure.from_dict(obj)
    if isinstance(obj, str) and obj.lstrip().startswith(("data_", "#")):
        return Structure.from_str(obj, fmt="cif")
    raise SimulationError(f"structure of type {type(obj).__name__}: expected a pymatgen Structure, its dict or CIF text")


def simulate_structure(
    structure,
    potential: str = "chgnet",
    settings: dict | None = None,
    hull=None,
    device: str | None = None,
    transport: bool = True,
) -> dict:
    """Simulate one structure; a flat dict of ``mlip_*`` numbers (units in the names) and ``error``.

    ``hull``: a :class:`~screening.descriptors.stability.ReferenceHull` (default: the
    project's shared hull). ``transport=False`` skips MD.
    """
    settings = settings or default_settings()
    name = check_potential(potential)
    row: dict = {"potential": name, "error": None}
    errors = []
    t0 = time.perf_counter()
    try:
        row["potential_version"] = potential_version(name)
        row["device"] = device or default_device()
        struct = _as_structure(structure)
        row["cache_key"] = cache_key(struct, name, row["potential_version"], settings)
        ordered, info = order_structure(struct, max_atoms=settings["max_atoms"], seed=settings["seed"])
        row.update(ordering=info["ordering"], n_atoms=info["n_atoms"], mlip_formula=ordered.composition.reduced_formula)
        t = time.perf_counter()
        rel = relax(ordered, name, fmax=settings["relax_fmax_eV_A"], steps=settings["relax_steps"], device=row["device"])
        row.update(
            relax_converged=rel["converged"],
            relax_steps=rel["steps"],
            relax_fmax_eV_A=rel["fmax_eV_A"],
            relax_wall_s=time.perf_counter() - t,
            mlip_energy_eV_atom=rel["energy_eV_atom"],
            mlip_volume_change=rel["volume_change"],
        )
        relaxed = rel["structure"]
        row["relaxed_structure"] = relaxed.as_dict()
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["wall_s"] = time.perf_counter() - t0
        return row
    try:
        ef, corr = formation_energy(relaxed, rel["energy_eV"], name, row["device"])
        row.update(mlip_formation_energy_eV_atom=ef, mlip_correction_eV_atom=corr)
        if hull is None:
            from screening.descriptors.stability import default_hull

            hull = default_hull()
        comp = relaxed.composition
        row["mlip_hull_formation_energy_eV_atom"] = hull.hull_energy(comp)
        row["mlip_e_hull_eV_atom"] = hull.energy_above_hull(comp, ef)
    except Exception as exc:
        errors.append(f"energy: {type(exc).__name__}: {exc}")
    if transport and settings["md_temperatures_K"]:
        _transport(row, relaxed, name, settings, errors)
    if settings["elastic"]:
        try:
            from screening.simulation.elastic import elastic_moduli

            moduli = elastic_moduli(relaxed, name, row["device"])
            row.update(mlip_K_VRH_GPa=moduli["K_VRH_GPa"], mlip_G_VRH_GPa=moduli["G_VRH_GPa"])
        except Exception as exc:
            errors.append(f"elastic: {type(exc).__name__}: {exc}")
    row["wall_s"] = time.perf_counter() - t0
    row["error"] = "; ".join(errors) or None
    return row


def _transport(row: dict, relaxed: Structure, name: str, settings: dict, errors: list) -> None:
    temps, ds, stds, runs = [], [], [], []
    fit = None
    md_wall, atom_steps = 0.0, 0
    for temp in settings["md_temperatures_K"]:
        tag = f"{temp:.0f}K"
        try:
            md = run_md(
                relaxed,
                temp,
                name,
                steps=settings["md_steps"],
                timestep_fs=settings["md_timestep_fs"],
                equilibration_steps=settings["md_equilibration_steps"],
                sample_every=settings["md_sample_every"],
                seed=settings["seed"],
                device=row["device"],
            )
            md_wall += md["wall_s"]
            atom_steps += md["atom_steps"]
            tr = li_transport(md["snapshots"], temp, md["time_step_fs"], md["sample_every"])
            row[f"mlip_D_cm2_s_{tag}"] = tr["D_cm2_s"]
            row[f"mlip_D_cm2_s_std_{tag}"] = tr["D_cm2_s_std"]
            row[f"mlip_sigma_S_cm_{tag}"] = tr["sigma_S_cm"]
            row[f"mlip_msd_A2_{tag}"] = tr["msd_final_A2"]
            row[f"mlip_T_mean_K_{tag}"] = md["mean_temperature_K"]
            temps.append(temp)
            runs.append({"ps": settings["md_steps"] * settings["md_timestep_fs"] / 1000.0, "msd_final_A2": tr["msd_final_A2"]})
            ds.append(tr["D_cm2_s"])
            stds.append(tr["D_cm2_s_std"])
        except Exception as exc:
            errors.append(f"md {tag}: {type(exc).__name__}: {exc}")
    row["md_wall_s"] = md_wall
    row["md_atom_steps"] = atom_steps
    row["mlip_md_ps"] = settings["md_steps"] * settings["md_timestep_fs"] / 1000.0  # production MD per temperature
    if len(temps) >= 2:
        try:
            fit = arrhenius(temps, ds, relaxed, 300.0, stds)
            row.update(
                mlip_Ea_eV=fit["Ea_eV"],
                mlip_Ea_eV_std=fit["Ea_eV_std"],
                mlip_D_cm2_s=fit["D_cm2_s"],
                mlip_sigma_S_cm=fit["sigma_S_cm"],
                mlip_log10_sigma_S_cm=math.log10(fit["sigma_S_cm"]) if fit["sigma_S_cm"] > 0 else float("nan"),
                mlip_log10_sigma_S_cm_std=fit["log10_D_std"],
            )
        except Exception as exc:
            fit = None
            errors.append(f"arrhenius: {type(exc).__name__}: {exc}")
    quality = transport_quality(runs, fit)
    row["mlip_transport_ok"] = quality["ok"]  # the ranking uses the MD conductivity only where True
    row["mlip_transport_quality"] = quality["reason"]


def simulate_table(
    candidates: pd.DataFrame | Iterable,
    potential: str = "chgnet",
    md_temperatures: Iterable[float] | None = None,
    transport: bool = True,
    hull=None,
    device: str | None = None,
    cache: MutableMapping | None = None,
    progress: Callable[[int, int], None] | None = None,
    **settings,
) -> pd.DataFrame:
    """Simulate every candidate; one row per input row (same index), errors as rows.

    Parameters
    ----------
    candidates
        DataFrame with a ``structure`` column (pymatgen Structure, its dict, or CIF text)
        and optionally ``candidate_id``/``id``/``formula`` (copied over), or an iterable of
        Structures.
    potential
        ``"chgnet"`` (default) or ``"sevenn"``.
    md_temperatures
        MD temperatures in K (default 800, 1000); two or more give the 300 K extrapolation.
    cache
        Optional mapping ``cache_key -> row dict``: hits are reused, new rows stored.
    settings
        Overrides of :func:`default_settings` (``md_steps``, ``max_atoms``, ``elastic``, ...).

    Returns
    -------
    DataFrame with ``potential``, ``potential_version``, ``device``, ``cache_key``,
    ``ordering``, ``n_atoms``, ``relax_converged``, ``mlip_energy_eV_atom``,
    ``mlip_formation_energy_eV_atom``, ``mlip_correction_eV_atom``,
    ``mlip_hull_formation_energy_eV_atom``, ``mlip_e_hull_eV_atom``, per temperature
    ``mlip_D_cm2_s_<T>K`` (and ``_std``), at 300 K ``mlip_D_cm2_s``, ``mlip_sigma_S_cm``,
    ``mlip_log10_sigma_S_cm`` (``_std``), ``mlip_Ea_eV`` (``_std``), optionally
    ``mlip_K_VRH_GPa``/``mlip_G_VRH_GPa``, ``relaxed_structure`` (dict), timings
    (``relax_wall_s``, ``md_wall_s``, ``md_atom_steps``, ``wall_s``), ``mlip_md_ps`` (production MD per
    temperature, ps) and ``error``.
    """
    if md_temperatures is not None:
        settings["md_temperatures_K"] = list(md_temperatures)
    settings = default_settings(**settings)
    if not isinstance(candidates, pd.DataFrame):
        candidates = pd.DataFrame({"structure": list(candidates)})
    if "structure" not in candidates:
        raise SimulationError(f"candidates: no 'structure' column (columns: {list(candidates.columns)})")
    version = potential_version(potential)
    rows = []
    n = len(candidates)
    for i, (_, cand) in enumerate(candidates.iterrows()):
        ids = {c: cand[c] for c in ID_COLUMNS if c in candidates}
        key = None
        try:
            key = cache_key(_as_structure(cand["structure"]), potential, version, settings)
        except Exception:
            pass  # simulate_structure reports the bad structure as the row's error
        if cache is not None and key is not None and key in cache:
            row = {**cache[key], "cached": True}
        else:
            try:
                row = simulate_structure(cand["structure"], potential, settings, hull=hull, device=device, transport=transport)
            except Exception as exc:  # never a dead batch
                row = {"potential": potential, "error": f"{type(exc).__name__}: {exc}"}
            row["cached"] = False
            if cache is not None and key is not None and row.get("relaxed_structure") is not None:
                cache[key] = row
        rows.append({**ids, **row})
        if progress:
            progress(i + 1, n)
    out = pd.DataFrame(rows, index=candidates.index)
    for col in ("mlip_e_hull_eV_atom", "mlip_formation_energy_eV_atom", "mlip_log10_sigma_S_cm", "mlip_D_cm2_s"):
        if col not in out:
            out[col] = np.nan
    return out
